//! Second factors over HTTP against a real `warden serve` (embedded
//! profile): a TOTP authenticator whose codes come from `oathtool`, backup
//! codes, partial sessions, replay refusal, the shared failure throttle,
//! and secrets that never reach the log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::json;
use warden_tests::mfa::{Enrolled, early_in_step, enrol, oathtool, wrong};
use warden_tests::web::{
    Instance, WebClient, assert_refused, create_user, events, head, instance, kinds_after, set_up,
};

const SAM: &str = "sam@acme.test";
const SAM_PASSWORD: &str = "sam's long password 7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_completes_a_sign_in_once_per_code_and_its_secret_never_reaches_the_log() {
    let instance = instance(&[("WARDEN_MFA_ISSUER", "Acme Auth")]).await;
    let mut owner = set_up(&instance.server).await;
    create_user(&mut owner, SAM, "member", SAM_PASSWORD).await;
    let mut sam = WebClient::new(&instance.server);
    sam.sign_in(SAM, SAM_PASSWORD).await;
    let before = head(&events(&instance));

    // Setting up: a secret, its otpauth URI and a QR code; not a factor yet.
    let started = sam.post("/api/v1/mfa/totp", json!({})).await;
    assert_eq!(started.status, 201, "{:?}", started.body);
    let secret = started.body["secret"].as_str().unwrap().to_string();
    let uri = started.body["otpauth_uri"].as_str().unwrap();
    assert_eq!(
        uri,
        format!(
            "otpauth://totp/Acme%20Auth:sam%40acme.test?secret={secret}&issuer=Acme%20Auth&algorithm=SHA1&digits=6&period=30"
        )
    );
    assert!(started.body["qr_svg"].as_str().unwrap().starts_with("<svg"));
    let factors = sam.get("/api/v1/mfa").await;
    assert_eq!(
        (
            factors.body["totp"].is_null(),
            factors.body["totp_setup_pending"].as_bool()
        ),
        (true, Some(true))
    );
    let unconfirmed = WebClient::new(&instance.server).sign_in(SAM, SAM_PASSWORD).await;
    assert!(
        unconfirmed.body["session"]["pending"].is_null(),
        "an unconfirmed authenticator is no factor"
    );

    // Confirmed by a first code from an independent implementation.
    let at = early_in_step().await;
    let refused = sam
        .post(
            "/api/v1/mfa/totp/confirm",
            json!({ "code": wrong(&oathtool(&secret, at)) }),
        )
        .await;
    assert_refused(&refused, 401, "invalid_code");
    let first = oathtool(&secret, at - 30);
    let confirmed = sam.post("/api/v1/mfa/totp/confirm", json!({ "code": first })).await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    let codes: Vec<String> = confirmed.body["backup_codes"]["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);

    // A password alone now gives a partial session: only the prompt and
    // sign-out work.
    let mut laptop = WebClient::new(&instance.server);
    let partial = laptop.sign_in(SAM, SAM_PASSWORD).await;
    assert_eq!(partial.status, 200);
    assert_eq!(partial.body["session"]["pending"]["step"], "second_factor");
    assert_eq!(
        partial.body["session"]["pending"]["factors"],
        json!(["totp", "backup_code"])
    );
    assert_eq!(partial.body["session"]["assurance"]["level"], "aal1");
    assert_refused(&laptop.get("/api/v1/session").await, 403, "second_factor_required");
    assert_refused(&laptop.get("/api/v1/sessions").await, 403, "second_factor_required");
    assert_refused(
        &laptop.post("/api/v1/mfa/totp", json!({})).await,
        403,
        "second_factor_required",
    );
    assert_refused(&laptop.get("/api/v1/auth/forward").await, 401, "session_required");

    // The confirming code's step is spent: replaying it fails.
    let replayed = laptop.post("/api/v1/mfa/verify", json!({ "code": first })).await;
    assert_refused(&replayed, 401, "invalid_code");
    let partial_cookie = laptop.cookie.clone();
    let now_code = oathtool(&secret, at);
    let verified = laptop.post("/api/v1/mfa/verify", json!({ "code": now_code })).await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    assert_ne!(
        laptop.cookie, partial_cookie,
        "a new token once the sign-in is complete"
    );
    assert_eq!(verified.body["session"]["assurance"]["level"], "aal2");
    assert_eq!(
        verified.body["session"]["assurance"]["methods"],
        json!(["password", "totp"])
    );
    assert!(verified.body["session"]["pending"].is_null());
    assert_eq!(laptop.get("/api/v1/session").await.status, 200);
    assert_eq!(
        laptop.get("/api/v1/auth/forward").await.headers["x-warden-assurance"],
        "aal2"
    );
    // The partial token is dead.
    let mut stale = WebClient::new(&instance.server);
    stale.cookie = partial_cookie;
    assert_refused(&stale.get("/api/v1/session").await, 401, "session_required");

    // The same code on another sign-in is a replay; the next step's code works.
    let mut phone = WebClient::new(&instance.server);
    phone.sign_in(SAM, SAM_PASSWORD).await;
    assert_refused(
        &phone.post("/api/v1/mfa/verify", json!({ "code": now_code })).await,
        401,
        "invalid_code",
    );
    let next = phone
        .post("/api/v1/mfa/verify", json!({ "code": oathtool(&secret, at + 30) }))
        .await;
    assert_eq!(next.status, 200, "{:?}", next.body);

    // Every action is an event.
    let log = events(&instance);
    let kinds = kinds_after(&log, before);
    for kind in [
        "mfa.totp.enrolment_started",
        "mfa.totp.enrolled",
        "mfa.backup_codes.generated",
        "mfa.verified",
        "session.elevated",
        "mfa.failed",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
    let failures: Vec<&str> = log
        .iter()
        .filter(|event| event["kind"] == "mfa.failed")
        .map(|event| event["data"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(failures, ["wrong_code", "replayed", "replayed"]);
    let partial_sign_in = log.iter().rfind(|event| event["kind"] == "login.succeeded").unwrap();
    assert_eq!(partial_sign_in["data"]["second_factor_pending"], true);

    // The audit index holds every event, on disk and searchable: no
    // secret in it either, by bytes or by search.
    let head = head(&log);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while owner.get("/api/v1/audit/events?limit=1").await.body["indexed_through"]
        .as_u64()
        .unwrap()
        < head
    {
        assert!(std::time::Instant::now() < deadline, "the audit index did not catch up");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // No secret in clear: not in the events, the data directory's files
    // (the SQLite log and the audit index among them) or the server's log.
    let mut haystacks = vec![instance.server.log().into_bytes()];
    for entry in walk(&instance.env.data_dir) {
        // (An index file merged away meanwhile is gone, not a leak.)
        if let Ok(bytes) = std::fs::read(entry) {
            haystacks.push(bytes);
        }
    }
    // The index keeps words lower-cased: look for those too.
    let mut needles = vec![secret.clone(), secret.to_lowercase()];
    for code in &codes {
        needles.push(code.clone());
        needles.push(code.replace('-', ""));
        needles.push(code.replace('-', "").to_lowercase());
    }
    for needle in &needles {
        for haystack in &haystacks {
            assert!(
                !haystack.windows(needle.len()).any(|window| window == needle.as_bytes()),
                "a second-factor secret appears in clear"
            );
        }
    }
    let enrolment = owner.get("/api/v1/audit/events?kind=mfa.totp.enrolment_started").await;
    assert_eq!(enrolment.body["total"], 1, "the search works: {:?}", enrolment.body);
    // (Searched last: a search is recorded with what was searched for.)
    for word in std::iter::once(&secret).chain(&codes) {
        let found = owner.get(&format!("/api/v1/audit/events?q={word}")).await;
        assert_eq!(found.status, 200, "{:?}", found.body);
        assert_eq!(found.body["total"], 0, "{word} is searchable");
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Sam, a member who signed in and just set up an authenticator app (at
/// `at`, early in a time step).
async fn sam_with_authenticator(instance: &Instance) -> (WebClient, Enrolled, u64) {
    let mut owner = set_up(&instance.server).await;
    create_user(&mut owner, SAM, "member", SAM_PASSWORD).await;
    let mut sam = WebClient::new(&instance.server);
    sam.sign_in(SAM, SAM_PASSWORD).await;
    let at = early_in_step().await;
    let enrolled = enrol(&mut sam, at).await;
    (sam, enrolled, at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_codes_work_once_count_down_and_regeneration_kills_the_old_set() {
    let instance = instance(&[]).await;
    let (mut sam, enrolled, _) = sam_with_authenticator(&instance).await;
    let codes = &enrolled.backup_codes;
    assert!(codes.iter().all(|code| code.len() == 11 && code.as_bytes()[5] == b'-'));

    let verify = |code: String| {
        let server = &instance.server;
        async move {
            let mut client = WebClient::new(server);
            let partial = client.sign_in(SAM, SAM_PASSWORD).await;
            assert_eq!(partial.body["session"]["pending"]["step"], "second_factor");
            let answer = client.post("/api/v1/mfa/verify", json!({ "code": code })).await;
            (client, answer)
        }
    };
    let (_, first) = verify(codes[0].clone()).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(
        first.body["session"]["assurance"]["methods"],
        json!(["password", "backup_code"])
    );
    assert_eq!(sam.get("/api/v1/mfa").await.body["backup_codes"]["remaining"], 9);
    let (_, again) = verify(codes[0].clone()).await;
    assert_refused(&again, 401, "invalid_code");
    // Typed loosely: upper case, a space instead of the dash.
    let (mut fresh, second) = verify(codes[1].to_uppercase().replace('-', " ")).await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    let factors = sam.get("/api/v1/mfa").await;
    assert_eq!(factors.body["backup_codes"]["remaining"], 8);
    assert_eq!(factors.body["backup_codes"]["acknowledged"], false);

    // A new set (from the session that just proved a second factor).
    let regenerated = fresh.post("/api/v1/mfa/backup-codes", json!({})).await;
    assert_eq!(regenerated.status, 201, "{:?}", regenerated.body);
    let new_codes: Vec<String> = regenerated.body["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_string())
        .collect();
    let new_set = regenerated.body["set"].as_str().unwrap().to_string();
    assert_ne!(new_set, enrolled.backup_set);
    let (_, old) = verify(codes[2].clone()).await;
    assert_refused(&old, 401, "invalid_code");
    let (_, new) = verify(new_codes[9].clone()).await;
    assert_eq!(new.status, 200, "{:?}", new.body);
    let factors = sam.get("/api/v1/mfa").await;
    assert_eq!(factors.body["backup_codes"]["remaining"], 9);
    assert_eq!(
        fresh
            .post("/api/v1/mfa/backup-codes/acknowledge", json!({ "set": new_set }))
            .await
            .status,
        204
    );
    assert_eq!(sam.get("/api/v1/mfa").await.body["backup_codes"]["acknowledged"], true);
    assert_refused(
        &fresh
            .post(
                "/api/v1/mfa/backup-codes/acknowledge",
                json!({ "set": enrolled.backup_set }),
            )
            .await,
        404,
        "not_found",
    );

    let log = events(&instance);
    let used: Vec<u64> = log
        .iter()
        .filter(|event| event["kind"] == "mfa.verified" && event["data"]["factor"] == "backup_code")
        .map(|event| event["data"]["remaining"].as_u64().unwrap())
        .collect();
    assert_eq!(used, [9, 8, 9]);
    assert_eq!(
        log.iter()
            .filter(|event| event["kind"] == "mfa.backup_codes.generated")
            .count(),
        2
    );
    assert!(log.iter().any(|event| event["kind"] == "mfa.backup_codes.acknowledged"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_of_every_factor_share_one_throttle() {
    let instance = instance(&[]).await;
    let (_, enrolled, at) = sam_with_authenticator(&instance).await;

    let mut client = WebClient::new(&instance.server);
    client.sign_in(SAM, SAM_PASSWORD).await;
    let right = oathtool(&enrolled.secret, at);
    for attempt in 0..5 {
        let code = if attempt % 2 == 0 {
            wrong(&right)
        } else {
            "zzzzz-zzzzz".to_string()
        };
        let answer = client.post("/api/v1/mfa/verify", json!({ "code": code })).await;
        assert_refused(&answer, 401, "invalid_code");
    }
    let throttled = client.post("/api/v1/mfa/verify", json!({ "code": right })).await;
    assert_refused(&throttled, 429, "too_many_requests");
    assert!(throttled.headers.contains_key("retry-after"));
    // The wait is a second after five failures; then the right code works.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let verified = client.post("/api/v1/mfa/verify", json!({ "code": right })).await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    let reasons: Vec<String> = events(&instance)
        .iter()
        .filter(|event| event["kind"] == "mfa.failed")
        .map(|event| event["data"]["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(reasons.iter().filter(|reason| *reason == "wrong_code").count(), 5);
    assert_eq!(reasons.iter().filter(|reason| *reason == "throttled").count(), 1);
}
