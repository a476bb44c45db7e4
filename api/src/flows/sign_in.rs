//! Signing in with a password, and starting a session (shared by every
//! way of signing in).
//!
//! An unknown account, a wrong password and an invited account without a
//! password get the same answer after the same work (a data-key fetch, a
//! decryption, an Argon2id verification and one appended event), so
//! neither the answer nor its timing tells whether an account exists.

use chrono::{DateTime, Utc};
use warden_core::NewEvent;
use warden_core::auth::device::Device;
use warden_core::auth::mfa_policy::Method;
use warden_core::auth::password::{Password, Verification};
use warden_core::auth::tokens::{SessionCookie, Token, TokenKind};
use warden_core::commands::account::{
    self, FailureReason, LoginFailed, LoginSucceeded, PasswordSet, Status, identifier_key,
};
use warden_core::commands::session::{self, Assurance, DeviceFirstSeen, Pending, SessionCreated};
use warden_core::commands::{Context, org::SessionPolicy, payload};
use warden_core::event::now_micros;
use warden_projections::accounts::User;
use warden_projections::projection::read;
use warden_projections::sessions::Session;

use super::mfa::AfterFirstFactor;
use super::{commit, new_id};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::Client;

/// A session just created: what the response needs.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub session_id: String,
    /// The session cookie's value.
    pub cookie: String,
    pub expires_at: DateTime<Utc>,
    pub csrf_token: String,
    /// Set for a partial session: the step still to do.
    pub pending: Option<Pending>,
    /// Set inside the enrolment grace period: enrol a second factor before.
    pub enrolment_due: Option<DateTime<Utc>>,
    /// The session a sign-in opened, from its sealed event: the answer
    /// describes it even when the read models are slow to show it.
    pub opened: Option<Session>,
}

/// The events that open a session for `user`, and what the cookie needs.
pub struct SessionStart {
    pub events: Vec<NewEvent>,
    pub session_id: String,
    token: Token,
    expires_at: DateTime<Utc>,
    pending: Option<Pending>,
    enrolment_due: Option<DateTime<Utc>>,
}

/// How long a partial session (a sign-in waiting for its second factor)
/// lives.
pub const PARTIAL_SESSION: chrono::Duration = chrono::Duration::minutes(10);

impl SessionStart {
    /// A session after the first-factor `methods`, as the MFA policy
    /// decided (`after`): partial while a step is pending.
    pub fn new(
        state: &AppState,
        user_id: &str,
        org: &str,
        client: &Client,
        methods: &[&str],
        after: AfterFirstFactor,
    ) -> Self {
        Self::at_level(state, user_id, org, client, (methods, "aal1"), after)
    }

    /// A full session after a sign-in that proved two factors at once (a
    /// passkey with user verification).
    pub fn strong(state: &AppState, user_id: &str, org: &str, client: &Client, methods: &[&str]) -> Self {
        Self::at_level(
            state,
            user_id,
            org,
            client,
            (methods, "aal2"),
            AfterFirstFactor::default(),
        )
    }

    fn at_level(
        state: &AppState,
        user_id: &str,
        org: &str,
        client: &Client,
        assurance: (&[&str], &str),
        after: AfterFirstFactor,
    ) -> Self {
        let policy = read(&state.models.accounts)
            .org(org)
            .map_or(state.web.default_session_policy, |org| org.session_policy);
        let known_device = |fingerprint: &str| read(&state.models.sessions).knows_device(user_id, fingerprint);
        let mut start = Self::build(user_id, org, client, assurance, policy, after.pending, known_device);
        start.enrolment_due = after.enrolment_due;
        start
    }

    fn build(
        user_id: &str,
        org: &str,
        client: &Client,
        (methods, level): (&[&str], &str),
        policy: SessionPolicy,
        pending: Option<Pending>,
        known_device: impl Fn(&str) -> bool,
    ) -> Self {
        let context = client.as_user(user_id, org);
        let session_id = new_id();
        let token = Token::generate();
        let now = now_micros();
        let expires_at = if pending.is_some() {
            now + PARTIAL_SESSION
        } else {
            now + chrono::Duration::seconds(policy.absolute_timeout_seconds as i64)
        };
        let device = Device::from_user_agent(client.user_agent.as_deref().unwrap_or(""));
        let fingerprint = device.fingerprint();
        let mut events = vec![session::create(
            &context,
            &session_id,
            &SessionCreated {
                user: user_id.to_string(),
                org: org.to_string(),
                token_hash: token.hash(TokenKind::Session),
                ip: client.ip.clone(),
                user_agent: client.user_agent.clone(),
                device: device.clone(),
                fingerprint: fingerprint.clone(),
                assurance: Assurance {
                    level: level.into(),
                    methods: methods.iter().map(|method| method.to_string()).collect(),
                    at: now,
                },
                pending: pending.clone(),
                idle_timeout_seconds: policy.idle_timeout_seconds,
                expires_at,
            },
        )];
        if !known_device(&fingerprint) {
            events.push(session::device_first_seen(
                &context,
                &DeviceFirstSeen {
                    user: user_id.to_string(),
                    fingerprint,
                    device,
                    session: session_id.clone(),
                    ip: client.ip.clone(),
                },
            ));
        }
        SessionStart {
            events,
            session_id,
            token,
            expires_at,
            pending,
            enrolment_due: None,
        }
    }

    /// Appends `before`, then the session's events, then `after`, as one
    /// command.
    pub async fn commit(
        self,
        state: &AppState,
        before: Vec<NewEvent>,
        after: Vec<NewEvent>,
    ) -> Result<NewSession, ApiError> {
        let created_at = before.len();
        let mut events = before;
        events.extend(self.events);
        events.extend(after);
        let sealed = commit(state, events).await?;
        let created = sealed
            .get(created_at)
            .filter(|event| event.kind == session::SESSION_CREATED)
            .ok_or_else(|| ApiError::internal("the session event is missing from the append"))?;
        let seq = created.seq;
        let opened = payload::<SessionCreated>(created).map(|data| Session::created(&self.session_id, data, created));
        Ok(NewSession {
            csrf_token: self.token.csrf(),
            cookie: SessionCookie { seq, token: self.token }.encode(),
            session_id: self.session_id,
            expires_at: self.expires_at,
            pending: self.pending,
            enrolment_due: self.enrolment_due,
            opened,
        })
    }
}

/// Refusals of the throttle are recorded at most once per identifier and
/// IP in this period.
const THROTTLED_RECORD_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Signs in with email and password.
pub async fn with_password(
    state: &AppState,
    client: &Client,
    email: &str,
    password: &Password,
) -> Result<NewSession, ApiError> {
    let identifier = identifier_key(&state.passwords.identifier_key, email);
    let anonymous = client.anonymous();
    let user = read(&state.models.accounts).user_by_email(email).cloned();
    let user_id = user.as_ref().map(|user| user.id.clone());
    let _attempt = throttle(state, client, &identifier, user_id.as_deref(), "password").await?;
    let started = std::time::Instant::now();
    let verdict = check_password(state, user.as_ref(), password).await?;
    // Every refusal below takes what the slowest hash takes: the answer
    // time tells no account (imported, unknown, disabled) from another.
    let timing = state.passwords.hashing.refusal_timing();
    let Some(user) = user else {
        timing.pad(started).await;
        record_failure(
            state,
            &anonymous,
            None,
            &identifier,
            FailureReason::UnknownAccount,
            "password",
        )
        .await?;
        return Err(invalid_credentials());
    };
    let rehash = match verdict {
        Verification::Valid { rehash } if user.status != Status::Invited => rehash,
        _ => {
            let reason = if user.status == Status::Invited {
                FailureReason::Invited
            } else {
                FailureReason::WrongPassword
            };
            timing.pad(started).await;
            record_failure(state, &anonymous, Some(&user.id), &identifier, reason, "password").await?;
            return Err(invalid_credentials());
        }
    };
    if user.status == Status::Disabled {
        timing.pad(started).await;
        record_failure(
            state,
            &anonymous,
            Some(&user.id),
            &identifier,
            FailureReason::Disabled,
            "password",
        )
        .await?;
        return Err(ApiError::forbidden_code("account_disabled", "this account is disabled"));
    }
    let context = client.as_user(&user.id, &user.org);
    let after = super::mfa::after_first_factor(state, &user, Method::Password, false)?;
    let start = SessionStart::new(state, &user.id, &user.org, client, &["password"], after);
    let mut after = vec![account::login_succeeded(
        &context,
        &LoginSucceeded {
            user: user.id.clone(),
            method: "password".into(),
            session: start.session_id.clone(),
            identifier,
            second_factor_pending: start.pending.is_some(),
        },
    )];
    if rehash {
        // Decided on the hash just verified: refused if the password
        // changed meanwhile, so an old password can never come back.
        let set = sealed_password(state, &user.id, password, "rehash").await?;
        after.push(account::set_password(&context, &user.id, Some(user.version), &set));
    }
    start.commit(state, Vec::new(), after).await
}

/// Refuses an attempt the throttle does not allow now. Attempts for the
/// same identifier or IP still being checked count as failures; when only
/// they stand in the way, this attempt waits for them to end (20 s at most)
/// and is decided on their outcome: a burst of guesses gets no more than
/// the free allowance, and a burst of right passwords (a double-click, a
/// script) all pass. The returned attempt must live until the attempt's
/// failure (if any) is recorded.
pub async fn throttle(
    state: &AppState,
    client: &Client,
    identifier: &str,
    user: Option<&str>,
    method: &str,
) -> Result<crate::web::limits::Attempt, ApiError> {
    let ip_key = client.ip.as_deref().map(warden_projections::throttle::ip_key);
    let keys = vec![
        format!(
            "pair:{}",
            warden_projections::throttle::pair_key(identifier, client.ip.as_deref())
        ),
        format!("ip:{}", ip_key.clone().unwrap_or_default()),
        format!("id:{identifier}"),
    ];
    let deadline = tokio::time::Instant::now() + PENDING_WAIT;
    let wait = loop {
        let (attempt, pending) = state.attempts.begin(keys.clone());
        let count = |index: usize| pending.get(index).copied().unwrap_or(0);
        let pending = (count(0), if client.ip.is_some() { count(1) } else { 0 }, count(2));
        let (wait, settled) = {
            let throttle = read(&state.models.login_throttle);
            let now = Utc::now();
            (
                throttle.wait(identifier, client.ip.as_deref(), now, pending),
                throttle.wait(identifier, client.ip.as_deref(), now, (0, 0, 0)),
            )
        };
        let Some(wait) = wait else {
            return Ok(attempt);
        };
        if settled.is_some() || pending == (0, 0, 0) || tokio::time::Instant::now() >= deadline {
            attempt.withdraw();
            break wait;
        }
        // Only attempts in flight stand in the way: wait for one to end.
        let ended = state.attempts.ended();
        tokio::pin!(ended);
        ended.as_mut().enable();
        attempt.withdraw();
        let _ = tokio::time::timeout(std::time::Duration::from_millis(250), ended).await;
    };
    let sample = format!("{identifier}/{}", ip_key.unwrap_or_default());
    if state.refusals.admit(sample, THROTTLED_RECORD_EVERY) {
        record_failure(
            state,
            &client.anonymous(),
            user,
            identifier,
            FailureReason::Throttled,
            method,
        )
        .await?;
    }
    Err(ApiError::too_many_requests(
        "too many failed sign-ins; wait before trying again",
        wait.max(std::time::Duration::from_secs(1)),
    ))
}

/// Longest wait for attempts in flight before deciding on them.
const PENDING_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// Checks a password against the user's stored hash; for an unknown user
/// (or one without a password), spends the same work on a decoy.
pub async fn check_password(
    state: &AppState,
    user: Option<&User>,
    password: &Password,
) -> Result<Verification, ApiError> {
    let hashing = &state.passwords.hashing;
    let sealed = user.and_then(|user| user.password.as_ref());
    let Some(sealed) = sealed else {
        let _ = state.data_keys.open(&state.passwords.decoy).await;
        hashing.verify_nothing(password).await.map_err(hashing_failed)?;
        return Ok(Verification::Invalid);
    };
    let stored = match state.data_keys.open(sealed).await {
        Ok(stored) => stored,
        Err(error) => {
            // A shredded or damaged hash: the account cannot sign in with a
            // password, and says so no differently.
            tracing::warn!(%error, "stored password hash cannot be opened");
            hashing.verify_nothing(password).await.map_err(hashing_failed)?;
            return Ok(Verification::Invalid);
        }
    };
    hashing.verify(password, &stored).await.map_err(hashing_failed)
}

/// Hashes and seals a password under the user's data key.
pub async fn sealed_password(
    state: &AppState,
    user_id: &str,
    password: &Password,
    reason: &str,
) -> Result<PasswordSet, ApiError> {
    let hash = state.passwords.hashing.hash(password).await.map_err(hashing_failed)?;
    let sealed = state
        .data_keys
        .seal(&account::user_subject(user_id), &hash)
        .await
        .map_err(|error| {
            tracing::error!(%error, "cannot seal a password hash");
            ApiError::unavailable("the key service is unavailable; try again")
        })?;
    Ok(PasswordSet {
        hash: sealed,
        scheme: "argon2id".into(),
        reason: reason.into(),
    })
}

pub async fn record_failure(
    state: &AppState,
    context: &Context,
    user: Option<&str>,
    identifier: &str,
    reason: FailureReason,
    method: &str,
) -> Result<(), ApiError> {
    let event = account::login_failed(
        context,
        &LoginFailed {
            user: user.map(str::to_string),
            method: method.into(),
            reason,
            identifier: identifier.to_string(),
        },
    );
    commit(state, vec![event]).await.map(|_| ())
}

fn invalid_credentials() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "the email or password is wrong",
    )
}

fn hashing_failed(error: warden_core::auth::password::PasswordError) -> ApiError {
    tracing::error!(%error, "password hashing failed");
    ApiError::unavailable("password checking is unavailable; try again")
}
