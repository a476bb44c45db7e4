//! `warden archive --through SEQ --out FILE`: moves the oldest events of
//! the PostgreSQL log to a signed bundle and removes their partitions; the
//! rest of the log stays verifiable from the `ledger.archived` event it
//! appends (`docs/decisions/0013-retention.md`, `docs/operations/retention.md`).
//!
//! In order: the range must be whole partitions and free of legal holds;
//! the range is read and verified (hashes, key announcements, the audit
//! directory); its bundle is written and verified; `ledger.archived` is
//! appended; the read models' snapshots are saved past it; then, as the
//! schema owner and in one transaction, the range is recorded and its
//! partitions detached and dropped. Run again after a failure at the last
//! step, it finishes that step with the bundle already written.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use warden_core::chain::bundle;
use warden_core::chain::{ChainVerifier, Digest, SIGNING_KEY_ADDED};
use warden_core::commands::Context;
use warden_core::commands::retention::{self, Archived};
use warden_core::event::Event;
use warden_core::ledger::archive::{ArchiveBoundary, ArchiveRecord, start_verifier};
use warden_core::ledger::postgres::PostgresStore;
use warden_core::ledger::postgres::retention::{Partition, remove_archived};
use warden_core::ledger::{LedgerStore, Snapshot};
use warden_core::{Actor, ActorKind};
use warden_projections::audit::{DIRECTORY_SNAPSHOT, DIRECTORY_SNAPSHOT_VERSION, Directory, org_of};
use warden_projections::projection::read;
use warden_projections::retention::{ArchiveMark, Retention};

use super::say;
use crate::config::{Config, Profile};
use crate::node::Node;

const CHUNK: usize = 5000;

#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// Archive every event up to this seq; it must be the last seq of a
    /// partition (see `--dry-run` for the ones that are).
    #[arg(long)]
    through: u64,
    /// Where to write the range's signed bundle.
    #[arg(long)]
    out: PathBuf,
    /// Check the range (partitions, legal holds, chain) and say what would
    /// be archived; write and remove nothing.
    #[arg(long)]
    dry_run: bool,
}

pub async fn run(config: &Config, args: ArchiveArgs) -> Result<ExitCode, String> {
    let Profile::Production { database_url, .. } = &config.profile else {
        return Err(
            "archiving needs the PostgreSQL log (database_url): the embedded SQLite log keeps \
                    every event (docs/decisions/0013-retention.md)"
                .into(),
        );
    };
    let partitions = PostgresStore::connect(database_url, config.database_role.as_deref(), 1)
        .await
        .map_err(|e| e.to_string())?
        .partitions()
        .await
        .map_err(|e| e.to_string())?;
    let mut node = Node::start(config).await.map_err(|e| e.to_string())?;
    // The evaluator too, so that its snapshot is saved past the boundary
    // when the node stops (what it fires meanwhile, a server fires too:
    // each alert is appended once).
    node.start_alerting().await.map_err(|e| e.to_string())?;
    let result = archive(&args, &partitions, &node).await;
    node.stop().await;
    match result? {
        Step::Done(message) => {
            say(message);
            Ok(ExitCode::SUCCESS)
        }
        Step::Remove(record, partitions) => {
            // The node stopped: its read models' snapshots are saved past
            // the boundary event; the removal checks that they are.
            let mut snapshots = warden_projections::ReadModels::default().snapshot_names();
            snapshots.push(warden_alerting::sink::SNAPSHOT.to_string());
            remove_archived(database_url, &record, &partitions, &snapshots)
            .await
            .map_err(|e| format!("the range is archived, but its partitions are not removed yet: {e}; run the same command again to finish"))?;
            let names: Vec<&str> = partitions.iter().map(|p| p.name.as_str()).collect();
            say(format!(
                "archived seq {}..={} to {}; removed partitions {}; the log now starts at seq {} \
                 (boundary: ledger.archived at seq {})",
                record.boundary.from,
                record.boundary.through,
                args.out.display(),
                names.join(", "),
                record.boundary.through + 1,
                record.boundary.event_seq
            ));
            Ok(ExitCode::SUCCESS)
        }
    }
}

enum Step {
    Done(String),
    Remove(ArchiveRecord, Vec<Partition>),
}

async fn archive(args: &ArchiveArgs, partitions: &[Partition], node: &Node) -> Result<Step, String> {
    let store = node.ledger.store().clone();
    let through = args.through;
    let previous = store.archive_boundary().await.map_err(|e| e.to_string())?;
    let from = previous.as_ref().map_or(1, |boundary| boundary.through + 1);
    if through < from {
        return Err(format!("events up to seq {} are archived already", from - 1));
    }
    let head = store.head().await.map_err(|e| e.to_string())?.seq;
    if through > head {
        return Err(format!("the log ends at seq {head}"));
    }
    let range = whole_partitions(partitions, from, through)?;
    let retention = read(&node.models.retention).clone();
    let done = retention
        .archives()
        .iter()
        .find(|mark| mark.archived.through == through)
        .cloned();
    refuse_range_holds(&retention, from, through)?;

    let pass = read_range(store.as_ref(), previous.as_ref(), from, through, &retention).await?;
    if args.dry_run {
        let names: Vec<&str> = range.iter().map(|p| p.name.as_str()).collect();
        return Ok(Step::Done(format!(
            "would archive seq {from}..={through} ({} events, partitions {}); no legal hold covers them",
            pass.hashes.len(),
            names.join(", ")
        )));
    }
    let mark = match done {
        Some(mark) => {
            // Appended by an earlier run that did not finish: its bundle
            // must be the one given.
            let written = file_blake3(&args.out)?;
            if written != mark.archived.bundle_blake3 {
                return Err(format!(
                    "seq {from}..={through} was archived by ledger.archived at seq {} to a bundle with \
                     BLAKE3 {}; {} is not that bundle",
                    mark.seq,
                    mark.archived.bundle_blake3.to_hex(),
                    args.out.display()
                ));
            }
            mark
        }
        None => write_and_record(node, &args.out, &pass, from, through, range.clone(), &retention).await?,
    };
    save_directory(store.as_ref(), through, &pass.directory).await?;
    Ok(Step::Remove(
        ArchiveRecord {
            boundary: ArchiveBoundary {
                from,
                through,
                event_seq: mark.seq,
                announcements: pass.announcements,
            },
            hashes: pass.hashes,
        },
        range,
    ))
}

/// The partitions that hold exactly `from..=through`.
fn whole_partitions(partitions: &[Partition], from: u64, through: u64) -> Result<Vec<Partition>, String> {
    let range: Vec<Partition> = partitions.iter().filter(|p| p.from <= through).cloned().collect();
    let ends: Vec<String> = partitions.iter().map(|p| (p.to - 1).to_string()).take(5).collect();
    match (range.first(), range.last()) {
        (Some(first), Some(last)) if first.from == from && last.to == through + 1 => Ok(range),
        _ => Err(format!(
            "--through must be the last seq of a partition; partitions end at {} …",
            ends.join(", ")
        )),
    }
}

fn refuse_range_holds(retention: &Retention, from: u64, through: u64) -> Result<(), String> {
    match retention.holds().find(|hold| hold.scope.covers_range(from, through)) {
        Some(hold) => Err(format!(
            "refused: legal hold {} ({}) covers seq {from}..={through}",
            hold.id, hold.reason
        )),
        None => Ok(()),
    }
}

/// What one verified read of the range gathers.
struct Pass {
    hashes: Vec<Digest>,
    /// Every key announcement up to `through`.
    announcements: Vec<Event>,
    /// Who every user created up to `through` is.
    directory: Directory,
    /// The keys the chain trusts after `through`.
    keys: BTreeMap<String, String>,
    last_hash: Digest,
}

/// Reads `from..=through`, verifying the chain, and refuses if an event of
/// an org under a legal hold is among them.
async fn read_range(
    store: &dyn LedgerStore,
    previous: Option<&ArchiveBoundary>,
    from: u64,
    through: u64,
    retention: &Retention,
) -> Result<Pass, String> {
    let mut verifier: ChainVerifier = start_verifier(store, &[]).await.map_err(|e| e.to_string())?;
    let mut directory = match previous {
        Some(_) => load_directory(store).await?,
        None => Directory::default(),
    };
    let mut pass = Pass {
        hashes: Vec::with_capacity((through - from + 1) as usize),
        announcements: previous.map(|b| b.announcements.clone()).unwrap_or_default(),
        directory: Directory::default(),
        keys: BTreeMap::new(),
        last_hash: Digest::ZERO,
    };
    let mut next = from;
    while next <= through {
        let events = store
            .read(next, CHUNK.min((through - next + 1) as usize))
            .await
            .map_err(|e| e.to_string())?;
        if events.is_empty() {
            return Err(format!("the log ends before seq {next}"));
        }
        verifier
            .check_all(&events, 2)
            .map_err(|e| format!("the range fails verification: {e}"))?;
        for event in &events {
            directory.learn(event);
            if let Some(org) = org_of(event, &directory)
                && let Some(hold) = retention.org_legal_holds(&org).next()
            {
                return Err(format!(
                    "refused: legal hold {} ({}) on org {org} covers event seq {}",
                    hold.id, hold.reason, event.seq
                ));
            }
            if event.kind == SIGNING_KEY_ADDED {
                pass.announcements.push(event.clone());
            }
            pass.hashes.push(event.hash);
            next = event.seq + 1;
        }
    }
    pass.keys = verifier.state().keys;
    pass.last_hash = verifier.prev();
    pass.directory = directory;
    Ok(pass)
}

/// Writes the bundle, checks it with the offline verifier's rules, and
/// appends `ledger.archived`.
async fn write_and_record(
    node: &Node,
    out: &Path,
    pass: &Pass,
    from: u64,
    through: u64,
    range: Vec<Partition>,
    retention: &Retention,
) -> Result<ArchiveMark, String> {
    let store = node.ledger.store().clone();
    let key = node.ledger.signer().current().ok_or("no signing key is installed")?;
    let written = {
        let mut file =
            std::io::BufWriter::new(std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?);
        let written = super::export::write_range_bundle(store.as_ref(), key, from, through, &mut file).await?;
        let file = file.into_inner().map_err(|e| format!("{}: {e}", out.display()))?;
        file.sync_all().map_err(|e| format!("{}: {e}", out.display()))?;
        written
    };
    let reader = BufReader::new(std::fs::File::open(out).map_err(|e| format!("{}: {e}", out.display()))?);
    let verified = bundle::verify(reader, &[]).map_err(|e| format!("the bundle written does not verify: {e}"))?;
    if verified.events != pass.hashes.len() as u64 || verified.last.map(|(_, hash)| hash) != Some(pass.last_hash) {
        return Err("the bundle written does not hold the range read".into());
    }
    let archived = Archived {
        from,
        through,
        last_hash: pass.last_hash,
        root: written,
        bundle_blake3: file_blake3(out)?,
        bundle_events: verified.events,
        partitions: range.into_iter().map(|p| p.name).collect(),
        keys: pass.keys.clone(),
    };
    let context = Context {
        actor: Actor::of_kind(ActorKind::System),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    let event = node
        .ledger
        .append_one(retention::archived(&context, &archived, retention.archives_version()))
        .await
        .map_err(|e| e.to_string())?;
    if !node.positions.wait_for(event.seq, Duration::from_secs(30)).await {
        return Err("the read models did not apply the archive event".into());
    }
    Ok(ArchiveMark {
        seq: event.seq,
        archived,
    })
}

fn file_blake3(path: &Path) -> Result<Digest, String> {
    let mut hasher = blake3::Hasher::new();
    let mut file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    std::io::copy(&mut file, &mut hasher).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Digest(*hasher.finalize().as_bytes()))
}

async fn load_directory(store: &dyn LedgerStore) -> Result<Directory, String> {
    match store
        .load_snapshot(DIRECTORY_SNAPSHOT)
        .await
        .map_err(|e| e.to_string())?
    {
        Some(snapshot) if snapshot.version == DIRECTORY_SNAPSHOT_VERSION => {
            serde_json::from_slice(&snapshot.state).map_err(|e| format!("saved audit directory: {e}"))
        }
        _ => Err("the audit directory saved by the previous archive is missing".into()),
    }
}

/// Saves who the archived events created, for audit indexes that start
/// after the boundary.
async fn save_directory(store: &dyn LedgerStore, through: u64, directory: &Directory) -> Result<(), String> {
    let state = serde_json::to_vec(directory).map_err(|e| e.to_string())?;
    store
        .save_snapshots(&[Snapshot {
            name: DIRECTORY_SNAPSHOT.to_string(),
            version: DIRECTORY_SNAPSHOT_VERSION,
            seq: through,
            state,
        }])
        .await
        .map_err(|e| e.to_string())
}
