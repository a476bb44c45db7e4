//! A real headless Chromium against `warden serve`: set up the instance
//! on the setup page, sign out, fail and then succeed to sign in, see the
//! sessions page, sign out.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_tests::browser::{Browser, set_up_acme};
use warden_tests::process::{NodeEnv, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_see_sessions_sign_out_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let env = NodeEnv::in_dir(dir.path());
    let server = Server::start(&env, "browser").await;
    let browser = Browser::start().await;

    // First start: the printed setup link opens the setup page.
    browser.goto(&server.setup_link().unwrap()).await;
    set_up_acme(&browser).await;
    assert_eq!(browser.text("h1").await, "Users of Acme");
    assert!(browser.text("table").await.contains("owner@acme.test"));

    browser.click("nav.side form button").await;
    browser.wait_for_url("/sign-in").await;
    assert_eq!(browser.wait_for_text("[role=status]").await, "You are signed out.");

    // A page that needs a session leads to sign-in and back.
    browser.goto(&format!("{}/settings/sessions", server.url)).await;
    browser.wait_for_url("/sign-in?next=/settings/sessions").await;
    browser.fill("#email", "owner@acme.test").await;
    browser.fill("#password", "not the password").await;
    browser.click("form button[type=submit]").await;
    assert_eq!(
        browser.wait_for_text("[role=alert]").await,
        "the email or password is wrong"
    );
    browser.fill("#password", "correct horse battery staple 42").await;
    browser.click("form button[type=submit]").await;
    // The full address: the sign-in page's own carries `next=/settings/sessions`.
    browser.wait_for_url(&format!("{}/settings/sessions", server.url)).await;
    assert_eq!(browser.wait_for_text("h1").await, "Your sessions");
    let table = browser.text("table").await;
    assert!(table.contains("this device"), "{table}");
    assert!(table.contains("Chrome"), "{table}");
    assert!(table.contains("127.0.0.1"), "{table}");

    browser.click("nav.side form button").await;
    browser.wait_for_url("/sign-in").await;
    browser.goto(&format!("{}/settings/sessions", server.url)).await;
    browser.wait_for_url("/sign-in?next=").await;
    browser.quit().await;
}

/// Passkeys end to end in Chromium with a WebAuthn virtual authenticator:
/// register one on the settings page (backup codes shown once), sign in
/// with it alone, use it as the second factor after a password, remove it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkeys_in_chromium_with_a_virtual_authenticator() {
    let dir = tempfile::tempdir().unwrap();
    let env = NodeEnv::in_dir(dir.path());
    let server = Server::start(&env, "browser-passkeys").await;
    // Passkeys need a domain name: on loopback, `localhost`.
    let base = server.url.replace("127.0.0.1", "localhost");
    let browser = Browser::start().await;
    let authenticator = browser.add_virtual_authenticator().await;

    browser
        .goto(&server.setup_link().unwrap().replace("127.0.0.1", "localhost"))
        .await;
    set_up_acme(&browser).await;

    // Register: the first second factor comes with backup codes, once.
    browser.goto(&format!("{base}/settings/mfa")).await;
    browser.fill("#passkey-name", "Laptop").await;
    browser.wait_for_text("[data-passkey=register]:not([hidden])").await;
    browser.click("[data-passkey=register]").await;
    browser.wait_for_text("#passkey-backup-codes:not([hidden]) li").await;
    let codes = browser.text("#passkey-backup-codes ol").await;
    assert_eq!(codes.lines().count(), 10, "{codes}");
    assert_eq!(browser.authenticator_credentials(&authenticator).await.len(), 1);
    browser.click("#passkey-backup-codes button").await;
    browser.wait_for_url("notice=codes_saved").await;
    assert!(browser.text("#passkeys").await.contains("Laptop"));

    // Sign in with the passkey alone.
    browser.click("nav.side form button").await;
    browser.wait_for_url("/sign-in").await;
    browser.fill("#email", "owner@acme.test").await;
    browser.wait_for_text("[data-passkey=sign-in]:not([hidden])").await;
    browser.click("[data-passkey=sign-in]").await;
    browser.wait_for_address(&format!("{base}/")).await;
    assert_eq!(browser.wait_for_text("h1").await, "Home");

    // A password now asks for the passkey as the second factor.
    browser.click("nav.side form button").await;
    browser.wait_for_url("/sign-in").await;
    browser.fill("#email", "owner@acme.test").await;
    browser.fill("#password", "correct horse battery staple 42").await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_url("/sign-in/mfa").await;
    browser.wait_for_text("[data-passkey=verify]:not([hidden])").await;
    browser.click("[data-passkey=verify]").await;
    browser.wait_for_address(&format!("{base}/")).await;
    assert_eq!(browser.wait_for_text("h1").await, "Home");

    // Fresh from the passkey, removing it needs no further confirmation.
    browser.goto(&format!("{base}/settings/mfa")).await;
    browser.click("#passkeys form:last-of-type button").await;
    browser.wait_for_url("notice=passkey_removed").await;
    assert!(browser.text("main").await.contains("No passkey yet"));
    browser.quit().await;
}

/// The audit console in Chromium: an auditor signs in, filters, searches
/// words, opens an event, follows it to the same request, and downloads
/// the selection as CSV.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_searches_drills_down_and_downloads_in_chromium() {
    use warden_tests::audit::{LEGACY_PASSWORD, two_orgs};
    use warden_tests::web::WebClient;

    let instance = two_orgs(&[]).await;
    let server = &instance.server;
    let mut member = WebClient::new(server);
    assert_eq!(member.sign_in("member@acme.test", "not the password").await.status, 401);
    assert_eq!(member.sign_in("member@acme.test", LEGACY_PASSWORD).await.status, 200);

    let browser = Browser::start().await;
    browser.goto(&format!("{}/sign-in?next=/audit", server.url)).await;
    browser.fill("#email", "auditor@acme.test").await;
    browser.fill("#password", LEGACY_PASSWORD).await;
    browser.click("form button[type=submit]").await;
    // The full address: the sign-in page's own carries `next=/audit`.
    browser.wait_for_url(&format!("{}/audit", server.url)).await;
    assert_eq!(
        browser.wait_for_text_containing("h1", "Audit trail").await,
        "Audit trail"
    );

    // The index follows within about a second: search until the failure
    // is there.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        browser.goto(&format!("{}/audit?kind=login.failed", server.url)).await;
        if browser.wait_for_text("#audit-results").await.contains("login.failed") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the failed sign-in never appeared"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }

    // Filter by a kind prefix with the form.
    browser.fill("#filter-kind", "login.*").await;
    browser.click("#audit-search button[type=submit]").await;
    browser.wait_for_url("kind=login.").await;
    let results = browser.wait_for_text("#audit-results tbody").await;
    assert!(
        results.contains("login.failed") && results.contains("login.succeeded"),
        "{results}"
    );
    assert!(!results.contains("globex"), "{results}");
    // Each row reads as a sentence, its kind on a line of its own.
    let kinds: Vec<&str> = results
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.contains(' '))
        .collect();
    assert!(!kinds.is_empty(), "{results}");
    assert!(kinds.iter().all(|kind| kind.starts_with("login.")), "{results}");
    assert!(
        results.contains("signed in with a password from 127.0.0.1"),
        "{results}"
    );

    // Words of the data, without the kind filter.
    browser.fill("#filter-kind", "").await;
    browser.fill("#filter-q", "member@acme.test").await;
    browser.click("#audit-search button[type=submit]").await;
    browser.wait_for_url("q=member").await;
    assert!(
        browser
            .wait_for_text("#audit-results tbody")
            .await
            .contains("user.created")
    );

    // Open the failed sign-in, then follow it to its request.
    browser.goto(&format!("{}/audit?kind=login.failed", server.url)).await;
    browser.click("#audit-results tbody tr a").await;
    browser.wait_for_url("/audit/events/").await;
    let heading = browser.wait_for_text("h1").await;
    assert!(heading.ends_with(": login.failed"), "{heading}");
    let seq: String = heading
        .trim_start_matches("Event ")
        .split(':')
        .next()
        .unwrap()
        .to_string();
    let details = browser.text("#event-details").await;
    assert!(details.contains("anonymous"), "{details}");
    assert!(browser.text("#event-data").await.contains("wrong_password"));
    browser.click("#related li:first-child a").await;
    browser.wait_for_url("request_id=").await;
    assert!(browser.wait_for_text("#audit-results tbody").await.contains(&seq));

    // Download the sign-in events as CSV.
    browser.goto(&format!("{}/audit?kind=login.*", server.url)).await;
    let summary = browser.wait_for_text("#audit-summary").await;
    let total: usize = summary.split_whitespace().next().unwrap().parse().unwrap();
    browser.click("#download-csv").await;
    let csv = browser.downloaded(".csv").await;
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("seq,at,kind,outcome,subject"), "{csv}");
    assert!(lines.len() > total, "{total} events searched, CSV:\n{csv}");
    assert!(lines[1..].iter().all(|line| line.contains(",login.")), "{csv}");
    browser.quit().await;
}

/// The API-key console in Chromium: an owner creates a key (its secret
/// shown once, gone on reload), the application uses it, the key's page
/// shows the uses, the owner rotates it (a new secret, the old one kept
/// for its grace) and revokes it after a confirmation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_creates_uses_rotates_and_revokes_a_key_in_chromium() {
    use warden_tests::audit::{LEGACY_PASSWORD, two_orgs};
    use warden_tests::keys::{application, code};

    let mut instance = two_orgs(&[]).await;
    let browser = Browser::start().await;
    browser
        .goto(&format!("{}/sign-in?next=/keys", instance.server.url))
        .await;
    browser.fill("#email", "owner@acme.test").await;
    browser.fill("#password", LEGACY_PASSWORD).await;
    browser.click("form button[type=submit]").await;
    // The full address: the sign-in page's own carries `next=/keys`.
    browser.wait_for_url(&format!("{}/keys", instance.server.url)).await;
    assert_eq!(browser.wait_for_text_containing("h1", "API keys").await, "API keys");

    // A refused form keeps what was typed and says why.
    browser.fill("#key-name", "Billing").await;
    browser.fill("#key-scopes", "invoices:read").await;
    browser.fill("#key-networks", "not a network").await;
    browser.click("form[action='/keys'] button[type=submit]").await;
    let refusal = browser.wait_for_text("[role=alert]").await;
    assert!(refusal.contains("allowed_networks"), "{refusal}");
    browser.fill("#key-networks", "").await;
    browser.fill("#key-limits", "per_minute, 100, 60").await;
    browser.click("form[action='/keys'] button[type=submit]").await;
    browser.wait_for_text_containing("h1", "Key created: Billing").await;
    let secret = browser.text("#secret").await;
    assert!(secret.starts_with("wk_live_") && secret.len() == 73, "{secret}");
    browser.click("button[data-copy]").await;
    assert!(!browser.wait_for_text("#secret-copied").await.is_empty());
    // A reload posts the form again: the key is made already, and its
    // secret is not shown again.
    browser.refresh().await;
    browser.wait_for_text_containing("[role=status]", "shown once").await;
    assert!(!browser.text("body").await.contains(&secret));
    let key_url = browser.url().await;
    let key_path = key_url
        .split('?')
        .next()
        .unwrap()
        .trim_start_matches(&instance.server.url)
        .to_string();
    assert!(key_path.starts_with("/keys/"), "{key_url}");
    let listed = {
        browser.goto(&format!("{}/keys", instance.server.url)).await;
        browser.wait_for_text("table").await
    };
    assert!(listed.contains("Billing") && listed.contains("active"), "{listed}");
    assert_eq!(
        browser.text("table").await.matches("Billing").count(),
        1,
        "one key, not two"
    );

    // The application uses it; a stop records the minute.
    let mut app = application(&instance.server);
    for _ in 0..3 {
        assert_eq!(code(&mut app, &secret, &["invoices:read"]).await, "valid");
    }
    assert!(instance.server.terminate().success());
    instance.server = warden_tests::process::Server::start(&instance.env, "again").await;
    browser.goto(&format!("{}{key_path}", instance.server.url)).await;
    assert_eq!(browser.wait_for_text("h1").await, "Billing");
    let usage = browser.text("#key-usage").await;
    assert!(usage.contains("valid 3 3 3"), "{usage}");
    assert_ne!(browser.text("#key-last-used").await, "never");

    // Rotate, keeping the old secret for an hour.
    browser.click("form[action$='/rotate'] button[type=submit]").await;
    browser.wait_for_text_containing("h1", "Key rotated: Billing").await;
    let rotated = browser.text("#secret").await;
    assert_ne!(rotated, secret);
    let mut app = application(&instance.server);
    assert_eq!(code(&mut app, &rotated, &[]).await, "valid");
    assert_eq!(code(&mut app, &secret, &[]).await, "valid", "within its grace");

    // Revoke, after a confirmation.
    browser.goto(&format!("{}{key_path}", instance.server.url)).await;
    browser.click("#revoke-link").await;
    browser.wait_for_text_containing("h1", "Revoke Billing?").await;
    browser.fill("#revoke-reason", "leaked in a ticket").await;
    browser.click("form[action$='/revoke'] button[type=submit]").await;
    browser.wait_for_text_containing("[role=status]", "revoked").await;
    assert_eq!(browser.text("#key-status").await, "revoked");
    assert_eq!(code(&mut app, &rotated, &[]).await, "revoked");
    browser.quit().await;
}

/// The vault's console in Chromium: an owner adds a secret (typed into a
/// password field, never shown), a service reads it, the owner sees the
/// read with its reason, gives the secret a new value, and shreds it after
/// a confirmation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_adds_audits_rotates_and_shreds_a_secret_in_chromium() {
    use warden_tests::audit::{LEGACY_PASSWORD, signed_in, two_orgs};
    use warden_tests::vault::{VALUE, VALUE_2, read, script, service_key, value_of};

    let instance = two_orgs(&[]).await;
    let mut api = signed_in(&instance.server, "owner@acme.test").await;
    let (_, key) = service_key(&mut api, "billing", &["secrets:read"]).await;
    let browser = Browser::start().await;
    browser
        .goto(&format!("{}/sign-in?next=/secrets", instance.server.url))
        .await;
    browser.fill("#email", "owner@acme.test").await;
    browser.fill("#password", LEGACY_PASSWORD).await;
    browser.click("form button[type=submit]").await;
    // The full address: the sign-in page's own carries `next=/secrets`.
    browser.wait_for_url(&format!("{}/secrets", instance.server.url)).await;
    assert_eq!(browser.wait_for_text_containing("h1", "Secrets").await, "Secrets");

    // Added with the billing key as a reader.
    browser.fill("#secret-name", "billing.db-password").await;
    browser.fill("#secret-description", "the billing database").await;
    browser.fill("#secret-value", VALUE).await;
    browser.click("input[name=reader_key]").await;
    browser.click("form[action='/secrets'] button[type=submit]").await;
    browser.wait_for_text_containing("[role=status]", "is added").await;
    assert_eq!(browser.text("h1").await, "billing.db-password");
    assert!(browser.text("#secret-readers").await.contains("key “billing”"));

    // The service reads it; the page shows the read and its reason.
    let mut service = script(&instance.server, &key);
    assert_eq!(
        value_of(&read(&mut service, "billing.db-password", "reason=service+start").await),
        VALUE
    );
    let history = {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            browser.refresh().await;
            let body = browser.wait_for_text("main").await;
            if body.contains("service start") || std::time::Instant::now() > deadline {
                break browser.text("#secret-history").await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    };
    assert!(
        history.contains("key “billing”") && history.contains("service start"),
        "{history}"
    );

    // A new value: version 2, current; the page never shows either value.
    browser.fill("#secret-value", VALUE_2).await;
    browser.click("form[action$='/value'] button[type=submit]").await;
    browser
        .wait_for_text_containing("[role=status]", "current version")
        .await;
    assert_eq!(browser.text("#secret-current").await, "2");
    let body = browser.text("body").await;
    assert!(!body.contains(VALUE) && !body.contains(VALUE_2));
    assert_eq!(
        value_of(&read(&mut service, "billing.db-password", "reason=service+restart").await),
        VALUE_2
    );

    // Shred, after a confirmation.
    browser.click("#shred-link").await;
    browser
        .wait_for_text_containing("h1", "Shred billing.db-password?")
        .await;
    browser.fill("#shred-reason", "INC-9 leaked").await;
    browser.click("form[action$='/shred'] button[type=submit]").await;
    browser.wait_for_text_containing("[role=status]", "shredded").await;
    assert!(browser.text("#secret-shredded").await.contains("shredded"));
    let refused = read(&mut service, "billing.db-password", "reason=service+restart").await;
    assert_eq!(refused.status, 410);
    browser.quit().await;
}
