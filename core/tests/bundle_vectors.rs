//! The test vectors of `docs/spec/audit-bundle.md` ("Test vectors").
//!
//! A bundle of the chain vectors' events 2..=3 (`fixtures/chain-vectors.json`)
//! under a checkpoint of the three-event log, built here with the core API
//! and compared with the golden values of `fixtures/bundle-vectors.json`:
//! leaves, nodes, root, proofs, the checkpoint's statement, digest and
//! signature, the marks, the seal, the whole bundle, consistency proofs, and
//! negative bundles with the line each verifier must name. The spec must
//! embed the fixture's values; `tools/spec-check` checks the fixture with
//! an independent verifier.
//!
//! Regenerate only for a deliberate format change:
//! `WARDEN_REGENERATE_VECTORS=1 cargo test -p warden-core --test bundle_vectors`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use warden_core::Event;
use warden_core::chain::bundle::{
    self, Announcement, BundleKey, Entry, FORMAT, Header, Marks, Seal, SealLine, Selection,
};
use warden_core::chain::checkpoint::{self, Checkpoint};
use warden_core::chain::merkle::{self, Tree, verify_consistency};
use warden_core::chain::{self as chain_mod, Digest};

const CREATED_AT: &str = "2026-03-02T09:00:00.000000Z";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn test_key() -> SigningKey {
    SigningKey::from_bytes(&std::array::from_fn(|i| i as u8))
}

fn stranger_key() -> SigningKey {
    SigningKey::from_bytes(&std::array::from_fn(|i| 0x20 + i as u8))
}

/// The chain vectors' events, from their committed wire lines.
fn events() -> Vec<Event> {
    let text = std::fs::read_to_string(root().join("core/tests/fixtures/chain-vectors.json")).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    fixture["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| serde_json::from_str(event["wire"].as_str().unwrap()).unwrap())
        .collect()
}

fn line(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap()
}

fn hexes(digests: &[Digest]) -> Value {
    json!(digests.iter().map(|d| d.to_hex()).collect::<Vec<_>>())
}

/// The bundle of events 2..=3 as lines, and its parts.
struct Built {
    tree: Tree,
    header: Header,
    lines: Vec<String>,
    marks: Vec<Digest>,
    seal: Seal,
}

fn build() -> Built {
    let events = events();
    let key = test_key();
    let key_id = chain_mod::key_id(&key.verifying_key());
    let tree = Tree::of_hashes(events.iter().map(|event| event.hash));
    let checkpoint = Checkpoint::sign(3, tree.root(), events[2].hash, &key_id, &key);
    let header = Header {
        format: FORMAT.into(),
        created_at: CREATED_AT.into(),
        selection: Selection::Range { from: 2, to: 3 },
        checkpoint,
        keys: vec![BundleKey {
            key_id: key_id.clone(),
            public_key: hex::encode(key.verifying_key().as_bytes()),
            announced: Announcement {
                event: events[0].clone(),
                proof: tree.proof(1).unwrap(),
            },
        }],
    };
    let mut running = Marks::new(&header).unwrap();
    let mut marks = vec![running.current()];
    let mut lines = vec![line(&header)];
    for event in &events[1..] {
        let mark = running.add(event);
        marks.push(mark);
        lines.push(line(&Entry {
            event: event.clone(),
            proof: (event.seq == 3).then(|| tree.proof(3).unwrap()),
            mark,
        }));
    }
    let seal = Seal::sign(2, running.current(), &key_id, &key);
    lines.push(line(&SealLine { seal: seal.clone() }));
    Built {
        tree,
        header,
        lines,
        marks,
        seal,
    }
}

fn text(lines: &[String]) -> String {
    lines.join("\n") + "\n"
}

/// Negative bundles: (name, description, bundle text, the line to name).
fn negatives(built: &Built) -> Vec<(&'static str, &'static str, String, u64)> {
    let lines = &built.lines;
    let with = |index: usize, changed: String| {
        let mut all = lines.clone();
        all[index] = changed;
        text(&all)
    };
    let stranger = stranger_key();
    let mut foreign = built.header.clone();
    foreign.checkpoint = Checkpoint::sign(
        3,
        built.tree.root(),
        built.header.checkpoint.head,
        &chain_mod::key_id(&stranger.verifying_key()),
        &stranger,
    );
    let mut short = built.header.clone();
    short.checkpoint = Checkpoint::sign(
        2,
        built.tree.root_at(2).unwrap(),
        events()[1].hash,
        &built.header.checkpoint.key_id,
        &test_key(),
    );
    let mut dropped = lines.clone();
    dropped.remove(2);
    vec![
        (
            "duplicate_member",
            "line 3's data names attempt twice, a forged value first",
            with(2, lines[2].replacen("\"attempt\":3", "\"attempt\":1,\"attempt\":3", 1)),
            3,
        ),
        (
            "unknown_member",
            "line 2 carries a member the format does not define",
            with(1, lines[1].replacen('{', "{\"note\":\"x\",", 1)),
            2,
        ),
        (
            "null_proof",
            "line 2's proof is null instead of absent",
            with(1, lines[1].replacen("\"mark\":", "\"proof\":null,\"mark\":", 1)),
            2,
        ),
        (
            "checkpoint_by_stranger",
            "the checkpoint is signed by a key the bundle does not carry",
            with(0, line(&foreign)),
            1,
        ),
        (
            "range_beyond_checkpoint",
            "the range 2..3 under a checkpoint of a log of 2 events",
            with(0, line(&short)),
            1,
        ),
        (
            "bent_proof",
            "the first hash of line 3's proof changed",
            {
                let proof = built.tree.proof(3).unwrap()[0].to_hex();
                let mut bent = proof.clone().into_bytes();
                bent[0] = if bent[0] == b'0' { b'1' } else { b'0' };
                with(2, lines[2].replacen(&proof, std::str::from_utf8(&bent).unwrap(), 1))
            },
            3,
        ),
        (
            "dropped_event",
            "event 3's line removed: the seal comes after seq 2",
            text(&dropped),
            3,
        ),
        (
            "seal_count",
            "the seal says 3 events",
            with(3, lines[3].replacen("\"events\":2", "\"events\":3", 1)),
            4,
        ),
        ("after_seal", "a line after the seal", text(lines) + "{}\n", 5),
        ("crlf", "CRLF line ends", text(lines).replace('\n', "\r\n"), 1),
    ]
}

fn vectors() -> Value {
    let built = build();
    let events = events();
    let leaves: Vec<Digest> = events.iter().map(|event| merkle::leaf(&event.hash)).collect();
    let checkpoint = &built.header.checkpoint;
    let statement = format!(
        "{{\"head\":\"{}\",\"root\":\"{}\",\"tree_size\":3}}",
        checkpoint.head.to_hex(),
        checkpoint.root.to_hex()
    );
    let header_value = serde_json::to_value(&built.header).unwrap();
    let mut canonical_header = Vec::new();
    chain_mod::canonical::write_value(&header_value, &mut canonical_header).unwrap();
    json!({
        "format": FORMAT,
        "description": "a range bundle of events 2..=3 of the chain vectors, under a checkpoint of the log of 3 events",
        "leaves": hexes(&leaves),
        "node_1_2": merkle::node(&leaves[0], &leaves[1]).to_hex(),
        "root": built.tree.root().to_hex(),
        "proofs": {
            "1": hexes(&built.tree.proof(1).unwrap()),
            "2": hexes(&built.tree.proof(2).unwrap()),
            "3": hexes(&built.tree.proof(3).unwrap()),
        },
        "consistency": {
            "1_3": hexes(&built.tree.consistency(1).unwrap()),
            "2_3": hexes(&built.tree.consistency(2).unwrap()),
            "root_1": built.tree.root_at(1).unwrap().to_hex(),
            "root_2": built.tree.root_at(2).unwrap().to_hex(),
        },
        "checkpoint": {
            "statement": statement,
            "digest": checkpoint::digest(3, &checkpoint.root, &checkpoint.head).to_hex(),
            "sig": checkpoint.sig.to_hex(),
        },
        "canonical_header": String::from_utf8(canonical_header.clone()).unwrap(),
        "canonical_header_length": canonical_header.len(),
        "marks": hexes(&built.marks),
        "seal": { "digest": built.seal.digest.to_hex(), "sig": built.seal.sig.to_hex() },
        "bundle": text(&built.lines),
        "negative": negatives(&built).into_iter().map(|(name, description, bundle, line)| json!({
            "name": name, "description": description, "bundle": bundle, "line": line,
        })).collect::<Vec<_>>(),
    })
}

fn fixture_path() -> PathBuf {
    root().join("core/tests/fixtures/bundle-vectors.json")
}

fn committed() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture_path()).unwrap()).unwrap()
}

#[test]
fn vectors_match_the_committed_fixture() {
    let built = vectors();
    if std::env::var_os("WARDEN_REGENERATE_VECTORS").is_some() {
        std::fs::write(fixture_path(), serde_json::to_string_pretty(&built).unwrap() + "\n").unwrap();
    }
    assert_eq!(
        built,
        committed(),
        "the bundle format changed: see the spec's Versioning"
    );
}

#[test]
fn the_bundle_verifies_and_each_negative_fails_at_its_line() {
    let fixture = committed();
    let verified = bundle::verify(
        fixture["bundle"].as_str().unwrap().as_bytes(),
        &[test_key().verifying_key()],
    )
    .unwrap();
    assert_eq!((verified.first.unwrap().0, verified.last.unwrap().0), (2, 3));
    for negative in fixture["negative"].as_array().unwrap() {
        let error = bundle::verify(negative["bundle"].as_str().unwrap().as_bytes(), &[])
            .expect_err(negative["name"].as_str().unwrap());
        assert_eq!(
            error.line,
            negative["line"].as_u64().unwrap(),
            "{}: {error}",
            negative["name"]
        );
    }
}

#[test]
fn consistency_vectors_verify() {
    let fixture = committed();
    let digest = |value: &Value| Digest::from_hex(value.as_str().unwrap()).unwrap();
    let proof = |value: &Value| value.as_array().unwrap().iter().map(digest).collect::<Vec<_>>();
    let root = digest(&fixture["root"]);
    let consistency = &fixture["consistency"];
    assert!(verify_consistency(
        1,
        3,
        &digest(&consistency["root_1"]),
        &root,
        &proof(&consistency["1_3"])
    ));
    assert!(verify_consistency(
        2,
        3,
        &digest(&consistency["root_2"]),
        &root,
        &proof(&consistency["2_3"])
    ));
    assert!(!verify_consistency(
        2,
        3,
        &digest(&consistency["root_1"]),
        &root,
        &proof(&consistency["2_3"])
    ));
}

#[test]
fn spec_embeds_the_fixture_values() {
    let spec = std::fs::read_to_string(root().join("docs/spec/audit-bundle.md")).unwrap();
    let fixture = committed();
    let mut expected: Vec<String> = Vec::new();
    let mut strings = |value: &Value| {
        fn walk(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::String(text) if text.len() == 64 || text.len() == 128 => out.push(text.clone()),
                Value::Array(items) => items.iter().for_each(|item| walk(item, out)),
                Value::Object(members) => members.values().for_each(|item| walk(item, out)),
                _ => {}
            }
        }
        walk(value, &mut expected);
    };
    for field in [
        "leaves",
        "node_1_2",
        "root",
        "proofs",
        "consistency",
        "checkpoint",
        "marks",
        "seal",
    ] {
        strings(&fixture[field]);
    }
    expected.push(fixture["checkpoint"]["statement"].as_str().unwrap().into());
    expected.push(fixture["canonical_header"].as_str().unwrap().into());
    for negative in fixture["negative"].as_array().unwrap() {
        expected.push(negative["name"].as_str().unwrap().into());
    }
    let missing: Vec<&String> = expected.iter().filter(|value| !spec.contains(value.as_str())).collect();
    assert!(
        missing.is_empty(),
        "docs/spec/audit-bundle.md lacks fixture values: {missing:#?}"
    );
}
