//! The outbox queue: claiming due rows with a lease (so a crashed sender's
//! rows go back to the queue, and on PostgreSQL two instances never take the
//! same row), and recording each attempt's outcome.

use super::events::{NewEvent, insert_events};
use super::{Backend, Result, Store, col, from_ms, ms, split_list, text};
use crate::domain::event::EventKind;
use jiff::{SignedDuration, Timestamp};

/// A row claimed for sending, with the bytes to send.
#[derive(Debug, Clone)]
pub struct OutboxJob {
    pub id: i64,
    pub ticket: Option<i64>,
    pub kind: String,
    pub message_id: String,
    pub env_from: String,
    pub recipients: Vec<String>,
    pub attempts: u32,
    pub created_at: Timestamp,
    pub raw: Vec<u8>,
}

impl Store {
    /// Claims up to `limit` rows that are due at `now` for `lease`.
    pub async fn claim_outbox(
        &self,
        owner: &str,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
    ) -> Result<Vec<OutboxJob>> {
        let until = now.checked_add(lease).unwrap_or(now);
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut tx = self.begin_raw().await?;
        let sql = format!(
            "SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= $1 \
             AND (claimed_until IS NULL OR claimed_until <= $1) ORDER BY next_attempt_at, id LIMIT {limit}{lock}"
        );
        // The limit in the text: bound, it would re-prepare the statement on SQLite.
        let ids: Vec<i64> = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ms(now))
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| col(r, "id"))
            .collect::<Result<_>>()?;
        let mut jobs = Vec::with_capacity(ids.len());
        for id in ids {
            sqlx::query("UPDATE outbox SET claimed_by = $2, claimed_until = $3 WHERE id = $1")
                .bind(id)
                .bind(text(owner))
                .bind(ms(until))
                .execute(&mut *tx)
                .await?;
            let r = sqlx::query(
                "SELECT o.id, o.ticket, o.kind, o.message_id, o.env_from, o.recipients, o.attempts, \
                 o.created_at, m.raw FROM outbox o JOIN messages m ON m.message_id = o.message_id WHERE o.id = $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            jobs.push(OutboxJob {
                id,
                ticket: col(&r, "ticket")?,
                kind: col(&r, "kind")?,
                message_id: col(&r, "message_id")?,
                env_from: col(&r, "env_from")?,
                recipients: split_list(&col::<String>(&r, "recipients")?),
                attempts: col::<i64>(&r, "attempts")?.max(0) as u32,
                created_at: from_ms(col(&r, "created_at")?)?,
                raw: col(&r, "raw")?,
            });
        }
        tx.commit().await?;
        Ok(jobs)
    }

    /// When the next queued row falls due (None: nothing queued).
    pub async fn next_outbox_due(&self) -> Result<Option<Timestamp>> {
        let row = sqlx::query(
            "SELECT MIN(CASE WHEN claimed_until IS NOT NULL AND claimed_until > next_attempt_at \
             THEN claimed_until ELSE next_attempt_at END) AS due FROM outbox WHERE status = 'queued'",
        )
        .fetch_one(&self.pool)
        .await?;
        col::<Option<i64>>(&row, "due")?.map(from_ms).transpose()
    }

    /// Rows the SMTP server accepted (or, with `in_doubt`, may have accepted:
    /// see `outbox`), with when: marked sent, each once (a row already
    /// marked is left alone), in one transaction.
    pub async fn outbox_sent(&self, sent: &[(i64, Timestamp, bool)]) -> Result<()> {
        if sent.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_raw().await?;
        for &(id, at, in_doubt) in sent {
            let row = sqlx::query(
                "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = $2, last_error = NULL, \
                 claimed_by = NULL, claimed_until = NULL WHERE id = $1 AND status = 'queued' \
                 RETURNING ticket, kind, recipients, message_id",
            )
            .bind(id)
            .bind(ms(at))
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(r) = row {
                let mut detail = format!(
                    "{} to {}",
                    col::<String>(&r, "kind")?,
                    col::<String>(&r, "recipients")?
                );
                if in_doubt {
                    detail.push_str(
                        " (in doubt: the server's answer to the end of the message never arrived; \
                         treated as delivered so it is never sent twice)",
                    );
                }
                let ticket: Option<i64> = col(&r, "ticket")?;
                let message_id: String = col(&r, "message_id")?;
                insert_event(&mut tx, ticket, &message_id, at, EventKind::Sent, &detail).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// A failed attempt: try again at `next`, or fail the row when None.
    pub async fn outbox_attempt_failed(
        &self,
        job: &OutboxJob,
        error: &str,
        next: Option<Timestamp>,
        at: Timestamp,
    ) -> Result<()> {
        let status = if next.is_some() { "queued" } else { "failed" };
        let mut tx = self.begin_raw().await?;
        sqlx::query(
            "UPDATE outbox SET status = $2, attempts = attempts + 1, last_error = $3, \
             next_attempt_at = COALESCE($4, next_attempt_at), claimed_by = NULL, claimed_until = NULL \
             WHERE id = $1",
        )
        .bind(job.id)
        .bind(text(status))
        .bind(text(error))
        .bind(next.map(ms))
        .execute(&mut *tx)
        .await?;
        let (what, detail) = match next {
            Some(t) => (
                EventKind::DeliveryDeferred,
                format!(
                    "{} to {}: {error}; next try at {t}",
                    job.kind,
                    job.recipients.join(", ")
                ),
            ),
            None => (
                EventKind::DeliveryFailed,
                format!("{} to {}: {error}", job.kind, job.recipients.join(", ")),
            ),
        };
        insert_event(&mut tx, job.ticket, &job.message_id, at, what, &detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Owners holding claims on queued rows now.
    pub async fn outbox_claim_owners(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT DISTINCT claimed_by FROM outbox WHERE status = 'queued' AND claimed_by IS NOT NULL")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| col(r, "claimed_by")).collect()
    }

    /// Gives back rows this owner claimed but did not attempt (at shutdown).
    pub async fn release_outbox_claims(&self, owner: &str) -> Result<()> {
        sqlx::query("UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1 AND status = 'queued'")
            .bind(text(owner))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A plain transaction for multi-statement work outside ingest.
    pub(super) async fn begin_raw(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }
}

async fn insert_event(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    ticket: Option<i64>,
    message_id: &str,
    at: Timestamp,
    kind: EventKind,
    detail: &str,
) -> Result<()> {
    let event = NewEvent {
        ticket,
        message_id: Some(message_id.to_string()),
        at,
        kind,
        detail: detail.to_string(),
    };
    insert_events(tx, &[event]).await
}
