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

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

use super::sealed::{Sealed, SealedFormat};
use super::{Kms, KmsError, random_bytes};
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

/// Seals and opens fields with per-subject data keys.
#[derive(Clone)]
pub struct DataKeys {
    store: Arc<dyn LedgerStore>,
    kms: Arc<dyn Kms>,
}

impl DataKeys {
    pub fn new(store: Arc<dyn LedgerStore>, kms: Arc<dyn Kms>) -> Self {
        DataKeys { store, kms }
    }

    pub async fn seal<T: Serialize>(&self, subject: &str, value: &T) -> Result<Sealed<T>, SealError> {
        let (key_id, key) = self.key_for(subject).await?;
        seal_with(subject, key_id, &key, value)
    }

    /// Seals one value for each of many new subjects (an import's users):
    /// their data keys are made and stored in one transaction, with no
    /// round trip per subject. Fails if a subject has a key already.
    pub async fn seal_new<T: Serialize>(&self, items: &[(String, &T)]) -> Result<Vec<Sealed<T>>, SealError> {
        let mut stored = Vec::with_capacity(items.len());
        let mut keys = Vec::with_capacity(items.len());
        for (subject, _) in items {
            let key = random_bytes::<32>();
            let key_id = uuid::Uuid::now_v7().simple().to_string();
            let wrapped = self.kms.wrap(key.as_ref(), &context(subject, &key_id)).await?;
            stored.push(StoredDataKey {
                subject: subject.clone(),
                key_id,
                wrapped,
                kms_key_ref: self.kms.key_ref().to_string(),
            });
            keys.push(key);
        }
        self.store.insert_new_data_keys(&stored).await?;
        items
            .iter()
            .zip(stored)
            .zip(keys)
            .map(|(((subject, value), stored), key)| seal_with(subject, stored.key_id, key.as_ref(), *value))
            .collect()
    }

    pub async fn open<T: DeserializeOwned>(&self, sealed: &Sealed<T>) -> Result<T, SealError> {
        let stored = self
            .store
            .data_key(&sealed.subject)
            .await?
            .ok_or_else(|| SealError::Shredded(sealed.subject.clone()))?;
        if stored.key_id != sealed.key_id {
            return Err(SealError::Shredded(sealed.subject.clone()));
        }
        let key = self
            .kms
            .unwrap(&stored.wrapped, &context(&sealed.subject, &stored.key_id))
            .await?;
        let cipher = XChaCha20Poly1305::new_from_slice(&key).map_err(|_| SealError::Damaged)?;
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
        key.as_slice().try_into().map_err(|_| SealError::Damaged)
    }

    /// Crypto-shreds a subject: its sealed fields become unreadable for
    /// good. Returns whether it had a key.
    pub async fn shred(&self, subject: &str) -> Result<bool, SealError> {
        Ok(self.store.shred_data_key(subject).await?)
    }

    async fn key_for(&self, subject: &str) -> Result<(String, zeroize::Zeroizing<Vec<u8>>), SealError> {
        let stored = match self.store.data_key(subject).await? {
            Some(stored) => stored,
            None => {
                let key = random_bytes::<32>();
                let key_id = uuid::Uuid::now_v7().simple().to_string();
                let wrapped = self.kms.wrap(key.as_ref(), &context(subject, &key_id)).await?;
                self.store
                    .insert_data_key(&StoredDataKey {
                        subject: subject.to_string(),
                        key_id,
                        wrapped,
                        kms_key_ref: self.kms.key_ref().to_string(),
                    })
                    .await?
            }
        };
        let key = self
            .kms
            .unwrap(&stored.wrapped, &context(subject, &stored.key_id))
            .await?;
        Ok((stored.key_id, key))
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

fn context(subject: &str, key_id: &str) -> String {
    format!("warden:data_key:{subject}:{key_id}")
}

fn associated_data(subject: &str, key_id: &str) -> String {
    format!("warden:sealed:v1:{subject}:{key_id}")
}
