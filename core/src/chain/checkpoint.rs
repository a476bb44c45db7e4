//! Signed checkpoints: Warden's signed statement that its log of
//! `tree_size` events has this Merkle `root` and ends with the event whose
//! hash is `head`.
//!
//! The signature covers `SIGNATURE_DOMAIN ‖ digest`, where
//! `digest = BLAKE3("warden/audit-chain/v1/checkpoint\n" ‖ canonical)` and
//! `canonical` is `{"head":"<hex>","root":"<hex>","tree_size":<n>}`: the
//! same signed-message shape as an event, under another hash domain, so a
//! checkpoint signature can never pass for an event's.

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::{Digest, Signature, signed_message};

pub const CHECKPOINT_DOMAIN: &[u8] = b"warden/audit-chain/v1/checkpoint\n";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub tree_size: u64,
    pub root: Digest,
    pub head: Digest,
    pub key_id: String,
    pub sig: Signature,
}

/// The digest a checkpoint's signature covers.
pub fn digest(tree_size: u64, root: &Digest, head: &Digest) -> Digest {
    let canonical = format!(
        "{{\"head\":\"{}\",\"root\":\"{}\",\"tree_size\":{tree_size}}}",
        head.to_hex(),
        root.to_hex()
    );
    let mut hasher = blake3::Hasher::new();
    hasher.update(CHECKPOINT_DOMAIN);
    hasher.update(canonical.as_bytes());
    Digest(*hasher.finalize().as_bytes())
}

impl Checkpoint {
    pub fn sign(tree_size: u64, root: Digest, head: Digest, key_id: &str, key: &SigningKey) -> Checkpoint {
        let sig = Signature(key.sign(&signed_message(&digest(tree_size, &root, &head))).to_bytes());
        Checkpoint {
            tree_size,
            root,
            head,
            key_id: key_id.to_string(),
            sig,
        }
    }

    pub fn verify(&self, key: &VerifyingKey) -> bool {
        let signature = ed25519_dalek::Signature::from_bytes(&self.sig.0);
        key.verify_strict(
            &signed_message(&digest(self.tree_size, &self.root, &self.head)),
            &signature,
        )
        .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_under_its_key_only_and_binds_every_field() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]);
        let root = Digest([1; 32]);
        let head = Digest([2; 32]);
        let checkpoint = Checkpoint::sign(10, root, head, "ed25519-x", &key);
        assert!(checkpoint.verify(&key.verifying_key()));
        assert!(!checkpoint.verify(&other.verifying_key()));
        for changed in [
            Checkpoint {
                tree_size: 11,
                ..checkpoint.clone()
            },
            Checkpoint {
                root: head,
                ..checkpoint.clone()
            },
            Checkpoint {
                head: root,
                ..checkpoint.clone()
            },
        ] {
            assert!(!changed.verify(&key.verifying_key()));
        }
    }
}
