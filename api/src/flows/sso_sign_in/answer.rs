//! The provider's answer to a flow: the code exchanged, the ID token's
//! signature checked against the provider's keys, its claims completed
//! from userinfo when they lack the address.

use std::sync::Arc;

use serde_json::Value;
use warden_core::auth::sso::flow::Flow;
use warden_core::auth::sso::id_token::Refused;
use warden_core::commands::sso::sign_in::Failure;
use warden_core::commands::sso::{Connection, Upstream, connection_subject};
use warden_projections::projection::read;

use super::{Callback, multi_tenant};
use crate::error::ApiError;
use crate::flows::key_service;
use crate::oidc::{Exchange, ProviderError};
use crate::state::AppState;

/// The provider's answer, exchanged and signature-checked: the ID token's
/// claims, completed from userinfo when they lack the address.
pub(super) async fn verified(
    state: &AppState,
    connection: &Connection,
    flow: &Flow,
    answer: &Callback<'_>,
) -> Result<Value, Refused> {
    let Upstream::Oidc(oidc) = &connection.settings.upstream;
    let refused = |failure: ProviderError| Refused {
        reason: failure.reason,
        detail: failure.detail,
    };
    if let Some(error) = answer.error {
        let description = answer.error_description.map(crate::oidc::clip).unwrap_or_default();
        return Err(Refused {
            reason: Failure::ProviderError,
            detail: format!("the provider answered {}: {description}", crate::oidc::clip(error)),
        });
    }
    let providers = &state.sso.providers;
    let provider = providers
        .provider(&oidc.issuer, multi_tenant(connection))
        .await
        .map_err(refused)?;
    if let Some(iss) = answer.iss
        && iss != provider.metadata.issuer
        && !multi_tenant(connection)
    {
        return Err(Refused {
            reason: Failure::IssuerMismatch,
            detail: format!(
                "the provider's answer names the issuer {:?}, not {:?} (a mix-up)",
                crate::oidc::clip(iss),
                provider.metadata.issuer
            ),
        });
    }
    let code = answer.code.filter(|code| !code.is_empty()).ok_or(Refused {
        reason: Failure::ProviderError,
        detail: "the provider's answer has no code".into(),
    })?;
    let secret = client_secret(state, &connection.id).await.map_err(|error| Refused {
        reason: Failure::ProviderUnreachable,
        detail: error.message,
    })?;
    let redirect_uri = crate::flows::sso_connections::redirect_uri(state);
    let tokens = providers
        .exchange(
            &provider,
            &Exchange {
                client_id: &oidc.client_id,
                client_secret: &secret,
                redirect_uri: &redirect_uri,
                code,
                verifier: &flow.verifier,
            },
        )
        .await
        .map_err(refused)?;
    let mut claims = providers
        .verified_claims(&oidc.issuer, Arc::clone(&provider), &oidc.client_id, &tokens.id_token)
        .await
        .map_err(refused)?;
    let email_claim = &connection.settings.mapping.email;
    if claims.get(email_claim).is_none()
        && let Some(access_token) = &tokens.access_token
        && let Ok(Some(info)) = providers.userinfo(&provider, access_token).await
        && info.get("sub") == claims.get("sub")
        && let (Some(claims), Some(info)) = (claims.as_object_mut(), info.as_object())
    {
        for name in [
            email_claim.as_str(),
            "email_verified",
            &connection.settings.mapping.name,
            &connection.settings.mapping.groups,
        ] {
            if let (None, Some(value)) = (claims.get(name), info.get(name)) {
                claims.insert(name.to_string(), value.clone());
            }
        }
    }
    Ok(claims)
}

async fn client_secret(state: &AppState, connection: &str) -> Result<String, ApiError> {
    let sealed = read(&state.models.sso)
        .client_secret(connection)
        .cloned()
        .ok_or_else(|| ApiError::unavailable("the connection has no client secret"))?;
    if sealed.subject != connection_subject(connection) {
        return Err(ApiError::internal("the client secret is sealed for another subject"));
    }
    state.data_keys.open(&sealed).await.map_err(key_service)
}
