//! `warden legal-hold place|release|list` (or `warden hold …`): legal
//! holds from the operator's command line. A hold on an org or a seq
//! range blocks `warden archive` from removing any event it covers;
//! placing and releasing are events. Org owners place and release holds
//! on their own org through the API.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use warden_core::commands::Context;
use warden_core::commands::retention::{self, HoldScope, LegalHoldPlaced, LegalHoldReleased};
use warden_core::{Actor, ActorKind};
use warden_projections::projection::read;

use super::say;
use crate::config::Config;
use crate::node::Node;

#[derive(Debug, Subcommand)]
pub enum LegalHoldCommand {
    /// Place a legal hold on an org's trail or on a range of seqs.
    Place(PlaceArgs),
    /// Release a legal hold.
    Release {
        /// The hold's id.
        hold: String,
        /// Why it is released (recorded in the event).
        #[arg(long)]
        reason: String,
    },
    /// List the holds in force.
    List,
}

#[derive(Debug, Args)]
pub struct PlaceArgs {
    /// Hold every event of this org's trail.
    #[arg(long, conflicts_with_all = ["from", "to"], required_unless_present = "from")]
    org: Option<String>,
    /// Hold the events from this seq …
    #[arg(long, requires = "to")]
    from: Option<u64>,
    /// … to this seq, included.
    #[arg(long, requires = "from")]
    to: Option<u64>,
    /// Why (a matter, a case number); recorded in the event.
    #[arg(long)]
    reason: String,
}

pub async fn run(config: &Config, command: LegalHoldCommand) -> Result<ExitCode, String> {
    if let LegalHoldCommand::List = command {
        let models = super::read_models(config).await?;
        let retention = read(&models.retention).clone();
        for hold in retention.holds() {
            let scope = match &hold.scope {
                HoldScope::Org { org } => format!("org {org}"),
                HoldScope::Range { from, to } => format!("seq {from}..={to}"),
            };
            say(format!(
                "{}\t{scope}\tplaced {}\t{}",
                hold.id, hold.placed_at, hold.reason
            ));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let node = Node::start(config).await.map_err(|e| e.to_string())?;
    let result = change(&node, command).await;
    node.stop().await;
    say(result?);
    Ok(ExitCode::SUCCESS)
}

async fn change(node: &Node, command: LegalHoldCommand) -> Result<String, String> {
    let context = Context {
        actor: Actor::of_kind(ActorKind::System),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    let event = match command {
        LegalHoldCommand::Place(args) => {
            let scope = match (args.org, args.from, args.to) {
                (Some(org), _, _) => HoldScope::Org { org },
                (None, Some(from), Some(to)) if from <= to && from > 0 => HoldScope::Range { from, to },
                _ => return Err("a range hold needs 0 < --from <= --to".into()),
            };
            if args.reason.trim().is_empty() {
                return Err("--reason must say why".into());
            }
            let placed = LegalHoldPlaced {
                hold: uuid::Uuid::now_v7().to_string(),
                scope,
                reason: args.reason,
            };
            retention::legal_hold_placed(&context, &placed)
        }
        LegalHoldCommand::Release { hold, reason } => {
            let Some(version) = read(&node.models.retention).hold(&hold).map(|held| held.version) else {
                return Err(format!("no legal hold {hold} is in force"));
            };
            retention::legal_hold_released(&context, version, &LegalHoldReleased { hold, reason })
        }
        LegalHoldCommand::List => unreachable!("listed without a node"),
    };
    let event = node.ledger.append_one(event).await.map_err(|e| e.to_string())?;
    let hold = event.data.get("hold").and_then(|v| v.as_str()).unwrap_or_default();
    Ok(format!("{} {hold} (seq {})", event.kind, event.seq))
}
