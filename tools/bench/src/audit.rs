//! The audit-trail benchmarks of issue 4, on PostgreSQL with a real
//! `warden serve` (production profile):
//!
//! * a generated log of `events` varied events (the correctness test's
//!   generator), most of them in the org whose owner the bench signs in as;
//! * indexing throughput: tantivy (the audit index itself, fed the events
//!   in-process) beside PostgreSQL full-text search (a tsvector + GIN table
//!   over the same words, filters and orgs) in the same run; and how long
//!   the server's own index took to follow the log;
//! * query latency p50/p95 for a filter-only, a text and a text+filter
//!   query, on both;
//! * export throughput (CSV, JSON Lines) through the HTTP API, with the
//!   server's memory sampled every 50 ms;
//! * a signed bundle of a filtered selection: export time and verification
//!   throughput;
//! * the console's audit page (`GET /audit`, sentences, facets and
//!   histogram): p50/p99 of the first page for a few searches; and the
//!   owner's home page, whose figures come from the same index.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use sqlx::Connection;
use warden_core::chain::{ChainVerifier, bundle};
use warden_projections::audit::{AuditDoc, AuditIndex, AuditQuery, Directory, KindPattern, Order};
use warden_projections::runner::Sink;
use warden_tests::audit::{GeneratedUser, Population, WORDS, generate};

use crate::sessions::Node;
use crate::setup::Target;

const QUERIES: usize = 200;
/// Console pages timed per shape.
const PAGES: usize = 100;

pub(crate) fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

/// The bench's people: the signed-in owner's org holds most users.
fn population(org: &str) -> Population {
    let mut users: Vec<GeneratedUser> = (0..270)
        .map(|n| GeneratedUser {
            id: format!("bench-u{n:03}"),
            org: org.to_string(),
            email: format!("user{n}@bench.example"),
        })
        .collect();
    let others = ["other-a", "other-b", "other-c"];
    for other in others {
        users.extend((0..10).map(|n| GeneratedUser {
            id: format!("{other}-u{n}"),
            org: other.to_string(),
            email: format!("user{n}@{other}.example"),
        }));
    }
    let mut orgs = vec![org.to_string()];
    orgs.extend(others.iter().map(|other| other.to_string()));
    Population { orgs, users }
}

pub async fn run(warden: &Path, events: u64) {
    let target = Target::create("postgres").await;
    let url = target.postgres.as_ref().unwrap().2.clone();
    let serve_dir = tempfile::tempdir().unwrap();
    let kms_file = target.dir.path().join("master.key");
    let node = Node::start_with(
        warden,
        serve_dir.path(),
        &[
            ("DATABASE_URL", url.as_str()),
            ("WARDEN_KMS_KEY_FILE", kms_file.to_str().unwrap()),
            // The run is long: the owner's sign-in stays fresh for exports.
            ("WARDEN_STEP_UP_MAX_AGE_SECONDS", "7200"),
        ],
    )
    .await;
    let (cookie, _) = node.set_up().await;
    let http = reqwest::Client::new();
    let get = |path: String| http.get(format!("{}{path}", node.url)).header("cookie", &cookie).send();
    let org: Value = get("/api/v1/org".into()).await.unwrap().json().await.unwrap();
    let org = org["id"].as_str().unwrap().to_string();

    // The log.
    let people = population(&org);
    target.ledger.append(people.creations()).await.unwrap();
    let started = Instant::now();
    let mut generated = generate(&people, events as usize, 42).into_iter();
    let batches = std::iter::from_fn(|| {
        let batch: Vec<_> = generated.by_ref().take(1000).collect();
        (!batch.is_empty()).then_some(batch)
    });
    let mut appends = futures::stream::iter(batches.map(|batch| {
        let ledger = target.ledger.clone();
        async move { ledger.append(batch).await.unwrap() }
    }))
    .buffer_unordered(4);
    while appends.next().await.is_some() {}
    drop(appends);
    let head = target.ledger.head().await.unwrap().seq;
    let filled = started.elapsed().as_secs_f64();
    println!("## Audit trail ({head} events, PostgreSQL)\n");
    println!("log filled in {filled:.1} s ({:.0} events/s)\n", events as f64 / filled);

    // The server's own index followed the fill; a second node, started
    // now with an empty index, builds its index from the whole log (read,
    // verify, index, commit) while it serves.
    let indexed = |node_url: String| {
        let http = http.clone();
        let cookie = cookie.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(1800);
            loop {
                let answer: Value = http
                    .get(format!("{node_url}/api/v1/audit/events?limit=1"))
                    .header("cookie", &cookie)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap_or_default();
                if answer["indexed_through"].as_u64().unwrap_or(0) >= head {
                    return;
                }
                assert!(Instant::now() < deadline, "the index did not catch up");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    indexed(node.url.clone()).await;
    println!(
        "server index, following the fill: searchable through {head} {:.1} s after the fill began\n",
        started.elapsed().as_secs_f64()
    );
    let second_dir = tempfile::tempdir().unwrap();
    let second = Node::start_with(
        warden,
        second_dir.path(),
        &[
            ("DATABASE_URL", url.as_str()),
            ("WARDEN_KMS_KEY_FILE", kms_file.to_str().unwrap()),
        ],
    )
    .await;
    let began = Instant::now();
    indexed(second.url.clone()).await;
    let rebuilt = began.elapsed().as_secs_f64();
    println!(
        "a new node's index, from an empty directory: {rebuilt:.1} s for {head} events ({:.0} events/s end to end: read from PostgreSQL, verify, index, commit; while serving)\n",
        head as f64 / rebuilt
    );
    second.stop();

    // The console's audit page, as a reader opens it: the first page of
    // 50 events as sentences, with its facets and histogram, and the
    // `audit.searched` record appended before the answer.
    println!("| console page (`GET /audit…`, first page of 50 with facets and histogram) | p50 (ms) | p99 (ms) |");
    println!("| --- | --- | --- |");
    for (shape, path, marker) in [
        ("everything", "/audit", "id=\"audit-results\""),
        ("a kind prefix", "/audit?kind=login.*", "id=\"audit-results\""),
        ("a word", "/audit?q=invoice", "id=\"audit-results\""),
        ("a page further on", "/audit?cursor=500000", "id=\"audit-results\""),
        (
            "the owner's home page (sign-ins, admin actions, exports)",
            "/",
            "id=\"home-exports\"",
        ),
    ] {
        let mut samples = Vec::with_capacity(PAGES);
        for _ in 0..PAGES {
            let began = Instant::now();
            let answer = get(path.to_string()).await.unwrap();
            assert_eq!(answer.status(), 200, "{path}");
            let html = answer.text().await.unwrap();
            samples.push(began.elapsed().as_secs_f64() * 1000.0);
            assert!(html.contains(marker), "{path}");
        }
        println!(
            "| {shape} | {:.1} | {:.1} |",
            percentile(&mut samples, 0.5),
            percentile(&mut samples, 0.99)
        );
    }
    println!("\n(Measured by the client over loopback: the server's time plus a local round trip.)\n");

    // Indexing, side by side.
    let index_dir = tempfile::tempdir().unwrap();
    let (index, mut sink) = AuditIndex::open(index_dir.path()).unwrap();
    let mut docs: Vec<AuditDoc> = Vec::with_capacity(head as usize);
    let mut directory = Directory::default();
    let mut indexing = Duration::ZERO;
    let mut next = 1;
    while next <= head {
        let chunk = target
            .store
            .read(next, 10_000.min((head - next + 1) as usize))
            .await
            .unwrap();
        next = chunk.last().map_or(head + 1, |event| event.seq + 1);
        let began = Instant::now();
        sink.apply(&chunk).unwrap();
        indexing += began.elapsed();
        for event in &chunk {
            directory.learn(event);
            docs.push(AuditDoc::of(event, &directory));
        }
    }
    let began = Instant::now();
    // The bench's index is not resumed: any verifier state will do.
    sink.save(target.store.as_ref(), head, &ChainVerifier::new().state())
        .await
        .unwrap();
    indexing += began.elapsed();
    let tantivy_rate = head as f64 / indexing.as_secs_f64();

    let mut pg = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE audit_fts (seq bigint PRIMARY KEY, org text, kind text, actor text, words text, tsv tsvector)",
    )
    .execute(&mut pg)
    .await
    .unwrap();
    let began = Instant::now();
    for chunk in docs.chunks(10_000) {
        let seqs: Vec<i64> = chunk.iter().map(|doc| doc.seq as i64).collect();
        let orgs: Vec<Option<String>> = chunk.iter().map(|doc| doc.org.clone()).collect();
        let kinds: Vec<String> = chunk.iter().map(|doc| doc.kind.clone()).collect();
        let actors: Vec<Option<String>> = chunk.iter().map(|doc| doc.actor_id.clone()).collect();
        let words: Vec<String> = chunk.iter().map(|doc| doc.text.join(" ")).collect();
        sqlx::query(
            "INSERT INTO audit_fts (seq, org, kind, actor, words, tsv)
             SELECT s, o, k, a, w, to_tsvector('simple', w)
             FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[]) AS t(s, o, k, a, w)",
        )
        .bind(&seqs)
        .bind(&orgs)
        .bind(&kinds)
        .bind(&actors)
        .bind(&words)
        .execute(&mut pg)
        .await
        .unwrap();
    }
    sqlx::raw_sql(
        "CREATE INDEX audit_fts_words ON audit_fts USING gin (tsv);
         CREATE INDEX audit_fts_org_kind ON audit_fts (org, kind text_pattern_ops, seq);
         ANALYZE audit_fts;",
    )
    .execute(&mut pg)
    .await
    .unwrap();
    let pg_rate = head as f64 / began.elapsed().as_secs_f64();
    println!("| indexing | tantivy (audit index) | PostgreSQL tsvector + GIN |");
    println!("| --- | --- | --- |");
    println!("| events/s | {tantivy_rate:.0} | {pg_rate:.0} |\n");

    // Queries, side by side.
    let mut rng = StdRng::seed_from_u64(9);
    println!("| query (first page of 50) | tantivy p50 / p95 (ms) | PostgreSQL p50 / p95 (ms) | same page |");
    println!("| --- | --- | --- | --- |");
    for shape in ["filter only", "text", "text + filter"] {
        let mut ours = Vec::with_capacity(QUERIES);
        let mut theirs = Vec::with_capacity(QUERIES);
        let mut same = 0;
        for _ in 0..QUERIES {
            let word = WORDS[rng.random_range(0..WORDS.len())];
            let prefix = ["login", "mfa", "session", "app"][rng.random_range(0..4)];
            let org_filter = people.orgs[rng.random_range(0..people.orgs.len())].clone();
            let query = match shape {
                "filter only" => AuditQuery {
                    org: Some(org_filter.clone()),
                    kinds: vec![KindPattern::Prefix(prefix.into())],
                    ..Default::default()
                },
                "text" => AuditQuery {
                    text: Some(word.into()),
                    ..Default::default()
                },
                _ => AuditQuery {
                    org: Some(org_filter.clone()),
                    kinds: vec![KindPattern::Prefix(prefix.into())],
                    text: Some(word.into()),
                    ..Default::default()
                },
            };
            let began = Instant::now();
            let page = index.search(&query, Order::NewestFirst, None, 50).unwrap();
            ours.push(began.elapsed().as_secs_f64() * 1000.0);
            let like = format!("{prefix}.%");
            let began = Instant::now();
            let rows: Vec<(i64,)> = match shape {
                "filter only" => sqlx::query_as(
                    "SELECT seq FROM audit_fts WHERE org = $1 AND kind LIKE $2 ORDER BY seq DESC LIMIT 50",
                )
                .bind(&org_filter)
                .bind(&like)
                .fetch_all(&mut pg)
                .await
                .unwrap(),
                "text" => sqlx::query_as(
                    "SELECT seq FROM audit_fts WHERE tsv @@ plainto_tsquery('simple', $1) ORDER BY seq DESC LIMIT 50",
                )
                .bind(word)
                .fetch_all(&mut pg)
                .await
                .unwrap(),
                _ => sqlx::query_as(
                    "SELECT seq FROM audit_fts WHERE org = $1 AND kind LIKE $2
                       AND tsv @@ plainto_tsquery('simple', $3) ORDER BY seq DESC LIMIT 50",
                )
                .bind(&org_filter)
                .bind(&like)
                .bind(word)
                .fetch_all(&mut pg)
                .await
                .unwrap(),
            };
            theirs.push(began.elapsed().as_secs_f64() * 1000.0);
            // Both should find the same page (PostgreSQL's parser keeps
            // an email or a path as one word where tantivy splits it).
            let pg_seqs: Vec<u64> = rows.into_iter().map(|(seq,)| seq as u64).collect();
            same += usize::from(page.seqs == pg_seqs);
        }
        println!(
            "| {shape} | {:.1} / {:.1} | {:.1} / {:.1} | {same}/{QUERIES} |",
            percentile(&mut ours, 0.5),
            percentile(&mut ours, 0.95),
            percentile(&mut theirs, 0.5),
            percentile(&mut theirs, 0.95)
        );
    }
    println!("\n(tantivy also counts every match for `total`; PostgreSQL only finds the page.)\n");
    drop(docs);

    // Exports through the API, with the server's memory sampled.
    println!(
        "| export (whole org, HTTP) | rows | rows/s | server RSS (MiB): before → at 100k rows → at 500k → at the end | peak |"
    );
    println!("| --- | --- | --- | --- | --- |");
    for format in ["csv", "jsonl"] {
        let (before, _) = node.rss_mib();
        let peak = Arc::new(AtomicU64::new(0));
        let sampling = Arc::new(AtomicBool::new(true));
        let sampler = {
            let (peak, sampling, pid) = (peak.clone(), sampling.clone(), node.child.id());
            tokio::spawn(async move {
                while sampling.load(Ordering::Relaxed) {
                    let kib = rss_kib(pid);
                    peak.fetch_max(kib, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        };
        let began = Instant::now();
        let response = get(format!("/api/v1/audit/export?format={format}")).await.unwrap();
        assert_eq!(response.status(), 200);
        let mut response = response;
        let mut lines = 0u64;
        // The server's memory after 100,000 rows and after 500,000: a
        // streaming export stays where it started, however many rows.
        let mut milestones = Vec::new();
        while let Some(chunk) = response.chunk().await.unwrap() {
            let before_chunk = lines;
            lines += chunk.iter().filter(|&&byte| byte == b'\n').count() as u64;
            for milestone in [100_000, 500_000] {
                if before_chunk < milestone && lines >= milestone {
                    milestones.push(format!("{:.0}", rss_kib(node.child.id()) as f64 / 1024.0));
                }
            }
        }
        let seconds = began.elapsed().as_secs_f64();
        sampling.store(false, Ordering::Relaxed);
        sampler.await.unwrap();
        let rows = if format == "csv" { lines - 1 } else { lines };
        println!(
            "| {format} | {rows} | {:.0} | {before:.0} → {} → {:.0} | {:.0} |",
            rows as f64 / seconds,
            milestones.join(" → "),
            rss_kib(node.child.id()) as f64 / 1024.0,
            peak.load(Ordering::Relaxed) as f64 / 1024.0
        );
    }

    // A signed bundle of a filtered selection, and its verification.
    let began = Instant::now();
    let response = get("/api/v1/audit/export?format=bundle&kind=login.failed".into())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.bytes().await.unwrap();
    let exported = began.elapsed().as_secs_f64();
    let began = Instant::now();
    let verified = bundle::verify(&text[..], &[]).unwrap();
    let verifying = began.elapsed().as_secs_f64();
    println!(
        "\nbundle of {} login.failed events ({:.0} MB): exported in {exported:.1} s, verified in {verifying:.1} s ({:.0} events/s, one core)",
        verified.events,
        text.len() as f64 / 1e6,
        verified.events as f64 / verifying
    );
    node.stop();
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}
