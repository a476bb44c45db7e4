//! A real headless Chromium against `warden serve`: set up the instance
//! on the setup page, sign out, fail and then succeed to sign in, see the
//! sessions page, sign out.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_tests::browser::Browser;
use warden_tests::process::{NodeEnv, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_see_sessions_sign_out_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let env = NodeEnv::in_dir(dir.path());
    let server = Server::start(&env, "browser").await;
    let browser = Browser::start().await;

    // First start: the printed setup link opens the setup page.
    browser.goto(&server.setup_link().unwrap()).await;
    browser.fill("#org_name", "Acme").await;
    browser.fill("#org_slug", "acme").await;
    browser.fill("#display_name", "Olive Owner").await;
    browser.fill("#email", "owner@acme.test").await;
    browser.fill("#password", "correct horse battery staple 42").await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_url("/admin/users").await;
    assert_eq!(browser.text("h1").await, "Users of Acme");
    assert!(browser.text("table").await.contains("owner@acme.test"));

    browser.click("header form button").await;
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

    browser.click("header form button").await;
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
    browser.fill("#org_name", "Acme").await;
    browser.fill("#org_slug", "acme").await;
    browser.fill("#display_name", "Olive Owner").await;
    browser.fill("#email", "owner@acme.test").await;
    browser.fill("#password", "correct horse battery staple 42").await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_url("/admin/users").await;

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
    browser.click("header form button").await;
    browser.wait_for_url("/sign-in").await;
    browser.fill("#email", "owner@acme.test").await;
    browser.wait_for_text("[data-passkey=sign-in]:not([hidden])").await;
    browser.click("[data-passkey=sign-in]").await;
    // The full address: the prompt's own carries `next=/settings/sessions`.
    browser.wait_for_url(&format!("{base}/settings/sessions")).await;
    assert_eq!(browser.wait_for_text("h1").await, "Your sessions");

    // A password now asks for the passkey as the second factor.
    browser.click("header form button").await;
    browser.wait_for_url("/sign-in").await;
    browser.fill("#email", "owner@acme.test").await;
    browser.fill("#password", "correct horse battery staple 42").await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_url("/sign-in/mfa").await;
    browser.wait_for_text("[data-passkey=verify]:not([hidden])").await;
    browser.click("[data-passkey=verify]").await;
    // The full address: the prompt's own carries `next=/settings/sessions`.
    browser.wait_for_url(&format!("{base}/settings/sessions")).await;
    assert_eq!(browser.wait_for_text("h1").await, "Your sessions");

    // Fresh from the passkey, removing it needs no further confirmation.
    browser.goto(&format!("{base}/settings/mfa")).await;
    browser.click("#passkeys form:last-of-type button").await;
    browser.wait_for_url("notice=passkey_removed").await;
    assert!(browser.text("main").await.contains("No passkey yet"));
    browser.quit().await;
}
