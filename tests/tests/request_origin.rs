//! Where a request comes from, over HTTP against a real `warden serve`
//! (embedded profile): the CSRF token and the origin every state-changing
//! request needs (and the few routes exempt from the token), and the
//! client address, taken from trusted proxies only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use warden_tests::web::{OWNER_PASSWORD, WebClient, assert_refused, events, head, instance, set_up};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_token_and_origin_are_required() {
    let instance = instance(&[]).await;
    let mut owner = set_up(&instance.server).await;
    let start = head(&events(&instance));

    let mut no_token = owner.clone();
    no_token.csrf = None;
    assert_refused(&no_token.post("/api/v1/sign-out", json!({})).await, 403, "csrf_refused");
    let mut wrong_token = owner.clone();
    wrong_token.csrf = Some("A".repeat(43));
    assert_refused(
        &wrong_token.post("/api/v1/sign-out", json!({})).await,
        403,
        "csrf_refused",
    );
    let mut foreign = owner.clone();
    foreign.origin = Some("https://evil.example".into());
    assert_refused(&foreign.post("/api/v1/sign-out", json!({})).await, 403, "csrf_refused");
    // Login CSRF: a foreign page cannot sign a browser in either.
    let mut foreign_sign_in = WebClient::new(&instance.server);
    foreign_sign_in.origin = Some("https://evil.example".into());
    assert_refused(
        &foreign_sign_in.sign_in("owner@acme.test", OWNER_PASSWORD).await,
        403,
        "csrf_refused",
    );
    // Without Origin, a cross-site fetch is known by Sec-Fetch-Site.
    let cross_site = reqwest::Client::new()
        .post(format!("{}/api/v1/sign-out", instance.server.url))
        .header("cookie", format!("warden_session={}", owner.cookie.as_ref().unwrap()))
        .header("x-csrf-token", owner.csrf.as_ref().unwrap())
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    // Reads need no token; the session still works after all that.
    no_token.csrf = None;
    assert_eq!(no_token.get("/api/v1/session").await.status, 200);

    let events = events(&instance);
    let refusals: Vec<&str> = events
        .iter()
        .filter(|event| event["seq"].as_u64().unwrap() > start && event["kind"] == "csrf.refused")
        .map(|event| event["data"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        refusals,
        [
            "missing_token",
            "wrong_token",
            "foreign_origin",
            "foreign_origin",
            "cross_site"
        ]
    );

    let signed_out = owner.post("/api/v1/sign-out", json!({})).await;
    assert_eq!(signed_out.status, 204);
    assert!(owner.cookie.is_none(), "sign-out clears the cookie");
}

/// Every state-changing operation of the OpenAPI document, called with a
/// session cookie and no CSRF token, is refused for the token, except the
/// few that act before there is a session or on a bearer token (this list
/// is the test's own, not the router's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_changing_route_needs_the_token_but_the_exempt_few() {
    const EXEMPT: &[&str] = &[
        "/api/v1/sign-in",
        "/api/v1/sign-in/passkey/start",
        "/api/v1/sign-in/passkey/finish",
        "/api/v1/sign-in/email/start",
        "/api/v1/sign-in/email/finish",
        "/api/v1/password-reset/start",
        "/api/v1/password-reset/finish",
        "/api/v1/email-change/verify",
        "/api/v1/setup",
        "/api/v1/invitations/accept",
        "/api/v1/app-events",
        "/api/v1/keys/verify",
    ];
    let instance = instance(&[]).await;
    let owner = set_up(&instance.server).await;
    let document: Value = reqwest::get(format!("{}/api/v1/openapi.json", instance.server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut checked = 0;
    for (path, operations) in document["paths"].as_object().unwrap() {
        for method in ["post", "put", "patch", "delete"] {
            if operations.get(method).is_none() {
                continue;
            }
            let concrete: String = path
                .split('/')
                .map(|part| if part.starts_with('{') { "x" } else { part })
                .collect::<Vec<_>>()
                .join("/");
            let mut no_token = owner.clone();
            no_token.csrf = None;
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let answer = no_token.request(method.clone(), &concrete, Some(json!({}))).await;
            let refused = answer.status == 403 && answer.code() == "csrf_refused";
            assert_eq!(
                refused,
                !EXEMPT.contains(&path.as_str()),
                "{method} {path}: {} {:?}",
                answer.status,
                answer.body
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} operations");
    // The session survived every one of them.
    let mut owner = owner;
    assert_eq!(owner.get("/api/v1/session").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_address_comes_from_trusted_proxies_only() {
    // Without trusted proxies, X-Forwarded-For is the client's to forge:
    // ignored.
    let direct = instance(&[]).await;
    let mut owner = set_up(&direct.server).await;
    owner.headers = vec![("x-forwarded-for".into(), "6.6.6.6".into())];
    owner.sign_in("owner@acme.test", OWNER_PASSWORD).await;
    let listed = owner.get("/api/v1/sessions").await;
    assert!(
        listed.body["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["ip"] == "127.0.0.1")
    );

    // Behind a trusted proxy (here: loopback), the right-most address that
    // is not a trusted proxy is the client.
    let proxied = instance(&[("WARDEN_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")]).await;
    let mut owner = set_up(&proxied.server).await;
    owner.headers = vec![("x-forwarded-for".into(), "6.6.6.6, 203.0.113.7, 10.1.1.1".into())];
    let wrong = owner.sign_in("owner@acme.test", "not the password").await;
    assert_eq!(wrong.status, 401);
    owner.sign_in("owner@acme.test", OWNER_PASSWORD).await;
    let current = owner.get("/api/v1/sessions").await.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()
        .clone();
    assert_eq!(current["ip"], "203.0.113.7");
    let events = events(&proxied);
    let failed = events.iter().find(|event| event["kind"] == "login.failed").unwrap();
    assert_eq!(failed["actor"]["ip"], "203.0.113.7");
}
