//! `GET /.well-known/warden-audit-keys`: the public keys that sign the
//! chain, from the `signing_keys` read model, so anyone can verify an
//! export without trusting the server that made it.

use crate::web::json::Json;
use axum::extract::State;
use serde_json::json;
use warden_projections::projection::read;

use crate::state::AppState;

pub async fn list(State(state): State<AppState>) -> Json<serde_json::Value> {
    let keys = read(&state.models.signing_keys);
    let listed: Vec<_> = keys
        .all()
        .map(|key| {
            json!({
                "key_id": key.key_id,
                "algorithm": key.algorithm,
                "public_key": key.public_key,
                "added_seq": key.added_seq,
                "added_at": key.added_at,
            })
        })
        .collect();
    Json(json!({
        "format": "warden-audit-keys/v1",
        "current": keys.current().map(|key| key.key_id.clone()),
        "keys": listed,
    }))
}
