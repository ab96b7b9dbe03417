//! The lists agents ask for by mail (`#mine`, `#queue`, `#atrisk`,
//! `#find`) and that their daily digest carries: tickets with their
//! customer, status and the due time of the response clock that runs.

use super::{Result, Store, Tx, col, ms, opt_from_ms, placeholders, text};
use crate::domain::reply::Overview;
use jiff::{SignedDuration, Timestamp};

/// One ticket of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketLine {
    pub number: i64,
    pub mailbox: String,
    pub subject: String,
    pub customer: Option<String>,
    pub customer_name: Option<String>,
    pub status: String,
    pub assignee: Option<String>,
    /// The running (or breached) response clock: its target and due time.
    pub target: Option<String>,
    pub due: Option<Timestamp>,
}

/// How far ahead `#atrisk` looks.
pub const AT_RISK_AHEAD: SignedDuration = SignedDuration::from_hours(4);
/// The longest list a mail carries.
pub const LIST_LIMIT: i64 = 50;

/// `%`, `_` and `\` taken literally in a LIKE pattern (escape `\`).
fn like(word: &str) -> String {
    let mut p = String::from("%");
    for c in word.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

const CLOCK: &str = "FROM sla_clocks c WHERE c.ticket = t.number \
     AND c.state IN ('running', 'breached') AND c.target <> 'resolution' AND c.due_at IS NOT NULL \
     ORDER BY c.id DESC LIMIT 1";

impl Tx {
    /// Claims `agent`'s digest of `day`: true for the one caller (across
    /// instances) that may send it.
    pub async fn claim_agent_digest(
        &mut self,
        agent: &str,
        day: &str,
        at: Timestamp,
    ) -> Result<bool> {
        let row = sqlx::query(
            "INSERT INTO agent_digests (agent, day, sent_at) VALUES ($1, $2, $3) \
             ON CONFLICT (agent, day) DO NOTHING RETURNING agent",
        )
        .bind(text(agent))
        .bind(text(day))
        .bind(ms(at))
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(row.is_some())
    }

    /// The tickets of `mailboxes` that `what` asks `agent` about, at `now`.
    pub async fn overview(
        &mut self,
        what: &Overview,
        agent: &str,
        mailboxes: &[String],
        now: Timestamp,
    ) -> Result<Vec<TicketLine>> {
        if mailboxes.is_empty() {
            return Ok(Vec::new());
        }
        // $1 the agent, $2 a time, $3.. the mailboxes, then the words.
        let boxes = placeholders(3, mailboxes.len());
        let next = 3 + mailboxes.len();
        let (filter, time, words): (String, Timestamp, Vec<String>) = match what {
            Overview::Mine => (
                "t.status IN ('open', 'pending') AND t.assignee = $1".into(),
                now,
                Vec::new(),
            ),
            Overview::Queue => (
                "t.status = 'open' AND t.assignee IS NULL AND $1 = $1".into(),
                now,
                Vec::new(),
            ),
            Overview::DueBy(until) => (
                "t.status IN ('open', 'pending') AND $1 = $1 AND EXISTS (SELECT 1 FROM sla_clocks c \
                 WHERE c.ticket = t.number AND c.state IN ('running', 'breached') \
                 AND c.due_at IS NOT NULL AND c.due_at <= $2)"
                    .into(),
                *until,
                Vec::new(),
            ),
            Overview::AtRisk => (
                "t.status IN ('open', 'pending') AND $1 = $1 AND EXISTS (SELECT 1 FROM sla_clocks c \
                 WHERE c.ticket = t.number AND c.state IN ('running', 'breached') \
                 AND c.due_at IS NOT NULL AND c.due_at <= $2)"
                    .into(),
                now.checked_add(AT_RISK_AHEAD).unwrap_or(now),
                Vec::new(),
            ),
            Overview::Find(query) => {
                let words: Vec<String> = query.split_whitespace().take(8).map(like).collect();
                let each: Vec<String> = (0..words.len())
                    .map(|i| {
                        let p = format!("${}", next + i);
                        format!(
                            "(LOWER(t.subject) LIKE {p} ESCAPE '\\' OR LOWER(COALESCE(t.customer_email, '')) LIKE {p} ESCAPE '\\' \
                             OR LOWER(COALESCE(t.customer_name, '')) LIKE {p} ESCAPE '\\' \
                             OR EXISTS (SELECT 1 FROM messages m WHERE m.ticket = t.number \
                                        AND LOWER(COALESCE(m.body, '')) LIKE {p} ESCAPE '\\'))"
                        )
                    })
                    .collect();
                (format!("$1 = $1 AND {}", each.join(" AND ")), now, words)
            }
        };
        let sql = format!(
            "SELECT t.number, t.mailbox, t.subject, t.customer_email, t.customer_name, t.status, t.assignee, \
             (SELECT c.target {CLOCK}) AS target, (SELECT c.due_at {CLOCK}) AS due \
             FROM tickets t WHERE t.mailbox IN ({boxes}) AND ($2 = $2) AND {filter} \
             ORDER BY t.number DESC LIMIT {LIST_LIMIT}"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(text(agent))
            .bind(ms(time));
        for m in mailboxes {
            q = q.bind(text(m));
        }
        for w in &words {
            q = q.bind(text(w));
        }
        let rows = q.fetch_all(&mut *self.tx).await?;
        rows.iter()
            .map(|r| {
                Ok(TicketLine {
                    number: col(r, "number")?,
                    mailbox: col(r, "mailbox")?,
                    subject: col(r, "subject")?,
                    customer: col(r, "customer_email")?,
                    customer_name: col(r, "customer_name")?,
                    status: col(r, "status")?,
                    assignee: col(r, "assignee")?,
                    target: col(r, "target")?,
                    due: opt_from_ms(col(r, "due")?)?,
                })
            })
            .collect()
    }
}

impl Store {
    /// The days (`2026-11-30`) of `agent`'s digests already sent among `days`.
    pub async fn agent_digest_days(&self, agent: &str, days: &[String]) -> Result<Vec<String>> {
        if days.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT day FROM agent_digests WHERE agent = $1 AND day IN ({})",
            placeholders(2, days.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(text(agent));
        for d in days {
            q = q.bind(text(d));
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| col(r, "day"))
            .collect()
    }
}
