//! The node's cache of unwrapped data keys: a subject's key is unwrapped
//! by the KMS once per `ttl`, not on every seal and open (a KMS call costs
//! milliseconds and, for AWS KMS, money). Bounded; entries are zeroed when
//! dropped. A shred evicts the subject on the node that shreds; other
//! nodes forget it within `ttl` (`docs/operations/kms.md`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

pub(super) struct KeyCache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    key_id: String,
    key: Zeroizing<[u8; 32]>,
    expires: Instant,
}

impl KeyCache {
    pub(super) fn new(ttl: Duration, capacity: usize) -> Self {
        KeyCache {
            ttl,
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The subject's cached key, if it has one that has not expired (and
    /// is `key_id`, when given).
    pub(super) fn get(&self, subject: &str, key_id: Option<&str>) -> Option<(String, Zeroizing<[u8; 32]>)> {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = entries.get(subject)?;
        let fresh = entry.expires > Instant::now() && key_id.is_none_or(|key_id| key_id == entry.key_id);
        fresh.then(|| (entry.key_id.clone(), entry.key.clone()))
    }

    pub(super) fn insert(&self, subject: &str, key_id: &str, key: &[u8; 32]) {
        if self.capacity == 0 || self.ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(subject) {
            entries.retain(|_, entry| entry.expires > now);
            if entries.len() >= self.capacity {
                // Full of live keys: a tenth goes at once (whichever the map
                // yields first), so a full cache costs one pass per tenth of
                // its size, not per insert.
                let excess = entries.len() + 1 - self.capacity;
                let drop: Vec<String> = entries
                    .keys()
                    .take(excess.max(self.capacity / 10).max(1))
                    .cloned()
                    .collect();
                for subject in drop {
                    entries.remove(&subject);
                }
            }
        }
        entries.insert(
            subject.to_string(),
            Entry {
                key_id: key_id.to_string(),
                key: Zeroizing::new(*key),
                expires: now + self.ttl,
            },
        );
    }

    pub(super) fn evict(&self, subject: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(subject);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_key_for_its_ttl_and_its_key_id_only() {
        let cache = KeyCache::new(Duration::from_millis(50), 10);
        cache.insert("user:1", "k1", &[1; 32]);
        assert_eq!(
            cache.get("user:1", None).map(|(id, key)| (id, *key)),
            Some(("k1".into(), [1; 32]))
        );
        assert!(cache.get("user:1", Some("k1")).is_some());
        assert!(
            cache.get("user:1", Some("k2")).is_none(),
            "another key id is not this key"
        );
        cache.evict("user:1");
        assert!(cache.get("user:1", None).is_none());
        cache.insert("user:2", "k2", &[2; 32]);
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get("user:2", None).is_none(), "expired");
    }

    #[test]
    fn stays_within_its_capacity() {
        let cache = KeyCache::new(Duration::from_secs(60), 3);
        for n in 0..10 {
            cache.insert(&format!("user:{n}"), "k", &[n; 32]);
        }
        assert!(cache.entries.lock().unwrap().len() <= 3);
        assert!(cache.get("user:9", None).is_some(), "the newest is kept");
        let big = KeyCache::new(Duration::from_secs(60), 1000);
        for n in 0..10_000u32 {
            big.insert(&format!("user:{n}"), "k", &[1; 32]);
        }
        let held = big.entries.lock().unwrap().len();
        assert!((900..=1000).contains(&held), "{held}");
        let off = KeyCache::new(Duration::ZERO, 3);
        off.insert("user:1", "k", &[1; 32]);
        assert!(off.get("user:1", None).is_none(), "a zero ttl caches nothing");
    }
}
