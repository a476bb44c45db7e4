//! Single sign-on in headless Chromium against the real OpenID Provider:
//! an owner sets up a connection with the wizard (the redirect URI shown
//! is the one the provider needs), acknowledges its domain, tests it (a
//! real sign-in at the provider whose result is shown, nobody signed in),
//! turns it on; then a person signs in with "Use single sign-on" and gets
//! an account with their group's role.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_tests::audit::{LEGACY_PASSWORD, two_orgs};
use warden_tests::browser::Browser;
use warden_tests::oidc::{OidcProvider, user};
use warden_tests::web::events;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_sets_up_tests_and_opens_a_connection_and_people_sign_in_with_it() {
    let instance = two_orgs(&[("WARDEN_SSO_INSECURE_ISSUERS", "true")]).await;
    let base = instance.server.url.trim_end_matches('/').to_string();
    let url = |path: &str| format!("{base}{path}");
    let provider = OidcProvider::start(
        &url("/sso/callback"),
        &[user("ada", "ada@acme.test", true, &["warden-admins"], &["pwd"])],
    );

    let browser = Browser::start().await;
    browser.goto(&url("/sign-in")).await;
    browser.fill("#email", "owner@acme.test").await;
    browser.fill("#password", LEGACY_PASSWORD).await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_address(&url("/")).await;

    // The wizard: the provider's steps and the redirect URI to paste.
    browser.goto(&url("/admin/sso")).await;
    browser.click("a[href='/admin/sso/new?preset=okta']").await;
    browser.wait_for_url("/admin/sso/new?preset=okta").await;
    assert_eq!(browser.text("#redirect-uri").await, url("/sso/callback"));
    assert!(browser.text("ol").await.contains("Okta admin console"));
    browser.fill("#sso-name", "Acme IdP").await;
    browser.fill("#sso-issuer", &provider.issuer).await;
    browser.fill("#sso-client", &provider.client_id).await;
    browser.fill("#sso-secret", &provider.client_secret).await;
    browser.fill("#sso-domains", "acme.test").await;
    browser.fill("#sso-roles", "warden-admins = admin").await;
    browser.click("form[action='/admin/sso'] button[type=submit]").await;
    browser.wait_for_url("notice=sso_created").await;

    // The owner vouches for the domain, then tests the connection.
    browser
        .click("form[action$='/domains/acme.test/acknowledge'] button")
        .await;
    browser.wait_for_url("notice=sso_acknowledged").await;
    let connection_page = browser.url().await;
    browser.click("form[action$='/test'] button").await;
    browser.wait_for_url(&provider.issuer).await;
    browser.fill("input[name=username]", "ada").await;
    browser.fill("input[name=password]", "ada-pass").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url("/sso/callback").await;
    let heading = browser.wait_for_text_containing("h1", "Test of Acme IdP").await;
    assert!(heading.contains("Acme IdP"));
    let result = browser.text("[role=status]").await;
    assert!(
        result.contains("ada@acme.test would get a new account and sign in as admin"),
        "{result}"
    );
    assert!(browser.text("pre").await.contains("\"groups\""));
    let kinds: Vec<String> = events(&instance)
        .iter()
        .map(|event| event["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !kinds.iter().any(|kind| kind == "user.provisioned"),
        "a test creates nobody"
    );
    let sessions = kinds.iter().filter(|kind| *kind == "session.created").count();
    assert_eq!(sessions, 1, "a test signs nobody in: the owner's session only");

    // On.
    browser.goto(connection_page.split('?').next().unwrap()).await;
    browser.click("form[action$='/enable'] button").await;
    browser.wait_for_url("notice=sso_enabled").await;
    browser.quit().await;

    // Ada signs in with "Use single sign-on" in another browser.
    let ada = Browser::start().await;
    ada.goto(&url("/sign-in")).await;
    ada.fill("#email", "ada@acme.test").await;
    ada.click("button[name=sso]").await;
    ada.wait_for_url(&provider.issuer).await;
    ada.fill("input[name=username]", "ada").await;
    ada.fill("input[name=password]", "ada-pass").await;
    ada.click("button[type=submit]").await;
    ada.wait_for_address(&url("/")).await;
    let page = ada.wait_for_text("body").await;
    assert!(page.contains("ada@acme.test"), "{page}");
    // An admin by her group: the administration pages are hers.
    ada.goto(&url("/admin/users")).await;
    assert!(ada.wait_for_text("h1").await.contains("Users"));
    ada.quit().await;
}
