//! A sealed field: a value that events carry only encrypted (see
//! [`super::data_keys`], which seals and opens it).

use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

/// An encrypted field. Serializes as
/// `{"sealed":"v1","subject":…,"key_id":…,"nonce":…,"ciphertext":…}`
/// (base64 without padding); its `Debug` shows no content.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Sealed<T> {
    pub(super) sealed: SealedFormat,
    pub subject: String,
    pub key_id: String,
    pub(super) nonce: String,
    pub(super) ciphertext: String,
    #[serde(skip)]
    pub(super) value: PhantomData<fn() -> T>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum SealedFormat {
    #[serde(rename = "v1")]
    V1,
}

impl<T> Clone for Sealed<T> {
    fn clone(&self) -> Self {
        Sealed {
            sealed: self.sealed,
            subject: self.subject.clone(),
            key_id: self.key_id.clone(),
            nonce: self.nonce.clone(),
            ciphertext: self.ciphertext.clone(),
            value: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Sealed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed({}, key {})", self.subject, self.key_id)
    }
}
