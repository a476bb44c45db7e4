//! The org's MFA policy over HTTP against a real `warden serve`: what the
//! admin sets and previews, and what password and passkey sign-ins then
//! lead to (forced enrolment completed by enrolling, the grace period, a
//! method the org refuses, factors the org does not count). The decision
//! itself is checked exhaustively in `core/src/auth/mfa_policy.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use warden_tests::mfa::{early_in_step, oathtool};
use warden_tests::passkeys::{assertion, passkey_sign_in, register};
use warden_tests::web::{
    Forms, WebClient, assert_refused, create_user, events, field, instance, location, page_cookie, set_up,
};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

const PASSWORD: &str = "a long enough password 7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_org_policy_decides_every_password_and_passkey_sign_in() {
    let instance = instance(&[]).await;
    let mut owner = set_up(&instance.server).await;
    let owner_id = owner.get("/api/v1/session").await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    create_user(&mut owner, "sam@acme.test", "member", PASSWORD).await;
    create_user(&mut owner, "pat@acme.test", "member", PASSWORD).await;
    // Pat has a passkey (and so backup codes) from before the policy.
    let mut pat = WebClient::new(&instance.server);
    pat.sign_in("pat@acme.test", PASSWORD).await;
    let mut key = SoftPasskey::new(true);
    register(&mut pat, &mut key, "Phone").await;

    // The default asks nothing of users without factors.
    let policy = owner.get("/api/v1/org/mfa-policy").await;
    assert_eq!(policy.body["methods"]["password"]["require_mfa"], false);
    assert_eq!(policy.body["preview"]["password"]["without_factor"], "signed in");
    assert_eq!(
        policy.body["preview"]["password"]["with_totp"],
        "asked for a second factor (totp, backup_code)"
    );

    // Refused policies.
    let lockout = owner
        .put(
            "/api/v1/org/mfa-policy",
            json!({ "methods": { "password": { "allowed": false }, "passkey": { "allowed": false } } }),
        )
        .await;
    assert_refused(&lockout, 422, "invalid_policy");
    let codes_only = owner
        .put(
            "/api/v1/org/mfa-policy",
            json!({ "methods": { "password": { "require_mfa": true, "factors": ["backup_code"] } } }),
        )
        .await;
    assert_refused(&codes_only, 422, "invalid_policy");
    let trust_password = owner
        .put(
            "/api/v1/org/mfa-policy",
            json!({ "methods": { "password": { "trust_upstream_mfa": true } } }),
        )
        .await;
    assert_refused(&trust_password, 422, "invalid_policy");

    // Password sign-ins need TOTP now, with no grace.
    let changed = owner
        .put(
            "/api/v1/org/mfa-policy",
            json!({
                "enrolment_grace_seconds": 0,
                "methods": {
                    "password": { "require_mfa": true, "factors": ["totp", "backup_code"] },
                    "oidc": { "trust_upstream_mfa": true },
                },
            }),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(
        changed.body["preview"]["password"]["without_factor"],
        "must set up a second factor first (totp)"
    );
    assert_eq!(changed.body["preview"]["passkey"]["without_factor"], "signed in");
    assert_eq!(
        changed.body["methods"]["oidc"]["trust_upstream_mfa"]["acknowledged_by"],
        owner_id.as_str()
    );

    // Sam has no factor: the sign-in is a partial session that only
    // enrolment completes.
    let at = early_in_step().await;
    let mut sam = WebClient::new(&instance.server);
    let partial = sam.sign_in("sam@acme.test", PASSWORD).await;
    assert_eq!(partial.status, 200, "{:?}", partial.body);
    assert_eq!(
        partial.body["session"]["pending"],
        json!({ "step": "enrolment", "factors": ["totp"] })
    );
    assert_refused(&sam.get("/api/v1/session").await, 403, "enrolment_required");
    assert_refused(
        &sam.post("/api/v1/mfa/verify", json!({ "code": "123456" })).await,
        403,
        "enrolment_required",
    );
    assert_refused(&sam.get("/api/v1/auth/forward").await, 401, "session_required");
    assert_eq!(sam.get("/api/v1/mfa").await.status, 200);
    let started = sam.post("/api/v1/mfa/totp", json!({})).await;
    assert_eq!(started.status, 201, "{:?}", started.body);
    let secret = started.body["secret"].as_str().unwrap().to_string();
    let before = sam.cookie.clone();
    let enrolled = sam
        .post("/api/v1/mfa/totp/confirm", json!({ "code": oathtool(&secret, at) }))
        .await;
    assert_eq!(enrolled.status, 200, "{:?}", enrolled.body);
    assert_ne!(sam.cookie, before, "the completed sign-in gets a new token");
    let session = sam.get("/api/v1/session").await;
    assert_eq!(session.status, 200, "{:?}", session.body);
    assert_eq!(session.body["session"]["assurance"]["level"], "aal2");
    assert_eq!(
        session.body["session"]["assurance"]["methods"],
        json!(["password", "totp"])
    );

    // Pat's passkey does not count for password sign-ins under this
    // policy: enrol TOTP. Signing in with the passkey itself is complete.
    let mut pat_password = WebClient::new(&instance.server);
    let partial = pat_password.sign_in("pat@acme.test", PASSWORD).await;
    assert_eq!(partial.body["session"]["pending"]["step"], "enrolment");
    // Another passkey would not complete this sign-in: refused up front.
    assert_refused(
        &pat_password
            .post("/api/v1/mfa/passkeys/register/start", json!({}))
            .await,
        403,
        "factor_not_allowed",
    );
    // Setting up TOTP needs Pat to prove the passkey first (a thief with
    // the password alone must not add their own factor); proving it does
    // not complete the sign-in, enrolling does.
    assert_refused(
        &pat_password.post("/api/v1/mfa/totp", json!({})).await,
        403,
        "reauthentication_required",
    );
    let (ceremony, answer) = assertion(
        &mut pat_password,
        &mut key,
        "/api/v1/mfa/passkeys/verify/start",
        json!({}),
    )
    .await;
    let proved = pat_password
        .post(
            "/api/v1/mfa/passkeys/verify/finish",
            json!({ "ceremony": ceremony, "credential": answer }),
        )
        .await;
    assert_eq!(proved.status, 200, "{:?}", proved.body);
    assert_eq!(proved.body["session"]["pending"]["step"], "enrolment");
    assert_refused(&pat_password.get("/api/v1/session").await, 403, "enrolment_required");
    let started = pat_password.post("/api/v1/mfa/totp", json!({})).await;
    assert_eq!(started.status, 201, "{:?}", started.body);
    let pat_secret = started.body["secret"].as_str().unwrap().to_string();
    let enrolled = pat_password
        .post("/api/v1/mfa/totp/confirm", json!({ "code": oathtool(&pat_secret, at) }))
        .await;
    assert_eq!(enrolled.status, 200, "{:?}", enrolled.body);
    let session = pat_password.get("/api/v1/session").await;
    assert_eq!(session.status, 200, "{:?}", session.body);
    assert_eq!(
        session.body["session"]["assurance"]["methods"],
        json!(["password", "passkey", "totp"])
    );
    // Now a password sign-in offers only what the org counts: not the passkey.
    let mut again = WebClient::new(&instance.server);
    let partial = again.sign_in("pat@acme.test", PASSWORD).await;
    assert_eq!(
        partial.body["session"]["pending"]["factors"],
        json!(["totp", "backup_code"])
    );
    assert_refused(
        &again.post("/api/v1/mfa/passkeys/verify/start", json!({})).await,
        409,
        "no_passkey",
    );
    let mut pat_passkey = WebClient::new(&instance.server);
    let signed_in = passkey_sign_in(&mut pat_passkey, &mut key, "pat@acme.test").await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    assert!(signed_in.body["session"]["pending"].is_null());

    // An org that refuses passkey sign-in refuses it.
    let refused_method = owner
        .put(
            "/api/v1/org/mfa-policy",
            json!({ "methods": { "passkey": { "allowed": false } } }),
        )
        .await;
    assert_eq!(refused_method.status, 200, "{:?}", refused_method.body);
    let refused = passkey_sign_in(&mut pat_passkey, &mut key, "pat@acme.test").await;
    assert_refused(&refused, 403, "method_not_allowed");

    // A grace period: a user without a factor signs in fully, told by when.
    let graced = owner
        .put("/api/v1/org/mfa-policy", json!({ "enrolment_grace_seconds": 3600 }))
        .await;
    assert_eq!(graced.status, 200, "{:?}", graced.body);
    create_user(&mut owner, "neo@acme.test", "member", PASSWORD).await;
    let mut neo = WebClient::new(&instance.server);
    let signed_in = neo.sign_in("neo@acme.test", PASSWORD).await;
    assert!(signed_in.body["session"]["pending"].is_null(), "{:?}", signed_in.body);
    assert!(signed_in.body["enrolment_due"].is_string(), "{:?}", signed_in.body);
    assert_eq!(neo.get("/api/v1/session").await.status, 200);

    let changes: Vec<serde_json::Value> = events(&instance)
        .into_iter()
        .filter(|event| event["kind"] == "org.mfa_policy_changed")
        .collect();
    assert_eq!(changes.len(), 3);
    assert_eq!(changes[0]["actor"]["id"], owner_id.as_str());
    assert_eq!(changes[0]["data"]["old"]["rules"]["password"]["require_mfa"], false);
    assert_eq!(changes[0]["data"]["new"]["rules"]["password"]["require_mfa"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_page_shows_what_each_method_asks_and_changes_it() {
    let instance = instance(&[]).await;
    let mut owner = set_up(&instance.server).await;
    create_user(&mut owner, "mo@acme.test", "member", PASSWORD).await;
    let forms = Forms::new(&instance.server);
    let owner_cookie = owner.cookie.clone().unwrap();

    let html = forms
        .get("/admin/mfa-policy", Some(&owner_cookie))
        .await
        .text()
        .await
        .unwrap();
    let preview = html
        .split("id=\"preview\"")
        .nth(1)
        .unwrap()
        .split("</table>")
        .next()
        .unwrap();
    assert!(
        preview.contains("<th scope=\"row\">Password</th><td>signed in</td>"),
        "{preview}"
    );
    let csrf = field(&html, "csrf_token");
    // Every method's boxes as they are, plus "requires" for passwords.
    let mut form: Vec<(String, String)> = vec![("csrf_token".into(), csrf), ("grace_days".into(), "0".into())];
    for method in ["password", "passkey", "email_code", "oidc", "saml", "ldap"] {
        form.push((format!("{method}.allowed"), "on".into()));
        for factor in ["totp", "passkey", "backup_code"] {
            form.push((format!("{method}.factor"), factor.into()));
        }
    }
    form.push(("password.require_mfa".into(), "on".into()));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let saved = forms.post("/admin/mfa-policy", Some(&owner_cookie), &pairs).await;
    assert_eq!(location(&saved), "/admin/mfa-policy?notice=policy_changed");
    let html = forms
        .get("/admin/mfa-policy", Some(&owner_cookie))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<th scope=\"row\">Password</th><td>must set up a second factor first (passkey, totp)</td>"),
        "{html}"
    );

    // A member signing in is sent to enrol, and every other page sends
    // them back there.
    let signed_in = forms
        .post(
            "/sign-in",
            None,
            &[
                ("email", "mo@acme.test"),
                ("password", PASSWORD),
                ("next", "/settings/sessions"),
            ],
        )
        .await;
    assert_eq!(location(&signed_in), "/settings/mfa?notice=enrol_required");
    let mo = page_cookie(&signed_in).unwrap();
    assert_eq!(
        location(&forms.get("/settings/sessions", Some(&mo)).await),
        "/settings/mfa?notice=enrol_required"
    );
    let enrol = forms.get("/settings/mfa?notice=enrol_required", Some(&mo)).await;
    assert_eq!(enrol.status(), 200);
    assert!(enrol.text().await.unwrap().contains("requires a second factor"));
    assert_eq!(forms.get("/admin/mfa-policy", Some(&mo)).await.status(), 303);
}
