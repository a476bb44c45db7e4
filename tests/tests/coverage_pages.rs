//! Every page form appends an event: the test posts each form route of
//! routes.rs (outside `/api/`) as a browser would, successfully, and checks
//! that the log grew; a form route the walk does not cover fails it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use serde_json::json;
use warden_tests::coverage::Walk;
use warden_tests::email::reset_token;
use warden_tests::mfa::{early_in_step, oathtool};
use warden_tests::oidc::{OidcProvider, user};
use warden_tests::peers::SmtpSink;
use warden_tests::web::{Forms, OWNER_PASSWORD, WebClient, field, instance, location, page_cookie};

#[path = "coverage_pages/consoles.rs"]
mod consoles;
#[path = "coverage_pages/passkeys.rs"]
mod passkeys;

use consoles::{alert_forms, key_forms, saved_search_forms, secret_forms, sso_forms};
use passkeys::passkey_forms;

/// Every page route with a form: each `page("/path")…post(…)` entry of
/// `routes::table`'s pages (read from routes.rs: the tests do not link
/// the API crate).
fn page_forms() -> BTreeSet<String> {
    // One line per route whatever rustfmt did: whitespace collapsed; each
    // entry of `routes::table` starts `page("…")` and ends with `),`.
    let source = include_str!("../../api/src/routes.rs")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    source
        .split(" page(\"")
        .skip(1)
        .filter_map(|rest| {
            let (path, entry) = rest.split_once("\")").unwrap();
            let entry = entry.split(" api(\"").next().unwrap().split(" ] }").next().unwrap();
            entry.contains(".post(").then(|| path.to_string())
        })
        .collect()
}

/// The text of `html` between `start` and the next `end`.
pub(crate) fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let rest = html
        .split_once(start)
        .unwrap_or_else(|| panic!("no {start} in {html}"))
        .1;
    rest.split(end).next().unwrap()
}

/// The CSRF token of a page session, from its forms.
async fn csrf(forms: &Forms, cookie: &str) -> String {
    let html = forms
        .get("/settings/sessions", Some(cookie))
        .await
        .text()
        .await
        .unwrap();
    field(&html, "csrf_token")
}

/// The checkboxes of a page's form that a browser sends as they are.
fn checked(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"checkbox\" ")
        .skip(1)
        .map(|rest| rest.split('>').next().unwrap())
        .filter(|tag| tag.trim_end().ends_with("checked"))
        .map(|tag| {
            let value = tag.contains("value=\"").then(|| between(tag, "value=\"", "\""));
            (
                between(tag, "name=\"", "\"").to_string(),
                value.unwrap_or("on").to_string(),
            )
        })
        .collect()
}

/// Signs in from the page; the session cookie.
async fn page_sign_in(forms: &Forms, email: &str, password: &str) -> String {
    let signed_in = forms
        .post("/sign-in", None, &[("email", email), ("password", password)])
        .await;
    assert_eq!(signed_in.status(), 303);
    page_cookie(&signed_in).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_form_appends_an_event() {
    const SAM: &str = "sam@acme.test";
    const IVY: &str = "ivy@acme.test";
    let smtp = SmtpSink::start().await;
    let smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
    let instance = instance(&[
        ("WARDEN_ALERT_WEBHOOK_PRIVATE_ADDRESSES", "true"),
        ("WARDEN_SMTP_URL", smtp_url.as_str()),
        ("WARDEN_SMTP_TLS", "none"),
        ("WARDEN_SMTP_FROM", "warden@acme.test"),
        ("WARDEN_SSO_INSECURE_ISSUERS", "true"),
    ])
    .await;
    let mut walk = Walk::open(&instance).await;
    let server = &instance.server;
    let forms = Forms::new(server);
    let provider = OidcProvider::start(
        &format!("{}/sso/callback", server.url),
        &[user("ada", "ada@acme.test", true, &[], &["pwd"])],
    );

    // Setup, then users and the policy from the admin pages.
    let link = server.setup_link().unwrap();
    let setup = [
        ("token", link.split("token=").nth(1).unwrap()),
        ("org_name", "Acme"),
        ("org_slug", "acme"),
        ("display_name", "Olive Owner"),
        ("email", "owner@acme.test"),
        ("password", OWNER_PASSWORD),
    ];
    let before = walk.head().await;
    let set_up = forms.post("/setup", None, &setup).await;
    walk.posted("/setup", before, &set_up).await;
    let owner = page_cookie(&set_up).unwrap();
    let owner_csrf = csrf(&forms, &owner).await;
    alert_forms(&mut walk, &forms, &owner, &owner_csrf).await;
    key_forms(&mut walk, &forms, &owner, &owner_csrf).await;
    secret_forms(&mut walk, &forms, &owner, &owner_csrf).await;
    saved_search_forms(&mut walk, &forms, &owner, &owner_csrf).await;
    sso_forms(&mut walk, &forms, (&owner, &owner_csrf), &provider, &server.url).await;
    let add_sam = [
        ("csrf_token", owner_csrf.as_str()),
        ("email", SAM),
        ("display_name", "Sam"),
        ("role", "member"),
        ("password", "sam's long password 7"),
    ];
    let before = walk.head().await;
    let created = forms.post("/admin/users", Some(&owner), &add_sam).await;
    walk.posted("/admin/users", before, &created).await;
    let html = created.text().await.unwrap();
    let row = html.split("<tr>").find(|row| row.contains(SAM)).unwrap();
    let sam_id = between(row, "href=\"/admin/users/", "\"").to_string();
    let invite_ivy = [
        ("csrf_token", owner_csrf.as_str()),
        ("email", IVY),
        ("display_name", "Ivy"),
        ("role", "member"),
    ];
    let invited = forms.post("/admin/users", Some(&owner), &invite_ivy).await;
    assert_eq!(invited.status(), 201);
    let invitation = between(&invited.text().await.unwrap(), "/invitation?token=", "<").to_string();
    let role = [("csrf_token", owner_csrf.as_str()), ("role", "admin")];
    let before = walk.head().await;
    let changed = forms.post(&format!("/admin/users/{sam_id}"), Some(&owner), &role).await;
    walk.posted("/admin/users/{id}", before, &changed).await;
    // The policy form as shown, with another grace period.
    let html = forms.get("/admin/mfa-policy", Some(&owner)).await.text().await.unwrap();
    let boxes = checked(&html);
    let mut policy: Vec<(&str, &str)> = boxes
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    policy.extend([
        ("csrf_token", owner_csrf.as_str()),
        ("grace_days", "3"),
        ("email_code.allowed", "on"),
    ]);
    let before = walk.head().await;
    let changed = forms.post("/admin/mfa-policy", Some(&owner), &policy).await;
    walk.posted("/admin/mfa-policy", before, &changed).await;

    // The invitation accepted.
    let accept = [("token", invitation.as_str()), ("password", "ivy's long password 7")];
    let before = walk.head().await;
    let accepted = forms.post("/invitation", None, &accept).await;
    walk.posted("/invitation", before, &accepted).await;
    let ivy = page_cookie(&accepted).unwrap();

    // Sign-in by email code: the code is recorded just after the address
    // form's answer (so the walk waits for the email).
    let before = walk.head().await;
    let asked = forms.post("/sign-in/email", None, &[("email", SAM)]).await;
    let code = smtp.code_sent(SAM, 1).await;
    walk.posted("/sign-in/email", before, &asked).await;
    let before = walk.head().await;
    let by_code = forms
        .post("/sign-in/email/code", None, &[("email", SAM), ("code", code.as_str())])
        .await;
    walk.posted("/sign-in/email/code", before, &by_code).await;

    // A forgotten password: the link is recorded and mailed just after the
    // form's answer; the new password is the same one (the walk goes on
    // with it).
    let before = walk.head().await;
    let asked = forms.post("/forgot-password", None, &[("email", SAM)]).await;
    let token = reset_token(&smtp, SAM, 1).await;
    walk.posted("/forgot-password", before, &asked).await;
    let before = walk.head().await;
    let reset = forms
        .post(
            "/reset-password",
            None,
            &[("token", token.as_str()), ("password", "sam's long password 7")],
        )
        .await;
    assert_eq!(location(&reset), "/sign-in?notice=password_reset");
    walk.posted("/reset-password", before, &reset).await;

    // Sign-in, sessions, password, "confirm it's you".
    let sign_in = [("email", SAM), ("password", "sam's long password 7")];
    let before = walk.head().await;
    let signed_in = forms.post("/sign-in", None, &sign_in).await;
    walk.posted("/sign-in", before, &signed_in).await;
    let mut sam = page_cookie(&signed_in).unwrap();
    page_sign_in(&forms, SAM, "sam's long password 7").await;
    let html = forms.get("/settings/sessions", Some(&sam)).await.text().await.unwrap();
    let (token, other) = (
        field(&html, "csrf_token"),
        between(&html, "action=\"/settings/sessions/", "/revoke\""),
    );
    let before = walk.head().await;
    let revoked = forms
        .post(
            &format!("/settings/sessions/{other}/revoke"),
            Some(&sam),
            &[("csrf_token", &token)],
        )
        .await;
    walk.posted("/settings/sessions/{id}/revoke", before, &revoked).await;
    page_sign_in(&forms, SAM, "sam's long password 7").await;
    let before = walk.head().await;
    let revoked = forms
        .post(
            "/settings/sessions/revoke-others",
            Some(&sam),
            &[("csrf_token", &token)],
        )
        .await;
    walk.posted("/settings/sessions/revoke-others", before, &revoked).await;
    let password = [
        ("csrf_token", token.as_str()),
        ("current_password", "sam's long password 7"),
        ("new_password", "sam's newer password 8"),
    ];
    let before = walk.head().await;
    let changed = forms.post("/settings/password", Some(&sam), &password).await;
    walk.posted("/settings/password", before, &changed).await;
    sam = page_cookie(&changed).unwrap();
    let token = csrf(&forms, &sam).await;
    let before = walk.head().await;
    let zone = forms
        .post(
            "/settings/time-zone",
            Some(&sam),
            &[("csrf_token", token.as_str()), ("time_zone", "Europe/Paris")],
        )
        .await;
    walk.posted("/settings/time-zone", before, &zone).await;
    let confirm = [
        ("csrf_token", token.as_str()),
        ("password", "sam's newer password 8"),
        ("next", "/settings/mfa"),
    ];
    let before = walk.head().await;
    let confirmed = forms.post("/settings/reauthenticate", Some(&sam), &confirm).await;
    walk.posted("/settings/reauthenticate", before, &confirmed).await;
    sam = page_cookie(&confirmed).unwrap();

    // An authenticator set up, asked for at sign-in, renewed, removed.
    let token = csrf(&forms, &sam).await;
    let at = early_in_step().await;
    let before = walk.head().await;
    let started = forms
        .post("/settings/mfa/totp", Some(&sam), &[("csrf_token", &token)])
        .await;
    walk.posted("/settings/mfa/totp", before, &started).await;
    let html = forms.get("/settings/mfa", Some(&sam)).await.text().await.unwrap();
    let secret = between(&html, "id=\"totp-secret\">", "<").to_string();
    let first = oathtool(&secret, at - 30);
    let code = [("csrf_token", token.as_str()), ("code", &first)];
    let before = walk.head().await;
    let enrolled = forms.post("/settings/mfa/totp/confirm", Some(&sam), &code).await;
    walk.posted("/settings/mfa/totp/confirm", before, &enrolled).await;
    let set = field(&enrolled.text().await.unwrap(), "set");
    let before = walk.head().await;
    let saved = forms
        .post(
            "/settings/mfa/backup-codes/acknowledge",
            Some(&sam),
            &[("csrf_token", &token), ("set", &set)],
        )
        .await;
    walk.posted("/settings/mfa/backup-codes/acknowledge", before, &saved)
        .await;
    let partial = page_sign_in(&forms, SAM, "sam's newer password 8").await;
    let html = forms.get("/sign-in/mfa", Some(&partial)).await.text().await.unwrap();
    let (token, next) = (field(&html, "csrf_token"), oathtool(&secret, at));
    let code = [("csrf_token", token.as_str()), ("code", &next)];
    let before = walk.head().await;
    let verified = forms.post("/sign-in/mfa", Some(&partial), &code).await;
    walk.posted("/sign-in/mfa", before, &verified).await;
    sam = page_cookie(&verified).unwrap();
    let token = csrf(&forms, &sam).await;
    let before = walk.head().await;
    let renewed = forms
        .post("/settings/mfa/backup-codes", Some(&sam), &[("csrf_token", &token)])
        .await;
    walk.posted("/settings/mfa/backup-codes", before, &renewed).await;
    let before = walk.head().await;
    let removed = forms
        .post("/settings/mfa/totp/remove", Some(&sam), &[("csrf_token", &token)])
        .await;
    walk.posted("/settings/mfa/totp/remove", before, &removed).await;

    passkey_forms(&mut walk, &forms, server, (IVY, "ivy's long password 7")).await;

    // Ivy moves to a new address: the form, then the link's page.
    let token = csrf(&forms, &ivy).await;
    let before = walk.head().await;
    let asked = forms
        .post(
            "/settings/email",
            Some(&ivy),
            &[("csrf_token", token.as_str()), ("email", "ivy.new@example.org")],
        )
        .await;
    assert_eq!(location(&asked), "/settings/email?notice=email_change_sent");
    walk.posted("/settings/email", before, &asked).await;
    let link = smtp.link_sent("ivy.new@example.org", 1, "/verify-email?token=").await;
    let verification = link.split("token=").nth(1).unwrap().to_string();
    let page = forms.get(&format!("/verify-email?token={verification}"), None).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("ivy.new@example.org"));
    let before = walk.head().await;
    let verified = forms
        .post("/verify-email", None, &[("token", verification.as_str())])
        .await;
    assert_eq!(location(&verified), "/sign-in?notice=email_changed");
    walk.posted("/verify-email", before, &verified).await;

    // Signed out.
    let token = csrf(&forms, &ivy).await;
    let before = walk.head().await;
    let signed_out = forms.post("/sign-out", Some(&ivy), &[("csrf_token", &token)]).await;
    walk.posted("/sign-out", before, &signed_out).await;

    // The owner on Sam's page: one session signed out, a reset link sent,
    // the second factors reset, then every session signed out.
    let mut phone = WebClient::new(server);
    phone.sign_in(SAM, "sam's newer password 8").await;
    // An authenticator again, confirmed with the next step's code (this
    // step's may have been used above).
    let started = phone.post("/api/v1/mfa/totp", json!({})).await;
    let secret = started.body["secret"].as_str().unwrap().to_string();
    let code = oathtool(&secret, early_in_step().await + 30);
    let confirmed = phone.post("/api/v1/mfa/totp/confirm", json!({ "code": code })).await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    let page = forms
        .get(&format!("/admin/users/{sam_id}"), Some(&owner))
        .await
        .text()
        .await
        .unwrap();
    let session = between(&page, &format!("action=\"/admin/users/{sam_id}/sessions/"), "/revoke\"").to_string();
    let before = walk.head().await;
    let revoked = forms
        .post(
            &format!("/admin/users/{sam_id}/sessions/{session}/revoke"),
            Some(&owner),
            &[("csrf_token", &owner_csrf)],
        )
        .await;
    assert_eq!(
        location(&revoked),
        format!("/admin/users/{sam_id}?notice=session_revoked")
    );
    walk.posted("/admin/users/{id}/sessions/{session}/revoke", before, &revoked)
        .await;
    let reason = [("csrf_token", owner_csrf.as_str()), ("reason", "SUP-7: locked out")];
    let before = walk.head().await;
    let sent = forms
        .post(&format!("/admin/users/{sam_id}/password-reset"), Some(&owner), &reason)
        .await;
    walk.posted("/admin/users/{id}/password-reset", before, &sent).await;
    let before = walk.head().await;
    let reset = forms
        .post(
            &format!("/admin/users/{sam_id}/second-factors/reset"),
            Some(&owner),
            &reason,
        )
        .await;
    assert_eq!(location(&reset), format!("/admin/users/{sam_id}?notice=factors_reset"));
    walk.posted("/admin/users/{id}/second-factors/reset", before, &reset)
        .await;
    page_sign_in(&forms, SAM, "sam's newer password 8").await;
    let before = walk.head().await;
    let revoked = forms
        .post(
            &format!("/admin/users/{sam_id}/revoke-sessions"),
            Some(&owner),
            &[("csrf_token", &owner_csrf)],
        )
        .await;
    walk.posted("/admin/users/{id}/revoke-sessions", before, &revoked).await;

    // Every page form was walked.
    let routes = page_forms();
    assert!(routes.len() >= 36, "{routes:?}");
    // Shows a form kept for "Confirm it's you" again, to finish: the
    // form's own post is what appends (tests/tests/step_up.rs).
    // Disabling the users nobody saw for 30 days changes something only in
    // an org older than the walk: `tests/inactive_users.rs` posts it.
    walk.assert_covers(
        &routes,
        &["/settings/reauthenticate/pending", "/admin/users/inactive"],
        "page forms",
    );
}
