//! A session's assurance: what a sign-in whose first factor passed leads
//! to under the org's MFA policy, the elevation that a further factor
//! gives (a new token, `aal2`), and the recent strong authentication that
//! sensitive actions need (step-up).

use chrono::Utc;
use warden_core::auth::mfa_policy::{Decision, Method, SignIn, decide};
use warden_core::auth::password::Password;
use warden_core::auth::tokens::{SessionCookie, Token, TokenKind};
use warden_core::commands::mfa::Factor;
use warden_core::commands::session::{self, Assurance, Pending, SessionElevated};
use warden_core::event::now_micros;
use warden_projections::mfa::UserFactors;
use warden_projections::projection::read;

use super::commit;
use super::sign_in::NewSession;
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

/// What a sign-in whose first factor passed leads to, by the org's MFA
/// policy (`warden_core::auth::mfa_policy`): a step still pending (a second
/// factor, or enrolling one), and the end of the enrolment grace period
/// when the user is inside it.
#[derive(Debug, Clone, Default)]
pub struct AfterFirstFactor {
    pub pending: Option<Pending>,
    pub enrolment_due: Option<chrono::DateTime<Utc>>,
}

pub fn after_first_factor(
    state: &AppState,
    user: &warden_projections::accounts::User,
    method: Method,
    first_factor_is_mfa: bool,
) -> Result<AfterFirstFactor, ApiError> {
    let accounts = read(&state.models.accounts);
    let org = accounts.org(&user.org);
    let policy = org.map(|org| org.mfa_policy.clone()).unwrap_or_default();
    let required_since = org
        .and_then(|org| org.mfa_required_since)
        .map_or(user.created_at, |since| since.max(user.created_at));
    let enrolled = enrolled(&read(&state.models.mfa).factors(&user.id));
    let decision = decide(
        &policy,
        &SignIn {
            method,
            enrolled: &enrolled,
            first_factor_is_mfa,
            upstream_mfa: false,
            required_since,
            now: Utc::now(),
        },
    );
    let names = |factors: Vec<Factor>| factors.iter().map(|factor| factor.as_str().to_string()).collect();
    Ok(match decision {
        Decision::Full => AfterFirstFactor::default(),
        Decision::FullUntilEnrolled { deadline } => AfterFirstFactor {
            pending: None,
            enrolment_due: Some(deadline),
        },
        Decision::SecondFactor { factors } => AfterFirstFactor {
            pending: Some(Pending::second_factor(names(factors))),
            enrolment_due: None,
        },
        Decision::Enrol { factors } => AfterFirstFactor {
            pending: Some(Pending::enrolment(names(factors))),
            enrolment_due: None,
        },
        Decision::Refused { reason } => return Err(ApiError::forbidden_code("method_not_allowed", reason)),
    })
}

/// The factors a user can prove now, as the policy engine counts them.
pub fn enrolled(factors: &UserFactors) -> Vec<Factor> {
    let mut enrolled = Vec::new();
    if !factors.passkeys.is_empty() {
        enrolled.push(Factor::Passkey);
    }
    if factors.totp.is_some() {
        enrolled.push(Factor::Totp);
    }
    if factors.backup_codes.as_ref().is_some_and(|codes| codes.remaining() > 0) {
        enrolled.push(Factor::BackupCode);
    }
    enrolled
}

/// Re-authenticates with the password, for a sensitive action of a user
/// who has no second factor (one who has must use it: a password alone
/// does not refresh a two-factor session).
pub async fn reauthenticate_with_password(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    password: &Password,
) -> Result<NewSession, ApiError> {
    let user_view = &current.user;
    if read(&state.models.mfa).factors(&user_view.id).has_second_factor() {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "use_second_factor",
            "this account has a second factor: re-authenticate with it (POST /api/v1/mfa/verify)",
        ));
    }
    super::account::confirm_password(state, current, client, password, "reauthenticate").await?;
    let context = client.as_user(&user_view.id, &user_view.org);
    let elevation = Elevation::new(state, current, "aal1", vec!["password".into()], "step_up");
    let sealed = commit(state, vec![elevation.event(&context, current)]).await?;
    Ok(elevation.into_session(current, &sealed))
}

/// Refuses a sensitive action unless the session's last strong
/// authentication is recent (`step_up_max_age_seconds`): a second factor
/// for users who have one, the password for others.
pub fn require_recent_authentication(state: &AppState, current: &CurrentSession) -> Result<(), ApiError> {
    let has_factor = read(&state.models.mfa)
        .of(&current.user.id)
        .is_some_and(UserFactors::has_second_factor);
    let max_age = chrono::Duration::seconds(i64::try_from(state.mfa.step_up_max_age_seconds).unwrap_or(600));
    let assurance = &current.session.assurance;
    let fresh = Utc::now() - assurance.at <= max_age;
    let strong = !has_factor || assurance.level == "aal2";
    if fresh && strong {
        return Ok(());
    }
    let message = if has_factor {
        "this action needs a recent second factor: verify one (POST /api/v1/mfa/verify) and try again"
    } else {
        "this action needs a recent sign-in: confirm your password (POST /api/v1/session/reauthenticate) and try again"
    };
    Err(ApiError::forbidden_code("reauthentication_required", message))
}

/// A new token and assurance for the current session.
pub(super) struct Elevation {
    token: Token,
    assurance: Assurance,
    reason: &'static str,
    expires_at: chrono::DateTime<Utc>,
    pending: Option<Pending>,
}

impl Elevation {
    pub(super) fn new(
        state: &AppState,
        current: &CurrentSession,
        level: &str,
        methods: Vec<String>,
        reason: &'static str,
    ) -> Self {
        // A session waiting for an enrolment stays waiting: proving an
        // existing factor only lets the user set up the one the org
        // counts.
        let pending = current
            .session
            .pending
            .clone()
            .filter(|pending| pending.is_enrolment() && reason != "enrolment");
        // A completed sign-in gets the org's absolute lifetime from its
        // start; a step-up (or a still pending one) keeps the session's end.
        let expires_at = if current.session.is_full() || pending.is_some() {
            current.session.expires_at
        } else {
            let policy = read(&state.models.accounts)
                .org(&current.user.org)
                .map_or(state.web.default_session_policy, |org| org.session_policy);
            current.session.created_at
                + chrono::Duration::seconds(
                    i64::try_from(policy.absolute_timeout_seconds).unwrap_or(i64::MAX / 1_000_000),
                )
        };
        Elevation {
            token: Token::generate(),
            assurance: Assurance {
                level: level.into(),
                methods,
                at: now_micros(),
            },
            reason,
            expires_at,
            pending,
        }
    }

    pub(super) fn event(
        &self,
        context: &warden_core::commands::Context,
        current: &CurrentSession,
    ) -> warden_core::NewEvent {
        session::elevate(
            context,
            &current.session.id,
            &SessionElevated {
                user: current.user.id.clone(),
                token_hash: self.token.hash(TokenKind::Session),
                assurance: self.assurance.clone(),
                reason: self.reason.into(),
                expires_at: self.expires_at,
                pending: self.pending.clone(),
            },
        )
    }

    pub(super) fn into_session(self, current: &CurrentSession, sealed: &[warden_core::Event]) -> NewSession {
        let seq = sealed
            .iter()
            .rev()
            .find(|event| event.kind == session::SESSION_ELEVATED)
            .map(|event| event.seq)
            .unwrap_or_default();
        NewSession {
            session_id: current.session.id.clone(),
            csrf_token: self.token.csrf(),
            cookie: SessionCookie { seq, token: self.token }.encode(),
            expires_at: self.expires_at,
            pending: self.pending,
            enrolment_due: None,
            opened: None,
        }
    }
}
