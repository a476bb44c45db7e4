//! Envelope encryption: a KMS wraps data keys and signing keys; sealed
//! event fields are encrypted under a per-subject data key.
//!
//! The [`Kms`] trait has a `local` provider (a master key file, embedded
//! profile) and an `aws` one (AWS KMS, decision 0026). A [`Keyring`] holds
//! the provider Warden wraps with and those it only unwraps with while a
//! rotation moves keys between them. Raw keys never leave this module
//! except wrapped.

mod aws;
mod cache;
mod data_keys;
mod keyring;
mod local;
pub mod rotation;
pub mod sealed;
pub mod signing;
pub mod usage;

pub use aws::{AwsKms, AwsKmsSettings};
pub use data_keys::{DEFAULT_CACHE_ENTRIES, DEFAULT_CACHE_TTL, DataKeys, SealError};
pub use keyring::Keyring;
pub use local::LocalKms;
pub use sealed::Sealed;

use async_trait::async_trait;
use thiserror::Error;
use zeroize::Zeroizing;

#[derive(Debug, Error)]
pub enum KmsError {
    #[error("KMS key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("cannot unwrap: the wrapped key is damaged or was wrapped by another KMS key")]
    Unwrap,
    #[error("KMS unavailable: {0}")]
    Unavailable(String),
    #[error("KMS key unusable: {0}")]
    Unusable(String),
    #[error(
        "no configured KMS key can unwrap keys wrapped by {0}: configure it (kms_retired_key_files) until a rotation has moved every key"
    )]
    NotHeld(String),
}

/// A key-management service that wraps and unwraps small secrets (data keys
/// and signing keys). `context` is bound to the ciphertext (like AWS KMS's
/// encryption context): a key wrapped for one purpose cannot be unwrapped
/// for another.
#[async_trait]
pub trait Kms: Send + Sync + 'static {
    /// Names the wrapping key, stored next to each wrapped secret.
    fn key_ref(&self) -> &str;
    async fn wrap(&self, plaintext: &[u8], context: &str) -> Result<Vec<u8>, KmsError>;
    async fn unwrap(&self, wrapped: &[u8], context: &str) -> Result<Zeroizing<Vec<u8>>, KmsError>;

    /// Whether a key wrapped under `key_ref` can be given to [`Kms::unwrap`].
    fn can_unwrap(&self, key_ref: &str) -> bool {
        key_ref == self.key_ref()
    }

    /// A new 256-bit data key, in clear and wrapped. Providers with a
    /// random source of their own (AWS `GenerateDataKey`) use it.
    async fn generate_data_key(&self, context: &str) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), KmsError> {
        let key = Zeroizing::new(random_bytes::<32>().to_vec());
        let wrapped = self.wrap(&key, context).await?;
        Ok((key, wrapped))
    }

    /// Whether the key can be used now (readiness).
    async fn probe(&self) -> Result<(), KmsError> {
        Ok(())
    }
}

/// Fills a fresh array from the operating system's random source.
pub fn random_bytes<const N: usize>() -> Zeroizing<[u8; N]> {
    use rand::RngCore;
    let mut bytes = Zeroizing::new([0u8; N]);
    rand::rng().fill_bytes(bytes.as_mut());
    bytes
}
