//! `warden-bench`: measures append throughput and latency, `warden verify`
//! throughput, projection replay throughput and server memory, on
//! PostgreSQL and SQLite, next to this machine's per-core limits for
//! canonicalize + hash + sign and for verify. Prints tables.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, clippy::panic)]

mod alerting;
mod api_keys;
mod audit;
mod checkpoints;
mod console;
mod delivery;
mod limits;
mod load;
mod sessions;
mod setup;
mod sso;
mod vault;

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;

#[derive(Debug, Parser)]
struct Args {
    /// Events in the log for the verify, replay and memory measurements.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Seconds per append-throughput measurement.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Offered load for the latency measurement (events/s).
    #[arg(long, default_value_t = 5000)]
    rate: u64,
    /// The warden binary (for the memory measurement).
    #[arg(long)]
    warden: PathBuf,
    /// Which benchmarks: `ledger` (append, verify, replay, memory),
    /// `sessions` (session checks, sign-in, memory with live sessions) or
    /// `audit` (indexing and queries beside PostgreSQL full-text search,
    /// exports, bundles; `--events` sets the log's size) or `alerting`
    /// (evaluation throughput with 50 rules over `--events` events) or
    /// `delivery` (commit to webhook received at 1,000 events/s, over
    /// `--seconds` (at least 30) of 10 triggers/s, on `--backends`
    /// `sqlite` and `postgres`) or `checkpoints` (following the root,
    /// verify with a kept checkpoint, consistency proofs, over `--events`)
    /// or `api-keys` (verification and forward authentication with
    /// `--keys` keys, beside the empty-handler ceiling; memory per key)
    /// or `vault` (secret reads cached and uncached on the local KMS and
    /// AWS KMS on moto, beside a session check; data-key opens per second)
    /// or `console` (the users list, a user's page and the home page with
    /// `--users` users) or `sso` (the single sign-on callback at Warden
    /// with a local OpenID Provider: latency, callbacks/s at 32
    /// connections, Warden's CPU per callback).
    #[arg(long, default_value = "ledger")]
    suite: String,
    /// Keys in the read model for the api-keys suite.
    #[arg(long, default_value_t = 100_000)]
    keys: u64,
    /// Users in the org for the console suite.
    #[arg(long, default_value_t = 100_000)]
    users: u64,
    /// Live sessions for the sessions suite's memory measurement.
    #[arg(long, default_value_t = 100_000)]
    sessions: u64,
    /// Backends to measure.
    #[arg(long, value_delimiter = ',', default_value = "postgres,postgres-socket,sqlite")]
    backends: Vec<String>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if args.suite == "sso" {
        sso::run(&args.warden).await;
        return;
    }
    if args.suite == "console" {
        console::run(&args.warden, args.users).await;
        return;
    }
    if args.suite == "vault" {
        vault::run(&args.warden, args.seconds).await;
        return;
    }
    if args.suite == "api-keys" {
        api_keys::run(&args.warden, args.seconds, args.keys).await;
        return;
    }
    if args.suite == "sessions" {
        sessions::run(&args.warden, args.seconds, args.sessions).await;
        return;
    }
    if args.suite == "alerting" {
        alerting::run(args.events);
        return;
    }
    if args.suite == "delivery" {
        delivery::run(&args.warden, args.seconds.max(30), &args.backends).await;
        return;
    }
    if args.suite == "checkpoints" {
        checkpoints::run(args.events).await;
        return;
    }
    if args.suite == "audit" {
        audit::run(&args.warden, args.events).await;
        return;
    }
    println!("## Machine limits (one core)\n");
    limits::print();
    for backend in &args.backends {
        let started = Instant::now();
        println!("\n## {backend}\n");
        let target = setup::Target::create(backend).await;
        load::throughput_table(&target, args.seconds).await;
        load::latency_row(&target, args.rate, args.seconds).await;
        if backend == "postgres-socket" {
            // Appends only: reading back is the same as over TCP.
            continue;
        }
        load::fill(&target, args.events).await;
        load::verify_row(&target).await;
        load::replay_row(&target).await;
        load::memory_row(&target, &args.warden).await;
        println!("\n({backend} done in {:.0} s)", started.elapsed().as_secs_f64());
    }
}
