//! API keys in tests: the consuming application's client and the calls
//! every key test makes.

use serde_json::{Value, json};

use crate::process::{Server, TOKEN};
use crate::web::{Answer, WebClient};

/// The consuming application's server: its token, no cookie, no origin.
pub fn application(server: &Server) -> WebClient {
    let mut client = WebClient::new(server);
    client.origin = None;
    client.headers.push(("authorization".into(), format!("Bearer {TOKEN}")));
    client
}

/// Creates a key as `admin` (201 or the test fails): its id and text.
pub async fn create(admin: &mut WebClient, body: Value) -> (String, String) {
    let answer = admin.post("/api/v1/keys", body.clone()).await;
    assert_eq!(answer.status, 201, "{body}: {:?}", answer.body);
    (
        answer.body["id"].as_str().unwrap().to_string(),
        answer.body["key"].as_str().unwrap().to_string(),
    )
}

/// `POST /api/v1/keys/verify` for a client at `from` (an
/// `X-Forwarded-For`), asking for `scopes`.
pub async fn verify_from(app: &mut WebClient, key: &str, scopes: &[&str], from: Option<&str>) -> Answer {
    app.headers.retain(|(name, _)| name != "x-forwarded-for");
    if let Some(from) = from {
        app.headers.push(("x-forwarded-for".into(), from.into()));
    }
    let answer = app
        .post("/api/v1/keys/verify", json!({ "key": key, "scopes": scopes }))
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer
}

/// The outcome's code of a verification.
pub async fn code(app: &mut WebClient, key: &str, scopes: &[&str]) -> String {
    verify_from(app, key, scopes, None).await.body["code"]
        .as_str()
        .unwrap()
        .to_string()
}
