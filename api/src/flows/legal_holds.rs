//! Legal holds on an org's trail: its owners place and release them; its
//! owners and auditors list them. While a hold is in force, `warden
//! archive` removes no event of the org's trail (operators place range
//! holds from the command line, `warden hold`).

use warden_core::commands::account::Role;
use warden_core::commands::retention::{self, HoldScope, LegalHoldPlaced, LegalHoldReleased};
use warden_projections::projection::read;
use warden_projections::retention::Hold;

use super::commit;
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

/// Reasons are short free text: a matter or a case number.
const MAX_REASON_CHARS: usize = 500;

/// The holds in force on the reader's org.
pub fn list(state: &AppState, reader: &CurrentSession) -> Vec<Hold> {
    read(&state.models.retention)
        .org_legal_holds(&reader.user.org)
        .cloned()
        .collect()
}

fn owner(current: &CurrentSession) -> Result<(), ApiError> {
    if current.user.role == Role::Owner {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only the org's owners place and release legal holds",
        ))
    }
}

fn reason(text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_REASON_CHARS || text.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "reason must be 1 to {MAX_REASON_CHARS} characters without control characters"
        )));
    }
    Ok(text.to_string())
}

/// Places a hold on the owner's org.
pub async fn place(state: &AppState, current: &CurrentSession, client: &Client, text: &str) -> Result<Hold, ApiError> {
    owner(current)?;
    let placed = LegalHoldPlaced {
        hold: uuid::Uuid::now_v7().to_string(),
        scope: HoldScope::Org {
            org: current.user.org.clone(),
        },
        reason: reason(text)?,
    };
    let context = client.as_user(&current.user.id, &current.user.org);
    commit(state, vec![retention::legal_hold_placed(&context, &placed)]).await?;
    read(&state.models.retention)
        .hold(&placed.hold)
        .cloned()
        .ok_or_else(ApiError::not_found)
}

/// Releases one of the org's holds: archiving may then remove its events,
/// so it needs a recent strong authentication.
pub async fn release(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    hold: &str,
    text: &str,
) -> Result<(), ApiError> {
    owner(current)?;
    // Another org's hold is as unknown as one that does not exist.
    let version = read(&state.models.retention)
        .org_legal_holds(&current.user.org)
        .find(|held| held.id == hold)
        .map(|held| held.version)
        .ok_or_else(ApiError::not_found)?;
    let reason = reason(text)?;
    let context = client.as_user(&current.user.id, &current.user.org);
    let released = LegalHoldReleased {
        hold: hold.to_string(),
        reason,
    };
    commit(
        state,
        vec![retention::legal_hold_released(&context, version, &released)],
    )
    .await?;
    Ok(())
}
