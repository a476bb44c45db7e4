//! One conformance suite, run against both buses (NATS JetStream,
//! in-process), plus the relay over each.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use tokio::sync::watch;
use warden_core::bus::relay::Relay;
use warden_core::{Actor, Event, NewEvent};
use warden_tests::{Backend, BusKind, TestBus, TestStore};

async fn some_events(count: usize) -> (TestStore, Vec<Event>) {
    let store = TestStore::open(Backend::Sqlite).await;
    let ledger = store.ledger().await;
    for i in 0..count {
        ledger
            .append_one(NewEvent::new("app.thing.done", format!("thing:{i}"), Actor::system()).data(json!({"i": i})))
            .await
            .unwrap();
    }
    let events = store.store.read(1, count + 1).await.unwrap();
    (store, events)
}

async fn collect(
    stream: &mut futures::stream::BoxStream<'static, Result<Event, warden_core::bus::BusError>>,
    count: usize,
) -> Vec<u64> {
    let mut seqs = Vec::new();
    let mut interruptions = Vec::new();
    while seqs.len() < count {
        let next = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("bus delivered in time")
            .expect("stream open");
        // A transient interruption is allowed by the Bus contract (consumers
        // repair from the log); the stream must go on in order after it.
        match next {
            Ok(event) => seqs.push(event.seq),
            Err(error) => interruptions.push(error.to_string()),
        }
        assert!(interruptions.len() <= 2, "{interruptions:?}");
    }
    seqs
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod nats {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(warden_tests::BusKind::Nats).await })*
        }
        mod local {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(warden_tests::BusKind::Local).await })*
        }
    };
}

conformance!(
    publishes_in_order_to_live_subscribers,
    duplicates_are_never_stored_twice,
    a_gap_is_refused,
    relay_copies_the_log_and_resumes,
);

async fn publishes_in_order_to_live_subscribers(kind: BusKind) {
    let bus = TestBus::open(kind).await;
    let (_store, events) = some_events(30).await;
    assert_eq!(bus.bus.last_published().await.unwrap(), 0);
    let mut stream = bus.bus.subscribe(1).await.unwrap();
    bus.bus.publish(&events[..10]).await.unwrap();
    bus.bus.publish(&events[10..]).await.unwrap();
    assert_eq!(bus.bus.last_published().await.unwrap(), 31);
    assert_eq!(collect(&mut stream, 31).await, (1..=31).collect::<Vec<_>>());
}

async fn duplicates_are_never_stored_twice(kind: BusKind) {
    let bus = TestBus::open(kind).await;
    let (_store, events) = some_events(10).await;
    let mut stream = bus.bus.subscribe(1).await.unwrap();
    bus.bus.publish(&events[..6]).await.unwrap();
    // A relay that restarted re-publishes an overlapping range.
    bus.bus.publish(&events[2..]).await.unwrap();
    bus.bus.publish(&events).await.unwrap();
    assert_eq!(bus.bus.last_published().await.unwrap(), 11);
    assert_eq!(collect(&mut stream, 11).await, (1..=11).collect::<Vec<_>>());
    if let Some(stream) = &bus.stream {
        let contents = warden_tests::stream_contents(&stream.url, &stream.prefix).await;
        assert_eq!(
            contents,
            (1..=11).map(|s| (s, s)).collect::<Vec<_>>(),
            "stream sequence equals seq"
        );
    }
}

async fn a_gap_is_refused(kind: BusKind) {
    let bus = TestBus::open(kind).await;
    let (_store, events) = some_events(5).await;
    bus.bus.publish(&events[..2]).await.unwrap();
    assert!(
        bus.bus.publish(&events[3..]).await.is_err(),
        "seq 4 cannot follow seq 2"
    );
    assert_eq!(bus.bus.last_published().await.unwrap(), 2);
}

async fn relay_copies_the_log_and_resumes(kind: BusKind) {
    let bus = TestBus::open(kind).await;
    let (store, _) = some_events(25).await;
    let ledger = store.ledger().await;
    let mut stream = bus.bus.subscribe(1).await.unwrap();
    let run_relay = |shutdown| Relay {
        store: store.store.clone(),
        bus: bus.bus.clone(),
        committed: ledger.committed(),
        shutdown,
    };
    let (stop, shutdown) = watch::channel(false);
    let relay = tokio::spawn(run_relay(shutdown).run());
    let seen = collect(&mut stream, 26).await;
    stop.send_replace(true);
    relay.await.unwrap();
    // Appends while no relay runs are published when one starts again.
    for i in 0..5 {
        ledger
            .append_one(NewEvent::new("app.later.done", format!("later:{i}"), Actor::system()))
            .await
            .unwrap();
    }
    let (stop, shutdown) = watch::channel(false);
    let relay = tokio::spawn(run_relay(shutdown).run());
    let later = collect(&mut stream, 5).await;
    stop.send_replace(true);
    relay.await.unwrap();
    assert_eq!([seen, later].concat(), (1..=31).collect::<Vec<_>>());
}
