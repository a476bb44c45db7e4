//! `warden migrate [--down]`.

use std::process::ExitCode;

use clap::Args;
use warden_core::ledger::postgres::PostgresStore;
use warden_core::ledger::sqlite::SqliteStore;

use super::say;
use crate::config::{Config, Profile};

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Revert every migration (drops the log: for development only).
    #[arg(long)]
    down: bool,
}

pub async fn run(config: &Config, args: MigrateArgs) -> Result<ExitCode, String> {
    match (&config.profile, args.down) {
        (Profile::Production { database_url, .. }, false) => {
            PostgresStore::migrate(database_url).await.map_err(|e| e.to_string())?
        }
        (Profile::Production { database_url, .. }, true) => PostgresStore::migrate_down(database_url)
            .await
            .map_err(|e| e.to_string())?,
        (Profile::Embedded, down) => {
            crate::node::create_private_dir(&config.data_dir).map_err(|e| e.to_string())?;
            let store = SqliteStore::open(&config.sqlite_path())
                .await
                .map_err(|e| e.to_string())?;
            if down {
                store.migrate_down().await.map_err(|e| e.to_string())?;
            }
        }
    }
    say(if args.down {
        "migrations reverted"
    } else {
        "migrations applied"
    });
    Ok(ExitCode::SUCCESS)
}
