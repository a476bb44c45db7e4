//! Security emails (decision 0028), over HTTP against a real `warden
//! serve` and a real SMTP server (aiosmtpd): an invitation reaches the
//! invited address; a sign-in from a new device, a changed password, a
//! second factor added or removed and a new API key reach the user; each
//! email is queued in the append of its change; an org turns them off
//! (owners and admins only). Which events call for a notice is tabled in
//! `core/src/auth/security_email.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use warden_tests::email::{PASSWORD, with_smtp};
use warden_tests::mfa::{early_in_step, enrol};
use warden_tests::web::{WebClient, assert_refused, create_user, events};

const MAC_CHROME: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const WINDOWS_EDGE: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_told_about_changes_to_their_account_unless_the_org_turns_it_off() {
    let (instance, smtp) = with_smtp(&[]).await;
    let mut owner = warden_tests::web::set_up(&instance.server).await;
    let subjects = |to: &str| smtp.subjects_to(to);

    // An invitation goes to the invited address, with the admin's link.
    let invited = owner
        .post(
            "/api/v1/users",
            json!({"email": "ivy@acme.test", "display_name": "Ivy", "role": "member"}),
        )
        .await;
    assert_eq!(invited.status, 201, "{:?}", invited.body);
    let url = invited.body["invitation_url"].as_str().unwrap();
    let link = smtp.link_sent("ivy@acme.test", 1, "/invitation?token=").await;
    assert_eq!(link, url);
    let mail = smtp.mail_to("ivy@acme.test", 1).await;
    assert_eq!(mail["subject"], "You are invited to Acme");
    assert!(
        mail["text"].as_str().unwrap().contains("Olive Owner invited you"),
        "{mail}"
    );
    let token = link.split("token=").nth(1).unwrap();
    let mut ivy = WebClient::new(&instance.server);
    let accepted = ivy
        .post(
            "/api/v1/invitations/accept",
            json!({"token": token, "password": "ivy's long password 7"}),
        )
        .await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);

    // The first sign-in tells nothing; one from another device does.
    let sam_id = create_user(&mut owner, "sam@acme.test", "member", PASSWORD).await;
    let mut laptop = WebClient::new(&instance.server);
    assert_eq!(laptop.sign_in("sam@acme.test", PASSWORD).await.status, 200);
    assert_eq!(laptop.sign_in("sam@acme.test", PASSWORD).await.status, 200);
    let mut mac = WebClient::new(&instance.server);
    mac.user_agent = MAC_CHROME.into();
    assert_eq!(mac.sign_in("sam@acme.test", PASSWORD).await.status, 200);
    let new_device = smtp.mail_to("sam@acme.test", 1).await;
    assert_eq!(new_device["subject"], "New sign-in to your account");
    let text = new_device["text"].as_str().unwrap();
    assert!(text.contains("Device: Chrome 131 on macOS"), "{text}");
    assert!(text.contains("Network address: 127.0.0.1"), "{text}");
    assert!(new_device["html"].as_str().unwrap().contains("Chrome 131 on macOS"));

    // A changed password, a factor added, a factor removed by the owner,
    // a key made by the owner.
    let changed = mac
        .put(
            "/api/v1/password",
            json!({"current_password": PASSWORD, "new_password": "sam's brand new password 9"}),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    let at = early_in_step().await;
    enrol(&mut mac, at).await;
    let reset = owner
        .post(
            &format!("/api/v1/users/{sam_id}/second-factors/reset"),
            json!({"reason": "lost phone, ticket 12"}),
        )
        .await;
    assert_eq!(reset.status, 200, "{:?}", reset.body);
    let key = owner
        .post(
            "/api/v1/keys",
            json!({"kind": "service", "name": "siem", "scopes": ["users:read"]}),
        )
        .await;
    assert_eq!(key.status, 201, "{:?}", key.body);
    // Every notice arrives; not always in the order of the changes (each
    // is sent as its own append is applied, and two close ones may pass
    // each other on the way to the mail server).
    smtp.mail_to("sam@acme.test", 4).await;
    let mut told = subjects("sam@acme.test");
    told.sort();
    assert_eq!(
        told,
        [
            "A second factor was added to your account",
            "A second factor was removed from your account",
            "New sign-in to your account",
            "Your password was changed",
        ]
    );
    let removed = smtp
        .mail_to_where("sam@acme.test", 1, |mail| {
            mail["subject"] == "A second factor was removed from your account"
        })
        .await;
    let text = removed["text"].as_str().unwrap();
    assert!(
        text.contains("removed by an administrator (reason: lost phone, ticket 12)"),
        "{text}"
    );
    let key_mail = smtp
        .mail_to_where("owner@acme.test", 1, |mail| mail["subject"] == "An API key was created")
        .await;
    assert!(key_mail["text"].as_str().unwrap().contains("Key: siem"), "{key_mail}");
    // No notice carries a secret: not the key, not the TOTP secret.
    let secret = key.body["key"].as_str().unwrap();
    assert!(smtp.messages().iter().all(|mail| !mail.to_string().contains(secret)));

    // Each notice was queued in its change's append.
    let log = events(&instance);
    for (kind, template) in [
        ("device.first_seen", "new_device"),
        ("password.changed", "password_changed"),
        ("mfa.totp.enrolled", "factor_added"),
        ("mfa.reset", "factor_removed"),
        ("api_key.created", "key_created"),
    ] {
        let queued = log
            .iter()
            .find(|event| event["kind"] == "email.queued" && event["data"]["template"] == template)
            .unwrap_or_else(|| panic!("no {template} email"));
        assert!(
            log.iter()
                .any(|event| event["kind"] == kind && event["request_id"] == queued["request_id"]),
            "{template}: no {kind} in its append"
        );
    }

    // The org's switches: owners and admins, a recent strong sign-in.
    let shown = owner.get("/api/v1/org/security-emails").await;
    assert_eq!(shown.status, 200);
    assert_eq!(
        shown.body,
        json!({"invitation": true, "new_device": true, "password_changed": true, "factors": true, "keys": true})
    );
    assert_refused(
        &ivy.put("/api/v1/org/security-emails", json!({"new_device": false}))
            .await,
        403,
        "forbidden",
    );
    let mut no_token = owner.clone();
    no_token.csrf = None;
    assert_refused(
        &no_token
            .put("/api/v1/org/security-emails", json!({"new_device": false}))
            .await,
        403,
        "csrf_refused",
    );
    for bad in [json!({"new_device": "no"}), json!({"unknown": false}), json!([])] {
        let answer = owner.put("/api/v1/org/security-emails", bad.clone()).await;
        assert_eq!(answer.status, 422, "{bad}: {:?}", answer.body);
        assert!(answer.body["error"]["request_id"].is_string());
    }
    let off = owner
        .put(
            "/api/v1/org/security-emails",
            json!({"new_device": false, "invitation": false}),
        )
        .await;
    assert_eq!(off.status, 200, "{:?}", off.body);
    assert_eq!(off.body["new_device"], false);
    assert_eq!(off.body["password_changed"], true);
    let mut windows = WebClient::new(&instance.server);
    windows.user_agent = WINDOWS_EDGE.into();
    assert_eq!(
        windows
            .sign_in("sam@acme.test", "sam's brand new password 9")
            .await
            .status,
        200
    );
    let invited = owner
        .post(
            "/api/v1/users",
            json!({"email": "joe@acme.test", "display_name": "Joe", "role": "member"}),
        )
        .await;
    assert_eq!(invited.status, 201);
    assert!(
        invited.body["invitation_url"].is_string(),
        "the admin still gets the link"
    );
    let log = events(&instance);
    let changed = log
        .iter()
        .find(|event| event["kind"] == "org.security_emails_changed")
        .unwrap();
    assert_eq!(changed["data"]["old"]["new_device"], true);
    assert_eq!(changed["data"]["new"]["new_device"], false);
    assert_eq!(
        log.iter()
            .filter(|event| event["kind"] == "device.first_seen" && event["data"]["user"] == sam_id.as_str())
            .count(),
        3,
        "laptop, mac, windows"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        smtp.messages_to("sam@acme.test").len(),
        4,
        "{:?}",
        subjects("sam@acme.test")
    );
    assert!(smtp.messages_to("joe@acme.test").is_empty());
}
