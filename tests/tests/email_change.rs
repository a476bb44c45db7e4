//! Changing one's sign-in address (decision 0028), over HTTP against a
//! real `warden serve` and a real SMTP server (aiosmtpd): the new address
//! is verified by a link mailed to it before it is used for anything; the
//! unique claim moves only then; the old address is told; a link works
//! once and only the newest; an address another account holds is never
//! taken, and the person asking is not told it exists. The rules are
//! tabled in `core/src/auth/email_change.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::json;
use warden_tests::email::{PASSWORD, forgot, with_smtp};
use warden_tests::peers::SmtpSink;
use warden_tests::web::{Answer, WebClient, assert_refused, create_user, events, set_up};

const NEW: &str = "sam.new@example.org";

async fn verification_token(smtp: &SmtpSink, to: &str, count: usize) -> String {
    let link = smtp.link_sent(to, count, "/verify-email?token=").await;
    link.split("token=").nth(1).unwrap().to_string()
}

async fn verify(client: &mut WebClient, token: &str) -> Answer {
    client
        .post("/api/v1/email-change/verify", json!({ "token": token }))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_address_is_used_only_once_verified_and_the_old_one_is_told() {
    let (instance, smtp) = with_smtp(&[("WARDEN_STEP_UP_MAX_AGE_SECONDS", "20")]).await;
    let mut owner = set_up(&instance.server).await;
    let sam_id = create_user(&mut owner, "sam@acme.test", "member", PASSWORD).await;
    create_user(&mut owner, "pat@acme.test", "member", PASSWORD).await;
    let mut sam = WebClient::new(&instance.server);
    assert_eq!(sam.sign_in("sam@acme.test", PASSWORD).await.status, 200);

    // Asked for: a link to the new address, nothing changed yet.
    let asked = sam
        .post("/api/v1/email-change", json!({ "email": "Sam.New@Example.org" }))
        .await;
    assert_eq!(asked.status, 202, "{:?}", asked.body);
    assert_eq!(asked.body["email"], NEW);
    let token = verification_token(&smtp, NEW, 1).await;
    let mail = smtp.mail_to(NEW, 1).await;
    assert_eq!(mail["subject"], "Confirm your new sign-in address");
    let mut other = WebClient::new(&instance.server);
    assert_refused(&other.sign_in(NEW, PASSWORD).await, 401, "invalid_credentials");
    assert_eq!(other.sign_in("sam@acme.test", PASSWORD).await.status, 200);
    // Recovery goes to the old address until then.
    let mut anyone = WebClient::new(&instance.server);
    assert_eq!(forgot(&mut anyone, NEW).await.status, 202);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages_to(NEW).len(), 1, "no reset link to an unverified address");

    // Refused: the same address, not an address, no CSRF token.
    assert_refused(
        &sam.post("/api/v1/email-change", json!({ "email": "SAM@acme.test" }))
            .await,
        409,
        "conflict",
    );
    for bad in [json!({ "email": "not an address" }), json!({ "email": 7 }), json!({})] {
        let answer = sam.post("/api/v1/email-change", bad.clone()).await;
        assert!(answer.status == 400 || answer.status == 422, "{bad}: {:?}", answer.body);
        assert!(answer.body["error"]["request_id"].is_string());
    }
    let mut no_token = sam.clone();
    no_token.csrf = None;
    assert_refused(
        &no_token.post("/api/v1/email-change", json!({ "email": NEW })).await,
        403,
        "csrf_refused",
    );

    // Verified: the account signs in with the new address only; the old
    // address is told, and released.
    let done = verify(&mut anyone, &token).await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_eq!(done.body["email"], NEW);
    assert_refused(&verify(&mut anyone, &token).await, 403, "link_used");
    let told = smtp
        .mail_to_where("sam@acme.test", 1, |mail| {
            mail["subject"] == "Your sign-in address was changed"
        })
        .await;
    assert!(
        told["text"].as_str().unwrap().contains(&format!("New address: {NEW}")),
        "{told}"
    );
    let mut fresh = WebClient::new(&instance.server);
    assert_refused(
        &fresh.sign_in("sam@acme.test", PASSWORD).await,
        401,
        "invalid_credentials",
    );
    let signed_in = fresh.sign_in(NEW, PASSWORD).await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    assert_eq!(signed_in.body["user"]["id"], sam_id.as_str());
    assert_eq!(sam.get("/api/v1/session").await.body["user"]["email"], NEW);
    assert_eq!(forgot(&mut anyone, NEW).await.status, 202);
    smtp.link_sent(NEW, 1, "/reset-password?token=").await;
    let reused = owner
        .post(
            "/api/v1/users",
            json!({"email": "sam@acme.test", "display_name": "Another Sam", "role": "member", "password": PASSWORD}),
        )
        .await;
    assert_eq!(reused.status, 201, "the old address is free: {:?}", reused.body);

    // Another account's address: asked for alike, never taken.
    let asked = sam
        .post("/api/v1/email-change", json!({ "email": "pat@acme.test" }))
        .await;
    assert_eq!(asked.status, 202, "{:?}", asked.body);
    let pats = verification_token(&smtp, "pat@acme.test", 1).await;
    assert_refused(&verify(&mut anyone, &pats).await, 409, "taken");
    assert_eq!(sam.get("/api/v1/session").await.body["user"]["email"], NEW);

    // Only the newest link works.
    assert_eq!(
        sam.post("/api/v1/email-change", json!({ "email": "one@example.org" }))
            .await
            .status,
        202
    );
    let first = verification_token(&smtp, "one@example.org", 1).await;
    assert_eq!(
        sam.post("/api/v1/email-change", json!({ "email": "two@example.org" }))
            .await
            .status,
        202
    );
    let second = verification_token(&smtp, "two@example.org", 1).await;
    assert_refused(&verify(&mut anyone, &first).await, 403, "invalid_link");
    for bad in ["", "nope", &"a".repeat(43)] {
        assert_refused(&verify(&mut anyone, bad).await, 403, "invalid_link");
    }
    assert_eq!(verify(&mut anyone, &second).await.status, 200);

    // A stale session confirms who it is first.
    tokio::time::sleep(Duration::from_millis(20_500)).await;
    assert_refused(
        &sam.post("/api/v1/email-change", json!({ "email": "three@example.org" }))
            .await,
        403,
        "reauthentication_required",
    );

    // In the log: the requests, the verifications, the refusal; never a
    // token.
    let log = events(&instance);
    let kinds = |kind: &str| log.iter().filter(|event| event["kind"] == kind).count();
    assert_eq!(kinds("email_change.requested"), 4);
    assert_eq!(kinds("email_change.verified"), 2);
    assert_eq!(kinds("user.email_changed"), 2);
    let refused: Vec<&str> = log
        .iter()
        .filter(|event| event["kind"] == "email_change.refused")
        .map(|event| event["data"]["reason"].as_str().unwrap())
        .collect();
    assert!(
        refused.contains(&"taken") && refused.contains(&"replaced"),
        "{refused:?}"
    );
    let changed = log.iter().find(|event| event["kind"] == "user.email_changed").unwrap();
    assert_eq!(changed["data"]["old"], "sam@acme.test");
    assert_eq!(changed["data"]["new"], NEW);
    let text = serde_json::to_string(&log).unwrap();
    for token in [&token, &pats, &first, &second] {
        assert!(!text.contains(token.as_str()));
        assert!(!instance.server.log().contains(token.as_str()));
    }
}
