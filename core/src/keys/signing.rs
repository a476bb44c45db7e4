//! The chain's signing keys: choosing the active key at start, the genesis
//! key of a new ledger, and rotation.
//!
//! Secret keys are stored only wrapped by the KMS (`signing_keys` table).
//! A key signs events only once it has been announced in the chain by a
//! `signing_key.added` event on subject `ledger`, signed by the previous
//! key (or, for the genesis event, by itself).

use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use thiserror::Error;

use super::{Keyring, KmsError, random_bytes};
use crate::chain::{LEDGER_SUBJECT, SIGNING_KEY_ADDED, key_id, signing_key_added_data};
use crate::event::{Actor, NewEvent};
use crate::ledger::signer::ActiveKey;
use crate::ledger::{AppendError, Ledger, LedgerError, StoredSigningKey, Wrap};

#[derive(Debug, Error)]
pub enum SigningError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error(transparent)]
    Kms(#[from] KmsError),
    #[error("signing key {0} is announced in the chain but not stored")]
    MissingSecret(String),
    #[error("the ledger's latest signing-key event is malformed")]
    Malformed,
}

/// The wrapping context of a signing key's secret.
pub(super) fn context(key_id: &str) -> String {
    format!("warden:signing_key:{key_id}")
}

/// Installs the key to sign with: the latest key announced in the chain,
/// or, for an empty ledger, a new genesis key announced at seq 1. Safe when
/// several processes start at once on one empty database: one genesis
/// wins, the others adopt it.
pub async fn establish(ledger: &Ledger, keyring: &Keyring) -> Result<String, SigningError> {
    loop {
        if let Some(key_id) = adopt_latest(ledger, keyring).await? {
            return Ok(key_id);
        }
        let key = generate(ledger, keyring).await?;
        let key_id = key.key_id.clone();
        let public = key.public();
        ledger.signer().install(key);
        let genesis = NewEvent::new(SIGNING_KEY_ADDED, LEDGER_SUBJECT, Actor::system())
            .expect_version(0)
            .request_id("genesis")
            .data(signing_key_added_data(&public));
        match ledger.append_one(genesis).await {
            Ok(_) => return Ok(key_id),
            // Another process created the ledger first: adopt its key.
            Err(AppendError::Conflict { .. }) => continue,
            Err(error) => return Err(error.into()),
        }
    }
}

/// Installs the latest announced key, if any; returns its id.
pub async fn adopt_latest(ledger: &Ledger, keyring: &Keyring) -> Result<Option<String>, SigningError> {
    let Some(event) = ledger.store().latest_signing_key_event().await? else {
        return Ok(None);
    };
    let key_id = event
        .data
        .get("key_id")
        .and_then(|v| v.as_str())
        .ok_or(SigningError::Malformed)?
        .to_string();
    adopt(ledger, keyring, &key_id).await?;
    Ok(Some(key_id))
}

/// Installs a stored key by id (after another node rotated).
pub async fn adopt(ledger: &Ledger, keyring: &Keyring, key_id: &str) -> Result<(), SigningError> {
    if ledger.signer().current().is_some_and(|key| key.key_id == key_id) {
        return Ok(());
    }
    let secret = unwrap_secret(ledger, keyring, key_id).await?;
    let bytes: [u8; 32] = secret.as_slice().try_into().map_err(|_| SigningError::Malformed)?;
    ledger.signer().install(ActiveKey {
        key_id: key_id.to_string(),
        secret: SigningKey::from_bytes(&bytes),
    });
    Ok(())
}

/// Rotates: a new key is announced by an event signed with the current
/// key, then signs everything after it. Old keys stay valid for the events
/// they signed.
pub async fn rotate(
    ledger: &Ledger,
    keyring: &Keyring,
    actor: Actor,
    request_id: &str,
) -> Result<String, SigningError> {
    let current = ledger
        .store()
        .latest_signing_key_event()
        .await?
        .ok_or(SigningError::Malformed)?;
    let key = generate(ledger, keyring).await?;
    let announce = NewEvent::new(SIGNING_KEY_ADDED, LEDGER_SUBJECT, actor)
        .expect_version(current.subject_version)
        .request_id(request_id)
        .data(signing_key_added_data(&key.public()));
    ledger.append_one(announce).await?;
    let key_id = key.key_id.clone();
    ledger.signer().install(key);
    Ok(key_id)
}

/// Whether the signing key added at `added_at` is due for rotation at
/// `now` under a maximum age of `max_age_days` (`signing_key_max_age_days`;
/// none: never on its own).
pub fn rotation_due(added_at: DateTime<Utc>, now: DateTime<Utc>, max_age_days: Option<u32>) -> bool {
    max_age_days.is_some_and(|days| now - added_at >= chrono::Duration::days(i64::from(days)))
}

/// Creates a key and stores it wrapped, before it is ever announced, so an
/// announced key always has its secret stored.
async fn generate(ledger: &Ledger, keyring: &Keyring) -> Result<ActiveKey, SigningError> {
    let seed = random_bytes::<32>();
    let secret = SigningKey::from_bytes(&seed);
    let public = secret.verifying_key();
    let key_id = key_id(&public);
    let wrapped_secret = keyring.current().wrap(seed.as_ref(), &context(&key_id)).await?;
    ledger
        .store()
        .insert_signing_key(&StoredSigningKey {
            key_id: key_id.clone(),
            public_key: public.as_bytes().to_vec(),
            wrapped_secret,
            kms_key_ref: keyring.current_ref().to_string(),
        })
        .await?;
    Ok(ActiveKey { key_id, secret })
}

/// A stored signing key's secret, from the first of its wrappings the
/// keyring holds, the current KMS key's preferred.
pub(super) async fn unwrap_secret(
    ledger: &Ledger,
    keyring: &Keyring,
    key_id: &str,
) -> Result<zeroize::Zeroizing<Vec<u8>>, SigningError> {
    let wraps = ledger.store().signing_key_wraps(key_id).await?;
    let Some(wrap) = preferred(&wraps, keyring) else {
        return Err(match wraps.first() {
            None => SigningError::MissingSecret(key_id.to_string()),
            Some(wrap) => KmsError::NotHeld(wrap.kms_key_ref.clone()).into(),
        });
    };
    Ok(keyring
        .unwrap(&wrap.kms_key_ref, &wrap.wrapped, &context(key_id))
        .await?)
}

fn preferred<'a>(wraps: &'a [Wrap], keyring: &Keyring) -> Option<&'a Wrap> {
    wraps
        .iter()
        .find(|wrap| wrap.kms_key_ref == keyring.current_ref())
        .or_else(|| wraps.iter().rev().find(|wrap| keyring.holds(&wrap.kms_key_ref)))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_signing_key_is_due_once_it_reaches_its_maximum_age() {
        let added = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        let day = chrono::Duration::days(1);
        let cases: &[(DateTime<Utc>, Option<u32>, bool)] = &[
            (added + day * 89, Some(90), false),
            (added + day * 90 - chrono::Duration::seconds(1), Some(90), false),
            (added + day * 90, Some(90), true),
            (added + day * 400, Some(90), true),
            (added + day * 4000, None, false),
            (added + day, Some(1), true),
            // A clock behind the key's time: not due.
            (added - day, Some(1), false),
        ];
        for (now, max_age, due) in cases {
            assert_eq!(rotation_due(added, *now, *max_age), *due, "{now} {max_age:?}");
        }
    }
}
