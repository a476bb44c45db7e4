//! Data keys: sealing and opening the secrets that events carry only
//! encrypted.
//!
//! Each subject (`user:…`, `secret:…`) has its own 256-bit data key,
//! wrapped by the KMS and stored outside the log. A [`Sealed<T>`] is
//! XChaCha20-Poly1305 ciphertext of `T`'s JSON under that key, bound to the
//! subject. Erasing the subject's data key (crypto-shredding) makes every
//! sealed field of that subject unreadable; the events, and so the chain,
//! stay exactly as they were.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

use zeroize::Zeroizing;

use super::cache::KeyCache;
use super::sealed::{Sealed, SealedFormat};
use super::{Keyring, KmsError, random_bytes};
use crate::ledger::{LedgerError, LedgerStore, StoredDataKey};

#[derive(Debug, Error)]
pub enum SealError {
    #[error("the data key of {0} was erased: its sealed fields cannot be opened")]
    Shredded(String),
    #[error("sealed field is damaged or belongs to another subject")]
    Damaged,
    #[error(transparent)]
    Kms(#[from] KmsError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// How long, and how many, unwrapped data keys a node keeps by default
/// (`kms_data_key_cache_seconds`, `kms_data_key_cache_entries`).
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);
pub const DEFAULT_CACHE_ENTRIES: usize = 100_000;

/// Seals and opens fields with per-subject data keys.
#[derive(Clone)]
pub struct DataKeys {
    store: Arc<dyn LedgerStore>,
    keyring: Keyring,
    cache: Arc<KeyCache>,
    /// What a KMS unwrap typically takes, in seconds (an exponentially
    /// weighted average, newest sample 1/5).
    unwrap_seconds: Arc<std::sync::Mutex<Option<f64>>>,
    /// Where every KMS unwrap is counted for the log.
    usage: Arc<super::usage::KeyUse>,
}

impl DataKeys {
    pub fn new(store: Arc<dyn LedgerStore>, keyring: impl Into<Keyring>) -> Self {
        DataKeys {
            store,
            keyring: keyring.into(),
            cache: Arc::new(KeyCache::new(DEFAULT_CACHE_TTL, DEFAULT_CACHE_ENTRIES)),
            unwrap_seconds: Arc::default(),
            usage: Arc::default(),
        }
    }

    /// Counts every KMS unwrap into `usage` (the ledger's, which the node
    /// appends each minute as `kms.data_keys_unwrapped`).
    pub fn counting_into(mut self, usage: Arc<super::usage::KeyUse>) -> Self {
        self.usage = usage;
        self
    }

    /// What unwrapping a data key with the KMS typically takes here: a
    /// refused sign-in of an account whose key was not cached took that
    /// much more than one whose key was, and is padded by it
    /// (`auth::refusal_timing`).
    pub fn typical_unwrap(&self) -> Duration {
        let seconds = self
            .unwrap_seconds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .unwrap_or(0.0);
        Duration::from_secs_f64(seconds)
    }

    /// With a cache of unwrapped keys of this size (a zero `ttl` or
    /// `entries` caches nothing: every seal and open asks the KMS).
    pub fn with_cache(mut self, ttl: Duration, entries: usize) -> Self {
        self.cache = Arc::new(KeyCache::new(ttl, entries));
        self
    }

    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    pub async fn seal<T: Serialize>(&self, subject: &str, value: &T) -> Result<Sealed<T>, SealError> {
        let (key_id, key) = self.key_for(subject).await?;
        seal_with(subject, key_id, key.as_ref(), value)
    }

    /// Seals one value for each of many new subjects (an import's users):
    /// their data keys are made and stored in one transaction, with no
    /// round trip per subject. Fails if a subject has a key already.
    pub async fn seal_new<T: Serialize>(&self, items: &[(String, &T)]) -> Result<Vec<Sealed<T>>, SealError> {
        let mut stored = Vec::with_capacity(items.len());
        let mut keys = Vec::with_capacity(items.len());
        for (subject, _) in items {
            let key_id = uuid::Uuid::now_v7().simple().to_string();
            let (key, wrapped) = self.generate(subject, &key_id).await?;
            stored.push(StoredDataKey {
                subject: subject.clone(),
                key_id,
                wrapped,
                kms_key_ref: self.keyring.current_ref().to_string(),
            });
            keys.push(key);
        }
        self.store.insert_new_data_keys(&stored).await?;
        items
            .iter()
            .zip(stored)
            .zip(keys)
            // Not cached: an import's keys are not needed soon, and would
            // push out those that are.
            .map(|(((subject, value), stored), key)| seal_with(subject, stored.key_id, key.as_ref(), *value))
            .collect()
    }

    pub async fn open<T: DeserializeOwned>(&self, sealed: &Sealed<T>) -> Result<T, SealError> {
        let key = match self.cache.get(&sealed.subject, Some(&sealed.key_id)) {
            Some((_, key)) => {
                metrics::counter!("warden_data_key_cache_hits_total").increment(1);
                key
            }
            None => {
                let stored = self
                    .store
                    .data_key(&sealed.subject)
                    .await?
                    .ok_or_else(|| SealError::Shredded(sealed.subject.clone()))?;
                if stored.key_id != sealed.key_id {
                    return Err(SealError::Shredded(sealed.subject.clone()));
                }
                self.unwrap(&stored).await?
            }
        };
        let cipher = XChaCha20Poly1305::new_from_slice(key.as_ref()).map_err(|_| SealError::Damaged)?;
        let nonce = BASE64.decode(&sealed.nonce).map_err(|_| SealError::Damaged)?;
        let ciphertext = BASE64.decode(&sealed.ciphertext).map_err(|_| SealError::Damaged)?;
        if nonce.len() != 24 {
            return Err(SealError::Damaged);
        }
        let aad = associated_data(&sealed.subject, &sealed.key_id);
        let plaintext = zeroize::Zeroizing::new(
            cipher
                .decrypt(
                    XNonce::from_slice(&nonce),
                    Payload {
                        msg: &ciphertext,
                        aad: aad.as_bytes(),
                    },
                )
                .map_err(|_| SealError::Damaged)?,
        );
        serde_json::from_slice(&plaintext).map_err(|_| SealError::Damaged)
    }

    /// The subject's data key itself, created on first use: a secret that
    /// stays in the KMS envelope at rest (the sign-in identifier key).
    pub async fn secret(&self, subject: &str) -> Result<[u8; 32], SealError> {
        let (_, key) = self.key_for(subject).await?;
        Ok(*key)
    }

    /// Crypto-shreds a subject: its sealed fields become unreadable for
    /// good. Returns whether it had a key.
    pub async fn shred(&self, subject: &str) -> Result<bool, SealError> {
        let shredded = self.store.shred_data_key(subject).await?;
        self.cache.evict(subject);
        Ok(shredded)
    }

    async fn key_for(&self, subject: &str) -> Result<(String, Zeroizing<[u8; 32]>), SealError> {
        if let Some(cached) = self.cache.get(subject, None) {
            metrics::counter!("warden_data_key_cache_hits_total").increment(1);
            return Ok(cached);
        }
        let stored = match self.store.data_key(subject).await? {
            Some(stored) => stored,
            None => {
                let key_id = uuid::Uuid::now_v7().simple().to_string();
                let (key, wrapped) = self.generate(subject, &key_id).await?;
                let stored = self
                    .store
                    .insert_data_key(&StoredDataKey {
                        subject: subject.to_string(),
                        key_id: key_id.clone(),
                        wrapped,
                        kms_key_ref: self.keyring.current_ref().to_string(),
                    })
                    .await?;
                if stored.key_id == key_id {
                    self.cache.insert(subject, &key_id, &key);
                    return Ok((key_id, key));
                }
                // Another node created the subject's key first: use its.
                stored
            }
        };
        let key = self.unwrap(&stored).await?;
        Ok((stored.key_id, key))
    }

    /// A new data key for `subject`, from the current KMS key.
    async fn generate(&self, subject: &str, key_id: &str) -> Result<(Zeroizing<[u8; 32]>, Vec<u8>), SealError> {
        let (key, wrapped) = self
            .keyring
            .current()
            .generate_data_key(&context(subject, key_id))
            .await?;
        let key: [u8; 32] = key.as_slice().try_into().map_err(|_| SealError::Damaged)?;
        Ok((Zeroizing::new(key), wrapped))
    }

    /// Unwraps a stored key with the KMS, and caches it.
    async fn unwrap(&self, stored: &StoredDataKey) -> Result<Zeroizing<[u8; 32]>, SealError> {
        metrics::counter!("warden_data_key_unwraps_total").increment(1);
        let started = std::time::Instant::now();
        let key = self
            .keyring
            .unwrap(
                &stored.kms_key_ref,
                &stored.wrapped,
                &context(&stored.subject, &stored.key_id),
            )
            .await?;
        let took = started.elapsed().as_secs_f64();
        self.usage
            .unwrapped(&stored.subject, &stored.kms_key_ref, chrono::Utc::now());
        let mut typical = self.unwrap_seconds.lock().unwrap_or_else(|p| p.into_inner());
        *typical = Some(typical.map_or(took, |average| average * 0.8 + took * 0.2));
        drop(typical);
        let key: [u8; 32] = key.as_slice().try_into().map_err(|_| SealError::Damaged)?;
        self.cache.insert(&stored.subject, &stored.key_id, &key);
        Ok(Zeroizing::new(key))
    }
}

/// Encrypts `value` for `subject` under a data key already in hand.
fn seal_with<T: Serialize>(subject: &str, key_id: String, key: &[u8], value: &T) -> Result<Sealed<T>, SealError> {
    let plaintext = zeroize::Zeroizing::new(serde_json::to_vec(value).map_err(|_| SealError::Damaged)?);
    let nonce = random_bytes::<24>();
    let cipher = XChaCha20Poly1305::new_from_slice(key).map_err(|_| SealError::Damaged)?;
    let aad = associated_data(subject, &key_id);
    let ciphertext = cipher
        .encrypt(
            XNonce::from_slice(nonce.as_ref()),
            Payload {
                msg: &plaintext,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| SealError::Damaged)?;
    Ok(Sealed {
        sealed: SealedFormat::V1,
        subject: subject.to_string(),
        key_id,
        nonce: BASE64.encode(nonce.as_ref()),
        ciphertext: BASE64.encode(ciphertext),
        value: PhantomData,
    })
}

/// The wrapping context of a subject's data key.
pub(super) fn context(subject: &str, key_id: &str) -> String {
    format!("warden:data_key:{subject}:{key_id}")
}

fn associated_data(subject: &str, key_id: &str) -> String {
    format!("warden:sealed:v1:{subject}:{key_id}")
}
