//! The `warden` binary.

use std::process::ExitCode;

use clap::Parser;
use warden_api::cli::{Cli, run};

/// mimalloc: the request path allocates and frees many small buffers from
/// several threads, where glibc's allocator spent an eighth of the CPU of
/// a session check (see docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    run(Cli::parse()).await
}
