//! Checkpoints published outside the log (issue 15.9), production profile
//! (PostgreSQL), through the real binaries: an auditor receives signed
//! checkpoints by webhook (and email), keeps them, and `warden verify
//! --checkpoint` then catches a log a superuser cut short, a database
//! restored from an older backup, and a log forked after that restore; a
//! consistency proof from the API verifies between two checkpoints of the
//! real log and fails for the forked one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::json;
use warden_core::chain::published::PublishedCheckpoint;
use warden_core::ledger::postgres::PostgresStore;
use warden_tests::TestDatabase;
use warden_tests::audit::{signed_in, two_orgs_on};
use warden_tests::checkpoints::{head, kept_proof, pg, received_checkpoint, restored, verify};
use warden_tests::peers::{SmtpSink, WebhookReceiver};
use warden_tests::process::{Server, bundle_verify};
use warden_tests::web::{WebClient, assert_refused};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_cut_short_restored_or_forked_is_caught_by_the_checkpoints_an_auditor_received() {
    let database = TestDatabase::create().await;
    PostgresStore::migrate(&database.url).await.unwrap();
    let kept = tempfile::tempdir().unwrap();
    let checkpoint_dir = kept.path().join("published");
    let smtp = SmtpSink::start().await;
    let smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
    let instance = two_orgs_on(
        &[
            ("WARDEN_ALERT_WEBHOOK_PRIVATE_ADDRESSES", "true"),
            ("WARDEN_ALERT_DELIVERY_FIRST_RETRY_MS", "100"),
            ("WARDEN_AUDIT_CHECKPOINT_EVERY_EVENTS", "1000000"),
            ("WARDEN_AUDIT_CHECKPOINT_EVERY_SECONDS", "1"),
            ("WARDEN_AUDIT_CHECKPOINT_DIR", checkpoint_dir.to_str().unwrap()),
            ("WARDEN_SMTP_URL", smtp_url.as_str()),
            ("WARDEN_SMTP_TLS", "none"),
            ("WARDEN_SMTP_FROM", "Warden <warden@acme.test>"),
        ],
        Some(&database.url),
    )
    .await;
    let env = instance.env.clone();
    let store = database.store().await;

    // The auditor's side: an endpoint and a rule that names the kind.
    let receiver = WebhookReceiver::start().await;
    let mut admin = signed_in(&instance.server, "admin@acme.test").await;
    let created = admin
        .post("/api/v1/webhook-endpoints", json!({"url": receiver.url()}))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    receiver.set_secret(created.body["secret"].as_str().unwrap());
    let rule = json!({"name": "Audit checkpoints", "severity": "info",
        "condition": {"type": "match", "select": {"kinds": ["ledger.checkpointed"]}},
        "recipients": [{"webhook": created.body["id"]}, {"email": "auditor@acme.test"}]});
    assert_eq!(admin.post("/api/v1/alert-rules", rule).await.status, 201);
    instance.server.post_invoices(5, "a").await;
    let (_, first) = received_checkpoint(&receiver, head(&store).await, kept.path(), 0).await;

    // The email carries the same signed document.
    let deadline = Instant::now() + Duration::from_secs(30);
    let document = serde_json::to_string(&first).unwrap();
    while !smtp
        .messages()
        .iter()
        .any(|message| message.to_string().contains(&first.sig.to_hex()))
    {
        assert!(Instant::now() < deadline, "no email carried the checkpoint {document}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // An older backup, then more events and the checkpoints after them.
    let dump = kept.path().join("backup.dump");
    pg(
        "pg_dump",
        &["--format=custom", "--file", dump.to_str().unwrap(), &database.url],
    );
    let at_backup = head(&store).await;
    instance.server.post_invoices(20, "b").await;
    let (kept_a, a) = received_checkpoint(&receiver, head(&store).await, kept.path(), 0).await;
    assert!(a.tree_size > at_backup);
    instance.server.post_invoices(5, "c").await;
    let (kept_b, b) = received_checkpoint(&receiver, head(&store).await, kept.path(), 0).await;

    // The endpoints: owners and auditors; the same documents.
    let mut auditor = signed_in(&instance.server, "auditor@acme.test").await;
    let latest = auditor.get("/api/v1/audit/checkpoints/latest").await;
    assert_eq!(latest.status, 200, "{:?}", latest.body);
    let latest = PublishedCheckpoint::parse(&latest.body.to_string()).unwrap();
    assert!(latest.tree_size >= b.tree_size);
    let history = auditor.get("/api/v1/audit/checkpoints?limit=2").await;
    let page = history.body["checkpoints"].as_array().unwrap();
    assert_eq!(page[0]["checkpoint"], serde_json::to_value(&latest).unwrap());
    assert_eq!(page.len(), 2);
    let next = history.body["next"].as_u64().unwrap();
    let older = auditor
        .get(&format!("/api/v1/audit/checkpoints?before={next}&limit=1000"))
        .await;
    let sizes: Vec<u64> = page
        .iter()
        .chain(older.body["checkpoints"].as_array().unwrap())
        .map(|item| item["checkpoint"]["tree_size"].as_u64().unwrap())
        .collect();
    for kept in [&first, &a, &b] {
        assert!(sizes.contains(&kept.tree_size), "{} not in {sizes:?}", kept.tree_size);
    }
    assert!(
        sizes.windows(2).all(|pair| pair[0] > pair[1]),
        "newest first: {sizes:?}"
    );
    let proof_ab = kept_proof(&mut auditor, (a.tree_size, b.tree_size), kept.path(), "proof-a-b.json").await;
    for (path, status, code) in [
        ("/api/v1/audit/checkpoints/consistency?from=0&to=3", 400, "bad_request"),
        ("/api/v1/audit/checkpoints/consistency?from=5&to=3", 400, "bad_request"),
        (
            "/api/v1/audit/checkpoints/consistency?from=1&to=999999999",
            400,
            "bad_request",
        ),
        ("/api/v1/audit/checkpoints/consistency?from=x&to=3", 400, "bad_request"),
        ("/api/v1/audit/checkpoints/consistency?from=1", 400, "bad_request"),
        (
            "/api/v1/audit/checkpoints/consistency?from=1&to=2&root=x",
            400,
            "bad_request",
        ),
        ("/api/v1/audit/checkpoints?limit=0", 400, "bad_request"),
        ("/api/v1/audit/checkpoints?before=-1", 400, "bad_request"),
    ] {
        assert_refused(&auditor.get(path).await, status, code);
    }
    let mut member = signed_in(&instance.server, "member@acme.test").await;
    for path in [
        "/api/v1/audit/checkpoints",
        "/api/v1/audit/checkpoints/latest",
        "/api/v1/audit/checkpoints/consistency?from=1&to=2",
    ] {
        assert_refused(&member.get(path).await, 403, "forbidden");
        assert_refused(&admin.get(path).await, 403, "forbidden");
        assert_refused(
            &WebClient::new(&instance.server).get(path).await,
            401,
            "session_required",
        );
    }
    // Another org's auditor reads the same instance-wide checkpoints.
    let mut other = signed_in(&instance.server, "auditor@globex.test").await;
    assert_eq!(other.get("/api/v1/audit/checkpoints/latest").await.status, 200);

    // The directory holds each checkpoint by its size, and the latest.
    let in_dir = |size: u64| std::fs::read_to_string(checkpoint_dir.join(format!("{size:016}.json"))).unwrap();
    assert_eq!(PublishedCheckpoint::parse(&in_dir(a.tree_size)).unwrap(), a);
    let latest_file = checkpoint_dir.join("latest.json");

    // The last checkpoint, after all that: what the log holds is covered
    // up to its own event and the alert that delivered it.
    let (kept_c, c) = received_checkpoint(&receiver, head(&store).await, kept.path(), 0).await;
    let delivered = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&latest_file).is_ok_and(|text| text.contains(&c.sig.to_hex())) {
        assert!(Instant::now() < delivered, "latest.json is not checkpoint C");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The proof from C to the log's size now, for a bundle of all of it.
    let now = head(&store).await;
    let proof_c_now = kept_proof(&mut auditor, (c.tree_size, now), kept.path(), "proof-c-now.json").await;
    let key = hex::encode(c.key().unwrap().as_bytes());

    // Nothing appends once the server is stopped; the log holds every
    // kept checkpoint, and the proof between two of them verifies.
    let mut server = instance.server;
    server.terminate();
    let h = head(&store).await;
    let (a_path, b_path) = (kept_a.to_str().unwrap(), kept_b.to_str().unwrap());
    let latest_path = latest_file.to_str().unwrap();
    let ran = verify(
        &env,
        &[
            "--checkpoint",
            a_path,
            "--checkpoint",
            b_path,
            "--checkpoint",
            latest_path,
            "--consistency",
            proof_ab.to_str().unwrap(),
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.out);
    assert_eq!(
        ran.out.matches("checkpoint: holds the checkpoint of").count(),
        3,
        "{}",
        ran.out
    );
    assert!(ran.out.contains("same head and root"), "{}", ran.out);
    assert!(
        ran.out.contains(&format!(
            "consistent: the log of {} events begins with the log of {} events",
            b.tree_size, a.tree_size
        )),
        "{}",
        ran.out
    );
    // The same offline, with the auditor's tool: checkpoints alone, trusted
    // through the pinned key, and untrusted without it.
    let proof_ab_path = proof_ab.to_str().unwrap();
    let ran = bundle_verify(&[
        "--checkpoint",
        a_path,
        "--checkpoint",
        b_path,
        "--consistency",
        proof_ab_path,
        "--key",
        &key,
    ]);
    assert_eq!(ran.code, 0, "{}", ran.out);
    assert!(ran.out.contains("consistent: the log of"), "{}", ran.out);
    let ran = bundle_verify(&[
        "--checkpoint",
        a_path,
        "--checkpoint",
        b_path,
        "--consistency",
        proof_ab_path,
    ]);
    assert_eq!(ran.code, 2, "{}", ran.out);
    assert!(ran.out.contains("which is not a key you trust"), "{}", ran.out);
    // A bundle of the whole log, compared with C through the proof.
    assert_eq!(head(&store).await, now, "nothing was appended after the proof");
    let bundle = kept.path().join("all.bundle.jsonl");
    let exported = env.run(&["export", "--bundle", "--out", bundle.to_str().unwrap()]);
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    let (bundle_path, c_path) = (bundle.to_str().unwrap(), kept_c.to_str().unwrap());
    let proof_c_now = proof_c_now.to_str().unwrap();
    let ran = bundle_verify(&[
        bundle_path,
        "--checkpoint",
        c_path,
        "--consistency",
        proof_c_now,
        "--key",
        &key,
    ]);
    assert_eq!(ran.code, 0, "{}", ran.out);
    assert!(
        ran.out.contains(&format!(
            "checkpoint: consistent: the log of {now} events begins with the log of {} events",
            c.tree_size
        )),
        "{}",
        ran.out
    );
    let ran = verify(
        &env,
        &[
            "--bundle",
            bundle_path,
            "--checkpoint",
            c_path,
            "--consistency",
            proof_c_now,
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.out);
    assert!(ran.out.contains("(consistency proof)"), "{}", ran.out);
    let ran = verify(&env, &["--bundle", bundle_path, "--checkpoint", c_path]);
    assert_eq!(ran.code, 2, "{}", ran.out);
    assert!(ran.out.contains("pass --consistency"), "{}", ran.out);

    // A database restored from the older backup: rolled back.
    let backup = restored(&dump).await;
    let mut on_backup = env.clone();
    on_backup.database_url = Some(backup.url.clone());
    let ran = verify(&on_backup, &["--checkpoint", a_path]);
    assert_eq!(ran.code, 1, "{}", ran.out);
    assert!(
        ran.out.contains(&format!(
            "FAILED at seq {}: missing: the log ends at seq {at_backup}",
            at_backup + 1
        )),
        "{}",
        ran.out
    );
    assert!(
        ran.out.contains("cut from the end, or the log was rolled back"),
        "{}",
        ran.out
    );

    // Forked: the restored database serves on and grows past checkpoint A
    // with other events; its own checkpoints are signed with the same key.
    let index = tempfile::tempdir().unwrap();
    on_backup
        .extra
        .push(("WARDEN_AUDIT_INDEX_DIR".into(), index.path().to_str().unwrap().into()));
    let before_fork = receiver.received().len();
    let forked = Server::start(&on_backup, "forked").await;
    let forked_store = backup.store().await;
    forked.post_invoices(30, "fork").await;
    let fork_size = head(&forked_store).await;
    assert!(fork_size > a.tree_size);
    let (kept_f, f) = received_checkpoint(&receiver, fork_size, kept.path(), before_fork).await;
    let mut fork_auditor = signed_in(&forked, "auditor@acme.test").await;
    let proof_af = kept_proof(
        &mut fork_auditor,
        (a.tree_size, f.tree_size),
        kept.path(),
        "proof-a-f.json",
    )
    .await;
    let mut forked = forked;
    forked.terminate();
    let ran = verify(
        &on_backup,
        &[
            "--checkpoint",
            a_path,
            "--checkpoint",
            kept_f.to_str().unwrap(),
            "--consistency",
            proof_af.to_str().unwrap(),
        ],
    );
    assert_eq!(ran.code, 1, "{}", ran.out);
    assert!(
        ran.out
            .contains(&format!("FAILED at seq {}: the event there has hash", a.tree_size)),
        "{}",
        ran.out
    );
    assert!(
        ran.out.contains(&format!(
            "FAILED: the log of {} events does not begin with the log of {} events: it was rewritten or forked",
            f.tree_size, a.tree_size
        )),
        "{}",
        ran.out
    );
    let ran = bundle_verify(&[
        "--checkpoint",
        a_path,
        "--checkpoint",
        kept_f.to_str().unwrap(),
        "--consistency",
        proof_af.to_str().unwrap(),
        "--key",
        &key,
    ]);
    assert_eq!(ran.code, 1, "{}", ran.out);
    assert!(ran.out.contains("does not begin with the log of"), "{}", ran.out);

    // A superuser deletes the last 10 events of the real log.
    assert!(
        h - 10 < c.tree_size,
        "the cut reaches into checkpoint C: head {h}, C {}",
        c.tree_size
    );
    let mut superuser = database.superuser().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "BEGIN; SET LOCAL session_replication_role = replica; DELETE FROM events WHERE seq > {}; COMMIT;",
        h - 10
    )))
    .execute(&mut superuser)
    .await
    .unwrap();
    let ran = verify(&env, &["--checkpoint", kept_c.to_str().unwrap()]);
    assert_eq!(ran.code, 1, "{}", ran.out);
    assert!(
        ran.out.contains(&format!(
            "FAILED at seq {}: missing: the log ends at seq {}, but the checkpoint of {} (tree size {}",
            h - 9,
            h - 10,
            c.at,
            c.tree_size
        )),
        "{}",
        ran.out
    );
    // Without the checkpoint, what is left verifies: only a copy kept
    // outside the log shows the cut.
    assert_eq!(verify(&env, &[]).code, 0);
}
