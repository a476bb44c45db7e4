//! The reader's saved searches on the audit page (decision 0032): a link
//! each, saving the page's filters under a name, removing one.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;

use super::audit::{self, Saving, query_of};
use super::{PageAuditReader, error_page, see_other};
use crate::flows::saved_searches;
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

/// One saved search, as a link that runs it.
pub(crate) struct SavedLink {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) href: String,
    /// The page shows this search now.
    pub(crate) current: bool,
}

fn href(query: &str) -> String {
    match query {
        "" => "/audit".to_string(),
        query => format!("/audit?{query}"),
    }
}

/// `reader`'s saved searches; the one whose filters are `current` (the
/// page's query, without paging) marked.
pub(crate) fn links(state: &AppState, reader: &CurrentSession, current: &str) -> Vec<SavedLink> {
    saved_searches::of(state, reader)
        .0
        .into_iter()
        .map(|search| {
            let query = query_of(&search.filters);
            SavedLink {
                current: query == current,
                href: href(&query),
                id: search.id,
                name: search.name,
            }
        })
        .collect()
}

/// `POST /audit/saved-searches`: the page's filters saved under `name`,
/// then the page of that search; refused, the page again with the error
/// and the name typed.
pub async fn save(
    State(state): State<AppState>,
    client: Client,
    PageAuditReader(reader): PageAuditReader,
    Form(mut form): Form<BTreeMap<String, String>>,
) -> Response {
    form.remove("csrf_token");
    let name = form.remove("name").unwrap_or_default();
    match saved_searches::save(&state, &reader, &client, &name, &form).await {
        Ok(_) => see_other(&href(&query_of(&form))),
        Err(refused) => {
            let saving = Saving {
                refused: Some(refused),
                name,
            };
            audit::page(&state, &client, &reader, &form, saving).await
        }
    }
}

/// `POST /audit/saved-searches/{id}/remove`: back to the audit page.
pub async fn remove(
    State(state): State<AppState>,
    client: Client,
    PageAuditReader(reader): PageAuditReader,
    Path(id): Path<String>,
) -> Response {
    match saved_searches::remove(&state, &reader, &client, &id).await {
        Ok(()) => see_other("/audit"),
        Err(error) => error_page(&error),
    }
}
