//! A Merkle tree over the event hashes, shaped as RFC 9162 (Certificate
//! Transparency v2) §2.1 specifies, with BLAKE3 and Warden's own domains:
//! a signed checkpoint of the tree's root proves any one event is in the
//! log with a path of about log2(n) hashes, without the rest of the log.
//!
//! - leaf: `BLAKE3("warden/audit-chain/v1/merkle-leaf\n" ‖ event hash)`
//! - node: `BLAKE3("warden/audit-chain/v1/merkle-node\n" ‖ left ‖ right)`
//! - the tree of n leaves splits at the largest power of two below n.

use super::Digest;

pub const LEAF_DOMAIN: &[u8] = b"warden/audit-chain/v1/merkle-leaf\n";
pub const NODE_DOMAIN: &[u8] = b"warden/audit-chain/v1/merkle-node\n";

pub fn leaf(event_hash: &Digest) -> Digest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(LEAF_DOMAIN);
    hasher.update(&event_hash.0);
    Digest(*hasher.finalize().as_bytes())
}

pub fn node(left: &Digest, right: &Digest) -> Digest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(NODE_DOMAIN);
    hasher.update(&left.0);
    hasher.update(&right.0);
    Digest(*hasher.finalize().as_bytes())
}

/// Every level of the tree over the events 1..=n (leaf `i` is event
/// `i + 1`): the leaves, then each level up to the root. An odd node at
/// the end of a level moves up unchanged, which builds exactly RFC 9162's
/// tree.
pub struct Tree {
    levels: Vec<Vec<Digest>>,
}

impl Tree {
    /// From the event hashes, in seq order from seq 1.
    pub fn of_hashes(hashes: impl IntoIterator<Item = Digest>) -> Tree {
        let leaves: Vec<Digest> = hashes.into_iter().map(|hash| leaf(&hash)).collect();
        let mut levels = vec![leaves];
        while levels.last().is_some_and(|level| level.len() > 1) {
            let below = levels.last().map(Vec::as_slice).unwrap_or_default();
            let above = below
                .chunks(2)
                .map(|pair| match pair {
                    [left, right] => node(left, right),
                    [single] => *single,
                    _ => Digest::ZERO,
                })
                .collect();
            levels.push(above);
        }
        Tree { levels }
    }

    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }

    /// The root (of the empty tree: the hash of nothing, as RFC 9162 has).
    pub fn root(&self) -> Digest {
        match self.levels.last().and_then(|level| level.first()) {
            Some(root) => *root,
            None => Digest(*blake3::hash(b"").as_bytes()),
        }
    }

    /// The inclusion proof of event `seq`: the sibling at each level, from
    /// the leaf up.
    pub fn proof(&self, seq: u64) -> Option<Vec<Digest>> {
        if seq == 0 || seq > self.size() {
            return None;
        }
        let mut index = (seq - 1) as usize;
        let mut path = Vec::new();
        for level in &self.levels[..self.levels.len() - 1] {
            let sibling = index ^ 1;
            if sibling < level.len() {
                path.push(level[sibling]);
            }
            index /= 2;
        }
        Some(path)
    }

    /// The root of the log's first `size` events (RFC 9162's MTH(D[0:size])),
    /// from the levels: the complete subtrees that make up the prefix,
    /// joined right to left. `None` beyond the tree.
    pub fn root_at(&self, size: u64) -> Option<Digest> {
        if size > self.size() {
            return None;
        }
        Some(self.range_root(0, size))
    }

    /// MTH of the leaves `start..start + len`.
    fn range_root(&self, start: u64, len: u64) -> Digest {
        if len == 0 {
            return Digest(*blake3::hash(b"").as_bytes());
        }
        if len.is_power_of_two() && start.is_multiple_of(len) {
            let level = len.trailing_zeros() as usize;
            return self.levels[level][(start >> level) as usize];
        }
        let split = largest_power_of_two_below(len);
        node(
            &self.range_root(start, split),
            &self.range_root(start + split, len - split),
        )
    }

    /// The consistency proof (RFC 9162 §2.1.4.1) that the log's first
    /// `old` events are a prefix of the whole tree. `None` unless
    /// `0 < old <= size`.
    pub fn consistency(&self, old: u64) -> Option<Vec<Digest>> {
        let ranges = consistency_ranges(old, self.size())?;
        Some(ranges.iter().map(|&(start, len)| self.range_root(start, len)).collect())
    }
}

/// The leaf ranges `(start, len)` whose roots make the consistency proof
/// (RFC 9162 §2.1.4.1) from `old` to `size` leaves, in proof order. `None`
/// unless `0 < old <= size`.
pub fn consistency_ranges(old: u64, size: u64) -> Option<Vec<(u64, u64)>> {
    if old == 0 || old > size {
        return None;
    }
    let mut ranges = Vec::new();
    subproof(old, 0, size, true, &mut ranges);
    Some(ranges)
}

/// SUBPROOF(m, D[start:start + n], complete), as ranges.
fn subproof(m: u64, start: u64, n: u64, complete: bool, ranges: &mut Vec<(u64, u64)>) {
    if m == n {
        if !complete {
            ranges.push((start, n));
        }
        return;
    }
    let k = largest_power_of_two_below(n);
    if m <= k {
        subproof(m, start, k, complete, ranges);
        ranges.push((start + k, n - k));
    } else {
        subproof(m - k, start + k, n - k, false, ranges);
        ranges.push((start, k));
    }
}

/// A consistency proof computed from the event hashes streamed in order,
/// with O(log n) memory: what the endpoint serves for a log too large to
/// hold as a [`Tree`].
pub struct StreamedConsistency {
    ranges: Vec<(u64, u64)>,
    roots: Vec<Frontier>,
    pushed: u64,
    size: u64,
}

impl StreamedConsistency {
    /// `None` unless `0 < old <= size`.
    pub fn new(old: u64, size: u64) -> Option<Self> {
        let ranges = consistency_ranges(old, size)?;
        let roots = vec![Frontier::new(); ranges.len()];
        Some(StreamedConsistency {
            ranges,
            roots,
            pushed: 0,
            size,
        })
    }

    /// The next event's hash (from seq 1).
    pub fn push(&mut self, event_hash: &Digest) {
        let index = self.pushed;
        for (&(start, len), root) in self.ranges.iter().zip(self.roots.iter_mut()) {
            if (start..start + len).contains(&index) {
                root.push(event_hash);
            }
        }
        self.pushed += 1;
    }

    /// How many hashes it still needs.
    pub fn missing(&self) -> u64 {
        self.size.saturating_sub(self.pushed)
    }

    /// The proof, once exactly `size` hashes were pushed.
    pub fn finish(self) -> Option<Vec<Digest>> {
        (self.pushed == self.size).then(|| self.roots.iter().map(Frontier::root).collect())
    }
}

/// The largest power of two strictly below `n` (`n >= 2`).
fn largest_power_of_two_below(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The root of a growing log with O(log n) memory: the roots of the
/// perfect subtrees the leaves pushed so far fill, largest first (a binary
/// counter). Folding them from the right gives RFC 9162's root, so the
/// checkpointer and `warden verify` follow a log of any length without
/// holding its hashes.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    size: u64,
    /// `(leaves, root)` of each perfect subtree, sizes strictly falling.
    peaks: Vec<(u64, Digest)>,
}

impl Frontier {
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// Adds the next event's hash.
    pub fn push(&mut self, event_hash: &Digest) {
        let mut peak = (1u64, leaf(event_hash));
        while let Some(&(size, root)) = self.peaks.last() {
            if size != peak.0 {
                break;
            }
            self.peaks.pop();
            peak = (size * 2, node(&root, &peak.1));
        }
        self.peaks.push(peak);
        self.size += 1;
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the tree of every leaf pushed (as [`Tree::root`]).
    pub fn root(&self) -> Digest {
        let mut peaks = self.peaks.iter().rev();
        let Some(&(_, mut root)) = peaks.next() else {
            return Digest(*blake3::hash(b"").as_bytes());
        };
        for (_, left) in peaks {
            root = node(left, &root);
        }
        root
    }
}

/// Checks a consistency proof (RFC 9162 §2.1.4.2): the log of `new_size`
/// events with root `new_root` begins with the log of `old_size` events
/// with root `old_root`, i.e. it only grew.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Digest,
    new_root: &Digest,
    proof: &[Digest],
) -> bool {
    if old_size == 0 || old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    let mut path: Vec<Digest> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let mut old_index = old_size - 1;
    let mut new_index = new_size - 1;
    while old_index & 1 == 1 {
        old_index >>= 1;
        new_index >>= 1;
    }
    let mut old_hash = *first;
    let mut new_hash = *first;
    for sibling in rest {
        if new_index == 0 {
            return false;
        }
        if old_index & 1 == 1 || old_index == new_index {
            old_hash = node(sibling, &old_hash);
            new_hash = node(sibling, &new_hash);
            if old_index & 1 == 0 {
                while old_index & 1 == 0 && old_index != 0 {
                    old_index >>= 1;
                    new_index >>= 1;
                }
            }
        } else {
            new_hash = node(&new_hash, sibling);
        }
        old_index >>= 1;
        new_index >>= 1;
    }
    new_index == 0 && old_hash == *old_root && new_hash == *new_root
}

/// Checks that the event with this hash is event `seq` of the tree of
/// `size` events whose root is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(seq: u64, size: u64, event_hash: &Digest, path: &[Digest], root: &Digest) -> bool {
    if seq == 0 || seq > size {
        return false;
    }
    let mut index = seq - 1;
    let mut last = size - 1;
    let mut hash = leaf(event_hash);
    for sibling in path {
        if last == 0 {
            return false;
        }
        if index & 1 == 1 || index == last {
            hash = node(sibling, &hash);
            if index & 1 == 0 {
                while index & 1 == 0 && index != 0 {
                    index >>= 1;
                    last >>= 1;
                }
            }
        } else {
            hash = node(&hash, sibling);
        }
        index >>= 1;
        last >>= 1;
    }
    last == 0 && hash == *root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(n: u64) -> Vec<Digest> {
        (0..n)
            .map(|i| Digest(*blake3::hash(&i.to_le_bytes()).as_bytes()))
            .collect()
    }

    /// RFC 9162's recursive definition, written out, to check the levels.
    fn reference_root(leaves: &[Digest]) -> Digest {
        match leaves.len() {
            0 => Digest(*blake3::hash(b"").as_bytes()),
            1 => leaf(&leaves[0]),
            n => {
                let k = n.next_power_of_two() / 2;
                let k = if k == n { n / 2 } else { k };
                node(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    #[test]
    fn a_frontier_has_the_root_of_every_prefix() {
        let hashes = hashes(300);
        let mut frontier = Frontier::new();
        assert_eq!(frontier.root(), reference_root(&[]));
        for (i, hash) in hashes.iter().enumerate() {
            frontier.push(hash);
            assert_eq!(frontier.size(), i as u64 + 1);
            assert_eq!(frontier.root(), reference_root(&hashes[..=i]), "size {}", i + 1);
        }
    }

    #[test]
    fn the_levels_build_rfc_9162_trees() {
        for n in 0..70 {
            let hashes = hashes(n);
            assert_eq!(
                Tree::of_hashes(hashes.clone()).root(),
                reference_root(&hashes),
                "n = {n}"
            );
        }
    }

    #[test]
    fn every_proof_verifies_and_no_other_does() {
        for n in 1..40 {
            let hashes = hashes(n);
            let tree = Tree::of_hashes(hashes.clone());
            let root = tree.root();
            for seq in 1..=n {
                let path = tree.proof(seq).unwrap();
                let hash = &hashes[(seq - 1) as usize];
                assert!(verify_inclusion(seq, n, hash, &path, &root), "n = {n}, seq = {seq}");
                // Another position, another hash, a changed path: refused.
                // (The size is not checked here: the checkpoint signs it.)
                if n > 1 {
                    let other = if seq == n { seq - 1 } else { seq + 1 };
                    assert!(!verify_inclusion(other, n, hash, &path, &root));
                    assert!(!verify_inclusion(seq, n, &hashes[(other - 1) as usize], &path, &root));
                    let mut bent = path.clone();
                    bent[0].0[0] ^= 1;
                    assert!(!verify_inclusion(seq, n, hash, &bent, &root));
                    assert!(!verify_inclusion(seq, n, hash, &path[1..], &root));
                }
            }
        }
        assert!(Tree::of_hashes(hashes(3)).proof(4).is_none());
    }

    #[test]
    fn prefix_roots_are_the_roots_of_the_prefix() {
        let all = hashes(70);
        let tree = Tree::of_hashes(all.clone());
        for size in 0..=70 {
            assert_eq!(
                tree.root_at(size),
                Some(reference_root(&all[..size as usize])),
                "size = {size}"
            );
        }
        assert_eq!(tree.root_at(71), None);
    }

    #[test]
    fn a_streamed_consistency_proof_is_the_tree_s() {
        let hashes = hashes(70);
        let tree = Tree::of_hashes(hashes.clone());
        for old in 1..=70 {
            let mut streamed = StreamedConsistency::new(old, 70).unwrap();
            for hash in &hashes {
                streamed.push(hash);
            }
            assert_eq!(streamed.missing(), 0);
            assert_eq!(streamed.finish(), tree.consistency(old), "old {old}");
        }
        assert!(StreamedConsistency::new(0, 70).is_none());
        assert!(StreamedConsistency::new(71, 70).is_none());
        assert!(StreamedConsistency::new(3, 70).unwrap().finish().is_none());
    }

    #[test]
    fn consistency_proofs_verify_between_every_pair_of_sizes_and_catch_a_fork() {
        for new in 1..=40u64 {
            let all = hashes(new);
            let tree = Tree::of_hashes(all.clone());
            let new_root = tree.root();
            // The same log with its 3rd event changed: a fork.
            let mut forked = all.clone();
            if new >= 3 {
                forked[2].0[0] ^= 1;
            }
            let forked_root = Tree::of_hashes(forked).root();
            for old in 1..=new {
                let old_root = reference_root(&all[..old as usize]);
                let proof = tree.consistency(old).unwrap();
                assert!(
                    verify_consistency(old, new, &old_root, &new_root, &proof),
                    "{old} -> {new}"
                );
                // Another new root (a forked log), another size, a bent
                // proof: refused.
                if new >= 3 {
                    assert!(
                        !verify_consistency(old, new, &old_root, &forked_root, &proof),
                        "{old} -> {new}"
                    );
                }
                if old < new {
                    assert!(
                        !verify_consistency(old, new, &new_root, &new_root, &proof),
                        "{old} -> {new}"
                    );
                    if let Some(first) = proof.first() {
                        let mut bent = proof.clone();
                        bent[0] = Digest([first.0[0] ^ 1; 32]);
                        assert!(
                            !verify_consistency(old, new, &old_root, &new_root, &bent),
                            "{old} -> {new}"
                        );
                    }
                }
            }
        }
        assert!(Tree::of_hashes(hashes(3)).consistency(0).is_none());
        assert!(Tree::of_hashes(hashes(3)).consistency(4).is_none());
        assert!(!verify_consistency(4, 3, &Digest::ZERO, &Digest::ZERO, &[]));
    }
}
