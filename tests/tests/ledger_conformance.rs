//! One conformance suite, run against both ledgers (PostgreSQL, SQLite).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use serde_json::json;
use warden_core::chain::ChainVerifier;
use warden_core::ledger::{AppendError, Ledger, Snapshot};
use warden_core::{Actor, ActorKind, Event, NewEvent, Outcome};
use warden_tests::{Backend, TestStore};

fn user(id: &str) -> Actor {
    Actor {
        id: Some(id.into()),
        ..Actor::of_kind(ActorKind::User)
    }
}

fn event(kind: &str, subject: &str) -> NewEvent {
    NewEvent::new(kind, subject, user("u1"))
        .request_id("r1")
        .data(json!({"n": 1}))
}

async fn verify_all(store: &TestStore) -> u64 {
    let events = store.store.read(1, 1_000_000).await.unwrap();
    let mut verifier = ChainVerifier::new();
    verifier.check_all(&events, 2).unwrap();
    events.len() as u64
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(warden_tests::Backend::Postgres).await })*
        }
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(warden_tests::Backend::Sqlite).await })*
        }
    };
}

conformance!(
    genesis_then_gapless_signed_appends,
    concurrent_appends_share_commits_and_stay_gapless,
    subject_versions_refuse_stale_decisions,
    unique_claims_are_taken_once,
    released_claims_can_be_claimed_again,
    a_command_appends_all_or_nothing,
    invalid_events_are_refused_with_a_reason,
    snapshots_round_trip,
    reads_are_ordered_ranges,
    second_ledger_on_the_same_log_adopts_the_key,
    key_rotation_is_announced_and_verifies,
    large_commands_with_claims_are_stored_whole,
);

async fn genesis_then_gapless_signed_appends(backend: Backend) {
    let store = TestStore::open(backend).await;
    let ledger = store.ledger().await;
    let first = ledger.append_one(event("app.thing.done", "thing:1")).await.unwrap();
    assert_eq!(first.seq, 2, "seq 1 is the genesis key announcement");
    assert_eq!(first.subject_version, 1);
    let second = ledger.append_one(event("app.thing.done", "thing:1")).await.unwrap();
    assert_eq!((second.seq, second.subject_version), (3, 2));
    assert_eq!(second.prev, first.hash);
    let head = ledger.head().await.unwrap();
    assert_eq!((head.seq, head.hash), (3, second.hash));
    let stored = store.store.read(2, 10).await.unwrap();
    assert_eq!(stored, vec![first, second], "stored events read back exactly");
    assert_eq!(verify_all(&store).await, 3);
}

async fn concurrent_appends_share_commits_and_stay_gapless(backend: Backend) {
    let store = TestStore::open(backend).await;
    let ledger = store.ledger().await;
    let tasks: Vec<_> = (0..400)
        .map(|i| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                ledger
                    .append_one(event("app.thing.done", &format!("thing:{i}")))
                    .await
                    .unwrap()
                    .seq
            })
        })
        .collect();
    let mut seqs = BTreeSet::new();
    for task in tasks {
        assert!(seqs.insert(task.await.unwrap()), "two appends got one seq");
    }
    assert_eq!(seqs, (2..=401).collect::<BTreeSet<u64>>());
    assert_eq!(verify_all(&store).await, 401);
}

async fn subject_versions_refuse_stale_decisions(backend: Backend) {
    let store = TestStore::open(backend).await;
    let ledger = store.ledger().await;
    ledger
        .append_one(event("app.account.opened", "account:a").expect_version(0))
        .await
        .unwrap();
    let stale = ledger
        .append_one(event("app.account.opened", "account:a").expect_version(0))
        .await;
    assert!(
        matches!(
            &stale,
            Err(AppendError::Conflict {
                expected: 0,
                actual: 1,
                ..
            })
        ),
        "{stale:?}"
    );
    let fresh = ledger
        .append_one(event("app.account.closed", "account:a").expect_version(1))
        .await
        .unwrap();
    assert_eq!(fresh.subject_version, 2);
    // Two racing commands decided on the same version: exactly one wins.
    let racers = (0..8).map(|_| event("app.account.renamed", "account:a").expect_version(2));
    let mut won = 0;
    for result in race(&ledger, racers).await {
        match result {
            Ok(_) => won += 1,
            Err(AppendError::Conflict { .. }) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(won, 1);
}

/// Appends every event at once, each from its own task: their results.
async fn race(ledger: &Ledger, events: impl Iterator<Item = NewEvent>) -> Vec<Result<Event, AppendError>> {
    let racers: Vec<_> = events
        .map(|event| {
            let ledger = ledger.clone();
            tokio::spawn(async move { ledger.append_one(event).await })
        })
        .collect();
    let mut results = Vec::new();
    for racer in racers {
        results.push(racer.await.unwrap());
    }
    results
}

async fn unique_claims_are_taken_once(backend: Backend) {
    let store = TestStore::open(backend).await;
    let ledger = store.ledger().await;
    let racers = (0..10).map(|i| event("app.user.created", &format!("user:{i}")).claim("email", "alice@example.org"));
    let mut won = 0;
    for result in race(&ledger, racers).await {
        match result {
            Ok(_) => won += 1,
            Err(AppendError::ClaimTaken { namespace, .. }) => assert_eq!(namespace, "email"),
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(won, 1, "alice@example.org claimed by exactly one user");
    ledger
        .append_one(event("app.user.created", "user:b").claim("email", "bob@example.org"))
        .await
        .unwrap();
}

/// A compensating event releases a claim; the value can then be claimed
/// again, once, in a later append or later in the same command.
async fn released_claims_can_be_claimed_again(backend: Backend) {
    let store = TestStore::open(backend).await;
    let ledger = store.ledger().await;
    let taken = |result: Result<_, AppendError>| matches!(result, Err(AppendError::ClaimTaken { .. }));
    ledger
        .append_one(event("app.user.created", "user:a").claim("email", "a@example.org"))
        .await
        .unwrap();
    assert!(taken(
        ledger
            .append_one(event("app.user.created", "user:a2").claim("email", "a@example.org"))
            .await
    ));
    ledger
        .append_one(event("app.user.removed", "user:a").release("email", "a@example.org"))
        .await
        .unwrap();
    ledger
        .append_one(event("app.user.created", "user:a3").claim("email", "a@example.org"))
        .await
        .unwrap();
    assert!(taken(
        ledger
            .append_one(event("app.user.created", "user:a4").claim("email", "a@example.org"))
            .await
    ));
    // Release and claim again within one command, and concurrent racers
    // for a released value: exactly one wins.
    ledger
        .append(vec![
            event("app.user.removed", "user:a3").release("email", "a@example.org"),
            event("app.user.created", "user:a5").claim("email", "a@example.org"),
        ])
        .await
        .unwrap();
    ledger
        .append_one(event("app.user.removed", "user:a5").release("email", "a@example.org"))
        .await
        .unwrap();
    let racers = (0..8).map(|i| event("app.user.created", &format!("user:r{i}")).claim("email", "a@example.org"));
    let won = race(&ledger, racers)
        .await
        .iter()
        .filter(|result| result.is_ok())
        .count();
    assert_eq!(won, 1);
}

async fn a_command_appends_all_or_nothing(backend: Backend) {
    let store = TestStore::open(backend).await;
    let ledger = store.ledger().await;
    ledger
        .append_one(event("app.account.opened", "account:a"))
        .await
        .unwrap();
    let head = ledger.head().await.unwrap();
    let refused = ledger
        .append(vec![
            event("app.account.opened", "account:b").expect_version(0),
            event("app.account.opened", "account:a").expect_version(0),
        ])
        .await;
    assert!(matches!(refused, Err(AppendError::Conflict { .. })));
    assert_eq!(
        ledger.head().await.unwrap(),
        head,
        "nothing of the refused command was appended"
    );
    let both = ledger
        .append(vec![
            event("app.pair.first", "pair:1"),
            event("app.pair.second", "pair:1"),
        ])
        .await
        .unwrap();
    assert_eq!(
        (both[0].seq + 1, both[0].subject_version + 1),
        (both[1].seq, both[1].subject_version)
    );
}

async fn invalid_events_are_refused_with_a_reason(backend: Backend) {
    let store = TestStore::open(backend).await;
    let ledger = store.ledger().await;
    for (bad, reason) in [
        (event("Not A Kind", "x:1"), "kind"),
        (event("app.x.done", ""), "subject"),
        (event("app.x.done", "x:1").data(json!({"ratio": 0.5})), "integer"),
        (
            event("app.x.done", "x:1").data(json!({"big": 9007199254740993_u64})),
            "integer",
        ),
    ] {
        match ledger.append_one(bad).await {
            Err(AppendError::Invalid(message)) => assert!(message.contains(reason), "{message}"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(ledger.head().await.unwrap().seq, 1);
}

async fn snapshots_round_trip(backend: Backend) {
    let store = TestStore::open(backend).await;
    assert_eq!(store.store.load_snapshot("m").await.unwrap(), None);
    let snapshot = |seq, state: &[u8]| Snapshot {
        name: "m".into(),
        version: 3,
        seq,
        state: state.to_vec(),
    };
    store.store.save_snapshots(&[snapshot(10, b"ten")]).await.unwrap();
    store.store.save_snapshots(&[snapshot(20, b"twenty")]).await.unwrap();
    assert_eq!(
        store.store.load_snapshot("m").await.unwrap(),
        Some(snapshot(20, b"twenty"))
    );
}

async fn reads_are_ordered_ranges(backend: Backend) {
    let store = TestStore::open(backend).await;
    let ledger = store.ledger().await;
    for i in 0..20 {
        ledger
            .append_one(event("app.thing.done", &format!("thing:{i}")).outcome(Outcome::Failure))
            .await
            .unwrap();
    }
    let range = store.store.read(5, 7).await.unwrap();
    assert_eq!(
        range.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (5..12).collect::<Vec<_>>()
    );
    assert!(store.store.read(22, 10).await.unwrap().is_empty());
}

async fn second_ledger_on_the_same_log_adopts_the_key(backend: Backend) {
    let store = TestStore::open(backend).await;
    let first = store.ledger().await;
    let second = store.ledger().await;
    assert_eq!(
        first.signer().current().unwrap().key_id,
        second.signer().current().unwrap().key_id
    );
    let a = first.append_one(event("app.thing.done", "thing:1")).await.unwrap();
    let b = second.append_one(event("app.thing.done", "thing:2")).await.unwrap();
    assert_eq!(b.prev, a.hash, "two writers, one chain");
    assert_eq!(verify_all(&store).await, 3);
}

async fn key_rotation_is_announced_and_verifies(backend: Backend) {
    let store = TestStore::open(backend).await;
    let ledger = store.ledger().await;
    let old = ledger.signer().current().unwrap().key_id.clone();
    ledger.append_one(event("app.thing.done", "thing:1")).await.unwrap();
    let new = warden_core::keys::signing::rotate(&ledger, &store.kms().into(), Actor::system(), "r")
        .await
        .unwrap();
    assert_ne!(old, new);
    let after = ledger.append_one(event("app.thing.done", "thing:2")).await.unwrap();
    assert_eq!(after.key_id, new);
    let announcement = &store.store.read(3, 1).await.unwrap()[0];
    assert_eq!(
        (announcement.kind.as_str(), announcement.key_id.as_str()),
        ("signing_key.added", old.as_str())
    );
    assert_eq!(verify_all(&store).await, 4);
}

/// A command too large for one statement (PostgreSQL splits it) keeps its
/// events, versions and claims together.
async fn large_commands_with_claims_are_stored_whole(backend: Backend) {
    let store = TestStore::open(backend).await;
    let ledger = store.ledger().await;
    let events: Vec<NewEvent> = (0..600)
        .map(|i| {
            event("app.user.imported", &format!("user:{i}"))
                .data(json!({"note": "x".repeat(200), "i": i}))
                .claim("email", format!("user{i}@example.org"))
        })
        .collect();
    let sealed = ledger.append(events).await.unwrap();
    assert_eq!(sealed.len(), 600);
    let taken = ledger
        .append_one(event("app.user.imported", "user:new").claim("email", "user599@example.org"))
        .await;
    assert!(matches!(taken, Err(AppendError::ClaimTaken { .. })), "{taken:?}");
    let stale = ledger
        .append_one(event("app.user.renamed", "user:599").expect_version(0))
        .await;
    assert!(
        matches!(stale, Err(AppendError::Conflict { actual: 1, .. })),
        "{stale:?}"
    );
    assert_eq!(verify_all(&store).await, 601);
}
