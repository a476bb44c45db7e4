//! The vault through a real `warden serve` (decision 0027): who may read a
//! secret (its readers' roles and keys; a member and another org may not),
//! every access recorded with its reason, repeats within the access cache
//! counted, versions and a rollback, the step-up and CSRF on changes, and
//! hostile input; no value in clear in the log, the server's log or the
//! audit index. Shredding: `vault_shred.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::{Value, json};
use warden_tests::audit::{signed_in, two_orgs};
use warden_tests::vault::{VALUE, VALUE_2, read, script, service_key, value_of};
use warden_tests::web::{assert_refused, events};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_read_for_a_reason_and_everything_else_is_refused_and_recorded() {
    let instance = two_orgs(&[("WARDEN_VAULT_ACCESS_CACHE_SECONDS", "60")]).await;
    let server = &instance.server;
    let mut owner = signed_in(server, "owner@acme.test").await;
    let (billing_id, billing) = service_key(&mut owner, "billing", &["secrets:read"]).await;
    let (_, unlisted) = service_key(&mut owner, "reporting", &["secrets:read"]).await;
    let (_, unscoped) = service_key(&mut owner, "audit-puller", &["audit:read"]).await;

    // Created by the owner, readable by owners, admins and the billing key.
    let created = owner
        .post(
            "/api/v1/secrets",
            json!({ "name": "billing.db-password", "value": VALUE, "description": "the billing database",
                    "readers": { "roles": ["owner", "admin"], "keys": [billing_id] } }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["current_version"], 1);
    assert!(
        !created.body.to_string().contains(VALUE),
        "a value is never answered by a change"
    );

    let mut key = script(server, &billing);
    assert_eq!(
        value_of(&read(&mut key, "billing.db-password", "reason=service+start").await),
        VALUE
    );
    let mut admin = signed_in(server, "admin@acme.test").await;
    assert_eq!(
        value_of(&read(&mut admin, "billing.db-password", "reason=INC-4411").await),
        VALUE
    );

    // Refused: a member, an auditor, a key the readers do not name, a key
    // without the scope, another org, and no reason at all.
    let mut member = signed_in(server, "member@acme.test").await;
    assert_refused(
        &read(&mut member, "billing.db-password", "reason=curious").await,
        403,
        "not_a_reader",
    );
    let mut auditor = signed_in(server, "auditor@acme.test").await;
    assert_refused(
        &read(&mut auditor, "billing.db-password", "reason=review").await,
        403,
        "not_a_reader",
    );
    assert_refused(
        &read(&mut script(server, &unlisted), "billing.db-password", "reason=report").await,
        403,
        "not_a_reader",
    );
    assert_refused(
        &read(&mut script(server, &unscoped), "billing.db-password", "reason=report").await,
        403,
        "insufficient_scope",
    );
    let mut globex = signed_in(server, "owner@globex.test").await;
    assert_refused(
        &read(&mut globex, "billing.db-password", "reason=curious").await,
        404,
        "not_found",
    );
    assert_refused(&read(&mut key, "billing.db-password", "").await, 400, "reason_required");
    assert_refused(
        &read(&mut key, "billing.db-password", "reason=x").await,
        400,
        "reason_required",
    );
    assert_eq!(
        read(&mut key, "billing.db-password", "reason=ok+ok&colour=red")
            .await
            .status,
        400
    );
    // A link on another site opening a read with the admin's cookie: not
    // run, nothing recorded.
    let mut linked = admin.clone();
    linked.headers.push(("sec-fetch-site".into(), "cross-site".into()));
    linked.headers.push(("sec-fetch-mode".into(), "navigate".into()));
    assert_refused(
        &read(&mut linked, "billing.db-password", "reason=phished").await,
        403,
        "cross_site",
    );
    // The list: owners, admins and auditors, never a value; not members.
    let listed = auditor.get("/api/v1/secrets").await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(listed.body["secrets"][0]["name"], "billing.db-password");
    assert!(!listed.body.to_string().contains(VALUE));
    assert_refused(&member.get("/api/v1/secrets").await, 403, "forbidden");

    // The same read again within the cache: answered, not an event.
    let before = accesses(&instance);
    for _ in 0..3 {
        assert_eq!(
            value_of(&read(&mut key, "billing.db-password", "reason=service+start").await),
            VALUE
        );
    }
    assert_eq!(
        accesses(&instance),
        before,
        "repeats are counted, not recorded one by one"
    );
    // Another reason is another read.
    assert_eq!(
        value_of(&read(&mut key, "billing.db-password", "reason=deploy+42").await),
        VALUE
    );
    assert_eq!(accesses(&instance), before + 1);

    // A second version, an earlier one by number, and a rollback.
    let put = owner
        .put("/api/v1/secrets/billing.db-password", json!({ "value": VALUE_2 }))
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(put.body["current_version"], 2);
    assert_eq!(
        value_of(&read(&mut key, "billing.db-password", "reason=service+start").await),
        VALUE_2
    );
    assert_eq!(
        value_of(&read(&mut key, "billing.db-password", "reason=compare&version=1").await),
        VALUE
    );
    assert_refused(
        &read(&mut key, "billing.db-password", "reason=compare&version=9").await,
        404,
        "not_found",
    );
    let rolled = owner
        .post("/api/v1/secrets/billing.db-password/rollback", json!({ "version": 1 }))
        .await;
    assert_eq!(rolled.status, 200, "{:?}", rolled.body);
    assert_eq!(rolled.body["current_version"], 1);
    assert_eq!(
        value_of(&read(&mut key, "billing.db-password", "reason=after+rollback").await),
        VALUE
    );

    // Every first read and every refusal is in the log, with its reason
    // and its actor; no value is.
    let log = events(&instance);
    let accessed: Vec<&Value> = log.iter().filter(|event| event["kind"] == "secret.accessed").collect();
    let reasons: Vec<&str> = accessed
        .iter()
        .map(|event| event["data"]["reason"].as_str().unwrap())
        .collect();
    for reason in ["service start", "INC-4411", "deploy 42", "compare", "after rollback"] {
        assert!(reasons.contains(&reason), "{reason}: {reasons:?}");
    }
    assert!(!text_of(&log).contains("phished"), "a cross-site read records nothing");
    let by_key = accessed
        .iter()
        .find(|event| event["data"]["reason"] == "deploy 42")
        .unwrap();
    assert_eq!(by_key["actor"]["kind"], "api_key");
    assert_eq!(by_key["actor"]["id"], billing_id.as_str());
    assert_eq!(by_key["data"]["version"], 1);
    let denied: Vec<&Value> = log
        .iter()
        .filter(|event| event["kind"] == "secret.access_denied")
        .collect();
    let denials: Vec<&str> = denied
        .iter()
        .map(|event| event["data"]["denial"].as_str().unwrap())
        .collect();
    assert_eq!(
        denials,
        ["not_a_reader", "not_a_reader", "not_a_reader", "no_such_version"],
        "member, auditor, unlisted key, version 9"
    );
    assert!(denied.iter().all(|event| event["outcome"] == "denied"));
    assert_eq!(denied[0]["data"]["reason"], "curious");
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains(VALUE) && !text.contains(VALUE_2), "a value in the log");
    assert!(
        !server.log().contains(VALUE) && !server.log().contains(VALUE_2),
        "a value in the server log"
    );

    // The audit index finds the reads by their reason, and no value.
    let mut found = owner.get("/api/v1/audit/events?kind=secret.*&limit=100").await;
    for _ in 0..50 {
        if found.body["total"].as_u64().unwrap_or(0) >= accessed.len() as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        found = owner.get("/api/v1/audit/events?kind=secret.*&limit=100").await;
    }
    assert!(found.body.to_string().contains("INC-4411"), "{:?}", found.body);
    let searched = owner.get(&format!("/api/v1/audit/events?q={VALUE}")).await;
    assert_eq!(searched.body["total"], 0, "{:?}", searched.body);

    // The counted repeats are recorded when their minute ends, or when
    // the node stops.
    let mut instance = instance;
    assert!(instance.server.terminate().success());
    let counted: Vec<Value> = events(&instance)
        .into_iter()
        .filter(|event| event["kind"] == "secret.reads_counted")
        .collect();
    let repeats: u64 = counted
        .iter()
        .flat_map(|event| event["data"]["reads"].as_array().unwrap().clone())
        .filter(|reads| reads["reader"] == format!("api_key:{billing_id}") && reads["reason"] == "service start")
        .map(|reads| reads["count"].as_u64().unwrap())
        .sum();
    assert_eq!(repeats, 3, "{counted:?}");
    assert!(counted.iter().all(|event| event["actor"]["kind"] == "system"));
}

fn text_of(log: &[Value]) -> String {
    serde_json::to_string(log).unwrap()
}

/// `secret.accessed` events in the log so far.
fn accesses(instance: &warden_tests::web::Instance) -> usize {
    events(instance)
        .iter()
        .filter(|event| event["kind"] == "secret.accessed")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_need_a_manager_a_recent_authentication_and_a_csrf_token() {
    let instance = two_orgs(&[("WARDEN_STEP_UP_MAX_AGE_SECONDS", "8")]).await;
    let server = &instance.server;
    let mut owner = signed_in(server, "owner@acme.test").await;
    let signed_in_at = std::time::Instant::now();
    let new = json!({ "name": "stripe.key", "value": VALUE });
    assert_eq!(owner.post("/api/v1/secrets", new.clone()).await.status, 201);
    assert_refused(&owner.post("/api/v1/secrets", new.clone()).await, 409, "taken");

    // Hostile and malformed input: a clear 4xx with the request id.
    for body in [
        json!({ "name": "Stripe Key", "value": VALUE }),
        json!({ "name": "../etc/passwd", "value": VALUE }),
        json!({ "name": "x".repeat(101), "value": VALUE }),
        json!({ "name": "other", "value": "" }),
        json!({ "name": "other", "value": "v".repeat(70 * 1024) }),
        json!({ "name": "other", "value": VALUE, "colour": "red" }),
        json!({ "name": "other", "value": VALUE, "readers": { "keys": ["nope"] } }),
        json!({ "name": "other", "value": VALUE, "readers": { "roles": ["superuser"] } }),
        json!({ "name": "other" }),
    ] {
        let answer = owner.post("/api/v1/secrets", body.clone()).await;
        assert_eq!(answer.status, 422, "{:?}: {:?}", answer.status, answer.body);
        assert!(answer.body["error"]["request_id"].is_string());
    }
    assert!(
        signed_in_at.elapsed() < Duration::from_secs(8),
        "the checks above ran within the step-up window"
    );
    assert_eq!(
        owner.get("/api/v1/secrets").await.body["secrets"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Members and auditors do not change the vault; no CSRF token, no change.
    let mut member = signed_in(server, "member@acme.test").await;
    assert_eq!(
        member
            .post("/api/v1/secrets", json!({ "name": "m", "value": VALUE }))
            .await
            .status,
        403
    );
    let mut auditor = signed_in(server, "auditor@acme.test").await;
    assert_eq!(
        auditor
            .post("/api/v1/secrets", json!({ "name": "a", "value": VALUE }))
            .await
            .status,
        403
    );
    let mut forged = owner.clone();
    forged.csrf = None;
    assert_refused(
        &forged
            .put("/api/v1/secrets/stripe.key", json!({ "value": VALUE_2 }))
            .await,
        403,
        "csrf_refused",
    );

    // Another org's owner finds nothing to change.
    let mut globex = signed_in(server, "owner@globex.test").await;
    assert_refused(
        &globex
            .put("/api/v1/secrets/stripe.key", json!({ "value": VALUE_2 }))
            .await,
        404,
        "not_found",
    );

    // A session older than the step-up window: confirm it's you first.
    tokio::time::sleep(Duration::from_secs(9).saturating_sub(signed_in_at.elapsed())).await;
    let stale = owner
        .put("/api/v1/secrets/stripe.key", json!({ "value": VALUE_2 }))
        .await;
    assert_refused(&stale, 403, "reauthentication_required");
    let shred = owner.delete("/api/v1/secrets/stripe.key?reason=leaked").await;
    assert_refused(&shred, 403, "reauthentication_required");
    assert_eq!(
        owner.get("/api/v1/secrets").await.body["secrets"][0]["current_version"],
        1,
        "nothing changed"
    );
}

/// The guide's start-up module (docs/guides/vault.md, "Read it at start"),
/// run as printed by Node against a real Warden: it reads the secret with
/// a service key, and the read is recorded with the guide's reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_start_up_example_reads_a_secret() {
    let instance = two_orgs(&[]).await;
    let server = &instance.server;
    let mut owner = signed_in(server, "owner@acme.test").await;
    let (key_id, key) = service_key(&mut owner, "billing", &["secrets:read"]).await;
    let created = owner
        .post(
            "/api/v1/secrets",
            json!({ "name": "billing.db-password", "value": VALUE,
                    "readers": { "roles": ["owner"], "keys": [key_id] } }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);

    let guide = include_str!("../../docs/guides/vault.md");
    let module = guide
        .split("```js\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the guide's JavaScript block");
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("secrets.mjs");
    std::fs::write(
        &script,
        format!("{module}\nconsole.log(databasePassword === process.env.EXPECTED ? \"read\" : \"wrong\");\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("key"), &key).unwrap();
    let ran = std::process::Command::new("node")
        .arg(&script)
        .env("WARDEN_KEY_FILE", dir.path().join("key"))
        .env("WARDEN_URL", &server.url)
        .env("EXPECTED", VALUE)
        .output()
        .expect("node (tools/client/check.sh uses it too)");
    assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
    assert_eq!(String::from_utf8_lossy(&ran.stdout).trim(), "read");
    assert!(
        events(&instance).iter().any(|event| event["kind"] == "secret.accessed"
            && event["actor"]["id"] == key_id.as_str()
            && event["data"]["reason"] == "billing service start"),
        "the read is recorded with the guide's reason"
    );
}
