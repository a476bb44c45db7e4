//! An org that requires single sign-on, against a real OpenID Provider:
//! only an owner requires it, and only once a connection is on with an
//! acknowledged domain; then a member's or an admin's password opens
//! nothing (the sign-in page sends them on to the provider), an owner's
//! still does (break-glass), another org is untouched, an invitation is
//! accepted by signing in with the provider, and lifting the requirement
//! gives passwords back.

use serde_json::json;
use warden_tests::audit::{LEGACY_PASSWORD, page_signed_in, signed_in, two_orgs};
use warden_tests::oidc::{Browser, OidcProvider, connect, sign_in, sso_events, user};
use warden_tests::web::{Forms, WebClient, events, location, page_cookie};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_requiring_single_sign_on_refuses_passwords_but_its_owners() {
    let instance = two_orgs(&[("WARDEN_SSO_INSECURE_ISSUERS", "true")]).await;
    let server = &instance.server;
    let callback = format!("{}/sso/callback", server.url);
    let idp = OidcProvider::start(
        &callback,
        &[
            user("member", "member@acme.test", true, &[], &["pwd"]),
            user("ivy", "ivy@acme.test", true, &[], &["pwd"]),
        ],
    );
    let mut admin = signed_in(server, "admin@acme.test").await;
    let mut owner = signed_in(server, "owner@acme.test").await;
    let require = |on: bool| json!({ "require_sso": on });

    // Nothing to sign in with yet: requiring it would lock everyone out.
    let early = owner.put("/api/v1/org/mfa-policy", require(true)).await;
    assert_eq!(early.status, 422, "{:?}", early.body);
    assert_eq!(early.body["error"]["code"], "invalid_policy");
    let acme = connect(&mut admin, &mut owner, &idp, "acme.test", json!([])).await;

    // The owner's to decide, not an admin's.
    let by_admin = admin.put("/api/v1/org/mfa-policy", require(true)).await;
    assert_eq!(by_admin.status, 403, "{:?}", by_admin.body);
    let required = owner.put("/api/v1/org/mfa-policy", require(true)).await;
    assert_eq!(required.status, 200, "{:?}", required.body);
    assert_eq!(required.body["require_sso"], true);
    let changed = events(&instance)
        .into_iter()
        .rfind(|event| event["kind"] == "org.mfa_policy_changed")
        .unwrap();
    assert_eq!(changed["data"]["new"]["require_sso"], true);
    assert!(changed["data"]["old"].get("require_sso").is_none());

    // A member's and an admin's right password open nothing; a wrong one
    // is told only that it is wrong.
    for who in ["member@acme.test", "admin@acme.test"] {
        let answer = WebClient::new(server).sign_in(who, LEGACY_PASSWORD).await;
        assert_eq!(answer.status, 403, "{who}: {:?}", answer.body);
        assert_eq!(answer.body["error"]["code"], "sso_required", "{who}");
        assert!(answer.body["error"]["request_id"].is_string());
        let wrong = WebClient::new(server).sign_in(who, "not the password at all").await;
        assert_eq!(wrong.status, 401, "{who}");
        assert_eq!(wrong.body["error"]["code"], "invalid_credentials");
    }
    // Break-glass: the owner still signs in with a password.
    let glass = WebClient::new(server).sign_in("owner@acme.test", LEGACY_PASSWORD).await;
    assert_eq!(glass.status, 200, "{:?}", glass.body);
    // Another org's people are untouched.
    let globex = WebClient::new(server)
        .sign_in("member@globex.test", LEGACY_PASSWORD)
        .await;
    assert_eq!(globex.status, 200, "{:?}", globex.body);

    // The org's own sign-in page has the connection's button, which
    // signs the member in; an org not found is a 404.
    let forms = Forms::new(server);
    let entrance = forms.get("/sign-in/org/acme?next=/settings/sessions", None).await;
    assert_eq!(entrance.status(), 200);
    let text = entrance.text().await.unwrap();
    assert!(text.contains("Sign in with Acme IdP"), "{text}");
    let button = format!("/sso/start?connection={acme}&#38;next=%2Fsettings%2Fsessions");
    assert!(text.contains(&button), "{text}");
    let mut browser = Browser::new();
    let start = browser
        .get(&format!("{}{}", server.url, button.replace("&#38;", "&")))
        .await;
    let back = browser.through_provider(start, &idp.issuer, "member").await;
    let answer = browser.get(&back).await;
    assert_eq!(location(&answer), "/settings/sessions");
    assert!(page_cookie(&answer).is_some());
    assert_eq!(forms.get("/sign-in/org/nobody", None).await.status(), 404);
    let console = forms
        .get("/admin/sso", Some(&page_signed_in(&forms, "owner@acme.test").await))
        .await;
    let text = console.text().await.unwrap();
    assert!(text.contains(&format!("{}/sign-in/org/acme", server.url)), "{text}");

    // The sign-in page sends a member on to the provider instead.
    let page = forms
        .post(
            "/sign-in",
            None,
            &[
                ("email", "member@acme.test"),
                ("password", LEGACY_PASSWORD),
                ("next", "/"),
            ],
        )
        .await;
    assert_eq!(page.status(), 200);
    assert!(page_cookie(&page).is_none(), "no session before the provider");
    let text = page.text().await.unwrap();
    assert!(text.contains(&idp.issuer), "the page goes on to the provider: {text}");
    // Single sign-on signs the member in (the account linked by address).
    let (answer, _) = sign_in(&instance, &idp, &acme, "member").await;
    assert_eq!(answer.status(), 303);
    assert_eq!(location(&answer), "/settings/sessions");
    assert!(page_cookie(&answer).is_some());

    // An invitation is accepted through the provider, never by a password.
    let invited = admin
        .post(
            "/api/v1/users",
            json!({"email": "ivy@acme.test", "display_name": "Ivy", "role": "member"}),
        )
        .await;
    assert_eq!(invited.status, 201, "{:?}", invited.body);
    let url = invited.body["invitation_url"].as_str().unwrap();
    let token = url.split("token=").nth(1).unwrap().to_string();
    let invitation = forms.get(&format!("/invitation?token={token}"), None).await;
    let text = invitation.text().await.unwrap();
    assert!(text.contains("Accept with single sign-on"), "{text}");
    let by_password = WebClient::new(server)
        .post(
            "/api/v1/invitations/accept",
            json!({"token": token, "password": "ivy's long password 7"}),
        )
        .await;
    assert_eq!(by_password.status, 403, "{:?}", by_password.body);
    assert_eq!(by_password.body["error"]["code"], "sso_required");
    assert!(
        !events(&instance)
            .iter()
            .any(|event| event["kind"] == "user.invitation_accepted"),
        "the refused password accepted nothing"
    );
    let (answer, _) = sign_in(&instance, &idp, &acme, "ivy").await;
    assert_eq!(answer.status(), 303);
    let ivy = admin.user_id("ivy@acme.test").await;
    let accepted: Vec<_> = sso_events(&instance, "user.invitation_accepted");
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0]["subject"], format!("user:{ivy}"));
    assert_eq!(
        sso_events(&instance, "user.linked").last().unwrap()["data"]["user"],
        ivy.as_str()
    );
    let users = admin.get("/api/v1/users").await.body["users"].clone();
    let listed = users.as_array().unwrap().iter().find(|user| user["id"] == ivy.as_str());
    assert_eq!(listed.unwrap()["status"], "active", "{users}");

    // Lifting it gives passwords back (the owner's call again).
    let lifted = admin.put("/api/v1/org/mfa-policy", require(false)).await;
    assert_eq!(lifted.status, 403);
    assert_eq!(owner.put("/api/v1/org/mfa-policy", require(false)).await.status, 200);
    let answer = WebClient::new(server)
        .sign_in("member@acme.test", LEGACY_PASSWORD)
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
}
