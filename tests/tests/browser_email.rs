//! Email in a real headless Chromium against `warden serve` and a real
//! SMTP server: signing in with a code sent by email, and resetting a
//! forgotten password, both from the sign-in page.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_tests::browser::{Browser, set_up_acme};
use warden_tests::peers::SmtpSink;
use warden_tests::process::{NodeEnv, Server};

/// Sign-in by email code in Chromium, against a real SMTP server: the
/// owner turns it on in the policy page; signing in from the sign-in page
/// with the code typed, then with the email's link, which fills it in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_signs_in_with_a_code_by_email_in_chromium() {
    let smtp = SmtpSink::start().await;
    let smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
    let dir = tempfile::tempdir().unwrap();
    let mut env = NodeEnv::in_dir(dir.path());
    env.extra = vec![
        ("WARDEN_SMTP_URL".into(), smtp_url),
        ("WARDEN_SMTP_TLS".into(), "none".into()),
        ("WARDEN_SMTP_FROM".into(), "Warden <warden@acme.test>".into()),
    ];
    let server = Server::start(&env, "browser").await;
    let browser = Browser::start().await;
    browser.goto(&server.setup_link().unwrap()).await;
    set_up_acme(&browser).await;

    browser.goto(&format!("{}/admin/mfa-policy", server.url)).await;
    browser.click("input[name='email_code.allowed']").await;
    browser.click("main form button[type=submit]").await;
    browser
        .wait_for_text_containing("[role=status]", "policy is saved")
        .await;
    browser.click("nav.side form button").await;
    browser.wait_for_url("/sign-in").await;

    // The code, typed.
    browser.click("a[href='/sign-in/email']").await;
    browser.wait_for_url("/sign-in/email").await;
    browser.fill("#email", "owner@acme.test").await;
    browser.click("main form button[type=submit]").await;
    assert_eq!(
        browser.wait_for_text_containing("h1", "Enter your code").await,
        "Enter your code"
    );
    let code = smtp.code_sent("owner@acme.test", 1).await;
    browser.fill("#code", &code).await;
    browser.click("main form button[type=submit]").await;
    browser.wait_for_address(&format!("{}/", server.url)).await;
    assert_eq!(browser.wait_for_text("h1").await, "Home");

    // The link, opened in the browser that asked for the code.
    browser.click("nav.side form button").await;
    browser.wait_for_url("/sign-in").await;
    browser.goto(&format!("{}/sign-in/email", server.url)).await;
    browser.fill("#email", "owner@acme.test").await;
    browser.click("main form button[type=submit]").await;
    browser.wait_for_text_containing("h1", "Enter your code").await;
    let link = smtp.link_sent("owner@acme.test", 2, "/sign-in/email/code?").await;
    browser.goto(&link).await;
    browser
        .wait_for_text_containing("[role=status]", "Your code is filled in")
        .await;
    browser.click("main form button[type=submit]").await;
    browser.wait_for_address(&format!("{}/", server.url)).await;
    assert_eq!(browser.wait_for_text("h1").await, "Home");
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_resets_a_forgotten_password_from_the_sign_in_page_in_chromium() {
    let smtp = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = NodeEnv::in_dir(dir.path());
    env.extra = warden_tests::email::smtp_env(&smtp);
    let server = Server::start(&env, "browser").await;
    let browser = Browser::start().await;
    browser.goto(&server.setup_link().unwrap()).await;
    set_up_acme(&browser).await;
    browser.click("nav.side form button").await;
    browser.wait_for_url("/sign-in").await;

    browser.click("a[href='/forgot-password']").await;
    browser.wait_for_url("/forgot-password").await;
    browser.fill("#email", "owner@acme.test").await;
    browser.click("main form button[type=submit]").await;
    browser.wait_for_text_containing("main", "we sent it a link").await;
    let link = smtp.link_sent("owner@acme.test", 1, "/reset-password?token=").await;
    browser.goto(&link).await;
    assert_eq!(
        browser.wait_for_text_containing("h1", "Choose a new password").await,
        "Choose a new password"
    );
    // Refused by the password policy (it holds the address): the form
    // again, the link still good.
    browser.fill("#password", "owner@acme.test").await;
    browser.click("main form button[type=submit]").await;
    browser.wait_for_text("[role=alert]").await;
    assert_eq!(browser.text("h1").await, "Choose a new password");
    browser.fill("#password", "a brand new password 8").await;
    browser.click("main form button[type=submit]").await;
    browser
        .wait_for_text_containing("[role=status]", "Sign in with the new password")
        .await;

    browser.fill("#email", "owner@acme.test").await;
    browser.fill("#password", "a brand new password 8").await;
    browser.click("main form button[type=submit]").await;
    browser.wait_for_address(&format!("{}/", server.url)).await;
    assert_eq!(browser.wait_for_text("h1").await, "Home");

    // The link is spent: opened again, it says so and offers a new one.
    browser.goto(&link).await;
    browser.wait_for_text_containing("[role=alert]", "used already").await;
    browser.quit().await;
}
