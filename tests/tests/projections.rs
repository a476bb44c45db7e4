//! The projection runner: snapshots, restarts that replay only the tail,
//! rebuilds on a version change, log tailing without a bus, and refusal of
//! events that do not verify or cannot be read.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use warden_core::bus::Bus;
use warden_core::bus::local::LocalBus;
use warden_core::bus::nats::NatsBus;
use warden_core::chain::ChainError;
use warden_core::commands::Context;
use warden_core::commands::session::{self, Assurance, Level, SessionCreated};
use warden_core::ledger::seal::SealInput;
use warden_core::ledger::{AppendError, Ledger};
use warden_core::{Actor, NewEvent};
use warden_projections::projection::read;
use warden_projections::{Positions, ReadModels, Runner, RunnerError};
use warden_tests::process::free_port;
use warden_tests::{Backend, TestStore};

async fn append(ledger: &Ledger, count: usize) {
    for i in 0..count {
        ledger
            .append_one(NewEvent::new("app.thing.done", format!("thing:{i}"), Actor::system()))
            .await
            .unwrap();
    }
}

fn local_bus() -> Arc<dyn Bus> {
    Arc::new(LocalBus::default())
}

/// A runner of `models` on `store`'s log and `bus`, in its own task.
struct Running {
    positions: Positions,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn start(store: &TestStore, bus: Arc<dyn Bus>, models: &ReadModels) -> Running {
        let (runner, positions) = Runner::restore(store.store.clone(), bus, models).await.unwrap();
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(runner.run(shutdown));
        Running { positions, stop, task }
    }

    async fn stop(self) {
        self.stop.send_replace(true);
        self.task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_replays_only_the_tail_and_a_version_change_rebuilds() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let store = TestStore::open(backend).await;
        let ledger = store.ledger().await;
        append(&ledger, 20).await;
        warden_core::keys::signing::rotate(&ledger, &store.kms().into(), Actor::system(), "r")
            .await
            .unwrap();
        append(&ledger, 4).await;

        let models = ReadModels::default();
        let (mut runner, _) = Runner::restore(store.store.clone(), local_bus(), &models)
            .await
            .unwrap();
        assert_eq!(runner.position(), 0);
        assert_eq!(runner.catch_up().await.unwrap(), 26);
        runner.save_snapshots().await.unwrap();
        let built = read(&models.signing_keys).clone();
        assert_eq!(built.all().count(), 2);

        append(&ledger, 5).await;
        let restarted = ReadModels::default();
        let (mut runner, positions) = Runner::restore(store.store.clone(), local_bus(), &restarted)
            .await
            .unwrap();
        assert_eq!(
            runner.position(),
            26,
            "restored from the snapshot: only the tail is replayed"
        );
        assert_eq!(
            *read(&restarted.signing_keys),
            built,
            "state restored before any replay"
        );
        assert_eq!(runner.catch_up().await.unwrap(), 31);
        assert_eq!(positions.applied(), 31);

        // A projection whose stored version differs is rebuilt from seq 1.
        runner.save_snapshots().await.unwrap();
        let mut snapshot = store.store.load_snapshot("signing_keys").await.unwrap().unwrap();
        snapshot.version += 1;
        snapshot.state = b"{\"not\":\"the current shape\"}".to_vec();
        store.store.save_snapshots(&[snapshot]).await.unwrap();
        let rebuilt = ReadModels::default();
        let (mut runner, _) = Runner::restore(store.store.clone(), local_bus(), &rebuilt)
            .await
            .unwrap();
        assert_eq!(runner.position(), 0, "version changed: rebuild from seq 1");
        assert_eq!(runner.catch_up().await.unwrap(), 31);
        assert_eq!(*read(&rebuilt.signing_keys), built);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_reachable_bus_the_runner_tails_the_log() {
    let store = TestStore::open(Backend::Sqlite).await;
    let ledger = store.ledger().await;
    // Nothing listens on this port: NATS is down.
    let bus: Arc<dyn Bus> = Arc::new(
        NatsBus::connect(&format!("nats://127.0.0.1:{}", free_port()), "down")
            .await
            .unwrap(),
    );
    let models = ReadModels::default();
    let running = Running::start(&store, bus, &models).await;
    append(&ledger, 10).await;
    let rotated = warden_core::keys::signing::rotate(&ledger, &store.kms().into(), Actor::system(), "r")
        .await
        .unwrap();
    assert!(
        running.positions.wait_for(12, Duration::from_secs(10)).await,
        "runner did not tail the log"
    );
    assert_eq!(read(&models.signing_keys).current().unwrap().key_id, rotated);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_bus_with_a_late_start_is_repaired_from_the_log() {
    let store = TestStore::open(Backend::Sqlite).await;
    let ledger = store.ledger().await;
    append(&ledger, 10).await;
    let bus = Arc::new(LocalBus::default());
    let models = ReadModels::default();
    let running = Running::start(&store, bus.clone(), &models).await;
    append(&ledger, 10).await;
    // The bus only ever carries the newest events: 1..=20 come from the log.
    let newest = store.store.read(21, 1).await.unwrap();
    let all = store.store.read(1, 21).await.unwrap();
    bus.publish(&all[..20]).await.unwrap();
    bus.publish(&newest).await.unwrap();
    assert!(running.positions.wait_for(21, Duration::from_secs(10)).await);
    assert_eq!(running.positions.failure(), None);
    running.stop().await;
}

/// A bus that replays a backlog of events the runners already applied,
/// without end (a relay publishing a large import, or a stream replayed
/// from its start): it never carries anything new.
struct ReplayingBus {
    backlog: Vec<warden_core::Event>,
}

#[async_trait::async_trait]
impl Bus for ReplayingBus {
    async fn last_published(&self) -> Result<u64, warden_core::bus::BusError> {
        Ok(self.backlog.len() as u64)
    }
    async fn publish(&self, _events: &[warden_core::Event]) -> Result<(), warden_core::bus::BusError> {
        Ok(())
    }
    async fn subscribe(
        &self,
        _from: u64,
    ) -> Result<
        futures::stream::BoxStream<'static, Result<warden_core::Event, warden_core::bus::BusError>>,
        warden_core::bus::BusError,
    > {
        use futures::StreamExt;
        let backlog = self.backlog.clone();
        let ticks = tokio::time::interval(Duration::from_millis(2));
        Ok(futures::stream::unfold((ticks, 0usize), move |(mut ticks, at)| {
            let event = backlog[at % backlog.len()].clone();
            async move {
                ticks.tick().await;
                Some((Ok(event), (ticks, at + 1)))
            }
        })
        .boxed())
    }
    async fn ping(&self) -> Result<(), warden_core::bus::BusError> {
        Ok(())
    }
    fn is_shared(&self) -> bool {
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bus_busy_with_old_events_never_holds_new_ones_back() {
    let store = TestStore::open(Backend::Sqlite).await;
    let ledger = store.ledger().await;
    append(&ledger, 10).await;
    let bus: Arc<dyn Bus> = Arc::new(ReplayingBus {
        backlog: store.store.read(1, 10).await.unwrap(),
    });
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    // One runner woken by this process's commits, one that only tails.
    let (woken, woken_at) = Runner::restore(store.store.clone(), bus.clone(), &ReadModels::default())
        .await
        .unwrap();
    let woken = tokio::spawn(woken.woken_by(ledger.committed()).run(shutdown.clone()));
    let (tailing, tailing_at) = Runner::restore(store.store.clone(), bus.clone(), &ReadModels::default())
        .await
        .unwrap();
    let tailing = tokio::spawn(tailing.run(shutdown));
    assert!(woken_at.wait_for(10, Duration::from_secs(10)).await);
    assert!(tailing_at.wait_for(10, Duration::from_secs(10)).await);
    // Let both settle on the endless replay, then append.
    tokio::time::sleep(Duration::from_millis(300)).await;
    append(&ledger, 1).await;
    let head = store.store.head().await.unwrap().seq;
    // Before, the runner only tailed the log after a quiet spell on the
    // bus, which never came: neither runner ever applied the new event.
    assert!(
        woken_at.wait_for(head, Duration::from_secs(5)).await,
        "woken by the commit"
    );
    assert!(
        tailing_at.wait_for(head, Duration::from_secs(5)).await,
        "a runner tails the log on its clock, whatever the bus carries"
    );
    stop.send_replace(true);
    woken.await.unwrap();
    tailing.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_does_not_verify_is_never_applied() {
    let store = TestStore::open(Backend::Sqlite).await;
    let ledger = store.ledger().await;
    append(&ledger, 10).await;
    let path = store.dir.path().join("ledger.sqlite");
    let mut connection = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let connection = &mut connection;
    sqlx::query("DROP TRIGGER events_no_update")
        .execute(&mut *connection)
        .await
        .unwrap();
    sqlx::query("UPDATE events SET subject = 'thing:forged' WHERE seq = 5")
        .execute(&mut *connection)
        .await
        .unwrap();
    let models = ReadModels::default();
    let (mut runner, _) = Runner::restore(store.store.clone(), local_bus(), &models)
        .await
        .unwrap();
    match runner.catch_up().await {
        Err(RunnerError::Chain(ChainError::HashMismatch { seq: 5 })) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(runner.position(), 0, "nothing of the bad chunk was applied");
}

/// The bus is fan-out, not the truth: an event on it that does not verify
/// (here, a key announcement signed by a stranger's key) is dropped, the
/// runner keeps going, and the seq is read from the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_event_on_the_bus_is_dropped_and_the_log_read_instead() {
    use warden_core::chain::{Envelope, key_id, sign, signing_key_added_data};

    let store = TestStore::open(Backend::Sqlite).await;
    let ledger = store.ledger().await;
    append(&ledger, 10).await;
    let bus = Arc::new(LocalBus::default());
    let models = ReadModels::default();
    let running = Running::start(&store, bus.clone(), &models).await;
    assert!(running.positions.wait_for(11, Duration::from_secs(10)).await);

    let stranger = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let last = store.store.read(11, 1).await.unwrap().remove(0);
    let mut forged = last.clone();
    forged.seq = 12;
    forged.prev = last.hash;
    forged.kind = "signing_key.added".into();
    forged.subject = "ledger".into();
    forged.data = signing_key_added_data(&stranger.verifying_key());
    forged.key_id = key_id(&stranger.verifying_key());
    forged.hash = Envelope::of(&forged).hash().unwrap();
    forged.sig = sign(&stranger, &forged.hash);
    // The bus carries what the relay published, then the forgery.
    bus.publish(&store.store.read(1, 11).await.unwrap()).await.unwrap();
    bus.publish(&[forged]).await.unwrap();

    append(&ledger, 1).await;
    assert!(running.positions.wait_for(12, Duration::from_secs(10)).await);
    assert_eq!(running.positions.failure(), None, "the runner keeps going");
    let keys = read(&models.signing_keys).clone();
    assert!(
        keys.all().all(|key| key.key_id != key_id(&stranger.verifying_key())),
        "the forged announcement was never applied"
    );
    running.stop().await;
}

/// A read model new to a log (its kinds came with it) starts empty where
/// the others stand, not at seq 1: a log archived before it existed has
/// no seq 1 to replay from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_new_to_the_log_starts_where_the_others_stand() {
    let store = TestStore::open(Backend::Postgres).await;
    let ledger = store.ledger().await;
    append(&ledger, 12).await;
    let models = ReadModels::default();
    let (mut runner, _) = Runner::restore(store.store.clone(), local_bus(), &models)
        .await
        .unwrap();
    assert_eq!(runner.catch_up().await.unwrap(), 13);
    runner.save_snapshots().await.unwrap();
    // As saved by a release without the deliveries model.
    let mut connection = store.database.as_ref().unwrap().superuser().await;
    sqlx::query("DELETE FROM snapshots WHERE name = 'deliveries'")
        .execute(&mut connection)
        .await
        .unwrap();
    append(&ledger, 2).await;

    let upgraded = ReadModels::default();
    let (mut runner, _) = Runner::restore(store.store.clone(), local_bus(), &upgraded)
        .await
        .unwrap();
    assert_eq!(runner.position(), 13, "the new model starts at the others' position");
    assert_eq!(runner.catch_up().await.unwrap(), 15);

    // A version change of a model that needs its history still rebuilds.
    runner.save_snapshots().await.unwrap();
    let mut snapshot = store.store.load_snapshot("deliveries").await.unwrap().unwrap();
    assert_eq!(snapshot.seq, 15);
    snapshot.version += 1;
    store.store.save_snapshots(&[snapshot]).await.unwrap();
    let (runner, _) = Runner::restore(store.store.clone(), local_bus(), &ReadModels::default())
        .await
        .unwrap();
    assert_eq!(runner.position(), 0, "a changed version rebuilds from seq 1");
}

/// A verified event whose `data` does not decode as its kind's payload
/// (a `session.rotated` as a build that renamed `token_hash` would leave
/// it) stops the runner like a chain violation: it is never skipped,
/// nothing after it is applied, and the failure (what `/readyz` shows)
/// names its seq and kind. Skipped, it would leave the old token working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_whose_payload_does_not_decode_stops_the_read_models() {
    let store = TestStore::open(Backend::Sqlite).await;
    let ledger = store.ledger().await;
    let context = Context {
        actor: Actor::system(),
        request_id: "payload-test".into(),
    };
    let now = warden_core::event::now_micros();
    let old_token = "a1".repeat(32);
    let user_agent = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let device = warden_core::auth::device::Device::from_user_agent(user_agent);
    let created = SessionCreated {
        user: "u1".into(),
        org: "o1".into(),
        token_hash: old_token.clone(),
        ip: Some("203.0.113.7".into()),
        user_agent: Some(user_agent.into()),
        fingerprint: device.fingerprint(),
        device,
        assurance: Assurance {
            level: Level::Aal1,
            methods: vec!["password".into()],
            at: now,
        },
        pending: None,
        idle_timeout_seconds: 3600,
        expires_at: now + chrono::Duration::hours(8),
    };
    let created = ledger
        .append_one(session::create(&context, "s1", &created))
        .await
        .unwrap();

    let models = ReadModels::default();
    let (mut runner, positions) = Runner::restore(store.store.clone(), local_bus(), &models)
        .await
        .unwrap();
    assert_eq!(runner.catch_up().await.unwrap(), created.seq);
    assert!(read(&models.sessions).by_token(&old_token).is_some());

    // This build's ledger refuses such an event at the append; another
    // build's would not have: it goes to the store directly, sealed and
    // signed like any other.
    let forged = context
        .event(session::SESSION_ROTATED, session::session_subject("s1"))
        .data(serde_json::json!({"token": "b2".repeat(32), "reason": "privileges_changed"}));
    assert!(matches!(
        ledger.append_one(forged.clone()).await,
        Err(AppendError::Invalid(message)) if message.contains("does not decode")
    ));
    let key = ledger.signer().current().unwrap();
    let batch = store
        .store
        .commit(SealInput {
            requests: &[vec![forged]],
            key: &key,
        })
        .await
        .unwrap();
    let rotated = batch.results[0].as_ref().unwrap()[0].clone();
    append(&ledger, 1).await;

    match runner.catch_up().await {
        Err(RunnerError::Payload(error)) => {
            assert_eq!(
                (error.seq, error.kind.as_str()),
                (rotated.seq, session::SESSION_ROTATED)
            );
            assert!(error.reason.contains("token_hash"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(runner.position(), created.seq, "nothing of the run was applied");

    // Running, it stops for good and says why.
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    tokio::time::timeout(Duration::from_secs(10), tokio::spawn(runner.run(shutdown)))
        .await
        .expect("the runner stops")
        .unwrap();
    let failure = positions.failure().expect("the runner reports a failure");
    assert!(
        failure.contains(&format!("seq {}", rotated.seq)) && failure.contains(session::SESSION_ROTATED),
        "{failure}"
    );
    assert_eq!(positions.applied(), created.seq);
    let sessions = read(&models.sessions);
    let session = sessions.get("s1").unwrap();
    assert_eq!(
        (session.token_hash.as_str(), session.token_seq),
        (old_token.as_str(), created.seq),
        "the rotation was not applied"
    );
}
