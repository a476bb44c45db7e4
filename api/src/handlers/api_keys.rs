//! `/api/v1/keys`: an org's API keys (owners and admins manage them,
//! auditors read them), and `POST /api/v1/keys/verify`, where the
//! consuming application verifies a key it was given.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use warden_core::auth::api_key::Key;
use warden_core::auth::api_key::limits::LimitState;
use warden_core::auth::api_key::manage::{Draft, Patch};
use warden_core::auth::api_key::vendor::Claims;
use warden_core::commands::Context;
use warden_core::commands::api_key::{KeyKind, Owner, RateLimit, VerifyOutcome};
use warden_core::net::IpNet;

use crate::error::ApiError;
use crate::flows::key_check::{Asker, Checked};
use crate::flows::{api_keys, vendor_tickets};
use crate::handlers::app_events::{AppEventsCaller, AppToken};
use crate::state::AppState;
use crate::web::client::ClientIp;
use crate::web::json::Json;
use crate::web::principal::KeyCall;
use crate::web::session::{AuditReader, CurrentSession, UserManager};
use crate::web::step_up::Recent;
use crate::web::{Admitted, Client, SignedIn};

/// A key as answered: never its secret or digest.
pub fn describe(key: &Key, now: DateTime<Utc>) -> Value {
    let networks: Vec<String> = key.settings.allowed_networks.iter().map(IpNet::to_string).collect();
    let previous = key
        .previous
        .as_ref()
        .filter(|(_, until)| *until > now)
        .map(|(secret, until)| json!({ "hint": secret.hint, "valid_until": until }));
    json!({
        "id": key.id,
        "prefix": format!("{}{}", warden_core::auth::api_key::format::PREFIX, key.id),
        "hint": key.secret.hint,
        "name": key.settings.name,
        "kind": key.kind,
        "owner": key.owner,
        "status": key.status(now),
        "scopes": key.settings.scopes,
        "expires_at": key.settings.expires_at,
        "allowed_networks": networks,
        "limits": key.settings.limits,
        "remaining_uses": key.remaining_uses(),
        "ticket_pattern": key.settings.ticket_pattern,
        "created_at": key.created_at,
        "created_by": key.created_by,
        "rotated_at": key.rotated_at,
        "previous_secret": previous,
        "revoked_at": key.revoked_at,
        "last_used": key.last_used,
    })
}

/// Owners and admins manage keys; auditors read them (a key reads them
/// with `keys:read`).
fn may_read(current: &CurrentSession) -> Result<(), ApiError> {
    let role = current.user.role;
    if role.manages_users() || role.reads_audit_trail() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only owners, admins and auditors see the org's keys",
        ))
    }
}

/// `GET /api/v1/keys`.
pub async fn list(
    State(state): State<AppState>,
    Admitted(caller, ..): Admitted<SignedIn>,
) -> Result<Json<Value>, ApiError> {
    caller.person_may(may_read)?;
    let now = Utc::now();
    let keys: Vec<Value> = api_keys::list(&state, caller.org())
        .iter()
        .map(|key| describe(key, now))
        .collect();
    Ok(Json(json!({ "keys": keys })))
}

/// `GET /api/v1/keys/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Admitted(caller, ..): Admitted<SignedIn>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.person_may(may_read)?;
    let key = api_keys::get(&state, caller.org(), &id)?;
    Ok(Json(describe(&key, Utc::now())))
}

/// `GET /api/v1/keys/{id}/usage` (owners, admins, auditors): requests by
/// outcome over the last hour, day and 30 days, per hour over the last
/// day, the top client addresses and the last use, from the
/// `api_key.used` events.
pub async fn usage(
    State(state): State<AppState>,
    Admitted(caller, ..): Admitted<SignedIn>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.person_may(may_read)?;
    let key = api_keys::get(&state, caller.org(), &id)?;
    let view = warden_projections::projection::read(&state.models.key_usage).view(&key.id, Utc::now());
    let top: Vec<Value> = view
        .top_addresses
        .iter()
        .map(|(address, minutes)| json!({ "address": address, "minutes": minutes }))
        .collect();
    Ok(Json(json!({
        "key": key.id,
        "last_hour": view.last_hour,
        "last_day": view.last_day,
        "last_30_days": view.last_30_days,
        "hourly": view.hourly,
        "top_addresses": top,
        "last_used": view.last_used,
    })))
}

/// `GET /api/v1/keys/{id}/tickets` (owners and auditors, or `audit:read`):
/// what a vendor key did, per ticket, from the audit trail.
pub async fn tickets(
    State(state): State<AppState>,
    client: Client,
    Admitted(reader, ..): Admitted<AuditReader>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let key = api_keys::get(&state, reader.org(), &id)?;
    let found = vendor_tickets::of_key(&state, &reader, &client, &key).await?;
    Ok(Json(json!({
        "key": key.id,
        "tickets": found.tickets,
        "examined": found.examined,
        "total": found.total,
        "complete": found.examined >= found.total,
        "indexed_through": found.indexed_through,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    kind: KeyKind,
    name: String,
    /// The creator when absent.
    #[serde(default)]
    owner: Option<Owner>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    allowed_networks: Vec<String>,
    #[serde(default)]
    limits: Vec<RateLimit>,
    #[serde(default)]
    remaining_uses: Option<u64>,
    #[serde(default)]
    ticket_pattern: Option<String>,
}

/// `POST /api/v1/keys` (owners and admins, recently authenticated): the
/// answer holds the key's text, shown this once.
pub async fn create(
    State(state): State<AppState>,
    client: Client,
    Recent(UserManager(manager)): Recent<UserManager>,
    Json(body): Json<NewKey>,
) -> Result<(StatusCode, HeaderMap, Json<Value>), ApiError> {
    let draft = Draft {
        name: body.name,
        scopes: body.scopes,
        expires_at: body.expires_at,
        allowed_networks: body.allowed_networks,
        limits: body.limits,
        remaining_uses: body.remaining_uses,
        ticket_pattern: body.ticket_pattern,
    };
    let issued = api_keys::create(&state, &manager, &client, None, body.kind, body.owner, draft).await?;
    let mut answer = describe(&issued.key, Utc::now());
    answer["key"] = json!(issued.secret.as_str());
    Ok((StatusCode::CREATED, no_store(), Json(answer)))
}

/// `PATCH /api/v1/keys/{id}` (owners and admins, recently authenticated).
pub async fn change(
    State(state): State<AppState>,
    client: Client,
    Recent(UserManager(manager)): Recent<UserManager>,
    Path(id): Path<String>,
    Json(patch): Json<Patch>,
) -> Result<Json<Value>, ApiError> {
    let key = api_keys::change(&state, &manager, &client, &id, patch).await?;
    Ok(Json(describe(&key, Utc::now())))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// How long the secret before keeps working: 0 to 604800 (7 days).
    #[serde(default)]
    grace_seconds: u64,
}

/// `POST /api/v1/keys/{id}/rotate` (owners and admins, recently
/// authenticated): the new text, shown this once.
pub async fn rotate(
    State(state): State<AppState>,
    client: Client,
    Recent(UserManager(manager)): Recent<UserManager>,
    Path(id): Path<String>,
    Json(body): Json<Rotation>,
) -> Result<(HeaderMap, Json<Value>), ApiError> {
    let issued = api_keys::rotate(&state, &manager, &client, &id, body.grace_seconds).await?;
    let mut answer = describe(&issued.key, Utc::now());
    answer["key"] = json!(issued.secret.as_str());
    Ok((no_store(), Json(answer)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    #[serde(default)]
    reason: String,
}

/// `POST /api/v1/keys/{id}/revoke` (owners and admins): at once, on every
/// node; revoking a revoked key changes nothing.
pub async fn revoke(
    State(state): State<AppState>,
    client: Client,
    UserManager(manager): UserManager,
    Path(id): Path<String>,
    Json(body): Json<Revocation>,
) -> Result<Json<Value>, ApiError> {
    let key = api_keys::revoke(&state, &manager, &client, &id, &body.reason).await?;
    Ok(Json(describe(&key, Utc::now())))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verification {
    key: String,
    /// Every one must be the key's.
    #[serde(default)]
    scopes: Vec<String>,
    /// For a vendor key: the user the vendor acts for, as the vendor's
    /// request named it (`X-Actor-User-Id`).
    #[serde(default)]
    actor_user_id: Option<String>,
    /// For a vendor key: the ticket the vendor's request named
    /// (`X-Ticket-Reference`).
    #[serde(default)]
    ticket_reference: Option<String>,
}

/// Who may verify keys: the application, with its token, or a service
/// key with `keys:verify` (admitted by `principal::Admit`; its org's keys
/// only). As an extractor it runs before the body is read.
pub enum Verifier {
    Application(AppToken),
    Key(Box<KeyCall>),
}

impl FromRequestParts<AppState> for Verifier {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(call) = parts.extensions.remove::<KeyCall>() {
            return Ok(Verifier::Key(Box::new(call)));
        }
        let AppEventsCaller(token) = AppEventsCaller::from_request_parts(parts, state).await?;
        Ok(Verifier::Application(token))
    }
}

/// `POST /api/v1/keys/verify`, for the consuming application (its
/// application token, or a service key with `keys:verify`, authorises the
/// call): 200 with the outcome, valid or not; a token scoped to an org,
/// and a key, verify only that org's keys.
pub async fn verify(
    State(state): State<AppState>,
    verifier: Verifier,
    client: Client,
    ip: Option<axum::Extension<ClientIp>>,
    Json(body): Json<Verification>,
) -> Response {
    let too_long = |text: &str, max: usize| text.chars().count() > max;
    let claim_too_long = |claim: &Option<String>| claim.as_deref().is_some_and(|text| too_long(text, 200));
    if too_long(&body.key, 256)
        || body.scopes.len() > 50
        || body.scopes.iter().any(|scope| too_long(scope, 200))
        || claim_too_long(&body.actor_user_id)
        || claim_too_long(&body.ticket_reference)
    {
        return ApiError::bad_request(
            "key: at most 256 characters; scopes: at most 50 of at most 200 characters; actor_user_id and ticket_reference: at most 200 characters",
        )
        .into_response();
    }
    // Built only for a refusal's event.
    let context = || match &verifier {
        Verifier::Application(token) => {
            let mut actor = token.app.actor();
            actor.ip = client.ip.clone();
            actor.user_agent = client.user_agent.clone();
            Context {
                actor,
                request_id: client.request_id.clone(),
            }
        }
        Verifier::Key(call) => call.context(&client),
    };
    let within = match &verifier {
        Verifier::Application(token) => token.app.org.as_deref(),
        Verifier::Key(call) => Some(call.key.org.as_str()),
    };
    let asker = Asker {
        request_id: &client.request_id,
        context: &context,
        ip: ip.map(|axum::Extension(ClientIp(ip))| ip),
        within,
        on_warden: false,
        claims: Claims {
            actor_user: body.actor_user_id.as_deref(),
            ticket: body.ticket_reference.as_deref(),
        },
    };
    let checked = state.keys.check(&state, &body.key, &body.scopes, &asker);
    let key = checked
        .key
        .as_deref()
        .filter(|_| checked.outcome != VerifyOutcome::NotFound);
    let answer = VerifyAnswer {
        code: checked.outcome.as_str(),
        key: key.map(|key| VerifiedKey {
            expires_at: key.settings.expires_at,
            id: &key.id,
            kind: key.kind,
            name: &key.settings.name,
            org: &key.org,
            owner: &key.owner,
            scopes: &key.settings.scopes,
        }),
        on_behalf_of: checked.on_behalf.as_ref().map(|on_behalf| on_behalf.user.as_str()),
        remaining_uses: key.map(Key::remaining_uses),
        ticket: checked.on_behalf.as_ref().map(|on_behalf| on_behalf.ticket.as_str()),
        valid: checked.is_valid(),
    };
    let mut response = Json(answer).into_response();
    rate_limit_headers(response.headers_mut(), &checked);
    response
}

/// The answer of `POST /api/v1/keys/verify`, serialized as it stands
/// (members in name order; `key` and `remaining_uses` for every outcome
/// but `not_found`; `on_behalf_of` and `ticket` for a valid vendor key).
#[derive(serde::Serialize)]
struct VerifyAnswer<'a> {
    code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<VerifiedKey<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    on_behalf_of: Option<&'a str>,
    /// `Some(None)`: unlimited, written `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    remaining_uses: Option<Option<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket: Option<&'a str>,
    valid: bool,
}

#[derive(serde::Serialize)]
struct VerifiedKey<'a> {
    expires_at: Option<DateTime<Utc>>,
    id: &'a str,
    kind: KeyKind,
    name: &'a str,
    org: &'a str,
    owner: &'a Owner,
    scopes: &'a [String],
}

/// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-
/// headers) for the tightest limit, and `Retry-After` when it is spent.
pub fn rate_limit_headers(headers: &mut HeaderMap, checked: &Checked) {
    let Some(limit) = &checked.limit else {
        return;
    };
    let LimitState {
        name,
        limit: quota,
        window_seconds,
        remaining,
        reset_seconds,
    } = limit;
    let mut put = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    put("ratelimit-policy", format!("\"{name}\";q={quota};w={window_seconds}"));
    put("ratelimit", format!("\"{name}\";r={remaining};t={reset_seconds}"));
    if checked.outcome == VerifyOutcome::RateLimited {
        put("retry-after", reset_seconds.max(&1).to_string());
    }
}

fn no_store() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers
}
