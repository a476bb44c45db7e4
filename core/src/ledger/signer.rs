//! The key the ledger signs with: the active key, shared by the writer
//! and by `keys::signing`, which chooses, creates and rotates it.

use std::sync::{Arc, RwLock};

use ed25519_dalek::{SigningKey, VerifyingKey};

/// The key that signs new events.
pub struct ActiveKey {
    pub key_id: String,
    pub secret: SigningKey,
}

impl ActiveKey {
    pub fn public(&self) -> VerifyingKey {
        self.secret.verifying_key()
    }
}

/// The active key, shared by the writer and the code that rotates it.
#[derive(Clone, Default)]
pub struct Signer(Arc<RwLock<Option<Arc<ActiveKey>>>>);

impl Signer {
    pub fn current(&self) -> Option<Arc<ActiveKey>> {
        self.0.read().ok().and_then(|guard| guard.clone())
    }

    /// Makes `key` the one that signs (`keys::signing` decides which).
    pub(crate) fn install(&self, key: ActiveKey) {
        if let Ok(mut guard) = self.0.write() {
            *guard = Some(Arc::new(key));
        }
    }
}
