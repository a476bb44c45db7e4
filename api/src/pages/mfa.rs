//! The second-factor pages: the prompt that completes a sign-in, the
//! settings page (authenticator app, backup codes) and the backup codes
//! shown once.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use warden_core::commands::mfa::Factor;
use warden_projections::projection::read;

use super::confirmed::{Confirmed, ToMfaSettings};
use super::when::{When, Zone};
use super::{
    Nav, PageAnySession, PageEnrolling, PageSession, Place, failed, local_path, notice, render, see_other, with_cookie,
};
use crate::error::ApiError;
use crate::flows::backup_codes::{self, IssuedCodes};
use crate::flows::issued::Issued;
use crate::flows::mfa;
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

#[derive(Template)]
#[template(path = "mfa_prompt.html")]
struct PromptPage {
    csrf_token: String,
    next: String,
    user_email: String,
    totp: bool,
    passkeys: bool,
    backup_codes: bool,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    pub next: Option<String>,
    pub notice: Option<String>,
}

fn prompt_page(current: &CurrentSession, next: &str, error: Option<String>) -> PromptPage {
    let offers = |factor: Factor| {
        current
            .session
            .pending
            .as_ref()
            .is_some_and(|pending| pending.offers(factor))
    };
    PromptPage {
        csrf_token: current.csrf_token(),
        next: next.to_string(),
        user_email: current.user.email.clone(),
        totp: offers(Factor::Totp),
        passkeys: offers(Factor::Passkey),
        backup_codes: offers(Factor::BackupCode),
        error,
        notice: None,
    }
}

/// `GET /sign-in/mfa`: the second-factor prompt of a partial session.
pub async fn prompt(PageAnySession(current): PageAnySession, Query(query): Query<NextQuery>) -> Response {
    let next = local_path(query.next.as_deref().unwrap_or("/")).to_string();
    match &current.session.pending {
        None => return see_other(&next),
        Some(pending) if pending.is_enrolment() => return see_other("/settings/mfa?notice=enrol_required"),
        Some(_) => {}
    }
    render(StatusCode::OK, &prompt_page(&current, &next, None))
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
    #[serde(default)]
    next: String,
}

pub async fn prompt_submit(
    State(state): State<AppState>,
    client: Client,
    PageAnySession(current): PageAnySession,
    Form(form): Form<CodeForm>,
) -> Response {
    let next = local_path(&form.next).to_string();
    match mfa::verify(&state, &current, &client, &form.code).await {
        Ok(session) => with_cookie(&state, &session, see_other(&next)),
        Err(error) => failed(&error, &prompt_page(&current, &next, Some(error.message.clone()))),
    }
}

struct PasskeyRow {
    credential: String,
    name: String,
    registered_at: When,
    /// `None`: never used.
    last_used_at: Option<When>,
}

struct SetupView {
    secret: String,
    qr_svg: String,
    digits: u8,
    period_seconds: u64,
}

#[derive(Template)]
#[template(path = "mfa_settings.html")]
struct SettingsPage {
    nav: Nav,
    totp_enrolled_at: Option<When>,
    setup: Option<SetupView>,
    passkeys: Vec<PasskeyRow>,
    /// The zone of the times shown.
    zone: String,
    passkeys_available: bool,
    has_second_factor: bool,
    backup_remaining: Option<usize>,
    backup_count: usize,
    backup_acknowledged: bool,
    error: Option<String>,
    notice: Option<String>,
}

async fn settings_page(
    state: &AppState,
    current: &CurrentSession,
    error: Option<String>,
    notice: Option<String>,
) -> Result<SettingsPage, ApiError> {
    let nav = Nav::of(current, Place::TwoFactor);
    let factors = read(&state.models.mfa).factors(&current.user.id);
    let zone = Zone::of(current.user.time_zone.as_deref());
    let passkeys = factors
        .passkeys
        .iter()
        .map(|passkey| PasskeyRow {
            credential: passkey.credential.clone(),
            name: passkey.name.clone(),
            registered_at: zone.when(&passkey.registered_at),
            last_used_at: passkey.last_used_at.as_ref().map(|at| zone.when(at)),
        })
        .collect();
    let setup = match factors.totp {
        Some(_) => None,
        None => mfa::pending_totp(state, current).await?.map(|setup| SetupView {
            secret: setup.secret.to_string(),
            qr_svg: super::qr::svg(&setup.uri),
            digits: setup.params.digits,
            period_seconds: setup.params.period_seconds,
        }),
    };
    Ok(SettingsPage {
        nav,
        totp_enrolled_at: factors
            .totp
            .as_ref()
            .and_then(|totp| totp.enrolled_at)
            .map(|at| zone.when(&at)),
        setup,
        passkeys,
        zone: zone.name().to_string(),
        passkeys_available: state.passkeys.is_some(),
        has_second_factor: factors.has_second_factor(),
        backup_remaining: factors.backup_codes.as_ref().map(|codes| codes.remaining()),
        backup_count: factors.backup_codes.as_ref().map_or(0, |codes| codes.count),
        backup_acknowledged: factors.backup_codes.as_ref().is_some_and(|codes| codes.acknowledged),
        error,
        notice,
    })
}

async fn show_settings(
    state: &AppState,
    current: &CurrentSession,
    error: Option<&ApiError>,
    notice: Option<String>,
) -> Response {
    match settings_page(state, current, error.map(|error| error.message.clone()), notice).await {
        Ok(page) => match error {
            Some(error) => failed(error, &page),
            None => render(StatusCode::OK, &page),
        },
        Err(problem) => super::error_page(&problem),
    }
}

/// `GET /settings/mfa`.
pub async fn settings(
    State(state): State<AppState>,
    PageEnrolling(current): PageEnrolling,
    Query(query): Query<NextQuery>,
) -> Response {
    show_settings(&state, &current, None, notice(query.notice.as_deref())).await
}

/// `POST /settings/mfa/totp`: starts a setup; the settings page shows it.
pub async fn start(State(state): State<AppState>, client: Client, PageEnrolling(current): PageEnrolling) -> Response {
    match mfa::start_totp(&state, &current, &client).await {
        Ok(_) => see_other("/settings/mfa"),
        Err(error) => show_settings(&state, &current, Some(&error), None).await,
    }
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    code: String,
}

/// `POST /settings/mfa/totp/confirm`: shows the backup codes when this was
/// the first factor.
pub async fn confirm(
    State(state): State<AppState>,
    client: Client,
    PageEnrolling(current): PageEnrolling,
    Form(form): Form<ConfirmForm>,
) -> Response {
    match mfa::confirm_totp(&state, &current, &client, &form.code).await {
        Ok(enrolled) => {
            let response = match &enrolled.backup_codes {
                Some(issued) => codes_page(&current, issued, enrolled.session.as_ref()),
                None => see_other("/settings/mfa?notice=totp_enrolled"),
            };
            match &enrolled.session {
                Some(session) => with_cookie(&state, session, response),
                None => response,
            }
        }
        Err(error) => show_settings(&state, &current, Some(&error), None).await,
    }
}

/// `POST /settings/mfa/totp/remove`.
pub async fn remove(
    State(state): State<AppState>,
    client: Client,
    Confirmed(PageSession(current), _): Confirmed<PageSession, ToMfaSettings>,
) -> Response {
    match mfa::remove_totp(&state, &current, &client).await {
        Ok(()) => see_other("/settings/mfa?notice=totp_removed"),
        Err(error) => show_settings(&state, &current, Some(&error), None).await,
    }
}

/// `POST /settings/mfa/backup-codes`: a new set, shown once.
pub async fn regenerate(
    State(state): State<AppState>,
    client: Client,
    Confirmed(PageSession(current), _): Confirmed<PageSession, ToMfaSettings>,
) -> Response {
    match backup_codes::regenerate_backup_codes(&state, &current, &client).await {
        Ok(issued) => codes_page(&current, &issued, None),
        Err(error) => show_settings(&state, &current, Some(&error), None).await,
    }
}

#[derive(Template)]
#[template(path = "backup_codes.html")]
struct CodesPage {
    nav: Nav,
    set: String,
    codes: Vec<String>,
    /// The codes one per line, for the copy button and the download.
    text: String,
    download: String,
    error: Option<String>,
    notice: Option<String>,
}

fn codes_text(issued: &IssuedCodes) -> String {
    issued
        .codes
        .iter()
        .map(|code| code.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The file "Download" saves: whose codes, when made, how to use them.
fn codes_file(email: &str, issued: &IssuedCodes) -> String {
    format!(
        "Warden backup codes for {email}\nMade {}. Each code signs you in once; making new codes voids these.\n\n{}\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        codes_text(issued)
    )
}

/// The codes, shown once; `session` is the session's new token when this
/// enrolment completed a partial session (the page's forms need its CSRF
/// token).
fn codes_page(current: &CurrentSession, issued: &IssuedCodes, session: Option<&Issued>) -> Response {
    let nav = Nav::of(current, Place::TwoFactor);
    let mut response = render(
        StatusCode::OK,
        &CodesPage {
            nav: match session {
                Some(session) => nav.with_csrf_token(session.csrf_token.clone()),
                None => nav,
            },
            set: issued.set.clone(),
            codes: issued.codes.iter().map(|code| code.to_string()).collect(),
            text: codes_text(issued),
            download: format!(
                "data:text/plain;charset=utf-8,{}",
                crate::handlers::audit::encode(&codes_file(&current.user.email, issued))
            ),
            error: None,
            notice: None,
        },
    );
    // Shown once: not even the browser's history may keep them.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}

#[derive(Deserialize)]
pub struct AcknowledgeForm {
    set: String,
}

/// `POST /settings/mfa/backup-codes/acknowledge`.
pub async fn acknowledge(
    State(state): State<AppState>,
    client: Client,
    PageSession(current): PageSession,
    Form(form): Form<AcknowledgeForm>,
) -> Response {
    match backup_codes::acknowledge_backup_codes(&state, &current, &client, &form.set).await {
        Ok(()) => see_other("/settings/mfa?notice=codes_saved"),
        Err(error) => show_settings(&state, &current, Some(&error), None).await,
    }
}

#[derive(Deserialize)]
pub struct RenameForm {
    name: String,
}

/// `POST /settings/mfa/passkeys/{credential}/rename`.
pub async fn rename_passkey(
    State(state): State<AppState>,
    client: Client,
    PageSession(current): PageSession,
    axum::extract::Path(credential): axum::extract::Path<String>,
    Form(form): Form<RenameForm>,
) -> Response {
    match crate::flows::passkeys::rename(&state, &current, &client, &credential, &form.name).await {
        Ok(()) => see_other("/settings/mfa?notice=passkey_renamed"),
        Err(error) => show_settings(&state, &current, Some(&error), None).await,
    }
}

/// `POST /settings/mfa/passkeys/{credential}/remove`.
pub async fn remove_passkey(
    State(state): State<AppState>,
    client: Client,
    Confirmed(PageSession(current), _): Confirmed<PageSession, ToMfaSettings>,
    axum::extract::Path(credential): axum::extract::Path<String>,
) -> Response {
    match crate::flows::passkeys::remove(&state, &current, &client, &credential).await {
        Ok(()) => see_other("/settings/mfa?notice=passkey_removed"),
        Err(error) => show_settings(&state, &current, Some(&error), None).await,
    }
}
