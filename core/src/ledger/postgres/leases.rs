//! Leadership by session-level advisory locks, and the commits channel
//! every node listens on to read its peers' commits at once.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgPool};
use sqlx::{Connection, PgConnection};
use tokio::sync::watch;

use crate::bus::relay::Backoff;
use crate::ledger::store::raise;
use crate::ledger::{Leader, Lease, LedgerError};

/// `pg_try_advisory_lock` key held by the one relay ("WARDEN\0\2").
const RELAY_LOCK: i64 = 0x5741_5244_454E_0002;
const ALERT_DELIVERY_LOCK: i64 = 0x5741_5244_454E_0003;
const CHECKPOINTS_LOCK: i64 = 0x5741_5244_454E_0004;
const EMAIL_DELIVERY_LOCK: i64 = 0x5741_5244_454E_0005;

/// The `NOTIFY` channel on which every commit announces its last seq.
pub(super) const COMMITS_CHANNEL: &str = "warden_commits";

pub(super) async fn follow_commits(pool: &PgPool, into: Arc<watch::Sender<u64>>) {
    let mut backoff = Backoff::default();
    loop {
        tokio::select! {
            () = into.closed() => return,
            reason = listen_commits(pool, &into) => {
                tracing::debug!(%reason, "not listening for commits; runners and relay tail the log meanwhile");
            }
        }
        tokio::select! {
            () = into.closed() => return,
            () = tokio::time::sleep(backoff.next_delay()) => {}
        }
    }
}

pub(super) async fn try_lease(pool: &PgPool, leader: Leader) -> Result<Option<Box<dyn Lease>>, LedgerError> {
    let mut connection = pool.acquire().await?;
    let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(match leader {
            Leader::Relay => RELAY_LOCK,
            Leader::AlertDelivery => ALERT_DELIVERY_LOCK,
            Leader::Checkpoints => CHECKPOINTS_LOCK,
            Leader::EmailDelivery => EMAIL_DELIVERY_LOCK,
        })
        .fetch_one(&mut *connection)
        .await?;
    if held {
        // The lock lives as long as this connection: take it out of the pool.
        Ok(Some(Box::new(PostgresLease {
            connection: connection.detach(),
        })))
    } else {
        Ok(None)
    }
}

/// Raises `into` to every seq announced on the commits channel; returns
/// why it stopped (no connection could be made).
async fn listen_commits(pool: &PgPool, into: &watch::Sender<u64>) -> sqlx::Error {
    let mut listener = match PgListener::connect_with(pool).await {
        Ok(listener) => listener,
        Err(error) => return error,
    };
    if let Err(error) = listener.listen(COMMITS_CHANNEL).await {
        return error;
    }
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                if let Ok(seq) = notification.payload().parse::<u64>() {
                    raise(into, seq);
                }
            }
            // The connection was lost and made again: commits announced
            // meanwhile are found by the log tail.
            Ok(None) => tracing::debug!("the commits listener reconnected"),
            Err(error) => return error,
        }
    }
}

/// A session-level advisory lock on a dedicated connection: released by
/// PostgreSQL as soon as the connection ends, whatever happens to us.
struct PostgresLease {
    connection: PgConnection,
}

#[async_trait]
impl Lease for PostgresLease {
    async fn still_held(&mut self) -> bool {
        self.connection.ping().await.is_ok()
    }
}
