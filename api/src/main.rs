//! The `warden` binary.

use std::process::ExitCode;

use clap::Parser;
use warden_api::cli::{Cli, run};

#[tokio::main]
async fn main() -> ExitCode {
    run(Cli::parse()).await
}
