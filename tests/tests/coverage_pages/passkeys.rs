//! The page forms of passkeys: renamed and removed (registered and
//! verified through the API: the page does that by script).

use serde_json::json;
use warden_tests::coverage::Walk;
use warden_tests::passkeys::{assertion, register};
use warden_tests::process::Server;
use warden_tests::web::{Forms, WebClient};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use super::csrf;

/// A passkey of the user `email` renamed and removed from the page.
pub(crate) async fn passkey_forms(walk: &mut Walk, forms: &Forms, server: &Server, (email, password): (&str, &str)) {
    let mut laptop = WebClient::new(server);
    laptop.sign_in(email, password).await;
    let mut key = SoftPasskey::new(true);
    let registered = register(&mut laptop, &mut key, "Laptop").await;
    let credential = registered["credential"].as_str().unwrap();
    let cookie = laptop.cookie.clone().unwrap();
    let token = csrf(forms, &cookie).await;
    let rename = [("csrf_token", token.as_str()), ("name", "Work")];
    let before = walk.head().await;
    let renamed = forms
        .post(
            &format!("/settings/mfa/passkeys/{credential}/rename"),
            Some(&cookie),
            &rename,
        )
        .await;
    walk.posted("/settings/mfa/passkeys/{credential}/rename", before, &renamed)
        .await;
    let (ceremony, answer) = assertion(&mut laptop, &mut key, "/api/v1/mfa/passkeys/verify/start", json!({})).await;
    let verified = laptop
        .post(
            "/api/v1/mfa/passkeys/verify/finish",
            json!({"ceremony": ceremony, "credential": answer}),
        )
        .await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    let cookie = laptop.cookie.clone().unwrap();
    let token = csrf(forms, &cookie).await;
    let before = walk.head().await;
    let removed = forms
        .post(
            &format!("/settings/mfa/passkeys/{credential}/remove"),
            Some(&cookie),
            &[("csrf_token", &token)],
        )
        .await;
    walk.posted("/settings/mfa/passkeys/{credential}/remove", before, &removed)
        .await;
}
