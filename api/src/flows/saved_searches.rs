//! A reader's saved searches of the audit trail (decision 0032): saved
//! under a name, run from the audit page, removed. Each is the user's own.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use warden_core::auth::saved_searches::{self, Refusal};
use warden_core::commands::account::SearchSaved;
use warden_projections::projection::read;

use super::{commit, new_id};
use crate::error::{ApiError, Code};
use crate::handlers::audit::SearchParams;
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

/// The filters a search is paged by, never saved.
const PAGING: [&str; 3] = ["cursor", "before", "limit"];

/// `current`'s saved searches, in the order saved, and their version.
pub fn of(state: &AppState, current: &CurrentSession) -> (Vec<SearchSaved>, u64) {
    read(&state.models.accounts)
        .user(&current.user.id)
        .map(|user| (user.saved_searches.clone(), user.version))
        .unwrap_or_default()
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::NotFound => ApiError::not_found(),
        refusal if refusal.conflicts() => ApiError::new(StatusCode::CONFLICT, Code::Conflict, refusal.to_string()),
        refusal => ApiError::bad_request(refusal.to_string()),
    }
}

/// Saves `filters` (checked as a search of the trail) as `name`; the new
/// search's id.
pub async fn save(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    name: &str,
    filters: &BTreeMap<String, String>,
) -> Result<String, ApiError> {
    if let Some(paging) = PAGING.iter().find(|paging| filters.contains_key(**paging)) {
        return Err(ApiError::bad_request(format!(
            "{paging} pages a search and is not saved with it"
        )));
    }
    SearchParams::from_form(filters)?.into_search()?;
    let (saved, version) = of(state, current);
    let id = new_id();
    let context = client.as_user(&current.user.id, &current.user.org);
    let event = saved_searches::decide_save(&context, &current.user.id, version, &saved, &id, name, filters)
        .map_err(refused)?;
    commit(state, vec![event]).await?;
    Ok(id)
}

/// Removes the user's search `id`; another's is not found.
pub async fn remove(state: &AppState, current: &CurrentSession, client: &Client, id: &str) -> Result<(), ApiError> {
    let (saved, version) = of(state, current);
    let context = client.as_user(&current.user.id, &current.user.org);
    let event = saved_searches::decide_remove(&context, &current.user.id, version, &saved, id).map_err(refused)?;
    commit(state, vec![event]).await.map(|_| ())
}
