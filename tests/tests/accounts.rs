//! Setup, password sign-in and its protections over HTTP against a real
//! `warden serve` (embedded profile): every refusal (enumeration,
//! throttle), and the events each flow leaves in the log. CSRF and the
//! client address: `request_origin.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_tests::web::{
    OWNER_PASSWORD, WebClient, assert_refused, create_user, events, head, instance, kinds_after, set_up,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_link_creates_the_first_owner_once() {
    let instance = instance(&[]).await;
    let link = instance.server.setup_link().unwrap();
    assert!(
        !instance.server.log().contains(link.split("token=").nth(1).unwrap()),
        "the link is in the log"
    );
    let mut stranger = WebClient::new(&instance.server);
    let forged = stranger
        .post(
            "/api/v1/setup",
            json!({"token": "A".repeat(43), "org_name": "Evil", "org_slug": "evil", "email": "evil@x.test",
                   "display_name": "Evil", "password": "a long enough password 1"}),
        )
        .await;
    assert_refused(&forged, 403, "invalid_link");

    let mut owner = set_up(&instance.server).await;
    let me = owner.get("/api/v1/session").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["user"]["email"], "owner@acme.test");
    assert_eq!(me.body["org"]["slug"], "acme");
    assert_eq!(me.body["roles"], json!(["owner"]));
    assert_eq!(me.body["session"]["assurance"]["level"], "aal1");
    assert_eq!(me.body["session"]["assurance"]["methods"], json!(["password"]));

    // The link dies once used.
    let token = link.split("token=").nth(1).unwrap();
    let again = stranger
        .post(
            "/api/v1/setup",
            json!({"token": token, "org_name": "Acme 2", "org_slug": "acme2", "email": "second@acme.test",
                   "display_name": "Second", "password": "a long enough password 1"}),
        )
        .await;
    assert_refused(&again, 409, "setup_complete");

    let events = events(&instance);
    let kinds = kinds_after(&events, 1);
    assert_eq!(
        kinds,
        [
            "setup.link_issued",
            // The forged link above: a refusal is an event too.
            "access.denied",
            "org.created",
            "user.created",
            "password.set",
            "setup.completed",
            "session.created",
            "device.first_seen",
        ]
    );
    // The hash travels sealed, the token only hashed.
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains(OWNER_PASSWORD));
    assert!(!text.contains("$argon2id$"));
    assert!(!text.contains(token));
    let cookie_token = owner.cookie.as_ref().unwrap().split('.').nth(1).unwrap().to_string();
    assert!(!text.contains(&cookie_token));
    let password_set = events.iter().find(|event| event["kind"] == "password.set").unwrap();
    assert_eq!(password_set["data"]["hash"]["sealed"], "v1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_refusals_do_not_tell_accounts_apart() {
    let instance = instance(&[]).await;
    let mut owner = set_up(&instance.server).await;
    let member = create_user(&mut owner, "mia@acme.test", "member", "mia's long password 7").await;
    let disabled = create_user(&mut owner, "dan@acme.test", "member", "dan's long password 7").await;
    assert_eq!(
        owner
            .patch(&format!("/api/v1/users/{disabled}"), json!({"status": "disabled"}))
            .await
            .status,
        200
    );
    let start = head(&events(&instance));

    let mut browser = WebClient::new(&instance.server);
    let mut timings = (Vec::new(), Vec::new());
    for round in 0..4 {
        // A different unknown account and a different known one each round,
        // so that no throttle is involved.
        let began = Instant::now();
        let unknown = browser
            .sign_in(&format!("nobody{round}@acme.test"), "some password 123")
            .await;
        timings.0.push(began.elapsed());
        let began = Instant::now();
        let wrong = browser
            .sign_in("mia@acme.test", &format!("wrong password {round}"))
            .await;
        timings.1.push(began.elapsed());
        assert_refused(&unknown, 401, "invalid_credentials");
        assert_refused(&wrong, 401, "invalid_credentials");
        assert_eq!(unknown.body["error"]["message"], wrong.body["error"]["message"]);
        assert_eq!(
            unknown.headers.get("www-authenticate"),
            wrong.headers.get("www-authenticate")
        );
        assert!(unknown.cookie().is_none() && wrong.cookie().is_none());
    }
    // Comparable timing: the medians are within a factor of two (each side
    // opens a sealed hash and runs one Argon2id verification).
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (unknown, wrong) = (median(&mut timings.0), median(&mut timings.1));
    assert!(
        unknown * 2 > wrong && wrong * 2 > unknown,
        "unknown {unknown:?} vs wrong password {wrong:?}"
    );

    // A disabled account with a wrong password looks like any other; with
    // the right one, it is told it is disabled.
    assert_refused(
        &browser.sign_in("dan@acme.test", "not dan's password").await,
        401,
        "invalid_credentials",
    );
    let refused = browser.sign_in("dan@acme.test", "dan's long password 7").await;
    assert_refused(&refused, 403, "account_disabled");
    assert!(refused.cookie().is_none());

    let signed_in = browser.sign_in("mia@acme.test", "mia's long password 7").await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    assert_eq!(signed_in.body["user"]["id"], member.as_str());

    let events = events(&instance);
    // Sign-in events are about the typed identifier (`login:<MAC>`), with
    // the account in `data.user` when there is one.
    let failures: Vec<(bool, &str, &str)> = events
        .iter()
        .filter(|event| event["seq"].as_u64().unwrap() > start && event["kind"] == "login.failed")
        .map(|event| {
            assert!(event["subject"].as_str().unwrap().starts_with("login:"));
            (
                event["data"]["user"].is_string(),
                event["data"]["reason"].as_str().unwrap(),
                event["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    let count = |wanted: (bool, &str, &str)| failures.iter().filter(|f| **f == wanted).count();
    assert_eq!(count((false, "unknown_account", "failure")), 4);
    assert_eq!(count((true, "wrong_password", "failure")), 5);
    assert_eq!(count((true, "disabled", "denied")), 1);
    let text = serde_json::to_string(&events).unwrap();
    assert!(
        !text.contains("nobody0@acme.test"),
        "typed identifiers are stored hashed"
    );
    assert!(!text.contains("wrong password"));
    assert_eq!(
        kinds_after(&events, head(&events) - 3),
        ["session.created", "device.first_seen", "login.succeeded"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_are_throttled_with_retry_after() {
    let instance = instance(&[]).await;
    let mut owner = set_up(&instance.server).await;
    create_user(&mut owner, "tom@acme.test", "member", "tom's long password 7").await;
    let mut attacker = WebClient::new(&instance.server);
    for attempt in 0..5 {
        let answer = attacker.sign_in("tom@acme.test", &format!("guess {attempt}")).await;
        assert_refused(&answer, 401, "invalid_credentials");
    }
    let throttled = attacker.sign_in("tom@acme.test", "tom's long password 7").await;
    assert_refused(&throttled, 429, "too_many_requests");
    let retry: u64 = throttled.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=1).contains(&retry), "retry-after {retry}");
    // A parallel burst gets no more guesses than a sequential one.
    create_user(&mut owner, "pat@acme.test", "member", "pat's long password 7").await;
    let burst: Vec<_> = (0..24)
        .map(|attempt| {
            let mut attacker = WebClient::new(&instance.server);
            tokio::spawn(async move {
                attacker
                    .sign_in("pat@acme.test", &format!("burst {attempt}"))
                    .await
                    .status
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in burst {
        statuses.push(attempt.await.unwrap());
    }
    assert!(
        statuses.iter().all(|status| *status == 401 || *status == 429),
        "{statuses:?}"
    );
    let guessed = statuses.iter().filter(|status| **status == 401).count();
    assert!(guessed <= 5, "{guessed} guesses checked in a burst of 24: {statuses:?}");
    // Unknown accounts are throttled the same way.
    for attempt in 0..5 {
        attacker.sign_in("ghost@acme.test", &format!("guess {attempt}")).await;
    }
    assert_refused(
        &attacker.sign_in("ghost@acme.test", "x").await,
        429,
        "too_many_requests",
    );
    // After the wait, the right password works and clears the count.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let signed_in = attacker.sign_in("tom@acme.test", "tom's long password 7").await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    // A burst of right passwords is not a brute force: all pass.
    let burst: Vec<_> = (0..12)
        .map(|_| {
            let mut browser = WebClient::new(&instance.server);
            tokio::spawn(async move {
                browser
                    .sign_in("tom@acme.test", "tom's long password 7")
                    .await
                    .status
                    .as_u16()
            })
        })
        .collect();
    for attempt in burst {
        assert_eq!(attempt.await.unwrap(), 200);
    }
    let events = events(&instance);
    let throttled: Vec<&Value> = events
        .iter()
        .filter(|event| event["kind"] == "login.failed" && event["data"]["reason"] == "throttled")
        .collect();
    assert_eq!(
        throttled.len(),
        3,
        "one refusal event per identifier and client per 10 s"
    );
    assert!(throttled.iter().all(|event| event["outcome"] == "denied"));
}

/// Guessing stays slow, and nobody can lock anyone out: failures from one
/// network hold that network only; many networks guessing one account
/// together are held once the account's allowance is spent; and
/// throughout, the account's owner signs in from a network they signed in
/// from before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_stays_slow_and_the_owner_is_never_locked_out() {
    let instance = instance(&[("WARDEN_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let mut owner = set_up(&instance.server).await;
    create_user(&mut owner, "vic@acme.test", "member", "vic's long password 7").await;
    let from = |ip: &str| {
        let mut client = WebClient::new(&instance.server);
        client.headers = vec![("x-forwarded-for".into(), ip.to_string())];
        client
    };
    // Vic signs in from home once.
    assert_eq!(
        from("198.51.100.7")
            .sign_in("vic@acme.test", "vic's long password 7")
            .await
            .status,
        200
    );

    // One network guessing: held after 5, and only that network is.
    let mut guesser = from("6.6.6.6");
    for attempt in 0..7 {
        guesser.sign_in("vic@acme.test", &format!("guess {attempt}")).await;
    }
    assert_refused(
        &guesser.sign_in("vic@acme.test", "vic's long password 7").await,
        429,
        "too_many_requests",
    );
    assert_eq!(
        from("198.51.100.8")
            .sign_in("vic@acme.test", "vic's long password 7")
            .await
            .status,
        200,
        "the owner at home (same /24) is not held by someone else's failures"
    );

    // Many networks, two guesses each: past the account's allowance of 20
    // from everywhere, a new network is held even before its own first
    // failure; the owner from home is not.
    let mut checked = 0;
    let mut held = 0;
    for network in 1..=20 {
        let mut bot = from(&format!("7.7.{network}.1"));
        for attempt in 0..2 {
            match bot
                .sign_in("vic@acme.test", &format!("bot {network} {attempt}"))
                .await
                .status
                .as_u16()
            {
                401 => checked += 1,
                429 => held += 1,
                other => panic!("unexpected {other}"),
            }
        }
    }
    assert!(
        held > 0,
        "a crowd of networks was never held ({checked} guesses checked)"
    );
    assert!(checked <= 21, "{checked} guesses checked from many networks");
    assert_refused(
        &from("9.9.9.9").sign_in("vic@acme.test", "vic's long password 7").await,
        429,
        "too_many_requests",
    );
    assert_eq!(
        from("198.51.100.7")
            .sign_in("vic@acme.test", "vic's long password 7")
            .await
            .status,
        200,
        "the owner at home is never locked out"
    );
}
