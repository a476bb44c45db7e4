//! Verifying an API key, from memory only: the key from the read model,
//! the one check order of `warden_core::auth::api_key::verify`, the
//! node's counters for limits and uses. Nothing is written per request:
//! uses are counted here and appended per key and minute by
//! [`flush_usage`]; a refusal's event is appended in the background,
//! sampled.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::Utc;
use warden_core::auth::api_key::Key;
use warden_core::auth::api_key::format::{self, Digest, HashKey, KeyText};
use warden_core::auth::api_key::limits::{Counters, LimitState, Report};
use warden_core::auth::api_key::scopes::Holder;
use warden_core::auth::api_key::vendor::{Claims, OnBehalf};
use warden_core::auth::api_key::verify::{self, Facts, Request};
use warden_core::auth::api_key::{manage, networks};
use warden_core::commands::Context;
use warden_core::commands::account::Status;
use warden_core::commands::api_key::{self, KeyRefused, Owner, VerifyOutcome};
use warden_projections::projection::read;

use super::key_usage::Usage;
use crate::state::AppState;

/// The node's side of key verification.
pub struct KeyChecker {
    pub hash_key: HashKey,
    /// This process among the nodes that exchange counts.
    node: String,
    counters: Mutex<Counters>,
    usage: Mutex<Usage>,
    /// Vendor keys' ticket patterns, compiled once.
    tickets: Mutex<HashMap<String, Option<Arc<manage::TicketMatcher>>>>,
}

/// A verification's answer.
#[derive(Debug, Clone)]
pub struct Checked {
    pub outcome: VerifyOutcome,
    pub key: Option<Arc<Key>>,
    pub limit: Option<LimitState>,
    /// For a vendor key: the user it acts for, under which ticket.
    pub on_behalf: Option<OnBehalf>,
}

impl Checked {
    pub fn is_valid(&self) -> bool {
        self.outcome == VerifyOutcome::Valid
    }
}

/// Who asks for a verification, for the refusal events.
pub struct Asker<'a> {
    pub request_id: &'a str,
    /// The audit context of a refusal's event, built only for one.
    pub context: &'a dyn Fn() -> Context,
    pub ip: Option<IpAddr>,
    /// Only keys of this org exist for the asker (an org's application
    /// token); `None`: every org's.
    pub within: Option<&'a str>,
    /// The key calls Warden's own API (not the application's).
    pub on_warden: bool,
    /// For whom and under which ticket the request says it acts.
    pub claims: Claims<'a>,
}

impl KeyChecker {
    pub fn new(hash_key: HashKey) -> Self {
        KeyChecker {
            hash_key,
            node: uuid::Uuid::new_v4().to_string(),
            counters: Mutex::new(Counters::default()),
            usage: Mutex::new(Usage::default()),
            tickets: Mutex::new(HashMap::new()),
        }
    }

    /// Verifies `text` for a request from `asker` that needs `scopes`.
    pub fn check(&self, state: &AppState, text: &str, scopes: &[String], asker: &Asker<'_>) -> Checked {
        let now = Utc::now();
        let named = KeyText::id_of(text);
        let id = named.unwrap_or(format::NO_SUCH_ID);
        // The same digest and lookup for a malformed key as for an
        // unknown one.
        let digest = Digest::of(&self.hash_key, text.as_bytes());
        let key = read(&state.models.api_keys)
            .get(id)
            .filter(|key| asker.within.is_none_or(|org| key.org == org))
            .cloned();
        let found = verify::identify(key.as_deref(), digest.as_str());
        let request = Request {
            now,
            ip: asker.ip,
            scopes,
            on_warden: asker.on_warden,
            claims: asker.claims,
        };
        let facts = NodeFacts { state, checker: self };
        let verdict = verify::decide(found, &request, &facts, |key| lock(&self.counters).take(key, now));
        let checked = Checked {
            outcome: verdict.outcome,
            key: verdict.key.and(key.clone()),
            limit: verdict.limit,
            on_behalf: verdict.on_behalf,
        };
        if let Some(key) = &checked.key {
            let ip = asker.ip.map(|ip| ip.to_string());
            lock(&self.usage).record(key, checked.outcome, ip.as_deref(), asker.request_id, now);
        }
        if !matches!(checked.outcome, VerifyOutcome::Valid | VerifyOutcome::RateLimited) {
            self.record_refusal(state, &checked, named.map(str::to_string), scopes, asker);
        }
        checked
    }

    /// Appends an `api_key.refused`, sampled per key (per client address
    /// for text that names no key) and outcome, without making the answer
    /// wait.
    fn record_refusal(
        &self,
        state: &AppState,
        checked: &Checked,
        named: Option<String>,
        scopes: &[String],
        asker: &Asker<'_>,
    ) {
        let sample = match (&checked.key, asker.ip) {
            (Some(key), _) => key.id.clone(),
            (None, Some(ip)) => ip.to_string(),
            (None, None) => String::new(),
        };
        let Some(unrecorded_before) = lock(&self.usage).admit_refusal(&sample, checked.outcome) else {
            return;
        };
        let refused = KeyRefused {
            key: checked.key.as_ref().map(|key| key.id.clone()).or(named),
            org: checked.key.as_ref().map(|key| key.org.clone()),
            outcome: checked.outcome,
            scopes: if checked.outcome == VerifyOutcome::InsufficientScope {
                scopes.to_vec()
            } else {
                Vec::new()
            },
            unrecorded_before,
        };
        let event = api_key::refused(&(asker.context)(), &refused);
        let ledger = state.ledger.clone();
        tokio::spawn(async move {
            if let Err(error) = ledger.append(vec![event]).await {
                tracing::warn!(%error, "an API-key refusal was not recorded");
            }
        });
    }

    /// Appends the uses of minutes that are over (all of them when
    /// `all`); a failed append keeps them for the next try.
    pub async fn flush(&self, state: &AppState, all: bool) {
        let mut due = lock(&self.usage).take(Utc::now(), all);
        if due.is_empty() {
            return;
        }
        {
            let usage = read(&state.models.key_usage);
            for used in &mut due {
                used.new_networks = networks::new_networks(&used.addresses, usage.used_before(&used.key), |net| {
                    usage.knows_network(&used.key, net)
                });
            }
        }
        let context = Context {
            actor: warden_core::Actor::system(),
            request_id: super::new_id(),
        };
        let events = due.iter().map(|used| api_key::used(&context, used)).collect();
        match super::commit(state, events).await {
            Ok(_) => {
                let mut counters = lock(&self.counters);
                for used in &due {
                    let valid = used.counts.get(&VerifyOutcome::Valid).copied().unwrap_or(0);
                    counters.recorded(&used.key, valid);
                }
            }
            Err(error) => {
                tracing::warn!(message = %error.message, minutes = due.len(), "key usage not recorded yet; retrying");
                lock(&self.usage).put_back(due);
            }
        }
    }

    fn ticket_matcher(&self, pattern: &str) -> Option<Arc<manage::TicketMatcher>> {
        let mut tickets = lock(&self.tickets);
        if tickets.len() > 10_000 {
            tickets.clear();
        }
        tickets
            .entry(pattern.to_string())
            .or_insert_with(|| manage::ticket_matcher(pattern).ok().map(Arc::new))
            .clone()
    }

    /// Counted windows and pending uses (for the memory figures).
    pub fn counted(&self) -> usize {
        lock(&self.counters).len()
    }
}

/// How often the node appends the uses of minutes that are over.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// Runs until the node stops: appends usage as minutes end.
pub async fn flush_usage(state: AppState) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        state.keys.flush(&state, false).await;
    }
}

/// The topic of the nodes' notes of their key counts.
const COUNTS_TOPIC: &str = "api-key-counts";
/// How often a node tells the others what it counted (even nothing: the
/// note says it is alive).
pub const REPORT_EVERY: Duration = Duration::from_millis(100);
/// A node not heard from for this long is forgotten, and its counts with
/// it.
const SILENT_AFTER: Duration = Duration::from_secs(5);

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Note {
    node: String,
    report: Report,
}

/// Runs until the node stops, on a bus shared by several nodes: tells the
/// others what this node counted against keys' limits and uses, and
/// counts what they tell.
pub async fn exchange_counts(state: AppState) {
    if !state.bus.is_shared() {
        return;
    }
    loop {
        match state.bus.listen(COUNTS_TOPIC).await {
            Ok(notes) => exchange(&state, notes).await,
            Err(error) => tracing::warn!(%error, "cannot hear the other nodes' key counts; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn exchange(state: &AppState, mut notes: futures::stream::BoxStream<'static, Vec<u8>>) {
    use futures::StreamExt;
    let mut tick = tokio::time::interval(REPORT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut heard: HashMap<String, Instant> = HashMap::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let note = Note { node: state.keys.node.clone(), report: lock(&state.keys.counters).report() };
                if let Ok(bytes) = serde_json::to_vec(&note)
                    && let Err(error) = state.bus.broadcast(COUNTS_TOPIC, bytes).await
                {
                    tracing::debug!(%error, "key counts not sent");
                }
                let silent: Vec<String> = heard
                    .iter()
                    .filter(|(_, at)| at.elapsed() > SILENT_AFTER)
                    .map(|(node, _)| node.clone())
                    .collect();
                for node in silent {
                    heard.remove(&node);
                    lock(&state.keys.counters).forget(&node);
                }
            }
            note = notes.next() => {
                let Some(bytes) = note else { return };
                match serde_json::from_slice::<Note>(&bytes) {
                    Ok(note) if note.node != state.keys.node => {
                        heard.insert(note.node.clone(), Instant::now());
                        lock(&state.keys.counters).absorb(&note.node, note.report);
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "an unreadable note of key counts"),
                }
            }
        }
    }
}

/// What a verification reads on this node: the accounts read model, and
/// vendor keys' ticket patterns compiled once.
struct NodeFacts<'a> {
    state: &'a AppState,
    checker: &'a KeyChecker,
}

impl Facts for NodeFacts<'_> {
    fn holder(&self, key: &Key) -> Holder {
        let accounts = read(&self.state.models.accounts);
        if accounts.org(&key.org).is_none() {
            return Holder::Inactive;
        }
        match &key.owner {
            Owner::User { id } => accounts
                .user(id)
                .filter(|user| user.org == key.org && user.status == Status::Active)
                .map_or(Holder::Inactive, |user| Holder::User(user.role)),
            Owner::Service { .. } => Holder::Service,
        }
    }

    fn active_member(&self, key: &Key, user: &str) -> bool {
        read(&self.state.models.accounts)
            .user(user)
            .is_some_and(|user| user.org == key.org && user.status == Status::Active)
    }

    fn ticket_matches(&self, key: &Key, ticket: &str) -> bool {
        key.settings
            .ticket_pattern
            .as_deref()
            .and_then(|pattern| self.checker.ticket_matcher(pattern))
            .is_some_and(|matcher| matcher.is_match(ticket))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
