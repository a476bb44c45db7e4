//! Configuration: flags, environment variables and an optional TOML file,
//! in that order of precedence. Every key is documented in
//! `docs/configuration.md`; a bad value stops the start with a message
//! naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Deserialize;
use thiserror::Error;
use warden_core::auth::password::HashParams;

mod alerting;
mod app_tokens;
mod checkpoints;
mod connections;
mod mfa;
mod web;

pub use alerting::AlertingConfig;
use alerting::alerting_config;
pub use app_tokens::{AppTokenConfig, INSTANCE_TOKEN};
use app_tokens::{AppTokenFile, app_tokens_config};
pub use checkpoints::CheckpointConfig;
use checkpoints::checkpoint_config;
pub use connections::ConnectionsConfig;
use connections::connections_config;
pub use mfa::MfaConfig;
use mfa::mfa_config;
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

/// Settings given on the command line or in the environment. Every field
/// is optional here; the TOML file and the defaults fill the rest.
#[derive(Debug, Clone, Default, Args)]
pub struct Settings {
    /// TOML configuration file.
    #[arg(long, env = "WARDEN_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Directory of the embedded profile (SQLite log, local master key).
    #[arg(long, env = "WARDEN_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "WARDEN_LISTEN", global = true)]
    pub listen: Option<String>,
    /// Directory of this node's audit search index (default: the data
    /// directory's `audit-index`).
    #[arg(long, env = "WARDEN_AUDIT_INDEX_DIR", global = true)]
    pub audit_index_dir: Option<PathBuf>,
    /// Publish a signed checkpoint of the log once it has grown by this
    /// many events (default 10000).
    #[arg(long, env = "WARDEN_AUDIT_CHECKPOINT_EVERY_EVENTS", global = true)]
    pub audit_checkpoint_every_events: Option<u64>,
    /// Publish a signed checkpoint at least this often, in seconds, when
    /// anything was appended (default 3600).
    #[arg(long, env = "WARDEN_AUDIT_CHECKPOINT_EVERY_SECONDS", global = true)]
    pub audit_checkpoint_every_seconds: Option<u64>,
    /// Also write each checkpoint to this directory (a mounted bucket, a
    /// WORM volume): `<tree size>.json` and `latest.json`.
    #[arg(long, env = "WARDEN_AUDIT_CHECKPOINT_DIR", global = true)]
    pub audit_checkpoint_dir: Option<PathBuf>,
    /// Where the alert evaluator runs: `serve` (inside every `warden
    /// serve`, the default) or `separate` (a `warden alerting` process).
    #[arg(long, env = "WARDEN_ALERT_EVALUATOR", global = true)]
    pub alert_evaluator: Option<String>,
    /// Delivery attempts of an alert to one recipient before it is
    /// dead-lettered.
    #[arg(long, env = "WARDEN_ALERT_DELIVERY_ATTEMPTS", global = true)]
    pub alert_delivery_attempts: Option<u32>,
    /// Ceiling of the wait before the first retry, in milliseconds; it
    /// doubles with each attempt (full jitter).
    #[arg(long, env = "WARDEN_ALERT_DELIVERY_FIRST_RETRY_MS", global = true)]
    pub alert_delivery_first_retry_ms: Option<u64>,
    /// Seconds a webhook receiver or the SMTP server may take.
    #[arg(long, env = "WARDEN_ALERT_DELIVERY_TIMEOUT_SECONDS", global = true)]
    pub alert_delivery_timeout_seconds: Option<u64>,
    /// Allow webhook endpoints on loopback, private and link-local addresses.
    #[arg(long, env = "WARDEN_ALERT_WEBHOOK_PRIVATE_ADDRESSES", global = true)]
    pub alert_webhook_private_addresses: Option<bool>,
    /// SMTP server for alert emails: smtp://host:587 (STARTTLS) or
    /// smtps://host:465, with user:password@ if it needs them.
    #[arg(long, env = "WARDEN_SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// required (default) or none (plain SMTP to a local relay).
    #[arg(long, env = "WARDEN_SMTP_TLS", global = true)]
    pub smtp_tls: Option<String>,
    /// Sender of alert emails, e.g. "Warden <warden@example.org>".
    #[arg(long, env = "WARDEN_SMTP_FROM", global = true)]
    pub smtp_from: Option<String>,
    /// PostgreSQL URL: switches the log to PostgreSQL (production profile).
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Role the server assumes on PostgreSQL ("" to keep the login role).
    #[arg(long, env = "WARDEN_DATABASE_ROLE", global = true)]
    pub database_role: Option<String>,
    /// Maximum PostgreSQL connections of this process.
    #[arg(long, env = "WARDEN_DATABASE_MAX_CONNECTIONS", global = true)]
    pub database_max_connections: Option<u32>,
    /// NATS URL: switches the bus to NATS JetStream (production profile).
    #[arg(long, env = "NATS_URL", global = true, hide_env_values = true)]
    pub nats_url: Option<String>,
    /// Prefix of the JetStream stream and subjects.
    #[arg(long, env = "WARDEN_NATS_PREFIX", global = true)]
    pub nats_prefix: Option<String>,
    /// File holding the local KMS master key (created with mode 0600).
    #[arg(long, env = "WARDEN_KMS_KEY_FILE", global = true)]
    pub kms_key_file: Option<PathBuf>,
    /// File holding the bearer token that may record application events.
    #[arg(long, env = "WARDEN_APP_EVENTS_TOKEN_FILE", global = true)]
    pub app_events_token_file: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long, env = "WARDEN_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    /// Seconds to finish in-flight requests on shutdown.
    #[arg(long, env = "WARDEN_SHUTDOWN_GRACE_SECONDS", global = true)]
    pub shutdown_grace_seconds: Option<u64>,
    /// Seconds a client has to send a request's headers, and that an idle
    /// keep-alive connection is kept.
    #[arg(long, env = "WARDEN_HEADER_READ_TIMEOUT_SECONDS", global = true)]
    pub header_read_timeout_seconds: Option<u64>,
    /// Most connections served at once; more are refused with a 503
    /// (default: what the file-descriptor limit leaves room for).
    #[arg(long, env = "WARDEN_MAX_CONNECTIONS", global = true)]
    pub max_connections: Option<usize>,
    /// The URL browsers reach Warden at (its origin is trusted for CSRF).
    #[arg(long, env = "WARDEN_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// More origins trusted to send state-changing requests, comma-separated.
    #[arg(long, env = "WARDEN_TRUSTED_ORIGINS", global = true)]
    pub trusted_origins: Option<String>,
    /// Origins of the consuming application: CORS with credentials, and trusted.
    #[arg(long, env = "WARDEN_APP_ORIGINS", global = true)]
    pub app_origins: Option<String>,
    /// Reverse proxies (addresses or CIDR ranges, comma-separated) whose
    /// X-Forwarded-For names the client.
    #[arg(long, env = "WARDEN_TRUSTED_PROXIES", global = true)]
    pub trusted_proxies: Option<String>,
    /// Default idle timeout of a session, in seconds (orgs may change theirs).
    #[arg(long, env = "WARDEN_SESSION_IDLE_TIMEOUT_SECONDS", global = true)]
    pub session_idle_timeout_seconds: Option<u64>,
    /// Default absolute lifetime of a session, in seconds.
    #[arg(long, env = "WARDEN_SESSION_ABSOLUTE_TIMEOUT_SECONDS", global = true)]
    pub session_absolute_timeout_seconds: Option<u64>,
    /// Argon2id memory cost in KiB.
    #[arg(long, env = "WARDEN_PASSWORD_MEMORY_KIB", global = true)]
    pub password_memory_kib: Option<u32>,
    /// Argon2id iterations.
    #[arg(long, env = "WARDEN_PASSWORD_ITERATIONS", global = true)]
    pub password_iterations: Option<u32>,
    /// Argon2id lanes.
    #[arg(long, env = "WARDEN_PASSWORD_PARALLELISM", global = true)]
    pub password_parallelism: Option<u32>,
    /// Password hashes computed at once (default: the number of cores).
    #[arg(long, env = "WARDEN_PASSWORD_WORKERS", global = true)]
    pub password_workers: Option<usize>,
    /// A file of breached passwords, one per line, replacing the built-in list.
    #[arg(long, env = "WARDEN_BREACHED_PASSWORDS_FILE", global = true)]
    pub breached_passwords_file: Option<PathBuf>,
    /// The issuer authenticator apps show beside a TOTP code.
    #[arg(long, env = "WARDEN_MFA_ISSUER", global = true)]
    pub mfa_issuer: Option<String>,
    /// Digits of new TOTP enrolments (6 to 8).
    #[arg(long, env = "WARDEN_TOTP_DIGITS", global = true)]
    pub totp_digits: Option<u8>,
    /// Period of new TOTP enrolments, in seconds (15 to 120).
    #[arg(long, env = "WARDEN_TOTP_PERIOD_SECONDS", global = true)]
    pub totp_period_seconds: Option<u64>,
    /// Algorithm of new TOTP enrolments: SHA1, SHA256 or SHA512.
    #[arg(long, env = "WARDEN_TOTP_ALGORITHM", global = true)]
    pub totp_algorithm: Option<String>,
    /// How recent the last strong authentication must be for a sensitive
    /// action, in seconds.
    #[arg(long, env = "WARDEN_STEP_UP_MAX_AGE_SECONDS", global = true)]
    pub step_up_max_age_seconds: Option<u64>,
    /// Relying-party id of passkeys: Warden's domain or a parent of it.
    #[arg(long, env = "WARDEN_WEBAUTHN_RP_ID", global = true)]
    pub webauthn_rp_id: Option<String>,
    /// PEM roots of passkey attestation: with `passkey_allowed_aaguids`,
    /// only those authenticator models may register.
    #[arg(long, env = "WARDEN_PASSKEY_ATTESTATION_CA_FILE", global = true)]
    pub passkey_attestation_ca_file: Option<PathBuf>,
    /// Authenticator models (AAGUIDs) allowed to register, comma-separated.
    #[arg(long, env = "WARDEN_PASSKEY_ALLOWED_AAGUIDS", global = true)]
    pub passkey_allowed_aaguids: Option<String>,
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
    smtp_url: Option<String>,
    smtp_tls: Option<String>,
    smtp_from: Option<String>,
    database_url: Option<String>,
    database_role: Option<String>,
    database_max_connections: Option<u32>,
    nats_url: Option<String>,
    nats_prefix: Option<String>,
    kms_key_file: Option<PathBuf>,
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
    pub kms_key_file: PathBuf,
    /// Who may record application events.
    pub app_tokens: Vec<AppTokenConfig>,
    pub log_format: LogFormat,
    pub shutdown_grace: Duration,
    pub connections: ConnectionsConfig,
    pub web: WebConfig,
    pub passwords: PasswordConfig,
    pub mfa: MfaConfig,
    pub alerting: AlertingConfig,
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
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("warden-data"));
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
        let kms_key_file = settings
            .kms_key_file
            .clone()
            .or(file.kms_key_file)
            .unwrap_or_else(|| data_dir.join("master.key"));
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
            checkpoints,
            data_dir,
            audit_index_dir,
            alerts_in_serve,
            listen,
            profile,
            database_role,
            database_max_connections,
            nats_prefix,
            kms_key_file,
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
        assert_eq!(config.kms_key_file, PathBuf::from("warden-data/master.key"));
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
