//! The audit index against a brute-force scan of the log: on a generated
//! trail of over 100,000 varied events, every search finds exactly the
//! events the scan finds, in order, page by page. Also: a restart resumes
//! from the index's own commit, and a version change rebuilds it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use warden_core::bus::Bus;
use warden_core::bus::local::LocalBus;
use warden_core::ledger::Ledger;
use warden_core::{ActorKind, Event, Outcome};
use warden_projections::Runner;
use warden_projections::audit::{AuditIndex, AuditQuery, IpRange, KindPattern, Order};
use warden_tests::audit::{self, Population, Reference, SEALED_WORD};
use warden_tests::{Backend, TestStore};

const EVENTS: usize = 100_000;

fn local_bus() -> Arc<dyn Bus> {
    Arc::new(LocalBus::default())
}

async fn append_all(ledger: &Ledger, events: Vec<warden_core::NewEvent>) {
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let batch: Vec<_> = events.by_ref().take(1000).collect();
        ledger.append(batch).await.unwrap();
    }
}

async fn read_log(ledger: &Ledger) -> Vec<Event> {
    let mut log = Vec::new();
    loop {
        let chunk = ledger.read(log.len() as u64 + 1, 10_000).await.unwrap();
        if chunk.is_empty() {
            return log;
        }
        log.extend(chunk);
    }
}

/// Indexes the whole log into `dir` and commits.
async fn index_log(store: &TestStore, dir: &std::path::Path) -> AuditIndex {
    let (index, sink) = AuditIndex::open(dir).unwrap();
    let (mut runner, _) = Runner::with_sink(store.store.clone(), local_bus(), sink).await.unwrap();
    runner.catch_up().await.unwrap();
    runner.save_snapshots().await.unwrap();
    index
}

/// Every page of a search, in order.
fn all_pages(index: &AuditIndex, query: &AuditQuery, order: Order, limit: usize) -> (Vec<u64>, usize) {
    let mut seqs = Vec::new();
    let mut after = None;
    loop {
        let page = index.search(query, order, after, limit).unwrap();
        assert!(page.seqs.len() <= limit);
        seqs.extend(&page.seqs);
        match page.next {
            Some(next) => after = Some(next),
            None => return (seqs, page.total),
        }
    }
}

fn expected(references: &[Reference], query: &AuditQuery) -> Vec<u64> {
    references
        .iter()
        .filter(|event| audit::matches(query, event))
        .map(|event| event.seq)
        .collect()
}

fn at(references: &[Reference], fraction: f64) -> DateTime<Utc> {
    let index = ((references.len() as f64 - 1.0) * fraction) as usize;
    DateTime::from_timestamp_micros(references[index].at_micros).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_find_exactly_what_a_scan_of_the_log_finds() {
    let store = TestStore::open(Backend::Sqlite).await;
    let ledger = store.ledger().await;
    let population = Population::new(8, 25);
    append_all(&ledger, population.creations()).await;
    append_all(&ledger, audit::generate(&population, EVENTS, 7)).await;
    let log = read_log(&ledger).await;
    assert!(log.len() > EVENTS);
    let references = audit::reference(&log);

    let dir = tempfile::tempdir().unwrap();
    let index = index_log(&store, dir.path()).await;
    assert_eq!(index.indexed_through(), log.len() as u64);

    let org = |n: usize| Some(population.orgs[n].clone());
    let user = &population.users[17];
    let other = &population.users[130];
    let sample = &references[log.len() / 2];
    let with_session = references[log.len() / 3..]
        .iter()
        .find(|event| event.session.is_some())
        .unwrap();
    let queries: Vec<(&str, AuditQuery)> = vec![
        ("everything", AuditQuery::default()),
        (
            "one org",
            AuditQuery {
                org: org(0),
                ..Default::default()
            },
        ),
        (
            "no filter but a kind prefix",
            AuditQuery {
                kinds: vec![KindPattern::parse("login.*").unwrap()],
                ..Default::default()
            },
        ),
        (
            "org and kind prefix",
            AuditQuery {
                org: org(1),
                kinds: vec![KindPattern::parse("mfa.*").unwrap()],
                ..Default::default()
            },
        ),
        (
            "org, exact kind and outcome",
            AuditQuery {
                org: org(2),
                kinds: vec![KindPattern::parse("login.failed").unwrap()],
                outcome: Some(Outcome::Denied),
                ..Default::default()
            },
        ),
        (
            "two kind patterns",
            AuditQuery {
                org: org(3),
                kinds: vec![
                    KindPattern::parse("login.failed").unwrap(),
                    KindPattern::parse("session.*").unwrap(),
                ],
                ..Default::default()
            },
        ),
        (
            "actor by id",
            AuditQuery {
                actor: Some(user.id.clone()),
                ..Default::default()
            },
        ),
        (
            "actor by email",
            AuditQuery {
                actor: Some(other.email.to_uppercase()),
                ..Default::default()
            },
        ),
        (
            "actor kind",
            AuditQuery {
                org: org(4),
                actor_kind: Some(ActorKind::Anonymous),
                ..Default::default()
            },
        ),
        (
            "service actors, any org",
            AuditQuery {
                actor_kind: Some(ActorKind::Service),
                ..Default::default()
            },
        ),
        (
            "the account concerned",
            AuditQuery {
                user: Some(user.id.clone()),
                ..Default::default()
            },
        ),
        (
            "subject",
            AuditQuery {
                subject: Some(sample.subject.clone()),
                ..Default::default()
            },
        ),
        (
            "session",
            AuditQuery {
                session: with_session.session.clone(),
                ..Default::default()
            },
        ),
        (
            "request",
            AuditQuery {
                request_id: Some(sample.request_id.clone()),
                ..Default::default()
            },
        ),
        (
            "IPv4 network",
            AuditQuery {
                ip: Some(IpRange::parse("10.1.0.0/16").unwrap()),
                ..Default::default()
            },
        ),
        (
            "IPv6 network",
            AuditQuery {
                org: org(5),
                ip: Some(IpRange::parse("2001:db8:a::/112").unwrap()),
                ..Default::default()
            },
        ),
        (
            "one address",
            AuditQuery {
                ip: sample.ip.map(|ip| IpRange::parse(&ip.to_string()).unwrap()),
                ..Default::default()
            },
        ),
        (
            "time range",
            AuditQuery {
                from: Some(at(&references, 0.3)),
                until: Some(at(&references, 0.6)),
                ..Default::default()
            },
        ),
        (
            "time range, org and kind",
            AuditQuery {
                org: org(6),
                kinds: vec![KindPattern::parse("login.succeeded").unwrap()],
                from: Some(at(&references, 0.1)),
                until: Some(at(&references, 0.9)),
                ..Default::default()
            },
        ),
        (
            "one word",
            AuditQuery {
                text: Some("Firefox".into()),
                ..Default::default()
            },
        ),
        (
            "two words and an org",
            AuditQuery {
                org: org(7),
                text: Some("payroll, berlin".into()),
                ..Default::default()
            },
        ),
        (
            "words of an email",
            AuditQuery {
                text: Some(user.email.clone()),
                ..Default::default()
            },
        ),
        (
            "text, kind, org and time",
            AuditQuery {
                org: org(0),
                kinds: vec![KindPattern::parse("app.*").unwrap()],
                text: Some("invoice refund".into()),
                from: Some(at(&references, 0.2)),
                ..Default::default()
            },
        ),
        (
            "a seq range",
            AuditQuery {
                seqs: Some((5_000, 5_999)),
                org: org(1),
                ..Default::default()
            },
        ),
        (
            "nothing matches",
            AuditQuery {
                org: org(0),
                actor: Some(other.id.clone()),
                ..Default::default()
            },
        ),
    ];
    for (name, query) in &queries {
        let wanted = expected(&references, query);
        let (newest_first, total) = all_pages(&index, query, Order::NewestFirst, 997);
        let mut reversed = wanted.clone();
        reversed.reverse();
        assert_eq!(newest_first, reversed, "{name}: newest first");
        assert_eq!(total, wanted.len(), "{name}: total");
        let (oldest_first, _) = all_pages(&index, query, Order::OldestFirst, 4096);
        assert_eq!(oldest_first, wanted, "{name}: oldest first");
        // What an export reads: pages beyond the search's page limit.
        let mut exported = Vec::new();
        let mut after = None;
        loop {
            let (seqs, next) = index.export_page(query, after, 9_999).unwrap();
            exported.extend(seqs);
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(exported, wanted, "{name}: export pages");
        // A fixed window's spread (a dashboard's): ten spans across the
        // middle half of the trail, each holding exactly its matches.
        let (from, until) = (
            at(&references, 0.25).timestamp_micros(),
            at(&references, 0.75).timestamp_micros(),
        );
        let span = (until - from) / 10 + 1;
        let bars = index.spread(query, from, span, 10).unwrap();
        assert_eq!(bars.len(), 10, "{name}: spans");
        let mut counted = [0u64; 10];
        for event in references
            .iter()
            .filter(|event| wanted.binary_search(&event.seq).is_ok())
        {
            if (from..from + span * 10).contains(&event.at_micros) {
                counted[((event.at_micros - from) / span) as usize] += 1;
            }
        }
        for (n, bar) in bars.iter().enumerate() {
            let start = from + span * n as i64;
            assert_eq!((bar.from_us, bar.span_us), (start, span), "{name}: span {n}");
            assert_eq!(bar.count, counted[n], "{name}: span {n}'s count");
        }
    }
    // The filters are not vacuous: most queries find some events, and
    // none finds everything.
    let found: Vec<usize> = queries
        .iter()
        .map(|(_, query)| expected(&references, query).len())
        .collect();
    assert!(
        found.iter().filter(|&&count| count > 0).count() >= queries.len() - 1,
        "{found:?}"
    );
    assert!(found[1..].iter().all(|&count| count < log.len()), "{found:?}");

    // What is sealed or a hash is in the log but never found.
    let raw = serde_json::to_string(&log).unwrap();
    assert!(raw.contains(SEALED_WORD));
    let sealed = AuditQuery {
        text: Some(SEALED_WORD.into()),
        ..Default::default()
    };
    assert_eq!(index.search(&sealed, Order::NewestFirst, None, 10).unwrap().total, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_resumes_from_its_commit_and_attributes_across_restarts() {
    let store = TestStore::open(Backend::Sqlite).await;
    let ledger = store.ledger().await;
    let population = Population::new(2, 3);
    append_all(&ledger, population.creations()).await;
    append_all(&ledger, audit::generate(&population, 500, 1)).await;
    let dir = tempfile::tempdir().unwrap();
    let first = index_log(&store, dir.path()).await;
    let through = first.indexed_through();
    drop(first);

    // More events, with anonymous failures that only the directory (saved
    // with the commit) can attribute to an org.
    append_all(&ledger, audit::generate(&population, 500, 2)).await;
    let (index, sink) = AuditIndex::open(dir.path()).unwrap();
    assert_eq!(index.indexed_through(), through, "the position comes from the commit");
    let (mut runner, _) = Runner::with_sink(store.store.clone(), local_bus(), sink).await.unwrap();
    assert_eq!(runner.position(), through, "only the tail is read");
    runner.catch_up().await.unwrap();
    runner.save_snapshots().await.unwrap();
    assert!(index.wait_for(through + 500, Duration::from_secs(1)).await);

    let references = audit::reference(&read_log(&ledger).await);
    for org in &population.orgs {
        let query = AuditQuery {
            org: Some(org.clone()),
            actor_kind: Some(ActorKind::Anonymous),
            ..Default::default()
        };
        let (seqs, _) = all_pages(&index, &query, Order::OldestFirst, 1000);
        assert_eq!(seqs, expected(&references, &query));
        assert!(seqs.iter().any(|&seq| seq > through));
    }
    drop(index);

    // A damaged commit payload (as after a version change) rebuilds.
    let meta = dir.path().join("index/meta.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    let current = format!("\\\"version\\\":{}", warden_projections::audit::VERSION);
    assert!(text.contains(&current), "{text}");
    let text = text.replace(&current, "\\\"version\\\":0");
    std::fs::write(&meta, text).unwrap();
    let (index, sink) = AuditIndex::open(dir.path()).unwrap();
    assert_eq!(index.indexed_through(), 0);
    let (mut runner, _) = Runner::with_sink(store.store.clone(), local_bus(), sink).await.unwrap();
    runner.catch_up().await.unwrap();
    runner.save_snapshots().await.unwrap();
    let everything = index
        .search(&AuditQuery::default(), Order::NewestFirst, None, 1)
        .unwrap();
    assert_eq!(everything.total, references.len());
}
