//! Managing an org's users: create or invite, change role, disable and
//! re-enable, revoke sessions. Every change records old and new values.

use axum::http::StatusCode;
use chrono::Utc;
use warden_core::auth::mfa_policy::Method;
use warden_core::auth::password::Password;
use warden_core::auth::role_grants::{self, Grant, GrantRefusal, StepUp};
use warden_core::auth::sign_in;
use warden_core::auth::tokens::{Token, TokenKind};
use warden_core::commands::account::{
    self, Invitation, Role, RoleChanged, Status, StatusChanged, UserCreated, normalize_email, valid_email,
};
use warden_core::commands::session::{Level, RevocationReason};
use warden_core::event::now_micros;
use warden_projections::accounts::User;
use warden_projections::projection::read;

use super::account::revocations;
use super::issued::{self, Issued};
use super::{check_name, check_new_password, commit, new_id, password, read as state_of};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

/// How long an invitation link is valid.
const INVITATION_LIFETIME: chrono::Duration = chrono::Duration::days(7);

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

pub async fn create(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    input: NewUser,
) -> Result<Created, ApiError> {
    authorize(state, manager, Grant::Create(input.role))?;
    let email = normalize_email(&input.email);
    if !valid_email(&email) {
        return Err(ApiError::bad_request("email is not a valid address"));
    }
    let display_name = check_name("display_name", &input.display_name)?;
    if let Some(password) = &input.password {
        check_new_password(state, password, &[&email, &display_name])?;
    }
    let id = new_id();
    let context = client.as_user(&manager.user.id, &manager.user.org);
    let invitation_token = input.password.is_none().then(Token::generate);
    let created = UserCreated {
        org: manager.user.org.clone(),
        email,
        display_name,
        role: input.role,
        status: if input.password.is_some() {
            Status::Active
        } else {
            Status::Invited
        },
        invitation: invitation_token.as_ref().map(|token| Invitation {
            token_hash: token.hash(TokenKind::Invitation),
            expires_at: now_micros() + INVITATION_LIFETIME,
        }),
        import_id: None,
        legacy_id: None,
    };
    let mut events = vec![account::create(&context, &id, &created)];
    if let Some(password) = &input.password {
        let set = password::sealed(state, &id, password, "admin").await?;
        events.push(account::set_password(&context, &id, Some(1), &set));
    }
    commit(state, events).await?;
    let user = read(&state.models.accounts)
        .user(&id)
        .cloned()
        .ok_or_else(|| ApiError::internal("the new user is missing from the read model"))?;
    Ok(Created {
        user,
        invitation_url: invitation_token
            .map(|token| format!("{}/invitation?token={}", state.web.public_url, token.encode())),
    })
}

/// Applies [`role_grants::decide`]: refuses what the manager's role may not
/// do, and asks for a recent strong authentication where the grant needs
/// one.
fn authorize(state: &AppState, manager: &CurrentSession, grant: Grant) -> Result<(), ApiError> {
    match role_grants::decide(manager.user.role, grant) {
        Ok(StepUp::NotRequired) => Ok(()),
        Ok(StepUp::Required) => super::step_up::require_recent_authentication(state, manager),
        Err(GrantRefusal::NotAManager) => Err(ApiError::forbidden("only owners and admins manage users")),
        Err(GrantRefusal::OwnerOnly(role)) => Err(ApiError::forbidden(format!(
            "only an owner may grant, take away or change the {} role or act on its holders",
            role.as_str()
        ))),
    }
}

/// A user of the manager's org, or 404 (users of other orgs do not exist
/// for them).
pub fn member(state: &AppState, manager: &CurrentSession, id: &str) -> Result<User, ApiError> {
    read(&state.models.accounts)
        .user(id)
        .filter(|user| user.org == manager.user.org)
        .cloned()
        .ok_or_else(ApiError::not_found)
}

pub struct Change {
    pub role: Option<Role>,
    pub status: Option<Status>,
}

/// A role named in a request.
pub fn role(text: &str) -> Result<Role, ApiError> {
    Role::parse(text).ok_or_else(|| ApiError::bad_request("role must be owner, admin, member or auditor"))
}

impl Change {
    /// A change as a request names it: `role` and `status` as text.
    pub fn parse(role_text: Option<&str>, status: Option<&str>) -> Result<Change, ApiError> {
        Ok(Change {
            role: role_text.map(role).transpose()?,
            status: status
                .map(|text| {
                    Status::settable(text).ok_or_else(|| ApiError::bad_request("status must be active or disabled"))
                })
                .transpose()?,
        })
    }
}

pub async fn change(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    id: &str,
    change: Change,
) -> Result<User, ApiError> {
    let user = member(state, manager, id)?;
    if user.id == manager.user.id {
        return Err(ApiError::forbidden(
            "you cannot change your own role or status; ask another owner or admin",
        ));
    }
    let grant = match change.role {
        Some(role) => Grant::Change {
            from: user.role,
            to: role,
        },
        None => Grant::ActOn(user.role),
    };
    authorize(state, manager, grant)?;
    let context = client.as_user(&manager.user.id, &manager.user.org);
    let mut version = user.version;
    let mut events = Vec::new();
    if let Some(role) = change.role.filter(|role| *role != user.role) {
        events.push(account::change_role(
            &context,
            id,
            version,
            &RoleChanged {
                org: user.org.clone(),
                old: user.role,
                new: role,
            },
        ));
        version += 1;
    }
    match change.status {
        Some(Status::Invited) => return Err(ApiError::bad_request("status must be active or disabled")),
        Some(new) if new != user.status => {
            if user.status == Status::Invited {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "invited",
                    "an invited user becomes active by accepting the invitation",
                ));
            }
            events.push(account::change_status(
                &context,
                id,
                version,
                &StatusChanged {
                    old: user.status,
                    new,
                    reason: None,
                },
            ));
            if new == Status::Disabled {
                events.extend(revocations(state, &context, id, RevocationReason::UserDisabled, None));
            }
        }
        _ => {}
    }
    commit(state, events).await?;
    member(state, manager, id)
}

/// Revokes every session of a user of the manager's org.
pub async fn revoke_sessions(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    id: &str,
) -> Result<usize, ApiError> {
    let user = member(state, manager, id)?;
    authorize(state, manager, Grant::ActOn(user.role))?;
    let context = client.as_user(&manager.user.id, &manager.user.org);
    let events = revocations(state, &context, &user.id, RevocationReason::RevokedByAdmin, None);
    let count = events.len();
    commit(state, events).await?;
    Ok(count)
}

/// Accepting an invitation: the user sets a password, becomes active and
/// is signed in.
pub async fn accept_invitation(
    state: &AppState,
    client: &Client,
    token: &str,
    typed: &Password,
) -> Result<Issued, ApiError> {
    let user = Token::parse(token)
        .and_then(|token| {
            read(&state.models.accounts)
                .user_by_invitation(&token.hash(TokenKind::Invitation))
                .cloned()
        })
        .filter(|user| {
            user.invitation
                .as_ref()
                .is_some_and(|invitation| Utc::now() < invitation.expires_at)
        })
        .ok_or_else(|| ApiError::forbidden_code("invalid_link", "the invitation is invalid, used or expired"))?;
    check_new_password(state, typed, &[&user.email, &user.display_name])?;
    let context = client.as_user(&user.id, &user.org);
    let set = password::sealed(state, &user.id, typed, "invitation").await?;
    let mut events = vec![
        account::accept_invitation(&context, &user.id, user.version),
        account::set_password(&context, &user.id, Some(user.version + 1), &set),
    ];
    let account = state_of::account(&user);
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
