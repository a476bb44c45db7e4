//! `warden export --from A [--to B] [--out FILE]`: events as JSON Lines,
//! one event per line in its wire form, streamed.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::config::Config;
use crate::node::open_existing_store;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// First seq to export.
    #[arg(long, default_value_t = 1)]
    from: u64,
    /// Last seq to export (default: the head).
    #[arg(long)]
    to: Option<u64>,
    /// Output file (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub async fn run(config: &Config, args: ExportArgs) -> Result<ExitCode, String> {
    let store = open_existing_store(config).await.map_err(|e| e.to_string())?;
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| e.to_string())?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let to = args.to.unwrap_or(u64::MAX);
    let mut next = args.from.max(1);
    while next <= to {
        let events = store.read(next, 5000).await.map_err(|e| e.to_string())?;
        if events.is_empty() {
            break;
        }
        for event in events.iter().take_while(|event| event.seq <= to) {
            serde_json::to_writer(&mut out, event).map_err(|e| e.to_string())?;
            out.write_all(b"\n").map_err(|e| e.to_string())?;
            next = event.seq + 1;
        }
        if events.last().is_some_and(|event| event.seq >= to) {
            break;
        }
    }
    out.flush().map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}
