//! Retention (GDPR Art. 5(1)(e)), per mailbox: past `raw`, messages lose
//! their original bytes (their text, kept in `body`, and metadata stay);
//! past `text`, a ticket quiet since then has its words and its customers'
//! addresses erased as `customers forget` would (pseudonyms in their
//! place), and so has mail kept without a ticket. And the once-a-day claim
//! that lets exactly one instance run it.

use super::erase::{empty_message, erase_ticket_words};
use super::{Result, Store, col, join_list, ms, opt_from_ms, split_list, text};
use jiff::Timestamp;
use serde::Serialize;
use std::collections::BTreeSet;

/// What a retention run removed (or, dry, would remove) in one mailbox.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Swept {
    pub mailbox: String,
    /// Messages whose original bytes were dropped.
    pub raw_dropped: u64,
    /// Quiet tickets whose words and addresses were erased.
    pub tickets_erased: u64,
    /// Messages without a ticket (lists, robots, spam) erased.
    pub loose_erased: u64,
}

/// Messages not yet stripped: no `raw-dropped` or `erased` flag, and no
/// queued mail still to send from their bytes.
const KEEPS_RAW: &str = "flags NOT LIKE '%raw-dropped%' AND flags NOT LIKE '%erased%' \
     AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = messages.message_id AND o.status = 'queued')";

/// A ticket whose words are still there.
const TICKET_KEPT: &str =
    "NOT (subject = '(erased)' AND customer_name IS NULL AND customer_email LIKE 'erased-%')";

impl Store {
    /// Claims the run of the day: true for one caller in 23 hours, across
    /// every instance on this database (a compare-and-set on one row).
    pub async fn claim_retention(&self, now: Timestamp) -> Result<bool> {
        sqlx::query("INSERT INTO counters (name, value) VALUES ('retention_run', 0) ON CONFLICT (name) DO NOTHING")
            .execute(&self.pool)
            .await?;
        let done = sqlx::query(
            "UPDATE counters SET value = $1 WHERE name = 'retention_run' AND value <= $2",
        )
        .bind(ms(now))
        .bind(ms(now) - 23 * 3_600_000)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// When retention last ran (any instance, or the command).
    pub async fn retention_last_run(&self) -> Result<Option<Timestamp>> {
        let row = sqlx::query("SELECT value FROM counters WHERE name = 'retention_run'")
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => opt_from_ms(Some(col::<i64>(&r, "value")?).filter(|v| *v > 0)),
            None => Ok(None),
        }
    }

    /// What a run would remove in `mailbox`, counted; nothing changes.
    pub async fn retention_counts(
        &self,
        mailbox: &str,
        raw_before: Option<Timestamp>,
        text_before: Option<Timestamp>,
    ) -> Result<Swept> {
        let mut s = Swept {
            mailbox: mailbox.to_string(),
            ..Swept::default()
        };
        let count = |sql: String, before: Timestamp| async move {
            let r = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(text(mailbox))
                .bind(ms(before))
                .fetch_one(&self.pool)
                .await?;
            col::<i64>(&r, "n").map(|n| n as u64)
        };
        if let Some(before) = text_before {
            s.tickets_erased = count(
                format!("SELECT COUNT(*) AS n FROM tickets WHERE mailbox = $1 AND updated_at < $2 AND {TICKET_KEPT}"),
                before,
            )
            .await?;
            s.loose_erased = count(
                "SELECT COUNT(*) AS n FROM messages WHERE mailbox = $1 AND ticket IS NULL AND received_at < $2 \
                 AND flags NOT LIKE '%erased%'"
                    .into(),
                before,
            )
            .await?;
        }
        if let Some(before) = raw_before {
            s.raw_dropped = count(
                format!("SELECT COUNT(*) AS n FROM messages WHERE mailbox = $1 AND received_at < $2 AND {KEEPS_RAW}"),
                before,
            )
            .await?;
        }
        Ok(s)
    }

    /// Runs retention on `mailbox`: drops raw bytes, then erases (in the
    /// order a dry run counts). `pseudonym` names an erased address.
    pub async fn sweep(
        &self,
        mailbox: &str,
        raw_before: Option<Timestamp>,
        text_before: Option<Timestamp>,
        pseudonym: &(dyn Fn(&str) -> String + Sync),
    ) -> Result<Swept> {
        let mut s = Swept {
            mailbox: mailbox.to_string(),
            ..Swept::default()
        };
        if let Some(before) = raw_before {
            s.raw_dropped = self.drop_raw(mailbox, before).await?;
        }
        if let Some(before) = text_before {
            s.tickets_erased = self.erase_quiet_tickets(mailbox, before, pseudonym).await?;
            s.loose_erased = self.erase_loose(mailbox, before, pseudonym).await?;
            self.forget_unreferenced_customers().await?;
        }
        Ok(s)
    }

    /// Drops the original bytes of messages received before `before`,
    /// keeping their text (made from the bytes first where it is missing).
    async fn drop_raw(&self, mailbox: &str, before: Timestamp) -> Result<u64> {
        let mut dropped = 0;
        loop {
            let mut tx = self.begin_raw().await?;
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id, raw, body, flags FROM messages WHERE mailbox = $1 AND received_at < $2 AND {KEEPS_RAW} \
                 ORDER BY id LIMIT 200"
            )))
            .bind(text(mailbox))
            .bind(ms(before))
            .fetch_all(&mut *tx)
            .await?;
            if rows.is_empty() {
                tx.commit().await?;
                return Ok(dropped);
            }
            for r in &rows {
                let id: i64 = col(r, "id")?;
                let body: Option<String> = col(r, "body")?;
                let body = match body {
                    Some(b) => b,
                    None => crate::domain::parse::parse(&col::<Vec<u8>>(r, "raw")?).text,
                };
                let mut flags = split_list(&col::<String>(r, "flags")?);
                flags.push("raw-dropped".into());
                sqlx::query("UPDATE messages SET raw = $1, body = $2, flags = $3 WHERE id = $4")
                    .bind(Vec::<u8>::new())
                    .bind(body)
                    .bind(join_list(&flags))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                dropped += 1;
            }
            tx.commit().await?;
        }
    }

    /// Tickets of `mailbox` untouched since `before`: words and customers' addresses erased.
    async fn erase_quiet_tickets(
        &self,
        mailbox: &str,
        before: Timestamp,
        pseudonym: &(dyn Fn(&str) -> String + Sync),
    ) -> Result<u64> {
        let numbers: Vec<(i64, Option<String>)> = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT number, customer_email FROM tickets WHERE mailbox = $1 AND updated_at < $2 AND {TICKET_KEPT} \
             ORDER BY number"
        )))
        .bind(text(mailbox))
        .bind(ms(before))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok((col(r, "number")?, col(r, "customer_email")?)))
        .collect::<Result<_>>()?;
        for (number, customer) in &numbers {
            let mut tx = self.begin_raw().await?;
            let mut people: BTreeSet<String> = customer.iter().cloned().collect();
            for r in sqlx::query(
                "SELECT email FROM participants WHERE ticket = $1 AND role IN ('customer', 'cc')",
            )
            .bind(*number)
            .fetch_all(&mut *tx)
            .await?
            {
                people.insert(col(&r, "email")?);
            }
            let customer_alias = pseudonym(customer.as_deref().unwrap_or_default());
            erase_ticket_words(&mut tx, *number, &customer_alias).await?;
            for who in &people {
                sqlx::query(
                    "UPDATE participants SET email = $1, name = NULL WHERE ticket = $2 AND email = $3",
                )
                .bind(pseudonym(who))
                .bind(*number)
                .bind(text(who))
                .execute(&mut *tx)
                .await?;
            }
            for r in sqlx::query("SELECT id, from_email, flags FROM messages WHERE ticket = $1")
                .bind(*number)
                .fetch_all(&mut *tx)
                .await?
            {
                let from: Option<String> = col(&r, "from_email")?;
                let alias = from
                    .as_ref()
                    .filter(|f| people.contains(*f))
                    .map(|f| (f.clone(), pseudonym(f)));
                empty_message(
                    &mut tx,
                    col(&r, "id")?,
                    &col::<String>(&r, "flags")?,
                    alias.as_ref().map(|(f, p)| (f.as_str(), p.as_str())),
                )
                .await?;
            }
            for r in sqlx::query("SELECT id, recipients FROM outbox WHERE ticket = $1")
                .bind(*number)
                .fetch_all(&mut *tx)
                .await?
            {
                let to: Vec<String> = split_list(&col::<String>(&r, "recipients")?)
                    .into_iter()
                    .map(|a| {
                        if people.contains(&a) {
                            pseudonym(&a)
                        } else {
                            a
                        }
                    })
                    .collect();
                sqlx::query("UPDATE outbox SET recipients = $1, first_recipient = $2, last_error = NULL WHERE id = $3")
                    .bind(join_list(&to))
                    .bind(text(to.first().map(String::as_str).unwrap_or_default()))
                    .bind(col::<i64>(&r, "id")?)
                    .execute(&mut *tx)
                    .await?;
            }
            // Nothing still queued goes out with erased words.
            sqlx::query(
                "UPDATE outbox SET status = 'failed', last_error = 'erased by retention' \
                 WHERE ticket = $1 AND status = 'queued'",
            )
            .bind(*number)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM held_notices WHERE ticket = $1")
                .bind(*number)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(numbers.len() as u64)
    }

    /// Mail kept without a ticket (lists, robots, spam), older than `before`.
    async fn erase_loose(
        &self,
        mailbox: &str,
        before: Timestamp,
        pseudonym: &(dyn Fn(&str) -> String + Sync),
    ) -> Result<u64> {
        let mut tx = self.begin_raw().await?;
        let rows = sqlx::query(
            "SELECT id, from_email, flags FROM messages WHERE mailbox = $1 AND ticket IS NULL \
             AND received_at < $2 AND flags NOT LIKE '%erased%'",
        )
        .bind(text(mailbox))
        .bind(ms(before))
        .fetch_all(&mut *tx)
        .await?;
        for r in &rows {
            let from: Option<String> = col(r, "from_email")?;
            let alias = from.map(|f| {
                let p = pseudonym(&f);
                (f, p)
            });
            empty_message(
                &mut tx,
                col(r, "id")?,
                &col::<String>(r, "flags")?,
                alias.as_ref().map(|(f, p)| (f.as_str(), p.as_str())),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(rows.len() as u64)
    }

    /// What we remembered of people no stored mail or ticket names any more.
    async fn forget_unreferenced_customers(&self) -> Result<()> {
        sqlx::query(
            "DELETE FROM customers WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.from_email = customers.email) \
             AND NOT EXISTS (SELECT 1 FROM participants p WHERE p.email = customers.email)",
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
