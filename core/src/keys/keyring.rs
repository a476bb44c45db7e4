//! The KMS keys a node holds: the current one, which wraps every new key,
//! and retired ones, which only unwrap keys a rotation has not moved yet
//! (`docs/operations/kms.md`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::{Kms, KmsError};

#[derive(Clone)]
pub struct Keyring {
    current: Arc<dyn Kms>,
    retired: Vec<Arc<dyn Kms>>,
    /// The latest readiness probe of the current key.
    probed: Arc<Mutex<Option<Probe>>>,
}

/// A readiness answer about the KMS, and when it was asked.
type Probe = (Instant, Result<(), String>);

/// How long a readiness answer about the KMS is reused: probes come every
/// few seconds from every load balancer, and each costs a KMS request.
const PROBE_REUSE: Duration = Duration::from_secs(10);

impl Keyring {
    pub fn new(current: Arc<dyn Kms>) -> Self {
        Keyring {
            current,
            retired: Vec::new(),
            probed: Arc::default(),
        }
    }

    /// Adds a key that unwraps only.
    pub fn with_retired(mut self, retired: Arc<dyn Kms>) -> Self {
        self.retired.push(retired);
        self
    }

    /// The key every new key is wrapped with.
    pub fn current(&self) -> &dyn Kms {
        self.current.as_ref()
    }

    pub fn current_ref(&self) -> &str {
        self.current.key_ref()
    }

    /// The refs of every key held, the current one first.
    pub fn refs(&self) -> Vec<String> {
        std::iter::once(&self.current)
            .chain(&self.retired)
            .map(|kms| kms.key_ref().to_string())
            .collect()
    }

    /// Whether a key wrapped under `key_ref` can be opened here.
    pub fn holds(&self, key_ref: &str) -> bool {
        self.provider(key_ref).is_some()
    }

    /// Whether the current key can be used now: asks the KMS at most once
    /// every ten seconds, and waits at most `timeout`.
    pub async fn readiness(&self, timeout: Duration) -> Result<(), String> {
        let now = Instant::now();
        if let Some((at, answer)) = self.probed.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && now.duration_since(*at) < PROBE_REUSE
        {
            return answer.clone();
        }
        let answer = match tokio::time::timeout(timeout, self.current.probe()).await {
            Ok(result) => result.map_err(|error| error.to_string()),
            Err(_) => Err("the KMS did not answer in time".to_string()),
        };
        if let Err(error) = &answer {
            tracing::warn!(%error, key = self.current_ref(), "the KMS key cannot be used: not ready");
        }
        *self.probed.lock().unwrap_or_else(|p| p.into_inner()) = Some((now, answer.clone()));
        answer
    }

    /// Unwraps a key stored as wrapped under `key_ref`, with the first
    /// key held that can.
    pub async fn unwrap(&self, key_ref: &str, wrapped: &[u8], context: &str) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        self.provider(key_ref)
            .ok_or_else(|| KmsError::NotHeld(key_ref.to_string()))?
            .unwrap(wrapped, context)
            .await
    }

    fn provider(&self, key_ref: &str) -> Option<&dyn Kms> {
        std::iter::once(&self.current)
            .chain(&self.retired)
            .find(|kms| kms.can_unwrap(key_ref))
            .map(|kms| kms.as_ref())
    }
}

impl From<Arc<dyn Kms>> for Keyring {
    fn from(current: Arc<dyn Kms>) -> Self {
        Keyring::new(current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::LocalKms;

    fn local(dir: &std::path::Path, name: &str) -> Arc<dyn Kms> {
        Arc::new(LocalKms::open(&dir.join(name), true).unwrap())
    }

    #[tokio::test]
    async fn unwraps_with_the_key_the_ref_names_and_wraps_with_the_current_one() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (local(dir.path(), "old.key"), local(dir.path(), "new.key"));
        let wrapped_old = old.wrap(b"kept", "ctx").await.unwrap();
        let ring = Keyring::new(new.clone()).with_retired(old.clone());
        assert_eq!(ring.current_ref(), new.key_ref());
        assert_eq!(ring.refs(), vec![new.key_ref().to_string(), old.key_ref().to_string()]);
        let opened = ring.unwrap(old.key_ref(), &wrapped_old, "ctx").await.unwrap();
        assert_eq!(opened.as_slice(), b"kept");

        let alone = Keyring::new(new.clone());
        assert!(!alone.holds(old.key_ref()));
        assert!(matches!(
            alone.unwrap(old.key_ref(), &wrapped_old, "ctx").await,
            Err(KmsError::NotHeld(_))
        ));
    }
}
