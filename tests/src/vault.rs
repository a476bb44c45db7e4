//! Vault tests' shared pieces: two values, a script's client with a key,
//! a service key, a read and its value.

use serde_json::json;

use crate::keys::create;
use crate::process::Server;
use crate::web::{Answer, WebClient};

pub const VALUE: &str = "postgres-password-7f3c9a1e-never-in-clear";
pub const VALUE_2: &str = "postgres-password-2b8d4e6f-the-second";

/// A script's client: a key, no cookie, no origin.
pub fn script(server: &Server, key: &str) -> WebClient {
    let mut client = WebClient::new(server);
    client.origin = None;
    client.headers.push(("authorization".into(), format!("Bearer {key}")));
    client
}

/// A service key named `name` with `scopes`, made by `owner`: its id and text.
pub async fn service_key(owner: &mut WebClient, name: &str, scopes: &[&str]) -> (String, String) {
    create(
        owner,
        json!({ "kind": "service", "name": name, "owner": { "kind": "service", "name": name }, "scopes": scopes }),
    )
    .await
}

/// `GET /api/v1/secrets/{name}?{query}`.
pub async fn read(client: &mut WebClient, name: &str, query: &str) -> Answer {
    client.get(&format!("/api/v1/secrets/{name}?{query}")).await
}

/// The value of a read that must have succeeded.
pub fn value_of(answer: &Answer) -> &str {
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body["value"].as_str().unwrap()
}
