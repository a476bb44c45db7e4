//! Rotating the KMS key (KEK): every data key and signing-key secret not
//! yet wrapped under the keyring's current KMS key is unwrapped with the
//! key that wrapped it and wrapped again under the current one, online and
//! in batches (`docs/operations/kms.md`).
//!
//! Each key moves in one conditional write, so a run stopped at any point
//! (a crash, `kill -9`) leaves every key usable, under the old KMS key or
//! the new one; running again moves what is left. Signing keys stay
//! append-only: their new wrapping is added beside the old.

use thiserror::Error;

use super::data_keys::context as data_key_context;
use super::signing::{self, SigningError, unwrap_secret};
use super::{Keyring, KmsError};
use crate::commands::Context;
use crate::commands::kms::{self, RotationFinished, RotationStarted};
use crate::ledger::{AppendError, Ledger, LedgerError, Wrap};

#[derive(Debug, Error)]
pub enum RotationError {
    #[error(transparent)]
    Kms(#[from] KmsError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error(transparent)]
    Signing(#[from] SigningError),
}

/// How far a run has got, reported after each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub data_keys: u64,
    pub of: u64,
}

/// Moves every key under the keyring's current KMS key; records the run
/// as `kms.rotation_started` and `kms.rotation_finished`.
pub async fn rotate_kek(
    ledger: &Ledger,
    keyring: &Keyring,
    context: &Context,
    batch: usize,
    mut progress: impl FnMut(Progress),
) -> Result<RotationFinished, RotationError> {
    let store = ledger.store();
    let to = keyring.current_ref().to_string();
    let latest = store.latest_kms_event().await?;
    let latest = latest.as_ref().map(|event| {
        let target = event.data.get("to").and_then(|to| to.as_str()).unwrap_or_default();
        (event.kind.as_str(), target)
    });
    let signing_keys = store.signing_keys_not_wrapped_by(&to).await?;
    let started = RotationStarted {
        to: to.clone(),
        from: keyring.refs().into_iter().filter(|key_ref| *key_ref != to).collect(),
        data_keys: store.count_data_keys_not_wrapped_by(&to).await?,
        signing_keys: signing_keys.len() as u64,
        resumed: kms::resumes(latest, &to),
    };
    ledger.append_one(kms::rotation_started(context, &started)).await?;

    let mut finished = RotationFinished {
        to: to.clone(),
        data_keys: 0,
        signing_keys: 0,
        skipped: 0,
        remaining: 0,
    };
    for key_id in &signing_keys {
        let secret = unwrap_secret(ledger, keyring, key_id).await?;
        let wrapped = keyring.current().wrap(&secret, &signing::context(key_id)).await?;
        let wrap = Wrap {
            kms_key_ref: to.clone(),
            wrapped,
        };
        store.add_signing_key_wrap(key_id, &wrap).await?;
        finished.signing_keys += 1;
    }

    let mut after = String::new();
    loop {
        let keys = store.data_keys_not_wrapped_by(&to, &after, batch.max(1)).await?;
        let Some(last) = keys.last() else { break };
        after = last.subject.clone();
        for key in &keys {
            let context = data_key_context(&key.subject, &key.key_id);
            let plaintext = keyring.unwrap(&key.kms_key_ref, &key.wrapped, &context).await?;
            let wrap = Wrap {
                kms_key_ref: to.clone(),
                wrapped: keyring.current().wrap(&plaintext, &context).await?,
            };
            if store.rewrap_data_key(key, &wrap).await? {
                finished.data_keys += 1;
            } else {
                finished.skipped += 1;
            }
        }
        progress(Progress {
            data_keys: finished.data_keys + finished.skipped,
            of: started.data_keys,
        });
    }
    finished.remaining = store.count_data_keys_not_wrapped_by(&to).await?;
    ledger.append_one(kms::rotation_finished(context, &finished)).await?;
    Ok(finished)
}
