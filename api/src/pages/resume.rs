//! The action that asked for "Confirm it's you" is not lost. When a form's
//! POST is refused for want of a recent strong authentication (by the
//! `Confirmed` extractor or by a flow), [`keep`] answers with the confirm
//! page holding the form as it was posted, sealed under Warden's data keys
//! and bound to the session for ten minutes. Once confirmed (password,
//! code or passkey), the person sees what they were doing and finishes it
//! with one click: the sealed form goes back to the action it was meant
//! for, where [`keep`] opens it and the action decides it again from
//! scratch, with the session's new CSRF token. A secret typed into the
//! form never comes back to the browser in clear.

use askama::Template;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use warden_core::keys::Sealed;

use super::{Nav, Place, render};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::session::CurrentSession;

/// The data-key subject of pending actions.
const RESUME_KEY: &str = "secret:console-pending-actions";
const LIFETIME_MINUTES: i64 = 10;
/// The field that carries a kept form, sealed.
pub const PENDING_FIELD: &str = "pending";
/// The fields whose values are never shown back, only said to be kept.
const HIDDEN_FIELDS: [&str; 5] = ["value", "password", "new_password", "secret", "code"];

/// On a refusal for want of a recent authentication: where the person
/// returns if nothing was pending (a page), set by `reauthenticate_first`.
#[derive(Clone, Debug)]
pub struct StepUpNeeded {
    pub back: String,
}

/// A form post waiting for "Confirm it's you".
#[derive(Serialize, Deserialize)]
pub struct Pending {
    session: String,
    /// The path the form posted to (the server's own record of it).
    pub action: String,
    /// Every field as posted but the CSRF token, in order.
    pub fields: Vec<(String, String)>,
    expires_at: DateTime<Utc>,
}

impl Pending {
    /// What the person is shown of it: each field, secrets masked.
    pub fn summary(&self) -> Vec<(String, String)> {
        self.fields
            .iter()
            .filter(|(name, _)| !name.is_empty())
            .map(|(name, value)| {
                let shown = if HIDDEN_FIELDS.contains(&name.as_str()) {
                    "(kept, not shown)".to_string()
                } else if value.chars().count() > 120 {
                    format!("{}…", value.chars().take(120).collect::<String>())
                } else {
                    value.clone()
                };
                (name.replace('_', " "), shown)
            })
            .collect()
    }
}

/// Seals `fields` posted to `action` by `current`'s session.
async fn seal(
    state: &AppState,
    current: &CurrentSession,
    action: &str,
    fields: Vec<(String, String)>,
) -> Option<String> {
    let pending = Pending {
        session: current.session.id.clone(),
        action: action.to_string(),
        fields,
        expires_at: Utc::now() + Duration::minutes(LIFETIME_MINUTES),
    };
    let sealed = state
        .data_keys
        .seal(RESUME_KEY, &pending)
        .await
        .inspect_err(|error| tracing::warn!(%error, "a pending action could not be sealed"))
        .ok()?;
    let json = serde_json::to_vec(&sealed).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))
}

/// Opens a pending action sent back by the browser: Warden's, not expired,
/// and posted by this very session.
pub async fn open(state: &AppState, text: &str, session: &str) -> Option<Pending> {
    let sealed: Sealed<Pending> = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim())
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())?;
    if sealed.subject != RESUME_KEY {
        return None;
    }
    let pending = state.data_keys.open(&sealed).await.ok()?;
    (pending.expires_at > Utc::now() && pending.session == session).then_some(pending)
}

/// Middleware around the page routes that change state: keeps the posted
/// form, and when the answer asks for a step-up, shows "Confirm it's you"
/// with the form sealed in it instead of sending the person away.
pub async fn keep(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let current = request.extensions().get::<CurrentSession>().cloned();
    let (Method::POST, Some(current)) = (request.method().clone(), current) else {
        return next.run(request).await;
    };
    let action = request.uri().path().to_string();
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 256 * 1024).await else {
        let status = StatusCode::PAYLOAD_TOO_LARGE;
        return ApiError::new(status, ApiError::code_for(status), "the form is too large").into_response();
    };
    let posted: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
    let bytes = match finishing(&posted) {
        None => bytes,
        Some((csrf_token, sealed)) => match open(&state, sealed, &current.session.id).await {
            Some(pending) if pending.action == action => pending.body(csrf_token),
            _ => {
                let status = StatusCode::GONE;
                return ApiError::new(
                    status,
                    ApiError::code_for(status),
                    "this action waited too long for its confirmation, or was started by another session: do it again",
                )
                .into_response();
            }
        },
    };
    let response = next.run(Request::from_parts(parts, Body::from(bytes.clone()))).await;
    let Some(needed) = response.extensions().get::<StepUpNeeded>().cloned() else {
        return response;
    };
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .unwrap_or_default()
        .into_iter()
        .filter(|(name, _)| name != "csrf_token")
        .collect();
    let Some(sealed) = seal(&state, &current, &action, fields).await else {
        return response;
    };
    super::reauthenticate::with_pending(&state, &current, &needed.back, &sealed)
}

/// A post that finishes a kept form: exactly the CSRF token and the
/// sealed form, nothing else.
fn finishing(posted: &[(String, String)]) -> Option<(&str, &str)> {
    match posted {
        [(a, csrf), (b, sealed)] | [(b, sealed), (a, csrf)] if a == "csrf_token" && b == PENDING_FIELD => {
            Some((csrf.as_str(), sealed.as_str()))
        }
        _ => None,
    }
}

impl Pending {
    /// The form as it was posted, with `csrf_token`.
    fn body(&self, csrf_token: &str) -> axum::body::Bytes {
        let mut fields = vec![("csrf_token", csrf_token)];
        fields.extend(self.fields.iter().map(|(name, value)| (name.as_str(), value.as_str())));
        serde_urlencoded::to_string(&fields).unwrap_or_default().into()
    }
}

#[derive(Template)]
#[template(path = "resume.html")]
struct FinishPage<'a> {
    nav: Nav,
    action: &'a str,
    sealed: &'a str,
    summary: Vec<(String, String)>,
    back: &'a str,
}

/// "Confirmed: finish what you started": what the kept form holds, and a
/// button that sends it (`sealed`) to its action. `csrf_token` is the
/// session's token now (it changed if the confirmation rotated it).
pub fn finish_page(
    current: &CurrentSession,
    csrf_token: String,
    pending: &Pending,
    sealed: &str,
    back: &str,
) -> Response {
    let page = FinishPage {
        nav: Nav::of(current, Place::Elsewhere).with_csrf_token(csrf_token),
        action: &pending.action,
        sealed,
        summary: pending.summary(),
        back,
    };
    render(StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_post_of_the_token_and_the_sealed_form_finishes_one() {
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        let both = [pair("csrf_token", "t"), pair("pending", "s")];
        assert_eq!(finishing(&both), Some(("t", "s")));
        let reversed = [pair("pending", "s"), pair("csrf_token", "t")];
        assert_eq!(finishing(&reversed), Some(("t", "s")));
        assert_eq!(finishing(&[pair("pending", "s")]), None);
        let more = [pair("csrf_token", "t"), pair("pending", "s"), pair("role", "owner")];
        assert_eq!(finishing(&more), None);
        assert_eq!(finishing(&[pair("csrf_token", "t"), pair("role", "s")]), None);
    }

    #[test]
    fn the_kept_form_is_posted_again_as_it_was_with_the_new_token() {
        let pending = Pending {
            session: "s".into(),
            action: "/secrets".into(),
            fields: vec![("name".into(), "a b&c".into()), ("readers".into(), "role:owner".into())],
            expires_at: Utc::now(),
        };
        assert_eq!(
            &pending.body("tok")[..],
            b"csrf_token=tok&name=a+b%26c&readers=role%3Aowner"
        );
    }

    #[test]
    fn the_summary_shows_each_field_but_never_a_secret() {
        let pending = Pending {
            session: "s".into(),
            action: "/secrets".into(),
            fields: vec![
                ("name".into(), "billing.db".into()),
                ("value".into(), "hunter2-hunter2".into()),
                ("readers".into(), "role:admin".into()),
                ("readers".into(), "role:owner".into()),
                ("new_password".into(), "correct horse".into()),
                ("note".into(), "x".repeat(200)),
            ],
            expires_at: Utc::now(),
        };
        let summary = pending.summary();
        assert_eq!(summary[0], ("name".into(), "billing.db".into()));
        assert_eq!(summary[1], ("value".into(), "(kept, not shown)".into()));
        assert_eq!(summary[3], ("readers".into(), "role:owner".into()));
        assert_eq!(summary[4], ("new password".into(), "(kept, not shown)".into()));
        assert_eq!(summary[5].1.chars().count(), 121);
        assert!(!format!("{summary:?}").contains("hunter2"));
    }
}
