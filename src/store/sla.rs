//! SLA clocks and notices in the database: clocks per ticket and target,
//! the schedule of notices ahead of running clocks (indexed by due time, so
//! the scheduler never scans tickets), and the record of notices sent, whose
//! primary key makes each notice go once per recipient.

use super::{Result, Store, StoreError, Tx, col, from_ms, ms, opt_from_ms, spelled, text};
use crate::domain::sla::{ClockState, Notice, SlaClock, Target};
use jiff::{SignedDuration, Timestamp};
use sqlx::any::AnyRow;

/// A clock as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredClock {
    pub id: i64,
    pub ticket: i64,
    pub cycle: i64,
    pub policy: String,
    pub started_at: Timestamp,
    pub clock: SlaClock,
}

/// A scheduled notice that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueNotice {
    pub clock: i64,
    pub notice: Notice,
    pub level: u32,
    pub due_at: Timestamp,
}

const CLOCK_COLUMNS: &str = "id, ticket, target, cycle, policy, budget_ms, consumed_ms, started_at, running_since, due_at, state, stopped_at";

fn clock_row(r: &AnyRow) -> Result<StoredClock> {
    Ok(StoredClock {
        id: col(r, "id")?,
        ticket: col(r, "ticket")?,
        cycle: col(r, "cycle")?,
        policy: col(r, "policy")?,
        started_at: from_ms(col(r, "started_at")?)?,
        clock: SlaClock {
            target: spelled(&col::<String>(r, "target")?, Target::parse)?,
            budget: SignedDuration::from_millis(col(r, "budget_ms")?),
            consumed: SignedDuration::from_millis(col(r, "consumed_ms")?),
            running_since: opt_from_ms(col(r, "running_since")?)?,
            state: spelled(&col::<String>(r, "state")?, ClockState::parse)?,
            due_at: opt_from_ms(col(r, "due_at")?)?,
            stopped_at: opt_from_ms(col(r, "stopped_at")?)?,
        },
    })
}

impl Tx {
    /// Every clock of a ticket, oldest first.
    pub async fn clocks(&mut self, ticket: i64) -> Result<Vec<StoredClock>> {
        let sql = format!("SELECT {CLOCK_COLUMNS} FROM sla_clocks WHERE ticket = $1 ORDER BY id");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ticket)
            .fetch_all(&mut *self.tx)
            .await?
            .iter()
            .map(clock_row)
            .collect()
    }

    pub async fn clock(&mut self, id: i64) -> Result<Option<StoredClock>> {
        let sql = format!("SELECT {CLOCK_COLUMNS} FROM sla_clocks WHERE id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?
            .as_ref()
            .map(clock_row)
            .transpose()
    }

    pub async fn insert_clock(
        &mut self,
        ticket: i64,
        cycle: i64,
        policy: &str,
        c: &SlaClock,
        at: Timestamp,
    ) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO sla_clocks (ticket, target, cycle, policy, budget_ms, consumed_ms, started_at, running_since, \
             due_at, state, stopped_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(ticket)
        .bind(c.target.as_str())
        .bind(cycle)
        .bind(text(policy))
        .bind(c.budget.as_millis() as i64)
        .bind(c.consumed.as_millis() as i64)
        .bind(ms(at))
        .bind(c.running_since.map(ms))
        .bind(c.due_at.map(ms))
        .bind(c.state.as_str())
        .bind(c.stopped_at.map(ms))
        .fetch_one(&mut *self.tx)
        .await?;
        col(&row, "id")
    }

    pub async fn update_clock(&mut self, id: i64, c: &SlaClock) -> Result<()> {
        sqlx::query(
            "UPDATE sla_clocks SET consumed_ms = $2, running_since = $3, due_at = $4, state = $5, stopped_at = $6 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(c.consumed.as_millis() as i64)
        .bind(c.running_since.map(ms))
        .bind(c.due_at.map(ms))
        .bind(c.state.as_str())
        .bind(c.stopped_at.map(ms))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Replaces the scheduled notices of a clock, leaving out those already
    /// sent. A `fresh` clock (started in this transaction) has neither, so
    /// its notices go in with one statement.
    pub async fn reschedule(
        &mut self,
        clock: i64,
        fresh: bool,
        notices: &[(Notice, u32, Timestamp)],
    ) -> Result<()> {
        if fresh {
            if notices.is_empty() {
                return Ok(());
            }
            let values: Vec<String> = (0..notices.len())
                .map(|i| format!("($1, ${}, ${}, ${})", 3 * i + 2, 3 * i + 3, 3 * i + 4))
                .collect();
            let sql = format!(
                "INSERT INTO sla_schedule (clock, notice, level, due_at) VALUES {}",
                values.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(clock);
            for (notice, level, at) in notices {
                q = q
                    .bind(notice.as_str())
                    .bind(i64::from(*level))
                    .bind(ms(*at));
            }
            q.execute(&mut *self.tx).await?;
            return Ok(());
        }
        sqlx::query("DELETE FROM sla_schedule WHERE clock = $1")
            .bind(clock)
            .execute(&mut *self.tx)
            .await?;
        for (notice, level, at) in notices {
            sqlx::query(
                "INSERT INTO sla_schedule (clock, notice, level, due_at) SELECT $1, $2, $3, $4 \
                 WHERE NOT EXISTS (SELECT 1 FROM sla_notices WHERE clock = $1 AND notice = $2 AND level = $3)",
            )
            .bind(clock)
            .bind(notice.as_str())
            .bind(i64::from(*level))
            .bind(ms(*at))
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    /// Takes a due notice off the schedule; false when another worker took it.
    pub async fn take_notice(&mut self, n: &DueNotice) -> Result<bool> {
        let done =
            sqlx::query("DELETE FROM sla_schedule WHERE clock = $1 AND notice = $2 AND level = $3")
                .bind(n.clock)
                .bind(n.notice.as_str())
                .bind(i64::from(n.level))
                .execute(&mut *self.tx)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records a notice to a recipient; false when it was sent before.
    pub async fn record_notice(
        &mut self,
        n: &DueNotice,
        recipient: &str,
        at: Timestamp,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO sla_notices (clock, notice, level, recipient, sent_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (clock, notice, level, recipient) DO NOTHING",
        )
        .bind(n.clock)
        .bind(n.notice.as_str())
        .bind(i64::from(n.level))
        .bind(text(recipient))
        .bind(ms(at))
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Keeps the ticket's first-response fields in step with its clock.
    pub async fn set_first_response_due(
        &mut self,
        ticket: i64,
        due: Option<Timestamp>,
    ) -> Result<()> {
        sqlx::query("UPDATE tickets SET first_response_due = $2 WHERE number = $1")
            .bind(ticket)
            .bind(due.map(ms))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}

impl Store {
    /// Notices due at `now`, oldest first.
    pub async fn due_notices(&self, now: Timestamp, limit: u32) -> Result<Vec<DueNotice>> {
        // The limit in the text: bound, it would re-prepare the statement on SQLite.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT clock, notice, level, due_at FROM sla_schedule WHERE due_at <= $1 \
             ORDER BY due_at LIMIT {limit}"
        )))
        .bind(ms(now))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(DueNotice {
                clock: col(r, "clock")?,
                notice: spelled(&col::<String>(r, "notice")?, Notice::parse)?,
                level: u32::try_from(col::<i64>(r, "level")?)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                due_at: from_ms(col(r, "due_at")?)?,
            })
        })
        .collect()
    }

    /// When the next scheduled notice is due.
    pub async fn next_notice_due(&self) -> Result<Option<Timestamp>> {
        let row = sqlx::query("SELECT MIN(due_at) AS due FROM sla_schedule")
            .fetch_one(&self.pool)
            .await?;
        col::<Option<i64>>(&row, "due")?.map(from_ms).transpose()
    }

    /// Every clock, for `sla status`.
    pub async fn all_clocks(&self) -> Result<Vec<StoredClock>> {
        let sql = format!("SELECT {CLOCK_COLUMNS} FROM sla_clocks ORDER BY ticket, id");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(clock_row)
            .collect()
    }
}
