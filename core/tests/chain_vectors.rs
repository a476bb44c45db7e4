//! The test vectors of `docs/spec/audit-chain.md` ("Test vectors").
//!
//! The events are built here with the core API and compared with the golden
//! values committed in `fixtures/chain-vectors.json`, so any change of the
//! canonical form, the hash, the signature or the wire form (a serde rename
//! included) fails. The spec must embed exactly the fixture's values, and
//! `tools/spec-check` checks the fixture with an independent verifier.
//!
//! Regenerate the fixture only for a deliberate format change (which needs a
//! new format version, see the spec's "Versioning"):
//! `WARDEN_REGENERATE_VECTORS=1 cargo test -p warden-core --test chain_vectors`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use warden_core::chain::{self, ChainError, ChainVerifier, Digest, Envelope, Signature};
use warden_core::event::timestamp;
use warden_core::{Actor, ActorKind, Event, Outcome};

/// The test signing key's seed: bytes 0x00, 0x01, …, 0x1f.
fn test_key() -> SigningKey {
    SigningKey::from_bytes(&std::array::from_fn(|i| i as u8))
}

/// A key the chain never announces (seed 0x20, 0x21, …, 0x3f).
fn stranger_key() -> SigningKey {
    SigningKey::from_bytes(&std::array::from_fn(|i| 0x20 + i as u8))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture_path() -> PathBuf {
    root().join("core/tests/fixtures/chain-vectors.json")
}

#[allow(clippy::too_many_arguments)]
fn sealed(
    seq: u64,
    id: &str,
    at: &str,
    kind: &str,
    subject: &str,
    actor: Actor,
    request_id: &str,
    outcome: Outcome,
    data: Value,
    prev: Digest,
) -> Event {
    let mut event = Event {
        seq,
        id: id.parse().unwrap(),
        at: timestamp::parse(at).unwrap(),
        kind: kind.into(),
        subject: subject.into(),
        subject_version: 1,
        actor,
        request_id: request_id.into(),
        outcome,
        data,
        prev,
        hash: Digest::ZERO,
        key_id: String::new(),
        sig: Signature([0; 64]),
    };
    sign_with(&mut event, &test_key());
    event
}

fn sign_with(event: &mut Event, key: &SigningKey) {
    event.key_id = chain::key_id(&key.verifying_key());
    event.hash = Envelope::of(event).hash().unwrap();
    event.sig = chain::sign(key, &event.hash);
}

/// The three events of the vectors, in chain order.
fn chain_events() -> Vec<Event> {
    let public = test_key().verifying_key();
    let genesis = sealed(
        1,
        "019cad8f-ac78-7000-8000-000000000001",
        "2026-03-02T08:00:00.120000Z",
        chain::SIGNING_KEY_ADDED,
        chain::LEDGER_SUBJECT,
        Actor::system(),
        "genesis",
        Outcome::Success,
        chain::signing_key_added_data(&public),
        Digest::ZERO,
    );
    let mut user = Actor::of_kind(ActorKind::User);
    user.id = Some("usr_01J9Z3K4M5".into());
    user.org = Some("org_acme".into());
    user.ip = Some("203.0.113.7".into());
    user.user_agent = Some("Mozilla/5.0 (X11; Linux x86_64) AcmeBilling/2.4".into());
    let paid = sealed(
        2,
        "019cad9c-f850-7a3c-9f21-4b5d6e7f8091",
        "2026-03-02T08:14:31.504211Z",
        "app.invoice.paid",
        "invoice:inv_2026_0042",
        user,
        "req_7f3a9c2e",
        Outcome::Success,
        json!({
            "amount": {"currency": "EUR", "minor_units": 129900},
            "lines": [
                {"sku": "WID-1", "qty": 2, "unit_minor": 49950},
                {"sku": "SVC-9", "qty": 1, "unit_minor": 30000},
            ],
            "balance_change_minor": -129900,
            "customer": "Zoë Ärger, 東京",
            "memo": "said \"paid\" via C:\\pay\nline 2\u{1}end",
            "labels": {"\u{fb01}": "ligature", "\u{1f4b6}": "banknote"},
            "refund_of": null,
            "settled": true,
        }),
        genesis.hash,
    );
    let failed = sealed(
        3,
        "019cad9d-6f70-7c01-a4e2-33c4d5e6f702",
        "2026-03-02T08:15:02.000007Z",
        "login.failed",
        "user:usr_01J9Z3K4M5",
        Actor::of_kind(ActorKind::Anonymous),
        "req_b81d04e6",
        Outcome::Failure,
        json!({"reason": "bad_password", "attempt": 3}),
        paid.hash,
    );
    vec![genesis, paid, failed]
}

fn wire(event: &Event) -> String {
    serde_json::to_string(event).unwrap()
}

/// A broken variant of the chain and the error it must produce.
struct Negative {
    name: &'static str,
    description: &'static str,
    events: Vec<Event>,
    error: ChainError,
}

fn negatives() -> Vec<Negative> {
    let good = chain_events();
    let [one, two, three] = [good[0].clone(), good[1].clone(), good[2].clone()];
    let mut altered = two.clone();
    altered.data["amount"]["minor_units"] = json!(1299);
    let mut relinked = three.clone();
    relinked.prev = one.hash;
    let mut forged = three.clone();
    forged.sig.0[0] ^= 0x01;
    let mut stranger = three.clone();
    sign_with(&mut stranger, &stranger_key());
    vec![
        Negative {
            name: "altered_data",
            description: "seq 2 with data.amount.minor_units changed from 129900 to 1299, hash and sig kept",
            events: vec![one.clone(), altered, three.clone()],
            error: ChainError::HashMismatch { seq: 2 },
        },
        Negative {
            name: "dropped_event",
            description: "seq 2 removed",
            events: vec![one.clone(), three.clone()],
            error: ChainError::Missing { expected: 2, found: 3 },
        },
        Negative {
            name: "wrong_prev",
            description: "seq 3 with prev set to the hash of seq 1, hash and sig kept",
            events: vec![one.clone(), two.clone(), relinked],
            error: ChainError::BrokenLink { seq: 3, previous: 2 },
        },
        Negative {
            name: "replayed_event",
            description: "seq 2 repeated after itself",
            events: vec![one.clone(), two.clone(), two.clone()],
            error: ChainError::OutOfOrder { seq: 2, expected: 3 },
        },
        Negative {
            name: "bad_signature",
            description: "seq 3 with the lowest bit of the first sig byte flipped",
            events: vec![one.clone(), two.clone(), forged],
            error: ChainError::BadSignature {
                seq: 3,
                key_id: three.key_id.clone(),
            },
        },
        Negative {
            name: "unknown_key",
            description: "seq 3 signed by the unannounced key with seed 0x20..0x3f (key_id replaced; the hash is unchanged because key_id is not hashed)",
            events: vec![one, two, stranger.clone()],
            error: ChainError::UnknownKey {
                seq: 3,
                key_id: stranger.key_id,
            },
        },
    ]
}

fn variant(error: &ChainError) -> &'static str {
    match error {
        ChainError::Missing { .. } => "Missing",
        ChainError::OutOfOrder { .. } => "OutOfOrder",
        ChainError::BrokenLink { .. } => "BrokenLink",
        ChainError::HashMismatch { .. } => "HashMismatch",
        ChainError::NotCanonical { .. } => "NotCanonical",
        ChainError::UnknownKey { .. } => "UnknownKey",
        ChainError::BadSignature { .. } => "BadSignature",
        ChainError::BadKeyAnnouncement { .. } => "BadKeyAnnouncement",
        ChainError::BadBoundary { .. } => "BadBoundary",
    }
}

/// The golden values, as stored in the fixture.
fn vectors() -> Value {
    let key = test_key();
    let public = key.verifying_key();
    let events: Vec<Value> = chain_events()
        .iter()
        .map(|event| {
            let canonical = Envelope::of(event).canonical().unwrap();
            json!({
                "seq": event.seq,
                "canonical": String::from_utf8(canonical).unwrap(),
                "hash": event.hash.to_hex(),
                "signed_message": hex::encode(chain::signed_message(&event.hash)),
                "sig": event.sig.to_hex(),
                "wire": wire(event),
            })
        })
        .collect();
    let negatives: Vec<Value> = negatives()
        .iter()
        .map(|negative| {
            json!({
                "name": negative.name,
                "description": negative.description,
                "lines": negative.events.iter().map(wire).collect::<Vec<_>>(),
                "error": {
                    "variant": variant(&negative.error),
                    "seq": negative.error.seq(),
                    "message": negative.error.to_string(),
                },
            })
        })
        .collect();
    json!({
        "format": "warden-audit-chain-vectors/v1",
        "domains": {
            "event": String::from_utf8(chain::HASH_DOMAIN.to_vec()).unwrap(),
            "signature": String::from_utf8(chain::SIGNATURE_DOMAIN.to_vec()).unwrap(),
            "key_id": String::from_utf8(chain::KEY_ID_DOMAIN.to_vec()).unwrap(),
        },
        "signing_key": {
            "seed": hex::encode(key.to_bytes()),
            "public_key": hex::encode(public.as_bytes()),
            "key_id": chain::key_id(&public),
        },
        "stranger_key": {
            "seed": hex::encode(stranger_key().to_bytes()),
            "public_key": hex::encode(stranger_key().verifying_key().as_bytes()),
            "key_id": chain::key_id(&stranger_key().verifying_key()),
        },
        "events": events,
        "negative": negatives,
    })
}

fn committed() -> Value {
    let text = std::fs::read_to_string(fixture_path()).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn vectors_match_the_committed_fixture() {
    let generated = vectors();
    if std::env::var_os("WARDEN_REGENERATE_VECTORS").is_some() {
        let mut text = serde_json::to_string_pretty(&generated).unwrap();
        text.push('\n');
        std::fs::create_dir_all(fixture_path().parent().unwrap()).unwrap();
        std::fs::write(fixture_path(), text).unwrap();
    }
    let committed = committed();
    for key in ["format", "domains", "signing_key", "stranger_key"] {
        assert_eq!(generated[key], committed[key], "fixture: {key}");
    }
    let generated_events = generated["events"].as_array().unwrap();
    let committed_events = committed["events"].as_array().unwrap();
    assert_eq!(generated_events.len(), committed_events.len());
    for (ours, theirs) in generated_events.iter().zip(committed_events) {
        for field in ["seq", "canonical", "hash", "signed_message", "sig", "wire"] {
            assert_eq!(ours[field], theirs[field], "seq {}: {field}", ours["seq"]);
        }
    }
    assert_eq!(generated["negative"], committed["negative"], "negative vectors");
    assert_eq!(generated, committed);
}

#[test]
fn test_key_has_the_published_identity() {
    let fixture = committed();
    let key = &fixture["signing_key"];
    let seed: String = (0u8..32).map(|b| format!("{b:02x}")).collect();
    assert_eq!(key["seed"], seed.as_str());
    // The public key of seed 00..1f (RFC 8032 key derivation).
    assert_eq!(
        key["public_key"],
        hex::encode(test_key().verifying_key().as_bytes()).as_str()
    );
    let public: [u8; 32] = hex::decode(key["public_key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"warden/audit-chain/v1/key-id\n");
    hasher.update(&public);
    let expected = format!("ed25519-{}", hex::encode(&hasher.finalize().as_bytes()[..8]));
    assert_eq!(key["key_id"], expected.as_str());
}

fn parse_lines(lines: &Value) -> Vec<Event> {
    lines
        .as_array()
        .unwrap()
        .iter()
        .map(|line| serde_json::from_str(line.as_str().unwrap()).unwrap())
        .collect()
}

#[test]
fn fixture_chain_verifies_from_its_wire_form() {
    let fixture = committed();
    let lines: Vec<Value> = fixture["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["wire"].clone())
        .collect();
    let events = parse_lines(&Value::Array(lines.clone()));
    for (event, line) in events.iter().zip(&lines) {
        // The wire form round-trips byte for byte.
        assert_eq!(wire(event), line.as_str().unwrap());
    }

    let mut one_by_one = ChainVerifier::new();
    for event in &events {
        one_by_one.check(event).unwrap();
    }
    let mut batched = ChainVerifier::new();
    batched.check_all(&events, 2).unwrap();
    assert_eq!(batched.next_seq(), 4);
    assert_eq!(batched.prev(), events[2].hash);

    // Pinned to the test key: accepted. Pinned to another key: refused.
    let mut pinned = ChainVerifier::new();
    pinned.trust(test_key().verifying_key());
    pinned.check_all(&events, 1).unwrap();
    let mut pinned_elsewhere = ChainVerifier::new();
    pinned_elsewhere.trust(stranger_key().verifying_key());
    let error = pinned_elsewhere.check_all(&events, 1).unwrap_err();
    assert!(matches!(error, ChainError::UnknownKey { seq: 1, .. }));

    // A range after seq 1 is anchored on its first prev and needs a key.
    let mut range = ChainVerifier::resume(2, events[1].prev);
    let error = range.clone().check_all(&events[1..], 1).unwrap_err();
    assert!(matches!(error, ChainError::UnknownKey { seq: 2, .. }));
    range.trust(test_key().verifying_key());
    range.check_all(&events[1..], 1).unwrap();
}

#[test]
fn negative_vectors_fail_with_the_named_error() {
    let fixture = committed();
    for negative in fixture["negative"].as_array().unwrap() {
        let name = negative["name"].as_str().unwrap();
        let events = parse_lines(&negative["lines"]);
        let expected = &negative["error"];
        let mut one_by_one = ChainVerifier::new();
        let error = events.iter().try_for_each(|event| one_by_one.check(event)).unwrap_err();
        let mut batched = ChainVerifier::new();
        let batch_error = batched.check_all(&events, 2).unwrap_err();
        assert_eq!(error, batch_error, "{name}");
        assert_eq!(variant(&error), expected["variant"], "{name}");
        assert_eq!(error.seq(), expected["seq"], "{name}");
        assert_eq!(error.to_string(), expected["message"], "{name}");
        // Both stop before the bad event.
        assert_eq!(batched.next_seq(), one_by_one.next_seq(), "{name}");
    }
}

#[test]
fn spec_embeds_the_fixture_values() {
    let spec = std::fs::read_to_string(root().join("docs/spec/audit-chain.md")).unwrap();
    let fixture = committed();
    let mut expected: Vec<String> = Vec::new();
    for key in ["signing_key", "stranger_key"] {
        for field in ["seed", "public_key", "key_id"] {
            expected.push(fixture[key][field].as_str().unwrap().into());
        }
    }
    for event in fixture["events"].as_array().unwrap() {
        for field in ["canonical", "hash", "signed_message", "sig", "wire"] {
            expected.push(event[field].as_str().unwrap().into());
        }
    }
    for negative in fixture["negative"].as_array().unwrap() {
        expected.push(negative["error"]["message"].as_str().unwrap().into());
    }
    let missing: Vec<&String> = expected.iter().filter(|value| !spec.contains(value.as_str())).collect();
    assert!(
        missing.is_empty(),
        "docs/spec/audit-chain.md lacks fixture values: {missing:#?}"
    );
}
