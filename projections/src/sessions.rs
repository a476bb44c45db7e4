//! Live sessions, found by the hash of their token, and the devices each
//! user has signed in from.
//!
//! Expired sessions are dropped as the log's time passes them (`apply` sees
//! only event times, so every node drops the same ones). Whether a session
//! is still valid *now* is for the reader to decide with
//! [`Session::valid_at`], using its own record of recent activity.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use warden_core::Event;
use warden_core::auth::device::Device;
use warden_core::commands::session::{
    self, Assurance, DeviceFirstSeen, Pending, SessionCreated, SessionElevated, SessionRefreshed, SessionRotated,
};
use warden_core::commands::sso::sign_in::{SSO_SUCCEEDED, Succeeded};
use warden_core::commands::{Prefix, payload, subject_id};

use crate::Projection;

const SWEEP_EVERY: u64 = 4096;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub user: String,
    pub org: String,
    pub token_hash: String,
    /// The event that issued the current token (creation or rotation).
    pub token_seq: u64,
    pub created_at: DateTime<Utc>,
    /// When the current token was issued.
    pub token_issued_at: DateTime<Utc>,
    /// The last recorded use (creation or `session.refreshed`).
    pub last_seen: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub idle_timeout_seconds: u64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub device: Device,
    pub fingerprint: String,
    pub assurance: Assurance,
    /// A partial session: what it must still do to be a full one.
    #[serde(default)]
    pub pending: Option<Pending>,
    /// The single sign-on connection that signed it in (its
    /// `sso.succeeded`): signing out may sign out at the provider too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso_connection: Option<String>,
}

impl Session {
    /// The session a `session.created` event opens (`event` is that event,
    /// `created` its payload).
    pub fn created(id: &str, created: SessionCreated, event: &Event) -> Session {
        Session {
            id: id.to_string(),
            user: created.user,
            org: created.org,
            token_hash: created.token_hash,
            token_seq: event.seq,
            created_at: event.at,
            token_issued_at: event.at,
            last_seen: event.at,
            expires_at: created.expires_at,
            idle_timeout_seconds: created.idle_timeout_seconds,
            ip: created.ip,
            user_agent: created.user_agent,
            device: created.device,
            fingerprint: created.fingerprint,
            assurance: created.assurance,
            pending: created.pending,
            sso_connection: None,
        }
    }

    /// Whether the sign-in is complete (no step pending).
    pub fn is_full(&self) -> bool {
        self.pending.is_none()
    }

    /// Valid at `now` given the last use this node knows of (`seen`, which
    /// may be later than the last recorded one).
    pub fn valid_at(&self, now: DateTime<Utc>, seen: Option<DateTime<Utc>>) -> bool {
        let last = seen.map_or(self.last_seen, |seen| seen.max(self.last_seen));
        now < self.expires_at && now < last + self.idle_timeout()
    }

    pub fn idle_timeout(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::try_from(self.idle_timeout_seconds).unwrap_or(i64::MAX / 1_000_000))
    }

    /// When it ends if unused from `last` on.
    pub fn idle_expiry(&self, seen: Option<DateTime<Utc>>) -> DateTime<Utc> {
        let last = seen.map_or(self.last_seen, |seen| seen.max(self.last_seen));
        (last + self.idle_timeout()).min(self.expires_at)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Sessions {
    /// Shared with readers: a session check clones a pointer, not the
    /// session.
    sessions: HashMap<String, Arc<Session>>,
    by_token: HashMap<String, String>,
    by_user: HashMap<String, BTreeSet<String>>,
    /// Device fingerprints each user has signed in from.
    devices: HashMap<String, BTreeSet<String>>,
    /// When each user last opened or used a full session (kept after the
    /// session ends: `auth::inactive_users`).
    #[serde(default)]
    seen: HashMap<String, DateTime<Utc>>,
    applied: u64,
}

impl Sessions {
    pub fn by_token(&self, token_hash: &str) -> Option<&Arc<Session>> {
        self.by_token.get(token_hash).and_then(|id| self.sessions.get(id))
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Session>> {
        self.sessions.get(id)
    }

    /// The user's sessions, newest first.
    pub fn of_user(&self, user: &str) -> Vec<&Arc<Session>> {
        let mut sessions: Vec<&Arc<Session>> = self
            .by_user
            .get(user)
            .into_iter()
            .flatten()
            .filter_map(|id| self.sessions.get(id))
            .collect();
        sessions.sort_by_key(|session| std::cmp::Reverse(session.created_at));
        sessions
    }

    /// The user's sessions still valid at `now`, newest first (ended ones
    /// stay in the model until the log's time sweeps them).
    pub fn live_of_user(&self, user: &str, now: DateTime<Utc>) -> Vec<&Arc<Session>> {
        let mut sessions = self.of_user(user);
        sessions.retain(|session| session.valid_at(now, None));
        sessions
    }

    /// Whether the user signed in from any device before.
    pub fn knows_any_device(&self, user: &str) -> bool {
        self.devices.get(user).is_some_and(|known| !known.is_empty())
    }

    pub fn knows_device(&self, user: &str, fingerprint: &str) -> bool {
        self.devices.get(user).is_some_and(|known| known.contains(fingerprint))
    }

    /// When `user` last opened or used a full session (a partial one,
    /// waiting for its second factor, does not count).
    pub fn last_seen_of(&self, user: &str) -> Option<DateTime<Utc>> {
        self.seen.get(user).copied()
    }

    fn saw(&mut self, user: &str, at: DateTime<Utc>) {
        let seen = self.seen.entry(user.to_string()).or_insert(at);
        *seen = (*seen).max(at);
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    fn remove(&mut self, id: &str) {
        if let Some(session) = self.sessions.remove(id) {
            self.by_token.remove(&session.token_hash);
            if let Some(ids) = self.by_user.get_mut(&session.user) {
                ids.remove(id);
                if ids.is_empty() {
                    self.by_user.remove(&session.user);
                }
            }
        }
    }

    /// A new token for the session `id`, issued by `event`.
    fn replace_token(&mut self, id: &str, token_hash: String, event: &Event) {
        if let Some(session) = self.sessions.get_mut(id) {
            let session = Arc::make_mut(session);
            let old = std::mem::replace(&mut session.token_hash, token_hash.clone());
            session.token_seq = event.seq;
            session.token_issued_at = event.at;
            session.last_seen = session.last_seen.max(event.at);
            self.by_token.remove(&old);
            self.by_token.insert(token_hash, id.to_string());
        }
    }

    /// Drops sessions that ended before `at`, with one idle period of slack
    /// for uses that were not recorded yet.
    fn sweep(&mut self, at: DateTime<Utc>) {
        let ended: Vec<String> = self
            .sessions
            .values()
            .filter(|session| session.expires_at <= at || session.last_seen + session.idle_timeout() * 2 <= at)
            .map(|session| session.id.clone())
            .collect();
        for id in ended {
            self.remove(&id);
        }
    }
}

impl Projection for Sessions {
    const NAME: &'static str = warden_core::commands::catalogue::readers::SESSIONS;
    const VERSION: u32 = 4;

    fn apply(&mut self, event: &Event) {
        self.applied += 1;
        if self.applied.is_multiple_of(SWEEP_EVERY) {
            self.sweep(event.at);
        }
        if event.kind == session::DEVICE_FIRST_SEEN {
            if let Some(seen) = payload::<DeviceFirstSeen>(event) {
                self.devices.entry(seen.user).or_default().insert(seen.fingerprint);
            }
            return;
        }
        if event.kind == SSO_SUCCEEDED {
            // After the session's `session.created`, in the same append.
            if let Some(succeeded) = payload::<Succeeded>(event)
                && let Some(session) = succeeded.session.as_deref().and_then(|id| self.sessions.get_mut(id))
            {
                Arc::make_mut(session).sso_connection = Some(succeeded.connection);
            }
            return;
        }
        let Some(id) = subject_id(&event.subject, Prefix::Session) else {
            return;
        };
        match event.kind.as_str() {
            session::SESSION_CREATED => {
                let Some(created) = payload::<SessionCreated>(event) else {
                    return;
                };
                self.by_token.insert(created.token_hash.clone(), id.to_string());
                self.by_user
                    .entry(created.user.clone())
                    .or_default()
                    .insert(id.to_string());
                self.devices
                    .entry(created.user.clone())
                    .or_default()
                    .insert(created.fingerprint.clone());
                if created.pending.is_none() {
                    self.saw(&created.user, event.at);
                }
                self.sessions
                    .insert(id.to_string(), Arc::new(Session::created(id, created, event)));
            }
            session::SESSION_REFRESHED => {
                if let (Some(session), Some(refreshed)) =
                    (self.sessions.get_mut(id), payload::<SessionRefreshed>(event))
                {
                    let session = Arc::make_mut(session);
                    session.last_seen = session.last_seen.max(refreshed.last_seen);
                    if refreshed.ip.is_some() {
                        session.ip = refreshed.ip;
                    }
                    if session.pending.is_none() {
                        let user = session.user.clone();
                        self.saw(&user, refreshed.last_seen);
                    }
                }
            }
            session::SESSION_ROTATED => {
                let Some(rotated) = payload::<SessionRotated>(event) else {
                    return;
                };
                self.replace_token(id, rotated.token_hash, event);
            }
            session::SESSION_ELEVATED => {
                let Some(elevated) = payload::<SessionElevated>(event) else {
                    return;
                };
                if let Some(session) = self.sessions.get_mut(id) {
                    let session = Arc::make_mut(session);
                    session.assurance = elevated.assurance;
                    session.pending = elevated.pending;
                    session.expires_at = elevated.expires_at;
                    if session.pending.is_none() {
                        let user = session.user.clone();
                        self.saw(&user, event.at);
                    }
                }
                self.replace_token(id, elevated.token_hash, event);
            }
            session::SESSION_REVOKED => self.remove(id),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use warden_core::commands::Caller;
    use warden_core::commands::session::{SESSION_CREATED, SESSION_ELEVATED, SESSION_REFRESHED, SESSION_REVOKED};

    use super::*;

    const USER: &str = "0193f1a2-8d10-7e42-b6c1-2f9a4d7e3c02";

    fn fixture(kind: &str) -> Value {
        let text = match kind {
            SESSION_CREATED => include_str!("../../core/tests/fixtures/events/session.created.json"),
            SESSION_ELEVATED => include_str!("../../core/tests/fixtures/events/session.elevated.json"),
            SESSION_REFRESHED => include_str!("../../core/tests/fixtures/events/session.refreshed.json"),
            _ => include_str!("../../core/tests/fixtures/events/session.revoked.json"),
        };
        serde_json::from_str(text).unwrap()
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + minutes * 60, 0).unwrap()
    }

    fn event(seq: u64, minute: i64, kind: &str, session: &str, data: Value) -> Event {
        let new = Caller::default()
            .anonymous()
            .event(kind, format!("session:{session}"))
            .data(data);
        Event::unsealed(seq, at(minute), new)
    }

    #[test]
    fn a_user_is_seen_in_full_sessions_only_and_after_they_end() {
        let mut sessions = Sessions::default();
        let partial = fixture(SESSION_CREATED);
        assert!(partial.get("pending").is_some());
        sessions.apply(&event(1, 0, SESSION_CREATED, "s-1", partial.clone()));
        let mut refreshed = fixture(SESSION_REFRESHED);
        refreshed["last_seen"] = Value::from("2027-01-15T08:01:00.000000Z");
        sessions.apply(&event(2, 1, SESSION_REFRESHED, "s-1", refreshed.clone()));
        assert_eq!(
            sessions.last_seen_of(USER),
            None,
            "a password without its second factor"
        );

        sessions.apply(&event(3, 2, SESSION_ELEVATED, "s-1", fixture(SESSION_ELEVATED)));
        assert_eq!(sessions.last_seen_of(USER), Some(at(2)));
        refreshed["last_seen"] = Value::from(warden_core::event::timestamp::format(&at(30)));
        sessions.apply(&event(4, 31, SESSION_REFRESHED, "s-1", refreshed));
        assert_eq!(sessions.last_seen_of(USER), Some(at(30)));
        sessions.apply(&event(5, 40, SESSION_REVOKED, "s-1", fixture(SESSION_REVOKED)));
        assert!(sessions.of_user(USER).is_empty());
        assert_eq!(sessions.last_seen_of(USER), Some(at(30)), "kept after the session ends");

        let mut full = partial;
        full.as_object_mut().unwrap().remove("pending");
        full["token_hash"] = Value::from("another");
        sessions.apply(&event(6, 50, SESSION_CREATED, "s-2", full));
        assert_eq!(sessions.last_seen_of(USER), Some(at(50)));
        assert_eq!(sessions.last_seen_of("someone else"), None);
    }
}
