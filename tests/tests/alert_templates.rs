//! Every built-in alert template fires on the events Warden records for
//! what it describes, produced through the real API (issue 14, item 16:
//! no template waits for an event nothing writes). The tampering template
//! is shown in `tamper.rs`, since its alarm bypasses the log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_tests::keys::{application, code, create};
use warden_tests::mfa::{early_in_step, enrol};
use warden_tests::web::{WebClient, create_user, instance, set_up};

const NINA: &str = "nina@acme.test";
const NINA_PASSWORD: &str = "violet harbour lantern 5";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_built_in_template_fires_on_what_it_describes() {
    let instance = instance(&[]).await;
    let mut owner = set_up(&instance.server).await;

    // Every template, enabled as served.
    let templates = owner.get("/api/v1/alert-templates").await;
    assert_eq!(templates.status, 200, "{:?}", templates.body);
    let mut rules = Vec::new();
    for template in templates.body["templates"].as_array().unwrap() {
        let name = template["template"].as_str().unwrap().to_string();
        let mut rule = template["rule"].clone();
        if name == "secret_read_outside_working_hours" {
            // Working hours that the test runs outside of, whatever the time.
            let hour = chrono::Timelike::hour(&chrono::Utc::now());
            let (start, end) = if hour < 23 { (hour + 1, 24) } else { (0, 23) };
            rule["condition"]["select"]["outside_hours"] =
                json!({"start_hour": start, "end_hour": end, "weekends": true});
        }
        let created = owner.post("/api/v1/alert-rules", rule).await;
        assert_eq!(created.status, 201, "{name}: {:?}", created.body);
        rules.push((name, created.body["id"].as_str().unwrap().to_string()));
    }

    // A user, signed in for the first time from a device: new device.
    let nina_id = create_user(&mut owner, NINA, "member", NINA_PASSWORD).await;
    let mut nina = WebClient::new(&instance.server);
    assert_eq!(nina.sign_in(NINA, NINA_PASSWORD).await.status, 200);
    // Made an admin: privileged role granted (the owner's session is fresh).
    let promoted = owner
        .patch(&format!("/api/v1/users/{nina_id}"), json!({"role": "admin"}))
        .await;
    assert_eq!(promoted.status, 200, "{:?}", promoted.body);
    // An authenticator set up and removed: second factor removed.
    let at = early_in_step().await;
    let enrolled = enrol(&mut nina, at).await;
    let stepped_up = nina
        .post("/api/v1/mfa/verify", json!({ "code": enrolled.backup_codes[0] }))
        .await;
    assert_eq!(stepped_up.status, 200, "{:?}", stepped_up.body);
    assert_eq!(nina.delete("/api/v1/mfa/totp").await.status, 204);
    // From one address, on the org's accounts (rules see their org's
    // trail; failures on unknown emails belong to no org): 5 wrong
    // passwords on one account, then 2 on each of 9 more: guessing on an
    // account, 23 failures from one address, one address trying 10
    // accounts.
    for _ in 0..5 {
        let mut stranger = WebClient::new(&instance.server);
        assert_eq!(stranger.sign_in(NINA, "not the password").await.status, 401);
    }
    for i in 0..9 {
        let email = format!("colleague{i}@acme.test");
        create_user(&mut owner, &email, "member", NINA_PASSWORD).await;
        for _ in 0..2 {
            let mut stranger = WebClient::new(&instance.server);
            let refused = stranger.sign_in(&email, "not the password").await;
            assert_eq!(refused.status, 401, "{:?}", refused.body);
        }
    }

    // A key of nina's, refused for a scope it lacks, then for its owner,
    // disabled, then revoked: three refusals of one key, one of them a use
    // after its owner was disabled.
    let (key_id, key) = create(
        &mut owner,
        json!({"kind": "app", "name": "nina's", "owner": {"kind": "user", "id": nina_id}}),
    )
    .await;
    let mut app = application(&instance.server);
    assert_eq!(code(&mut app, &key, &["refunds:write"]).await, "insufficient_scope");
    let disabled = owner
        .patch(&format!("/api/v1/users/{nina_id}"), json!({"status": "disabled"}))
        .await;
    assert_eq!(disabled.status, 200, "{:?}", disabled.body);
    assert_eq!(code(&mut app, &key, &[]).await, "disabled_owner");
    let revoked = owner.post(&format!("/api/v1/keys/{key_id}/revoke"), json!({})).await;
    assert_eq!(revoked.status, 200, "{:?}", revoked.body);
    assert_eq!(code(&mut app, &key, &[]).await, "revoked");

    // A service key reading ten vault secrets it never read: a new reader,
    // and a burst; the owner reading one outside working hours; a member
    // refused one.
    let (reader_id, reader) = create(
        &mut owner,
        json!({"kind": "service", "name": "collector", "owner": {"kind": "service", "name": "collector"},
               "scopes": ["secrets:read"]}),
    )
    .await;
    for n in 0..10 {
        let created = owner
            .post(
                "/api/v1/secrets",
                json!({"name": format!("s{n}"), "value": "v", "readers": {"roles": ["owner"], "keys": [reader_id]}}),
            )
            .await;
        assert_eq!(created.status, 201, "{:?}", created.body);
    }
    let mut collector = WebClient::new(&instance.server);
    collector.origin = None;
    collector
        .headers
        .push(("authorization".into(), format!("Bearer {reader}")));
    for n in 0..10 {
        let read = collector.get(&format!("/api/v1/secrets/s{n}?reason=collect")).await;
        assert_eq!(read.status, 200, "{:?}", read.body);
    }
    assert_eq!(owner.get("/api/v1/secrets/s0?reason=checking").await.status, 200);
    let mut member = WebClient::new(&instance.server);
    assert_eq!(member.sign_in("colleague0@acme.test", NINA_PASSWORD).await.status, 200);
    assert_eq!(member.get("/api/v1/secrets/s0?reason=curious").await.status, 403);

    let expected: BTreeSet<&str> = rules
        .iter()
        // A broken chain is `verify_integrity.rs`'s; a key's new network
        // needs its minutes recorded, `api_key_usage.rs`'s.
        .filter(|(name, _)| name != "audit_chain_verification_failed" && name != "api_key_used_from_new_network")
        .map(|(_, id)| id.as_str())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    let fired = loop {
        let answer = owner.get("/api/v1/alerts").await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        let fired: BTreeSet<String> = answer.body["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|alert: &Value| alert["rule"].as_str().unwrap().to_string())
            .collect();
        if expected.iter().all(|rule| fired.contains(*rule)) || Instant::now() >= deadline {
            break fired;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let silent: Vec<&str> = rules
        .iter()
        .filter(|(_, id)| expected.contains(id.as_str()) && !fired.contains(id))
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(silent.is_empty(), "templates that did not fire: {silent:?}");
    assert_eq!(expected.len(), 12, "{rules:?}");
}
