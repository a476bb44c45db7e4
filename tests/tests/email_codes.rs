//! Signing in with a code sent by email (decision 0028), over HTTP against
//! a real `warden serve` and a real SMTP server (aiosmtpd): the code
//! arrives and signs in once; its tries, its time, its address and the
//! hourly limits hold; unknown addresses are answered alike and never
//! mailed; a second factor is still asked for; no code is ever in clear in
//! the log, the audit index or the server's log. The rules themselves are
//! tabled in `core/src/auth/email_code.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::json;
use warden_tests::email::{PASSWORD, assert_answered_alike, finish, offer_email_codes, start, with_smtp, wrong};
use warden_tests::mfa::{early_in_step, enrol, oathtool};
use warden_tests::web::{WebClient, assert_refused, create_user, events, set_up};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_signs_in_once_within_its_tries_its_address_and_the_hourly_limits() {
    let (instance, smtp) = with_smtp(&[]).await;
    let mut owner = set_up(&instance.server).await;
    let sam_id = create_user(&mut owner, "sam@acme.test", "member", PASSWORD).await;
    create_user(&mut owner, "pat@acme.test", "member", PASSWORD).await;
    let mut sam = WebClient::new(&instance.server);

    // Off until the org turns it on: answered alike, nothing sent.
    let answer = start(&mut sam, "sam@acme.test").await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    offer_email_codes(&mut owner).await;
    let policy = owner.get("/api/v1/org/mfa-policy").await;
    assert_eq!(policy.body["methods"]["email_code"]["allowed"], true);

    // The code arrives and is the one way in: three tries, then none.
    assert_eq!(start(&mut sam, "Sam@Acme.test").await.status, 202);
    let first = smtp.code_sent("sam@acme.test", 1).await;
    assert_eq!(
        smtp.messages_to("sam@acme.test").len(),
        1,
        "the code asked before the switch was not sent"
    );
    let mail = &smtp.messages_to("sam@acme.test")[0];
    assert_eq!(mail["subject"], "Your sign-in code");
    assert!(mail["html"].as_str().unwrap().contains(&first));
    let refused = finish(&mut sam, "sam@acme.test", &wrong(&first)).await;
    assert_refused(&refused, 401, "invalid_code");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2 tries left")
    );
    let refused = finish(&mut sam, "sam@acme.test", "not a code").await;
    assert_refused(&refused, 401, "invalid_code");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1 try left")
    );
    assert_refused(
        &finish(&mut sam, "sam@acme.test", &wrong(&first)).await,
        401,
        "too_many_attempts",
    );
    // The fourth try, even with the right code, is refused.
    assert_refused(
        &finish(&mut sam, "sam@acme.test", &first).await,
        401,
        "too_many_attempts",
    );

    // A new code replaces the old one; it opens no other address.
    assert_eq!(start(&mut sam, "sam@acme.test").await.status, 202);
    let second = smtp.code_sent("sam@acme.test", 2).await;
    let mut pat = WebClient::new(&instance.server);
    assert_refused(&finish(&mut pat, "pat@acme.test", &second).await, 401, "invalid_code");
    assert_eq!(start(&mut pat, "pat@acme.test").await.status, 202);
    let pats = smtp.code_sent("pat@acme.test", 1).await;
    assert_refused(&finish(&mut pat, "pat@acme.test", &second).await, 401, "invalid_code");
    assert_refused(&finish(&mut sam, "sam@acme.test", &first).await, 401, "invalid_code");

    // The right code signs in, once. Five wrong tries for one address
    // are also the sign-in throttle's free allowance (codes and passwords
    // count together): the next try waits its Retry-After.
    let typed = format!(" {}-{} ", &second[..4], &second[4..]);
    let mut signed_in = finish(&mut sam, "sam@acme.test", &typed).await;
    if signed_in.status == 429 {
        let wait: u64 = signed_in.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(wait <= 2, "{wait}");
        tokio::time::sleep(Duration::from_secs(wait)).await;
        signed_in = finish(&mut sam, "sam@acme.test", &typed).await;
    }
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    let session = sam.get("/api/v1/session").await;
    assert_eq!(session.status, 200);
    assert_eq!(session.body["user"]["id"], sam_id.as_str());
    assert_eq!(session.body["session"]["assurance"]["methods"], json!(["email_code"]));
    let mut again = WebClient::new(&instance.server);
    assert_refused(&finish(&mut again, "sam@acme.test", &second).await, 401, "code_used");

    // Three codes an hour for an address (two asked already, one before
    // the switch): the fourth waits, known address or not.
    let limited = start(&mut sam, "sam@acme.test").await;
    assert_refused(&limited, 429, "too_many_requests");
    let retry_after: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((3000..=3600).contains(&retry_after), "{retry_after}");
    let mut stranger = WebClient::new(&instance.server);
    for _ in 0..3 {
        assert_eq!(start(&mut stranger, "nobody@acme.test").await.status, 202);
    }
    let unknown = start(&mut stranger, "nobody@acme.test").await;
    assert_refused(&unknown, 429, "too_many_requests");
    assert_refused(
        &finish(&mut stranger, "nobody@acme.test", &second).await,
        401,
        "invalid_code",
    );

    // Hostile input: a clear 400 with the request id.
    for body in [
        json!({ "email": "not an address" }),
        json!({ "email": "a@b" }),
        json!({ "email": " sam@acme.test" }),
        json!({ "email": format!("{}@acme.test", "a".repeat(320)) }),
        json!({ "email": "sam@acme.test", "extra": 1 }),
        json!({ "email": 7 }),
    ] {
        let answer = stranger.post("/api/v1/sign-in/email/start", body.clone()).await;
        assert!(
            answer.status == 400 || answer.status == 422,
            "{body}: {:?}",
            answer.body
        );
        assert!(answer.body["error"]["request_id"].is_string(), "{body}");
    }

    // Only accounts were mailed: sam twice, pat once, nobody never.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut recipients: Vec<String> = smtp
        .messages()
        .iter()
        .map(|message| message["to"].as_str().unwrap().to_string())
        .collect();
    recipients.sort();
    assert_eq!(recipients.len(), 3, "{recipients:?}");
    assert!(recipients.iter().all(|to| !to.contains("nobody")));

    // Every email is an event, its code in no event, no index, no log.
    let log = events(&instance);
    let kinds = |kind: &str| log.iter().filter(|event| event["kind"] == kind).count();
    assert_eq!(kinds("email.queued"), 3);
    assert_eq!(kinds("email.sent"), 3);
    // Sam 3 (one before the switch), Pat 1, nobody 3.
    assert_eq!(
        kinds("email_code.issued"),
        3 + 1 + 3,
        "unknown and switched-off addresses are recorded"
    );
    assert_eq!(kinds("email_code.used"), 1);
    let sent = log.iter().find(|event| event["kind"] == "email.sent").unwrap();
    assert_eq!(sent["data"]["template"], "sign_in_code");
    assert_eq!(sent["data"]["user"], sam_id.as_str());
    let text = serde_json::to_string(&log).unwrap();
    let server_log = instance.server.log();
    for code in [&first, &second, &pats] {
        assert!(!text.contains(code.as_str()), "a code is in the log");
        assert!(!server_log.contains(code.as_str()), "a code is in the server log");
        let found = owner.get(&format!("/api/v1/audit/events?q={code}")).await;
        assert_eq!(found.status, 200, "{:?}", found.body);
        assert_eq!(
            found.body["events"].as_array().unwrap().len(),
            0,
            "a code is in the audit index"
        );
    }
    assert!(
        !text.contains("sam@acme.test\",\"subject\""),
        "an envelope is in the log in clear"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_code_is_refused_a_second_factor_is_still_asked_for_and_a_refused_address_bounces() {
    let (instance, smtp) = with_smtp(&[("WARDEN_EMAIL_CODE_TTL_SECONDS", "2")]).await;
    let mut owner = set_up(&instance.server).await;
    offer_email_codes(&mut owner).await;
    create_user(&mut owner, "sam@acme.test", "member", PASSWORD).await;
    let mut sam = WebClient::new(&instance.server);
    assert_eq!(start(&mut sam, "sam@acme.test").await.status, 202);
    let code = smtp.code_sent("sam@acme.test", 1).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_refused(&finish(&mut sam, "sam@acme.test", &code).await, 401, "code_expired");

    // The owner has an authenticator app: a code is a first factor only.
    let at = early_in_step().await;
    let enrolled = enrol(&mut owner, at).await;
    let mut device = WebClient::new(&instance.server);
    assert_eq!(start(&mut device, "owner@acme.test").await.status, 202);
    let code = smtp.code_sent("owner@acme.test", 1).await;
    let partial = finish(&mut device, "owner@acme.test", &code).await;
    assert_eq!(partial.status, 200, "{:?}", partial.body);
    assert_eq!(
        partial.body["session"]["pending"]["step"], "second_factor",
        "{:?}",
        partial.body
    );
    assert_refused(&device.get("/api/v1/session").await, 403, "second_factor_required");
    // A mail server that refuses the address for good: bounced at once,
    // never retried, and nothing of the email left readable.
    create_user(&mut owner, "bounce.sam@acme.test", "member", PASSWORD).await;
    assert_eq!(start(&mut sam, "bounce.sam@acme.test").await.status, 202);
    let deadline = Instant::now() + Duration::from_secs(30);
    let bounced = loop {
        let log = events(&instance);
        if let Some(bounced) = log.iter().find(|event| event["kind"] == "email.bounced") {
            assert!(
                !log.iter().any(|event| event["kind"] == "email.failed"),
                "a 550 is not retried"
            );
            break bounced.clone();
        }
        assert!(Instant::now() < deadline, "no email.bounced");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(bounced["data"]["attempt"], 1);
    assert_eq!(bounced["data"]["error"], "the mail server answered 550");
    assert_eq!(bounced["outcome"], "failure");
    assert!(
        !bounced.to_string().contains("bounce.sam@"),
        "the address is not in the event"
    );
    // The admin sees how the user's email went; nobody else does.
    let bounce_id = owner.user_id("bounce.sam@acme.test").await;
    let emails = owner.get(&format!("/api/v1/users/{bounce_id}/emails")).await;
    assert_eq!(emails.status, 200, "{:?}", emails.body);
    let email = &emails.body["emails"][0];
    assert_eq!(
        (email["template"].as_str(), email["state"].as_str()),
        (Some("sign_in_code"), Some("bounced"))
    );
    assert_eq!(email["last_error"], "the mail server answered 550");
    assert!(!emails.body.to_string().contains("bounce.sam@"));
    let sam_id = owner.user_id("sam@acme.test").await;
    let sams = owner.get(&format!("/api/v1/users/{sam_id}/emails")).await;
    assert_eq!(sams.body["emails"][0]["state"], "sent", "{:?}", sams.body);
    let mut member = WebClient::new(&instance.server);
    member.sign_in("sam@acme.test", PASSWORD).await;
    assert_refused(
        &member.get(&format!("/api/v1/users/{sam_id}/emails")).await,
        403,
        "forbidden",
    );
    assert_refused(
        &owner
            .get("/api/v1/users/0193f1a2-7c4e-7b21-9a3d-5e8f0c1b2a01/emails")
            .await,
        404,
        "not_found",
    );

    let at = early_in_step().await;
    let verified = device
        .post("/api/v1/mfa/verify", json!({ "code": oathtool(&enrolled.secret, at) }))
        .await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    assert_eq!(
        verified.body["session"]["assurance"]["methods"],
        json!(["email_code", "totp"])
    );
}

/// No enumeration by time: the median answer to a known address and to
/// an unknown one differ by less than 5 % (200 of each, interleaved, each
/// from its own client address so no limit is met).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_and_unknown_addresses_are_answered_in_the_same_time() {
    let (instance, smtp) = with_smtp(&[("WARDEN_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let mut owner = set_up(&instance.server).await;
    offer_email_codes(&mut owner).await;
    const USERS: usize = 67;
    for n in 0..USERS {
        create_user(&mut owner, &format!("user{n}@acme.test"), "member", PASSWORD).await;
    }
    assert_answered_alike(&instance, &smtp, "/api/v1/sign-in/email/start", USERS).await;
}
