//! The signing keys of the chain, as announced by `signing_key.added`
//! events: what `/.well-known/warden-audit-keys` publishes and which key
//! nodes sign with.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use warden_core::Event;
use warden_core::chain::{SIGNING_KEY_ADDED, announced_key, key_id};

use crate::Projection;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKey {
    pub key_id: String,
    pub algorithm: String,
    /// Ed25519 public key, lower-case hex.
    pub public_key: String,
    /// The event that announced it.
    pub added_seq: u64,
    pub added_at: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeys {
    keys: BTreeMap<String, SigningKey>,
    /// The most recently announced key: the one new events are signed with.
    current: Option<String>,
}

impl SigningKeys {
    pub fn all(&self) -> impl Iterator<Item = &SigningKey> {
        self.keys.values()
    }

    pub fn current(&self) -> Option<&SigningKey> {
        self.current.as_ref().and_then(|id| self.keys.get(id))
    }
}

impl Projection for SigningKeys {
    const NAME: &'static str = warden_core::commands::catalogue::readers::SIGNING_KEYS;
    const VERSION: u32 = 1;

    fn apply(&mut self, event: &Event) {
        if event.kind != SIGNING_KEY_ADDED {
            return;
        }
        // The runner verified the chain, including the announcement.
        let Ok(public_key) = announced_key(event) else {
            return;
        };
        let key_id = key_id(&public_key);
        self.keys.insert(
            key_id.clone(),
            SigningKey {
                key_id: key_id.clone(),
                algorithm: "ed25519".into(),
                public_key: hex::encode(public_key.as_bytes()),
                added_seq: event.seq,
                added_at: warden_core::event::timestamp::format(&event.at),
            },
        );
        self.current = Some(key_id);
    }
}
