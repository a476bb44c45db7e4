//! The wrapped keys kept beside the log: each subject's data key
//! (`data_keys`; deleting one crypto-shreds the subject) and the chain's
//! signing keys (`signing_keys`, append-only, with the wrappings rotations
//! add in `signing_key_wraps`). Nothing here is ever in clear.

use async_trait::async_trait;

use super::LedgerError;

#[derive(Debug, Clone)]
pub struct StoredSigningKey {
    pub key_id: String,
    pub public_key: Vec<u8>,
    pub wrapped_secret: Vec<u8>,
    pub kms_key_ref: String,
}

#[derive(Debug, Clone)]
pub struct StoredDataKey {
    pub subject: String,
    pub key_id: String,
    pub wrapped: Vec<u8>,
    pub kms_key_ref: String,
}

/// A secret wrapped by the KMS key `kms_key_ref` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrap {
    pub kms_key_ref: String,
    pub wrapped: Vec<u8>,
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<(), LedgerError>;
    async fn signing_key(&self, key_id: &str) -> Result<Option<StoredSigningKey>, LedgerError>;
    /// Every wrapping of a signing key's secret: the one it was stored
    /// with first, then those rotations added, oldest first.
    async fn signing_key_wraps(&self, key_id: &str) -> Result<Vec<Wrap>, LedgerError>;
    /// Adds a wrapping (nothing if the key has one under that ref).
    async fn add_signing_key_wrap(&self, key_id: &str, wrap: &Wrap) -> Result<(), LedgerError>;
    /// The signing keys with no wrapping under `kms_key_ref`, oldest first.
    async fn signing_keys_not_wrapped_by(&self, kms_key_ref: &str) -> Result<Vec<String>, LedgerError>;

    /// Inserts unless the subject has a key already; returns the key that
    /// is stored afterwards (the existing one when two nodes race).
    async fn insert_data_key(&self, key: &StoredDataKey) -> Result<StoredDataKey, LedgerError>;
    async fn data_key(&self, subject: &str) -> Result<Option<StoredDataKey>, LedgerError>;
    /// Inserts the keys of subjects that have none (new subjects, like the
    /// users of an import) in one transaction; fails if any has one.
    async fn insert_new_data_keys(&self, keys: &[StoredDataKey]) -> Result<(), LedgerError>;
    /// Crypto-shredding: destroys the subject's wrapped data key. Returns
    /// whether there was one.
    async fn shred_data_key(&self, subject: &str) -> Result<bool, LedgerError>;
    /// Up to `limit` data keys not wrapped under `kms_key_ref`, of subjects
    /// after `after`, in subject order.
    async fn data_keys_not_wrapped_by(
        &self,
        kms_key_ref: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<StoredDataKey>, LedgerError>;
    async fn count_data_keys_not_wrapped_by(&self, kms_key_ref: &str) -> Result<u64, LedgerError>;
    /// Replaces `key`'s wrapping with `wrap`, if the stored key is still
    /// `key` as read (same key id, same wrapping key): false if it was
    /// shredded, replaced or re-wrapped meanwhile.
    async fn rewrap_data_key(&self, key: &StoredDataKey, wrap: &Wrap) -> Result<bool, LedgerError>;
}
