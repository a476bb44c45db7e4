//! Every state-changing API operation appends an event: the test walks
//! each POST, PUT, PATCH and DELETE operation of the OpenAPI document
//! through a real server, successfully, and checks that the log grew; an
//! operation the walk does not cover (a new route) fails it. The page
//! forms are walked in `coverage_pages.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use serde_json::{Value, json};
use warden_tests::coverage::Walk;
use warden_tests::email::reset_token;
use warden_tests::mfa::{early_in_step, oathtool};
use warden_tests::passkeys::{assertion, passkey_sign_in, register};
use warden_tests::peers::SmtpSink;
use warden_tests::web::{OWNER_PASSWORD, WebClient, instance, set_up};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

#[path = "coverage_api/owner_parts.rs"]
mod owner_parts;

/// The first half of a WebAuthn ceremony changes nothing: its state is
/// sealed into the answer and only the second half, which appends, uses it.
/// A key verification reads memory only: its uses are recorded per key and
/// minute and its refusals sampled, both in the background
/// (`tests/api_keys.rs` checks that they add up).
const CHANGE_NOTHING: [&str; 4] = [
    "startPasskeyRegistration",
    "startPasskeyVerification",
    "startPasskeySignIn",
    "verifyApiKey",
];

/// What changes something only in an org older than the walk: disabling
/// the users nobody saw for 30 days or more (`tests/inactive_users.rs`
/// runs it, and checks its events, on a node whose org is 100 days old).
const OLD_ORGS_ONLY: [&str; 1] = ["disableInactiveUsers"];

fn state_changing_operations() -> BTreeSet<String> {
    let document: Value = serde_json::from_str(include_str!("../../api/openapi.json")).unwrap();
    let mut operations = BTreeSet::new();
    for methods in document["paths"].as_object().unwrap().values() {
        for (method, operation) in methods.as_object().unwrap() {
            if ["post", "put", "patch", "delete"].contains(&method.as_str()) {
                operations.insert(operation["operationId"].as_str().unwrap().to_string());
            }
        }
    }
    operations
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_changing_route_appends_an_event() {
    const SAM: &str = "sam@acme.test";
    let smtp = SmtpSink::start().await;
    let smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
    let instance = instance(&[
        ("WARDEN_ALERT_WEBHOOK_PRIVATE_ADDRESSES", "true"),
        ("WARDEN_SMTP_URL", smtp_url.as_str()),
        ("WARDEN_SMTP_TLS", "none"),
        ("WARDEN_SMTP_FROM", "warden@acme.test"),
    ])
    .await;
    let mut walk = Walk::open(&instance).await;
    let server = &instance.server;

    let before = walk.head().await;
    let mut owner = set_up(server).await;
    walk.appended("setup", before, 201, &Value::Null).await;

    let before = walk.head().await;
    let posted = server
        .post_app_event(&json!({"kind": "app.invoice.paid", "subject": "invoice:1"}))
        .await;
    walk.appended("recordAppEvent", before, posted.status().as_u16(), &Value::Null)
        .await;

    // Users, roles, policies (the owner's sign-in is fresh).
    let before = walk.head().await;
    let created = owner
        .post(
            "/api/v1/users",
            json!({"email": SAM, "display_name": "Sam", "role": "member", "password": "sam's long password 7"}),
        )
        .await;
    walk.answered("createUser", before, &created).await;
    let sam_id = created.body["id"].as_str().unwrap().to_string();
    let before = walk.head().await;
    let changed = owner
        .patch(&format!("/api/v1/users/{sam_id}"), json!({"role": "admin"}))
        .await;
    walk.answered("changeUser", before, &changed).await;
    let before = walk.head().await;
    let policy = owner
        .put(
            "/api/v1/org/session-policy",
            json!({"idle_timeout_seconds": 3600, "absolute_timeout_seconds": 86400}),
        )
        .await;
    walk.answered("changeSessionPolicy", before, &policy).await;
    let before = walk.head().await;
    let policy = owner
        .put(
            "/api/v1/org/mfa-policy",
            json!({"enrolment_grace_seconds": 3600, "methods": {"email_code": {"allowed": true}}}),
        )
        .await;
    walk.answered("changeMfaPolicy", before, &policy).await;
    let before = walk.head().await;
    let emails = owner.put("/api/v1/org/security-emails", json!({"keys": false})).await;
    walk.answered("changeSecurityEmails", before, &emails).await;

    // Sign-in by email code: the start's code is recorded just after its
    // answer (so the walk waits for the email); the finish spends it.
    let mut mailbox = WebClient::new(server);
    let before = walk.head().await;
    let started = mailbox.post("/api/v1/sign-in/email/start", json!({"email": SAM})).await;
    let code = smtp.code_sent(SAM, 1).await;
    walk.answered("startEmailSignIn", before, &started).await;
    let before = walk.head().await;
    let finished = mailbox
        .post("/api/v1/sign-in/email/finish", json!({"email": SAM, "code": code}))
        .await;
    walk.answered("finishEmailSignIn", before, &finished).await;

    // Password reset: an admin's link, and one asked for by email, which
    // sets the same password again (the walk goes on with it).
    let before = walk.head().await;
    let sent = owner
        .post(
            &format!("/api/v1/users/{sam_id}/password-reset"),
            json!({"reason": "the coverage walk"}),
        )
        .await;
    walk.answered("sendPasswordReset", before, &sent).await;
    let before = walk.head().await;
    let asked = mailbox
        .post("/api/v1/password-reset/start", json!({"email": SAM}))
        .await;
    let token = reset_token(&smtp, SAM, 2).await;
    walk.answered("startPasswordReset", before, &asked).await;
    let before = walk.head().await;
    let reset = mailbox
        .post(
            "/api/v1/password-reset/finish",
            json!({"token": token, "password": "sam's long password 7"}),
        )
        .await;
    walk.answered("finishPasswordReset", before, &reset).await;
    let before = walk.head().await;
    let held = owner
        .post("/api/v1/org/legal-holds", json!({"reason": "matter 1"}))
        .await;
    walk.answered("placeLegalHold", before, &held).await;
    let hold = held.body["id"].as_str().unwrap().to_string();
    let before = walk.head().await;
    let released = owner
        .post(
            &format!("/api/v1/org/legal-holds/{hold}/release"),
            json!({"reason": "settled"}),
        )
        .await;
    walk.answered("releaseLegalHold", before, &released).await;

    owner_parts::alert_rules(&mut walk, &mut owner).await;

    // Alert delivery: an endpoint, an alert sent to it (nobody listens),
    // acknowledged, resolved, re-sent; then the endpoint removed.
    let before = walk.head().await;
    let endpoint = owner
        .post("/api/v1/webhook-endpoints", json!({"url": "http://127.0.0.1:9/hook"}))
        .await;
    walk.answered("createWebhookEndpoint", before, &endpoint).await;
    let endpoint = endpoint.body["id"].as_str().unwrap().to_string();
    let failures = owner
        .post(
            "/api/v1/alert-rules",
            json!({"name": "Failed sign-in", "severity": "low",
                   "condition": {"type": "match", "select": {"kinds": ["login.failed"]}},
                   "recipients": [{"webhook": endpoint}]}),
        )
        .await;
    assert_eq!(failures.status, 201, "{:?}", failures.body);
    let mut stranger = WebClient::new(server);
    assert_eq!(stranger.sign_in(SAM, "not sam's password").await.status, 401);
    let alert = loop {
        let alerts = owner.get("/api/v1/alerts").await;
        if let Some(alert) = alerts.body["alerts"][0]["id"].as_str() {
            break alert.to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    for (operation, action) in [
        ("acknowledgeAlert", "acknowledge"),
        ("resolveAlert", "resolve"),
        ("resendAlert", "resend"),
    ] {
        let before = walk.head().await;
        let done = owner.post(&format!("/api/v1/alerts/{alert}/{action}"), json!({})).await;
        walk.answered(operation, before, &done).await;
    }
    let rule_path = format!("/api/v1/alert-rules/{}", failures.body["id"].as_str().unwrap());
    assert_eq!(owner.delete(&rule_path).await.status, 204);
    let before = walk.head().await;
    let removed = owner.delete(&format!("/api/v1/webhook-endpoints/{endpoint}")).await;
    walk.answered("removeWebhookEndpoint", before, &removed).await;

    owner_parts::sso_connection(&mut walk, &mut owner).await;
    owner_parts::api_keys(&mut walk, &mut owner).await;
    owner_parts::vault(&mut walk, &mut owner).await;

    // Sign-in, password, sessions.
    let mut sam = WebClient::new(server);
    let before = walk.head().await;
    let signed_in = sam.sign_in(SAM, "sam's long password 7").await;
    walk.answered("signIn", before, &signed_in).await;
    let before = walk.head().await;
    let password = sam
        .put(
            "/api/v1/password",
            json!({"current_password": "sam's long password 7", "new_password": "sam's newer password 8"}),
        )
        .await;
    walk.answered("changePassword", before, &password).await;
    let mut other = WebClient::new(server);
    other.sign_in(SAM, "sam's newer password 8").await;
    let before = walk.head().await;
    let others = sam.post("/api/v1/sessions/sign-out-others", json!({})).await;
    walk.answered("signOutOthers", before, &others).await;
    let mut third = WebClient::new(server);
    third.sign_in(SAM, "sam's newer password 8").await;
    let third_id = third.get("/api/v1/session").await.body["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = walk.head().await;
    let revoked = sam.delete(&format!("/api/v1/sessions/{third_id}")).await;
    walk.answered("revokeSession", before, &revoked).await;
    let before = walk.head().await;
    let revoked = owner.delete(&format!("/api/v1/users/{sam_id}/sessions")).await;
    walk.answered("revokeUserSessions", before, &revoked).await;

    // An invitation, then a second factor set up, used, renewed, removed.
    let invited = owner
        .post(
            "/api/v1/users",
            json!({"email": "ivy@acme.test", "display_name": "Ivy", "role": "member"}),
        )
        .await;
    let link = invited.body["invitation_url"].as_str().unwrap();
    let token = link.split("token=").nth(1).unwrap();
    let mut ivy = WebClient::new(server);
    let before = walk.head().await;
    let accepted = ivy
        .post(
            "/api/v1/invitations/accept",
            json!({"token": token, "password": "ivy's long password 7"}),
        )
        .await;
    walk.answered("acceptInvitation", before, &accepted).await;
    let before = walk.head().await;
    let confirmed = ivy
        .post(
            "/api/v1/session/reauthenticate",
            json!({"password": "ivy's long password 7"}),
        )
        .await;
    walk.answered("reauthenticate", before, &confirmed).await;
    let at = early_in_step().await;
    let before = walk.head().await;
    let started = ivy.post("/api/v1/mfa/totp", json!({})).await;
    walk.answered("startTotp", before, &started).await;
    let secret = started.body["secret"].as_str().unwrap().to_string();
    let before = walk.head().await;
    let enrolled = ivy
        .post("/api/v1/mfa/totp/confirm", json!({"code": oathtool(&secret, at - 30)}))
        .await;
    walk.answered("confirmTotp", before, &enrolled).await;
    let set = enrolled.body["backup_codes"]["set"].as_str().unwrap().to_string();
    let before = walk.head().await;
    let acknowledged = ivy
        .post("/api/v1/mfa/backup-codes/acknowledge", json!({"set": set}))
        .await;
    walk.answered("acknowledgeBackupCodes", before, &acknowledged).await;
    let mut ivy_phone = WebClient::new(server);
    ivy_phone.sign_in("ivy@acme.test", "ivy's long password 7").await;
    let before = walk.head().await;
    let verified = ivy_phone
        .post("/api/v1/mfa/verify", json!({"code": oathtool(&secret, at)}))
        .await;
    walk.answered("verifySecondFactor", before, &verified).await;
    let before = walk.head().await;
    let renewed = ivy_phone.post("/api/v1/mfa/backup-codes", json!({})).await;
    walk.answered("regenerateBackupCodes", before, &renewed).await;
    let before = walk.head().await;
    let removed = ivy_phone.delete("/api/v1/mfa/totp").await;
    walk.answered("removeTotp", before, &removed).await;
    // An owner removes what is left of Ivy's factors (her backup codes),
    // having confirmed who they are.
    let ivy_id = invited.body["id"].as_str().unwrap();
    let confirmed = owner
        .post("/api/v1/session/reauthenticate", json!({"password": OWNER_PASSWORD}))
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    let before = walk.head().await;
    let reset = owner
        .post(
            &format!("/api/v1/users/{ivy_id}/second-factors/reset"),
            json!({"reason": "the coverage walk"}),
        )
        .await;
    walk.answered("resetUserSecondFactors", before, &reset).await;
    // Ivy (signed out by the reset) moves to a new address.
    let mut ivy = WebClient::new(server);
    assert_eq!(ivy.sign_in("ivy@acme.test", "ivy's long password 7").await.status, 200);
    let before = walk.head().await;
    let asked = ivy
        .post("/api/v1/email-change", json!({"email": "ivy.new@example.org"}))
        .await;
    walk.answered("requestEmailChange", before, &asked).await;
    let link = smtp.link_sent("ivy.new@example.org", 1, "/verify-email?token=").await;
    let before = walk.head().await;
    let verified = ivy
        .post(
            "/api/v1/email-change/verify",
            json!({"token": link.split("token=").nth(1).unwrap()}),
        )
        .await;
    walk.answered("verifyEmailChange", before, &verified).await;

    // Passkeys: registered, renamed, signed in with, verified, removed.
    let mut laptop = WebClient::new(server);
    laptop.sign_in(SAM, "sam's newer password 8").await;
    let mut key = SoftPasskey::new(true);
    let before = walk.head().await;
    let registered = register(&mut laptop, &mut key, "Laptop").await;
    walk.appended("finishPasskeyRegistration", before, 201, &registered)
        .await;
    let credential = registered["credential"].as_str().unwrap().to_string();
    let before = walk.head().await;
    let renamed = laptop
        .patch(&format!("/api/v1/mfa/passkeys/{credential}"), json!({"name": "Work"}))
        .await;
    walk.answered("renamePasskey", before, &renamed).await;
    let mut tablet = WebClient::new(server);
    // (The ceremony's start appends nothing; its finish does.)
    let before = walk.head().await;
    let signed_in = passkey_sign_in(&mut tablet, &mut key, SAM).await;
    walk.answered("finishPasskeySignIn", before, &signed_in).await;
    let mut phone = WebClient::new(server);
    phone.sign_in(SAM, "sam's newer password 8").await;
    let (ceremony, answer) = assertion(&mut phone, &mut key, "/api/v1/mfa/passkeys/verify/start", json!({})).await;
    let before = walk.head().await;
    let second = phone
        .post(
            "/api/v1/mfa/passkeys/verify/finish",
            json!({"ceremony": ceremony, "credential": answer}),
        )
        .await;
    walk.answered("finishPasskeyVerification", before, &second).await;
    let before = walk.head().await;
    let removed = phone.delete(&format!("/api/v1/mfa/passkeys/{credential}")).await;
    walk.answered("removePasskey", before, &removed).await;
    let before = walk.head().await;
    let signed_out = phone.post("/api/v1/sign-out", json!({})).await;
    walk.answered("signOut", before, &signed_out).await;

    // Every state-changing operation was walked, or changes nothing.
    walk.assert_covers(
        &state_changing_operations(),
        &[&CHANGE_NOTHING[..], &OLD_ORGS_ONLY[..]].concat(),
        "state-changing operations",
    );
}
