//! The first org and its owner, created through the one-time setup link.

use axum::http::StatusCode;
use chrono::Utc;
use warden_core::Actor;
use warden_core::auth::password::Password;
use warden_core::auth::sign_in::Account;
use warden_core::auth::tokens::{Token, TokenKind, constant_time_eq};
use warden_core::commands::Context;
use warden_core::commands::account::{self, PasswordReason, Role, Status, UserCreated, normalize_email, valid_email};
use warden_core::commands::org::{self, OrgCreated, valid_slug};
use warden_core::commands::session::Level;
use warden_core::commands::setup::{self, LINK_LIFETIME, LinkIssued, SETUP_SUBJECT, SetupCompleted};
use warden_core::event::now_micros;
use warden_core::ledger::AppendError;
use warden_projections::projection::read;

use super::issued::{self, Issued};
use super::password;
use super::{check_name, check_new_password, new_id};
use crate::error::{ApiError, Code};
use crate::state::AppState;
use crate::web::Client;

/// The setup link to print while setup is not complete: the live one
/// (issued by any node, its token opened from the log) or a new one;
/// `None` when there is nothing to set up.
pub async fn issue_link(state: &AppState) -> Result<Option<String>, ApiError> {
    // Two nodes starting at once: one issues, the other finds its link.
    for _ in 0..3 {
        let (completed, version, live) = {
            let accounts = read(&state.models.accounts);
            let setup = accounts.setup();
            let live = setup
                .link
                .as_ref()
                .filter(|link| Utc::now() < link.expires_at)
                .and_then(|link| link.token.clone());
            (setup.completed, setup.version, live)
        };
        if completed {
            return Ok(None);
        }
        if let Some(sealed) = live {
            let token = state.data_keys.open(&sealed).await.map_err(|error| {
                tracing::error!(%error, "cannot open the live setup link");
                ApiError::unavailable("the key service is unavailable; try again")
            })?;
            return Ok(Some(link_url(state, &token)));
        }
        let token = Token::generate();
        let encoded = token.encode();
        let sealed = state.data_keys.seal(SETUP_SUBJECT, &encoded).await.map_err(|error| {
            tracing::error!(%error, "cannot seal the setup link");
            ApiError::unavailable("the key service is unavailable; try again")
        })?;
        let issued = LinkIssued {
            token_hash: token.hash(TokenKind::SetupLink),
            expires_at: now_micros() + LINK_LIFETIME,
            token: Some(sealed),
        };
        let context = Context {
            actor: Actor::system(),
            request_id: String::new(),
        };
        match state
            .ledger
            .append(vec![setup::issue_link(&context, version, &issued)])
            .await
        {
            Ok(sealed) => {
                if let Some(last) = sealed.last() {
                    state.positions.wait_for(last.seq, LINK_WAIT).await;
                }
                return Ok(Some(link_url(state, &encoded)));
            }
            // Another node issued (or completed) first: read what it did.
            Err(AppendError::Conflict { .. }) => {
                let head = state
                    .ledger
                    .head()
                    .await
                    .map_err(|_| ApiError::unavailable("the event log is unavailable; try again"))?;
                state.positions.wait_for(head.seq, LINK_WAIT).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::unavailable("the setup state keeps changing; try again"))
}

/// How long issuing waits for the read models to show a link.
const LINK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

fn link_url(state: &AppState, token: &str) -> String {
    format!("{}/setup?token={token}", state.web.public_url)
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
            Code::SetupComplete,
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
            Code::InvalidLink,
            "the setup link is invalid or expired; Warden prints the live link when it starts, and a new one once it expired",
        ));
    }
    Ok(setup.version)
}

/// Creates the org and its owner and signs the owner in.
pub async fn complete(state: &AppState, client: &Client, input: SetupInput) -> Result<Issued, ApiError> {
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
    let password = password::sealed(state, &user_id, &input.password, PasswordReason::Setup).await?;
    let mut events = vec![
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
    // The owner's session is created in the same command. A new org's
    // policy asks nothing of its first owner.
    let owner = Account {
        id: user_id,
        org: org_id,
        status: Status::Active,
        role: Role::Owner,
        version: 2,
        created_at: now_micros(),
    };
    let (drawn, opening) = super::sign_in::open(state, &client.caller(), &owner, (Level::Aal1, &["password"]), None);
    events.extend(opening);
    issued::opened(state, drawn, events, None).await
}
