//! Server-rendered pages (askama templates in `api/templates/`): sign-in,
//! setup, invitation, the user's sessions and password, and user admin.
//! Plain HTML forms, no script: every form posts with the session's CSRF
//! token as a hidden field, every action goes through the same flows as
//! the JSON API, and every failure is shown on the page it came from.

pub mod alert_rule_editor;
pub mod alert_rules;
pub mod alerts;
pub mod assets;
pub mod audit;
pub mod audit_event;
pub mod audit_facets;
pub mod confirmed;
pub mod email_change;
pub mod email_sign_in;
pub mod errors;
pub mod home;
pub mod inactive_users;
pub mod integrity;
pub mod key_page;
pub mod keys;
pub mod mfa;
pub mod named;
pub mod nav;
pub mod policy;
pub mod qr;
pub mod reauthenticate;
pub mod recovery;
pub mod resume;
pub mod saved_searches;
pub mod secret_history;
pub mod secret_page;
pub mod secrets;
pub mod settings;
pub mod sign_in;
pub mod sso;
pub mod sso_connections;
pub mod user_page;
pub mod users;
pub mod when;

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use warden_core::commands::account::Role;

use crate::error::ApiError;
use crate::flows::issued::Issued;
use crate::state::AppState;
use crate::web::cookie;
use crate::web::session::{CurrentSession, SessionProblem};

pub use errors::error_page;
pub use nav::{Nav, Place};

/// A rendered page with a status.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = (status, html).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            // Pages are never framed (clickjacking) and never cached.
            response
                .headers_mut()
                .insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            response.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
            );
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => {
            tracing::error!(%error, "page rendering failed");
            ApiError::internal("the page could not be rendered").into_response()
        }
    }
}

/// A failure shown on the page: its status, and `Retry-After` when the
/// flow asked for one.
pub fn failed(error: &ApiError, page: &impl Template) -> Response {
    let mut response = render(error.status, page);
    if let Some(seconds) = error.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// After a successful POST: back to a page (303, so a reload does not
/// post again), with a notice code the page turns into text.
pub fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}

/// After a sensitive action refused for want of a recent authentication:
/// to the page that asks for it, then back to `next` (a local path).
/// A form's post gets "Confirm it's you" holding the form instead
/// ([`resume::keep`]).
pub fn reauthenticate_first(next: &str) -> Response {
    let mut response = see_other(&format!(
        "/settings/reauthenticate?next={}&notice=reauthenticate",
        crate::handlers::audit::encode(next)
    ));
    response
        .extensions_mut()
        .insert(resume::StepUpNeeded { back: next.to_string() });
    response
}

/// Only local paths are followed after sign-in: never another site. A
/// path of plain characters only (browsers drop tabs and newlines from
/// URLs, so `/<tab>/evil.example` would become `//evil.example`).
pub fn local_path(next: &str) -> &str {
    let plain = next.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'/' | b'-' | b'_' | b'.' | b'?' | b'=' | b'&' | b'%' | b'~' | b'*' | b',' | b':' | b'+' | b'@'
            )
    });
    let local = next.starts_with('/') && !next.starts_with("//") && plain;
    if local && next.len() <= 512 { next } else { "/" }
}

/// Extractor for pages that need a complete session: redirects to the
/// sign-in page (with the way back) instead of answering 401, and a
/// partial session to its second-factor prompt.
pub struct PageSession(pub CurrentSession);

impl FromRequestParts<AppState> for PageSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Response> {
        if let Some(current) = parts.extensions.get::<CurrentSession>() {
            return match &current.session.pending {
                None => Ok(PageSession(current.clone())),
                Some(pending) if pending.is_enrolment() => Err(see_other("/settings/mfa?notice=enrol_required")),
                Some(_) => Err(see_other(&format!("/sign-in/mfa?next={}", parts.uri.path()))),
            };
        }
        let mut target = format!("/sign-in?next={}", parts.uri.path());
        // Why this browser is asked to sign in again, when it was signed in.
        match parts.extensions.get::<SessionProblem>() {
            Some(SessionProblem::Expired) => target.push_str("&notice=expired"),
            Some(SessionProblem::Unknown) => target.push_str("&notice=signed_out_elsewhere"),
            Some(SessionProblem::UserInactive) => target.push_str("&notice=account_disabled"),
            Some(SessionProblem::Malformed) | None => {}
        }
        Err(see_other(&target))
    }
}

/// Extractor for the pages that complete a sign-in: any session, partial
/// ones included.
pub struct PageAnySession(pub CurrentSession);

impl FromRequestParts<AppState> for PageAnySession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Response> {
        match parts.extensions.get::<CurrentSession>() {
            Some(current) => Ok(PageAnySession(current.clone())),
            None => Err(see_other("/sign-in")),
        }
    }
}

/// Extractor for the pages that set up a second factor: a complete
/// session, or one that must enrol before it may do anything else.
pub struct PageEnrolling(pub CurrentSession);

impl FromRequestParts<AppState> for PageEnrolling {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let enrolling = parts
            .extensions
            .get::<CurrentSession>()
            .filter(|current| {
                current
                    .session
                    .pending
                    .as_ref()
                    .is_some_and(|pending| pending.is_enrolment())
            })
            .cloned();
        match enrolling {
            Some(current) => Ok(PageEnrolling(current)),
            None => PageSession::from_request_parts(parts, state)
                .await
                .map(|PageSession(current)| PageEnrolling(current)),
        }
    }
}

/// Extractor for the user-administration pages: a signed-in owner or
/// admin; others get a 403 page.
pub struct PageManager(pub CurrentSession);

impl FromRequestParts<AppState> for PageManager {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let current = page_session_of(parts, state, Role::manages_users, "only owners and admins manage users").await?;
        Ok(PageManager(current))
    }
}

/// Extractor: a page session of an owner or auditor.
pub struct PageAuditReader(pub CurrentSession);

impl FromRequestParts<AppState> for PageAuditReader {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let current = page_session_of(
            parts,
            state,
            Role::reads_audit_trail,
            "only owners and auditors read the audit trail",
        )
        .await?;
        Ok(PageAuditReader(current))
    }
}

/// Extractor: a page session of an owner, admin or auditor, for the org's
/// keys and secrets (owners and admins act on them, auditors read).
pub struct PageOrgReader(pub CurrentSession);

impl FromRequestParts<AppState> for PageOrgReader {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let current = page_session_of(
            parts,
            state,
            |role| role.manages_users() || role.reads_audit_trail(),
            "only owners, admins and auditors see this page",
        )
        .await?;
        Ok(PageOrgReader(current))
    }
}

/// A page session whose role `allows`, else a 403 page saying `refusal`.
pub(crate) async fn page_session_of(
    parts: &mut Parts,
    state: &AppState,
    allows: fn(Role) -> bool,
    refusal: &'static str,
) -> Result<CurrentSession, Response> {
    let PageSession(current) = PageSession::from_request_parts(parts, state).await?;
    if allows(current.user.role) {
        return Ok(current);
    }
    Err(error_page(&ApiError::forbidden(refusal)))
}

/// The query of a page shown after a redirect with a notice.
#[derive(serde::Deserialize)]
pub struct NoticeQuery {
    pub notice: Option<String>,
}

/// Notices named in a `notice` query parameter after a redirect.
pub fn notice(code: Option<&str>) -> Option<String> {
    let text = match code? {
        "expired" => "Your session expired. Please sign in again.",
        "signed_out" => "You are signed out.",
        "signed_out_elsewhere" => {
            "This device was signed out: from another device, by an administrator, or after a password change. Please sign in again."
        }
        "account_disabled" => "Your account is disabled. Ask an administrator of your organization to enable it.",
        "revoked" => "That device is signed out.",
        "revoked_others" => "Every other device is signed out.",
        "password_changed" => "Your password is changed. Every other device is signed out.",
        "time_zone_changed" => "Saved. Times are shown in your time zone.",
        "password_reset" => "Your password is changed and every device is signed out. Sign in with the new password.",
        "email_change_sent" => "We sent a link to the new address. Open it to make the change.",
        "email_changed" => "Your sign-in address is changed. Sign in with the new one.",
        "user_changed" => "The user is updated.",
        "user_created" => "The user is created.",
        "inactive_disabled" => {
            "The ticked users are disabled and signed out everywhere. Anyone seen meanwhile was left as they were."
        }
        "sessions_revoked" => "The user is signed out everywhere.",
        "session_revoked" => "That session is signed out.",
        "reset_link_sent" => "A password reset link is on its way to the user's address.",
        "factors_reset" => "Every second factor of the user is removed, and they are signed out everywhere.",
        "reauthenticate" => "Please confirm it's you to go on.",
        "reauthenticated" => "Thank you. You can go on now.",
        "totp_enrolled" => "Your authenticator app is set up. Signing in now asks for its code.",
        "totp_removed" => "The authenticator app is removed.",
        "codes_saved" => "Backup codes saved.",
        "policy_changed" => "The two-factor policy is saved.",
        "enrol_required" => "Your organization requires a second factor. Set one up to go on.",
        "enrol_soon" => "Your organization will soon require a second factor. Please set one up now.",
        "passkey_added" => "The passkey is added.",
        "passkey_renamed" => "The passkey is renamed.",
        "passkey_removed" => "The passkey is removed.",
        "alert_acknowledged" => "The alert is acknowledged.",
        "alert_resolved" => "The alert is resolved.",
        "alert_resent" => "The alert will be sent again.",
        "rule_saved" => "The rule is saved.",
        "rule_changed" => "The rule is changed.",
        "rule_removed" => "The rule is removed.",
        "sso_created" => {
            "The connection is added, turned off. Have an owner acknowledge its domains, test it, then turn it on."
        }
        "sso_changed" => "The connection is changed.",
        "sso_acknowledged" => "The domain is acknowledged: its people sign in with this connection.",
        "sso_enabled" => "The connection is on: its people can sign in with it.",
        "sso_disabled" => "The connection is off: nobody signs in with it.",
        "sso_removed" => "The connection is removed; its client secret is destroyed.",
        "endpoint_removed" => "The webhook endpoint is removed; its secret is destroyed.",
        "key_revoked" => "The key is revoked: every node refuses it.",
        "secret_created" => "The secret is added. Its readers can fetch it now.",
        "secret_rotated" => "The new value is the current version. Readers get it on their next fetch.",
        "secret_rolled_back" => "That version is current again.",
        "secret_readers_changed" => "The readers are saved.",
        "secret_shredded" => "The secret is shredded: no version of it can be read again.",
        "key_secret_gone" => {
            "That key was made already: its secret was shown once and is not kept. Rotate the key for a new one."
        }
        _ => return None,
    };
    Some(text.to_string())
}

/// `response` with the cookie of `session` (a new or completed session).
pub(crate) fn with_cookie(state: &AppState, session: &Issued, mut response: Response) -> Response {
    response.headers_mut().append(
        header::SET_COOKIE,
        cookie::issue(&state.web, &session.cookie, session.expires_at),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path("/admin/users"), "/admin/users");
        // An export's link, as the browser sends it back.
        let export = "/audit/export?format=csv&kind=login.*&from=2026-12-01T00:00:00Z&actor=user:a@b";
        assert_eq!(local_path(export), export);
        for foreign in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "evil",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil",
        ] {
            assert_eq!(local_path(foreign), "/", "{foreign}");
        }
    }
}
