//! `warden export --from A [--to B] [--out FILE] [--bundle]`: events as
//! JSON Lines, one event per line in its wire form, streamed; or, with
//! `--bundle`, a signed bundle of the range that verifies offline
//! (`warden verify --bundle`, `tools/bundle-verify`).

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
    /// Write a signed bundle (header with a signed checkpoint of the log,
    /// the events, a signed seal) instead of plain JSON Lines.
    #[arg(long)]
    bundle: bool,
}

pub async fn run(config: &Config, args: ExportArgs) -> Result<ExitCode, String> {
    let store = open_existing_store(config).await.map_err(|e| e.to_string())?;
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| e.to_string())?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    if args.bundle {
        return bundle(config, &args, store, out).await;
    }
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

/// A range bundle: the events `from..=to`, chained, the last one with its
/// inclusion proof under a checkpoint of the whole log (decision 0019).
async fn bundle(
    config: &Config,
    args: &ExportArgs,
    store: std::sync::Arc<dyn warden_core::ledger::LedgerStore>,
    mut out: Box<dyn Write>,
) -> Result<ExitCode, String> {
    use warden_core::ledger::Ledger;

    let ledger = Ledger::new(store.clone());
    let kms = crate::node::open_kms(config).await.map_err(|e| e.to_string())?;
    warden_core::keys::signing::adopt_latest(&ledger, &kms)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the log has no signing key")?;
    let key = ledger.signer().current().ok_or("the log has no signing key")?;
    let head = store.head().await.map_err(|e| e.to_string())?.seq;
    let to = args.to.unwrap_or(head).min(head);
    let from = args.from.max(1);
    if from > to {
        return Err(format!(
            "nothing to export: the range {from}..{to} is empty (the log ends at {head})"
        ));
    }
    write_range_bundle(store.as_ref(), key, from, to, &mut out).await?;
    out.flush().map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the bundle of events `from..=to`, signed with `key`, its
/// checkpoint at the log's head, read after `key` was chosen so that the
/// checkpoint reaches the key's announcement even when the range ends
/// before it. Returns the root of the log's first `to` events.
pub(crate) async fn write_range_bundle(
    store: &dyn warden_core::ledger::LedgerStore,
    key: std::sync::Arc<warden_core::ledger::signer::ActiveKey>,
    from: u64,
    to: u64,
    out: &mut dyn Write,
) -> Result<warden_core::chain::Digest, String> {
    use warden_core::chain::bundle::Selection;
    use warden_core::ledger::bundle::BundleWriter;

    let head = store.head().await.map_err(|e| e.to_string())?.seq;
    let mut writer = BundleWriter::prepare(store, key, Selection::Range { from, to }, head.max(to))
        .await
        .map_err(|e| e.to_string())?;
    let root_at_to = writer.root_at(to).ok_or("the range ends after the log")?;
    let mut write = |line: Result<Vec<u8>, serde_json::Error>| {
        let bytes = line.map_err(|e| format!("a bundle line could not be written: {e}"))?;
        out.write_all(&bytes).map_err(|e| e.to_string())
    };
    write(writer.header_line())?;
    let mut next = from;
    while next <= to {
        let events = store
            .read(next, 5000.min((to - next + 1) as usize))
            .await
            .map_err(|e| e.to_string())?;
        match events.first() {
            None => return Err(format!("the log ends at {} before {to}", next - 1)),
            Some(first) if first.seq != next => {
                return Err(format!("seq {next} is not in the log (it was archived)"));
            }
            Some(_) => {}
        }
        for event in &events {
            write(writer.entry_line(event, event.seq == to))?;
            next = event.seq + 1;
        }
    }
    write(writer.seal_line())?;
    Ok(root_at_to)
}
