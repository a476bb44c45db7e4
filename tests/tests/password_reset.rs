//! Account recovery (decision 0028), over HTTP against a real
//! `warden serve` and a real SMTP server (aiosmtpd): a reset link asked
//! for by email resets once, ends every session and signs nobody in (a
//! second factor is still asked for); unknown addresses are answered
//! alike and never mailed; the hourly limits hold; an admin's link needs
//! a recent strong authentication and a reason; the operator's
//! break-glass link works once and is in the audit trail; no token is
//! ever in clear in the log, the audit index or the server's log. The
//! rules are tabled in `core/src/auth/recovery.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::{Value, json};
use warden_tests::audit::{LEGACY_PASSWORD, two_orgs};
use warden_tests::email::{PASSWORD, assert_answered_alike, forgot, reset, reset_token, smtp_env, with_smtp};
use warden_tests::mfa::{early_in_step, enrol};
use warden_tests::peers::SmtpSink;
use warden_tests::web::{WebClient, assert_refused, create_user, events, set_up};

const NEW_PASSWORD: &str = "a brand new password 8";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_link_resets_once_signs_out_everywhere_and_signs_nobody_in() {
    let (instance, smtp) = with_smtp(&[]).await;
    let mut owner = set_up(&instance.server).await;
    let sam_id = create_user(&mut owner, "sam@acme.test", "member", PASSWORD).await;
    let mut laptop = WebClient::new(&instance.server);
    let mut phone = WebClient::new(&instance.server);
    assert_eq!(laptop.sign_in("sam@acme.test", PASSWORD).await.status, 200);
    assert_eq!(phone.sign_in("sam@acme.test", PASSWORD).await.status, 200);

    // Asked for by a stranger's browser: the same answer for every
    // address, and mail for the account only.
    let mut anyone = WebClient::new(&instance.server);
    let asked = forgot(&mut anyone, "Sam@Acme.test").await;
    assert_eq!(asked.status, 202, "{:?}", asked.body);
    assert_eq!(asked.body["expires_in_seconds"], 1800);
    let unknown = forgot(&mut anyone, "nobody@acme.test").await;
    assert_eq!(unknown.status, 202);
    assert_eq!(unknown.body, asked.body);
    let token = reset_token(&smtp, "sam@acme.test", 1).await;
    let mail = &smtp.messages_to("sam@acme.test")[0];
    assert_eq!(mail["subject"], "Reset your password");
    assert!(mail["html"].as_str().unwrap().contains(&token));

    // A weak password is refused and the link still works.
    assert_refused(&reset(&mut anyone, &token, "short").await, 422, "weak_password");
    assert_refused(&reset(&mut anyone, &token, "sam@acme.test").await, 422, "weak_password");
    // The link resets: every session of Sam ends, nobody is signed in.
    let done = reset(&mut anyone, &token, NEW_PASSWORD).await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_eq!(done.body["status"], "reset");
    assert!(done.headers.get("set-cookie").is_none(), "a reset signs nobody in");
    assert_refused(&anyone.get("/api/v1/session").await, 401, "session_required");
    for device in [&mut laptop, &mut phone] {
        assert_eq!(device.get("/api/v1/session").await.status, 401);
    }
    // The old password is gone, the new one signs in.
    let mut fresh = WebClient::new(&instance.server);
    assert_refused(
        &fresh.sign_in("sam@acme.test", PASSWORD).await,
        401,
        "invalid_credentials",
    );
    assert_eq!(fresh.sign_in("sam@acme.test", NEW_PASSWORD).await.status, 200);
    // Sam is told, without the link.
    let told = smtp
        .mail_to_where("sam@acme.test", 1, |mail| {
            mail["subject"] == "Your password was changed"
        })
        .await;
    assert!(!told.to_string().contains(&token));
    // Once only.
    assert_refused(
        &reset(&mut anyone, &token, "yet another password 9").await,
        403,
        "link_used",
    );

    // Only the newest link works; three an hour for an address, known or
    // not; then a Retry-After.
    assert_eq!(forgot(&mut anyone, "sam@acme.test").await.status, 202);
    let older = reset_token(&smtp, "sam@acme.test", 2).await;
    assert_eq!(forgot(&mut anyone, "sam@acme.test").await.status, 202);
    let newest = reset_token(&smtp, "sam@acme.test", 3).await;
    assert_refused(
        &reset(&mut anyone, &older, "yet another password 9").await,
        403,
        "invalid_link",
    );
    let limited = forgot(&mut anyone, "sam@acme.test").await;
    assert_refused(&limited, 429, "too_many_requests");
    let retry_after: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((3000..=3600).contains(&retry_after), "{retry_after}");
    for _ in 0..2 {
        assert_eq!(forgot(&mut anyone, "nobody@acme.test").await.status, 202);
    }
    assert_refused(&forgot(&mut anyone, "nobody@acme.test").await, 429, "too_many_requests");
    let done = reset(&mut anyone, &newest, "yet another password 9").await;
    assert_eq!(done.status, 200, "{:?}", done.body);

    // Hostile input: a clear 4xx with the request id.
    for (path, body) in [
        ("/api/v1/password-reset/start", json!({ "email": "not an address" })),
        ("/api/v1/password-reset/start", json!({ "email": " sam@acme.test" })),
        ("/api/v1/password-reset/start", json!({ "email": 7 })),
        (
            "/api/v1/password-reset/start",
            json!({ "email": "sam@acme.test", "x": 1 }),
        ),
        (
            "/api/v1/password-reset/finish",
            json!({ "token": "nope", "password": NEW_PASSWORD }),
        ),
        (
            "/api/v1/password-reset/finish",
            json!({ "token": "a".repeat(43), "password": NEW_PASSWORD }),
        ),
        (
            "/api/v1/password-reset/finish",
            json!({ "token": "\u{0}", "password": NEW_PASSWORD }),
        ),
        ("/api/v1/password-reset/finish", json!({ "token": newest })),
    ] {
        let answer = anyone.post(path, body.clone()).await;
        assert!(answer.status.is_client_error(), "{body}: {:?}", answer.body);
        assert!(answer.body["error"]["request_id"].is_string(), "{body}");
    }

    // No link's token is in the audit index.
    for token in [&token, &older, &newest] {
        for word in index_words(token) {
            let found = owner.get(&format!("/api/v1/audit/events?q={word}")).await;
            assert_eq!(found.status, 200, "{:?}", found.body);
            assert_eq!(
                found.body["events"].as_array().unwrap().len(),
                0,
                "a token is in the index"
            );
        }
    }

    // The owner has an authenticator app: the reset does not get past it.
    let at = early_in_step().await;
    enrol(&mut owner, at).await;
    assert_eq!(forgot(&mut anyone, "owner@acme.test").await.status, 202);
    let owners = reset_token(&smtp, "owner@acme.test", 1).await;
    assert_eq!(reset(&mut anyone, &owners, NEW_PASSWORD).await.status, 200);
    assert_eq!(owner.get("/api/v1/session").await.status, 401);
    let partial = fresh_sign_in(&instance.server, "owner@acme.test", NEW_PASSWORD).await;
    assert_eq!(
        partial.body["session"]["pending"]["step"], "second_factor",
        "{:?}",
        partial.body
    );

    // Every step is an event; no token is in clear anywhere.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = events(&instance);
    let kinds = |kind: &str| log.iter().filter(|event| event["kind"] == kind).count();
    assert_eq!(kinds("password_reset.requested"), 3 + 3 + 1, "known and unknown");
    assert_eq!(kinds("password_reset.issued"), 4);
    assert_eq!(kinds("password_reset.used"), 3);
    assert!(kinds("password_reset.refused") >= 2);
    let used = log.iter().find(|event| event["kind"] == "password_reset.used").unwrap();
    assert_eq!(used["data"]["user"], sam_id.as_str());
    assert_eq!(used["data"]["sessions_revoked"], 2);
    let reset_reasons = log
        .iter()
        .filter(|event| event["kind"] == "password.set" && event["data"]["reason"] == "reset")
        .count();
    assert_eq!(reset_reasons, 3);
    let revoked = log
        .iter()
        .filter(|event| event["kind"] == "session.revoked" && event["data"]["reason"] == "password_reset")
        .count();
    assert!(revoked >= 3, "{revoked}");
    let text = serde_json::to_string(&log).unwrap();
    let server_log = instance.server.log();
    for token in [&token, &older, &newest, &owners] {
        assert!(!text.contains(token.as_str()), "a token is in the log");
        assert!(!server_log.contains(token.as_str()), "a token is in the server log");
    }
    // Nobody was mailed but the accounts.
    assert!(smtp.messages_to("nobody@").is_empty());
}

/// The words of a token the audit index would hold, were it there: the
/// index splits text on anything not a letter or digit and drops words
/// of 40 bytes and more (`projections/src/audit/schema.rs`).
fn index_words(token: &str) -> Vec<&str> {
    token
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| (6..40).contains(&word.len()))
        .collect()
}

async fn fresh_sign_in(
    server: &warden_tests::process::Server,
    email: &str,
    password: &str,
) -> warden_tests::web::Answer {
    let mut client = WebClient::new(server);
    let answer = client.sign_in(email, password).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_send_links_and_reset_factors_and_the_operator_breaks_glass() {
    let smtp = SmtpSink::start().await;
    let mut env = smtp_env(&smtp);
    env.push(("WARDEN_STEP_UP_MAX_AGE_SECONDS".into(), "15".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(key, value)| (key.as_str(), value.as_str())).collect();
    let instance = two_orgs(&env).await;
    let server = &instance.server;
    let signed_in = |email: &'static str| async move {
        let mut client = WebClient::new(server);
        let answer = client.sign_in(email, LEGACY_PASSWORD).await;
        assert_eq!(answer.status, 200, "{email}: {:?}", answer.body);
        client
    };
    // Everything that needs a recent strong authentication happens within
    // the 15 s after these sign-ins, in one TOTP step.
    let at = early_in_step().await;
    let mut member = signed_in("member@acme.test").await;
    let mut globex_owner = signed_in("owner@globex.test").await;
    let mut admin = signed_in("admin@acme.test").await;
    let mut owner = signed_in("owner@acme.test").await;
    enrol(&mut member, at).await;
    let member_id = owner.user_id("member@acme.test").await;
    let owner_id = owner.user_id("owner@acme.test").await;
    let admin_id = owner.user_id("admin@acme.test").await;
    let globex_member_id = globex_owner.user_id("member@globex.test").await;
    let send: fn(&str) -> String = |id| format!("/api/v1/users/{id}/password-reset");
    let reset_factors: fn(&str) -> String = |id| format!("/api/v1/users/{id}/second-factors/reset");
    let why = json!({ "reason": "locked out, ticket 7" });

    // An admin sends a member a link: the answer never holds it; the
    // member's mailbox does.
    let sent = admin.post(&send(&member_id), why.clone()).await;
    assert_eq!(sent.status, 202, "{:?}", sent.body);
    assert!(sent.body["link"].is_string() && sent.body["expires_at"].is_string());
    let token = reset_token(&smtp, "member@acme.test", 1).await;
    assert!(!sent.body.to_string().contains(&token));

    // The role matrix, other orgs, the reason, CSRF: for both.
    for path in [send, reset_factors] {
        assert_refused(&admin.post(&path(&owner_id), why.clone()).await, 403, "forbidden");
        assert_refused(&admin.post(&path(&admin_id), why.clone()).await, 403, "forbidden");
        assert_refused(&member.post(&path(&admin_id), why.clone()).await, 403, "forbidden");
        assert_refused(
            &owner.post(&path(&globex_member_id), why.clone()).await,
            404,
            "not_found",
        );
        for reason in [json!({}), json!({ "reason": "" }), json!({ "reason": "x\u{7}y z" })] {
            let answer = owner.post(&path(&member_id), reason.clone()).await;
            assert!(
                answer.status == 400 || answer.status == 422,
                "{reason}: {:?}",
                answer.body
            );
            assert!(answer.body["error"]["request_id"].is_string());
        }
        let mut no_token = owner.clone();
        no_token.csrf = None;
        assert_refused(
            &no_token.post(&path(&member_id), why.clone()).await,
            403,
            "csrf_refused",
        );
    }

    // The member lost their authenticator: the owner removes it, and the
    // member's sessions end.
    let removed = owner.post(&reset_factors(&member_id), why.clone()).await;
    assert_eq!(removed.status, 200, "{:?}", removed.body);
    assert_eq!(removed.body["totp"], true);
    assert_eq!(removed.body["backup_codes"], true);
    assert_eq!(removed.body["passkeys"], 0);
    assert!(removed.body["sessions_revoked"].as_u64().unwrap() >= 1);
    assert_eq!(member.get("/api/v1/session").await.status, 401);
    assert_refused(
        &owner.post(&reset_factors(&member_id), why.clone()).await,
        409,
        "no_second_factor",
    );
    assert_eq!(owner.post(&send(&admin_id), why.clone()).await.status, 202);
    // The owner sets up an authenticator too (lost later, below).
    enrol(&mut owner, at).await;
    // A stale session confirms who it is first.
    tokio::time::sleep(Duration::from_millis(15_500)).await;
    for path in [send, reset_factors] {
        assert_refused(
            &owner.post(&path(&admin_id), why.clone()).await,
            403,
            "reauthentication_required",
        );
    }

    // Without factors the member signs in with the password alone; the
    // link resets once and ends that session too.
    let mut member = signed_in("member@acme.test").await;
    let session = member.get("/api/v1/session").await;
    assert_eq!(session.status, 200, "{:?}", session.body);
    let mut anyone = WebClient::new(server);
    assert_eq!(reset(&mut anyone, &token, NEW_PASSWORD).await.status, 200);
    assert_eq!(member.get("/api/v1/session").await.status, 401);
    assert_refused(&reset(&mut anyone, &token, NEW_PASSWORD).await, 403, "link_used");

    // Break-glass: the only owner lost their password and authenticator;
    // the operator prints a link and removes the factors.
    let refused = instance
        .env
        .run(&["users", "recover", "--email", "owner@acme.test", "--reason", "x"]);
    assert!(!refused.status.success());
    let unknown = instance.env.run(&[
        "users",
        "recover",
        "--email",
        "nobody@acme.test",
        "--reason",
        "only owner locked out",
    ]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no user has the address"));
    let printed = instance.env.run(&[
        "users",
        "recover",
        "--email",
        "Owner@Acme.test",
        "--reason",
        "only owner locked out",
        "--second-factors",
    ]);
    assert!(printed.status.success(), "{}", String::from_utf8_lossy(&printed.stderr));
    let link = String::from_utf8(printed.stdout).unwrap().trim().to_string();
    // On Warden's public_url (unset here: the default listen address).
    assert!(link.contains("/reset-password?token="), "{link}");
    let break_glass = link.split("token=").nth(1).unwrap().to_string();
    // The server reads the operator's append from the log.
    let mut done = reset(&mut anyone, &break_glass, NEW_PASSWORD).await;
    for _ in 0..40 {
        if done.status != 403 || done.body["error"]["code"] != "invalid_link" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        done = reset(&mut anyone, &break_glass, NEW_PASSWORD).await;
    }
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_refused(&reset(&mut anyone, &break_glass, NEW_PASSWORD).await, 403, "link_used");
    assert_eq!(owner.get("/api/v1/session").await.status, 401);
    let mut back = WebClient::new(server);
    let signed_back = back.sign_in("owner@acme.test", NEW_PASSWORD).await;
    assert_eq!(signed_back.status, 200, "{:?}", signed_back.body);
    assert!(
        signed_back.body["session"]["pending"].is_null(),
        "{:?}",
        signed_back.body
    );

    // In the audit trail: who, why, and the OS user; never the token.
    let log = events(&instance);
    let issued: Vec<&Value> = log
        .iter()
        .filter(|event| event["kind"] == "password_reset.issued")
        .collect();
    assert_eq!(issued.len(), 3);
    let by_admin = issued[0];
    assert_eq!(by_admin["data"]["issuer"], "admin");
    assert_eq!(by_admin["data"]["reason"], "locked out, ticket 7");
    assert_eq!(by_admin["actor"]["kind"], "user");
    assert_eq!(by_admin["actor"]["id"], admin_id.as_str());
    let by_operator = issued[2];
    assert_eq!(by_operator["actor"]["kind"], "system");
    assert_eq!(by_operator["data"]["issuer"], "operator");
    assert_eq!(by_operator["data"]["reason"], "only owner locked out");
    assert!(
        by_operator["data"]["os_user"]
            .as_str()
            .is_some_and(|user| !user.is_empty())
    );
    let resets: Vec<&Value> = log.iter().filter(|event| event["kind"] == "mfa.reset").collect();
    assert_eq!(resets.len(), 2);
    assert_eq!(resets[0]["actor"]["id"], owner_id.as_str());
    assert_eq!(resets[0]["data"]["user"], member_id.as_str());
    assert_eq!(resets[1]["actor"]["kind"], "system");
    assert_eq!(resets[1]["data"]["user"], owner_id.as_str());
    assert!(resets[1]["data"]["os_user"].is_string());
    let query = format!(
        "/api/v1/audit/events?kind=password_reset.issued&subject={}",
        by_operator["subject"].as_str().unwrap()
    );
    let mut found = back.get(&query).await;
    for _ in 0..40 {
        if found.body["events"].as_array().is_some_and(|events| !events.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        found = back.get(&query).await;
    }
    assert_eq!(found.status, 200, "{:?}", found.body);
    assert_eq!(found.body["events"].as_array().unwrap().len(), 1, "{:?}", found.body);
    let text = serde_json::to_string(&log).unwrap();
    for token in [&token, &break_glass] {
        assert!(!text.contains(token.as_str()));
        assert!(!server.log().contains(token.as_str()));
        for word in index_words(token) {
            let searched = back.get(&format!("/api/v1/audit/events?q={word}")).await;
            assert_eq!(
                searched.body["events"].as_array().unwrap().len(),
                0,
                "{:?}",
                searched.body
            );
        }
    }
}

/// No enumeration by time: the median answer to a reset request for a
/// known address and for an unknown one differ by less than 5 % (200 of
/// each, interleaved, each from its own client address so no limit is
/// met).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_links_are_asked_for_in_the_same_time_for_known_and_unknown_addresses() {
    let (instance, smtp) = with_smtp(&[("WARDEN_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let mut owner = set_up(&instance.server).await;
    const USERS: usize = 67;
    for n in 0..USERS {
        create_user(&mut owner, &format!("user{n}@acme.test"), "member", PASSWORD).await;
    }
    assert_answered_alike(&instance, &smtp, "/api/v1/password-reset/start", USERS).await;
}
