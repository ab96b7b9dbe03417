//! What the limits on automatic mail read and write: counts of mail
//! already queued (per recipient, ticket, sender and mailbox), the
//! notifications held back for a digest, senders marked as spam, and the
//! outbox row a signed envelope sender names.

use super::{Result, Store, Tx, col, from_ms, ms, split_list, text};
use jiff::Timestamp;

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
    /// Why an agent marked `email` as spam, if one did.
    pub async fn spam_sender(&mut self, email: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT marked_by, ticket FROM spam_senders WHERE email = $1")
            .bind(text(email))
            .fetch_optional(&mut *self.tx)
            .await?;
        row.map(|r| {
            let by: String = col(&r, "marked_by")?;
            let ticket: Option<i64> = col(&r, "ticket")?;
            Ok(match ticket {
                Some(n) => format!("#spam by {by} on ticket #{n}"),
                None => format!("#spam by {by}"),
            })
        })
        .transpose()
    }

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

    /// Acknowledgements queued since `since` for tickets whose customer is
    /// `sender`, wherever they went (a Reply-To cannot multiply them).
    pub async fn count_acks_for_sender(&mut self, sender: &str, since: Timestamp) -> Result<u32> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM outbox o JOIN tickets t ON t.number = o.ticket \
             WHERE o.kind = 'ack' AND t.customer_email = $1 AND o.created_at >= $2",
        )
        .bind(text(sender))
        .bind(ms(since))
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(col::<i64>(&row, "n")?.max(0) as u32)
    }

    /// Mail queued about `ticket` to `recipient` since `since`.
    pub async fn count_auto_about(
        &mut self,
        ticket: i64,
        recipient: &str,
        since: Timestamp,
    ) -> Result<u32> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM outbox WHERE ticket = $1 AND first_recipient = $2 AND created_at >= $3",
        )
        .bind(ticket)
        .bind(text(recipient))
        .bind(ms(since))
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(col::<i64>(&row, "n")?.max(0) as u32)
    }

    /// Automatic mail (everything but relayed agent replies) of `mailbox`
    /// queued since `since`.
    pub async fn count_auto_of_mailbox(&mut self, mailbox: &str, since: Timestamp) -> Result<u32> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM outbox WHERE mailbox = $1 AND created_at >= $2 AND kind <> 'agent_reply'",
        )
        .bind(text(mailbox))
        .bind(ms(since))
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(col::<i64>(&row, "n")?.max(0) as u32)
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
