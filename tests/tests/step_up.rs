//! Step-up over HTTP against a real `warden serve` (embedded profile):
//! sensitive actions need a recent strong authentication, the routes that
//! always need one ask before reading anything else, and the pages send a
//! stale session to "Confirm it's you" and back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::json;
use warden_tests::mfa::{early_in_step, enrol, oathtool};
use warden_tests::web::{
    Forms, WebClient, assert_refused, confirm_page, create_user, events, instance, location, set_up,
};

const SAM: &str = "sam@acme.test";
const SAM_PASSWORD: &str = "sam's long password 7";

/// The routes that always need a recent strong authentication name it in
/// their handler's signature (`Recent<G>`): a stale session is refused
/// before anything else is read (the id, the body), and once confirmed,
/// each goes on to its own answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_that_always_need_a_step_up_ask_for_it_before_anything_else() {
    use reqwest::Method;

    let instance = instance(&[("WARDEN_STEP_UP_MAX_AGE_SECONDS", "1")]).await;
    let mut owner = set_up(&instance.server).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let bad_policy = json!({ "enrolment_grace_seconds": "a week" });
    let routes = [
        (Method::DELETE, "/api/v1/mfa/totp", None, 404),
        (Method::POST, "/api/v1/mfa/backup-codes", Some(json!({})), 409),
        (Method::DELETE, "/api/v1/mfa/passkeys/no-such-passkey", None, 404),
        (Method::PUT, "/api/v1/org/mfa-policy", Some(bad_policy), 422),
        (Method::GET, "/api/v1/audit/export?format=jsonl", None, 200),
        (
            Method::POST,
            "/api/v1/org/legal-holds/no-such-hold/release",
            Some(json!({ "reason": "closed" })),
            404,
        ),
    ];
    for (method, path, body, _) in &routes {
        let stale = owner.request(method.clone(), path, body.clone()).await;
        assert_refused(&stale, 403, "reauthentication_required");
    }
    // The pages send a stale session to "Confirm it's you", and back: to
    // the form's page, or to the very link (an export runs again).
    let pages = Forms::new(&instance.server);
    let cookie = owner.cookie.clone().unwrap();
    let csrf = owner.csrf.clone().unwrap();
    let policy = pages
        .post("/admin/mfa-policy", Some(&cookie), &[("csrf_token", &csrf)])
        .await;
    confirm_page(policy, "/admin/mfa-policy").await;
    let export = pages.get("/audit/export?format=csv&kind=login.*", Some(&cookie)).await;
    assert_eq!(
        location(&export),
        "/settings/reauthenticate?next=%2Faudit%2Fexport%3Fformat%3Dcsv%26kind%3Dlogin.%2A&notice=reauthenticate"
    );
    let confirmed = owner
        .post(
            "/api/v1/session/reauthenticate",
            json!({ "password": warden_tests::web::OWNER_PASSWORD }),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    for (method, path, body, status) in routes {
        let fresh = owner.request(method.clone(), path, body).await;
        assert_eq!(fresh.status, status, "{method} {path}: {:?}", fresh.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensitive_actions_need_a_recent_strong_authentication() {
    let instance = instance(&[("WARDEN_STEP_UP_MAX_AGE_SECONDS", "2")]).await;
    let mut owner = set_up(&instance.server).await;
    let sam_id = create_user(&mut owner, SAM, "member", SAM_PASSWORD).await;

    // The owner has no second factor: their password is the strong one.
    let promoted = owner
        .patch(&format!("/api/v1/users/{sam_id}"), json!({ "role": "auditor" }))
        .await;
    assert_eq!(promoted.status, 200, "{:?}", promoted.body);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let stale = owner
        .patch(&format!("/api/v1/users/{sam_id}"), json!({ "role": "admin" }))
        .await;
    assert_refused(&stale, 403, "reauthentication_required");
    // Every way to grant a role above member asks the same: creating a
    // user with it, or inviting one.
    for (email, role, password) in [
        ("ada@acme.test", "admin", Some("ada's long password 7")),
        ("ada@acme.test", "owner", None),
        ("ada@acme.test", "auditor", None),
    ] {
        let mut body = json!({ "email": email, "display_name": "Ada", "role": role });
        if let Some(password) = password {
            body["password"] = json!(password);
        }
        let created = owner.post("/api/v1/users", body).await;
        assert_refused(&created, 403, "reauthentication_required");
    }
    assert!(
        !events(&instance)
            .iter()
            .any(|event| event["kind"] == "user.created" && event["data"]["email"] == "ada@acme.test"),
        "no account was created by a stale session"
    );
    // A member needs no step-up.
    create_user(&mut owner, "mo@acme.test", "member", "mo's long password 77").await;
    let wrong_password = owner
        .post("/api/v1/session/reauthenticate", json!({ "password": "not it at all" }))
        .await;
    assert_refused(&wrong_password, 403, "wrong_password");
    let again = owner
        .post(
            "/api/v1/session/reauthenticate",
            json!({ "password": warden_tests::web::OWNER_PASSWORD }),
        )
        .await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    let promoted = owner
        .patch(&format!("/api/v1/users/{sam_id}"), json!({ "role": "admin" }))
        .await;
    assert_eq!(promoted.status, 200, "{:?}", promoted.body);
    // A status change is not a privilege grant: no step-up.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let disabled = owner
        .patch(&format!("/api/v1/users/{sam_id}"), json!({ "status": "disabled" }))
        .await;
    assert_eq!(disabled.status, 200, "{:?}", disabled.body);
    owner
        .patch(&format!("/api/v1/users/{sam_id}"), json!({ "status": "active" }))
        .await;

    // Setting up a factor on a stale session is refused too.
    let mut stale = WebClient::new(&instance.server);
    stale.sign_in(SAM, SAM_PASSWORD).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_refused(
        &stale.post("/api/v1/mfa/totp", json!({})).await,
        403,
        "reauthentication_required",
    );

    // Sam has a second factor: a password-only session cannot remove it,
    // and the password does not re-authenticate.
    let at = early_in_step().await;
    let mut sam = WebClient::new(&instance.server);
    sam.sign_in(SAM, SAM_PASSWORD).await;
    let enrolled = enrol(&mut sam, at).await;
    assert_refused(&sam.delete("/api/v1/mfa/totp").await, 403, "reauthentication_required");
    assert_refused(
        &sam.post("/api/v1/session/reauthenticate", json!({ "password": SAM_PASSWORD }))
            .await,
        409,
        "use_second_factor",
    );
    assert_refused(
        &sam.post("/api/v1/mfa/backup-codes", json!({})).await,
        403,
        "reauthentication_required",
    );
    // A second factor now: the step-up refreshes the session's strong
    // authentication, for a while.
    let stepped_up = sam
        .post("/api/v1/mfa/verify", json!({ "code": oathtool(&enrolled.secret, at) }))
        .await;
    assert_eq!(stepped_up.status, 200, "{:?}", stepped_up.body);
    assert_eq!(stepped_up.body["session"]["assurance"]["level"], "aal2");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_refused(&sam.delete("/api/v1/mfa/totp").await, 403, "reauthentication_required");
    let stepped_up = sam
        .post("/api/v1/mfa/verify", json!({ "code": enrolled.backup_codes[0] }))
        .await;
    assert_eq!(stepped_up.status, 200, "{:?}", stepped_up.body);
    assert_eq!(sam.delete("/api/v1/mfa/totp").await.status, 204);
    // Without an authenticator, a password signs in fully again.
    let signed_in = WebClient::new(&instance.server).sign_in(SAM, SAM_PASSWORD).await;
    assert!(signed_in.body["session"]["pending"].is_null());
    let elevations: Vec<String> = events(&instance)
        .iter()
        .filter(|event| event["kind"] == "session.elevated")
        .map(|event| event["data"]["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(elevations, ["step_up", "step_up", "step_up"]);
}
