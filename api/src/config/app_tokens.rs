//! The application tokens: the bearer tokens that may record application
//! events. Each has a name (its events' actor is `app:<name>`) and may be
//! scoped to one org (decision 0018).

use std::path::PathBuf;

use serde::Deserialize;
use warden_core::commands::app_event::valid_token_name;

use super::{ConfigError, invalid};

/// The name of the instance-wide token `app_events_token_file` holds.
pub const INSTANCE_TOKEN: &str = "app";

/// One `[[app_tokens]]` table of the TOML file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppTokenFile {
    name: String,
    token_file: PathBuf,
    #[serde(default)]
    org: Option<String>,
}

/// An application token: where its secret is, and what it may record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppTokenConfig {
    pub name: String,
    pub token_file: PathBuf,
    /// The one org it records events for; `None`: any.
    pub org: Option<String>,
    /// What its idempotency keys are unique within.
    pub scope: String,
}

/// The tokens: `app_events_token_file` (instance-wide, named
/// [`INSTANCE_TOKEN`]) and every `[[app_tokens]]`. Names are unique.
pub fn app_tokens_config(
    instance_token_file: Option<PathBuf>,
    listed: Vec<AppTokenFile>,
) -> Result<Vec<AppTokenConfig>, ConfigError> {
    let mut tokens: Vec<AppTokenConfig> = instance_token_file
        .map(|token_file| AppTokenConfig {
            name: INSTANCE_TOKEN.into(),
            token_file,
            org: None,
            // As before tokens had names: keys claimed then still replay.
            scope: "instance".into(),
        })
        .into_iter()
        .collect();
    for token in listed {
        if !valid_token_name(&token.name) {
            return Err(invalid(
                "app_tokens",
                format!(
                    "name {:?}: 1 to 63 lower-case letters, digits, '-' and '_', starting with a letter or a digit",
                    token.name
                ),
            ));
        }
        if tokens.iter().any(|known| known.name == token.name) {
            return Err(invalid(
                "app_tokens",
                format!(
                    "name {:?} is used twice (\"{INSTANCE_TOKEN}\" is app_events_token_file's)",
                    token.name
                ),
            ));
        }
        if token.org.as_deref().is_some_and(|org| org.trim().is_empty()) {
            return Err(invalid(
                "app_tokens",
                format!("{:?}: org must be an org id, or absent for every org", token.name),
            ));
        }
        tokens.push(AppTokenConfig {
            scope: format!("token:{}", token.name),
            name: token.name,
            token_file: token.token_file,
            org: token.org,
        });
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(name: &str, org: Option<&str>) -> AppTokenFile {
        AppTokenFile {
            name: name.into(),
            token_file: PathBuf::from(format!("/etc/warden/{name}.token")),
            org: org.map(str::to_string),
        }
    }

    #[test]
    fn tokens_are_named_once_and_scoped() {
        let tokens = app_tokens_config(
            Some(PathBuf::from("/etc/warden/app.token")),
            vec![listed("billing", Some("o1")), listed("crm", None)],
        )
        .unwrap();
        let summary: Vec<_> = tokens
            .iter()
            .map(|token| (token.name.as_str(), token.org.as_deref(), token.scope.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("app", None, "instance"),
                ("billing", Some("o1"), "token:billing"),
                ("crm", None, "token:crm")
            ]
        );
        let refused = |instance: Option<&str>, listed: Vec<AppTokenFile>| {
            app_tokens_config(instance.map(PathBuf::from), listed)
                .unwrap_err()
                .to_string()
        };
        assert!(refused(Some("/t"), vec![listed("app", None)]).contains("used twice"));
        assert!(refused(None, vec![listed("a", None), listed("a", Some("o1"))]).contains("used twice"));
        assert!(refused(None, vec![listed("Billing", None)]).starts_with("app_tokens: name \"Billing\""));
        assert!(refused(None, vec![listed("b", Some(" "))]).contains("org must be an org id"));
        assert!(app_tokens_config(None, vec![]).unwrap().is_empty());
    }
}
