//! The write transaction of one ingest: look-ups for threading and the
//! writes of the decision, committed together or not at all.

use super::deferred::ImapRecord;
use super::events::NewEvent;
use super::tx::Tx;
use super::{
    MAX_ROWS, Result, col, from_ms, join_list, ms, opt_text, padded, placeholders, spelled, text,
};
use crate::domain::decide::TicketView;
use crate::domain::event::{Event, EventKind};
use crate::domain::model::{Address, Direction, OutKind, Role, Status};
use jiff::Timestamp;
use std::collections::HashMap;

pub struct NewTicket<'a> {
    pub mailbox: &'a str,
    pub subject: &'a str,
    pub normalized_subject: &'a str,
    pub customer: Option<&'a Address>,
    pub language: &'a str,
    pub sla_policy: &'a str,
    pub priority: &'a str,
    pub follows: Option<i64>,
    pub created_at: Timestamp,
}

pub struct TicketUpdate {
    pub number: i64,
    pub status: Option<Status>,
    pub customer_activity: bool,
    pub at: Timestamp,
}

pub struct NewMessage<'a> {
    pub message_id: &'a str,
    pub ticket: Option<i64>,
    pub mailbox: &'a str,
    pub direction: Direction,
    pub kind: &'a str,
    pub from: Option<&'a Address>,
    pub subject: &'a str,
    pub in_reply_to: Option<&'a str>,
    pub references: &'a [String],
    pub received_at: Timestamp,
    pub flags: &'a [&'a str],
    /// The Outlook Thread-Index conversation, hex.
    pub thread_index: Option<&'a str>,
    pub raw: &'a [u8],
    /// The readable text (kept up to [`MAX_BODY`] characters).
    pub body: &'a str,
}

/// The most of a message's text kept beside its raw bytes, in characters.
pub const MAX_BODY: usize = 64 * 1024;

pub struct NewOutbox<'a> {
    pub ticket: Option<i64>,
    pub mailbox: &'a str,
    pub kind: OutKind,
    pub message_id: &'a str,
    pub in_reply_to: Option<&'a str>,
    pub env_from: &'a str,
    pub recipients: &'a [String],
    pub subject: &'a str,
    pub created_at: Timestamp,
}

/// See [`Tx::first_look`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirstLook {
    /// Set when the Message-ID is stored: the ticket it belongs to, if any.
    pub stored: Option<Option<i64>>,
    /// Why the sender's mail is spam, when an agent marked them.
    pub spam_mark: Option<String>,
    /// The language we remembered of the sender.
    pub language: Option<String>,
}

impl Tx {
    /// What ingest reads first about a message, in one statement: whether
    /// its Message-ID is stored (and on which ticket), whether an agent
    /// marked its sender as spam, and the language remembered of the sender.
    pub async fn first_look(
        &mut self,
        message_id: &str,
        sender: Option<&str>,
    ) -> Result<FirstLook> {
        let row = sqlx::query(
            "SELECT m.message_id AS stored, m.ticket, \
             s.marked_by, s.ticket AS marked_on, c.language \
             FROM (SELECT 1 AS one) AS one \
             LEFT JOIN messages m ON m.message_id = $1 \
             LEFT JOIN spam_senders s ON s.email = $2 \
             LEFT JOIN customers c ON c.email = $3",
        )
        .bind(text(message_id))
        .bind(sender.map(text))
        .bind(sender.map(|s| text(s.to_lowercase())))
        .fetch_one(&mut *self.tx)
        .await?;
        let stored = col::<Option<String>>(&row, "stored")?.is_some();
        let marked_by: Option<String> = col(&row, "marked_by")?;
        let marked_on: Option<i64> = col(&row, "marked_on")?;
        Ok(FirstLook {
            stored: if stored {
                Some(col(&row, "ticket")?)
            } else {
                None
            },
            spam_mark: marked_by.map(|by| match marked_on {
                Some(n) => format!("#spam by {by} on ticket #{n}"),
                None => format!("#spam by {by}"),
            }),
            language: col(&row, "language")?,
        })
    }

    /// The ticket of each of `ids` that is stored and belongs to a ticket.
    pub async fn tickets_of(&mut self, ids: &[String]) -> Result<HashMap<String, i64>> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(MAX_ROWS) {
            let chunk: Vec<&String> = padded(chunk).collect();
            let sql = format!(
                "SELECT message_id, ticket FROM messages WHERE ticket IS NOT NULL AND message_id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(text(id.as_str()));
            }
            for row in q.fetch_all(&mut *self.tx).await? {
                out.insert(col(&row, "message_id")?, col(&row, "ticket")?);
            }
        }
        Ok(out)
    }

    pub async fn ticket_view(&mut self, number: i64) -> Result<Option<TicketView>> {
        let row = sqlx::query(
            "SELECT number, status, updated_at, sla_policy FROM tickets WHERE number = $1",
        )
        .bind(number)
        .fetch_optional(&mut *self.tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(TicketView {
            number: col(&row, "number")?,
            status: spelled(&col::<String>(&row, "status")?, Status::parse)?,
            updated_at: from_ms(col(&row, "updated_at")?)?,
            sla_policy: col(&row, "sla_policy")?,
        }))
    }

    /// Remembers the language a customer wrote in, for every later mail to
    /// them, and writes it on their ticket.
    pub async fn remember_language(
        &mut self,
        email: &str,
        ticket: Option<i64>,
        language: &str,
        at: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO customers (email, language, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (email) DO UPDATE SET language = excluded.language, updated_at = excluded.updated_at",
        )
        .bind(text(email.to_lowercase()))
        .bind(language)
        .bind(ms(at))
        .execute(&mut *self.tx)
        .await?;
        if let Some(n) = ticket {
            sqlx::query("UPDATE tickets SET language = $1 WHERE number = $2")
                .bind(language)
                .bind(n)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Participants of a ticket: their lower-cased address and role.
    pub async fn participants(&mut self, number: i64) -> Result<Vec<(String, Role)>> {
        let rows = sqlx::query("SELECT email, role FROM participants WHERE ticket = $1")
            .bind(number)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                let role: String = col(r, "role")?;
                Ok((col(r, "email")?, spelled(&role, Role::parse)?))
            })
            .collect()
    }

    /// Creates a ticket with the next number.
    pub async fn create_ticket(&mut self, t: &NewTicket<'_>) -> Result<i64> {
        let row = sqlx::query(
            "UPDATE counters SET value = value + 1 WHERE name = 'ticket' RETURNING value",
        )
        .fetch_one(&mut *self.tx)
        .await?;
        let number: i64 = col(&row, "value")?;
        sqlx::query(
            "INSERT INTO tickets (number, mailbox, subject, normalized_subject, status, priority, \
             customer_email, customer_name, language, sla_policy, follows, created_at, updated_at, \
             last_customer_at) \
             VALUES ($1, $2, $3, $4, 'open', $11, $5, $6, $7, $8, $9, $10, $10, $10)",
        )
        .bind(number)
        .bind(text(t.mailbox))
        .bind(text(t.subject))
        .bind(text(t.normalized_subject))
        .bind(opt_text(t.customer.map(|c| c.email.as_str())))
        .bind(t.customer.and_then(|c| c.name.as_deref()).map(text))
        .bind(text(t.language))
        .bind(text(t.sla_policy))
        .bind(t.follows)
        .bind(ms(t.created_at))
        .bind(text(t.priority))
        .execute(&mut *self.tx)
        .await?;
        if let Some(c) = t.customer {
            self.add_participant(number, c, Role::Customer).await?;
        }
        Ok(number)
    }

    pub async fn update_ticket(&mut self, u: &TicketUpdate) -> Result<()> {
        let at = ms(u.at);
        sqlx::query(
            "UPDATE tickets SET \
               status = COALESCE($2, status), \
               updated_at = CASE WHEN updated_at > $3 THEN updated_at ELSE $3 END, \
               last_customer_at = CASE WHEN $4 = 1 THEN $3 ELSE last_customer_at END, \
               resolved_at = CASE WHEN $2 = 'open' THEN NULL ELSE resolved_at END \
             WHERE number = $1",
        )
        .bind(u.number)
        .bind(u.status.map(|s| s.as_str()))
        .bind(at)
        .bind(i64::from(u.customer_activity))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Adds a participant unless already there.
    pub async fn add_participant(&mut self, ticket: i64, who: &Address, role: Role) -> Result<()> {
        sqlx::query(
            "INSERT INTO participants (ticket, email, name, role) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (ticket, email) DO NOTHING",
        )
        .bind(ticket)
        .bind(text(who.email.as_str()))
        .bind(who.name.as_deref().map(text))
        .bind(role.as_str())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn insert_message(&mut self, m: &NewMessage<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO messages (message_id, ticket, mailbox, direction, kind, from_email, from_name, \
             subject, in_reply_to, refs, received_at, flags, size, raw, thread_index, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(text(m.message_id))
        .bind(m.ticket)
        .bind(text(m.mailbox))
        .bind(m.direction.as_str())
        .bind(text(m.kind))
        .bind(opt_text(m.from.map(|a| a.email.as_str())))
        .bind(m.from.and_then(|a| a.name.as_deref()).map(text))
        .bind(text(m.subject))
        .bind(opt_text(m.in_reply_to))
        .bind(text(join_list(m.references)))
        .bind(ms(m.received_at))
        .bind(text(m.flags.join(",")))
        .bind(m.raw.len() as i64)
        .bind(m.raw)
        .bind(opt_text(m.thread_index))
        .bind(text(crate::domain::clip(m.body, MAX_BODY).0))
        .execute(&mut *self.tx)
        .await?;
        if let Some(ticket) = m.ticket {
            let mut named: Vec<&str> = Vec::new();
            for id in m
                .in_reply_to
                .into_iter()
                .chain(m.references.iter().map(String::as_str))
            {
                if !named.contains(&id) {
                    named.push(id);
                }
            }
            // One statement per chunk of ids (a parameter each, and the
            // ticket), padded (see `padded`): a repeated id does nothing.
            for chunk in named.chunks(MAX_ROWS) {
                let chunk: Vec<&str> = padded(chunk).copied().collect();
                let values: Vec<String> = (0..chunk.len())
                    .map(|i| format!("(${}, $1)", i + 2))
                    .collect();
                let sql = format!(
                    "INSERT INTO message_refs (message_id, ticket) VALUES {} ON CONFLICT (message_id) DO NOTHING",
                    values.join(", ")
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ticket);
                for id in chunk {
                    q = q.bind(text(id));
                }
                q.execute(&mut *self.tx).await?;
            }
        }
        Ok(())
    }

    /// The ticket of each of `ids` that stored mail referred to.
    pub async fn tickets_referring_to(&mut self, ids: &[String]) -> Result<HashMap<String, i64>> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(MAX_ROWS) {
            let chunk: Vec<&String> = padded(chunk).collect();
            let sql = format!(
                "SELECT message_id, ticket FROM message_refs WHERE message_id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(text(id.as_str()));
            }
            for row in q.fetch_all(&mut *self.tx).await? {
                out.insert(col(&row, "message_id")?, col(&row, "ticket")?);
            }
        }
        Ok(out)
    }

    /// The ticket of the latest stored message of this Thread-Index conversation.
    pub async fn ticket_of_thread_index(&mut self, thread_index: &str) -> Result<Option<i64>> {
        let row = sqlx::query(
            "SELECT ticket FROM messages WHERE thread_index = $1 AND ticket IS NOT NULL \
             ORDER BY received_at DESC, id DESC LIMIT 1",
        )
        .bind(text(thread_index))
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|r| col(&r, "ticket")).transpose()
    }

    /// The latest ticket of `customer` with this normalized subject, not
    /// closed, active since `since`.
    pub async fn ticket_of_sender_subject(
        &mut self,
        customer: &str,
        normalized_subject: &str,
        since: Timestamp,
    ) -> Result<Option<i64>> {
        let row = sqlx::query(
            "SELECT number FROM tickets WHERE customer_email = $1 AND normalized_subject = $2 \
             AND status <> 'closed' AND updated_at >= $3 ORDER BY updated_at DESC LIMIT 1",
        )
        .bind(text(customer))
        .bind(text(normalized_subject))
        .bind(ms(since))
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|r| col(&r, "number")).transpose()
    }

    /// If `address` may get no automatic mail at `now`: until when, and why.
    pub async fn suppression(
        &mut self,
        address: &str,
        now: Timestamp,
    ) -> Result<Option<(Timestamp, String)>> {
        let row =
            sqlx::query("SELECT until, reason FROM suppressions WHERE address = $1 AND until > $2")
                .bind(text(address))
                .bind(ms(now))
                .fetch_optional(&mut *self.tx)
                .await?;
        row.map(|r| Ok((from_ms(col(&r, "until")?)?, col(&r, "reason")?)))
            .transpose()
    }

    /// No automatic mail to `address` until `until`.
    pub async fn suppress(
        &mut self,
        address: &str,
        until: Timestamp,
        reason: &str,
        at: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO suppressions (address, until, reason, at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (address) DO UPDATE SET until = excluded.until, reason = excluded.reason, at = excluded.at",
        )
        .bind(text(address))
        .bind(ms(until))
        .bind(text(reason))
        .bind(ms(at))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Marks the sent outbox rows with these Message-IDs bounced; returns
    /// `(message_id, recipients)` of each row marked.
    pub async fn mark_bounced(
        &mut self,
        message_ids: &[String],
    ) -> Result<Vec<(String, Vec<String>)>> {
        let mut out = Vec::new();
        for id in message_ids {
            let row = sqlx::query(
                "UPDATE outbox SET status = 'bounced' WHERE message_id = $1 AND status = 'sent' RETURNING recipients",
            )
            .bind(text(id.as_str()))
            .fetch_optional(&mut *self.tx)
            .await?;
            if let Some(r) = row {
                out.push((
                    id.clone(),
                    super::split_list(&col::<String>(&r, "recipients")?),
                ));
            }
        }
        Ok(out)
    }

    /// Records an event of this transaction. Events are written together
    /// when the transaction commits (see [`Tx::commit`]): one statement per
    /// message, however many steps had something to say.
    pub fn add_event(
        &mut self,
        ticket: Option<i64>,
        message_id: Option<&str>,
        at: Timestamp,
        kind: EventKind,
        detail: &str,
    ) {
        self.deferred.events.push(NewEvent {
            ticket,
            message_id: message_id.map(str::to_string),
            at,
            kind,
            detail: detail.to_string(),
        });
    }

    /// Several events of one message (see [`Tx::add_event`]).
    pub fn add_events(
        &mut self,
        ticket: Option<i64>,
        message_id: Option<&str>,
        at: Timestamp,
        events: &[Event],
    ) {
        for e in events {
            self.add_event(ticket, message_id, at, e.kind, &e.detail);
        }
    }

    /// The raw bytes of a stored message.
    pub async fn raw_message(&mut self, message_id: &str) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT raw FROM messages WHERE message_id = $1")
            .bind(text(message_id))
            .fetch_optional(&mut *self.tx)
            .await?;
        row.map(|r| col(&r, "raw")).transpose()
    }

    /// Queues a mail whose bytes are already stored as an outbound message.
    pub async fn enqueue(&mut self, o: &NewOutbox<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO outbox (ticket, mailbox, kind, message_id, in_reply_to, env_from, recipients, \
             first_recipient, subject, status, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', 0, $10, $10)",
        )
        .bind(o.ticket)
        .bind(text(o.mailbox))
        .bind(o.kind.as_str())
        .bind(text(o.message_id))
        .bind(opt_text(o.in_reply_to))
        .bind(text(o.env_from))
        .bind(text(join_list(o.recipients)))
        .bind(text(o.recipients.first().map(String::as_str).unwrap_or_default()))
        .bind(text(o.subject))
        .bind(ms(o.created_at))
        .execute(&mut *self.tx)
        .await?;
        // Outbox workers of other processes hear of it at commit.
        self.deferred.queued = true;
        Ok(())
    }

    /// Records that IMAP message `uid` was stored: at commit, it is noted
    /// as needing its after-ingest action (when `pending`), and the
    /// mailbox's position moves past it.
    pub fn record_imap(
        &mut self,
        mailbox: &str,
        uidvalidity: u32,
        uid: u32,
        pending: bool,
        at: Timestamp,
    ) {
        self.deferred.imap.push(ImapRecord {
            mailbox: mailbox.to_string(),
            uidvalidity,
            uid,
            pending,
            at,
        });
    }
}
