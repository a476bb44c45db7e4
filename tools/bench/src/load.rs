//! The measurements, each printing its table rows.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use warden_core::bus::local::LocalBus;
use warden_core::chain::ChainVerifier;
use warden_core::ledger::verify::verify_store;
use warden_projections::{ReadModels, Runner};

use crate::setup::{Target, sample};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn next() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

pub async fn throughput_table(target: &Target, seconds: u64) {
    println!("| append, one event per call | writers | events/s |");
    println!("| --- | ---: | ---: |");
    for writers in [1usize, 8, 64] {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let tasks: Vec<_> = (0..writers)
            .map(|_| {
                let ledger = target.ledger.clone();
                tokio::spawn(async move {
                    let mut count = 0u64;
                    while Instant::now() < deadline {
                        ledger.append_one(sample(next())).await.unwrap();
                        count += 1;
                    }
                    count
                })
            })
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap();
        }
        let rate = total as f64 / started.elapsed().as_secs_f64();
        println!("| {} | {writers} | {rate:.0} |", target.name);
    }
}

/// Open loop: one append every 1/rate s whatever the answers do.
pub async fn latency_row(target: &Target, rate: u64, seconds: u64) {
    let total = rate * seconds;
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let started = Instant::now();
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    for i in 0..total {
        let due = started + period * i as u32;
        let now = Instant::now();
        if due > now {
            tokio::time::sleep(due - now).await;
        }
        let ledger = target.ledger.clone();
        let sender = sender.clone();
        tokio::spawn(async move {
            ledger.append_one(sample(next())).await.unwrap();
            let _ = sender.send(due.elapsed());
        });
    }
    drop(sender);
    let mut latencies = Vec::with_capacity(total as usize);
    while let Some(latency) = receiver.recv().await {
        latencies.push(latency);
    }
    let achieved = total as f64 / started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)].as_secs_f64() * 1e3;
    println!("\n| append latency at {rate} events/s offered | achieved events/s | p50 ms | p99 ms | max ms |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    println!(
        "| {} | {achieved:.0} | {:.2} | {:.2} | {:.2} |",
        target.name,
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

/// Fills the log to `events` with 64 writers appending 100-event commands.
pub async fn fill(target: &Target, events: u64) {
    let started = Instant::now();
    let head = target.ledger.head().await.unwrap().seq;
    let remaining = Arc::new(AtomicU64::new(events.saturating_sub(head)));
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let ledger = target.ledger.clone();
            let remaining = remaining.clone();
            tokio::spawn(async move {
                loop {
                    let take = remaining
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                            (left > 0).then(|| left.saturating_sub(100))
                        })
                        .unwrap_or(0)
                        .min(100);
                    if take == 0 {
                        return;
                    }
                    ledger
                        .append((0..take).map(|_| sample(next())).collect())
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let head = target.ledger.head().await.unwrap().seq;
    println!(
        "\nlog filled to {head} events in {:.1} s ({:.0} events/s with 100-event commands)",
        started.elapsed().as_secs_f64(),
        (head as f64) / started.elapsed().as_secs_f64()
    );
}

pub async fn verify_row(target: &Target) {
    let started = Instant::now();
    let verified = verify_store(target.store.clone(), ChainVerifier::new(), 2, |_| {})
        .await
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    println!("\n| measurement | events | seconds | events/s |");
    println!("| --- | ---: | ---: | ---: |");
    println!(
        "| {} `warden verify` (2 threads) | {} | {seconds:.1} | {:.0} |",
        target.name,
        verified.events,
        verified.events as f64 / seconds
    );
}

pub async fn replay_row(target: &Target) {
    let models = ReadModels::default();
    let started = Instant::now();
    let (mut runner, _) = Runner::restore(target.store.clone(), Arc::new(LocalBus::default()), &models)
        .await
        .unwrap();
    let position = runner.catch_up().await.unwrap();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "| {} projection replay, signatures checked | {position} | {seconds:.1} | {:.0} |",
        target.name,
        position as f64 / seconds
    );
}

/// Starts `warden serve` on the filled log (no snapshot: it replays it all)
/// and reads its memory once it listens.
pub async fn memory_row(target: &Target, warden: &std::path::Path) {
    let log_path = target.dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut command = std::process::Command::new(warden);
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("WARDEN_DATA_DIR", target.dir.path())
        .env("WARDEN_LOG_FORMAT", "text")
        .env("NO_COLOR", "1")
        .stderr(log)
        .stdout(std::process::Stdio::null());
    if let Some((_, _, url)) = &target.postgres {
        command.env("DATABASE_URL", url);
    }
    let started = Instant::now();
    let mut child = command.spawn().unwrap();
    while !std::fs::read_to_string(&log_path)
        .unwrap_or_default()
        .contains("listening on")
    {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "warden exited {status}: {}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready = started.elapsed().as_secs_f64();
    let (rss, peak) = crate::sessions::rss_mib(child.id());
    println!(
        "\n`warden serve` on the {} log: ready after {ready:.1} s (replay included); RSS {rss:.0} MiB, peak {peak:.0} MiB",
        target.name,
    );
    let _ = child.kill();
    let _ = child.wait();
}
