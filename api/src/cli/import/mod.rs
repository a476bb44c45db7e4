//! `warden import`: brings users, orgs and password hashes over from an
//! existing PostgreSQL table (a legacy `organization_users` / `org_users`),
//! as one batch of events under an import id. `--dry-run` only reports;
//! `--revert ID` undoes an import with compensating events. The column
//! mapping and the report are documented in `docs/guides/import.md`.

mod apply;
mod plan;
mod source;

use std::process::ExitCode;

use clap::Args;
use warden_core::Actor;
use warden_core::commands::Context;
use warden_projections::projection::read;

use super::say;
use crate::config::Config;
use crate::node::Node;

use apply::{import, revert_with};
use plan::{plan, report_json};
use source::{mapping, read_rows};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// PostgreSQL URL of the database holding the legacy table.
    #[arg(
        long,
        env = "WARDEN_IMPORT_SOURCE",
        hide_env_values = true,
        required_unless_present = "revert"
    )]
    source: Option<String>,
    /// The legacy table (`schema.table` allowed).
    #[arg(long, default_value = "organization_users")]
    table: String,
    /// Map a Warden field to a column: `email=user_email`. Fields: id,
    /// email, display_name, org, role, password_hash, active.
    #[arg(long = "column", value_name = "FIELD=COLUMN")]
    columns: Vec<String>,
    /// Report what would be imported; append nothing.
    #[arg(long)]
    dry_run: bool,
    /// Let users join orgs that exist in Warden already (matched by slug);
    /// without it such rows are skipped. Legacy owners join as admins.
    #[arg(long)]
    into_existing: bool,
    /// Undo the import with this id (compensating events; nothing deleted).
    #[arg(long, value_name = "IMPORT_ID", conflicts_with_all = ["source", "dry_run"])]
    revert: Option<String>,
}

pub async fn run(config: &Config, args: ImportArgs) -> Result<ExitCode, String> {
    if let Some(id) = &args.revert {
        return revert(config, id).await;
    }
    let columns = mapping(&args)?;
    let source = args.source.clone().ok_or("--source is required")?;
    let rows = read_rows(&source, &args.table, &columns).await?;
    if args.dry_run {
        let models = super::read_models(config).await?;
        let accounts = read(&models.accounts).clone();
        let (users, orgs, report) = plan(&rows, &accounts, args.into_existing);
        say(report_json(&report, users.len(), &orgs, None));
        return Ok(ExitCode::SUCCESS);
    }
    let node = Node::start(config).await.map_err(|e| e.to_string())?;
    let result = import(&node, &args.table, &rows, args.into_existing).await;
    node.stop().await;
    let report = result?;
    say(report);
    Ok(ExitCode::SUCCESS)
}

pub(super) fn context(import_id: &str) -> Context {
    let mut actor = Actor::system();
    actor.id = Some("warden-import".into());
    Context {
        actor,
        request_id: import_id.to_string(),
    }
}

async fn revert(config: &Config, import_id: &str) -> Result<ExitCode, String> {
    let node = Node::start(config).await.map_err(|e| e.to_string())?;
    let result = revert_with(&node, import_id).await;
    node.stop().await;
    say(result?);
    Ok(ExitCode::SUCCESS)
}
