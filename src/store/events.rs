//! The one way events reach the `events` table: rows gathered by a
//! transaction and written together, in as few statements as the
//! databases' parameter limits allow, their text cleaned of NULs.

use super::{Result, ms, opt_text, pow2_chunks, text};
use crate::domain::event::EventKind;
use jiff::Timestamp;
use sqlx::AnyConnection;

/// An event waiting for its transaction to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewEvent {
    pub ticket: Option<i64>,
    pub message_id: Option<String>,
    pub at: Timestamp,
    pub kind: EventKind,
    pub detail: String,
}

/// Writes `events` in their order (their ids follow it), in chunks of a
/// few shapes (see [`pow2_chunks`]); 5 parameters a row stays far below
/// SQLite's and PostgreSQL's limits on parameters.
pub(crate) async fn insert_events(conn: &mut AnyConnection, events: &[NewEvent]) -> Result<()> {
    for chunk in pow2_chunks(events) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p = 5 * i;
                format!(
                    "(${}, ${}, ${}, ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO events (ticket, message_id, at, what, detail) VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in chunk {
            q = q
                .bind(e.ticket)
                .bind(opt_text(e.message_id.as_deref()))
                .bind(ms(e.at))
                .bind(text(e.kind.name()))
                .bind(text(&e.detail));
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}
