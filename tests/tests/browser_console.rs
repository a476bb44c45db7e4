//! Every console page in headless Chromium, at a desktop's width and at a
//! phone's: axe-core finds no serious or critical WCAG 2.x A/AA violation
//! on any of them, none is wider than a phone's screen, each has one `h1`;
//! and each page's screenshot is written to `docs/guides/images/console/`,
//! where the console guide shows it (so the pictures stay current).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use warden_tests::audit::{LEGACY_PASSWORD, signed_in, two_orgs};
use warden_tests::browser::Browser;
use warden_tests::email::smtp_env;
use warden_tests::keys::create;
use warden_tests::mfa::{early_in_step, oathtool};
use warden_tests::peers::SmtpSink;

const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);

/// The pages whose phone-width picture the guide shows too.
const PHONE_SHOTS: [&str; 4] = ["sign-in", "users", "user", "audit"];

fn shots() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/guides/images/console"))
}

/// Opens `url` at both widths: axe-core, the phone's width, one heading,
/// the pictures. The page at the desktop's width stays open.
async fn check(browser: &Browser, name: &str, url: &str) {
    for (width, height, label) in [(PHONE.0, PHONE.1, "phone"), (DESKTOP.0, DESKTOP.1, "desktop")] {
        browser.resize(width, height).await;
        browser.goto(url).await;
        browser.wait_for_text("h1").await;
        let violations = browser.accessibility_violations().await;
        assert!(
            violations.is_empty(),
            "{name} ({url}) at a {label}'s width: {violations:#?}"
        );
        let headings = browser.execute("return document.querySelectorAll('h1').length").await;
        assert_eq!(headings, 1, "{name}: one h1");
        if label == "phone" {
            let overflow = browser
                .execute("return document.documentElement.scrollWidth - window.innerWidth")
                .await;
            assert!(
                overflow.as_i64().unwrap() <= 0,
                "{name} is {overflow} px wider than a phone"
            );
        }
        if label == "desktop" || PHONE_SHOTS.contains(&name) {
            browser.screenshot(&shots().join(format!("{name}-{label}.png"))).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_is_accessible_and_fits_a_phone_in_chromium() {
    let smtp = SmtpSink::start().await;
    let env = smtp_env(&smtp);
    let env: Vec<(&str, &str)> = env.iter().map(|(key, value)| (key.as_str(), value.as_str())).collect();
    let instance = two_orgs(&env).await;
    let base = instance.server.url.clone();
    let url = |path: &str| format!("{base}{path}");

    // What the pages show: keys, a secret, a rule that fired, users.
    let mut owner = signed_in(&instance.server, "owner@acme.test").await;
    let (key, _) = create(&mut owner, json!({ "kind": "app", "name": "billing-service" })).await;
    let secret = owner
        .post(
            "/api/v1/secrets",
            json!({ "name": "billing.db-password", "value": "a value never shown", "description": "The billing database" }),
        )
        .await;
    assert_eq!(secret.status, 201, "{:?}", secret.body);
    let rule = owner
        .post(
            "/api/v1/alert-rules",
            json!({"name": "Password guessing", "severity": "high",
                "condition": {"type": "event_count", "select": {"kinds": ["login.failed"]},
                              "group_by": ["subject"], "window_seconds": 3600, "threshold": 3},
                "recipients": [{"email": "security@acme.test"}]}),
        )
        .await;
    assert_eq!(rule.status, 201, "{:?}", rule.body);
    let rule = rule.body["id"].as_str().unwrap().to_string();
    for _ in 0..3 {
        let mut guesser = warden_tests::web::WebClient::new(&instance.server);
        guesser.sign_in("member@acme.test", "not the password").await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let alert = loop {
        let alerts = owner.get("/api/v1/alerts").await;
        if let Some(alert) = alerts.body["alerts"].as_array().and_then(|alerts| alerts.first()) {
            break alert["id"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "no alert fired: {:?}", alerts.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let users = owner.get("/api/v1/users").await.body;
    let member = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|user| user["email"] == "member@acme.test")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let invited = owner
        .post(
            "/api/v1/users",
            json!({ "email": "ivy@acme.test", "display_name": "Ivy Invited", "role": "member" }),
        )
        .await;
    let invitation = invited.body["invitation_url"].as_str().unwrap().to_string();
    let invitation = invitation.split("/invitation").nth(1).unwrap();

    let browser = Browser::start().await;
    // Signed out.
    check(&browser, "sign-in", &url("/sign-in")).await;
    check(&browser, "sign-in-email", &url("/sign-in/email")).await;
    check(&browser, "sign-in-org", &url("/sign-in/org/acme")).await;
    check(&browser, "forgot-password", &url("/forgot-password")).await;
    check(&browser, "invitation", &url(&format!("/invitation{invitation}"))).await;
    check(&browser, "invitation-used", &url("/invitation?token=not-a-token")).await;
    check(&browser, "reset-password", &url("/reset-password?token=not-a-token")).await;
    check(&browser, "verify-email", &url("/verify-email?token=not-a-token")).await;

    // The owner, signed in from the page.
    browser.goto(&url("/sign-in")).await;
    browser.fill("#email", "owner@acme.test").await;
    browser.fill("#password", LEGACY_PASSWORD).await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_address(&url("/")).await;
    let event = owner.get("/api/v1/audit/events?limit=1").await.body["events"][0]["seq"]
        .as_u64()
        .unwrap();
    let connection = owner
        .post(
            "/api/v1/sso/connections",
            json!({"name": "Acme Okta", "preset": "okta", "issuer": "https://acme.okta.com/oauth2/default",
                   "client_id": "0oa8f3k2", "client_secret": "okta-secret", "domains": ["acme.test", "acme.example"],
                   "mapping": {"roles": [{"group": "warden-admins", "role": "admin"}]}}),
        )
        .await;
    assert_eq!(connection.status, 201, "{:?}", connection.body);
    let connection = connection.body["id"].as_str().unwrap().to_string();
    for (name, path) in [
        ("home", "/".to_string()),
        ("sessions", "/settings/sessions".to_string()),
        ("password", "/settings/password".into()),
        ("address", "/settings/email".into()),
        ("two-factor", "/settings/mfa".into()),
        ("time-zone", "/settings/time-zone".into()),
        ("users", "/admin/users".into()),
        ("user", format!("/admin/users/{member}")),
        ("user-disable", format!("/admin/users/{member}/disable")),
        ("inactive-users", "/admin/users/inactive?days=30".into()),
        ("mfa-policy", "/admin/mfa-policy".into()),
        ("sso", "/admin/sso".into()),
        ("sso-new", "/admin/sso/new?preset=okta".into()),
        ("sso-connection", format!("/admin/sso/{connection}")),
        ("keys", "/keys".into()),
        ("key", format!("/keys/{key}")),
        ("key-revoke", format!("/keys/{key}/revoke")),
        ("secrets", "/secrets".into()),
        ("secret", "/secrets/billing.db-password".into()),
        ("secret-shred", "/secrets/billing.db-password/shred".into()),
        ("audit", "/audit".into()),
        ("audit-search", "/audit?kind=login.*".into()),
        ("audit-event", format!("/audit/events/{event}")),
        ("alerts", "/alerts".into()),
        ("alert", format!("/alerts/{alert}")),
        ("alert-rules", "/alert-rules".into()),
        ("alert-rule", format!("/alert-rules/{rule}")),
        ("alert-rule-new", "/alert-rules/new".into()),
        ("confirm", "/settings/reauthenticate?next=/settings/mfa".into()),
        ("not-found", "/keys/no-such-key".into()),
    ] {
        check(&browser, name, &url(&path)).await;
    }

    // The pages a form leads to: a key's secret, shown once; an
    // authenticator's setup, its backup codes, and the prompt at sign-in.
    browser.goto(&url("/keys")).await;
    browser.fill("#key-name", "reporting").await;
    browser.click("form[action='/keys'] button[type=submit]").await;
    browser.wait_for_text_containing("h1", "Key created").await;
    assert!(browser.accessibility_violations().await.is_empty());
    browser.screenshot(&shots().join("key-created-desktop.png")).await;

    browser.goto(&url("/settings/mfa")).await;
    browser.click("form[action='/settings/mfa/totp'] button").await;
    let secret = browser.wait_for_text("#totp-secret").await;
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "the authenticator's setup: {violations:#?}");
    browser.screenshot(&shots().join("two-factor-setup-desktop.png")).await;
    let at = early_in_step().await;
    browser.fill("#code", &oathtool(&secret, at)).await;
    browser.click("form[action='/settings/mfa/totp/confirm'] button").await;
    browser.wait_for_text_containing("h1", "Your backup codes").await;
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "the backup codes: {violations:#?}");
    browser.screenshot(&shots().join("backup-codes-desktop.png")).await;
    browser
        .click("form[action='/settings/mfa/backup-codes/acknowledge'] button")
        .await;
    // The full address: the codes' own page is under /settings/mfa too.
    browser.wait_for_url(&url("/settings/mfa?notice=codes_saved")).await;
    browser.click("nav.side form button").await;
    browser.wait_for_url("/sign-in").await;
    browser.fill("#email", "owner@acme.test").await;
    browser.fill("#password", LEGACY_PASSWORD).await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_url("/sign-in/mfa").await;
    browser.wait_for_text("h1").await;
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "the second-factor prompt: {violations:#?}");
    browser
        .screenshot(&shots().join("second-factor-prompt-desktop.png"))
        .await;
    browser.quit().await;
}
