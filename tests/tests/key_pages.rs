//! The API-key console attacked over HTTP (the walk in Chromium is
//! `browser.rs`'s): the role matrix, another org's keys, CSRF, a stale
//! session on the actions that need a step-up, hostile input, and the
//! secret shown in the answer to its creation only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use warden_tests::audit::{page_signed_in, two_orgs};
use warden_tests::keys::{application, code};
use warden_tests::web::{Forms, confirm_page, field};

/// Creates a key from the form; its id and secret.
async fn create(forms: &Forms, cookie: &str, name: &str) -> (String, String) {
    let (_, page) = forms.html("/keys", cookie).await;
    let (csrf, id) = (field(&page, "csrf_token"), field(&page, "id"));
    let created = forms
        .post(
            "/keys",
            Some(cookie),
            &[("csrf_token", &csrf), ("id", &id), ("kind", "app"), ("name", name)],
        )
        .await;
    assert_eq!(created.status(), 201);
    let page = created.text().await.unwrap();
    let secret = page
        .split("<code id=\"secret\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    (id, secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_and_admins_act_auditors_read_members_and_other_orgs_see_nothing() {
    let instance = two_orgs(&[]).await;
    let forms = Forms::new(&instance.server);
    let owner = page_signed_in(&forms, "owner@acme.test").await;
    let (id, secret) = create(&forms, &owner, "Billing <script>alert(1)</script>").await;

    // The list and the key's page: escaped, and never the secret.
    for path in ["/keys".to_string(), format!("/keys/{id}")] {
        let (status, page) = forms.html(&path, &owner).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            page.contains("Billing &#60;script&#62;") || page.contains("Billing &lt;script&gt;"),
            "{path}: escaped: {page}"
        );
        assert!(!page.contains("<script>alert"), "{path}");
        assert!(!page.contains(&secret[24..67]), "{path}: the secret is shown once");
    }

    let admin = page_signed_in(&forms, "admin@acme.test").await;
    let (status, page) = forms.html(&format!("/keys/{id}"), &admin).await;
    assert_eq!(status, 200);
    assert!(page.contains("Rotate the key"), "admins act");

    let auditor = page_signed_in(&forms, "auditor@acme.test").await;
    let (status, page) = forms.html("/keys", &auditor).await;
    assert_eq!(status, 200);
    assert!(!page.contains("Create a key"), "auditors read only");
    let csrf = field(&page, "csrf_token");
    let (_, page) = forms.html(&format!("/keys/{id}"), &auditor).await;
    assert!(!page.contains("Rotate the key") && !page.contains("revoke-link"));
    let refused = forms
        .post(
            "/keys",
            Some(&auditor),
            &[
                ("csrf_token", &csrf),
                ("id", "AAAAAAAAAAAAAAAB"),
                ("kind", "app"),
                ("name", "x"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 403);
    let refused = forms
        .post(&format!("/keys/{id}/revoke"), Some(&auditor), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(
        forms.get(&format!("/keys/{id}/revoke"), Some(&auditor)).await.status(),
        403
    );

    let member = page_signed_in(&forms, "member@acme.test").await;
    assert_eq!(forms.get("/keys", Some(&member)).await.status(), 403);
    assert_eq!(forms.get(&format!("/keys/{id}"), Some(&member)).await.status(), 403);

    // Another org's owner: the key does not exist for them.
    let stranger = page_signed_in(&forms, "owner@globex.test").await;
    let (status, page) = forms.html(&format!("/keys/{id}"), &stranger).await;
    assert_eq!(status, 404);
    assert!(!page.contains("Billing"));
    let (_, page) = forms.html("/keys", &stranger).await;
    assert!(!page.contains("Billing"));
    let csrf = field(&page, "csrf_token");
    for action in ["revoke", "rotate"] {
        let refused = forms
            .post(
                &format!("/keys/{id}/{action}"),
                Some(&stranger),
                &[("csrf_token", &csrf), ("version", "1"), ("grace_seconds", "0")],
            )
            .await;
        assert_eq!(refused.status(), 404, "{action}");
    }
    // Nor can they take its id for a key of their own.
    let taken = forms
        .post(
            "/keys",
            Some(&stranger),
            &[("csrf_token", &csrf), ("id", &id), ("kind", "app"), ("name", "mine")],
        )
        .await;
    assert_eq!(taken.status(), 409);
    let mut app = application(&instance.server);
    assert_eq!(code(&mut app, &secret, &[]).await, "valid", "the key is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_need_their_token_and_creation_and_rotation_a_recent_sign_in() {
    let instance = two_orgs(&[("WARDEN_STEP_UP_MAX_AGE_SECONDS", "2")]).await;
    let forms = Forms::new(&instance.server);
    let owner = page_signed_in(&forms, "owner@acme.test").await;
    let (id, secret) = create(&forms, &owner, "Billing").await;
    let (_, page) = forms.html(&format!("/keys/{id}"), &owner).await;
    let (csrf, version) = (field(&page, "csrf_token"), field(&page, "version"));

    // Without the session's token: refused, nothing done.
    let refused = forms
        .post(
            "/keys",
            Some(&owner),
            &[("id", "AAAAAAAAAAAAAAAC"), ("kind", "app"), ("name", "x")],
        )
        .await;
    assert_eq!(refused.status(), 403);
    let refused = forms.post(&format!("/keys/{id}/revoke"), Some(&owner), &[]).await;
    assert_eq!(refused.status(), 403);
    let mut app = application(&instance.server);
    assert_eq!(code(&mut app, &secret, &[]).await, "valid");

    // A stale session goes to "Confirm it's you" and back to the page.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let stale = forms
        .post(
            "/keys",
            Some(&owner),
            &[
                ("csrf_token", &csrf),
                ("id", "AAAAAAAAAAAAAAAD"),
                ("kind", "app"),
                ("name", "x"),
            ],
        )
        .await;
    confirm_page(stale, "/keys").await;
    let stale = forms
        .post(
            &format!("/keys/{id}/rotate"),
            Some(&owner),
            &[("csrf_token", &csrf), ("version", &version), ("grace_seconds", "0")],
        )
        .await;
    confirm_page(stale, &format!("/keys/{id}")).await;
    assert_eq!(code(&mut app, &secret, &[]).await, "valid", "not rotated");
    // Revoking a leaked key never waits for a step-up.
    let revoked = forms
        .post(&format!("/keys/{id}/revoke"), Some(&owner), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(revoked.status(), 303);
    assert_eq!(code(&mut app, &secret, &[]).await, "revoked");

    // Hostile form input is refused with its reason, on the page.
    let owner = page_signed_in(&forms, "owner@acme.test").await;
    let (_, page) = forms.html("/keys", &owner).await;
    let (csrf, id) = (field(&page, "csrf_token"), field(&page, "id"));
    for (name, value, reason) in [
        ("limits", "per_minute; 100; 60", "limits:"),
        ("expires_on", "tomorrow", "expires on:"),
        ("remaining_uses", "-1", "remaining uses:"),
        ("kind", "root", "kind:"),
        ("scopes", "audit:read\u{0}", "scopes:"),
    ] {
        let mut form = vec![
            ("csrf_token", csrf.as_str()),
            ("id", id.as_str()),
            ("kind", "app"),
            ("name", "x"),
        ];
        form.retain(|(field, _)| *field != name);
        form.push((name, value));
        let refused = forms.post("/keys", Some(&owner), &form).await;
        assert_eq!(refused.status().as_u16() / 100, 4, "{name}");
        let page = refused.text().await.unwrap();
        assert!(page.contains(reason), "{name}: {page}");
        assert!(page.contains(&format!("value=\"{id}\"")), "the form is kept");
    }
}

/// A vendor key's page shows its tickets to those who read the audit
/// trail, each a link to its events; admins see the key, not the trail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_keys_page_lists_its_tickets_for_audit_readers() {
    use serde_json::json;
    use warden_tests::audit::signed_in;

    let instance = two_orgs(&[]).await;
    let mut owner = signed_in(&instance.server, "owner@acme.test").await;
    let (id, text) = warden_tests::keys::create(
        &mut owner,
        json!({ "kind": "vendor", "name": "Helpdesk Co", "ticket_pattern": "^SUP-[0-9]+$",
                "owner": { "kind": "service", "name": "helpdesk" }, "scopes": ["users:write"] }),
    )
    .await;
    let member = owner.user_id("member@acme.test").await;
    let _member_session = signed_in(&instance.server, "member@acme.test").await;
    let mut vendor = warden_tests::web::WebClient::new(&instance.server);
    vendor.origin = None;
    vendor.headers.extend([
        ("authorization".to_string(), format!("Bearer {text}")),
        ("x-actor-user-id".to_string(), member.clone()),
        ("x-ticket-reference".to_string(), "SUP-7".to_string()),
    ]);
    let ended = vendor.delete(&format!("/api/v1/users/{member}/sessions")).await;
    assert_eq!(ended.status, 200, "{:?}", ended.body);

    let forms = Forms::new(&instance.server);
    let cookie = page_signed_in(&forms, "owner@acme.test").await;
    // The index follows the log within about a second.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let page = loop {
        let (status, page) = forms.html(&format!("/keys/{id}"), &cookie).await;
        assert_eq!(status, 200);
        if page.contains("SUP-7") || std::time::Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(page.contains("What the vendor did, per ticket"), "{page}");
    assert!(
        page.contains(&format!("href=\"/audit?actor={id}&amp;ticket=SUP-7\""))
            || page.contains(&format!("href=\"/audit?actor={id}&#38;ticket=SUP-7\"")),
        "{page}"
    );
    assert!(page.contains(&member), "the user acted for");
    let admin = page_signed_in(&forms, "admin@acme.test").await;
    let (_, page) = forms.html(&format!("/keys/{id}"), &admin).await;
    assert!(
        page.contains("Helpdesk Co") && !page.contains("What the vendor did"),
        "admins do not read the trail"
    );
}
