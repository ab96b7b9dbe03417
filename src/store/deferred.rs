//! What a transaction writes only at its end: its events, the IMAP
//! messages it stored (their pending after-ingest action and the
//! mailbox's new position), and the announcement of mail it queued.
//!
//! Nothing during ingest reads these rows back, so a transaction gathers
//! them and writes them when it commits; a group commit gathers those of
//! all its kept members and writes each kind once, with multi-row
//! statements, instead of three to five statements per message.

use super::events::{NewEvent, insert_events};
use super::{Backend, MAX_ROWS, Result, ms, padded, text};
use jiff::Timestamp;
use sqlx::AnyConnection;

/// An IMAP message stored in the transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ImapRecord {
    pub mailbox: String,
    pub uidvalidity: u32,
    pub uid: u32,
    /// Its after-ingest action is still to be done on the server.
    pub pending: bool,
    pub at: Timestamp,
}

/// The rows a transaction (or a group) writes when it commits.
#[derive(Debug, Default)]
pub(super) struct Deferred {
    pub events: Vec<NewEvent>,
    pub imap: Vec<ImapRecord>,
    /// Mail was queued: outbox workers of other processes are told at
    /// commit (PostgreSQL; on SQLite they watch the database's version).
    pub queued: bool,
}

impl Deferred {
    /// Adds what a kept group member gathered, after what came before it.
    pub fn absorb(&mut self, other: Deferred) {
        self.events.extend(other.events);
        self.imap.extend(other.imap);
        self.queued |= other.queued;
    }

    /// Writes everything gathered, inside the transaction on `conn`.
    pub async fn write(&self, conn: &mut AnyConnection, backend: Backend) -> Result<()> {
        if !self.events.is_empty() {
            insert_events(conn, &self.events).await?;
        }
        let pending: Vec<&ImapRecord> = self.imap.iter().filter(|r| r.pending).collect();
        for chunk in pending.chunks(MAX_ROWS) {
            // Padded (see `padded`): a repeated row does nothing on conflict.
            let rows: Vec<&ImapRecord> = padded(chunk).copied().collect();
            let values: Vec<String> = (0..rows.len())
                .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
                .collect();
            let sql = format!(
                "INSERT INTO imap_pending (mailbox, uidvalidity, uid) VALUES {} \
                 ON CONFLICT (mailbox, uidvalidity, uid) DO NOTHING",
                values.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in rows {
                q = q
                    .bind(text(&r.mailbox))
                    .bind(i64::from(r.uidvalidity))
                    .bind(i64::from(r.uid));
            }
            q.execute(&mut *conn).await?;
        }
        for p in positions(&self.imap) {
            sqlx::query(
                "INSERT INTO mailbox_state (mailbox, uidvalidity, last_uid, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (mailbox) DO UPDATE SET \
                   last_uid = CASE WHEN mailbox_state.uidvalidity = excluded.uidvalidity \
                                   AND mailbox_state.last_uid > excluded.last_uid \
                              THEN mailbox_state.last_uid ELSE excluded.last_uid END, \
                   uidvalidity = excluded.uidvalidity, updated_at = excluded.updated_at",
            )
            .bind(text(&p.mailbox))
            .bind(i64::from(p.uidvalidity))
            .bind(i64::from(p.uid))
            .bind(ms(p.at))
            .execute(&mut *conn)
            .await?;
        }
        if self.queued && backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(super::watch::OUTBOX_CHANNEL)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

/// Where each mailbox stands after `records`, applied in order: the same
/// result as moving the position once per record. A position only moves
/// forward within one UIDVALIDITY; a new UIDVALIDITY starts it again, so
/// a mailbox ends at the highest UID of its last run of one UIDVALIDITY.
fn positions(records: &[ImapRecord]) -> Vec<ImapRecord> {
    let mut out: Vec<ImapRecord> = Vec::new();
    for r in records {
        match out.iter_mut().find(|p| p.mailbox == r.mailbox) {
            Some(p) if p.uidvalidity == r.uidvalidity => {
                p.uid = p.uid.max(r.uid);
                p.at = r.at;
            }
            Some(p) => *p = r.clone(),
            None => out.push(r.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(mailbox: &str, uidvalidity: u32, uid: u32) -> ImapRecord {
        ImapRecord {
            mailbox: mailbox.into(),
            uidvalidity,
            uid,
            pending: true,
            at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_mailbox_ends_at_its_highest_uid_of_its_last_uidvalidity() {
        let got = positions(&[
            rec("a", 1, 5),
            rec("b", 7, 2),
            rec("a", 1, 3),
            rec("a", 1, 9),
            rec("a", 2, 4),
            rec("a", 2, 1),
        ]);
        let summary: Vec<_> = got
            .iter()
            .map(|p| (p.mailbox.as_str(), p.uidvalidity, p.uid))
            .collect();
        assert_eq!(summary, vec![("a", 2, 4), ("b", 7, 2)]);
    }
}
