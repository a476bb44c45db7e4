//! The checkpoint spec's test vectors (`docs/spec/audit-checkpoint.md`
//! §11, `fixtures/checkpoint-vectors.json`, made by the independent Python
//! checker from the spec): Warden's code must reproduce every positive
//! vector byte for byte and refuse every negative one with its reason.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde_json::Value;
use warden_core::chain::merkle::{StreamedConsistency, Tree};
use warden_core::chain::published::{self, ConsistencyProof, Finding, Observed, PublishedCheckpoint, compare};
use warden_core::chain::{Digest, public_key};
use warden_core::event::timestamp;

fn vectors() -> Value {
    let text = include_str!("fixtures/checkpoint-vectors.json");
    serde_json::from_str(text).unwrap()
}

fn digest(value: &Value) -> Digest {
    Digest::from_hex(value.as_str().unwrap()).unwrap()
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap()
}

fn key(hex: &Value) -> VerifyingKey {
    public_key(&digest(hex).0).unwrap()
}

fn logs(vectors: &Value) -> BTreeMap<String, Vec<Digest>> {
    vectors["logs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, hashes)| (name.clone(), hashes.as_array().unwrap().iter().map(digest).collect()))
        .collect()
}

#[test]
fn the_checkpoints_are_reproduced_byte_for_byte() {
    let vectors = vectors();
    let seed = digest(&vectors["key"]["seed"]);
    let signer = SigningKey::from_bytes(&seed.0);
    assert_eq!(
        hex::encode(signer.verifying_key().as_bytes()),
        text(&vectors["key"]["public_key"])
    );
    assert_eq!(
        warden_core::chain::key_id(&signer.verifying_key()),
        text(&vectors["key"]["key_id"])
    );
    let original = &logs(&vectors)["original"];
    let tree = Tree::of_hashes(original.clone());
    for root in vectors["roots"].as_array().unwrap() {
        let size = root["tree_size"].as_u64().unwrap();
        assert_eq!(tree.root_at(size), Some(digest(&root["root"])), "root of {size}");
    }
    for vector in vectors["checkpoints"].as_array().unwrap() {
        let size = vector["tree_size"].as_u64().unwrap();
        assert_eq!(tree.root_at(size), Some(digest(&vector["root"])));
        assert_eq!(original[size as usize - 1], digest(&vector["head"]));
        let at: DateTime<Utc> = timestamp::parse(text(&vector["at"])).unwrap();
        let signed = PublishedCheckpoint::sign(size, digest(&vector["root"]), digest(&vector["head"]), &at, &signer);
        assert_eq!(
            published::digest(size, &signed.root, &signed.head, &signed.at),
            digest(&vector["digest"])
        );
        assert_eq!(signed.sig.to_hex(), text(&vector["sig"]));
        assert_eq!(serde_json::to_string(&signed).unwrap(), text(&vector["document"]));
        assert_eq!(PublishedCheckpoint::parse(text(&vector["document"])), Ok(signed));
    }
    let golden = &vectors["golden"];
    let document = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(text(&golden["path"])),
    )
    .unwrap();
    let checkpoint = PublishedCheckpoint::parse(&document).unwrap();
    assert_eq!(
        published::digest(checkpoint.tree_size, &checkpoint.root, &checkpoint.head, &checkpoint.at),
        digest(&golden["digest"])
    );
}

#[test]
fn every_refused_document_is_refused_with_its_reason() {
    let vectors = vectors();
    for vector in vectors["negative"].as_array().unwrap() {
        let name = text(&vector["name"]);
        let reason = text(&vector["reason"]);
        let error = PublishedCheckpoint::parse(text(&vector["text"])).expect_err(name);
        match text(&vector["rule"]) {
            // The JSON reader adds where it stopped.
            "json" | "duplicate_member" => assert!(error.starts_with(reason), "{name}: {error}"),
            _ => assert_eq!(error, reason, "{name}"),
        }
    }
}

#[test]
fn trust_is_by_the_bytes_of_a_pinned_or_announced_key() {
    let vectors = vectors();
    let keys = |list: &Value| list.as_array().unwrap().iter().map(key).collect::<Vec<_>>();
    for vector in vectors["trust"].as_array().unwrap() {
        let name = text(&vector["name"]);
        let checkpoint = PublishedCheckpoint::parse(text(&vector["checkpoint"])).unwrap();
        let trusted = checkpoint.trusted(&keys(&vector["pinned"]), &keys(&vector["announced"]));
        match vector["reason"].as_str() {
            None => assert_eq!(trusted, Ok(()), "{name}"),
            Some(reason) => assert_eq!(trusted, Err(reason.to_string()), "{name}"),
        }
        assert_eq!(vector["trusted"].as_bool(), Some(trusted.is_ok()), "{name}");
    }
}

#[test]
fn every_comparison_finds_what_the_spec_says() {
    let vectors = vectors();
    let logs = logs(&vectors);
    let checkpoints: BTreeMap<u64, PublishedCheckpoint> = vectors["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|vector| {
            let checkpoint = PublishedCheckpoint::parse(text(&vector["document"])).unwrap();
            (checkpoint.tree_size, checkpoint)
        })
        .collect();
    for vector in vectors["comparisons"].as_array().unwrap() {
        let name = text(&vector["name"]);
        let checkpoint = &checkpoints[&vector["checkpoint"].as_u64().unwrap()];
        let log = &logs[text(&vector["log"])];
        let (first, last) = (vector["first"].as_u64().unwrap(), vector["last"].as_u64().unwrap());
        let size = checkpoint.tree_size;
        let observed = Observed {
            first,
            last,
            head: (first <= size && size <= last).then(|| log[size as usize - 1]),
            root: (first == 1 && last >= size).then(|| Tree::of_hashes(log[..size as usize].to_vec()).root()),
        };
        let finding = compare(checkpoint, &observed);
        let expected = match text(&vector["finding"]) {
            "holds" => matches!(finding, Finding::Holds { root_checked: true }),
            "holds_head_only" => matches!(finding, Finding::Holds { root_checked: false }),
            "cut_short" => matches!(finding, Finding::CutShort { .. }),
            "forked_head" => matches!(finding, Finding::Forked { root: false, .. }),
            "forked_root" => matches!(finding, Finding::Forked { root: true, .. }),
            "before" => matches!(finding, Finding::Before { .. }),
            other => panic!("{name}: unknown finding {other}"),
        };
        assert!(expected, "{name}: {finding:?}");
        assert_eq!(finding.failed(), vector["failed"].as_bool().unwrap(), "{name}");
        assert_eq!(finding.verdict(checkpoint), text(&vector["verdict"]), "{name}");
    }
}

#[test]
fn consistency_proofs_are_reproduced_and_checked() {
    let vectors = vectors();
    let original = &logs(&vectors)["original"];
    let tree = Tree::of_hashes(original.clone());
    for vector in vectors["consistency"].as_array().unwrap() {
        let (from, to) = (vector["from"].as_u64().unwrap(), vector["to"].as_u64().unwrap());
        let proof: Vec<Digest> = vector["proof"].as_array().unwrap().iter().map(digest).collect();
        assert_eq!(tree.consistency(from), Some(proof.clone()), "{from} -> {to}");
        let mut streamed = StreamedConsistency::new(from, to).unwrap();
        for hash in &original[..to as usize] {
            streamed.push(hash);
        }
        assert_eq!(streamed.finish(), Some(proof.clone()));
        let document = ConsistencyProof::parse(text(&vector["document"])).unwrap();
        assert_eq!(document, ConsistencyProof::new(from, to, proof));
        assert_eq!(serde_json::to_string(&document).unwrap(), text(&vector["document"]));
        assert_eq!(
            document.proves((from, &digest(&vector["old_root"])), (to, &digest(&vector["new_root"]))),
            Ok(())
        );
    }
    for vector in vectors["consistency_negative"].as_array().unwrap() {
        let name = text(&vector["name"]);
        let reason = text(&vector["reason"]);
        let outcome = ConsistencyProof::parse(text(&vector["document"])).and_then(|document| {
            document.proves(
                (vector["old_size"].as_u64().unwrap(), &digest(&vector["old_root"])),
                (vector["new_size"].as_u64().unwrap(), &digest(&vector["new_root"])),
            )
        });
        assert_eq!(outcome, Err(reason.to_string()), "{name}");
    }
}
