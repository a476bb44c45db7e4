//! `warden serve`: the HTTP server over a started node, with graceful
//! shutdown that loses nothing acknowledged: stop accepting, let in-flight
//! requests finish (each answers only after its append committed), drain
//! the writer, then stop the relay and the runner (which saves a snapshot).

use std::net::SocketAddr;
use std::sync::Arc;

use warden_alerting::deliver::DeliveryConfig;
use warden_core::auth::password::{Password, PasswordHashing, PasswordPolicy};
use warden_core::commands::app_event::Application;
use warden_core::keys::random_bytes;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::handlers::app_events::AppToken;
use crate::node::{Node, NodeError};
use crate::routes::router;
use crate::state::{AlertSettings, AppState, Passwords, Shared, Web};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("cannot listen on {address}: {reason}")]
    Listen { address: SocketAddr, reason: String },
    #[error("application token {name:?} ({path}): {reason}")]
    Token { name: String, path: String, reason: String },
    #[error("passwords: {0}")]
    Passwords(String),
    #[error("API keys: {0}")]
    ApiKeys(String),
}

/// Installs the process-wide Prometheus recorder (once).
pub fn install_metrics() -> Option<PrometheusHandle> {
    let latency = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
    let sizes = [
        1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0,
    ];
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &latency)
        .ok()?
        .set_buckets_for_metric(Matcher::Full("warden_append_batch_events".into()), &sizes)
        .ok()?
        .install_recorder()
        .ok()
}

/// Reads every application token's file. A token shorter than 32
/// characters, or the same secret under two names (whose events would be
/// attributed to either), stops the start.
fn read_tokens(config: &Config) -> Result<Vec<AppToken>, ServeError> {
    let mut tokens: Vec<AppToken> = Vec::with_capacity(config.app_tokens.len());
    for token in &config.app_tokens {
        let error = |reason: String| ServeError::Token {
            name: token.name.clone(),
            path: token.token_file.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(&token.token_file).map_err(|e| error(e.to_string()))?;
        let secret = text.trim();
        if secret.len() < 32 {
            return Err(error("the token must be at least 32 characters".into()));
        }
        warn_if_readable_by_others(&token.token_file);
        let read = AppToken::new(
            Application {
                name: token.name.clone(),
                org: token.org.clone(),
            },
            token.scope.clone(),
            secret,
        );
        if let Some(twin) = tokens.iter().find(|known| known.same_secret(&read)) {
            return Err(error(format!(
                "holds the same token as {:?}: every application token must be its own",
                twin.app.name
            )));
        }
        tokens.push(read);
    }
    Ok(tokens)
}

/// Logs a warning when a token file can be read by other users.
fn warn_if_readable_by_others(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(path)
            && metadata.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", metadata.permissions().mode() & 0o777),
                "an application token file is readable by other users: chmod 600 it"
            );
        }
    }
}

/// The passkeys' relying party for the bound address, or `None` (logged)
/// when Warden's origins fit none.
fn relying_party(config: &Config, address: SocketAddr) -> Option<Arc<warden_core::auth::webauthn::RelyingParty>> {
    let public_url = config.web.public_url(address);
    let trusted = config.web.trusted_origins(address);
    let built = config
        .mfa
        .relying_party(&public_url, &trusted)
        .and_then(|(rp_id, origins)| {
            let urls: Vec<warden_core::auth::webauthn::Url> =
                origins.iter().filter_map(|origin| origin.parse().ok()).collect();
            warden_core::auth::webauthn::RelyingParty::new(&rp_id, &config.mfa.issuer, &urls)
                .map(|webauthn| webauthn.with_attestation(config.mfa.passkey_attestation.clone()))
                .map(|webauthn| (rp_id, origins, webauthn))
                .map_err(|error| error.to_string())
        });
    match built {
        Ok((rp_id, origins, webauthn)) => {
            let attestation = if webauthn.attestation.is_some() {
                "allowlist"
            } else {
                "none"
            };
            tracing::info!(%rp_id, ?origins, attestation, "passkeys enabled");
            Some(Arc::new(webauthn))
        }
        Err(reason) => {
            tracing::warn!(%reason, "passkeys disabled");
            None
        }
    }
}

pub async fn serve(config: Config, metrics: Option<PrometheusHandle>) -> Result<(), ServeError> {
    let app_tokens = read_tokens(&config)?;
    let mut node = Node::start(&config).await?;
    // Sign-in does not depend on the audit index: a node that cannot open
    // it (another process holds it, a disk error) serves without audit
    // searches (503) rather than not at all.
    let audit = match node.start_audit_index(&config.audit_index_dir).await {
        Ok(trail) => Some(trail),
        Err(error) => {
            tracing::error!(%error, dir = %config.audit_index_dir.display(), "audit index unavailable: audit searches answer 503 on this node");
            None
        }
    };
    let alert_positions = match config.alerts_in_serve {
        true => Some(node.start_alerting().await?),
        false => None,
    };
    let listener = TcpListener::bind(config.listen).await.map_err(|e| ServeError::Listen {
        address: config.listen,
        reason: e.to_string(),
    })?;
    let address = listener.local_addr().unwrap_or(config.listen);
    if config.alerts_in_serve {
        node.start_delivery(DeliveryConfig {
            console_url: config.web.public_url(address),
            ..config.alerting.delivery.clone()
        })?;
    }
    node.start_email_delivery(&config.alerting.delivery)?;
    node.start_checkpointer(&config.checkpoints);
    node.start_signing_key_schedule(config.kms.signing_key_max_age_days);
    if config.key_use_summaries {
        node.start_key_use_summaries();
    }
    let passkeys = relying_party(&config, address);
    let passwords = passwords(&config, &node).await?;
    let state = AppState::new(Shared {
        ledger: node.ledger.clone(),
        bus: node.bus.clone(),
        models: node.models.clone(),
        positions: node.positions.clone(),
        alert_positions,
        audit,
        metrics,
        app_tokens,
        email_codes: Arc::new(crate::flows::email_sign_in::EmailCodes::new(
            config.email_codes,
            config.alerting.delivery.email.is_some(),
            &passwords.identifier_key,
        )),
        reset_requests: Default::default(),
        passwords,
        data_keys: node.data_keys.clone(),
        web: Arc::new(Web {
            public_url: config.web.public_url(address),
            secure_cookies: config.web.secure_cookies(address),
            trusted_origins: config.web.trusted_origins(address),
            app_origins: config.web.app_origins.clone(),
            trusted_proxies: config.web.trusted_proxies.clone(),
            default_session_policy: config.web.default_session_policy,
        }),
        mfa: Arc::new(config.mfa.clone()),
        passkeys,
        session_writes: Arc::default(),
        attempts: Arc::default(),
        refusals: Arc::default(),
        alerting: AlertSettings {
            email: config.alerting.delivery.email.is_some(),
            webhook_private_addresses: config.alerting.webhook_private_addresses,
        },
        sso: Arc::new(crate::flows::sso_sign_in::Sso::new(config.sso)),
        keys: Arc::new(key_checker(&node).await?),
        vault_reads: Arc::new(crate::flows::vault_reads::VaultReads::new(config.vault_access_cache)),
    });
    announce_setup(&state).await;
    let usage = tokio::spawn(crate::flows::key_check::flush_usage(state.clone()));
    let counts = tokio::spawn(crate::flows::key_check::exchange_counts(state.clone()));
    let vault_reads = tokio::spawn(crate::flows::vault_reads::flush_reads(state.clone()));
    tracing::info!(%address, profile = ?profile_name(&config), "warden listening on http://{address}");
    tracing::info!(
        max_connections = config.connections.max_connections,
        header_read_timeout_seconds = config.connections.header_read_timeout.as_secs(),
        "connection limits"
    );
    crate::connections::serve(
        listener,
        router(state.clone()),
        config.connections,
        shutdown_signal(),
        config.shutdown_grace,
    )
    .await;
    // The minute under way is recorded too: every use answered is counted.
    usage.abort();
    counts.abort();
    vault_reads.abort();
    state.keys.flush(&state, true).await;
    state.vault_reads.flush(&state, true).await;
    node.stop().await;
    tracing::info!("stopped");
    Ok(())
}

async fn passwords(config: &Config, node: &Node) -> Result<Passwords, ServeError> {
    let hashing = PasswordHashing::new(config.passwords.params, config.passwords.workers)
        .map_err(|error| ServeError::Passwords(error.to_string()))?;
    let mut policy = PasswordPolicy::default();
    if let Some(path) = &config.passwords.breached_passwords_file {
        let list = std::fs::read_to_string(path)
            .map_err(|error| ServeError::Passwords(format!("breached_passwords_file {}: {error}", path.display())))?;
        policy = policy.with_breached_list(&list);
    }
    let decoy_hash = hashing
        .hash(&Password::new(hex::encode(random_bytes::<16>().as_ref())))
        .await
        .map_err(|error| ServeError::Passwords(error.to_string()))?;
    let decoy = node
        .data_keys
        .seal(DECOY_SUBJECT, &decoy_hash)
        .await
        .map_err(|error| ServeError::Passwords(format!("cannot seal the decoy hash: {error}")))?;
    let identifier_key = node
        .data_keys
        .secret(IDENTIFIER_KEY_SUBJECT)
        .await
        .map_err(|error| ServeError::Passwords(format!("cannot load the sign-in identifier key: {error}")))?;
    warm_refusal_timing(&hashing, node).await;
    Ok(Passwords {
        hashing,
        policy,
        decoy,
        identifier_key,
    })
}

/// Legacy hashes verified per scheme at start, so that refusals are padded
/// to their cost from the first request (`auth::refusal_timing`).
const TIMING_SAMPLES_PER_SCHEME: usize = 4;

/// Verifies a random password against a few stored hashes of each scheme
/// the accounts hold (and the decoy), to learn what each costs.
async fn warm_refusal_timing(hashing: &PasswordHashing, node: &Node) {
    let sealed: Vec<_> = {
        let accounts = warden_projections::projection::read(&node.models.accounts);
        let mut per_scheme: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        accounts
            .users()
            .filter_map(|user| Some((user.password_scheme.clone()?, user.password.clone()?)))
            .filter(|(scheme, _)| {
                let taken = per_scheme.entry(scheme.clone()).or_default();
                *taken += 1;
                *taken <= TIMING_SAMPLES_PER_SCHEME
            })
            .map(|(_, sealed)| sealed)
            .collect()
    };
    let probe = Password::new(hex::encode(random_bytes::<16>().as_ref()));
    let _ = hashing.verify_nothing(&probe).await;
    for sealed in sealed {
        if let Ok(stored) = node.data_keys.open(&sealed).await {
            let _ = hashing.verify(&probe, &stored).await;
        }
    }
    tracing::info!(
        floor_ms = hashing.refusal_timing().floor().as_millis() as u64,
        "refused sign-ins are padded to the slowest password hash"
    );
}

/// The subject of the decoy password hash (never an account).
const DECOY_SUBJECT: &str = "decoy:password";
/// The data key that doubles as the sign-in identifier key.
const IDENTIFIER_KEY_SUBJECT: &str = "secret:login-identifier";
/// The data key the API keys' digests are keyed with.
const API_KEY_DIGEST_SUBJECT: &str = "secret:api-key-digest";

async fn key_checker(node: &Node) -> Result<crate::flows::key_check::KeyChecker, ServeError> {
    let data_key = node
        .data_keys
        .secret(API_KEY_DIGEST_SUBJECT)
        .await
        .map_err(|error| ServeError::ApiKeys(format!("cannot load the key digest key: {error}")))?;
    let hash_key = warden_core::auth::api_key::format::HashKey::from_data_key(&data_key);
    Ok(crate::flows::key_check::KeyChecker::new(hash_key))
}

/// On an instance without an org yet, issues the one-time setup link and
/// prints it on standard output (not in the log: it is a secret).
async fn announce_setup(state: &AppState) {
    match crate::flows::setup::issue_link(state).await {
        Ok(Some(url)) => {
            crate::cli::say(format_args!(
                "\nWarden has no organization yet. Create the first one and its owner here (valid 24 hours, once):\n\n    {url}\n"
            ));
            tracing::info!("setup link issued and printed on standard output");
        }
        Ok(None) => {}
        Err(error) => tracing::error!(message = %error.message, "cannot issue the setup link"),
    }
}

fn profile_name(config: &Config) -> &'static str {
    match config.profile {
        crate::config::Profile::Embedded => "embedded",
        crate::config::Profile::Production { .. } => "production",
    }
}

pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
