//! Signing in and out, the first setup, and what the consuming application
//! asks about a session: `GET /api/v1/session` and the forward-auth
//! endpoint for reverse proxies.

use axum::extract::FromRequestParts;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::web::json::Json;
use serde::Deserialize;
use serde_json::{Value, json};
use warden_core::auth::password::Password;
use warden_core::auth::tokens::constant_time_eq;
use warden_core::event::timestamp;
use warden_projections::projection::read;

use crate::error::{ApiError, Code};
use crate::flows::issued::Issued;
use crate::flows::setup::SetupInput;
use crate::flows::{self, account};
use crate::state::AppState;
use crate::web::session::CurrentSession;
use crate::web::{AnySession, Client, SignedIn, cookie, csrf};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInBody {
    email: String,
    password: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<SignInBody>,
) -> Result<Response, ApiError> {
    let password = Password::new(body.password);
    let session = flows::sign_in::with_password(&state, &client, &body.email, &password).await?;
    Ok(signed_in(&state, &session, StatusCode::OK))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailCodeStartBody {
    email: String,
}

/// `POST /api/v1/sign-in/email/start`: 202 for every well-formed address,
/// known or not (decision 0028).
pub async fn start_email_sign_in(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<EmailCodeStartBody>,
) -> Result<Response, ApiError> {
    flows::email_sign_in::start(&state, &client, &body.email).await?;
    let body = json!({
        "status": "accepted",
        "message": "if an account uses this address and may sign in by email, a code is on its way",
        "expires_in_seconds": state.email_codes.config.policy.ttl.as_secs(),
    });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailCodeFinishBody {
    email: String,
    code: String,
}

/// `POST /api/v1/sign-in/email/finish`: a session, as a password sign-in
/// answers one (partial when a second factor is due).
pub async fn finish_email_sign_in(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<EmailCodeFinishBody>,
) -> Result<Response, ApiError> {
    let session = flows::email_sign_in::finish(&state, &client, &body.email, &body.code).await?;
    Ok(signed_in(&state, &session, StatusCode::OK))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetStartBody {
    email: String,
}

/// `POST /api/v1/password-reset/start`: 202 for every well-formed
/// address, known or not (decision 0028).
pub async fn start_password_reset(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<PasswordResetStartBody>,
) -> Result<Response, ApiError> {
    flows::recovery::start(&state, &client, &body.email).await?;
    let body = json!({
        "status": "accepted",
        "message": "if an active account uses this address, a link to choose a new password is on its way",
        "expires_in_seconds": warden_core::auth::recovery::LINK_LIFETIME.num_seconds(),
    });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetFinishBody {
    token: String,
    password: String,
}

/// `POST /api/v1/password-reset/finish`: the new password is set and
/// every session of the user ends; nobody is signed in.
pub async fn finish_password_reset(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<PasswordResetFinishBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let password = Password::new(body.password);
    flows::recovery::finish(&state, &client, &body.token, &password).await?;
    Ok(Json(json!({
        "status": "reset",
        "message": "the password was changed and every session signed out; sign in with the new password",
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupBody {
    token: String,
    org_name: String,
    org_slug: String,
    email: String,
    display_name: String,
    password: String,
}

pub async fn setup(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<SetupBody>,
) -> Result<Response, ApiError> {
    let input = SetupInput {
        token: body.token,
        org_name: body.org_name,
        org_slug: body.org_slug,
        email: body.email,
        display_name: body.display_name,
        password: Password::new(body.password),
    };
    let session = flows::setup::complete(&state, &client, input).await?;
    Ok(signed_in(&state, &session, StatusCode::CREATED))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptBody {
    token: String,
    password: String,
}

pub async fn accept_invitation(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<AcceptBody>,
) -> Result<Response, ApiError> {
    let password = Password::new(body.password);
    let session = flows::users::accept_invitation(&state, &client, &body.token, &password).await?;
    Ok(signed_in(&state, &session, StatusCode::OK))
}

pub async fn sign_out(
    State(state): State<AppState>,
    client: Client,
    AnySession(current): AnySession,
) -> Result<Response, ApiError> {
    account::sign_out(&state, &current, &client).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, cookie::clear(&state.web))],
    )
        .into_response())
}

/// `GET /api/v1/session`: who is signed in.
pub async fn session(State(state): State<AppState>, SignedIn(current): SignedIn) -> Json<Value> {
    Json(describe(&state, &current))
}

/// The answer of a sign-in: the session's description and its cookie.
pub fn signed_in(state: &AppState, session: &Issued, status: StatusCode) -> Response {
    // The read model's view when it has the session (it is newer after an
    // elevation or a rotation), else what the sign-in opened.
    let body = read(&state.models.sessions)
        .get(&session.session_id)
        .map(|found| (**found).clone())
        .or_else(|| session.opened.clone())
        .map(|found| {
            let accounts = read(&state.models.accounts);
            let user = accounts.user(&found.user).cloned();
            (found, user)
        });
    let mut body = match body {
        Some((found, Some(user))) => describe_parts(state, &found, &user, &session.csrf_token),
        _ => json!({ "session": { "id": session.session_id }, "csrf_token": session.csrf_token }),
    };
    if let Some(deadline) = session.enrolment_due {
        // Inside the enrolment grace period of the org's MFA policy.
        body["enrolment_due"] = json!(timestamp::format(&deadline));
    }
    (
        status,
        [(
            header::SET_COOKIE,
            cookie::issue(&state.web, &session.cookie, session.expires_at),
        )],
        Json(body),
    )
        .into_response()
}

pub fn describe(state: &AppState, current: &CurrentSession) -> Value {
    let user = &current.user;
    let accounts = read(&state.models.accounts);
    let org = accounts.org(&user.org);
    describe_with(
        &current.session,
        (&user.id, &user.email, &user.display_name, user.role.as_str()),
        (
            &user.org,
            org.map(|org| org.name.as_str()),
            org.map(|org| org.slug.as_str()),
        ),
        &current.csrf_token(),
    )
}

fn describe_parts(
    state: &AppState,
    session: &warden_projections::sessions::Session,
    user: &warden_projections::accounts::User,
    csrf_token: &str,
) -> Value {
    let accounts = read(&state.models.accounts);
    let org = accounts.org(&user.org);
    describe_with(
        session,
        (&user.id, &user.email, &user.display_name, user.role.as_str()),
        (
            &user.org,
            org.map(|org| org.name.as_str()),
            org.map(|org| org.slug.as_str()),
        ),
        csrf_token,
    )
}

/// The session description: `(id, email, name, role)` of the user and
/// `(id, name, slug)` of the org.
fn describe_with(
    session: &warden_projections::sessions::Session,
    (id, email, display_name, role): (&str, &str, &str, &str),
    (org, name, slug): (&str, Option<&str>, Option<&str>),
    csrf_token: &str,
) -> Value {
    json!({
        "user": { "id": id, "email": email, "display_name": display_name },
        "org": { "id": org, "name": name, "slug": slug },
        "roles": [role],
        "session": {
            "id": session.id,
            "created_at": timestamp::format(&session.created_at),
            "expires_at": timestamp::format(&session.expires_at),
            "idle_expires_at": timestamp::format(&session.idle_expiry(None)),
            "assurance": {
                "level": session.assurance.level,
                "methods": session.assurance.methods,
                "at": timestamp::format(&session.assurance.at),
            },
            "pending": session.pending,
        },
        "csrf_token": csrf_token,
    })
}

/// `GET /api/v1/auth/forward`: for nginx `auth_request` and Traefik
/// ForwardAuth. 200 with identity headers for a valid session or API key
/// (`Authorization: Bearer wk_live_…`), 401 otherwise. When the proxied request is state-changing
/// (`X-Forwarded-Method` or `X-Original-Method`), its origin and CSRF
/// token are checked here too, so the application behind the proxy is
/// protected without code of its own.
pub async fn forward(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let (mut parts, _) = request.into_parts();
    // An API key instead of a cookie: the key decides, the cookie is not
    // read.
    if let Some(text) = crate::web::principal::bearer_key(&parts.headers) {
        return Ok(crate::handlers::key_forward::forward(&state, &parts, &text));
    }
    // A partial session is no identity for the application: 401, so the
    // proxy sends the browser to sign in, where the prompt continues.
    let SignedIn(current) = SignedIn::from_request_parts(&mut parts, &state)
        .await
        .map_err(|error| match error.code {
            Code::SecondFactorRequired | Code::EnrolmentRequired => ApiError::session_required(error.message),
            _ => error,
        })?;
    if forwarded_state_changing(&parts.headers) {
        if let Some((reason, origin)) = csrf::origin_refusal(&state, &parts.headers) {
            return Ok(csrf::refuse(&state, &parts, Some(&current), reason, origin).await);
        }
        let given = parts.headers.get(csrf::HEADER).and_then(|value| value.to_str().ok());
        match given {
            Some(given) if constant_time_eq(given, &current.presented.csrf()) => {}
            Some(_) => return Ok(csrf::refuse(&state, &parts, Some(&current), "wrong_token", None).await),
            None => return Ok(csrf::refuse(&state, &parts, Some(&current), "missing_token", None).await),
        }
    }
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    put("x-warden-user-id", &current.user.id);
    put("x-warden-email", &current.user.email);
    put("x-warden-org-id", &current.user.org);
    put("x-warden-roles", current.user.role.as_str());
    put("x-warden-session-id", &current.session.id);
    put("x-warden-assurance", current.session.assurance.level.as_str());
    Ok(response)
}

/// Whether the proxied request changes state. Either header counts: a
/// client can add one claiming a state change (which only adds checks) but
/// cannot hide the one its proxy sets.
fn forwarded_state_changing(headers: &HeaderMap) -> bool {
    ["x-forwarded-method", "x-original-method"]
        .iter()
        .flat_map(|name| headers.get_all(*name))
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.parse::<axum::http::Method>().ok())
        .any(|method| csrf::state_changing(&method))
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};

    use super::forwarded_state_changing;

    #[test]
    fn either_method_header_can_make_a_request_state_changing() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.append(*name, HeaderValue::from_static(value));
            }
            map
        };
        assert!(!forwarded_state_changing(&headers(&[])));
        assert!(!forwarded_state_changing(&headers(&[("x-forwarded-method", "GET")])));
        assert!(forwarded_state_changing(&headers(&[("x-original-method", "POST")])));
        // A client's own header cannot hide the proxy's.
        assert!(forwarded_state_changing(&headers(&[
            ("x-forwarded-method", "GET"),
            ("x-original-method", "DELETE")
        ])));
        assert!(forwarded_state_changing(&headers(&[
            ("x-forwarded-method", "GET"),
            ("x-forwarded-method", "PUT")
        ])));
    }
}
