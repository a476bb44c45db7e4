//! The audit console for owners and auditors: search the org's trail,
//! open an event, follow it to its relatives, download the selection. The
//! same flows (and events) as the audit API.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use warden_core::Event;

use super::audit_facets::{self, Facet, Histogram};
use super::confirmed::{Confirmed, ToThisRequest};
use super::integrity::{self, Integrity};
use super::named::{self, Named};
use super::saved_searches::{self, SavedLink};
use super::when::{When, Zone};
use super::{Nav, PageAuditReader, Place, error_page, failed, render};
use crate::error::ApiError;
use crate::flows::audit::{self, ExportFormat, Search};
use crate::handlers::audit::{SearchParams, download, encode};
use crate::state::AppState;
use crate::web::session::CurrentSession;
use crate::web::{Client, Principal};
use warden_projections::audit::Order;

/// Events per console page.
const PAGE: usize = 50;
/// The filters the search form has, in its order: those of the compact
/// bar, then those one click away (`true`).
const FILTERS: [(&str, &str, bool); 14] = [
    ("q", "Words", false),
    ("kind", "Kind (login.failed, mfa.*)", false),
    ("actor", "Actor (id or email)", false),
    ("outcome", "Outcome", false),
    ("from", "From (date or time)", false),
    ("until", "Until", false),
    ("ip", "IP address or network", true),
    ("user", "Account concerned (user id)", true),
    (
        "actor_kind",
        "Actor kind (user, api_key, vendor, service, system, anonymous)",
        true,
    ),
    ("subject", "Subject", true),
    ("session", "Session", true),
    ("request_id", "Request id", true),
    ("ticket", "Vendor ticket", true),
    ("order", "Order", true),
];

struct Field {
    name: &'static str,
    label: &'static str,
    /// Behind "More filters".
    more: bool,
    value: String,
}

/// One event as the tables of events show it (the audit trail's, an
/// alert's triggering events).
pub(crate) struct Row {
    pub(crate) seq: u64,
    pub(crate) at: When,
    pub(crate) kind: String,
    pub(crate) outcome: &'static str,
    /// What happened, in a sentence of names and links.
    pub(crate) sentence: Vec<Named>,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Nav,
    fields: Vec<Field>,
    /// A filter behind "More filters" is set: it opens.
    more_filters_set: bool,
    rows: Vec<Row>,
    /// The zone of the times shown.
    zone: String,
    total: usize,
    indexed_through: u64,
    behind: u64,
    index_error: Option<String>,
    /// `newest first` or `oldest first`.
    order: &'static str,
    /// The log's head, how far this node checked it, the signing keys.
    integrity: Option<Integrity>,
    /// What the matches are made of, and when they happened.
    facets: Vec<Facet>,
    histogram: Option<Histogram>,
    /// The page before this one (newer, when newest first), and after.
    previous_url: Option<String>,
    next_url: Option<String>,
    csv_url: String,
    jsonl_url: String,
    bundle_url: String,
    error: Option<String>,
    /// The reader's saved searches, and a refused save's name and error.
    saved: Vec<SavedLink>,
    save_name: String,
    save_error: Option<String>,
}

impl AuditPage {
    /// Whether the page has filters to save (more than the order).
    fn can_save(&self) -> bool {
        self.fields
            .iter()
            .any(|field| field.name != "order" && !field.value.trim().is_empty())
    }
}

impl Row {
    /// `event` as `viewer` reads it.
    pub(crate) fn of(state: &AppState, viewer: &CurrentSession, event: &Event) -> Self {
        Row {
            seq: event.seq,
            at: Zone::of(viewer.user.time_zone.as_deref()).when(&event.at),
            kind: event.kind.clone(),
            outcome: event.outcome.as_str(),
            sentence: named::sentence(state, viewer, event),
        }
    }
}

/// The filters as a query string (non-empty ones, in form order).
pub(crate) fn query_of(filters: &BTreeMap<String, String>) -> String {
    FILTERS
        .iter()
        .filter_map(|(name, _, _)| {
            filters
                .get(*name)
                .filter(|value| !value.trim().is_empty())
                .map(|value| format!("{name}={}", encode(value.trim())))
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn fields_of(filters: &BTreeMap<String, String>) -> Vec<Field> {
    FILTERS
        .iter()
        .map(|(name, label, more)| Field {
            name,
            label,
            more: *more,
            value: filters.get(*name).cloned().unwrap_or_default(),
        })
        .collect()
}

/// Where a page starts: after `cursor` (the next page), or just before
/// `before` (the previous one: the same search run the other way from
/// there, its events turned back).
#[derive(Clone, Copy)]
enum From {
    Start,
    After(u64),
    Before(u64),
}

fn seq_of(name: &str, text: &str) -> Result<u64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("{name} must be a whole number")))
}

fn parse(query: &BTreeMap<String, String>) -> Result<(Search, From), ApiError> {
    let mut filters = query.clone();
    let from = match (filters.remove("cursor"), filters.remove("before")) {
        (Some(_), Some(_)) => return Err(ApiError::bad_request("give cursor or before, not both")),
        (Some(cursor), None) => From::After(seq_of("cursor", &cursor)?),
        (None, Some(before)) => From::Before(seq_of("before", &before)?),
        (None, None) => From::Start,
    };
    let mut search = SearchParams::from_form(&filters)?.into_search()?;
    search.limit = PAGE;
    Ok((search, from))
}

fn reversed(order: Order) -> Order {
    match order {
        Order::NewestFirst => Order::OldestFirst,
        Order::OldestFirst => Order::NewestFirst,
    }
}

fn order_words(order: Order) -> &'static str {
    match order {
        Order::NewestFirst => "newest first",
        Order::OldestFirst => "oldest first",
    }
}

/// `GET /audit`: the search form and a page of results.
pub async fn search(
    State(state): State<AppState>,
    client: Client,
    PageAuditReader(reader): PageAuditReader,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    page(&state, &client, &reader, &query, Saving::default()).await
}

/// A search being saved from the page, refused: why, and the name typed.
#[derive(Default)]
pub(crate) struct Saving {
    pub(crate) refused: Option<ApiError>,
    pub(crate) name: String,
}

/// The audit page for `query`, with a refused save's error and name.
pub(crate) async fn page(
    state: &AppState,
    client: &Client,
    reader: &CurrentSession,
    query: &BTreeMap<String, String>,
    saving: Saving,
) -> Response {
    let nav = Nav::of(reader, Place::Audit);
    let status = saving.refused.as_ref().map_or(StatusCode::OK, |refused| refused.status);
    let filters: BTreeMap<String, String> = query
        .iter()
        .filter(|(name, _)| *name != "cursor" && *name != "before")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let base = query_of(&filters);
    let url = |path: &str, extra: &str| {
        let joined = [base.as_str(), extra]
            .iter()
            .filter(|part| !part.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("&");
        if joined.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{joined}")
        }
    };
    let mut page = AuditPage {
        nav,
        saved: saved_searches::links(state, reader, &base),
        save_name: saving.name,
        save_error: saving.refused.as_ref().map(|refused| refused.message.clone()),
        fields: fields_of(&filters),
        more_filters_set: FILTERS.iter().any(|(name, _, more)| {
            *more && *name != "order" && filters.get(*name).is_some_and(|value| !value.trim().is_empty())
        }),
        rows: Vec::new(),
        zone: Zone::of(reader.user.time_zone.as_deref()).name().to_string(),
        total: 0,
        indexed_through: audit::audit_index(state).map_or(0, |index| index.indexed_through()),
        behind: 0,
        index_error: None,
        order: order_words(if filters.get("order").map(String::as_str) == Some("oldest") {
            Order::OldestFirst
        } else {
            Order::NewestFirst
        }),
        integrity: integrity::read_now(state, reader).await,
        facets: Vec::new(),
        histogram: None,
        previous_url: None,
        next_url: None,
        csv_url: url("/audit/export", "format=csv"),
        jsonl_url: url("/audit/export", "format=jsonl"),
        bundle_url: url("/audit/export", "format=bundle"),
        error: None,
    };
    if client.navigated_from_another_site {
        // The form, filled in, but not run: the reader runs it if they
        // mean to (see `flows::audit::search`).
        page.error = Some(
            "This search was opened from a link on another site, so it was not run. Check the filters and press Search to run it."
                .into(),
        );
        return render(status, &page);
    }
    let result = async {
        let (mut search, from) = parse(query)?;
        match from {
            From::Start => {}
            From::After(cursor) => search.cursor = Some(cursor),
            From::Before(before) => {
                search.order = reversed(search.order);
                search.cursor = Some(before);
            }
        }
        let query = search.query.clone();
        let principal = Principal::Person(reader.clone());
        // The facets are counted while the page is found (and recorded):
        // the two cores share the work. The page stands without them: a
        // failure of theirs is logged, not shown.
        let (found, facets) = tokio::join!(
            audit::search(state, &principal, client, search),
            audit::facets(state, &principal, &query, audit_facets::BARS),
        );
        let facets = facets
            .inspect_err(|error| tracing::warn!(error = %error.message, "audit facets"))
            .ok();
        Ok::<_, ApiError>((found?, from, facets))
    }
    .await;
    match result {
        Ok((mut found, from, facets)) => {
            if let Some(facets) = facets {
                (page.facets, page.histogram) =
                    audit_facets::view(state, reader, &filters, &facets, |filters| match query_of(filters) {
                        query if query.is_empty() => "/audit".to_string(),
                        query => format!("/audit?{query}"),
                    });
            }
            // A page read backwards: its events the right way round, more
            // before it when the backward search had more.
            let (more_before, more_after) = match from {
                From::Start => (false, found.next.is_some()),
                From::After(_) => (true, found.next.is_some()),
                From::Before(_) => {
                    found.events.reverse();
                    (found.next.is_some(), true)
                }
            };
            let (first, last) = (
                found.events.first().map(|event| event.seq),
                found.events.last().map(|event| event.seq),
            );
            page.previous_url = first
                .filter(|_| more_before)
                .map(|seq| url("/audit", &format!("before={seq}")));
            page.next_url = last
                .filter(|_| more_after)
                .map(|seq| url("/audit", &format!("cursor={seq}")));
            page.rows = found.events.iter().map(|event| Row::of(state, reader, event)).collect();
            page.total = found.total;
            page.indexed_through = found.indexed_through;
            page.behind = found.behind;
            page.index_error = found.index_error;
            render(status, &page)
        }
        Err(error) => {
            page.error = Some(error.message.clone());
            failed(&error, &page)
        }
    }
}

/// `GET /audit/export`: the download; a stale sign-in confirms it first.
pub async fn export(
    State(state): State<AppState>,
    client: Client,
    Confirmed(PageAuditReader(reader), _): Confirmed<PageAuditReader, ToThisRequest>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let mut filters = query.clone();
    let format = filters.remove("format").unwrap_or_else(|| "csv".into());
    let result = async {
        let format =
            ExportFormat::parse(&format).ok_or_else(|| ApiError::bad_request("format must be csv, jsonl or bundle"))?;
        let search = SearchParams::from_form(&filters)?.into_search()?;
        let exporting = audit::export(&state, &Principal::Person(reader.clone()), &client, search, format).await?;
        Ok::<_, ApiError>((format, exporting))
    }
    .await;
    match result {
        Ok((format, exporting)) => download(format, exporting),
        Err(error) => error_page(&error),
    }
}
