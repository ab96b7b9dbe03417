//! What the limits on automatic mail read and write: counts of mail
//! already queued (per recipient, ticket, sender and mailbox), the
//! notifications held back for a digest, senders marked as spam, and the
//! outbox row a signed envelope sender names.

use super::{Result, Store, Tx, col, from_ms, ms, split_list, text};
use crate::domain::decide::Sent;
use jiff::Timestamp;

/// What [`Tx::sent_counts`] counts: mail to `to`, about `ticket`, prompted
/// by mail from `sender`, from `mailbox`, each within its window.
#[derive(Debug, Clone, Copy)]
pub struct SentQuery<'a> {
    pub to: &'a str,
    pub ticket: Option<i64>,
    pub sender: Option<&'a str>,
    pub mailbox: &'a str,
    pub hour_ago: Timestamp,
    pub recipient_since: Timestamp,
    pub ticket_since: Timestamp,
    pub mailbox_cap: u32,
    /// For the suppression of `to` in force then.
    pub now: Timestamp,
}

/// What [`Tx::sent_counts`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counted {
    pub sent: Sent,
    /// `to` may get no automatic mail: until when, and why.
    pub suppressed: Option<(Timestamp, String)>,
}

/// A notification held back by a limit, to go out in the recipient's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldNotice {
    pub mailbox: String,
    pub recipient: String,
    pub ticket: i64,
    /// The message it was about.
    pub message_id: Option<String>,
    /// What prompted it: `customer_message`, `note`, `agent_reply`.
    pub event: String,
    /// Who wrote what prompted it (a name or an address).
    pub who: String,
    /// The limit that held it back.
    pub reason: String,
    pub held_at: Timestamp,
}

/// The outbox row a bounce returns, found by its envelope sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnedMail {
    pub message_id: String,
    pub ticket: Option<i64>,
    pub recipients: Vec<String>,
}

impl Tx {
    /// Marks `email` as a spam sender: its later mail is kind spam.
    pub async fn mark_spam_sender(
        &mut self,
        email: &str,
        by: &str,
        ticket: i64,
        at: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO spam_senders (email, marked_by, ticket, marked_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (email) DO UPDATE SET marked_by = excluded.marked_by, ticket = excluded.ticket, \
             marked_at = excluded.marked_at",
        )
        .bind(text(email))
        .bind(text(by))
        .bind(ticket)
        .bind(ms(at))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// What automatic mail already went out that the limits count (see
    /// [`Sent`]) and the recipient's suppression, in one statement. The
    /// mailbox's count, the one that grows with the mailbox's volume, stops
    /// at `mailbox_cap`: past its limit the exact figure changes nothing.
    pub async fn sent_counts(&mut self, q: &SentQuery<'_>) -> Result<Counted> {
        // The cap is written into the statement: on SQLite a bound LIMIT
        // makes every new value re-prepare it (the planner reads it).
        let cap = q.mailbox_cap;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT \
             (SELECT COUNT(*) FROM outbox WHERE first_recipient = $1 AND kind = 'ack' AND created_at >= $2) AS acks_last_hour, \
             (SELECT COUNT(*) FROM outbox o JOIN tickets t ON t.number = o.ticket \
              WHERE o.kind = 'ack' AND t.customer_email = $3 AND o.created_at >= $2) AS acks_for_sender, \
             (SELECT COUNT(*) FROM outbox WHERE first_recipient = $1 AND created_at >= $4) AS to_recipient, \
             (SELECT COUNT(*) FROM outbox WHERE ticket = $5 AND first_recipient = $1 AND created_at >= $6) AS for_ticket, \
             (SELECT COUNT(*) FROM (SELECT 1 FROM outbox WHERE mailbox = $7 AND created_at >= $2 \
              AND kind <> 'agent_reply' LIMIT {cap}) AS m) AS mailbox_last_hour, \
             s.until AS suppressed_until, s.reason AS suppressed_reason \
             FROM (SELECT 1 AS one) AS one \
             LEFT JOIN suppressions s ON s.address = $1 AND s.until > $8",
        )))
        .bind(text(q.to))
        .bind(ms(q.hour_ago))
        .bind(q.sender.map(text))
        .bind(ms(q.recipient_since))
        .bind(q.ticket)
        .bind(ms(q.ticket_since))
        .bind(text(q.mailbox))
        .bind(ms(q.now))
        .fetch_one(&mut *self.tx)
        .await?;
        let n = |name: &str| -> Result<u32> {
            Ok(u32::try_from(col::<i64>(&row, name)?.max(0)).unwrap_or(u32::MAX))
        };
        let until: Option<i64> = col(&row, "suppressed_until")?;
        let reason: Option<String> = col(&row, "suppressed_reason")?;
        Ok(Counted {
            sent: Sent {
                acks_last_hour: n("acks_last_hour")?,
                acks_for_sender: n("acks_for_sender")?,
                to_recipient: n("to_recipient")?,
                for_ticket: n("for_ticket")?,
                mailbox_last_hour: n("mailbox_last_hour")?,
            },
            suppressed: match until {
                Some(u) => Some((from_ms(u)?, reason.unwrap_or_default())),
                None => None,
            },
        })
    }

    /// The mail that went out with envelope sender `env_from`.
    pub async fn outbox_by_env_from(&mut self, env_from: &str) -> Result<Option<ReturnedMail>> {
        let row = sqlx::query(
            "SELECT message_id, ticket, recipients FROM outbox WHERE env_from = $1 ORDER BY id LIMIT 1",
        )
        .bind(text(env_from))
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|r| {
            Ok(ReturnedMail {
                message_id: col(&r, "message_id")?,
                ticket: col(&r, "ticket")?,
                recipients: split_list(&col::<String>(&r, "recipients")?),
            })
        })
        .transpose()
    }

    /// Holds a notification back for the recipient's digest.
    pub async fn hold_notice(&mut self, h: &HeldNotice) -> Result<()> {
        sqlx::query(
            "INSERT INTO held_notices (mailbox, recipient, ticket, message_id, event, who, reason, held_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(text(&h.mailbox))
        .bind(text(&h.recipient))
        .bind(h.ticket)
        .bind(h.message_id.as_deref().map(text))
        .bind(text(&h.event))
        .bind(text(&h.who))
        .bind(text(&h.reason))
        .bind(ms(h.held_at))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Takes every notification held for `recipient` (gone from the table
    /// when this transaction commits: one digest, across instances).
    pub async fn take_held(&mut self, recipient: &str) -> Result<Vec<HeldNotice>> {
        let rows = sqlx::query(
            "DELETE FROM held_notices WHERE recipient = $1 \
             RETURNING mailbox, recipient, ticket, message_id, event, who, reason, held_at",
        )
        .bind(text(recipient))
        .fetch_all(&mut *self.tx)
        .await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(HeldNotice {
                    mailbox: col(r, "mailbox")?,
                    recipient: col(r, "recipient")?,
                    ticket: col(r, "ticket")?,
                    message_id: col(r, "message_id")?,
                    event: col(r, "event")?,
                    who: col(r, "who")?,
                    reason: col(r, "reason")?,
                    held_at: from_ms(col(r, "held_at")?)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|h| h.held_at);
        Ok(out)
    }
}

impl Store {
    /// When the oldest held notification was held, if any is.
    pub async fn oldest_held(&self) -> Result<Option<Timestamp>> {
        let row = sqlx::query("SELECT MIN(held_at) AS t FROM held_notices")
            .fetch_one(&self.pool)
            .await?;
        col::<Option<i64>>(&row, "t")?.map(from_ms).transpose()
    }

    /// Recipients whose oldest held notification was held at or before `before`.
    pub async fn digest_recipients(&self, before: Timestamp) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT recipient FROM held_notices GROUP BY recipient HAVING MIN(held_at) <= $1",
        )
        .bind(ms(before))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| col(r, "recipient")).collect()
    }
}
