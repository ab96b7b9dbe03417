//! IMAP synchronisation state: where each mailbox stands (UIDVALIDITY and the
//! last UID committed) and which committed messages still await their
//! after-ingest action on the server.

use super::{Result, Store, col, ms};
use jiff::Timestamp;

impl Store {
    /// `(uidvalidity, last_uid)` of a mailbox, if it was ever synchronised.
    pub async fn mailbox_position(&self, mailbox: &str) -> Result<Option<(u32, u32)>> {
        let row = sqlx::query("SELECT uidvalidity, last_uid FROM mailbox_state WHERE mailbox = $1")
            .bind(mailbox)
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
            .bind(mailbox)
            .bind(i64::from(uidvalidity))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO mailbox_state (mailbox, uidvalidity, last_uid, updated_at) VALUES ($1, $2, 0, $3) \
             ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = 0, \
             updated_at = excluded.updated_at",
        )
        .bind(mailbox)
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
        .bind(mailbox)
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
                .bind(mailbox)
                .bind(i64::from(uidvalidity));
            for uid in chunk {
                q = q.bind(i64::from(*uid));
            }
            q.execute(&self.pool).await?;
        }
        Ok(())
    }
}
