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
    browser.wait_for_url("/settings/sessions").await;
    assert_eq!(browser.text("h1").await, "Your sessions");
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
