//! What one core can do: the ceiling the ledger's figures are read against.

use std::time::Instant;

use ed25519_dalek::SigningKey;
use serde_json::json;
use warden_core::chain::{self, ChainVerifier, Digest, Envelope};
use warden_core::event::now_micros;
use warden_core::{Actor, ActorKind, Event, Outcome};

pub fn sample_event(seq: u64, prev: Digest) -> Event {
    Event {
        seq,
        id: uuid::Uuid::now_v7(),
        at: now_micros(),
        kind: "app.bench.recorded".into(),
        subject: format!("user:{}", seq % 5000),
        subject_version: 1,
        actor: Actor {
            id: Some(format!("u-{}", seq % 977)),
            org: Some("org-bench".into()),
            ip: Some("203.0.113.7".into()),
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Bench/1.0".into()),
            ..Actor::of_kind(ActorKind::User)
        },
        request_id: uuid::Uuid::now_v7().to_string(),
        outcome: Outcome::Success,
        data: json!({"method": "password", "attempt": seq % 7, "session": format!("s-{seq}"), "device": {"browser": "Firefox", "os": "Linux"}}),
        prev,
        hash: Digest::ZERO,
        key_id: String::new(),
        sig: chain::Signature([0; 64]),
    }
}

pub fn print() {
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let key_id = chain::key_id(&key.verifying_key());
    let count = 20_000u64;
    let mut events: Vec<Event> = (1..=count).map(|seq| sample_event(seq, Digest::ZERO)).collect();
    let started = Instant::now();
    let mut prev = Digest::ZERO;
    for event in &mut events {
        event.prev = prev;
        event.key_id = key_id.clone();
        event.hash = Envelope::of(event).hash().unwrap();
        event.sig = chain::sign(&key, &event.hash);
        prev = event.hash;
    }
    let seal = started.elapsed().as_secs_f64() / count as f64;

    let started = Instant::now();
    for event in &events {
        let hash = Envelope::of(event).hash().unwrap();
        let signature = ed25519_dalek::Signature::from_bytes(&event.sig.0);
        key.verifying_key()
            .verify_strict(&chain::signed_message(&hash), &signature)
            .unwrap();
    }
    let verify_one = started.elapsed().as_secs_f64() / count as f64;

    // Batch verification through the chain verifier, resuming at seq 2
    // with the key pinned (event 1 is no genesis here).
    let mut verifier_from_two = ChainVerifier::resume(2, events[0].hash);
    verifier_from_two.trust(key.verifying_key());
    let started = Instant::now();
    verifier_from_two.check_all(&events[1..], 1).unwrap();
    let verify_batch = started.elapsed().as_secs_f64() / (count - 1) as f64;

    println!("| operation (one core) | µs/event | events/s |");
    println!("| --- | ---: | ---: |");
    for (name, seconds) in [
        ("canonicalize + BLAKE3 + Ed25519 sign", seal),
        ("canonicalize + BLAKE3 + Ed25519 verify (one by one)", verify_one),
        ("chain check, batch signature verification", verify_batch),
    ] {
        println!("| {name} | {:.1} | {:.0} |", seconds * 1e6, 1.0 / seconds);
    }
}
