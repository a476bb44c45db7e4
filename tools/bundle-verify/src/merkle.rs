//! Merkle inclusion proofs under a checkpoint (RFC 9162 §2.1.3.2, with
//! the domains of `docs/spec/audit-bundle.md` §3).

use serde_json::Value;

use crate::chain::{Failure, Hash, LEAF_DOMAIN, NODE_DOMAIN, blake3_of, fail, hex32, number};

// Merkle inclusion (RFC 9162 §2.1.3.2).

pub(crate) fn node(left: &Hash, right: &Hash) -> Hash {
    blake3_of(&[NODE_DOMAIN, left, right])
}

pub(crate) fn included(seq: u64, size: u64, event_hash: &Hash, path: &[Hash], root: &Hash) -> bool {
    if seq == 0 || seq > size {
        return false;
    }
    let (mut fn_, mut sn) = (seq - 1, size - 1);
    let mut r = blake3_of(&[LEAF_DOMAIN, event_hash]);
    for p in path {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}

pub(crate) struct Checkpoint {
    pub(crate) tree_size: u64,
    pub(crate) root: Hash,
    pub(crate) head: Hash,
}

pub(crate) fn check_inclusion(
    event: &Value,
    hash: &Hash,
    proof: &Value,
    checkpoint: &Checkpoint,
) -> Result<(), Failure> {
    let Some(items) = proof.as_array() else {
        return fail("it has no inclusion proof");
    };
    let path = items
        .iter()
        .map(|item| hex32(item, "a proof hash"))
        .collect::<Result<Vec<_>, _>>()?;
    let seq = number(event, "seq")?;
    if !included(seq, checkpoint.tree_size, hash, &path, &checkpoint.root) {
        return fail(format!(
            "its inclusion proof does not lead to the checkpoint's root (log of {} events)",
            checkpoint.tree_size
        ));
    }
    if seq == checkpoint.tree_size && *hash != checkpoint.head {
        return fail("it is the checkpoint's last event but its hash is not the checkpoint's head");
    }
    Ok(())
}
