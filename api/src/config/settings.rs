//! The settings of the command line and the environment (`clap`), one
//! field per key of `docs/configuration.md`.

use std::path::PathBuf;

use clap::Args;

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
    /// Allow single sign-on issuers at http:// URLs (a provider on this
    /// machine, in tests; never in production).
    #[arg(long, env = "WARDEN_SSO_INSECURE_ISSUERS", global = true)]
    pub sso_insecure_issuers: Option<bool>,
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
    /// KMS provider: local (a master key file) or aws (AWS KMS).
    #[arg(long, env = "WARDEN_KMS_PROVIDER", global = true)]
    pub kms_provider: Option<String>,
    /// AWS KMS key: key id, key ARN, alias name (alias/warden) or alias ARN.
    #[arg(long, env = "WARDEN_KMS_AWS_KEY_ID", global = true)]
    pub kms_aws_key_id: Option<String>,
    /// AWS region of the key (default: the standard AWS chain, AWS_REGION).
    #[arg(long, env = "WARDEN_KMS_AWS_REGION", global = true)]
    pub kms_aws_region: Option<String>,
    /// AWS KMS endpoint (default: the standard AWS chain, AWS_ENDPOINT_URL).
    #[arg(long, env = "WARDEN_KMS_AWS_ENDPOINT_URL", global = true)]
    pub kms_aws_endpoint_url: Option<String>,
    /// Seconds a KMS call may take, retries included.
    #[arg(long, env = "WARDEN_KMS_TIMEOUT_SECONDS", global = true)]
    pub kms_timeout_seconds: Option<u64>,
    /// Old local master key files that only unwrap, comma-separated.
    #[arg(long, env = "WARDEN_KMS_RETIRED_KEY_FILES", global = true)]
    pub kms_retired_key_files: Option<String>,
    /// Seconds an unwrapped data key stays in the node's cache (0: none).
    #[arg(long, env = "WARDEN_KMS_DATA_KEY_CACHE_SECONDS", global = true)]
    pub kms_data_key_cache_seconds: Option<u64>,
    /// Most unwrapped data keys the node's cache holds.
    #[arg(long, env = "WARDEN_KMS_DATA_KEY_CACHE_ENTRIES", global = true)]
    pub kms_data_key_cache_entries: Option<usize>,
    /// Seconds a vault read is remembered: its repeats are counted, not events (0: every read an event).
    #[arg(long, env = "WARDEN_VAULT_ACCESS_CACHE_SECONDS", global = true)]
    pub vault_access_cache_seconds: Option<u64>,
    /// Sign-in codes by email: digits or crockford.
    #[arg(long, env = "WARDEN_EMAIL_CODE_FORMAT", global = true)]
    pub email_code_format: Option<String>,
    /// Characters in a sign-in code (digits: 6 to 8; crockford: 6 to 10).
    #[arg(long, env = "WARDEN_EMAIL_CODE_LENGTH", global = true)]
    pub email_code_length: Option<u8>,
    /// Seconds a sign-in code is valid (1 to 3600).
    #[arg(long, env = "WARDEN_EMAIL_CODE_TTL_SECONDS", global = true)]
    pub email_code_ttl_seconds: Option<u64>,
    /// Append the per-minute key-use summaries (data keys unwrapped, events signed).
    #[arg(long, env = "WARDEN_KEY_USE_SUMMARIES", global = true)]
    pub key_use_summaries: Option<bool>,
    /// Days after which the chain's signing key is rotated (0: never).
    #[arg(long, env = "WARDEN_SIGNING_KEY_MAX_AGE_DAYS", global = true)]
    pub signing_key_max_age_days: Option<u32>,
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
