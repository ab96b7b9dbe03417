//! What operations read: the gauges of `/metrics`, each answered from an
//! index.

use super::{Result, Store, col, ms};
use jiff::Timestamp;

/// The state of the work at one moment, for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Outbox rows waiting to be sent.
    pub outbox_queued: i64,
    /// Tickets whose running SLA clock was warned about and is not due yet.
    pub tickets_at_risk: i64,
    /// Tickets whose running SLA clock is past due.
    pub tickets_breached: i64,
}

impl Store {
    pub async fn gauges(&self, now: Timestamp) -> Result<Gauges> {
        let now = ms(now);
        let mut conn = self.pool.acquire().await?;
        let count = |row: &sqlx::any::AnyRow| col::<i64>(row, "n");
        let queued = sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE status = 'queued'")
            .fetch_one(&mut *conn)
            .await?;
        let breached = sqlx::query(
            "SELECT COUNT(DISTINCT ticket) AS n FROM sla_clocks \
             WHERE state = 'running' AND due_at <= $1",
        )
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        let at_risk = sqlx::query(
            "SELECT COUNT(DISTINCT c.ticket) AS n FROM sla_notices w \
             JOIN sla_clocks c ON c.id = w.clock \
             WHERE w.notice = 'warning' AND c.state = 'running' AND c.due_at > $1",
        )
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        Ok(Gauges {
            outbox_queued: count(&queued)?,
            tickets_at_risk: count(&at_risk)?,
            tickets_breached: count(&breached)?,
        })
    }
}
