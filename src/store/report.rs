//! The rows `postdesk report` aggregates: tickets opened or resolved in the
//! window with their first-response clock, reopenings and rating, and the
//! arrival times of customer messages.

use super::{Result, Store, col, from_ms, ms, opt_from_ms};
use crate::domain::event::EventKind;
use crate::domain::report::TicketRow;
use jiff::{SignedDuration, Timestamp};

impl Store {
    pub async fn report_rows(
        &self,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<(Vec<TicketRow>, Vec<(String, Timestamp)>)> {
        let rows = sqlx::query(
            "SELECT t.number, t.mailbox, t.assignee, t.created_at, t.resolved_at, \
                    c.state AS fr_state, c.consumed_ms AS fr_used, s.rating, \
                    (SELECT COUNT(*) FROM events e WHERE e.ticket = t.number AND e.what = $3 \
                     AND e.at BETWEEN $1 AND $2) AS reopens \
             FROM tickets t \
             LEFT JOIN sla_clocks c ON c.ticket = t.number AND c.target = 'first_response' AND c.cycle = 1 \
             LEFT JOIN surveys s ON s.ticket = t.number \
             WHERE (t.created_at BETWEEN $1 AND $2) OR (t.resolved_at BETWEEN $1 AND $2) \
                OR EXISTS (SELECT 1 FROM events e WHERE e.ticket = t.number AND e.what = $3 \
                           AND e.at BETWEEN $1 AND $2) \
             ORDER BY t.number",
        )
        .bind(ms(since))
        .bind(ms(until))
        .bind(EventKind::Reopened.name().into_owned())
        .fetch_all(&self.pool)
        .await?;
        let tickets = rows
            .iter()
            .map(|r| {
                Ok(TicketRow {
                    number: col(r, "number")?,
                    mailbox: col(r, "mailbox")?,
                    assignee: col(r, "assignee")?,
                    created_at: from_ms(col(r, "created_at")?)?,
                    resolved_at: opt_from_ms(col(r, "resolved_at")?)?,
                    first_response_state: col(r, "fr_state")?,
                    first_response_used: col::<Option<i64>>(r, "fr_used")?
                        .map(SignedDuration::from_millis),
                    reopens: col(r, "reopens")?,
                    rating: col(r, "rating")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let arrivals = sqlx::query(
            "SELECT mailbox, received_at FROM messages \
             WHERE direction = 'in' AND kind = 'customer' AND received_at BETWEEN $1 AND $2",
        )
        .bind(ms(since))
        .bind(ms(until))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok((col(r, "mailbox")?, from_ms(col(r, "received_at")?)?)))
        .collect::<Result<Vec<_>>>()?;
        Ok((tickets, arrivals))
    }
}
