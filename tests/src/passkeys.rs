//! Passkeys in tests: a software authenticator (`webauthn-authenticator-rs`'
//! SoftPasskey, which signs real WebAuthn answers) driving Warden's
//! ceremonies over HTTP.

use serde_json::{Value, json};
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_rs_proto::{CreationChallengeResponse, RequestChallengeResponse};

use crate::web::{WebClient, assert_refused};

/// Warden's origin as a browser on this machine names it: passkeys need a
/// domain, and on loopback Warden's relying party is `localhost`.
pub fn origin(client: &WebClient) -> Url {
    let port = client.base.rsplit(':').next().unwrap();
    Url::parse(&format!("http://localhost:{port}")).unwrap()
}

/// Starts a registration and lets `key` answer it: the body of
/// `…/register/finish`, not sent yet.
pub async fn registration<K: WebauthnAuthenticator>(client: &mut WebClient, key: &mut K, name: &str) -> Value {
    let started = client.post("/api/v1/mfa/passkeys/register/start", json!({})).await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    assert_eq!(started.body["options"]["publicKey"]["rp"]["id"], "localhost");
    let options: CreationChallengeResponse = serde_json::from_value(started.body["options"].clone()).unwrap();
    let credential = key.do_registration(origin(client), options).unwrap();
    json!({
        "ceremony": started.body["ceremony"],
        "credential": credential,
        "name": name,
    })
}

pub async fn register<K: WebauthnAuthenticator>(client: &mut WebClient, key: &mut K, name: &str) -> Value {
    let body = registration(client, key, name).await;
    let finished = client.post("/api/v1/mfa/passkeys/register/finish", body.clone()).await;
    assert_eq!(finished.status, 201, "{:?}", finished.body);
    // The same answer again: the ceremony works once.
    assert_refused(
        &client.post("/api/v1/mfa/passkeys/register/finish", body).await,
        409,
        "passkey_taken",
    );
    finished.body
}

/// Runs `navigator.credentials.get()` with the key on options from `path`.
pub async fn assertion<K: WebauthnAuthenticator>(
    client: &mut WebClient,
    key: &mut K,
    path: &str,
    body: Value,
) -> (Value, Value) {
    let started = client.post(path, body).await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    let options: RequestChallengeResponse = serde_json::from_value(started.body["options"].clone()).unwrap();
    let credential = key.do_authentication(origin(client), options).unwrap();
    (
        started.body["ceremony"].clone(),
        serde_json::to_value(credential).unwrap(),
    )
}

/// Signs in with `key` alone (email first): the finishing answer.
pub async fn passkey_sign_in<K: WebauthnAuthenticator>(
    client: &mut WebClient,
    key: &mut K,
    email: &str,
) -> crate::web::Answer {
    let (ceremony, credential) =
        assertion(client, key, "/api/v1/sign-in/passkey/start", json!({ "email": email })).await;
    client
        .post(
            "/api/v1/sign-in/passkey/finish",
            json!({ "email": email, "ceremony": ceremony, "credential": credential }),
        )
        .await
}
