//! Confirming it's you through the identity provider (the `oidc-provider`
//! peer): a person signed in by single sign-on, with no password and no
//! second factor, confirms a sensitive action by signing in at the
//! provider again (`prompt=login`, `max_age=0`); the session that asked is
//! elevated. Another person at the provider confirms nothing, a forged
//! post starts nothing, and a password's session is not offered it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use warden_tests::audit::{signed_in, two_orgs};
use warden_tests::oidc::{Browser, OidcProvider, connect, last_failure, sign_in, sso_events, user};
use warden_tests::web::{field, location};

/// Step-up lasts this long: the test waits it out.
const STEP_UP_SECONDS: u64 = 3;

/// The link of the page that goes on to the provider by itself.
fn onwards(page: &str) -> String {
    page.split("id=\"continue\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no way on to the provider: {page}"))
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// Starts setting up an authenticator app: a sensitive action (303 to the
/// settings when the sign-in is recent enough).
async fn set_up_authenticator(url: &str, browser: &mut Browser) -> reqwest::Response {
    let page = browser.get(&format!("{url}/settings/mfa")).await;
    assert_eq!(page.status(), 200);
    let csrf = field(&page.text().await.unwrap(), "csrf_token");
    browser
        .post(&format!("{url}/settings/mfa/totp"), &[("csrf_token", &csrf)])
        .await
}

/// From "Confirm it's you", the provider's button: the page that goes on
/// to the provider.
async fn confirm_with_provider(url: &str, browser: &mut Browser) -> String {
    let page = browser
        .get(&format!("{url}/settings/reauthenticate?next=/settings/mfa"))
        .await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("Confirm with Acme IdP"), "{page}");
    assert!(!page.contains("name=\"password\""), "no password to ask for: {page}");
    let csrf = field(&page, "csrf_token");
    let started = browser
        .post(
            &format!("{url}/settings/reauthenticate/sso"),
            &[("csrf_token", csrf.as_str()), ("next", "/settings/mfa")],
        )
        .await;
    assert_eq!(started.status(), 200, "the page that goes on to the provider");
    onwards(&started.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_of_single_sign_on_confirms_it_is_them_at_the_provider() {
    let instance = two_orgs(&[
        ("WARDEN_SSO_INSECURE_ISSUERS", "true"),
        ("WARDEN_STEP_UP_MAX_AGE_SECONDS", &STEP_UP_SECONDS.to_string()),
    ])
    .await;
    let server = &instance.server;
    let idp = OidcProvider::start(
        &format!("{}/sso/callback", server.url),
        &[
            user("ada", "ada@acme.test", true, &[], &["pwd"]),
            user("bob", "bob@acme.test", true, &[], &["pwd"]),
        ],
    );
    let mut admin = signed_in(server, "admin@acme.test").await;
    let mut owner = signed_in(server, "owner@acme.test").await;
    let acme = connect(&mut admin, &mut owner, &idp, "acme.test", json!([])).await;
    // Bob has an account, linked to his identity.
    let (answer, _) = sign_in(&instance, &idp, &acme, "bob").await;
    assert_eq!(answer.status(), 303);

    // Ada's account is made as she signs in: no password, no second factor.
    let (answer, mut browser) = sign_in(&instance, &idp, &acme, "ada").await;
    assert_eq!(answer.status(), 303);
    let url = server.url.clone();
    let session_before = browser.cookie(&url, "warden_session").unwrap();
    let fresh = set_up_authenticator(&url, &mut browser).await;
    assert_eq!(
        location(&fresh),
        "/settings/mfa",
        "a fresh sign-in needs no confirmation"
    );
    tokio::time::sleep(std::time::Duration::from_millis(STEP_UP_SECONDS * 1000 + 500)).await;
    let stale = set_up_authenticator(&url, &mut browser).await;
    assert_ne!(stale.status(), 303, "a stale sign-in confirms first");

    // The provider is asked to sign her in again, whatever session it
    // holds, and the answer elevates the session that asked.
    let link = confirm_with_provider(&url, &mut browser).await;
    assert!(link.starts_with(&idp.issuer), "{link}");
    assert!(link.contains("prompt=login") && link.contains("max_age=0"), "{link}");
    assert!(link.contains("login_hint=ada%40acme.test"), "{link}");
    let callback = browser.through_provider_from(link, &idp.issuer, "ada").await;
    let back = browser.get(&callback).await;
    assert_eq!(back.status(), 303, "{:?}", back.text().await);
    assert_eq!(location(&back), "/settings/mfa?notice=reauthenticated");
    let session_after = browser.cookie(&url, "warden_session").unwrap();
    assert_ne!(session_before, session_after, "a new token for the elevated session");
    let now = set_up_authenticator(&url, &mut browser).await;
    assert_eq!(location(&now), "/settings/mfa", "confirmed: the action goes through");
    let started = sso_events(&instance, "sso.started").pop().unwrap();
    assert_eq!(started["data"]["reauthentication"], true);
    let succeeded = sso_events(&instance, "sso.succeeded").pop().unwrap();
    assert_eq!(succeeded["data"]["result"], "reauthenticated");
    let ada = succeeded["data"]["user"].as_str().unwrap().to_string();
    assert_eq!(succeeded["actor"]["id"], ada.as_str());
    let elevated = sso_events(&instance, "session.elevated").pop().unwrap();
    assert_eq!(elevated["data"]["reason"], "step_up");
    assert_eq!(elevated["data"]["assurance"]["methods"], json!(["oidc"]));
    assert_eq!(elevated["data"]["user"], ada.as_str());
    assert_eq!(
        succeeded["data"]["session"],
        elevated["subject"].as_str().unwrap().trim_start_matches("session:")
    );

    // Bob at the provider confirms nothing for Ada: the failure says why,
    // and her session stays as it was.
    tokio::time::sleep(std::time::Duration::from_millis(STEP_UP_SECONDS * 1000 + 500)).await;
    let link = confirm_with_provider(&url, &mut browser).await;
    let callback = browser.through_provider_from(link, &idp.issuer, "bob").await;
    let refused = browser.get(&callback).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(last_failure(&instance)["reason"], "another_person");
    let stale = set_up_authenticator(&url, &mut browser).await;
    assert_ne!(stale.status(), 303, "still stale");

    // A forged post starts nothing; a password's session is not offered
    // the provider, and asking for it anyway is refused.
    let starts = sso_events(&instance, "sso.started").len();
    let forged = browser
        .post(
            &format!("{url}/settings/reauthenticate/sso"),
            &[("next", "/settings/mfa")],
        )
        .await;
    assert_eq!(forged.status(), 403);
    let mut password_browser = Browser::new();
    let signed = password_browser
        .post(
            &format!("{url}/sign-in"),
            &[
                ("email", "member@acme.test"),
                ("password", warden_tests::audit::LEGACY_PASSWORD),
            ],
        )
        .await;
    assert_eq!(signed.status(), 303);
    let page = password_browser
        .get(&format!("{url}/settings/reauthenticate?next=/settings/mfa"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("confirm-with-provider"), "{page}");
    assert!(page.contains("name=\"password\""), "{page}");
    let csrf = field(&page, "csrf_token");
    let asked = password_browser
        .post(
            &format!("{url}/settings/reauthenticate/sso"),
            &[("csrf_token", csrf.as_str()), ("next", "/settings/mfa")],
        )
        .await;
    assert_eq!(asked.status(), 409);
    assert_eq!(sso_events(&instance, "sso.started").len(), starts);
}
