//! Parts of the API walk that need only the owner's client: alert rules,
//! a single sign-on connection, API keys and the vault.

use serde_json::json;
use warden_tests::coverage::Walk;
use warden_tests::web::WebClient;

/// Alert rules: created, changed, disabled, enabled, removed, tried.
pub(crate) async fn alert_rules(walk: &mut Walk, owner: &mut WebClient) {
    let before = walk.head().await;
    let rule = json!({"name": "Role changes", "severity": "high",
                      "condition": {"type": "match", "select": {"kinds": ["user.role_changed"]}}});
    let created = owner.post("/api/v1/alert-rules", rule.clone()).await;
    walk.answered("createAlertRule", before, &created).await;
    let rule_path = format!("/api/v1/alert-rules/{}", created.body["id"].as_str().unwrap());
    let before = walk.head().await;
    let mut changed_rule = rule;
    changed_rule["severity"] = json!("critical");
    let changed = owner.put(&rule_path, changed_rule).await;
    walk.answered("changeAlertRule", before, &changed).await;
    let before = walk.head().await;
    let disabled = owner.post(&format!("{rule_path}/disable"), json!({})).await;
    walk.answered("disableAlertRule", before, &disabled).await;
    let before = walk.head().await;
    let enabled = owner.post(&format!("{rule_path}/enable"), json!({})).await;
    walk.answered("enableAlertRule", before, &enabled).await;
    let before = walk.head().await;
    let removed = owner.delete(&rule_path).await;
    walk.answered("removeAlertRule", before, &removed).await;
    let before = walk.head().await;
    let previewed = owner
        .post(
            "/api/v1/alert-rules/preview",
            json!({"rule": {"name": "Any sign-in", "severity": "info",
                            "condition": {"type": "match", "select": {"kinds": ["login.*"]}}},
                   "hours": 1}),
        )
        .await;
    walk.answered("previewAlertRule", before, &previewed).await;
}

/// A single sign-on connection: created, changed, its domain
/// acknowledged, enabled, disabled and removed.
pub(crate) async fn sso_connection(walk: &mut Walk, owner: &mut WebClient) {
    let before = walk.head().await;
    let connection = owner
        .post(
            "/api/v1/sso/connections",
            json!({"name": "Acme IdP", "issuer": "https://idp.acme.test", "client_id": "warden",
                   "client_secret": "idp-secret", "domains": ["acme.test"]}),
        )
        .await;
    walk.answered("createSsoConnection", before, &connection).await;
    let sso = format!("/api/v1/sso/connections/{}", connection.body["id"].as_str().unwrap());
    let before = walk.head().await;
    let changed = owner.patch(&sso, json!({"name": "Acme SSO"})).await;
    walk.answered("changeSsoConnection", before, &changed).await;
    for (operation, action) in [
        ("acknowledgeSsoDomain", "domains/acme.test/acknowledge"),
        ("enableSsoConnection", "enable"),
        ("disableSsoConnection", "disable"),
    ] {
        let before = walk.head().await;
        let done = owner.post(&format!("{sso}/{action}"), json!({})).await;
        walk.answered(operation, before, &done).await;
    }
    let before = walk.head().await;
    let removed = owner.delete(&sso).await;
    walk.answered("removeSsoConnection", before, &removed).await;
}

/// API keys: created, changed, rotated, revoked.
pub(crate) async fn api_keys(walk: &mut Walk, owner: &mut WebClient) {
    let before = walk.head().await;
    let key = owner
        .post("/api/v1/keys", json!({"kind": "app", "name": "billing"}))
        .await;
    walk.answered("createApiKey", before, &key).await;
    let key_path = format!("/api/v1/keys/{}", key.body["id"].as_str().unwrap());
    for (operation, method, path, body) in [
        (
            "changeApiKey",
            reqwest::Method::PATCH,
            key_path.clone(),
            json!({"name": "invoices"}),
        ),
        (
            "rotateApiKey",
            reqwest::Method::POST,
            format!("{key_path}/rotate"),
            json!({"grace_seconds": 60}),
        ),
        (
            "revokeApiKey",
            reqwest::Method::POST,
            format!("{key_path}/revoke"),
            json!({"reason": "walked"}),
        ),
    ] {
        let before = walk.head().await;
        let done = owner.request(method, &path, Some(body)).await;
        walk.answered(operation, before, &done).await;
    }
}

/// The vault: a secret created, given a version, rolled back, its
/// readers named, shredded.
pub(crate) async fn vault(walk: &mut Walk, owner: &mut WebClient) {
    let before = walk.head().await;
    let secret = owner
        .post("/api/v1/secrets", json!({"name": "walked", "value": "v1"}))
        .await;
    walk.answered("createSecret", before, &secret).await;
    for (operation, method, path, body) in [
        (
            "addSecretVersion",
            reqwest::Method::PUT,
            "/api/v1/secrets/walked",
            json!({"value": "v2"}),
        ),
        (
            "rollBackSecret",
            reqwest::Method::POST,
            "/api/v1/secrets/walked/rollback",
            json!({"version": 1}),
        ),
        (
            "changeSecretReaders",
            reqwest::Method::PUT,
            "/api/v1/secrets/walked/readers",
            json!({"roles": ["owner"]}),
        ),
    ] {
        let before = walk.head().await;
        let done = owner.request(method, path, Some(body)).await;
        walk.answered(operation, before, &done).await;
    }
    let before = walk.head().await;
    let shredded = owner.delete("/api/v1/secrets/walked?reason=walked").await;
    walk.answered("shredSecret", before, &shredded).await;
}
