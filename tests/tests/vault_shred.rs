//! Shredding a vault secret (decision 0027): every version unreadable for
//! good, after a restart too, the name usable again, and `warden verify`
//! still passing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use warden_tests::audit::{signed_in, two_orgs};
use warden_tests::process::Server;
use warden_tests::vault::{VALUE, VALUE_2, read, value_of};
use warden_tests::web::{assert_refused, exported};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shredded_secret_is_unreadable_for_good_and_the_chain_still_verifies() {
    let instance = two_orgs(&[]).await;
    let server = &instance.server;
    let mut owner = signed_in(server, "owner@acme.test").await;
    let created = owner
        .post("/api/v1/secrets", json!({ "name": "legacy.token", "value": VALUE }))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    owner
        .put("/api/v1/secrets/legacy.token", json!({ "value": VALUE_2 }))
        .await;
    assert_eq!(
        value_of(&read(&mut owner, "legacy.token", "reason=before").await),
        VALUE_2
    );

    let shredded = owner.delete("/api/v1/secrets/legacy.token?reason=rotated+away").await;
    assert_eq!(shredded.status, 200, "{:?}", shredded.body);
    assert_eq!(shredded.body["shredded"], true);
    assert_refused(
        &read(&mut owner, "legacy.token", "reason=after").await,
        410,
        "secret_shredded",
    );
    assert_refused(
        &read(&mut owner, "legacy.token", "reason=after&version=1").await,
        410,
        "secret_shredded",
    );
    assert_refused(
        &owner.put("/api/v1/secrets/legacy.token", json!({ "value": "x" })).await,
        410,
        "secret_shredded",
    );
    // Shredding again finishes nothing new, and is not an error.
    assert_eq!(
        owner.delete("/api/v1/secrets/legacy.token?reason=again").await.status,
        200
    );

    // The data key is gone from the store: no restart brings it back.
    let mut server = instance.server;
    let status = server.terminate();
    assert!(status.success());
    let restarted = Server::start(&instance.env, "restarted").await;
    let mut owner = signed_in(&restarted, "owner@acme.test").await;
    assert_refused(
        &read(&mut owner, "legacy.token", "reason=after+restart").await,
        410,
        "secret_shredded",
    );

    // The name can be used again; the old versions stay unreadable.
    let again = owner
        .post(
            "/api/v1/secrets",
            json!({ "name": "legacy.token", "value": "a new value" }),
        )
        .await;
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_eq!(again.body["current_version"], 3);
    assert_eq!(
        value_of(&read(&mut owner, "legacy.token", "reason=new").await),
        "a new value"
    );
    assert_refused(
        &read(&mut owner, "legacy.token", "reason=old&version=2").await,
        410,
        "secret_shredded",
    );

    let verified = instance.env.run(&["verify"]);
    assert!(
        verified.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );
    let log = exported(&instance.env);
    let shred_events: Vec<&Value> = log.iter().filter(|event| event["kind"] == "secret.shredded").collect();
    assert_eq!(shred_events.len(), 1);
    assert_eq!(shred_events[0]["data"]["versions"], 2);
    assert_eq!(shred_events[0]["data"]["reason"], "rotated away");
    let _ = restarted;
}
