//! A Warden node: the ledger, the bus, the keys, the read models and the
//! background tasks (relay, projection runner), assembled from the
//! configuration. `serve` and the CLI commands all start from here.

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use warden_alerting::deliver::queue::Retries;
use warden_alerting::deliver::{AccountMail, Deliverer, DeliveryConfig};
use warden_core::bus::local::LocalBus;
use warden_core::bus::nats::NatsBus;
use warden_core::bus::relay::Relay;
use warden_core::bus::{Bus, BusError};
use warden_core::keys::signing::{self, SigningError};
use warden_core::keys::{AwsKms, DataKeys, Keyring, Kms, KmsError, LocalKms};
use warden_core::ledger::postgres::PostgresStore;
use warden_core::ledger::sqlite::SqliteStore;
use warden_core::ledger::{Ledger, LedgerError, LedgerStore};
use warden_projections::audit::{AuditIndex, AuditIndexError};
use warden_projections::projection::read;
use warden_projections::{Positions, ReadModels, Runner, RunnerError};

use crate::config::{Config, KmsProvider, Profile};

#[derive(Debug, Error)]
pub enum NodeError {
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    #[error("kms: {0}")]
    Kms(#[from] KmsError),
    #[error("signing key: {0}")]
    Signing(#[from] SigningError),
    #[error("data directory {0}")]
    DataDir(String),
    #[error("read models: {0}")]
    Runner(#[from] RunnerError),
    #[error(transparent)]
    AuditIndex(#[from] AuditIndexError),
    #[error("alert delivery: {0}")]
    Delivery(String),
}

/// The audit search index of a node, and where its runner stands.
#[derive(Clone)]
pub struct AuditTrail {
    pub index: AuditIndex,
    /// The runner feeding it: its failure, if it stopped.
    pub runner: Positions,
}

/// Opens the configured log, migrating it first.
/// Opens the configured log for a node: created (embedded) or migrated
/// (PostgreSQL, unless already current) as needed.
pub async fn open_store(config: &Config) -> Result<Arc<dyn LedgerStore>, NodeError> {
    Ok(match &config.profile {
        Profile::Embedded => {
            create_private_dir(&config.data_dir)?;
            Arc::new(SqliteStore::open(&config.sqlite_path()).await?)
        }
        Profile::Production { database_url, .. } => {
            PostgresStore::migrate_if_needed(database_url).await?;
            Arc::new(
                PostgresStore::connect(
                    database_url,
                    config.database_role.as_deref(),
                    config.database_max_connections,
                )
                .await?,
            )
        }
    })
}

/// Opens an existing log to read it (verify, export, keys list): nothing is
/// created or migrated.
pub async fn open_existing_store(config: &Config) -> Result<Arc<dyn LedgerStore>, NodeError> {
    Ok(match &config.profile {
        Profile::Embedded => Arc::new(SqliteStore::open_existing(&config.sqlite_path()).await?),
        Profile::Production { database_url, .. } => Arc::new(
            PostgresStore::connect(
                database_url,
                config.database_role.as_deref(),
                config.database_max_connections,
            )
            .await?,
        ),
    })
}

/// The data directory holds the log and the master key: owner only.
pub fn create_private_dir(path: &std::path::Path) -> Result<(), NodeError> {
    if path.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(path)
        .map_err(|error| NodeError::DataDir(format!("{}: {error}", path.display())))
}

pub async fn open_bus(config: &Config, store: &dyn LedgerStore) -> Result<Arc<dyn Bus>, NodeError> {
    Ok(match &config.profile {
        Profile::Production {
            nats_url: Some(url), ..
        } => Arc::new(NatsBus::connect(url, &config.nats_prefix).await?),
        _ => Arc::new(LocalBus::starting_after(4096, store.head().await?.seq)),
    })
}

/// The configured KMS key, checked usable, and the retired keys that only
/// unwrap (`docs/operations/kms.md`).
pub async fn open_kms(config: &Config) -> Result<Keyring, NodeError> {
    let current: Arc<dyn Kms> = match &config.kms.provider {
        KmsProvider::Local { key_file } => Arc::new(LocalKms::open(key_file, true)?),
        KmsProvider::Aws(settings) => Arc::new(AwsKms::connect(settings).await?),
    };
    let mut keyring = Keyring::new(current);
    for path in &config.kms.retired_key_files {
        keyring = keyring.with_retired(Arc::new(LocalKms::open(path, false)?));
    }
    Ok(keyring)
}

pub struct Node {
    pub ledger: Ledger,
    pub bus: Arc<dyn Bus>,
    pub kms: Keyring,
    pub data_keys: DataKeys,
    pub models: ReadModels,
    pub positions: Positions,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// Whether this node appends its key-use summaries (`warden serve`).
    summarizes_key_use: bool,
}

impl Node {
    /// Opens everything, installs the signing key (creating the genesis
    /// event of a new ledger), catches the read models up and starts the
    /// relay and the projection runner.
    pub async fn start(config: &Config) -> Result<Node, NodeError> {
        let store = open_store(config).await?;
        let kms = open_kms(config).await?;
        let bus = open_bus(config, store.as_ref()).await?;
        let mut node = Self::start_with(store, bus, kms).await?;
        node.data_keys = node
            .data_keys
            .with_cache(config.kms.data_key_cache_ttl, config.kms.data_key_cache_entries);
        Ok(node)
    }

    pub async fn start_with(store: Arc<dyn LedgerStore>, bus: Arc<dyn Bus>, kms: Keyring) -> Result<Node, NodeError> {
        let ledger = Ledger::new(store.clone());
        let key_id = signing::establish(&ledger, &kms).await?;
        tracing::info!(%key_id, "signing key installed");

        let models = ReadModels::default();
        let (runner, positions) = Runner::restore(store.clone(), bus.clone(), &models).await?;
        let mut runner = runner.woken_by(ledger.committed());
        let from = runner.position();
        let caught_up = runner.catch_up().await?;
        tracing::info!(from, to = caught_up, "read models caught up");

        let (shutdown, shutdown_receiver) = watch::channel(false);
        let relay = Relay {
            store: store.clone(),
            bus: bus.clone(),
            committed: ledger.committed(),
            shutdown: shutdown_receiver.clone(),
        };
        let tasks = vec![
            tokio::spawn(relay.run()),
            tokio::spawn(runner.run(shutdown_receiver.clone())),
            tokio::spawn(follow_key_rotation(
                ledger.clone(),
                kms.clone(),
                models.clone(),
                shutdown_receiver,
            )),
        ];
        Ok(Node {
            data_keys: DataKeys::new(store, kms.clone()).counting_into(ledger.key_use().clone()),
            ledger,
            bus,
            kms,
            models,
            positions,
            shutdown,
            tasks,
            summarizes_key_use: false,
        })
    }

    /// Opens this node's audit index in `dir` and feeds it from the log in
    /// the background: the node serves while the index catches up (after
    /// a version change, from seq 1).
    pub async fn start_audit_index(&mut self, dir: &std::path::Path) -> Result<AuditTrail, NodeError> {
        let (index, sink) = AuditIndex::open(dir)?;
        let (runner, positions) = Runner::with_sink(self.ledger.store().clone(), self.bus.clone(), sink).await?;
        let runner = runner.woken_by(self.ledger.committed());
        tracing::info!(dir = %dir.display(), indexed_through = index.indexed_through(), "audit index opened");
        self.tasks.push(tokio::spawn(runner.run(self.shutdown.subscribe())));
        Ok(AuditTrail {
            index,
            runner: positions,
        })
    }

    /// Runs the alert evaluator on this node: a runner feeding the
    /// evaluator's sink, and the task that appends what it fires.
    pub async fn start_alerting(&mut self) -> Result<Positions, NodeError> {
        let (sink, appender) = warden_alerting::sink::start(self.ledger.clone());
        let (runner, positions) = Runner::with_sink(self.ledger.store().clone(), self.bus.clone(), sink).await?;
        let runner = runner.woken_by(self.ledger.committed());
        tracing::info!(from = runner.position(), "alert evaluator started");
        self.tasks.push(tokio::spawn(runner.run(self.shutdown.subscribe())));
        self.tasks.push(tokio::spawn(appender.run()));
        Ok(positions)
    }

    /// Delivers alerts from this node while it holds the delivery lease
    /// (decision 0015): runs wherever the evaluator runs.
    pub fn start_delivery(&mut self, config: DeliveryConfig) -> Result<(), NodeError> {
        let deliverer = Deliverer::new(
            self.ledger.clone(),
            self.models.clone(),
            self.data_keys.clone(),
            self.positions.clone(),
            config,
        )
        .map_err(NodeError::Delivery)?;
        // The tampering alarm goes out from every node that finds the
        // violation, lease or not: the log is suspect, so it is not
        // appended and delivered like an alert (see `deliver::alarm`).
        let alarm = deliverer.clone();
        let alerts = self.models.alerts.clone();
        let positions = self.positions.clone();
        let mut shutdown = self.shutdown.subscribe();
        self.tasks.push(tokio::spawn(async move {
            tokio::select! {
                violation = positions.violation() => alarm.sound_alarm(&alerts, &violation).await,
                _ = shutdown.changed() => {}
            }
        }));
        self.tasks.push(tokio::spawn(deliverer.run(self.shutdown.subscribe())));
        Ok(())
    }

    /// Sends account email (sign-in codes, links, security notices) from
    /// this node while it holds the email lease: every `warden serve`
    /// offers to, with the alert deliveries' retries and mail server.
    pub fn start_email_delivery(&mut self, config: &DeliveryConfig) -> Result<(), NodeError> {
        let mail = AccountMail::new(self.models.outbox.clone(), self.data_keys.clone(), config)
            .map_err(NodeError::Delivery)?;
        let retries = Retries {
            attempts: config.attempts,
            first_retry: config.first_retry,
        };
        self.tasks.push(tokio::spawn(mail.run(
            self.ledger.clone(),
            self.positions.clone(),
            retries,
            self.shutdown.subscribe(),
        )));
        Ok(())
    }

    /// Publishes checkpoints of the log from this node while it holds the
    /// checkpoint lease (decision 0020): every `warden serve` offers to.
    pub fn start_checkpointer(&mut self, config: &crate::config::CheckpointConfig) {
        let checkpointer = warden_core::ledger::checkpointer::Checkpointer {
            ledger: self.ledger.clone(),
            schedule: config.schedule,
            dir: config.dir.clone(),
            shutdown: self.shutdown.subscribe(),
        };
        self.tasks.push(tokio::spawn(checkpointer.run()));
    }

    /// Rotates the chain's signing key once it is `max_age_days` old
    /// (`signing_key_max_age_days`), checked every minute. When several
    /// nodes find it due at once, one announcement wins (the others'
    /// conflict on the `ledger` subject) and every node adopts it.
    pub fn start_signing_key_schedule(&mut self, max_age_days: Option<u32>) {
        if max_age_days.is_none() {
            return;
        }
        let (ledger, kms, models) = (self.ledger.clone(), self.kms.clone(), self.models.clone());
        let mut shutdown = self.shutdown.subscribe();
        self.tasks.push(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs(60));
            while !*shutdown.borrow() {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = shutdown.changed() => continue,
                }
                let added = read(&models.signing_keys)
                    .current()
                    .and_then(|key| warden_core::event::timestamp::parse(&key.added_at));
                let Some(added) = added else { continue };
                if !signing::rotation_due(added, chrono::Utc::now(), max_age_days) {
                    continue;
                }
                let mut actor = warden_core::Actor::system();
                actor.id = Some("warden-schedule".into());
                let request_id = uuid::Uuid::now_v7().to_string();
                match signing::rotate(&ledger, &kms, actor, &request_id).await {
                    Ok(key_id) => tracing::info!(%key_id, "signing key rotated: it reached signing_key_max_age_days"),
                    Err(SigningError::Append(warden_core::ledger::AppendError::Conflict { .. })) => {
                        tracing::debug!("another node rotated the signing key first")
                    }
                    Err(error) => tracing::warn!(%error, "the scheduled signing-key rotation failed"),
                }
            }
        }));
    }

    /// Appends this node's key-use summaries (`kms.data_keys_unwrapped`,
    /// `signing_key.used`) once each minute is over, and the last at stop.
    pub fn start_key_use_summaries(&mut self) {
        self.summarizes_key_use = true;
        let ledger = self.ledger.clone();
        let mut shutdown = self.shutdown.subscribe();
        self.tasks.push(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs(5));
            while !*shutdown.borrow() {
                tokio::select! {
                    _ = ticker.tick() => append_key_use(&ledger, false).await,
                    _ = shutdown.changed() => {}
                }
            }
        }));
    }

    /// Stops after every accepted append is committed or refused; the
    /// runner saves its snapshot on the way out.
    pub async fn stop(self) {
        if self.summarizes_key_use {
            append_key_use(&self.ledger, true).await;
        }
        if !self.ledger.flush(Duration::from_secs(30)).await {
            tracing::warn!("appends still pending at shutdown");
        }
        self.shutdown.send_replace(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

/// Appends the key-use summaries of the minutes that are over (all when
/// `all`); a failed append keeps them for the next try.
async fn append_key_use(ledger: &Ledger, all: bool) {
    use warden_core::commands::kms;
    let summaries = ledger.key_use().take(chrono::Utc::now(), all);
    if summaries.is_empty() {
        return;
    }
    let mut actor = warden_core::Actor::system();
    actor.id = Some("warden-keys".into());
    let context = warden_core::commands::Context {
        actor,
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    let events = summaries
        .unwrapped
        .iter()
        .map(|unwrapped| kms::data_keys_unwrapped(&context, unwrapped))
        .chain(
            summaries
                .signed
                .iter()
                .map(|used| kms::signing_key_used(&context, used)),
        )
        .collect();
    if let Err(error) = ledger.append(events).await {
        tracing::warn!(%error, "key-use summaries not recorded yet; retrying");
        ledger.key_use().put_back(summaries);
    }
}

/// When another node rotates the signing key, its announcement reaches the
/// `signing_keys` read model here; this node then signs with the new key.
async fn follow_key_rotation(ledger: Ledger, kms: Keyring, models: ReadModels, mut shutdown: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    while !*shutdown.borrow() {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => continue,
        }
        let current = read(&models.signing_keys).current().map(|key| key.key_id.clone());
        let installed = ledger.signer().current().map(|key| key.key_id.clone());
        if let Some(current) = current
            && installed.as_deref() != Some(current.as_str())
            && let Err(error) = signing::adopt(&ledger, &kms, &current).await
        {
            tracing::warn!(%error, key_id = %current, "cannot adopt the rotated signing key");
        }
    }
}
