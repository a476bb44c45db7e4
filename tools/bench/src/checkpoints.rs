//! Published checkpoints: what following the log's root, comparing kept
//! checkpoints and computing consistency proofs cost (decision 0020).
//!
//! - one core: a frontier push per event, and a streamed consistency proof
//!   over `--events` hashes;
//! - on PostgreSQL with `--events` events: `warden verify`'s pass without
//!   checkpoints and with one (the same pass plus the frontier), and a
//!   consistency proof from half the log to all of it as the endpoint
//!   computes it (every event read).

use std::time::Instant;

use warden_core::chain::merkle::{Frontier, StreamedConsistency};
use warden_core::chain::{ChainVerifier, Digest};
use warden_core::ledger::verify::verify_store;

use crate::setup::Target;

pub async fn run(events: u64) {
    println!("## Checkpoints\n");
    // Distinct hashes; their values do not matter to the cost.
    let hashes: Vec<Digest> = (0..events)
        .map(|i| {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&i.to_le_bytes());
            Digest(bytes)
        })
        .collect();
    let started = Instant::now();
    let mut frontier = Frontier::new();
    for hash in &hashes {
        frontier.push(hash);
    }
    let root = frontier.root();
    let push = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut streamed = StreamedConsistency::new(events / 2, events).unwrap();
    for hash in &hashes {
        streamed.push(hash);
    }
    let proof = streamed.finish().unwrap();
    let stream = started.elapsed().as_secs_f64();
    println!("| operation (one core, {events} hashes) | s | hashes/s |");
    println!("| --- | ---: | ---: |");
    println!(
        "| frontier: push every hash, root {} | {push:.2} | {:.0} |",
        &root.to_hex()[..8],
        events as f64 / push
    );
    println!(
        "| streamed consistency proof {} -> {events} ({} hashes) | {stream:.2} | {:.0} |",
        events / 2,
        proof.len(),
        events as f64 / stream
    );

    let target = Target::create("postgres").await;
    crate::load::fill(&target, events).await;
    let started = Instant::now();
    let plain = verify_store(target.store.clone(), ChainVerifier::new(), 2, |_| {})
        .await
        .unwrap();
    let plain_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut followed = Frontier::new();
    let observed = verify_store(target.store.clone(), ChainVerifier::new(), 2, |chunk| {
        for event in chunk {
            followed.push(&event.hash);
        }
    })
    .await
    .unwrap();
    let observed_seconds = started.elapsed().as_secs_f64();
    assert_eq!(plain.events, observed.events);
    let started = Instant::now();
    let size = observed.head.seq;
    let mut streamed = StreamedConsistency::new(size / 2, size).unwrap();
    let mut next = 1;
    while streamed.missing() > 0 {
        let read = target.store.read(next, 10_000).await.unwrap();
        for event in &read {
            streamed.push(&event.hash);
        }
        next += read.len() as u64;
    }
    streamed.finish().unwrap();
    let proof_seconds = started.elapsed().as_secs_f64();
    println!("\n| PostgreSQL, {size} events | s | events/s |");
    println!("| --- | ---: | ---: |");
    println!(
        "| `warden verify` pass (2 threads) | {plain_seconds:.1} | {:.0} |",
        size as f64 / plain_seconds
    );
    println!(
        "| the same with a checkpoint to compare (frontier on every event) | {observed_seconds:.1} | {:.0} |",
        size as f64 / observed_seconds
    );
    println!(
        "| consistency proof {} -> {size} as the endpoint computes it | {proof_seconds:.1} | {:.0} |",
        size / 2,
        size as f64 / proof_seconds
    );
}
