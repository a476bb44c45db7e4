//! The audit API: search an org's trail, open one event and follow it to
//! its relatives. Owners and auditors only; every call is an event.

use std::collections::BTreeMap;

use crate::web::json::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use warden_core::commands::app_event::attribution;
use warden_core::commands::{Prefix, subject_id};
use warden_core::event::timestamp;
use warden_core::export::Format;
use warden_core::{ActorKind, Event, Outcome};
use warden_projections::audit::query::{DEFAULT_LIMIT, MAX_LIMIT};
use warden_projections::audit::{AuditQuery, IpRange, KindPattern, Order};

use crate::error::ApiError;
use crate::flows::audit::{self, ExportFormat, Search};
use crate::state::AppState;
use crate::web::session::AuditReader;
use crate::web::{Admitted, Client, Recent};

/// Minutes either side of an event for its "same actor" drill-down.
pub const DEFAULT_WINDOW_MINUTES: i64 = 15;
const MAX_WINDOW_MINUTES: i64 = 24 * 60;

/// The search filters, as query parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Comma-separated kinds or prefixes: `login.failed,mfa.*`.
    kind: Option<String>,
    actor: Option<String>,
    actor_kind: Option<String>,
    subject: Option<String>,
    user: Option<String>,
    session: Option<String>,
    outcome: Option<String>,
    ip: Option<String>,
    request_id: Option<String>,
    ticket: Option<String>,
    from: Option<String>,
    until: Option<String>,
    q: Option<String>,
    order: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

/// An RFC 3339 time, or a date (midnight UTC).
fn parse_time(name: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|date| date.and_hms_opt(0, 0, 0))
                .map(|at| at.and_utc())
        })
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{name} must be an RFC 3339 time (2026-11-28T09:30:00Z) or a date (2026-11-28)"
            ))
        })
}

fn parse_number(name: &str, text: &str, range: std::ops::RangeInclusive<u64>) -> Result<u64, ApiError> {
    text.parse::<u64>()
        .ok()
        .filter(|number| range.contains(number))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{name} must be a whole number from {} to {}",
                range.start(),
                range.end()
            ))
        })
}

impl SearchParams {
    /// From a page's form: empty fields are left out; unknown ones refused.
    pub fn from_form(pairs: &BTreeMap<String, String>) -> Result<SearchParams, ApiError> {
        let given: serde_json::Map<String, Value> = pairs
            .iter()
            .filter(|(_, value)| !value.trim().is_empty())
            .map(|(name, value)| (name.clone(), Value::String(value.trim().to_string())))
            .collect();
        serde_json::from_value(Value::Object(given)).map_err(|error| ApiError::bad_request(error.to_string()))
    }

    pub fn into_search(self) -> Result<Search, ApiError> {
        let mut filters = BTreeMap::new();
        let mut keep = |name: &str, value: &Option<String>| {
            if let Some(value) = value {
                filters.insert(name.to_string(), value.clone());
            }
        };
        keep("kind", &self.kind);
        keep("actor", &self.actor);
        keep("actor_kind", &self.actor_kind);
        keep("subject", &self.subject);
        keep("user", &self.user);
        keep("session", &self.session);
        keep("outcome", &self.outcome);
        keep("ip", &self.ip);
        keep("request_id", &self.request_id);
        keep("ticket", &self.ticket);
        keep("from", &self.from);
        keep("until", &self.until);
        keep("q", &self.q);
        let bad = |error: warden_projections::audit::QueryError| ApiError::bad_request(error.to_string());
        let kinds = match &self.kind {
            Some(kinds) => kinds
                .split(',')
                .map(|kind| KindPattern::parse(kind.trim()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(bad)?,
            None => Vec::new(),
        };
        let actor_kind = self
            .actor_kind
            .as_deref()
            .map(|kind| {
                ActorKind::parse(kind).ok_or_else(|| {
                    ApiError::bad_request("actor_kind must be user, api_key, vendor, service, system or anonymous")
                })
            })
            .transpose()?;
        let outcome = self
            .outcome
            .as_deref()
            .map(|outcome| {
                Outcome::parse(outcome)
                    .ok_or_else(|| ApiError::bad_request("outcome must be success, failure or denied"))
            })
            .transpose()?;
        let ip = self.ip.as_deref().map(IpRange::parse).transpose().map_err(bad)?;
        let from = self.from.as_deref().map(|text| parse_time("from", text)).transpose()?;
        let until = self
            .until
            .as_deref()
            .map(|text| parse_time("until", text))
            .transpose()?;
        if let (Some(from), Some(until)) = (from, until)
            && from >= until
        {
            return Err(ApiError::bad_request("from must be before until"));
        }
        let order = match self.order.as_deref() {
            None | Some("newest") => Order::NewestFirst,
            Some("oldest") => Order::OldestFirst,
            Some(_) => return Err(ApiError::bad_request("order must be newest or oldest")),
        };
        let cursor = self
            .cursor
            .as_deref()
            .map(|text| parse_number("cursor", text, 0..=u64::MAX))
            .transpose()?;
        let limit = match self.limit.as_deref() {
            Some(text) => parse_number("limit", text, 1..=MAX_LIMIT as u64)? as usize,
            None => DEFAULT_LIMIT,
        };
        let text = |value: Option<String>| value.filter(|value| !value.is_empty());
        let query = AuditQuery {
            org: None,
            kinds,
            actor: text(self.actor),
            actor_kind,
            subject: text(self.subject),
            user: text(self.user),
            session: text(self.session),
            outcome,
            ip,
            request_id: text(self.request_id),
            ticket: text(self.ticket),
            from,
            until,
            text: text(self.q),
            seqs: None,
        };
        Ok(Search {
            query,
            filters,
            order,
            cursor,
            limit,
        })
    }
}

/// `GET /api/v1/audit/events`
pub async fn search(
    State(state): State<AppState>,
    client: Client,
    Admitted(reader, ..): Admitted<AuditReader>,
    Query(params): Query<SearchParams>,
) -> Result<Json<Value>, ApiError> {
    let search = params.into_search()?;
    let found = audit::search(&state, &reader, &client, search).await?;
    Ok(Json(json!({
        "events": found.events,
        "total": found.total,
        "next_cursor": found.next.map(|seq| seq.to_string()),
        "indexed_through": found.indexed_through,
        "behind": found.behind,
        "index_error": found.index_error,
    })))
}

/// The export parameters: a format and the search filters.
#[derive(Debug, Deserialize)]
pub struct ExportParams {
    format: Option<String>,
    #[serde(flatten)]
    search: SearchParams,
}

/// `GET /api/v1/audit/export`
pub async fn export(
    State(state): State<AppState>,
    client: Client,
    Admitted(reader, ..): Admitted<Recent<AuditReader>>,
    Query(params): Query<ExportParams>,
) -> Result<Response, ApiError> {
    let format = match params.format.as_deref() {
        None => ExportFormat::Rows(Format::Csv),
        Some(text) => {
            ExportFormat::parse(text).ok_or_else(|| ApiError::bad_request("format must be csv, jsonl or bundle"))?
        }
    };
    if params.search.cursor.is_some() || params.search.limit.is_some() || params.search.order.is_some() {
        return Err(ApiError::bad_request(
            "an export holds every matching event, oldest first: cursor, limit and order do not apply",
        ));
    }
    let search = params.search.into_search()?;
    let exporting = audit::export(&state, &reader, &client, search, format).await?;
    Ok(download(format, exporting))
}

/// A streaming export as an attachment (the API's and the console's).
pub fn download(format: ExportFormat, exporting: audit::Exporting) -> Response {
    let chunks = futures::stream::unfold(exporting.body, |mut body| async move {
        body.recv().await.map(|chunk| (chunk, body))
    });
    (
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", exporting.filename),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        Body::from_stream(chunks),
    )
        .into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetailParams {
    /// Minutes either side of the event for the "same actor" link.
    window: Option<String>,
}

/// `GET /api/v1/audit/events/{seq}`
pub async fn detail(
    State(state): State<AppState>,
    client: Client,
    Admitted(reader, ..): Admitted<AuditReader>,
    Path(seq): Path<String>,
    Query(params): Query<DetailParams>,
) -> Result<Json<Value>, ApiError> {
    let seq = parse_number("seq", &seq, 1..=i64::MAX as u64)?;
    let window = match params.window.as_deref() {
        Some(text) => parse_number("window", text, 1..=MAX_WINDOW_MINUTES as u64)? as i64,
        None => DEFAULT_WINDOW_MINUTES,
    };
    let event = audit::view(&state, &reader, &client, seq).await?;
    Ok(Json(json!({
        "event": event,
        "attribution": attribution(&event).as_str(),
        "related": related(&event, window),
    })))
}

/// The searches that follow an event to its relatives, as query strings:
/// the same request, the same session, the same actor around the same
/// time, the same subject (each when the event has that context).
pub fn related_queries(event: &Event, window_minutes: i64) -> Vec<(&'static str, String)> {
    let query = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(name, value)| format!("{name}={}", encode(value)))
            .collect::<Vec<_>>()
            .join("&")
            + "&order=oldest"
    };
    let mut related = Vec::new();
    if !event.request_id.is_empty() {
        related.push(("same_request", query(&[("request_id", &event.request_id)])));
    }
    let session = event
        .data
        .get("session")
        .and_then(Value::as_str)
        .or_else(|| subject_id(&event.subject, Prefix::Session));
    if let Some(session) = session {
        related.push(("same_session", query(&[("session", session)])));
    }
    if let Some(actor) = &event.actor.id {
        let window = chrono::Duration::minutes(window_minutes);
        let from = timestamp::format(&(event.at - window));
        let until = timestamp::format(&(event.at + window));
        related.push((
            "same_actor",
            query(&[("actor", actor), ("from", &from), ("until", &until)]),
        ));
    }
    related.push(("same_subject", query(&[("subject", &event.subject)])));
    related
}

/// The related searches as API URLs.
pub fn related(event: &Event, window_minutes: i64) -> Value {
    let related: serde_json::Map<String, Value> = related_queries(event, window_minutes)
        .into_iter()
        .map(|(name, query)| (name.to_string(), json!(format!("/api/v1/audit/events?{query}"))))
        .collect();
    Value::Object(related)
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
