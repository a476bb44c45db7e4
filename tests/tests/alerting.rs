//! The alert evaluator on a running server, production profile (real
//! PostgreSQL and NATS): rules managed through the API fire on the live
//! stream; a restart in the middle of a window fires the alert once, not
//! zero times or twice; a forged event published on NATS never fires a
//! rule, and rules keep firing afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_core::bus::Bus;
use warden_core::bus::nats::NatsBus;
use warden_core::chain::{Envelope, key_id, sign};
use warden_core::ledger::LedgerStore;
use warden_core::ledger::postgres::PostgresStore;
use warden_tests::audit::{signed_in, two_orgs_on};
use warden_tests::process::Server;
use warden_tests::web::{WebClient, assert_refused};
use warden_tests::{TestDatabase, nats_url, unique};

async fn fail_sign_in(server: &Server, email: &str) {
    let mut stranger = WebClient::new(server);
    assert_eq!(stranger.sign_in(email, "not the password").await.status, 401);
}

/// The org's alerts once at least `count` are there (or what is there
/// after a while, when `count` is 0).
async fn alerts(reader: &mut WebClient, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(if count == 0 { 3 } else { 20 });
    loop {
        let answer = reader.get("/api/v1/alerts").await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        let alerts = answer.body["alerts"].as_array().unwrap().clone();
        if (count > 0 && alerts.len() >= count) || Instant::now() >= deadline {
            return alerts;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn fired_events(store: &PostgresStore) -> Vec<Value> {
    let mut fired = Vec::new();
    let mut next = 1;
    loop {
        let events = store.read(next, 1000).await.unwrap();
        let Some(last) = events.last() else { return fired };
        next = last.seq + 1;
        fired.extend(
            events
                .iter()
                .filter(|event| event.kind == "alert.fired")
                .map(|event| event.data.clone()),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_fire_once_across_restarts_and_never_on_forged_events() {
    let database = TestDatabase::create().await;
    PostgresStore::migrate(&database.url).await.unwrap();
    let prefix = unique("alerts_");
    let nats = nats_url();
    let mut instance = two_orgs_on(
        &[("NATS_URL", nats.as_str()), ("WARDEN_NATS_PREFIX", prefix.as_str())],
        Some(&database.url),
    )
    .await;
    let env = instance.env.clone();
    let store = database.store().await;

    // Rules through the API: members may not; bad rules are named.
    let mut admin = signed_in(&instance.server, "admin@acme.test").await;
    let mut member = signed_in(&instance.server, "member@acme.test").await;
    let guessing = json!({"name": "Password guessing", "severity": "medium",
        "condition": {"type": "event_count", "select": {"kinds": ["login.failed"]},
                      "group_by": ["subject"], "window_seconds": 3600, "threshold": 3},
        "suppress_seconds": 3600});
    assert_refused(
        &member.post("/api/v1/alert-rules", guessing.clone()).await,
        403,
        "forbidden",
    );
    let mut bad = guessing.clone();
    bad["condition"]["threshold"] = json!(0);
    let refused = admin.post("/api/v1/alert-rules", bad).await;
    assert_refused(&refused, 400, "bad_request");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("condition.threshold")
    );
    let created = admin.post("/api/v1/alert-rules", guessing.clone()).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let rule = created.body["id"].as_str().unwrap().to_string();
    let roles = admin
        .post(
            "/api/v1/alert-rules",
            json!({"name": "Role changes", "severity": "high",
                   "condition": {"type": "match", "select": {"kinds": ["user.role_changed"]}}}),
        )
        .await;
    assert_eq!(roles.status, 201, "{:?}", roles.body);
    let templates = admin.get("/api/v1/alert-templates").await;
    assert_eq!(templates.body["templates"].as_array().unwrap().len(), 14);

    // Two of three failures, then the server dies in the middle of the
    // window; the third after the restart fires the alert once.
    fail_sign_in(&instance.server, "member@acme.test").await;
    fail_sign_in(&instance.server, "member@acme.test").await;
    assert!(alerts(&mut admin, 0).await.is_empty(), "two of three");
    instance.server.kill9();
    let server = Server::start(&env, "after-crash").await;
    fail_sign_in(&server, "member@acme.test").await;
    let mut admin = signed_in(&server, "admin@acme.test").await;
    let fired = alerts(&mut admin, 1).await;
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0]["rule"], rule.as_str());
    let seqs: Vec<u64> = fired[0]["seqs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|seq| seq.as_u64().unwrap())
        .collect();
    let triggering = store.read_seqs(&seqs).await.unwrap();
    assert_eq!(triggering.len(), 3);
    assert!(triggering.iter().all(|event| event.kind == "login.failed"));
    assert!(
        triggering
            .iter()
            .all(|event| fired[0]["group"]["subject"] == event.subject.as_str())
    );

    // Killed right after firing, before any snapshot: the replay computes
    // the same alert, which the ledger refuses as a duplicate.
    let mut server = server;
    server.kill9();
    let server = Server::start(&env, "after-second-crash").await;
    let mut admin = signed_in(&server, "admin@acme.test").await;
    fail_sign_in(&server, "member@acme.test").await; // suppressed
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(alerts(&mut admin, 0).await.len(), 1);
    assert_eq!(fired_events(&store).await.len(), 1, "one alert.fired in the log");

    // The same rule, previewed over the last hour of the trail, finds the
    // same firing (once the index holds its events).
    let last = *seqs.last().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let preview = loop {
        let answer = admin
            .post("/api/v1/alert-rules/preview", json!({"rule": guessing, "hours": 1}))
            .await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        if answer.body["indexed_through"].as_u64().unwrap() >= last || Instant::now() >= deadline {
            break answer.body;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(preview["firings"].as_array().unwrap().len(), 1, "{preview}");
    assert_eq!(preview["firings"][0]["seqs"], fired[0]["seqs"]);
    assert!(preview["examined"].as_u64().unwrap() >= 4);

    // A forged role change on NATS (valid JSON, signed by a stranger's
    // key, chained to the head) fires nothing ...
    // Chained to the head once the relay has published it (the last
    // search's own record may still be on its way): forged again if an
    // event slipped in between.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let org = acme_org(&mut admin).await;
    let bus = NatsBus::connect(&nats, &prefix).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let head = store.head().await.unwrap();
        if bus.last_published().await.unwrap() < head.seq {
            assert!(Instant::now() < deadline, "the relay did not publish seq {}", head.seq);
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let template = store.read(head.seq, 1).await.unwrap().remove(0);
        let mut forged = template.clone();
        forged.seq = head.seq + 1;
        forged.prev = head.hash;
        forged.kind = "user.role_changed".into();
        forged.subject = "user:forged".into();
        forged.actor.org = Some(org.clone());
        forged.data = json!({"org": org, "old": "member", "new": "owner"});
        forged.key_id = key_id(&stranger.verifying_key());
        forged.hash = Envelope::of(&forged).hash().unwrap();
        forged.sig = sign(&stranger, &forged.hash);
        match bus.publish(&[forged]).await {
            Ok(()) => break,
            Err(warden_core::bus::BusError::OutOfStep(_)) if Instant::now() < deadline => continue,
            Err(error) => panic!("{error:?}"),
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(alerts(&mut admin, 0).await.len(), 1, "the forgery fired nothing");

    // ... and a real one still fires.
    let member_id = admin.user_id("member@acme.test").await;
    let changed = admin
        .patch(&format!("/api/v1/users/{member_id}"), json!({"role": "admin"}))
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    let fired = alerts(&mut admin, 2).await;
    assert_eq!(fired.len(), 2, "{fired:?}");
    assert_eq!(fired[0]["name"], "Role changes");

    // Another org sees none of it.
    let mut globex = signed_in(&server, "admin@globex.test").await;
    assert!(alerts(&mut globex, 0).await.is_empty());
    assert_eq!(globex.get("/api/v1/alert-rules").await.body["rules"], json!([]));
    assert_refused(
        &globex.get(&format!("/api/v1/alert-rules/{rule}")).await,
        404,
        "not_found",
    );
}

async fn acme_org(admin: &mut WebClient) -> String {
    admin.get("/api/v1/org").await.body["id"].as_str().unwrap().to_string()
}

/// A stored rule whose spec no longer decodes (a `RuleSpec` change that
/// forgot the rules already in the log) stops the evaluator, named by seq
/// and kind in `/readyz`, instead of silently dropping the rule; the node
/// stays in service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_rule_that_does_not_decode_stops_the_evaluator_loudly() {
    use warden_core::keys::LocalKms;
    use warden_core::ledger::Ledger;
    use warden_core::ledger::sqlite::SqliteStore;
    use warden_core::{Actor, NewEvent};

    let mut instance = warden_tests::web::instance(&[]).await;
    let mut owner = warden_tests::web::set_up(&instance.server).await;
    let org = owner.get("/api/v1/session").await.body["org"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(instance.server.terminate().success());

    // The rule as a future Warden might have written it.
    let data_dir = instance.env.data_dir.clone();
    let store = std::sync::Arc::new(SqliteStore::open(&data_dir.join("ledger.sqlite")).await.unwrap());
    let ledger = Ledger::new(store);
    let kms: std::sync::Arc<dyn warden_core::keys::Kms> =
        std::sync::Arc::new(LocalKms::open(&data_dir.join("master.key"), false).unwrap());
    warden_core::keys::signing::establish(&ledger, &kms.into())
        .await
        .unwrap();
    let rule = uuid::Uuid::now_v7().to_string();
    let mut event = NewEvent::new("alert_rule.created", format!("alert_rule:{rule}"), Actor::system()).data(json!({
        "rule": rule, "org": org, "enabled": true,
        "spec": {"name": "From the future", "severity": "high",
                 "condition": {"type": "anomaly_score", "select": {"kinds": ["login.failed"]}}}
    }));
    event.expected_version = Some(0);
    let sealed = ledger.append_one(event).await.unwrap();
    ledger.flush(Duration::from_secs(5)).await;
    drop(ledger);

    instance.server = Server::start(&instance.env, "restarted").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = loop {
        let response = reqwest::get(format!("{}/readyz", instance.server.url)).await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        if !body["checks"]["alerts"]["failure"].is_null() {
            break (status, body);
        }
        assert!(Instant::now() < deadline, "the evaluator did not stop: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (status, body) = ready;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["alerts"]["ok"], false);
    let failure = body["checks"]["alerts"]["failure"].as_str().unwrap();
    assert!(
        failure.contains(&format!("{}", sealed.seq))
            && failure.contains("alert_rule.created")
            && failure.contains("data.spec"),
        "{failure}"
    );
    assert!(
        instance.server.log().contains("alert_rule.created"),
        "the stop is logged"
    );
}
