//! Configuration: flags, environment variables and an optional TOML file,
//! in that order of precedence. Every key is documented in
//! `docs/configuration.md`; a bad value stops the start with a message
//! naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;
use warden_core::auth::password::HashParams;

mod alerting;
mod app_tokens;
mod checkpoints;
mod connections;
pub mod email;
mod kms;
mod mfa;
mod settings;
mod sso;
mod web;

pub use alerting::AlertingConfig;
use alerting::alerting_config;
pub use app_tokens::{AppTokenConfig, INSTANCE_TOKEN};
use app_tokens::{AppTokenFile, app_tokens_config};
pub use checkpoints::CheckpointConfig;
use checkpoints::checkpoint_config;
pub use connections::ConnectionsConfig;
use connections::connections_config;
use kms::kms_config;
pub use kms::{KmsConfig, KmsProvider};
pub use mfa::MfaConfig;
use mfa::mfa_config;
pub use settings::Settings;
pub use sso::SsoConfig;
use web::web_config;
pub use web::{IpNet, WebConfig, origin_of};

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("config file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("{key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

/// The same keys, from the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    audit_index_dir: Option<PathBuf>,
    audit_checkpoint_every_events: Option<u64>,
    audit_checkpoint_every_seconds: Option<u64>,
    audit_checkpoint_dir: Option<PathBuf>,
    alert_evaluator: Option<String>,
    alert_delivery_attempts: Option<u32>,
    alert_delivery_first_retry_ms: Option<u64>,
    alert_delivery_timeout_seconds: Option<u64>,
    alert_webhook_private_addresses: Option<bool>,
    sso_insecure_issuers: Option<bool>,
    smtp_url: Option<String>,
    smtp_tls: Option<String>,
    smtp_from: Option<String>,
    database_url: Option<String>,
    database_role: Option<String>,
    database_max_connections: Option<u32>,
    nats_url: Option<String>,
    nats_prefix: Option<String>,
    kms_key_file: Option<PathBuf>,
    kms_provider: Option<String>,
    kms_aws_key_id: Option<String>,
    kms_aws_region: Option<String>,
    kms_aws_endpoint_url: Option<String>,
    kms_timeout_seconds: Option<u64>,
    #[serde(default)]
    kms_retired_key_files: Vec<PathBuf>,
    kms_data_key_cache_seconds: Option<u64>,
    kms_data_key_cache_entries: Option<usize>,
    signing_key_max_age_days: Option<u32>,
    vault_access_cache_seconds: Option<u64>,
    email_code_format: Option<String>,
    email_code_length: Option<u8>,
    email_code_ttl_seconds: Option<u64>,
    key_use_summaries: Option<bool>,
    app_events_token_file: Option<PathBuf>,
    #[serde(default)]
    app_tokens: Vec<AppTokenFile>,
    log_format: Option<String>,
    shutdown_grace_seconds: Option<u64>,
    header_read_timeout_seconds: Option<u64>,
    max_connections: Option<usize>,
    public_url: Option<String>,
    #[serde(default)]
    trusted_origins: Vec<String>,
    #[serde(default)]
    app_origins: Vec<String>,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    session_idle_timeout_seconds: Option<u64>,
    session_absolute_timeout_seconds: Option<u64>,
    password_memory_kib: Option<u32>,
    password_iterations: Option<u32>,
    password_parallelism: Option<u32>,
    password_workers: Option<usize>,
    breached_passwords_file: Option<PathBuf>,
    mfa_issuer: Option<String>,
    totp_digits: Option<u8>,
    totp_period_seconds: Option<u64>,
    totp_algorithm: Option<String>,
    step_up_max_age_seconds: Option<u64>,
    webauthn_rp_id: Option<String>,
    passkey_attestation_ca_file: Option<PathBuf>,
    #[serde(default)]
    passkey_allowed_aaguids: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where the log and the bus live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Profile {
    /// SQLite file in the data directory, in-process bus.
    Embedded,
    /// PostgreSQL, and NATS JetStream when `nats_url` is set.
    Production {
        database_url: String,
        nats_url: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub audit_index_dir: PathBuf,
    /// Whether `warden serve` runs the alert evaluator.
    pub alerts_in_serve: bool,
    pub listen: SocketAddr,
    pub profile: Profile,
    pub database_role: Option<String>,
    pub database_max_connections: u32,
    pub nats_prefix: String,
    pub kms: KmsConfig,
    /// `vault_access_cache_seconds` (default 60).
    pub vault_access_cache: Duration,
    /// `key_use_summaries` (default true).
    pub key_use_summaries: bool,
    /// Who may record application events.
    pub app_tokens: Vec<AppTokenConfig>,
    pub log_format: LogFormat,
    pub shutdown_grace: Duration,
    pub connections: ConnectionsConfig,
    pub web: WebConfig,
    pub passwords: PasswordConfig,
    pub mfa: MfaConfig,
    pub alerting: AlertingConfig,
    pub sso: SsoConfig,
    pub email_codes: email::EmailCodeConfig,
    pub checkpoints: CheckpointConfig,
}

#[derive(Debug, Clone)]
pub struct PasswordConfig {
    pub params: HashParams,
    pub workers: usize,
    pub breached_passwords_file: Option<PathBuf>,
}

/// Raw key material is never accepted from the environment in the
/// production profile.
const FORBIDDEN_KEY_VARIABLES: &[&str] = &["WARDEN_MASTER_KEY", "WARDEN_KMS_KEY", "WARDEN_SIGNING_KEY"];

impl Config {
    pub fn load(settings: &Settings) -> Result<Self, ConfigError> {
        let file = match &settings.config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let web = web_config(settings, &file)?;
        let mfa = mfa_config(settings, &file)?;
        let alerting = alerting_config(settings, &file)?;
        let sso = sso::sso_config(settings, &file);
        let email_codes = email::email_code_config(settings, &file)?;
        let checkpoints = checkpoint_config(settings, &file)?;
        let connections = connections_config(settings, &file)?;
        let app_tokens = app_tokens_config(
            settings
                .app_events_token_file
                .clone()
                .or(file.app_events_token_file.clone()),
            file.app_tokens.clone(),
        )?;
        let data_dir = settings
            .data_dir
            .clone()
            .or(file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from("warden-data"));
        let kms = kms_config(settings, &file, &data_dir)?;
        let listen_text = settings
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen = listen_text.parse().map_err(|_| {
            invalid(
                "listen",
                format!("{listen_text:?} is not an address like 127.0.0.1:8080"),
            )
        })?;

        // An empty variable counts as unset: it never hides the file's value.
        let database_url = non_empty(settings.database_url.clone()).or(non_empty(file.database_url));
        let nats_url = non_empty(settings.nats_url.clone()).or(non_empty(file.nats_url));
        if let Some(url) = &database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(invalid("database_url", "must start with postgres:// or postgresql://"));
        }
        if let Some(url) = &nats_url
            && !(url.starts_with("nats://") || url.starts_with("tls://"))
        {
            return Err(invalid("nats_url", "must start with nats:// or tls://"));
        }
        let profile = match (database_url, nats_url) {
            (None, None) => Profile::Embedded,
            (None, Some(_)) => {
                return Err(invalid(
                    "nats_url",
                    "NATS needs the PostgreSQL log (set database_url): the embedded log is single-node",
                ));
            }
            (Some(database_url), nats_url) => Profile::Production { database_url, nats_url },
        };
        if matches!(profile, Profile::Production { .. }) {
            for variable in FORBIDDEN_KEY_VARIABLES {
                if std::env::var_os(variable).is_some() {
                    return Err(invalid(
                        "kms",
                        format!(
                            "{variable} is set: the production profile refuses raw keys in the environment; use kms_key_file"
                        ),
                    ));
                }
            }
        }

        let database_role = match settings.database_role.clone().or(file.database_role) {
            None => Some("warden_writer".to_string()),
            Some(role) if role.is_empty() => None,
            Some(role) => Some(role),
        };
        let database_max_connections = settings
            .database_max_connections
            .or(file.database_max_connections)
            .unwrap_or(16);
        if !(2..=1000).contains(&database_max_connections) {
            return Err(invalid("database_max_connections", "must be between 2 and 1000"));
        }
        let nats_prefix = settings
            .nats_prefix
            .clone()
            .or(file.nats_prefix)
            .unwrap_or_else(|| "warden".into());
        if nats_prefix.is_empty()
            || !nats_prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(invalid("nats_prefix", "must be lower-case letters, digits and _"));
        }
        let audit_index_dir = settings
            .audit_index_dir
            .clone()
            .or(file.audit_index_dir)
            .unwrap_or_else(|| data_dir.join("audit-index"));
        let alerts_in_serve = match settings.alert_evaluator.clone().or(file.alert_evaluator).as_deref() {
            None | Some("serve") => true,
            Some("separate") => false,
            Some(_) => return Err(invalid("alert_evaluator", "must be serve or separate")),
        };
        let vault_access_cache_seconds = settings
            .vault_access_cache_seconds
            .or(file.vault_access_cache_seconds)
            .unwrap_or(60);
        if vault_access_cache_seconds > 3600 {
            return Err(invalid("vault_access_cache_seconds", "must be 0 to 3600 (an hour)"));
        }
        let vault_access_cache = Duration::from_secs(vault_access_cache_seconds);
        let log_format = match settings.log_format.clone().or(file.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid("log_format", format!("{other:?} is neither text nor json")));
            }
        };
        let shutdown_grace = Duration::from_secs(
            settings
                .shutdown_grace_seconds
                .or(file.shutdown_grace_seconds)
                .unwrap_or(10),
        );
        let passwords = PasswordConfig {
            params: HashParams {
                memory_kib: settings
                    .password_memory_kib
                    .or(file.password_memory_kib)
                    .unwrap_or(HashParams::default().memory_kib),
                iterations: settings
                    .password_iterations
                    .or(file.password_iterations)
                    .unwrap_or(HashParams::default().iterations),
                parallelism: settings
                    .password_parallelism
                    .or(file.password_parallelism)
                    .unwrap_or(HashParams::default().parallelism),
            },
            workers: settings
                .password_workers
                .or(file.password_workers)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from)),
            breached_passwords_file: settings
                .breached_passwords_file
                .clone()
                .or(file.breached_passwords_file.clone()),
        };
        if passwords.params.memory_kib < 8 * 1024 || passwords.params.iterations < 1 || passwords.params.parallelism < 1
        {
            return Err(invalid(
                "password_memory_kib",
                "argon2id needs at least 8192 KiB, 1 iteration and 1 lane (OWASP: 19456 KiB, 2, 1)",
            ));
        }
        if !(1..=256).contains(&passwords.workers) {
            return Err(invalid("password_workers", "must be between 1 and 256"));
        }
        Ok(Config {
            web,
            passwords,
            mfa,
            alerting,
            sso,
            email_codes,
            checkpoints,
            data_dir,
            audit_index_dir,
            alerts_in_serve,
            listen,
            profile,
            database_role,
            database_max_connections,
            nats_prefix,
            kms,
            vault_access_cache,
            key_use_summaries: settings.key_use_summaries.or(file.key_use_summaries).unwrap_or(true),
            app_tokens,
            log_format,
            shutdown_grace,
            connections,
        })
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("ledger.sqlite")
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|text| !text.is_empty())
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let error = |reason: String| ConfigError::File {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    toml::from_str(&text).map_err(|e| error(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_the_embedded_profile() {
        let config = Config::load(&Settings::default()).unwrap();
        assert_eq!(config.profile, Profile::Embedded);
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.data_dir, PathBuf::from("warden-data"));
        assert!(matches!(
            &config.kms.provider,
            KmsProvider::Local { key_file } if key_file == &PathBuf::from("warden-data/master.key")
        ));
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("warden.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\nnats_prefix = \"filed\"\n").unwrap();
        let settings = Settings {
            config: Some(path),
            listen: Some("127.0.0.1:9100".into()),
            ..Settings::default()
        };
        let config = Config::load(&settings).unwrap();
        assert_eq!(config.listen.port(), 9100);
        assert_eq!(config.nats_prefix, "filed");
    }

    #[test]
    fn bad_values_name_their_key() {
        let bad = |settings: Settings| Config::load(&settings).unwrap_err().to_string();
        assert!(
            bad(Settings {
                listen: Some("nowhere".into()),
                ..Default::default()
            })
            .starts_with("listen:")
        );
        assert!(
            bad(Settings {
                database_url: Some("mysql://x".into()),
                ..Default::default()
            })
            .starts_with("database_url:")
        );
        assert!(
            bad(Settings {
                log_format: Some("xml".into()),
                ..Default::default()
            })
            .starts_with("log_format:")
        );
        assert!(
            bad(Settings {
                nats_url: Some("nats://x".into()),
                ..Default::default()
            })
            .starts_with("nats_url:")
        );
    }

    #[test]
    fn unknown_file_keys_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("warden.toml");
        std::fs::write(&path, "lisen = \"127.0.0.1:9000\"\n").unwrap();
        let error = Config::load(&Settings {
            config: Some(path),
            ..Default::default()
        })
        .unwrap_err();
        assert!(error.to_string().contains("lisen"), "{error}");
    }
}
