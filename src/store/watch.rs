//! Hearing of mail another process queued: `postdesk ingest` run by the
//! MTA pipe writes the outbox and exits; the daemon's outbox worker must
//! send it at once, not at its next timer. PostgreSQL tells listeners at
//! commit (`NOTIFY`, once per transaction that queued mail); on SQLite a connection
//! of our own watches the database's `data_version`, which moves when any
//! other connection commits.

use super::{Backend, Store};
use sqlx::Connection;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The channel queued mail is announced on (PostgreSQL).
pub(super) const OUTBOX_CHANNEL: &str = "postdesk_outbox";

/// How often SQLite's version is read: a query of a page in memory.
const SQLITE_POLL: Duration = Duration::from_millis(200);

impl Store {
    /// Wakes `wake` whenever another connection (another process, say) may
    /// have queued mail, until `shutdown`. Lost connections are retried.
    pub async fn watch_commits(&self, wake: Arc<Notify>, shutdown: CancellationToken) {
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            let result = match self.backend {
                Backend::Postgres => self.listen(&wake, &shutdown).await,
                Backend::Sqlite => self.poll_version(&wake, &shutdown).await,
            };
            if let Err(e) = result {
                failures += 1;
                let wait =
                    crate::backoff(failures, Duration::from_secs(1), Duration::from_secs(30));
                tracing::warn!(error = %e, retry_in = ?wait, "cannot watch the database for queued mail");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }

    async fn listen(&self, wake: &Notify, shutdown: &CancellationToken) -> Result<(), sqlx::Error> {
        let mut listener = sqlx::postgres::PgListener::connect(&self.url).await?;
        listener.listen(OUTBOX_CHANNEL).await?;
        // Anything queued while we were not listening.
        wake.notify_one();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                n = listener.recv() => {
                    n?;
                    wake.notify_one();
                }
            }
        }
    }

    async fn poll_version(
        &self,
        wake: &Notify,
        shutdown: &CancellationToken,
    ) -> Result<(), sqlx::Error> {
        let mut conn = sqlx::AnyConnection::connect(&self.url).await?;
        let mut seen: Option<i64> = None;
        loop {
            let v: i64 = sqlx::query_scalar("PRAGMA data_version")
                .fetch_one(&mut conn)
                .await?;
            if seen.is_some_and(|s| s != v) {
                wake.notify_one();
            }
            seen = Some(v);
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(SQLITE_POLL) => {}
            }
        }
    }
}
