//! Reading the audit trail: searches and single events of the reader's
//! own org, each recorded as an event before it is answered.

use std::collections::BTreeMap;

use warden_core::Event;
use warden_core::chain::bundle::Selection;
use warden_core::commands::audit::{self, EventViewed, Searched};
use warden_core::ledger::bundle::BundleWriter;
use warden_projections::audit::{AuditIndexError, AuditQuery, Order, Page};
use warden_projections::names::Names;

use crate::error::{ApiError, Code};
use crate::state::AppState;
use crate::web::Client;
use crate::web::Principal;

/// A search as the reader asked it.
pub struct Search {
    pub query: AuditQuery,
    /// The filters as given, for the `audit.searched` event.
    pub filters: BTreeMap<String, String>,
    pub order: Order,
    pub cursor: Option<u64>,
    pub limit: usize,
}

pub struct Found {
    pub events: Vec<Event>,
    pub total: usize,
    pub next: Option<u64>,
    pub indexed_through: u64,
    /// Events the log holds beyond `indexed_through`: not yet searchable.
    pub behind: u64,
    /// Why the index went back to its last commit and is catching up
    /// again (its disk was full), until it commits past that point.
    pub index_error: Option<String>,
}

/// How far the index is behind the log, and why if it was set back.
async fn lag(state: &AppState, indexed_through: u64) -> (u64, Option<String>) {
    let head = state.ledger.head().await.map_or(indexed_through, |head| head.seq);
    let setback = state.audit.as_ref().and_then(|trail| trail.runner.setback());
    (head.saturating_sub(indexed_through), setback)
}

pub fn order_name(order: Order) -> &'static str {
    match order {
        Order::NewestFirst => "newest",
        Order::OldestFirst => "oldest",
    }
}

/// This node's audit index; 503 when it has none (it could not be opened
/// at start) or its runner stopped (a disk error or a chain failure).
pub fn audit_index(state: &AppState) -> Result<&warden_projections::audit::AuditIndex, ApiError> {
    let trail = state
        .audit
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("this node has no audit index; see its log at start"))?;
    match trail.runner.failure() {
        Some(reason) => {
            tracing::error!(%reason, "audit index stopped");
            Err(ApiError::unavailable("the audit index stopped; see the server log"))
        }
        None => Ok(&trail.index),
    }
}

fn index_error(error: AuditIndexError) -> ApiError {
    match error {
        AuditIndexError::Query(error) => ApiError::bad_request(error.to_string()),
        other => {
            tracing::error!(error = %other, "audit search failed");
            ApiError::unavailable("the audit index cannot answer now")
        }
    }
}

/// Runs a search on a blocking thread (tantivy reads are synchronous).
pub(super) async fn run<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&warden_projections::audit::AuditIndex) -> Result<T, AuditIndexError> + Send + 'static,
) -> Result<T, ApiError> {
    let index = audit_index(state)?.clone();
    tokio::task::spawn_blocking(move || work(&index))
        .await
        .map_err(|_| ApiError::internal("the audit search stopped"))?
        .map_err(index_error)
}

/// The events of a page, in the page's order.
pub(super) async fn events_of(state: &AppState, page: &Page) -> Result<Vec<Event>, ApiError> {
    let mut events = state
        .ledger
        .store()
        .read_seqs(&page.seqs)
        .await
        .map_err(|_| ApiError::unavailable("the event log is unavailable"))?;
    if page.seqs.first() > page.seqs.last() {
        events.reverse();
    }
    Ok(events)
}

pub async fn search(
    state: &AppState,
    reader: &Principal,
    client: &Client,
    mut search: Search,
) -> Result<Found, ApiError> {
    refuse_from_another_site(client, "search")?;
    let org = reader.org().to_string();
    search.query.org = Some(org.clone());
    let query = search.query;
    let (order, cursor, limit) = (search.order, search.cursor, search.limit);
    let (page, indexed_through) = run(state, move |index| {
        let indexed_through = index.indexed_through();
        Ok((index.search(&query, order, cursor, limit)?, indexed_through))
    })
    .await?;
    let events = events_of(state, &page).await?;
    let searched = Searched {
        org: org.clone(),
        filters: search.filters,
        order: order_name(order).to_string(),
        cursor,
        returned: events.len(),
        total: page.total,
        indexed_through,
    };
    // Measured before this search's own record joins the log.
    let (behind, index_error) = lag(state, indexed_through).await;
    let context = reader.context(client);
    state.ledger.append_one(audit::searched(&context, &searched)).await?;
    Ok(Found {
        events,
        total: page.total,
        next: page.next,
        indexed_through,
        behind,
        index_error,
    })
}

/// What the reader's search matches are made of (counts by kind,
/// outcome and actor, and over time), in their org. Part of the search
/// page, which `audit.searched` records.
pub async fn facets(
    state: &AppState,
    reader: &Principal,
    query: &AuditQuery,
    bars: u32,
) -> Result<warden_projections::audit::facets::Facets, ApiError> {
    let mut query = query.clone();
    query.org = Some(reader.org().to_string());
    run(state, move |index| index.facets(&query, bars)).await
}

/// A search or an export is the reader's own choice of words and
/// filters: a link on another site cannot make their session run (and
/// record) one. Viewing one event by a link stays possible (alert emails
/// link to the events that fired them) and is recorded as such.
pub(super) fn refuse_from_another_site(client: &Client, what: &str) -> Result<(), ApiError> {
    if client.navigated_from_another_site {
        return Err(ApiError::forbidden_code(
            Code::CrossSite,
            format!("this {what} was opened from another site and was not run; run it from the audit console"),
        ));
    }
    Ok(())
}

/// One event of the reader's org; 404 for any other (whether it exists
/// elsewhere or not at all).
pub async fn view(state: &AppState, reader: &Principal, client: &Client, seq: u64) -> Result<Event, ApiError> {
    let org = reader.org().to_string();
    let owner = org.clone();
    let held = run(state, move |index| index.holds(Some(&owner), seq)).await?;
    let not_found = || {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            Code::EventNotFound,
            format!("no event {seq} in your organization's audit trail"),
        )
    };
    if !held {
        return Err(not_found());
    }
    let event = state
        .ledger
        .store()
        .read_seqs(&[seq])
        .await
        .map_err(|_| ApiError::unavailable("the event log is unavailable"))?
        .pop()
        .ok_or_else(not_found)?;
    let viewed = EventViewed {
        org: org.clone(),
        seq,
        kind: event.kind.clone(),
        from_another_site: client.navigated_from_another_site,
    };
    let context = reader.context(client);
    state.ledger.append_one(audit::event_viewed(&context, &viewed)).await?;
    Ok(event)
}

/// Seqs looked up per index page while exporting.
const EXPORT_PAGE: usize = 10_000;
/// Bytes gathered before a chunk is sent.
const EXPORT_CHUNK: usize = 256 * 1024;

/// What an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// CSV or JSON Lines.
    Rows(warden_core::export::Format),
    /// A signed bundle: every event with its inclusion proof under a
    /// signed checkpoint, and a signed seal.
    Bundle,
}

impl ExportFormat {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "bundle" => Some(ExportFormat::Bundle),
            other => warden_core::export::Format::parse(other).map(ExportFormat::Rows),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Rows(format) => format.as_str(),
            ExportFormat::Bundle => "bundle",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Rows(format) => format.content_type(),
            ExportFormat::Bundle => "application/x-ndjson",
        }
    }

    /// The file name's ending. A JSON Lines export is a selection of the
    /// trail, not a chain (its events do not link to one another), so no
    /// verifier can check it whole: its name says so, and only a bundle
    /// proves its events (audit-bundle §1).
    fn extension(self) -> &'static str {
        match self {
            ExportFormat::Rows(warden_core::export::Format::JsonLines) => "selection.jsonl",
            ExportFormat::Rows(format) => format.as_str(),
            ExportFormat::Bundle => "bundle.jsonl",
        }
    }
}

/// Writes the lines of an export.
enum ExportWriter {
    Rows(warden_core::export::Format),
    Bundle(Box<BundleWriter>),
}

impl ExportWriter {
    fn start(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        match self {
            ExportWriter::Rows(format) => format.header(out),
            ExportWriter::Bundle(writer) => out.extend_from_slice(&writer.header_line()?),
        }
        Ok(())
    }

    fn write(&mut self, event: &Event, names: &Names<'_>, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        match self {
            ExportWriter::Rows(format) => format.write(event, &|reference| names.name(reference), out),
            ExportWriter::Bundle(writer) => {
                out.extend_from_slice(&writer.entry_line(event, true)?);
                Ok(())
            }
        }
    }

    fn finish(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        if let ExportWriter::Bundle(writer) = self {
            out.extend_from_slice(&writer.seal_line()?);
        }
        Ok(())
    }
}

/// A streaming export: its chunks arrive on `body` as they are read.
pub struct Exporting {
    pub body: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
    pub filename: String,
}

/// Exports every event of the reader's org that the search matches, up
/// to the index's position now, oldest first. Needs a recent strong
/// authentication; recorded (`audit.exported`) before the first byte.
/// Memory stays flat: the events are read a page at a time, and the
/// channel holds a few chunks.
pub async fn export(
    state: &AppState,
    reader: &Principal,
    client: &Client,
    search: Search,
    format: ExportFormat,
) -> Result<Exporting, ApiError> {
    refuse_from_another_site(client, "export")?;
    let org = reader.org().to_string();
    let mut query = search.query;
    query.org = Some(org.clone());
    let through = audit_index(state)?.indexed_through();
    query.seqs = Some((1, through));
    let counted = query.clone();
    let total = run(state, move |index| index.search(&counted, Order::OldestFirst, None, 1))
        .await?
        .total;
    let exported = audit::Exported {
        org: org.clone(),
        filters: search.filters,
        format: format.as_str().to_string(),
        total,
        through,
    };
    let mut writer = match format {
        ExportFormat::Rows(format) => ExportWriter::Rows(format),
        ExportFormat::Bundle => {
            let key = state
                .ledger
                .signer()
                .current()
                .ok_or_else(|| ApiError::unavailable("no signing key is installed"))?;
            let selection = Selection::Search {
                org: org.clone(),
                filters: exported.filters.clone(),
            };
            // At the log's head, read after the key was chosen: the
            // checkpoint must reach the key's announcement, which the
            // index may not have reached yet (decision 0019).
            let store = state.ledger.store();
            let head = store
                .head()
                .await
                .map_err(|_| ApiError::unavailable("the event log is unavailable"))?
                .seq;
            let writer = BundleWriter::prepare(store.as_ref(), key, selection, head.max(through))
                .await
                .map_err(|_| ApiError::unavailable("the event log is unavailable"))?;
            ExportWriter::Bundle(Box::new(writer))
        }
    };
    let context = reader.context(client);
    state.ledger.append_one(audit::exported(&context, &exported)).await?;

    let (sender, body) = tokio::sync::mpsc::channel(4);
    let index = audit_index(state)?.clone();
    let store = state.ledger.store().clone();
    let (models, names_org) = (state.models.clone(), org.clone());
    tokio::spawn(async move {
        let names = Names::new(&models, &names_org);
        let failed = |reason: String| Err(std::io::Error::other(reason));
        // A line that cannot be written ends the download unfinished (a
        // bundle without its seal), never with the line left out.
        let unwritten = |error: serde_json::Error| {
            tracing::error!(%error, "audit export: a line could not be written");
            failed("an event could not be written".into())
        };
        let mut chunk = Vec::with_capacity(EXPORT_CHUNK + 64 * 1024);
        if let Err(error) = writer.start(&mut chunk) {
            let _ = sender.send(unwritten(error)).await;
            return;
        }
        // The index looks up the next page while this one is read and
        // written: the two cores overlap.
        let lookup = |after: Option<u64>| {
            let (index, query) = (index.clone(), query.clone());
            tokio::task::spawn_blocking(move || index.export_page(&query, after, EXPORT_PAGE))
        };
        let mut pending = Some(lookup(None));
        while let Some(looking) = pending.take() {
            let (seqs, next) = match looking.await {
                Ok(Ok(page)) => page,
                Ok(Err(error)) => {
                    let _ = sender.send(failed(error.to_string())).await;
                    return;
                }
                Err(error) => {
                    let _ = sender.send(failed(error.to_string())).await;
                    return;
                }
            };
            pending = next.map(|next| lookup(Some(next)));
            let events = match read_page(store.as_ref(), &seqs).await {
                Ok(events) => events,
                Err(error) => {
                    tracing::error!(%error, "audit export: the log could not be read");
                    let _ = sender.send(failed("the event log is unavailable".into())).await;
                    return;
                }
            };
            for event in &events {
                if let Err(error) = writer.write(event, &names, &mut chunk) {
                    let _ = sender.send(unwritten(error)).await;
                    return;
                }
                if chunk.len() >= EXPORT_CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(EXPORT_CHUNK + 64 * 1024));
                    if sender.send(Ok(full)).await.is_err() {
                        return; // the client went away
                    }
                }
            }
        }
        if let Err(error) = writer.finish(&mut chunk) {
            let _ = sender.send(unwritten(error)).await;
            return;
        }
        if !chunk.is_empty() {
            let _ = sender.send(Ok(chunk)).await;
        }
    });
    Ok(Exporting {
        body,
        filename: format!("audit-{org}-through-{through}.{}", format.extension()),
    })
}

/// The events of an export page (seqs in increasing order): a dense page
/// is one range scan of the log, filtered; a sparse one, lookups by seq.
async fn read_page(
    store: &dyn warden_core::ledger::LedgerStore,
    seqs: &[u64],
) -> Result<Vec<Event>, warden_core::ledger::LedgerError> {
    let (Some(&first), Some(&last)) = (seqs.first(), seqs.last()) else {
        return Ok(Vec::new());
    };
    let span = (last - first + 1) as usize;
    if span > seqs.len() * 2 {
        return store.read_seqs(seqs).await;
    }
    let mut events = store.read(first, span).await?;
    let wanted: std::collections::HashSet<u64> = seqs.iter().copied().collect();
    events.retain(|event| wanted.contains(&event.seq));
    Ok(events)
}
