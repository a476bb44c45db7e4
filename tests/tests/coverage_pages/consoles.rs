//! The alert console's, the API-key console's, the audit page's and the
//! single sign-on console's forms, walked for
//! `every_page_form_appends_an_event`.

use serde_json::json;
use warden_tests::coverage::Walk;
use warden_tests::oidc::{Browser, OidcProvider};
use warden_tests::web::{Forms, field, location};

use super::between;

/// The alert console's forms: an endpoint, a rule tried, saved, changed,
/// disabled and enabled; an alert it fires acknowledged, resolved and sent
/// again; the rule and the endpoint removed.
pub(crate) async fn alert_forms(walk: &mut Walk, forms: &Forms, owner: &str, csrf: &str) {
    let before = walk.head().await;
    let added = forms
        .post(
            "/alert-webhooks",
            Some(owner),
            &[
                ("csrf_token", csrf),
                ("url", "http://127.0.0.1:9/hook"),
                ("description", "SOC"),
            ],
        )
        .await;
    walk.posted("/alert-webhooks", before, &added).await;
    let html = added.text().await.unwrap();
    assert!(between(&html, "id=\"endpoint-secret\">", "<").starts_with("whsec_"));
    let endpoint = between(&html, "action=\"/alert-webhooks/", "/remove").to_string();
    let rule = json!({"name": "Failed sign-in", "severity": "low",
                      "condition": {"type": "match", "select": {"kinds": ["login.failed"]}},
                      "recipients": [{"webhook": endpoint}]})
    .to_string();
    let before = walk.head().await;
    let tried = forms
        .post(
            "/alert-rules/preview",
            Some(owner),
            &[("csrf_token", csrf), ("rule", &rule), ("hours", "1")],
        )
        .await;
    walk.posted("/alert-rules/preview", before, &tried).await;
    assert!(tried.text().await.unwrap().contains("id=\"preview-summary\""));
    let before = walk.head().await;
    let saved = forms
        .post("/alert-rules", Some(owner), &[("csrf_token", csrf), ("rule", &rule)])
        .await;
    walk.posted("/alert-rules", before, &saved).await;
    let location = saved.headers()["location"].to_str().unwrap().to_string();
    let rule_path = location.split('?').next().unwrap().to_string();
    let before = walk.head().await;
    let changed = forms
        .post(
            &rule_path,
            Some(owner),
            &[("csrf_token", csrf), ("rule", &rule.replace("\"low\"", "\"high\""))],
        )
        .await;
    walk.posted("/alert-rules/{id}", before, &changed).await;
    for action in ["disable", "enable"] {
        let before = walk.head().await;
        let done = forms
            .post(&format!("{rule_path}/{action}"), Some(owner), &[("csrf_token", csrf)])
            .await;
        let route = if action == "disable" {
            "/alert-rules/{id}/disable"
        } else {
            "/alert-rules/{id}/enable"
        };
        walk.posted(route, before, &done).await;
    }

    let failed = forms
        .post(
            "/sign-in",
            None,
            &[("email", "owner@acme.test"), ("password", "not the password")],
        )
        .await;
    assert_eq!(failed.status(), 401);
    let alert = loop {
        let html = forms.get("/alerts", Some(owner)).await.text().await.unwrap();
        if html.contains("href=\"/alerts/") {
            break between(&html, "href=\"/alerts/", "\"").to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let shown = forms.get(&format!("/alerts/{alert}"), Some(owner)).await;
    assert!(shown.text().await.unwrap().contains(&format!("webhook:{endpoint}")));
    for (route, action) in [
        ("/alerts/{id}/acknowledge", "acknowledge"),
        ("/alerts/{id}/resolve", "resolve"),
        ("/alerts/{id}/resend", "resend"),
    ] {
        let before = walk.head().await;
        let done = forms
            .post(
                &format!("/alerts/{alert}/{action}"),
                Some(owner),
                &[("csrf_token", csrf)],
            )
            .await;
        walk.posted(route, before, &done).await;
    }
    let before = walk.head().await;
    let removed = forms
        .post(&format!("{rule_path}/remove"), Some(owner), &[("csrf_token", csrf)])
        .await;
    walk.posted("/alert-rules/{id}/remove", before, &removed).await;
    let before = walk.head().await;
    let removed = forms
        .post(
            &format!("/alert-webhooks/{endpoint}/remove"),
            Some(owner),
            &[("csrf_token", csrf)],
        )
        .await;
    walk.posted("/alert-webhooks/{id}/remove", before, &removed).await;
}

/// The key console's forms: a key created (its id from the form), rotated
/// (naming its version) and revoked.
pub(crate) async fn key_forms(walk: &mut Walk, forms: &Forms, owner: &str, csrf: &str) {
    let html = forms.get("/keys", Some(owner)).await.text().await.unwrap();
    let id = field(&html, "id");
    let before = walk.head().await;
    let created = forms
        .post(
            "/keys",
            Some(owner),
            &[("csrf_token", csrf), ("id", &id), ("kind", "app"), ("name", "Billing")],
        )
        .await;
    walk.posted("/keys", before, &created).await;
    assert!(created.text().await.unwrap().contains("wk_live_"));
    let html = forms
        .get(&format!("/keys/{id}"), Some(owner))
        .await
        .text()
        .await
        .unwrap();
    let version = field(&html, "version");
    let before = walk.head().await;
    let rotated = forms
        .post(
            &format!("/keys/{id}/rotate"),
            Some(owner),
            &[("csrf_token", csrf), ("version", &version), ("grace_seconds", "0")],
        )
        .await;
    walk.posted("/keys/{id}/rotate", before, &rotated).await;
    let before = walk.head().await;
    let revoked = forms
        .post(
            &format!("/keys/{id}/revoke"),
            Some(owner),
            &[("csrf_token", csrf), ("reason", "walked")],
        )
        .await;
    walk.posted("/keys/{id}/revoke", before, &revoked).await;
}

/// The vault console's forms: a secret added, given a new value, rolled
/// back, its readers changed, then shredded (each form names the secret's
/// version it was shown at).
pub(crate) async fn secret_forms(walk: &mut Walk, forms: &Forms, owner: &str, csrf: &str) {
    let path = "/secrets/walked.token";
    let before = walk.head().await;
    let added = forms
        .post(
            "/secrets",
            Some(owner),
            &[
                ("csrf_token", csrf),
                ("name", "walked.token"),
                ("value", "first value"),
                ("reader_role", "owner"),
            ],
        )
        .await;
    walk.posted("/secrets", before, &added).await;
    let steps = [
        ("/value", "/secrets/{name}/value", vec![("value", "second value")]),
        ("/rollback", "/secrets/{name}/rollback", vec![("version", "1")]),
        ("/readers", "/secrets/{name}/readers", vec![("reader_role", "admin")]),
        ("/shred", "/secrets/{name}/shred", vec![("reason", "walked")]),
    ];
    for (action, route, form) in steps {
        let html = forms.get(path, Some(owner)).await.text().await.unwrap();
        let shown = field(&html, "subject_version");
        let mut form = form;
        form.extend([("csrf_token", csrf), ("subject_version", shown.as_str())]);
        let before = walk.head().await;
        let done = forms.post(&format!("{path}{action}"), Some(owner), &form).await;
        walk.posted(route, before, &done).await;
    }
}

/// The audit page's: a search saved, then removed.
pub(crate) async fn saved_search_forms(walk: &mut Walk, forms: &Forms, owner: &str, csrf: &str) {
    let before = walk.head().await;
    let saved = forms
        .post(
            "/audit/saved-searches",
            Some(owner),
            &[
                ("csrf_token", csrf),
                ("name", "Failed sign-ins"),
                ("kind", "login.failed"),
            ],
        )
        .await;
    walk.posted("/audit/saved-searches", before, &saved).await;
    let html = forms.get("/audit", Some(owner)).await.text().await.unwrap();
    let search = between(&html, "action=\"/audit/saved-searches/", "/remove").to_string();
    let before = walk.head().await;
    let removed = forms
        .post(
            &format!("/audit/saved-searches/{search}/remove"),
            Some(owner),
            &[("csrf_token", csrf)],
        )
        .await;
    walk.posted("/audit/saved-searches/{id}/remove", before, &removed).await;
}

/// A single sign-on connection through its pages: added, changed, its
/// domain acknowledged, tested (the provider is sent the browser), turned
/// on (Ada signs in with it, and confirms it's her through it), off,
/// removed.
pub(crate) async fn sso_forms(
    walk: &mut Walk,
    forms: &Forms,
    (owner, csrf): (&str, &str),
    provider: &OidcProvider,
    url: &str,
) {
    let before = walk.head().await;
    let created = forms
        .post(
            "/admin/sso",
            Some(owner),
            &[
                ("csrf_token", csrf),
                ("preset", "generic"),
                ("name", "Acme IdP"),
                ("issuer", provider.issuer.as_str()),
                ("client_id", provider.client_id.as_str()),
                ("client_secret", provider.client_secret.as_str()),
                ("domains", "acme.test"),
                ("provisioning", "just_in_time"),
                ("default_role", "member"),
                ("roles", "warden-admins = admin"),
            ],
        )
        .await;
    walk.posted("/admin/sso", before, &created).await;
    let page = location(&created).split('?').next().unwrap().to_string();
    let before = walk.head().await;
    let changed = forms
        .post(
            &page,
            Some(owner),
            &[
                ("csrf_token", csrf),
                ("preset", "generic"),
                ("name", "Acme SSO"),
                ("issuer", provider.issuer.as_str()),
                ("client_id", provider.client_id.as_str()),
                ("scopes", "email profile"),
                ("domains", "acme.test"),
                ("provisioning", "just_in_time"),
                ("default_role", "member"),
            ],
        )
        .await;
    walk.posted("/admin/sso/{id}", before, &changed).await;
    for (action, route) in [
        (
            "domains/acme.test/acknowledge",
            "/admin/sso/{id}/domains/{domain}/acknowledge",
        ),
        ("test", "/admin/sso/{id}/test"),
        ("enable", "/admin/sso/{id}/enable"),
        ("", "/settings/reauthenticate/sso"),
        ("disable", "/admin/sso/{id}/disable"),
        ("remove", "/admin/sso/{id}/remove"),
    ] {
        if action.is_empty() {
            confirm_through_provider(walk, provider, url, page.trim_start_matches("/admin/sso/")).await;
            continue;
        }
        let before = walk.head().await;
        let done = forms
            .post(&format!("{page}/{action}"), Some(owner), &[("csrf_token", csrf)])
            .await;
        walk.posted(route, before, &done).await;
    }
}

/// Ada signs in through connection `id`, then confirms it's her through
/// it (`POST /settings/reauthenticate/sso` starts the confirmation).
async fn confirm_through_provider(walk: &mut Walk, provider: &OidcProvider, url: &str, id: &str) {
    let mut browser = Browser::new();
    let start = browser.get(&format!("{url}/sso/start?connection={id}")).await;
    let callback = browser.through_provider(start, &provider.issuer, "ada").await;
    assert_eq!(browser.get(&callback).await.status(), 303, "Ada signs in");
    let page = browser.get(&format!("{url}/settings/reauthenticate?next=/")).await;
    let csrf = field(&page.text().await.unwrap(), "csrf_token");
    let before = walk.head().await;
    let started = browser
        .post(
            &format!("{url}/settings/reauthenticate/sso"),
            &[("csrf_token", csrf.as_str()), ("next", "/")],
        )
        .await;
    walk.posted("/settings/reauthenticate/sso", before, &started).await;
}
