//! The browser-facing settings: Warden's public URL, the origins it
//! trusts, the reverse proxies it believes, the default session lifetimes.

use std::net::SocketAddr;

use warden_core::commands::org::SessionPolicy;
pub use warden_core::net::IpNet;

use super::{ConfigError, FileSettings, Settings, invalid};

/// What the browser-facing surface needs: where Warden is, whom it trusts.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// `public_url` without a trailing slash; the bound address when unset.
    pub public_url: Option<String>,
    /// `trusted_origins`: more origins allowed to send state-changing requests.
    pub extra_origins: Vec<String>,
    /// Origins allowed cross-origin requests with credentials (CORS).
    pub app_origins: Vec<String>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    pub default_session_policy: SessionPolicy,
}

pub(super) fn web_config(settings: &Settings, file: &FileSettings) -> Result<WebConfig, ConfigError> {
    let public_url = settings.public_url.clone().or(file.public_url.clone());
    if let Some(url) = &public_url {
        let own = origin_of(url).ok_or_else(|| {
            invalid(
                "public_url",
                format!("{url:?} is not an http(s) URL like https://auth.example.com"),
            )
        })?;
        let host = own.split("://").nth(1).unwrap_or("");
        let loopback = host.starts_with("localhost") || host.starts_with("127.") || host.starts_with("[::1]");
        if own.starts_with("http://") && !loopback {
            return Err(invalid(
                "public_url",
                "plain http is only allowed on a loopback address (localhost, 127.0.0.1): session cookies need https",
            ));
        }
    }
    let list = |key: &'static str, flag: &Option<String>, filed: &[String]| -> Result<Vec<String>, ConfigError> {
        items(flag, filed)
            .iter()
            .map(|item| {
                origin_of(item)
                    .filter(|origin| origin == item.trim_end_matches('/'))
                    .ok_or_else(|| invalid(key, format!("{item:?} is not an origin like https://app.example.com")))
            })
            .collect()
    };
    let app_origins = list("app_origins", &settings.app_origins, &file.app_origins)?;
    let extra_origins = list("trusted_origins", &settings.trusted_origins, &file.trusted_origins)?;
    let trusted_proxies = items(&settings.trusted_proxies, &file.trusted_proxies)
        .iter()
        .map(|item| {
            IpNet::parse(item).ok_or_else(|| {
                invalid(
                    "trusted_proxies",
                    format!("{item:?} is not an address or range like 10.0.0.0/8"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let default = SessionPolicy::default();
    let default_session_policy = SessionPolicy {
        idle_timeout_seconds: settings
            .session_idle_timeout_seconds
            .or(file.session_idle_timeout_seconds)
            .unwrap_or(default.idle_timeout_seconds),
        absolute_timeout_seconds: settings
            .session_absolute_timeout_seconds
            .or(file.session_absolute_timeout_seconds)
            .unwrap_or(default.absolute_timeout_seconds),
    };
    // The instance default may be as short as a second (tests, kiosks);
    // orgs choose at least `SessionPolicy::ORG_MINIMUM_SECONDS`.
    default_session_policy
        .validate(1)
        .map_err(|reason| invalid("session_idle_timeout_seconds", reason))?;
    Ok(WebConfig {
        public_url: public_url.map(|url| url.trim_end_matches('/').to_string()),
        extra_origins,
        app_origins,
        trusted_proxies,
        default_session_policy,
    })
}

/// A list key: comma-separated in a flag or variable, a list in TOML.
fn items(flag: &Option<String>, filed: &[String]) -> Vec<String> {
    match flag {
        Some(text) => text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(String::from)
            .collect(),
        None => filed.to_vec(),
    }
}

impl WebConfig {
    /// The public URL: `public_url`, or the address actually bound.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{bound}"))
    }

    /// Session cookies are `__Host-` and `Secure` unless Warden is served
    /// over plain http (allowed on loopback only, for development).
    pub fn secure_cookies(&self, bound: SocketAddr) -> bool {
        self.public_url(bound).starts_with("https://")
    }

    /// Origins allowed to send state-changing requests: Warden's own (on
    /// loopback by either name), `trusted_origins` and `app_origins`.
    pub fn trusted_origins(&self, bound: SocketAddr) -> Vec<String> {
        let own = origin_of(&self.public_url(bound)).unwrap_or_default();
        let mut origins = vec![own.clone()];
        if own.starts_with("http://")
            && let Some((_, port)) = own.rsplit_once(':')
            && port.bytes().all(|b| b.is_ascii_digit())
        {
            origins.push(format!("http://localhost:{port}"));
            origins.push(format!("http://127.0.0.1:{port}"));
        }
        origins.extend(self.extra_origins.iter().cloned());
        origins.extend(self.app_origins.iter().cloned());
        origins.sort();
        origins.dedup();
        origins
    }
}

/// `scheme://host[:port]` of an http(s) URL, lower-cased.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    if host.is_empty() || host.contains('@') || host.contains(char::is_whitespace) {
        return None;
    }
    let host = match (scheme.as_str(), host.rsplit_once(':')) {
        ("http", Some((name, "80"))) | ("https", Some((name, "443"))) => name.to_string(),
        _ => host,
    };
    Some(format!("{scheme}://{host}"))
}
