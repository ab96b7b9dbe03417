//! A ticket as agents' mail sees and changes it, inside an ingest
//! transaction: its state, an agent's edits, its participants by role, the
//! customer's latest message, the parent of a relayed reply, a merge.

use super::tx::Tx;
use super::{Result, col, from_ms, ms, opt_text, spelled};
use crate::domain::model::{Address, Role, Status};
use jiff::Timestamp;

/// What agent mail and notifications need to know about a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketState {
    pub number: i64,
    pub mailbox: String,
    pub subject: String,
    pub status: Status,
    pub priority: String,
    pub customer: Option<Address>,
    pub assignee: Option<String>,
    pub language: String,
    pub sla_policy: String,
    pub first_response_due: Option<Timestamp>,
    pub first_response_at: Option<Timestamp>,
    pub created_at: Timestamp,
    /// The response clock that runs now (first or next response, also once
    /// breached): its target and due time. None while none runs (answered,
    /// paused, done).
    pub response_due: Option<(String, Timestamp)>,
}

/// The newest unmet response clock of ticket `tickets.number`, for a subquery.
const RESPONSE_CLOCK: &str = "FROM sla_clocks c WHERE c.ticket = tickets.number \
     AND c.state IN ('running', 'breached') AND c.target <> 'resolution' AND c.due_at IS NOT NULL \
     ORDER BY c.id DESC LIMIT 1";

/// Changes an agent's mail makes to a ticket (None: unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketEdit {
    pub status: Option<Status>,
    pub assignee: Option<String>,
    pub priority: Option<String>,
    pub first_response_at: Option<Timestamp>,
    pub spam: bool,
}

impl Tx {
    pub async fn ticket_state(&mut self, number: i64) -> Result<Option<TicketState>> {
        let sql = format!(
            "SELECT number, mailbox, subject, status, priority, customer_email, customer_name, assignee, language, \
             sla_policy, first_response_due, first_response_at, created_at, \
             (SELECT c.target {RESPONSE_CLOCK}) AS response_target, \
             (SELECT c.due_at {RESPONSE_CLOCK}) AS response_due \
             FROM tickets WHERE number = $1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(number)
            .fetch_optional(&mut *self.tx)
            .await?;
        let Some(r) = row else { return Ok(None) };
        let email: Option<String> = col(&r, "customer_email")?;
        let name: Option<String> = col(&r, "customer_name")?;
        Ok(Some(TicketState {
            number: col(&r, "number")?,
            mailbox: col(&r, "mailbox")?,
            subject: col(&r, "subject")?,
            status: spelled(&col::<String>(&r, "status")?, Status::parse)?,
            priority: col(&r, "priority")?,
            customer: email.map(|e| Address { email: e, name }),
            assignee: col(&r, "assignee")?,
            language: col(&r, "language")?,
            sla_policy: col(&r, "sla_policy")?,
            first_response_due: super::opt_from_ms(col(&r, "first_response_due")?)?,
            first_response_at: super::opt_from_ms(col(&r, "first_response_at")?)?,
            created_at: from_ms(col(&r, "created_at")?)?,
            response_due: match (
                col::<Option<String>>(&r, "response_target")?,
                super::opt_from_ms(col(&r, "response_due")?)?,
            ) {
                (Some(target), Some(due)) => Some((target, due)),
                _ => None,
            },
        }))
    }

    pub async fn edit_ticket(&mut self, number: i64, e: &TicketEdit, at: Timestamp) -> Result<()> {
        sqlx::query(
            "UPDATE tickets SET status = COALESCE($2, status), assignee = COALESCE($3, assignee), \
             priority = COALESCE($4, priority), first_response_at = COALESCE(first_response_at, $5), \
             spam = CASE WHEN $6 = 1 THEN 1 ELSE spam END, \
             resolved_at = CASE WHEN $2 IN ('resolved', 'closed') THEN $7 WHEN $2 = 'open' THEN NULL ELSE resolved_at END, \
             updated_at = CASE WHEN updated_at > $7 THEN updated_at ELSE $7 END WHERE number = $1",
        )
        .bind(number)
        .bind(e.status.map(|s| s.as_str()))
        .bind(opt_text(e.assignee.as_deref()))
        .bind(opt_text(e.priority.as_deref()))
        .bind(e.first_response_at.map(ms))
        .bind(i64::from(e.spam))
        .bind(ms(at))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Participants of a ticket with a role.
    pub async fn participants_in_role(&mut self, number: i64, role: Role) -> Result<Vec<Address>> {
        let rows = sqlx::query(
            "SELECT email, name FROM participants WHERE ticket = $1 AND role = $2 ORDER BY email",
        )
        .bind(number)
        .bind(role.as_str())
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Address {
                    email: col(r, "email")?,
                    name: col(r, "name")?,
                })
            })
            .collect()
    }

    /// The latest message the customer side wrote on a ticket: its
    /// Message-ID and References, for threading a reply to it.
    pub async fn latest_customer_message(
        &mut self,
        number: i64,
    ) -> Result<Option<(String, Vec<String>)>> {
        let row = sqlx::query(
            "SELECT message_id, refs FROM messages WHERE ticket = $1 AND direction = 'in' AND kind = 'customer' \
             ORDER BY received_at DESC, id DESC LIMIT 1",
        )
        .bind(number)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|r| {
            Ok((
                col(&r, "message_id")?,
                super::split_list(&col::<String>(&r, "refs")?),
            ))
        })
        .transpose()
    }

    /// What automatic mail about a ticket replies to: its customer's latest
    /// message, or, before there is one, a stand-in ID of the ticket.
    pub async fn reply_parent(
        &mut self,
        number: i64,
        domain: &str,
    ) -> Result<(String, Vec<String>)> {
        Ok(self
            .latest_customer_message(number)
            .await?
            .unwrap_or_else(|| (format!("ticket-{number}@{domain}"), Vec::new())))
    }

    /// Moves everything of ticket `from` to ticket `into` and closes `from`.
    pub async fn merge_tickets(&mut self, from: i64, into: i64, at: Timestamp) -> Result<()> {
        for sql in [
            "UPDATE messages SET ticket = $2 WHERE ticket = $1",
            "UPDATE message_refs SET ticket = $2 WHERE ticket = $1",
            "UPDATE outbox SET ticket = $2 WHERE ticket = $1",
            "INSERT INTO participants (ticket, email, name, role) SELECT $2, email, name, role FROM participants \
             WHERE ticket = $1 ON CONFLICT (ticket, email) DO NOTHING",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(from)
                .bind(into)
                .execute(&mut *self.tx)
                .await?;
        }
        sqlx::query("UPDATE tickets SET status = 'closed', merged_into = $2, updated_at = $3 WHERE number = $1")
            .bind(from)
            .bind(into)
            .bind(ms(at))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}
