//! Read-side queries for the CLI: tickets with their messages and events,
//! and the outbox, in the shapes of the JSON contract.

use super::{
    Result, Store, col, from_ms, ms, opt_from_ms, opt_text, placeholders, split_list, text,
};
use jiff::Timestamp;
use serde::Serialize;
use sqlx::any::AnyRow;
use std::collections::HashMap;

#[derive(Debug, Clone, Serialize)]
pub struct SlaSummary {
    pub first_response_due: Option<Timestamp>,
    pub first_response_at: Option<Timestamp>,
    pub breached: bool,
}

/// One line of `tickets list`.
#[derive(Debug, Clone, Serialize)]
pub struct TicketSummary {
    #[serde(flatten)]
    pub ticket: TicketHead,
    /// How many messages, in and out.
    pub messages: usize,
    /// Of those, the ones a person wrote (customers' and agents' mail, and
    /// agents' answers relayed) and the automatic ones (acknowledgements,
    /// notifications, robots' mail).
    pub human_messages: usize,
    pub automatic_messages: usize,
    pub message_ids: Vec<String>,
}

/// The messages of one ticket, for its summary line.
#[derive(Debug, Default)]
struct TicketMessages {
    ids: Vec<String>,
    human: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageRow {
    pub message_id: String,
    /// The ticket it is on; none for mail set aside (lists, robots, spam).
    pub ticket: Option<i64>,
    pub direction: String,
    pub kind: String,
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub subject: String,
    pub received_at: Timestamp,
    pub flags: Vec<String>,
    pub size: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub at: Timestamp,
    pub what: String,
    pub detail: String,
}

/// `tickets show N`.
#[derive(Debug, Clone, Serialize)]
pub struct TicketDetail {
    #[serde(flatten)]
    pub ticket: TicketHead,
    pub message_ids: Vec<String>,
    pub messages: Vec<MessageRow>,
    pub events: Vec<EventRow>,
    pub participants: Vec<ParticipantRow>,
    /// The customer's satisfaction rating (1-5), once they answered the survey.
    pub rating: Option<i64>,
    /// What they wrote with it.
    pub rating_comment: Option<String>,
}

/// Someone on a ticket, and whether automatic mail to them is stopped.
#[derive(Debug, Clone, Serialize)]
pub struct ParticipantRow {
    pub email: String,
    pub name: Option<String>,
    pub role: String,
    /// No automatic mail until then (after a permanent bounce).
    pub suppressed_until: Option<Timestamp>,
    pub suppressed_because: Option<String>,
}

/// The fields `tickets show` shares with `tickets list`, without the message count.
#[derive(Debug, Clone, Serialize)]
pub struct TicketHead {
    pub number: i64,
    pub subject: String,
    pub status: String,
    pub priority: String,
    pub mailbox: String,
    pub customer: Option<String>,
    pub customer_name: Option<String>,
    pub assignee: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub follows: Option<i64>,
    pub language: String,
    pub sla_policy: String,
    pub sla: SlaSummary,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub ticket: Option<i64>,
    pub kind: String,
    pub to: Vec<String>,
    pub subject: String,
    pub status: String,
    pub attempts: i64,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
}

const TICKET_COLUMNS: &str = "number, subject, status, priority, mailbox, customer_email, customer_name, \
     assignee, created_at, updated_at, follows, language, sla_policy, first_response_due, first_response_at";

fn head(r: &AnyRow, now: Timestamp) -> Result<TicketHead> {
    let due = opt_from_ms(col(r, "first_response_due")?)?;
    let at = opt_from_ms(col(r, "first_response_at")?)?;
    let breached = match (due, at) {
        (Some(due), Some(at)) => at > due,
        (Some(due), None) => now > due,
        _ => false,
    };
    Ok(TicketHead {
        number: col(r, "number")?,
        subject: col(r, "subject")?,
        status: col(r, "status")?,
        priority: col(r, "priority")?,
        mailbox: col(r, "mailbox")?,
        customer: col(r, "customer_email")?,
        customer_name: col(r, "customer_name")?,
        assignee: col(r, "assignee")?,
        created_at: from_ms(col(r, "created_at")?)?,
        updated_at: from_ms(col(r, "updated_at")?)?,
        follows: col(r, "follows")?,
        language: col(r, "language")?,
        sla_policy: col(r, "sla_policy")?,
        sla: SlaSummary {
            first_response_due: due,
            first_response_at: at,
            breached,
        },
    })
}

impl Store {
    /// Tickets, newest first, optionally only those with `status`.
    pub async fn list_tickets(
        &self,
        status: Option<&str>,
        now: Timestamp,
    ) -> Result<Vec<TicketSummary>> {
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE (CAST($1 AS TEXT) IS NULL OR status = $1) ORDER BY number DESC"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(opt_text(status))
            .fetch_all(&self.pool)
            .await?;
        let heads: Vec<TicketHead> = rows.iter().map(|r| head(r, now)).collect::<Result<_>>()?;
        let mut of = self
            .messages_of(&heads.iter().map(|h| h.number).collect::<Vec<_>>())
            .await?;
        Ok(heads
            .into_iter()
            .map(|ticket| {
                let m = of.remove(&ticket.number).unwrap_or_default();
                TicketSummary {
                    ticket,
                    messages: m.ids.len(),
                    human_messages: m.human,
                    automatic_messages: m.ids.len() - m.human,
                    message_ids: m.ids,
                }
            })
            .collect())
    }

    /// Message-IDs of each ticket, in arrival order, and how many of them
    /// a person wrote.
    async fn messages_of(&self, tickets: &[i64]) -> Result<HashMap<i64, TicketMessages>> {
        let mut out: HashMap<i64, TicketMessages> = HashMap::new();
        for chunk in tickets.chunks(500) {
            let sql = format!(
                "SELECT ticket, message_id, direction, kind FROM messages WHERE ticket IN ({}) ORDER BY received_at, id",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for t in chunk {
                q = q.bind(*t);
            }
            for r in q.fetch_all(&self.pool).await? {
                let m = out.entry(col(&r, "ticket")?).or_default();
                m.ids.push(col(&r, "message_id")?);
                let direction: String = col(&r, "direction")?;
                let kind: String = col(&r, "kind")?;
                if crate::domain::model::written_by_a_person(&direction, &kind) {
                    m.human += 1;
                }
            }
        }
        Ok(out)
    }

    pub async fn ticket_detail(&self, number: i64, now: Timestamp) -> Result<Option<TicketDetail>> {
        let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE number = $1");
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(number)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let ticket = head(&row, now)?;
        // Only constants are formatted in.
        let messages = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE ticket = $1 ORDER BY received_at, id"
        )))
        .bind(number)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(message_row)
        .collect::<Result<Vec<_>>>()?;
        let events =
            sqlx::query("SELECT at, what, detail FROM events WHERE ticket = $1 ORDER BY id")
                .bind(number)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| {
                    Ok(EventRow {
                        at: from_ms(col(r, "at")?)?,
                        what: col(r, "what")?,
                        detail: col(r, "detail")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
        let participants = sqlx::query(
            "SELECT p.email, p.name, p.role, s.until, s.reason FROM participants p \
             LEFT JOIN suppressions s ON s.address = p.email AND s.until > $2 \
             WHERE p.ticket = $1 ORDER BY p.role, p.email",
        )
        .bind(number)
        .bind(super::ms(now))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(ParticipantRow {
                email: col(r, "email")?,
                name: col(r, "name")?,
                role: col(r, "role")?,
                suppressed_until: opt_from_ms(col(r, "until")?)?,
                suppressed_because: col(r, "reason")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let (rating, rating_comment) = self.rating_of(number).await?;
        Ok(Some(TicketDetail {
            message_ids: messages.iter().map(|m| m.message_id.clone()).collect(),
            ticket,
            messages,
            events,
            participants,
            rating,
            rating_comment,
        }))
    }

    /// The raw bytes of the mail a ticket received (customers', agents'),
    /// in arrival order; our own mail about it is left out.
    pub async fn ticket_raws(&self, number: i64) -> Result<Vec<Vec<u8>>> {
        let rows = sqlx::query(
            "SELECT raw FROM messages WHERE ticket = $1 AND direction = 'in' ORDER BY received_at, id",
        )
            .bind(number)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| col(r, "raw")).collect()
    }

    /// Stored mail, newest first: of one kind, since a time, at most
    /// `limit` (mail set aside without a ticket included).
    pub async fn list_messages(
        &self,
        kind: Option<&str>,
        since: Option<Timestamp>,
        limit: i64,
    ) -> Result<Vec<MessageRow>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE (CAST($1 AS TEXT) IS NULL OR kind = $1) AND received_at >= $2 \
             ORDER BY received_at DESC, id DESC LIMIT $3"
        )))
        .bind(opt_text(kind))
        .bind(since.map_or(i64::MIN, ms))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(message_row)
        .collect()
    }

    /// The raw bytes of a stored message.
    pub async fn raw_message(&self, message_id: &str) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT raw FROM messages WHERE message_id = $1")
            .bind(text(message_id))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| col(&r, "raw")).transpose()
    }

    pub async fn list_outbox(&self, status: Option<&str>) -> Result<Vec<OutboxRow>> {
        sqlx::query(
            "SELECT id, ticket, kind, recipients, subject, status, attempts, message_id, in_reply_to, \
             created_at, sent_at, next_attempt_at, last_error FROM outbox \
             WHERE (CAST($1 AS TEXT) IS NULL OR status = $1) ORDER BY id",
        )
        .bind(opt_text(status))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(OutboxRow {
                id: col(r, "id")?,
                ticket: col(r, "ticket")?,
                kind: col(r, "kind")?,
                to: split_list(&col::<String>(r, "recipients")?),
                subject: col(r, "subject")?,
                status: col(r, "status")?,
                attempts: col(r, "attempts")?,
                message_id: col(r, "message_id")?,
                in_reply_to: col(r, "in_reply_to")?,
                created_at: from_ms(col(r, "created_at")?)?,
                sent_at: opt_from_ms(col(r, "sent_at")?)?,
                next_attempt_at: from_ms(col(r, "next_attempt_at")?)?,
                last_error: col(r, "last_error")?,
            })
        })
        .collect()
    }
}

const MESSAGE_COLUMNS: &str =
    "message_id, ticket, direction, kind, from_email, from_name, subject, received_at, flags, size";

fn message_row(r: &sqlx::any::AnyRow) -> Result<MessageRow> {
    Ok(MessageRow {
        message_id: col(r, "message_id")?,
        ticket: col(r, "ticket")?,
        direction: col(r, "direction")?,
        kind: col(r, "kind")?,
        from: col(r, "from_email")?,
        from_name: col(r, "from_name")?,
        subject: col(r, "subject")?,
        received_at: from_ms(col(r, "received_at")?)?,
        flags: split_list(&col::<String>(r, "flags")?),
        size: col(r, "size")?,
    })
}
