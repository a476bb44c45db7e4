//! Envelope encryption: a KMS wraps data keys and signing keys; sealed
//! event fields are encrypted under a per-subject data key.
//!
//! The [`Kms`] trait has a `local` provider (a master key file, embedded
//! profile) and, in a later release, AWS KMS. Raw keys never leave this
//! module except wrapped.

mod data_keys;
mod local;
pub mod sealed;
pub mod signing;

pub use data_keys::{DataKeys, SealError};
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
}

/// Fills a fresh array from the operating system's random source.
pub fn random_bytes<const N: usize>() -> Zeroizing<[u8; N]> {
    use rand::RngCore;
    let mut bytes = Zeroizing::new([0u8; N]);
    rand::rng().fill_bytes(bytes.as_mut());
    bytes
}
