//! The schema: its migrations, applied by the owner (`warden migrate`) or
//! by a node when the schema is not current.

use sqlx::{Connection, PgConnection};

use super::PostgresStore;
use crate::ledger::LedgerError;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

impl PostgresStore {
    /// Applies the migrations (needs the schema owner's rights).
    pub async fn migrate(url: &str) -> Result<(), LedgerError> {
        let mut connection = PgConnection::connect(url).await?;
        MIGRATOR.run(&mut connection).await?;
        Ok(())
    }

    /// Applies the migrations unless the schema is already current, so a
    /// node whose login holds only the writer's rights starts on a schema
    /// the owner migrated (`warden migrate`).
    pub async fn migrate_if_needed(url: &str) -> Result<(), LedgerError> {
        let mut connection = PgConnection::connect(url).await?;
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&mut connection)
            .await?;
        let applied: Vec<i64> = if exists {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&mut connection)
                .await?
        } else {
            Vec::new()
        };
        let current = MIGRATOR
            .iter()
            .filter(|migration| !migration.migration_type.is_down_migration())
            .all(|migration| applied.contains(&migration.version));
        if current {
            return Ok(());
        }
        MIGRATOR.run(&mut connection).await.map_err(|error| match &error {
            sqlx::migrate::MigrateError::Execute(sqlx::Error::Database(database))
                if database.code().as_deref() == Some("42501") =>
            {
                LedgerError::MigrationNeeded(format!(
                    "the schema needs migrations this login may not apply ({database}); \
                     run `warden migrate` with the owner's DATABASE_URL"
                ))
            }
            _ => LedgerError::Migration(error),
        })
    }

    pub async fn migrate_down(url: &str) -> Result<(), LedgerError> {
        let mut connection = PgConnection::connect(url).await?;
        MIGRATOR.undo(&mut connection, 0).await?;
        Ok(())
    }
}
