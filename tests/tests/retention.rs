//! Retention on the PostgreSQL log, with a running server and the real
//! `warden` commands: legal holds (an owner's on their org, the operator's
//! on a range) block archiving; `warden archive` moves whole partitions to
//! a bundle the standalone tool verifies, removes them, and the rest of the
//! log stays verifiable from the `ledger.archived` boundary; the server and
//! a new node with a fresh audit index keep working; tampering with the
//! boundary or removing a partition behind Warden's back is caught.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Row;
use warden_core::ledger::postgres::PostgresStore;
use warden_tests::TestDatabase;
use warden_tests::audit::{signed_in, two_orgs_on};
use warden_tests::process::{NodeEnv, Server, bundle_verify_bin};
use warden_tests::web::{WebClient, assert_refused};

const PARTITION_SIZE: u64 = 40;

struct Ran {
    ok: bool,
    out: String,
    err: String,
}

fn run(env: &NodeEnv, args: &[&str]) -> Ran {
    let output = env.run(args);
    Ran {
        ok: output.status.success(),
        out: String::from_utf8_lossy(&output.stdout).to_string(),
        err: String::from_utf8_lossy(&output.stderr).to_string(),
    }
}

fn archive(env: &NodeEnv, through: u64, out: &Path) -> Ran {
    run(
        env,
        &[
            "archive",
            "--through",
            &through.to_string(),
            "--out",
            out.to_str().unwrap(),
        ],
    )
}

async fn head(server: &Server) -> u64 {
    server.get_json("/readyz").await["checks"]["projections"]["applied"]
        .as_u64()
        .unwrap()
}

/// Application events until the log holds at least `seq`.
async fn fill(server: &Server, seq: u64) {
    let mut n = 0;
    while head(server).await < seq {
        for _ in 0..10 {
            n += 1;
            let body = json!({"kind": "app.report.filed", "subject": format!("report:{n}")});
            assert_eq!(server.post_app_event(&body).await.status(), 201);
        }
    }
}

/// Every event of the reader's trail, once the index holds the head.
async fn trail(server: &Server, reader: &mut WebClient, filters: &str) -> Vec<Value> {
    let head = head(server).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = reader.get("/api/v1/audit/events?limit=1").await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        if answer.body["indexed_through"].as_u64().unwrap() >= head {
            break;
        }
        assert!(Instant::now() < deadline, "the index did not reach {head}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let answer = reader.get(&format!("/api/v1/audit/events?limit=1000&{filters}")).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body["events"].as_array().unwrap().clone()
}

fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().map(|event| event["seq"].as_u64().unwrap()).collect()
}

fn bundle_tool(path: &Path) -> (i32, String) {
    let output = Command::new(bundle_verify_bin()).arg(path).output().unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stdout).to_string(),
    )
}

async fn partitions(connection: &mut sqlx::PgConnection) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'events'::regclass ORDER BY c.relname",
    )
    .fetch_all(connection)
    .await
    .unwrap()
}

fn partition(from: u64) -> String {
    format!("events_p{from:019}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archiving_moves_old_partitions_to_a_bundle_and_the_rest_stays_verifiable() {
    let database = TestDatabase::create().await;
    PostgresStore::migrate(&database.url).await.unwrap();
    let mut owner_db = database.superuser().await;
    sqlx::query("UPDATE ledger_settings SET value = $1 WHERE name = 'partition_size'")
        .bind(PARTITION_SIZE as i64)
        .execute(&mut owner_db)
        .await
        .unwrap();
    let mut instance = two_orgs_on(&[], Some(&database.url)).await;
    let env = instance.env.clone();
    let dir = env.data_dir.clone();
    fill(&instance.server, 130).await;

    // An owner's hold on their org blocks any range holding an event of
    // the org's trail (its users were created in the first partition).
    let mut acme_owner = signed_in(&instance.server, "owner@acme.test").await;
    let placed = acme_owner
        .post("/api/v1/org/legal-holds", json!({"reason": "matter 7"}))
        .await;
    assert_eq!(placed.status, 201, "{:?}", placed.body);
    let org_hold = placed.body["id"].as_str().unwrap().to_string();
    assert_eq!(placed.body["scope"]["kind"], "org");
    let mut acme_auditor = signed_in(&instance.server, "auditor@acme.test").await;
    let listed = acme_auditor.get("/api/v1/org/legal-holds").await;
    assert_eq!(hold_ids(&listed.body), vec![org_hold.clone()]);
    let mut globex_auditor = signed_in(&instance.server, "auditor@globex.test").await;
    let other_org = globex_auditor.get("/api/v1/org/legal-holds").await;
    assert_eq!(other_org.body["holds"], json!([]), "another org's holds stay hidden");
    let mut acme_admin = signed_in(&instance.server, "admin@acme.test").await;
    assert_refused(
        &acme_admin
            .post("/api/v1/org/legal-holds", json!({"reason": "mine"}))
            .await,
        403,
        "forbidden",
    );
    assert_refused(&acme_admin.get("/api/v1/org/legal-holds").await, 403, "forbidden");
    assert_refused(
        &acme_owner.post("/api/v1/org/legal-holds", json!({"reason": " "})).await,
        400,
        "bad_request",
    );
    let mut globex_owner = signed_in(&instance.server, "owner@globex.test").await;
    assert_refused(
        &globex_owner
            .post(
                &format!("/api/v1/org/legal-holds/{org_hold}/release"),
                json!({"reason": "not mine"}),
            )
            .await,
        404,
        "not_found",
    );

    let bundle = dir.join("archive-1.jsonl");
    let refused = archive(&env, 80, &bundle);
    assert!(!refused.ok, "{}", refused.out);
    assert!(
        refused
            .err
            .contains(&format!("legal hold {org_hold} (matter 7) on org")),
        "{}",
        refused.err
    );
    assert!(!bundle.exists(), "nothing is written for a refused archive");

    let released = acme_owner
        .post(
            &format!("/api/v1/org/legal-holds/{org_hold}/release"),
            json!({"reason": "settled"}),
        )
        .await;
    assert_eq!(released.status, 204, "{:?}", released.body);
    assert_eq!(
        acme_auditor.get("/api/v1/org/legal-holds").await.body["holds"],
        json!([])
    );

    // The operator's range hold blocks overlapping ranges.
    let placed = run(
        &env,
        &[
            "legal-hold",
            "place",
            "--from",
            "70",
            "--to",
            "90",
            "--reason",
            "audit 2026",
        ],
    );
    assert!(placed.ok, "{}", placed.err);
    let range_hold = placed.out.split_whitespace().nth(1).unwrap().to_string();
    assert!(run(&env, &["hold", "list"]).out.contains(&range_hold));
    let refused = archive(&env, 80, &bundle);
    assert!(!refused.ok);
    assert!(
        refused
            .err
            .contains(&format!("legal hold {range_hold} (audit 2026) covers seq 1..=80")),
        "{}",
        refused.err
    );
    let released = run(&env, &["hold", "release", &range_hold, "--reason", "closed"]);
    assert!(released.ok, "{}", released.err);
    assert!(!run(&env, &["hold", "list"]).out.contains(&range_hold));

    // Only whole partitions; a dry run says what would go.
    let misaligned = archive(&env, 75, &bundle);
    assert!(!misaligned.ok);
    assert!(
        misaligned
            .err
            .contains("--through must be the last seq of a partition; partitions end at 40, 80"),
        "{}",
        misaligned.err
    );
    let dry = run(
        &env,
        &[
            "archive",
            "--through",
            "80",
            "--out",
            bundle.to_str().unwrap(),
            "--dry-run",
        ],
    );
    assert!(dry.ok, "{}", dry.err);
    assert!(dry.out.contains("would archive seq 1..=80 (80 events"), "{}", dry.out);
    assert!(!bundle.exists());

    // Archive, while the server runs.
    let archived = archive(&env, 80, &bundle);
    assert!(archived.ok, "{}\n{}", archived.out, archived.err);
    assert!(archived.out.contains("archived seq 1..=80"), "{}", archived.out);
    let remaining = partitions(&mut owner_db).await;
    assert!(
        !remaining.contains(&partition(1)) && !remaining.contains(&partition(41)),
        "{remaining:?}"
    );
    assert!(remaining.contains(&partition(81)), "{remaining:?}");
    let first: i64 = sqlx::query_scalar("SELECT min(seq) FROM events")
        .fetch_one(&mut owner_db)
        .await
        .unwrap();
    assert_eq!(first, 81);

    // The bundle verifies offline and is the one the boundary names.
    let (code, verdict) = bundle_tool(&bundle);
    assert_eq!(code, 0, "{verdict}");
    assert!(verdict.contains("intact: 80 events"), "{verdict}");
    let boundary = sqlx::query("SELECT seq, data FROM events WHERE kind = 'ledger.archived'")
        .fetch_one(&mut owner_db)
        .await
        .unwrap();
    let data: Value = serde_json::from_str(&boundary.get::<String, _>("data")).unwrap();
    assert_eq!((data["from"].as_u64(), data["through"].as_u64()), (Some(1), Some(80)));
    let bytes = std::fs::read(&bundle).unwrap();
    assert_eq!(data["bundle_blake3"], blake3::hash(&bytes).to_hex().as_str());
    // The bundle's checkpoint is of the log's head when it was written
    // (decision 0019); the boundary names the last archived event and the
    // root of the archived prefix, computed here from the bundle's events.
    let text = std::str::from_utf8(&bytes).unwrap();
    let lines: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert!(lines[0]["checkpoint"]["tree_size"].as_u64().unwrap() > 80);
    let events = &lines[1..lines.len() - 1];
    assert_eq!(events.len(), 80);
    assert_eq!(data["last_hash"], events[79]["event"]["hash"]);
    let prefix = warden_core::chain::merkle::Tree::of_hashes(
        events
            .iter()
            .map(|line| warden_core::chain::Digest::from_hex(line["event"]["hash"].as_str().unwrap()).unwrap()),
    );
    assert_eq!(data["root"], prefix.root().to_hex().as_str());

    // The remaining log verifies from the boundary.
    let verified = run(&env, &["verify"]);
    assert!(verified.ok, "{}\n{}", verified.out, verified.err);
    assert!(
        verified.out.contains("events up to seq 80 are archived"),
        "{}",
        verified.out
    );
    assert!(verified.out.contains("intact"), "{}", verified.out);

    // The running server: users created in the archived range sign in;
    // the audit trail holds only what the log still holds.
    let mut auditor = signed_in(&instance.server, "auditor@acme.test").await;
    let events = trail(&instance.server, &mut auditor, "").await;
    assert!(!events.is_empty());
    assert!(seqs(&events).iter().all(|&seq| seq > 80), "{:?}", seqs(&events));
    assert_refused(&auditor.get("/api/v1/audit/events/10").await, 404, "event_not_found");

    // A new node with an empty audit index starts after the boundary, and
    // still knows the org of accounts created before it.
    instance.server.terminate();
    std::fs::remove_dir_all(dir.join("audit-index")).unwrap();
    let server = Server::start(&env, "after-archive").await;
    let mut stranger = WebClient::new(&server);
    assert_eq!(stranger.sign_in("member@acme.test", "wrong password").await.status, 401);
    let mut auditor = signed_in(&server, "auditor@acme.test").await;
    let failed = trail(&server, &mut auditor, "kind=login.failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    let all = trail(&server, &mut auditor, "").await;
    assert!(seqs(&all).iter().all(|&seq| seq > 80));

    // Bundles of later searches still prove their events against the
    // whole log's tree, with the key announced in the archived range.
    let exported = auditor.get("/api/v1/audit/export?format=bundle&kind=login.*").await;
    assert_eq!(exported.status, 200, "{:?}", exported.body);
    let search_bundle = dir.join("search.jsonl");
    std::fs::write(&search_bundle, exported.body.as_str().unwrap()).unwrap();
    let (code, verdict) = bundle_tool(&search_bundle);
    assert_eq!(code, 0, "{verdict}");

    // A second archive continues where the first ended.
    fill(&server, 170).await;
    let second = dir.join("archive-2.jsonl");
    let archived = archive(&env, 120, &second);
    assert!(archived.ok, "{}\n{}", archived.out, archived.err);
    assert_eq!(bundle_tool(&second).0, 0);
    let verified = run(&env, &["verify"]);
    assert!(verified.ok, "{}\n{}", verified.out, verified.err);
    assert!(
        verified.out.contains("events up to seq 120 are archived"),
        "{}",
        verified.out
    );
    let again = archive(&env, 80, &bundle);
    assert!(!again.ok);
    assert!(
        again.err.contains("events up to seq 120 are archived already"),
        "{}",
        again.err
    );

    // A boundary pointing at another event is refused ...
    sqlx::raw_sql(
        "ALTER TABLE ledger_archives DISABLE TRIGGER ledger_archives_append_only; \
         UPDATE ledger_archives SET event_seq = event_seq - 1 WHERE through_seq = 120",
    )
    .execute(&mut owner_db)
    .await
    .unwrap();
    let tampered = run(&env, &["verify"]);
    assert!(!tampered.ok);
    assert!(tampered.out.contains("invalid archive boundary"), "{}", tampered.out);
    sqlx::raw_sql("UPDATE ledger_archives SET event_seq = event_seq + 1 WHERE through_seq = 120")
        .execute(&mut owner_db)
        .await
        .unwrap();
    assert!(run(&env, &["verify"]).ok);

    // ... and so is a partition removed without an archive.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE events DETACH PARTITION {0}; DROP TABLE {0}",
        partition(121)
    )))
    .execute(&mut owner_db)
    .await
    .unwrap();
    let cut = run(&env, &["verify"]);
    assert!(!cut.ok);
    assert!(cut.out.contains("FAILED at seq 121"), "{}", cut.out);
}

fn hold_ids(body: &Value) -> Vec<String> {
    body["holds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hold| hold["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_log_keeps_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let env = NodeEnv::in_dir(dir.path());
    let refused = archive(&env, 40, &dir.path().join("archive.jsonl"));
    assert!(!refused.ok);
    assert!(
        refused.err.contains("archiving needs the PostgreSQL log"),
        "{}",
        refused.err
    );
}
