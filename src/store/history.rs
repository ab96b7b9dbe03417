//! What a ticket said before: the raw bytes of its messages (for trimming a
//! reply against what it quotes) and of a writer's earlier mail (for
//! learning their signature).
//!
//! Limits are written into the statements, not bound: on SQLite a bound
//! LIMIT makes every new value re-prepare the statement.

use super::{Result, Tx, col, text};

impl Tx {
    /// The raw bytes of the ticket's latest `limit` messages, in and out,
    /// newest first, without `except`.
    pub async fn ticket_raws(
        &mut self,
        ticket: i64,
        except: &str,
        limit: i64,
    ) -> Result<Vec<Vec<u8>>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT raw FROM messages WHERE ticket = $1 AND message_id <> $2 \
             ORDER BY received_at DESC, id DESC LIMIT {limit}"
        )))
        .bind(ticket)
        .bind(text(except))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(|r| col(r, "raw")).collect()
    }

    /// The raw bytes of the ticket's latest `limit` messages stored before
    /// `message_id`, newest first: what that message could quote.
    pub async fn ticket_raws_before(
        &mut self,
        ticket: i64,
        message_id: &str,
        limit: i64,
    ) -> Result<Vec<Vec<u8>>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT raw FROM messages WHERE ticket = $1 \
             AND id < (SELECT MIN(id) FROM messages WHERE message_id = $2) \
             ORDER BY id DESC LIMIT {limit}"
        )))
        .bind(ticket)
        .bind(text(message_id))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(|r| col(r, "raw")).collect()
    }

    /// The raw bytes of the customers' mail on a ticket, newest first (for
    /// the files an agent asks for with `#attachments`).
    pub async fn customer_raws(&mut self, ticket: i64) -> Result<Vec<Vec<u8>>> {
        let rows = sqlx::query(
            "SELECT raw FROM messages WHERE ticket = $1 AND direction = 'in' AND kind = 'customer' \
             ORDER BY received_at DESC, id DESC",
        )
        .bind(ticket)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(|r| col(r, "raw")).collect()
    }

    /// The raw bytes of the latest `limit` agent mails from `email`.
    pub async fn agent_raws(&mut self, email: &str, limit: i64) -> Result<Vec<Vec<u8>>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT raw FROM messages WHERE from_email = $1 AND direction = 'in' AND kind = 'agent' \
             ORDER BY received_at DESC LIMIT {limit}"
        )))
        .bind(text(email))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(|r| col(r, "raw")).collect()
    }
}
