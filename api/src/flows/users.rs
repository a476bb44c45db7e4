//! Managing an org's users: create or invite, change role, disable and
//! re-enable, revoke sessions, and accepting an invitation. The rules are
//! `warden_core::auth::users`; here the state is read and the decision
//! appended.

use chrono::Utc;
use warden_core::auth::mfa_policy::Method;
use warden_core::auth::password::Password;
use warden_core::auth::role_grants::Grant;
use warden_core::auth::sign_in;
use warden_core::auth::tokens::{Token, TokenKind};
use warden_core::auth::users::{self as decision, Invitee, Manager, Member};
use warden_core::commands::account::{PasswordReason, Role, Status, normalize_email, valid_email};
use warden_core::commands::session::Level;
use warden_core::event::now_micros;
use warden_projections::accounts::User;
use warden_projections::projection::read;
use warden_projections::sessions::Sessions;

use super::issued::{self, Issued};
use super::step_up::recent_authentication;
use super::{check_name, check_new_password, commit, new_id, password, read as state_of};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::Client;
use crate::web::Principal;

pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    /// With a password the user is active at once; without, invited.
    pub password: Option<Password>,
}

pub struct Created {
    pub user: User,
    /// The invitation link, shown once to the admin who invited.
    pub invitation_url: Option<String>,
}

/// The manager of a request, as user decisions see them: a person, or a
/// key with `users:write` (`Manager::key`).
pub(crate) fn manager<'a>(
    state: &AppState,
    principal: &'a Principal,
    context: &'a warden_core::commands::Context,
) -> Manager<'a> {
    match principal {
        Principal::Person(current) => Manager {
            context,
            id: &current.user.id,
            org: &current.user.org,
            role: current.user.role,
            recent_authentication: recent_authentication(state, current),
        },
        Principal::Key(call) => Manager::key(context, &call.key.id, &call.key.org),
    }
}

pub async fn create(
    state: &AppState,
    principal: &Principal,
    client: &Client,
    input: NewUser,
) -> Result<Created, ApiError> {
    let context = principal.context(client);
    let manager = manager(state, principal, &context);
    // Who may create whom comes first: nobody else gets a password hashed.
    decision::authorize(&manager, Grant::Create(input.role))?;
    let email = normalize_email(&input.email);
    if !valid_email(&email) {
        return Err(ApiError::bad_request("email is not a valid address"));
    }
    let display_name = check_name("display_name", &input.display_name)?;
    let id = new_id();
    let password = match &input.password {
        Some(typed) => {
            check_new_password(state, typed, &[&email, &display_name])?;
            Some(password::sealed(state, &id, typed, PasswordReason::Admin).await?)
        }
        None => None,
    };
    let invitation = password.is_none().then(Token::generate);
    let mut events = decision::create(
        &manager,
        decision::NewUser {
            id: id.clone(),
            email: email.clone(),
            display_name,
            role: input.role,
            password,
            invitation_token_hash: invitation.as_ref().map(|token| token.hash(TokenKind::Invitation)),
        },
        now_micros(),
    )?;
    if let Some(token) = &invitation {
        events.extend(invitation_email(state, principal, &context, &id, &email, token).await?);
    }
    commit(state, events).await?;
    let user = read(&state.models.accounts)
        .user(&id)
        .cloned()
        .ok_or_else(|| ApiError::internal("the new user is missing from the read model"))?;
    Ok(Created {
        user,
        invitation_url: invitation.map(|token| invitation_url(state, &token)),
    })
}

/// The link an invitation's token opens.
fn invitation_url(state: &AppState, token: &Token) -> String {
    format!("{}/invitation?token={}", state.web.public_url, token.encode())
}

/// The invitation emailed to the invited address, where a mail server is
/// configured and the org sends invitations (`security_emails`): the
/// `email.queued` to append with the invitation.
async fn invitation_email(
    state: &AppState,
    principal: &Principal,
    context: &warden_core::commands::Context,
    id: &str,
    email: &str,
    token: &Token,
) -> Result<Option<warden_core::NewEvent>, ApiError> {
    let (org, inviter) = {
        let accounts = read(&state.models.accounts);
        let Some(org) = accounts.org(principal.org()) else {
            return Ok(None);
        };
        if !state.email_codes.available || !org.security_emails.invitation {
            return Ok(None);
        }
        let inviter = match principal {
            Principal::Person(current) => current.user.display_name.clone(),
            Principal::Key(_) => format!("An administrator of {}", org.name),
        };
        (org.name.clone(), inviter)
    };
    let (_, queued) = crate::email::queue(
        state,
        context,
        crate::email::Recipient {
            address: email,
            user: Some(id),
            org: Some(principal.org()),
        },
        crate::email::Message::Invitation {
            org: &org,
            inviter: &inviter,
            link: &invitation_url(state, token),
        },
    )
    .await?;
    Ok(Some(queued))
}

/// A user of the manager's `org`, or 404 (users of other orgs do not
/// exist for them).
pub fn member(state: &AppState, org: &str, id: &str) -> Result<User, ApiError> {
    read(&state.models.accounts)
        .user(id)
        .filter(|user| user.org == org)
        .cloned()
        .ok_or_else(ApiError::not_found)
}

/// A role named in a request.
pub fn role(text: &str) -> Result<Role, ApiError> {
    Role::parse(text).ok_or_else(|| ApiError::bad_request("role must be owner, admin, member or auditor"))
}

/// A change as a request names it: `role` and `status` as text.
pub fn parse_change(role_text: Option<&str>, status: Option<&str>) -> Result<decision::Change, ApiError> {
    Ok(decision::Change {
        role: role_text.map(role).transpose()?,
        status: status
            .map(|text| {
                Status::settable(text).ok_or_else(|| ApiError::bad_request("status must be active or disabled"))
            })
            .transpose()?,
    })
}

pub async fn change(
    state: &AppState,
    principal: &Principal,
    client: &Client,
    id: &str,
    change: decision::Change,
) -> Result<User, ApiError> {
    let user = member(state, principal.org(), id)?;
    let context = principal.context(client);
    let events = {
        let sessions = read(&state.models.sessions);
        let live = live_sessions(&sessions, id);
        decision::change(&manager(state, principal, &context), &as_member(&user, &live), change)?
    };
    commit(state, events).await?;
    member(state, principal.org(), id)
}

/// Revokes every session of a user of the manager's org.
pub async fn revoke_sessions(
    state: &AppState,
    principal: &Principal,
    client: &Client,
    id: &str,
) -> Result<usize, ApiError> {
    let user = member(state, principal.org(), id)?;
    let context = principal.context(client);
    let events = {
        let sessions = read(&state.models.sessions);
        let live = live_sessions(&sessions, id);
        decision::revoke_sessions(&manager(state, principal, &context), &as_member(&user, &live))?
    };
    let count = events.len();
    commit(state, events).await?;
    Ok(count)
}

/// Signs out one session of a user of the manager's org.
pub async fn revoke_session(
    state: &AppState,
    principal: &Principal,
    client: &Client,
    id: &str,
    session: &str,
) -> Result<(), ApiError> {
    let user = member(state, principal.org(), id)?;
    let context = principal.context(client);
    let events = {
        let sessions = read(&state.models.sessions);
        let live = live_sessions(&sessions, id);
        decision::revoke_session(&manager(state, principal, &context), &as_member(&user, &live), session)?
    };
    commit(state, events).await?;
    Ok(())
}

/// The ids of `user`'s live sessions.
pub(crate) fn live_sessions<'a>(sessions: &'a Sessions, user: &str) -> Vec<&'a str> {
    sessions
        .of_user(user)
        .into_iter()
        .map(|session| session.id.as_str())
        .collect()
}

pub(crate) fn as_member<'a>(user: &'a User, sessions: &'a [&'a str]) -> Member<'a> {
    Member {
        id: &user.id,
        role: user.role,
        status: user.status,
        version: user.version,
        sessions,
    }
}

/// What an invitation link shows before it is accepted: who invited
/// whom, to which org, as what.
pub struct InvitationView {
    pub email: String,
    pub org_name: String,
    pub role: Role,
    pub invited_by: Option<String>,
    pub expires_at: chrono::DateTime<Utc>,
    /// The org requires single sign-on of the invitee: they accept by
    /// signing in with it, not by choosing a password.
    pub sso_required: bool,
}

/// The invitation `token` names, while it can still be accepted.
pub fn invitation(state: &AppState, token: &str) -> Option<InvitationView> {
    let token = Token::parse(token)?;
    let accounts = read(&state.models.accounts);
    let user = accounts.user_by_invitation(&token.hash(TokenKind::Invitation))?;
    let invitation = user
        .invitation
        .as_ref()
        .filter(|invitation| Utc::now() < invitation.expires_at)?;
    let org = accounts.org(&user.org);
    Some(InvitationView {
        email: user.email.clone(),
        org_name: org.map(|org| org.name.clone()).unwrap_or_default(),
        sso_required: org.is_some_and(|org| org.mfa_policy.require_sso) && user.role != Role::Owner,
        role: user.role,
        invited_by: user
            .created_by
            .as_deref()
            .and_then(|by| accounts.user(by))
            .map(|by| by.display_name.clone()),
        expires_at: invitation.expires_at,
    })
}

/// Accepting an invitation: the user sets a password, becomes active and
/// is signed in (through the MFA policy, like a password sign-in).
pub async fn accept_invitation(
    state: &AppState,
    client: &Client,
    token: &str,
    typed: &Password,
) -> Result<Issued, ApiError> {
    let user = Token::parse(token).and_then(|token| {
        read(&state.models.accounts)
            .user_by_invitation(&token.hash(TokenKind::Invitation))
            .cloned()
    });
    let invitee = user.as_ref().map(|user| Invitee {
        id: &user.id,
        status: user.status,
        version: user.version,
        invitation: user.invitation.as_ref(),
    });
    // Checked before the password is hashed, and again in the decision.
    let Some(user) = user.as_ref().filter(|_| {
        invitee.as_ref().is_some_and(|invitee| {
            invitee
                .invitation
                .is_some_and(|invitation| Utc::now() < invitation.expires_at)
        })
    }) else {
        return Err(decision::InvalidLink.into());
    };
    check_new_password(state, typed, &[&user.email, &user.display_name])?;
    let context = client.as_user(&user.id, &user.org);
    let set = password::sealed(state, &user.id, typed, PasswordReason::Invitation).await?;
    let mut events = decision::accept_invitation(&context, invitee.as_ref(), &set, now_micros())?;
    let account = state_of::account(user);
    let enrolled = state_of::enrolled(&state_of::factors(state, &user.id));
    let rules = state_of::org_rules(state, &user.org);
    let after = sign_in::after_first_factor(&account, &rules, &enrolled, Method::Password, false, now_micros())?;
    let (drawn, opening) = super::sign_in::open(
        state,
        &client.caller(),
        &account,
        (Level::Aal1, &["password"]),
        after.pending,
    );
    events.extend(opening);
    issued::opened(state, drawn, events, after.enrolment_due).await
}
