//! The first org and its owner, created through the one-time setup link.

use axum::http::StatusCode;
use chrono::Utc;
use warden_core::Actor;
use warden_core::auth::password::Password;
use warden_core::auth::tokens::{Token, TokenKind, constant_time_eq};
use warden_core::commands::Context;
use warden_core::commands::account::{self, Role, Status, UserCreated, normalize_email, valid_email};
use warden_core::commands::org::{self, OrgCreated, valid_slug};
use warden_core::commands::setup::{self, LINK_LIFETIME, LinkIssued, SetupCompleted};
use warden_core::event::now_micros;
use warden_projections::projection::read;

use super::sign_in::{NewSession, SessionStart, sealed_password};
use super::{check_name, check_new_password, commit, new_id};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::Client;

/// Issues a setup link when setup is not complete; returns the URL to
/// print, or `None` when there is nothing to set up.
pub async fn issue_link(state: &AppState) -> Result<Option<String>, ApiError> {
    if read(&state.models.accounts).setup().completed {
        return Ok(None);
    }
    let token = Token::generate();
    let context = Context {
        actor: Actor::system(),
        request_id: String::new(),
    };
    let issued = LinkIssued {
        token_hash: token.hash(TokenKind::SetupLink),
        expires_at: now_micros() + LINK_LIFETIME,
    };
    commit(state, vec![setup::issue_link(&context, &issued)]).await?;
    Ok(Some(format!("{}/setup?token={}", state.web.public_url, token.encode())))
}

pub struct SetupInput {
    pub token: String,
    pub org_name: String,
    pub org_slug: String,
    pub email: String,
    pub display_name: String,
    pub password: Password,
}

/// Whether `token` is the live setup link.
pub fn check_link(state: &AppState, token: &str) -> Result<u64, ApiError> {
    let accounts = read(&state.models.accounts);
    let setup = accounts.setup();
    if setup.completed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "setup_complete",
            "setup is already complete",
        ));
    }
    let valid = Token::parse(token)
        .zip(setup.link.as_ref())
        .is_some_and(|(token, link)| {
            constant_time_eq(&token.hash(TokenKind::SetupLink), &link.token_hash) && Utc::now() < link.expires_at
        });
    if !valid {
        return Err(ApiError::forbidden_code(
            "invalid_link",
            "the setup link is invalid or expired; restart Warden for a new one",
        ));
    }
    Ok(setup.version)
}

/// Creates the org and its owner and signs the owner in.
pub async fn complete(state: &AppState, client: &Client, input: SetupInput) -> Result<NewSession, ApiError> {
    let version = check_link(state, &input.token)?;
    let org_name = check_name("org_name", &input.org_name)?;
    let slug = input.org_slug.trim().to_string();
    if !valid_slug(&slug) {
        return Err(ApiError::bad_request(
            "org_slug must be 2 to 63 lower-case letters, digits and inner hyphens",
        ));
    }
    let email = normalize_email(&input.email);
    if !valid_email(&email) {
        return Err(ApiError::bad_request("email is not a valid address"));
    }
    let display_name = check_name("display_name", &input.display_name)?;
    check_new_password(state, &input.password, &[&email, &display_name])?;

    let org_id = new_id();
    let user_id = new_id();
    let context = client.as_user(&user_id, &org_id);
    let password = sealed_password(state, &user_id, &input.password, "setup").await?;
    let before = vec![
        org::create(
            &context,
            &org_id,
            &OrgCreated {
                name: org_name,
                slug,
                session_policy: state.web.default_session_policy,
                import_id: None,
            },
        ),
        account::create(
            &context,
            &user_id,
            &UserCreated {
                org: org_id.clone(),
                email,
                display_name,
                role: Role::Owner,
                status: Status::Active,
                invitation: None,
                import_id: None,
                legacy_id: None,
            },
        ),
        account::set_password(&context, &user_id, Some(1), &password),
        setup::complete(
            &context,
            version,
            &SetupCompleted {
                org: org_id.clone(),
                owner: user_id.clone(),
            },
        ),
    ];
    // The owner's session is created in the same command.
    // A new org's policy asks nothing of its first owner.
    let start = SessionStart::new(state, &user_id, &org_id, client, &["password"], Default::default());
    start.commit(state, before, Vec::new()).await
}
