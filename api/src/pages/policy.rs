//! The org's two-factor policy page: what a user is asked by each sign-in
//! method, and the form that changes it.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use warden_core::auth::mfa_policy::Method;
use warden_core::auth::policy_change::{Change, MethodChange};
use warden_core::commands::account::Role;
use warden_core::commands::mfa::Factor;

use super::confirmed::{Confirmed, ToMfaPolicy};
use super::{Nav, NoticeQuery, PageManager, Place, failed, notice, render, see_other};
use crate::error::ApiError;
use crate::flows::org;
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

struct Row {
    key: &'static str,
    label: &'static str,
    allowed: bool,
    require_mfa: bool,
    totp: bool,
    passkey: bool,
    backup_code: bool,
    upstream: bool,
    trusted_by: Option<String>,
    without_factor: String,
    with_totp: String,
    with_passkey: String,
}

#[derive(Template)]
#[template(path = "mfa_policy.html")]
struct PolicyPage {
    nav: Nav,
    org_name: String,
    rows: Vec<Row>,
    grace_days: String,
    owner: bool,
    require_sso: bool,
    /// A connection is on with a domain an owner acknowledged.
    sso_ready: bool,
    error: Option<String>,
    notice: Option<String>,
}

fn label(method: Method) -> &'static str {
    match method {
        Method::Password => "Password",
        Method::Passkey => "Passkey alone",
        Method::EmailCode => "Email code",
        Method::Oidc => "OpenID Connect",
        Method::Saml => "SAML",
        Method::Ldap => "LDAP",
    }
}

fn page(
    state: &AppState,
    manager: &CurrentSession,
    error: Option<String>,
    notice: Option<String>,
) -> Result<PolicyPage, ApiError> {
    let org = org::of(state, manager)?;
    let nav = Nav::of(manager, Place::MfaPolicy);
    let preview = org::preview(&org);
    let rows = Method::ALL
        .iter()
        .filter(|method| method.is_built())
        .map(|method| {
            let rule = org.mfa_policy.rule(*method);
            let outcome = |case: &str| {
                preview
                    .iter()
                    .find(|(m, _)| m == method)
                    .and_then(|(_, outcomes)| outcomes.iter().find(|(name, _)| *name == case))
                    .map(|(_, text)| text.clone())
                    .unwrap_or_default()
            };
            Row {
                key: method.as_str(),
                label: label(*method),
                allowed: rule.allowed,
                require_mfa: rule.require_mfa,
                totp: rule.factors.contains(&Factor::Totp),
                passkey: rule.factors.contains(&Factor::Passkey),
                backup_code: rule.factors.contains(&Factor::BackupCode),
                upstream: method.has_upstream(),
                trusted_by: rule.trust_upstream_mfa.as_ref().map(|trust| {
                    format!(
                        "{} (acknowledged by user {})",
                        trust.acknowledged_at.format("%Y-%m-%d %H:%M UTC"),
                        trust.acknowledged_by
                    )
                }),
                without_factor: outcome("without_factor"),
                with_totp: outcome("with_totp"),
                with_passkey: outcome("with_passkey"),
            }
        })
        .collect();
    Ok(PolicyPage {
        nav,
        org_name: org.name,
        rows,
        grace_days: (org.mfa_policy.enrolment_grace_seconds / 86_400).to_string(),
        owner: manager.user.role == Role::Owner,
        require_sso: org.mfa_policy.require_sso,
        sso_ready: org::sso_ready(state, &org.id),
        error,
        notice,
    })
}

fn show(state: &AppState, manager: &CurrentSession, error: Option<&ApiError>, notice: Option<String>) -> Response {
    match page(state, manager, error.map(|error| error.message.clone()), notice) {
        Ok(page) => match error {
            Some(error) => failed(error, &page),
            None => render(StatusCode::OK, &page),
        },
        Err(problem) => super::error_page(&problem),
    }
}

/// `GET /admin/mfa-policy`.
pub async fn view(
    State(state): State<AppState>,
    PageManager(manager): PageManager,
    Query(query): Query<NoticeQuery>,
) -> Response {
    show(&state, &manager, None, notice(query.notice.as_deref()))
}

/// `POST /admin/mfa-policy`: the whole form (an unchecked box is `false`).
pub async fn change(
    State(state): State<AppState>,
    client: Client,
    Confirmed(PageManager(manager), _): Confirmed<PageManager, ToMfaPolicy>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let result = async {
        let input = parse(&fields, manager.user.role == Role::Owner)?;
        org::change_mfa_policy(&state, &manager, &client, input).await
    }
    .await;
    match result {
        Ok(_) => see_other("/admin/mfa-policy?notice=policy_changed"),
        Err(error) => show(&state, &manager, Some(&error), None),
    }
}

/// The form's fields as a change; the single sign-on box is an owner's
/// (an admin's form does not show it, so leaves the requirement as it is).
fn parse(fields: &[(String, String)], owner: bool) -> Result<Change, ApiError> {
    let has = |name: &str| fields.iter().any(|(field, _)| field == name);
    let grace_days = fields
        .iter()
        .find(|(field, _)| field == "grace_days")
        .map(|(_, value)| value.trim())
        .unwrap_or("0");
    let grace_days: u64 = grace_days
        .parse()
        .map_err(|_| ApiError::bad_request("the grace period must be a whole number of days"))?;
    // A method the form does not show is left as it is.
    let methods = Method::ALL
        .iter()
        .filter(|method| method.is_built())
        .map(|method| {
            let prefix = method.as_str();
            let factors = fields
                .iter()
                .filter(|(field, _)| *field == format!("{prefix}.factor"))
                .filter_map(|(_, value)| match value.as_str() {
                    "totp" => Some(Factor::Totp),
                    "passkey" => Some(Factor::Passkey),
                    "backup_code" => Some(Factor::BackupCode),
                    _ => None,
                })
                .collect();
            let input = MethodChange {
                allowed: Some(has(&format!("{prefix}.allowed"))),
                require_mfa: Some(has(&format!("{prefix}.require_mfa"))),
                factors: Some(factors),
                trust_upstream_mfa: method
                    .has_upstream()
                    .then(|| has(&format!("{prefix}.trust_upstream_mfa"))),
            };
            (*method, input)
        })
        .collect();
    Ok(Change {
        enrolment_grace_seconds: Some(grace_days.saturating_mul(86_400)),
        methods,
        require_sso: owner.then(|| has("require_sso")),
    })
}
