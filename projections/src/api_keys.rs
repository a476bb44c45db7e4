//! API keys, found by id: what every verification reads, in memory.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use warden_core::Event;
use warden_core::auth::api_key::Key;
use warden_core::commands::api_key::{self, KeyChanged, KeyCreated, KeyRevoked, KeyRotated, KeyUsed, VerifyOutcome};
use warden_core::commands::payload;

use crate::Projection;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ApiKeys {
    /// Shared with readers: a verification clones a pointer.
    keys: HashMap<String, Arc<Key>>,
    by_org: HashMap<String, BTreeSet<String>>,
}

impl ApiKeys {
    pub fn get(&self, id: &str) -> Option<&Arc<Key>> {
        self.keys.get(id)
    }

    /// The org's keys, newest first.
    pub fn of_org(&self, org: &str) -> Vec<&Arc<Key>> {
        let mut keys: Vec<&Arc<Key>> = self
            .by_org
            .get(org)
            .into_iter()
            .flatten()
            .filter_map(|id| self.keys.get(id))
            .collect();
        keys.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.id.cmp(&b.id)));
        keys
    }

    pub fn count_of_org(&self, org: &str) -> usize {
        self.by_org.get(org).map_or(0, BTreeSet::len)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn update(&mut self, id: &str, event: &Event, change: impl FnOnce(&mut Key)) {
        if let Some(key) = self.keys.get_mut(id) {
            let key = Arc::make_mut(key);
            change(key);
            key.version = event.subject_version;
        }
    }
}

impl Projection for ApiKeys {
    const NAME: &'static str = warden_core::commands::catalogue::readers::API_KEYS;
    const VERSION: u32 = 1;
    const NEW_KINDS_ONLY: bool = true;

    fn apply(&mut self, event: &Event) {
        match event.kind.as_str() {
            api_key::API_KEY_CREATED => {
                let Some(created) = payload::<KeyCreated>(event) else {
                    return;
                };
                self.by_org
                    .entry(created.org.clone())
                    .or_default()
                    .insert(created.key.clone());
                let id = created.key.clone();
                let key = Key::created(created, event.at, event.actor.id.clone(), event.subject_version);
                self.keys.insert(id, Arc::new(key));
            }
            api_key::API_KEY_CHANGED => {
                if let Some(changed) = payload::<KeyChanged>(event) {
                    self.update(&changed.key, event, |key| {
                        if changed.changed.iter().any(|name| name == "remaining_uses") {
                            key.uses_since_set = 0;
                        }
                        key.settings = changed.settings;
                    });
                }
            }
            api_key::API_KEY_ROTATED => {
                if let Some(rotated) = payload::<KeyRotated>(event) {
                    self.update(&rotated.key, event, |key| {
                        let old = std::mem::replace(&mut key.secret, rotated.secret);
                        key.previous = Some((old, rotated.previous_valid_until));
                        key.rotated_at = Some(event.at);
                    });
                }
            }
            api_key::API_KEY_REVOKED => {
                if let Some(revoked) = payload::<KeyRevoked>(event) {
                    self.update(&revoked.key, event, |key| key.revoked_at = Some(event.at));
                }
            }
            api_key::API_KEY_USED => {
                if let Some(used) = payload::<KeyUsed>(event)
                    && let Some(key) = self.keys.get_mut(&used.key)
                {
                    // Its own subject: the key's version stays.
                    let key = Arc::make_mut(key);
                    let valid = used.counts.get(&VerifyOutcome::Valid).copied().unwrap_or(0);
                    key.uses_since_set = key.uses_since_set.saturating_add(valid);
                    if valid > 0 {
                        key.last_used = key.last_used.max(Some(used.last_at));
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use warden_core::commands::Caller;
    use warden_core::commands::api_key::{KeyKind, Owner, SecretDigest, Settings};
    use warden_core::event::NewEvent;

    use super::*;

    fn sealed(seq: u64, version: u64, new: NewEvent) -> Event {
        let at = DateTime::from_timestamp(1_800_000_000 + seq as i64, 0).unwrap();
        let mut event = Event::unsealed(seq, at, new);
        event.subject_version = version;
        event
    }

    fn digest(c: char) -> SecretDigest {
        SecretDigest {
            digest: c.to_string().repeat(64),
            hint: c.to_string().repeat(4),
        }
    }

    #[test]
    fn a_key_is_created_changed_rotated_used_and_revoked() {
        let context = Caller::default().as_user("u-admin", "org-1");
        let mut keys = ApiKeys::default();
        let settings = Settings {
            name: "billing".into(),
            scopes: vec![],
            expires_at: None,
            allowed_networks: vec![],
            limits: vec![],
            remaining_uses: Some(10),
            ticket_pattern: None,
        };
        let created = KeyCreated {
            key: "K1".into(),
            org: "org-1".into(),
            kind: KeyKind::App,
            owner: Owner::Service { name: "billing".into() },
            settings: settings.clone(),
            secret: digest('a'),
        };
        keys.apply(&sealed(1, 1, api_key::created(&context, &created)));
        let key = keys.get("K1").unwrap();
        assert_eq!((key.version, key.created_by.as_deref()), (1, Some("u-admin")));
        assert_eq!(keys.of_org("org-1").len(), 1);
        assert!(keys.of_org("org-2").is_empty());

        let used = |valid: u64, last: i64| KeyUsed {
            key: "K1".into(),
            org: "org-1".into(),
            minute: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            counts: [(VerifyOutcome::Valid, valid), (VerifyOutcome::RateLimited, 5)].into(),
            addresses: vec![],
            more_addresses: false,
            new_networks: Vec::new(),
            first_request_id: "r1".into(),
            last_request_id: "r2".into(),
            last_at: DateTime::<Utc>::from_timestamp(1_800_000_000 + last, 0).unwrap(),
        };
        keys.apply(&sealed(2, 1, api_key::used(&context, &used(4, 30))));
        assert_eq!(
            keys.get("K1").unwrap().remaining_uses(),
            Some(6),
            "rate-limited requests spend no use"
        );
        let rotated = KeyRotated {
            key: "K1".into(),
            org: "org-1".into(),
            secret: digest('b'),
            previous_valid_until: DateTime::from_timestamp(1_800_000_100, 0).unwrap(),
        };
        keys.apply(&sealed(3, 2, api_key::rotated(&context, &rotated, 1)));
        let key = keys.get("K1").unwrap();
        assert_eq!(key.secret, digest('b'));
        assert_eq!(key.previous.as_ref().unwrap().0, digest('a'));
        let changed = KeyChanged {
            key: "K1".into(),
            org: "org-1".into(),
            settings: Settings {
                remaining_uses: Some(3),
                ..settings
            },
            changed: vec!["remaining_uses".into()],
        };
        keys.apply(&sealed(4, 3, api_key::changed(&context, &changed, 2)));
        assert_eq!(
            keys.get("K1").unwrap().remaining_uses(),
            Some(3),
            "a new count from the change"
        );
        keys.apply(&sealed(5, 1, api_key::used(&context, &used(1, 10))));
        let key = keys.get("K1").unwrap();
        assert_eq!(key.remaining_uses(), Some(2));
        assert_eq!(
            key.last_used.unwrap().timestamp(),
            1_800_000_030,
            "the latest use stays"
        );
        let revoked = KeyRevoked {
            key: "K1".into(),
            org: "org-1".into(),
            reason: String::new(),
        };
        keys.apply(&sealed(6, 4, api_key::revoked(&context, &revoked, 3)));
        let key = keys.get("K1").unwrap();
        assert!(key.revoked_at.is_some());
        assert_eq!(key.version, 4, "uses move no version");
    }
}
