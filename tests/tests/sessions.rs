//! Cookie sessions over HTTP against a real `warden serve` (embedded
//! profile): listing, revoking, fixation, expiry, forward auth and CORS,
//! org lifetimes, and the events they leave. (`users.rs`: the accounts
//! behind them.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::json;
use warden_tests::web::{WebClient, assert_refused, create_user, events, instance, set_up};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_revoked_and_never_fixated() {
    let instance = instance(&[]).await;
    let mut owner = set_up(&instance.server).await;
    create_user(&mut owner, "sam@acme.test", "member", "sam's long password 7").await;

    // Fixation: a cookie planted before sign-in is never promoted.
    let mut laptop = WebClient::new(&instance.server);
    let planted = format!("1.{}", "B".repeat(43));
    laptop.cookie = Some(planted.clone());
    let signed_in = laptop.sign_in("sam@acme.test", "sam's long password 7").await;
    assert_eq!(signed_in.status, 200);
    assert_ne!(laptop.cookie.as_deref(), Some(planted.as_str()));
    let mut attacker = WebClient::new(&instance.server);
    attacker.cookie = Some(planted);
    assert_refused(&attacker.get("/api/v1/session").await, 401, "session_required");
    // Signing in again with a live session gives a new session too.
    let mut again = laptop.clone();
    again.sign_in("sam@acme.test", "sam's long password 7").await;
    assert_ne!(again.cookie, laptop.cookie);

    let mut phone = WebClient::new(&instance.server);
    phone.user_agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1".into();
    phone.sign_in("sam@acme.test", "sam's long password 7").await;
    let listed = laptop.get("/api/v1/sessions").await;
    let sessions = listed.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let iphone = sessions.iter().find(|s| s["device"]["os"] == "iOS").unwrap();
    assert_eq!(iphone["device"]["form"], "mobile");
    assert_eq!(iphone["ip"], "127.0.0.1");

    // Revoke one, then all others.
    let phone_id = iphone["id"].as_str().unwrap().to_string();
    assert_eq!(laptop.delete(&format!("/api/v1/sessions/{phone_id}")).await.status, 204);
    assert_refused(&phone.get("/api/v1/session").await, 401, "session_required");
    let others = laptop.post("/api/v1/sessions/sign-out-others", json!({})).await;
    assert_eq!(others.body["revoked"], 1);
    assert_refused(&again.get("/api/v1/session").await, 401, "session_required");
    assert_eq!(laptop.get("/api/v1/session").await.status, 200);
    // Someone else's session id is not found.
    let owner_session = owner.get("/api/v1/session").await.body["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_refused(
        &laptop.delete(&format!("/api/v1/sessions/{owner_session}")).await,
        404,
        "not_found",
    );

    // Admin revocation of all of a user's sessions.
    let sam = owner.user_id("sam@acme.test").await;
    let revoked = owner.delete(&format!("/api/v1/users/{sam}/sessions")).await;
    assert_eq!(revoked.body["revoked"], 1);
    let refused = laptop.get("/api/v1/session").await;
    assert_refused(&refused, 401, "session_required");
    // A revoked token is harmless and left alone (it may have just been
    // rotated by a concurrent request); an expired one is cleared.
    assert!(refused.cookie().is_none());

    let events = events(&instance);
    let reasons: Vec<&str> = events
        .iter()
        .filter(|event| event["kind"] == "session.revoked")
        .map(|event| event["data"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["revoked_by_user", "signed_out_elsewhere", "revoked_by_admin"]);
    let new_devices = events
        .iter()
        .filter(|event| event["kind"] == "device.first_seen")
        .count();
    assert_eq!(new_devices, 3, "owner's browser, sam's laptop, sam's phone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire_when_idle_and_at_their_absolute_end() {
    let idle = instance(&[("WARDEN_SESSION_IDLE_TIMEOUT_SECONDS", "2")]).await;
    let mut owner = set_up(&idle.server).await;
    // Use keeps it alive past the idle timeout: the recorded use slides.
    let began = Instant::now();
    while began.elapsed() < Duration::from_millis(4000) {
        assert_eq!(owner.get("/api/v1/session").await.status, 200, "a used session expired");
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert!(events(&idle).iter().any(|event| event["kind"] == "session.refreshed"));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let expired = owner.get("/api/v1/session").await;
    assert_refused(&expired, 401, "session_required");
    assert_eq!(expired.body["error"]["message"], "the session expired");
    assert_eq!(expired.cookie().as_deref(), Some(""), "an expired cookie is cleared");

    let absolute = instance(&[
        ("WARDEN_SESSION_ABSOLUTE_TIMEOUT_SECONDS", "3"),
        ("WARDEN_SESSION_IDLE_TIMEOUT_SECONDS", "2"),
    ])
    .await;
    // Kept busy, it still ends at its absolute end.
    let mut owner = set_up(&absolute.server).await;
    let began = Instant::now();
    let ended = loop {
        let answer = owner.get("/api/v1/session").await;
        if answer.status != 200 {
            break answer;
        }
        assert!(
            began.elapsed() < Duration::from_secs(5),
            "the session outlived its absolute end"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(
        began.elapsed() > Duration::from_millis(2500),
        "ended early: {:?}",
        began.elapsed()
    );
    assert_refused(&ended, 401, "session_required");
    assert_eq!(ended.body["error"]["message"], "the session expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_auth_and_cors_for_the_application() {
    let instance = instance(&[("WARDEN_APP_ORIGINS", "http://app.localhost:3000")]).await;
    let mut owner = set_up(&instance.server).await;
    let ok = owner.get("/api/v1/auth/forward").await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.headers["x-warden-email"], "owner@acme.test");
    assert_eq!(ok.headers["x-warden-roles"], "owner");
    assert_eq!(ok.headers["x-warden-assurance"], "aal1");
    let mut nobody = WebClient::new(&instance.server);
    assert_eq!(nobody.get("/api/v1/auth/forward").await.status, 401);

    // A proxied state-changing request needs the CSRF token too.
    let client = reqwest::Client::new();
    let proxied = |token: Option<&str>| {
        let mut request = client
            .get(format!("{}/api/v1/auth/forward", instance.server.url))
            .header("cookie", format!("warden_session={}", owner.cookie.as_ref().unwrap()))
            .header("x-forwarded-method", "POST");
        if let Some(token) = token {
            request = request.header("x-csrf-token", token);
        }
        request.send()
    };
    assert_eq!(proxied(None).await.unwrap().status(), 403);
    assert_eq!(
        proxied(Some(owner.csrf.as_deref().unwrap())).await.unwrap().status(),
        200
    );

    // CORS with credentials for the application's origin only.
    let preflight = |origin: &'static str| {
        client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/v1/session", instance.server.url),
            )
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    let allowed = preflight("http://app.localhost:3000").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://app.localhost:3000"
    );
    assert_eq!(allowed.headers()["access-control-allow-credentials"], "true");
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(refused.headers().get("access-control-allow-origin").is_none());
    // The application's origin may also send state-changing requests.
    let mut app = owner.clone();
    app.origin = Some("http://app.localhost:3000".into());
    assert_eq!(
        app.post("/api/v1/sessions/sign-out-others", json!({})).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orgs_choose_their_session_lifetimes() {
    let instance = instance(&[]).await;
    let mut owner = set_up(&instance.server).await;
    create_user(&mut owner, "meg@acme.test", "member", "meg's long password 7").await;
    let org = owner.get("/api/v1/org").await;
    assert_eq!(org.body["session_policy"]["idle_timeout_seconds"], 28800);
    assert_eq!(org.body["session_policy"]["absolute_timeout_seconds"], 604800);

    let mut member = WebClient::new(&instance.server);
    member.sign_in("meg@acme.test", "meg's long password 7").await;
    let policy = json!({"idle_timeout_seconds": 600, "absolute_timeout_seconds": 3600});
    assert_refused(
        &member.put("/api/v1/org/session-policy", policy.clone()).await,
        403,
        "forbidden",
    );
    assert_refused(
        &owner
            .put(
                "/api/v1/org/session-policy",
                json!({"idle_timeout_seconds": 299, "absolute_timeout_seconds": 3600}),
            )
            .await,
        400,
        "bad_request",
    );
    assert_refused(
        &owner
            .put(
                "/api/v1/org/session-policy",
                json!({"idle_timeout_seconds": 7200, "absolute_timeout_seconds": 3600}),
            )
            .await,
        400,
        "bad_request",
    );
    let changed = owner.put("/api/v1/org/session-policy", policy).await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(changed.body["session_policy"]["idle_timeout_seconds"], 600);

    // New sessions get the new lifetimes.
    let mut fresh = WebClient::new(&instance.server);
    let signed_in = fresh.sign_in("meg@acme.test", "meg's long password 7").await;
    let parse =
        |field: &str| chrono::DateTime::parse_from_rfc3339(signed_in.body["session"][field].as_str().unwrap()).unwrap();
    let created = parse("created_at");
    assert!(((parse("expires_at") - created).num_seconds() - 3600).abs() <= 1);
    assert!(((parse("idle_expires_at") - created).num_seconds() - 600).abs() <= 1);

    let events = events(&instance);
    let change = events
        .iter()
        .find(|event| event["kind"] == "org.session_policy_changed")
        .unwrap();
    assert_eq!(change["data"]["old"]["idle_timeout_seconds"], 28800);
    assert_eq!(change["data"]["new"]["absolute_timeout_seconds"], 3600);
}

/// A cookie naming a `seq` the ledger never committed (forged, or from
/// another Warden) is refused at once: the node waits for its read models
/// only to reach a committed event. Paths that take no session never read
/// the cookie at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_cookie_is_refused_without_waiting() {
    let instance = instance(&[]).await;
    let mut owner = set_up(&instance.server).await;
    let head = warden_tests::web::head(&events(&instance));
    let mut forger = WebClient::new(&instance.server);
    for seq in [head + 1, head + 10, head + 999_999] {
        forger.cookie = Some(format!("{seq}.{}", "Q".repeat(43)));
        for path in ["/api/v1/session", "/healthz", "/readyz", "/api/v1/openapi.json"] {
            let began = Instant::now();
            let answer = forger.get(path).await;
            let took = began.elapsed();
            assert!(
                took < Duration::from_millis(1500),
                "{path} with a cookie for seq {seq} took {took:?} (the node waited for an event that does not exist)"
            );
            if path == "/api/v1/session" {
                assert_refused(&answer, 401, "session_required");
            } else {
                assert_eq!(answer.status, 200, "{path}");
            }
        }
    }
    // A genuine cookie still works.
    assert_eq!(owner.get("/api/v1/session").await.status, 200);
}
