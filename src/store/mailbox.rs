//! IMAP synchronisation state: where each mailbox stands (UIDVALIDITY and the
//! last UID committed), which committed messages still await their
//! after-ingest action on the server, and which instance holds the mailbox.

use super::{Result, Store, col, ms, text};
use jiff::Timestamp;

impl Store {
    /// `(uidvalidity, last_uid)` of a mailbox, if it was ever synchronised.
    pub async fn mailbox_position(&self, mailbox: &str) -> Result<Option<(u32, u32)>> {
        let row = sqlx::query("SELECT uidvalidity, last_uid FROM mailbox_state WHERE mailbox = $1")
            .bind(text(mailbox))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok((
                col::<i64>(&r, "uidvalidity")? as u32,
                col::<i64>(&r, "last_uid")? as u32,
            ))
        })
        .transpose()
    }

    /// Starts over after the server changed UIDVALIDITY: every message will be
    /// fetched again, and Message-ID deduplication keeps the tickets as they are.
    pub async fn reset_mailbox(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        at: Timestamp,
    ) -> Result<()> {
        let mut tx = self.begin_raw().await?;
        sqlx::query("DELETE FROM imap_pending WHERE mailbox = $1 AND uidvalidity <> $2")
            .bind(text(mailbox))
            .bind(i64::from(uidvalidity))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO mailbox_state (mailbox, uidvalidity, last_uid, updated_at) VALUES ($1, $2, 0, $3) \
             ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = 0, \
             updated_at = excluded.updated_at",
        )
        .bind(text(mailbox))
        .bind(i64::from(uidvalidity))
        .bind(ms(at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// UIDs committed but not yet flagged, moved or deleted on the server.
    pub async fn pending_imap(&self, mailbox: &str, uidvalidity: u32) -> Result<Vec<u32>> {
        let rows = sqlx::query(
            "SELECT uid FROM imap_pending WHERE mailbox = $1 AND uidvalidity = $2 ORDER BY uid",
        )
        .bind(text(mailbox))
        .bind(i64::from(uidvalidity))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(col::<i64>(r, "uid")? as u32))
            .collect()
    }

    pub async fn clear_pending_imap(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        uids: &[u32],
    ) -> Result<()> {
        for chunk in uids.chunks(500) {
            let sql = format!(
                "DELETE FROM imap_pending WHERE mailbox = $1 AND uidvalidity = $2 AND uid IN ({})",
                super::placeholders(3, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(text(mailbox))
                .bind(i64::from(uidvalidity));
            for uid in chunk {
                q = q.bind(i64::from(*uid));
            }
            q.execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Takes or renews the lease on `mailbox` for `owner` until `until`;
    /// false while another owner's lease runs.
    pub async fn acquire_mailbox_lease(
        &self,
        mailbox: &str,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO mailbox_leases (mailbox, owner, until) VALUES ($1, $2, $3) \
             ON CONFLICT (mailbox) DO UPDATE SET owner = excluded.owner, until = excluded.until \
             WHERE mailbox_leases.owner = excluded.owner OR mailbox_leases.until < $4",
        )
        .bind(text(mailbox))
        .bind(text(owner))
        .bind(ms(until))
        .bind(ms(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The holder of a mailbox's lease, if any.
    pub async fn mailbox_lease_holder(&self, mailbox: &str) -> Result<Option<(String, Timestamp)>> {
        let row = sqlx::query("SELECT owner, until FROM mailbox_leases WHERE mailbox = $1")
            .bind(text(mailbox))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((col(&r, "owner")?, super::from_ms(col(&r, "until")?)?)))
            .transpose()
    }

    /// Gives the lease up (at shutdown), so another instance takes over at once.
    pub async fn release_mailbox_lease(&self, mailbox: &str, owner: &str) -> Result<()> {
        sqlx::query("DELETE FROM mailbox_leases WHERE mailbox = $1 AND owner = $2")
            .bind(text(mailbox))
            .bind(text(owner))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
