//! Signing in through a real OpenID Provider (the `oidc-provider` peer):
//! just-in-time accounts with their groups' roles, linking by a verified
//! address, identities stable by subject, every refusal the ID token's
//! checks make (each forged by the provider's test control), a replayed
//! callback, the provider's second factor trusted only once an owner says
//! so, and two orgs whose providers cannot reach into each other.

use serde_json::{Value, json};
use warden_tests::audit::{signed_in, two_orgs};
use warden_tests::oidc::{Browser, OidcProvider, connect, last_failure, sign_in, sso_events, user};
use warden_tests::web::{Forms, Instance, WebClient, field, location, page_cookie};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_sign_in_through_their_org_provider_and_nothing_else_gets_through() {
    let instance = two_orgs(&[("WARDEN_SSO_INSECURE_ISSUERS", "true")]).await;
    let server = &instance.server;
    let callback = format!("{}/sso/callback", server.url);
    let acme_idp = OidcProvider::start(
        &callback,
        &[
            user("ada", "ada@acme.test", true, &["warden-admins", "everyone"], &["pwd"]),
            user("member", "member@acme.test", true, &["everyone"], &["pwd"]),
            user("carol", "carol@acme.test", false, &[], &["pwd"]),
            user("dave", "dave@acme.test", true, &[], &["pwd", "otp", "mfa"]),
            user("eve", "owner@globex.test", true, &[], &["pwd"]),
        ],
    );
    let mut admin = signed_in(server, "admin@acme.test").await;
    let mut owner = signed_in(server, "owner@acme.test").await;
    let acme = connect(
        &mut admin,
        &mut owner,
        &acme_idp,
        "acme.test",
        json!([{"group": "warden-admins", "role": "admin"}]),
    )
    .await;
    let forms = Forms::new(server);

    // Ada has no account: one is made, an admin by her group, and she is
    // signed in where she was going.
    let (answer, _) = sign_in(&instance, &acme_idp, &acme, "ada").await;
    assert_eq!(answer.status(), 303);
    assert_eq!(location(&answer), "/settings/sessions");
    let session = page_cookie(&answer).expect("a session cookie");
    assert_eq!(forms.get("/settings/sessions", Some(&session)).await.status(), 200);
    let users = admin.get("/api/v1/users").await.body["users"].clone();
    let ada = users
        .as_array()
        .unwrap()
        .iter()
        .find(|user| user["email"] == "ada@acme.test")
        .unwrap()
        .clone();
    assert_eq!(ada["role"], "admin");
    let provisioned = sso_events(&instance, "user.provisioned");
    assert_eq!(provisioned.len(), 1);
    assert_eq!(provisioned[0]["data"]["subject"], "ada");
    assert_eq!(provisioned[0]["data"]["groups"], json!(["warden-admins", "everyone"]));
    let succeeded = sso_events(&instance, "sso.succeeded").pop().unwrap();
    assert_eq!(succeeded["data"]["result"], "provisioned");
    assert_eq!(succeeded["data"]["user"], ada["id"]);
    let logins: Vec<Value> = sso_events(&instance, "login.succeeded");
    assert_eq!(logins.last().unwrap()["data"]["method"], "oidc");

    // Again: the same account, nothing created.
    let (answer, _) = sign_in(&instance, &acme_idp, &acme, "ada").await;
    assert_eq!(answer.status(), 303, "{:?}", answer.text().await);
    assert_eq!(sso_events(&instance, "user.provisioned").len(), 1);
    assert_eq!(
        sso_events(&instance, "sso.succeeded").pop().unwrap()["data"]["result"],
        "signed_in"
    );

    // An existing account is linked by its verified address, then known by
    // its subject: a new address at the provider still signs it in.
    let (answer, _) = sign_in(&instance, &acme_idp, &acme, "member").await;
    assert_eq!(answer.status(), 303);
    let linked = sso_events(&instance, "user.linked");
    assert_eq!(linked.len(), 1);
    let member_id = admin.user_id("member@acme.test").await;
    assert_eq!(linked[0]["data"]["user"], member_id.as_str());
    acme_idp.claims("member", json!({"email": "renamed@acme.test"})).await;
    let (answer, _) = sign_in(&instance, &acme_idp, &acme, "member").await;
    assert_eq!(answer.status(), 303);
    let last = sso_events(&instance, "sso.succeeded").pop().unwrap();
    assert_eq!(
        (last["data"]["result"].as_str(), last["data"]["user"].as_str()),
        (Some("signed_in"), Some(member_id.as_str()))
    );

    // An address the provider does not vouch for links and creates nothing.
    let (answer, _) = sign_in(&instance, &acme_idp, &acme, "carol").await;
    assert_eq!(answer.status(), 403);
    let page = answer.text().await.unwrap();
    assert!(page.contains("Signing in with Acme IdP did not work"), "{page}");
    assert!(!page.contains("email_verified"), "the browser is not told why");
    assert_eq!(last_failure(&instance)["reason"], "email_not_verified");
    // Nor one of a domain the connection does not serve (another org's).
    let (answer, _) = sign_in(&instance, &acme_idp, &acme, "eve").await;
    assert_eq!(answer.status(), 403);
    assert_eq!(last_failure(&instance)["reason"], "domain_not_served");

    // Every forged ID token is refused, each for what is wrong with it.
    for (mode, reason) in [
        ("nonce", "nonce_mismatch"),
        ("issuer", "issuer_mismatch"),
        ("expired", "expired"),
        ("audience", "audience_mismatch"),
        ("none", "disallowed_algorithm"),
        ("hs256", "disallowed_algorithm"),
        ("unknown_key", "unknown_key"),
    ] {
        acme_idp.tamper(mode).await;
        let (answer, _) = sign_in(&instance, &acme_idp, &acme, "ada").await;
        assert_eq!(answer.status(), 403, "{mode}");
        assert!(page_cookie(&answer).is_none(), "{mode}: no session");
        let failure = last_failure(&instance);
        assert_eq!(failure["reason"], reason, "{mode}: {failure}");
        assert!(!failure["detail"].as_str().unwrap().is_empty());
    }

    // A callback used twice, with the first's cookie: the second is a
    // replay. One with another state is not this browser's sign-in.
    let mut browser = Browser::new();
    let start = browser
        .get(&format!("{}/sso/start?connection={acme}", server.url))
        .await;
    let flow = browser.cookie(&server.url, "warden_sso").expect("the flow's cookie");
    let callback_url = browser.through_provider(start, &acme_idp.issuer, "ada").await;
    let mut other = Browser::new();
    let forged = callback_url.replace("state=", "state=x");
    let mut thief = Browser::new();
    thief.set_cookie(&server.url, "warden_sso", &flow);
    let mismatch = thief.get(&forged).await;
    assert_eq!(mismatch.status(), 403);
    assert_eq!(last_failure(&instance)["reason"], "state_mismatch");
    assert_eq!(browser.get(&callback_url).await.status(), 303, "the first use signs in");
    other.set_cookie(&server.url, "warden_sso", &flow);
    let replayed = other.get(&callback_url).await;
    assert_eq!(replayed.status(), 403);
    assert!(page_cookie(&replayed).is_none());
    assert_eq!(last_failure(&instance)["reason"], "replayed");
    // Without the cookie, nothing can be attributed, and nothing signs in.
    let bare = Browser::new().get(&callback_url).await;
    assert_eq!(bare.status(), 403);

    // The provider's second factor counts only once an owner trusts it.
    let required = owner
        .put(
            "/api/v1/org/mfa-policy",
            json!({"enrolment_grace_seconds": 0,
                   "methods": {"oidc": {"require_mfa": true, "factors": ["totp", "passkey", "backup_code"]}}}),
        )
        .await;
    assert_eq!(required.status, 200, "{:?}", required.body);
    let (answer, _) = sign_in(&instance, &acme_idp, &acme, "dave").await;
    assert_eq!(
        location(&answer),
        "/settings/mfa?notice=enrol_required",
        "untrusted: Warden's own factor"
    );
    let trust = json!({"methods": {"oidc": {"trust_upstream_mfa": true}}});
    let refused = admin.put("/api/v1/org/mfa-policy", trust.clone()).await;
    assert_eq!(
        refused.status, 403,
        "an admin cannot trust a provider: {:?}",
        refused.body
    );
    assert_eq!(owner.put("/api/v1/org/mfa-policy", trust).await.status, 200);
    let (answer, _) = sign_in(&instance, &acme_idp, &acme, "dave").await;
    assert_eq!(
        location(&answer),
        "/settings/sessions",
        "trusted: the provider's second factor counts"
    );
    let dave = sso_events(&instance, "sso.succeeded").pop().unwrap();
    assert_eq!(dave["data"]["upstream_mfa"], true);
    let session = sso_events(&instance, "session.created").pop().unwrap();
    assert_eq!(session["data"]["assurance"]["level"], "aal2");
    // Ada's provider checked no second factor: she still needs Warden's.
    let (answer, _) = sign_in(&instance, &acme_idp, &acme, "ada").await;
    assert_eq!(location(&answer), "/settings/mfa?notice=enrol_required");

    // A disabled connection signs nobody in.
    assert_eq!(
        admin
            .post(&format!("/api/v1/sso/connections/{acme}/disable"), json!({}))
            .await
            .status,
        200
    );
    let closed = Browser::new()
        .get(&format!("{}/sso/start?connection={acme}", server.url))
        .await;
    assert_eq!(closed.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_org_provider_cannot_sign_in_or_create_this_org_people() {
    let instance = two_orgs(&[("WARDEN_SSO_INSECURE_ISSUERS", "true")]).await;
    let server = &instance.server;
    let callback = format!("{}/sso/callback", server.url);
    // Globex runs a provider that says its user is Acme's member, and
    // another who is new at acme.test.
    let globex_idp = OidcProvider::start(
        &callback,
        &[
            user("mallory", "member@acme.test", true, &["warden-admins"], &["pwd"]),
            user("newcomer", "newcomer@acme.test", true, &[], &["pwd"]),
            user("gina", "gina@globex.test", true, &[], &["pwd"]),
        ],
    );
    let mut admin = signed_in(server, "admin@globex.test").await;
    let mut owner = signed_in(server, "owner@globex.test").await;
    let globex = connect(&mut admin, &mut owner, &globex_idp, "globex.test", json!([])).await;
    // Globex can list acme.test but not vouch for it: Acme's people are
    // there.
    let path = format!("/api/v1/sso/connections/{globex}");
    let listed = admin
        .patch(&path, json!({"domains": ["globex.test", "acme.test"]}))
        .await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let vouched = owner
        .post(&format!("{path}/domains/acme.test/acknowledge"), json!({}))
        .await;
    assert_eq!(vouched.status, 409, "{:?}", vouched.body);

    for who in ["mallory", "newcomer"] {
        let (answer, _) = sign_in(&instance, &globex_idp, &globex, who).await;
        assert_eq!(answer.status(), 403, "{who}");
        assert!(page_cookie(&answer).is_none());
        assert_eq!(last_failure(&instance)["reason"], "domain_not_served", "{who}");
    }
    assert!(sso_events(&instance, "user.linked").is_empty());
    assert!(sso_events(&instance, "user.provisioned").is_empty());
    let mut acme_admin = signed_in(server, "admin@acme.test").await;
    let acme_users = acme_admin.get("/api/v1/users").await.body["users"].clone();
    assert!(!acme_users.to_string().contains("newcomer"));

    // Globex's own people sign in to Globex.
    let (answer, _) = sign_in(&instance, &globex_idp, &globex, "gina").await;
    assert_eq!(answer.status(), 303);
    let provisioned = sso_events(&instance, "user.provisioned");
    assert_eq!(provisioned.len(), 1);
    let globex_org = sso_events(&instance, "sso_connection.created")[0]["data"]["org"].clone();
    assert_eq!(provisioned[0]["data"]["org"], globex_org);
}

/// Two orgs, and Acme's connection (on) to a provider that knows Ada of
/// acme.test; Acme's admin, signed in.
async fn acme_with_ada() -> (Instance, OidcProvider, String, WebClient) {
    let instance = two_orgs(&[("WARDEN_SSO_INSECURE_ISSUERS", "true")]).await;
    let server = &instance.server;
    let idp = OidcProvider::start(
        &format!("{}/sso/callback", server.url),
        &[user("ada", "ada@acme.test", true, &[], &["pwd"])],
    );
    let mut admin = signed_in(server, "admin@acme.test").await;
    let mut owner = signed_in(server, "owner@acme.test").await;
    let acme = connect(&mut admin, &mut owner, &idp, "acme.test", json!([])).await;
    (instance, idp, acme, admin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_network_holds_a_bounded_number_of_unfinished_sign_ins() {
    let (instance, idp, acme, _) = acme_with_ada().await;
    let server = &instance.server;
    // Anyone may start a sign-in, and each start is an event: a network
    // may have 100 open at once (core::auth::sso::flow). Flows that end
    // do not count.
    let start = format!("{}/sso/start?connection={acme}", server.url);
    let mut browser = Browser::new();
    for n in 0..99 {
        let answer = browser.get(&start).await;
        assert_eq!(answer.status(), 303, "start {n}");
    }
    let (finished, _) = sign_in(&instance, &idp, &acme, "ada").await;
    assert_eq!(finished.status(), 303, "a sign-in that ends");
    assert_eq!(browser.get(&start).await.status(), 303, "the 100th open");
    let refused = browser.get(&start).await;
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=600).contains(&retry), "{retry}");
    assert_eq!(sso_events(&instance, "sso.started").len(), 101);
}

/// Signs the browser out with the page's form (`POST /sign-out`).
async fn sign_out(url: &str, browser: &mut Browser) -> reqwest::Response {
    let page = browser.get(&format!("{url}/settings/sessions")).await;
    assert_eq!(page.status(), 200);
    let csrf = field(&page.text().await.unwrap(), "csrf_token");
    browser.post(&format!("{url}/sign-out"), &[("csrf_token", &csrf)]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_signs_out_at_the_provider_where_the_connection_asks() {
    let (instance, idp, acme, mut admin) = acme_with_ada().await;
    let server = &instance.server;
    let start = format!("{}/sso/start?connection={acme}", server.url);
    // The connection does not ask: signing out ends Warden's session only,
    // and the provider still knows Ada (its authorization comes straight
    // back).
    let (answer, mut browser) = sign_in(&instance, &idp, &acme, "ada").await;
    assert_eq!(answer.status(), 303);
    let answer = sign_out(&server.url, &mut browser).await;
    assert_eq!(location(&answer), "/sign-in?notice=signed_out");
    let again = browser.get(&start).await;
    let at_provider = browser.get(location(&again)).await;
    assert!(
        location(&at_provider).starts_with(&format!("{}/sso/callback?", server.url)),
        "still signed in at the provider: {}",
        location(&at_provider)
    );

    // It asks: signing out goes on to the provider's end_session_endpoint,
    // which signs Ada out there and sends her back to Warden.
    let changed = admin
        .patch(
            &format!("/api/v1/sso/connections/{acme}"),
            json!({"sign_out_at_provider": true}),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(changed.body["sign_out_at_provider"], true);
    let (answer, mut browser) = sign_in(&instance, &idp, &acme, "ada").await;
    assert_eq!(answer.status(), 303);
    let answer = sign_out(&server.url, &mut browser).await;
    assert_eq!(answer.status(), 200, "the page that goes on to the provider");
    let page = answer.text().await.unwrap();
    assert!(page.contains("to sign out there too"), "{page}");
    assert!(page.contains("client_id=warden"), "{page}");
    let back = browser.sign_out_at_provider(&page, &idp.issuer).await;
    assert_eq!(back, format!("{}/sso/signed-out", server.url));
    assert_eq!(location(&browser.get(&back).await), "/sign-in?notice=signed_out");
    // The session is over in Warden, and the provider asks Ada to sign in
    // again.
    assert_ne!(
        browser.get(&format!("{}/settings/sessions", server.url)).await.status(),
        200
    );
    let again = browser.get(&start).await;
    let at_provider = browser.get(location(&again)).await;
    assert!(
        location(&at_provider).starts_with("/interaction/"),
        "signed out at the provider: {}",
        location(&at_provider)
    );
}
