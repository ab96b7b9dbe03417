//! Personal data by person: every address we hold as a customer (or as
//! someone a customer copied), with their tickets and how much mail went
//! each way; and everything stored about one of them, for an export. A
//! message counts as theirs when they sent it or it was addressed to them.

use super::{Result, Store, col, from_ms, opt_from_ms, opt_text, split_list, text};
use jiff::Timestamp;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One address we hold.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CustomerRow {
    pub email: String,
    /// The name they last wrote under.
    pub name: Option<String>,
    /// Tickets they opened or were copied on.
    pub tickets: Vec<i64>,
    /// Messages they sent us, and mail we sent them.
    pub messages_from: u64,
    pub messages_to: u64,
    pub first_contact: Option<Timestamp>,
    pub last_contact: Option<Timestamp>,
}

impl CustomerRow {
    fn saw(&mut self, at: Timestamp) {
        self.first_contact = Some(self.first_contact.map_or(at, |f| f.min(at)));
        self.last_contact = Some(self.last_contact.map_or(at, |l| l.max(at)));
    }
}

/// A stored message that is theirs: sent by them or to them.
#[derive(Debug, Clone, Serialize)]
pub struct TheirMessage {
    pub message_id: String,
    pub ticket: Option<i64>,
    pub direction: String,
    pub kind: String,
    pub from: Option<String>,
    pub subject: String,
    pub received_at: Timestamp,
    pub flags: Vec<String>,
    #[serde(skip)]
    pub raw: Vec<u8>,
}

/// An event whose words name them.
#[derive(Debug, Clone, Serialize)]
pub struct TheirEvent {
    pub ticket: Option<i64>,
    pub at: Timestamp,
    pub what: String,
    pub detail: String,
}

/// A satisfaction rating they gave.
#[derive(Debug, Clone, Serialize)]
pub struct TheirRating {
    pub ticket: i64,
    pub rating: i64,
    pub rated_at: Option<Timestamp>,
}

impl Store {
    /// Every address held as a customer or a customer's copy, by address.
    pub async fn list_customers(&self) -> Result<Vec<CustomerRow>> {
        self.customers_where(None).await
    }

    /// One address, or None when we hold nothing about it.
    pub async fn customer(&self, email: &str) -> Result<Option<CustomerRow>> {
        Ok(self.customers_where(Some(email)).await?.into_iter().next())
    }

    async fn customers_where(&self, only: Option<&str>) -> Result<Vec<CustomerRow>> {
        let mut out: BTreeMap<String, CustomerRow> = BTreeMap::new();
        let entry = |out: &mut BTreeMap<String, CustomerRow>, email: &str| {
            out.entry(email.to_string()).or_insert_with(|| CustomerRow {
                email: email.to_string(),
                ..CustomerRow::default()
            });
        };
        let rows = sqlx::query(
            "SELECT email, ticket, name FROM participants WHERE role IN ('customer', 'cc') \
               AND (CAST($1 AS TEXT) IS NULL OR email = $1) \
             UNION SELECT customer_email, number, customer_name FROM tickets \
             WHERE customer_email IS NOT NULL AND (CAST($1 AS TEXT) IS NULL OR customer_email = $1)",
        )
        .bind(opt_text(only))
        .fetch_all(&self.pool)
        .await?;
        let mut tickets: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
        for r in rows {
            let email: String = col(&r, "email")?;
            entry(&mut out, &email);
            tickets
                .entry(email.clone())
                .or_default()
                .insert(col(&r, "ticket")?);
            if let Some(name) = col::<Option<String>>(&r, "name")?.filter(|n| !n.is_empty()) {
                out.get_mut(&email)
                    .expect("entered")
                    .name
                    .get_or_insert(name);
            }
        }
        let rows = sqlx::query(
            "SELECT from_email, from_name, received_at FROM messages \
             WHERE direction = 'in' AND kind <> 'agent' AND from_email IS NOT NULL \
               AND (CAST($1 AS TEXT) IS NULL OR from_email = $1) ORDER BY received_at",
        )
        .bind(opt_text(only))
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            let email: String = col(&r, "from_email")?;
            entry(&mut out, &email);
            let c = out.get_mut(&email).expect("entered");
            c.messages_from += 1;
            c.saw(from_ms(col(&r, "received_at")?)?);
            if let Some(name) = col::<Option<String>>(&r, "from_name")?.filter(|n| !n.is_empty()) {
                c.name = Some(name);
            }
        }
        let rows = sqlx::query(
            "SELECT recipients, created_at FROM outbox \
             WHERE CAST($1 AS TEXT) IS NULL OR (' ' || recipients || ' ') LIKE ('% ' || $1 || ' %')",
        )
        .bind(opt_text(only))
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            let at = from_ms(col(&r, "created_at")?)?;
            for to in split_list(&col::<String>(&r, "recipients")?) {
                if let Some(c) = out.get_mut(&to).filter(|_| only.is_none_or(|o| o == to)) {
                    c.messages_to += 1;
                    c.saw(at);
                }
            }
        }
        // Pseudonyms of erased people are not addresses: nobody to list.
        out.retain(|email, _| email.contains('@'));
        Ok(out
            .into_values()
            .map(|mut c| {
                c.tickets = tickets
                    .remove(&c.email)
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
                c
            })
            .collect())
    }

    /// Every message they sent us or we sent them, oldest first, with its bytes.
    pub async fn their_messages(&self, email: &str) -> Result<Vec<TheirMessage>> {
        let rows = sqlx::query(
            "SELECT m.message_id, m.ticket, m.direction, m.kind, m.from_email, m.subject, \
                    m.received_at, m.flags, m.raw FROM messages m \
             WHERE (m.direction = 'in' AND m.from_email = $1) \
                OR (m.direction = 'out' AND EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = m.message_id \
                    AND (' ' || o.recipients || ' ') LIKE ('% ' || $1 || ' %'))) \
             ORDER BY m.received_at, m.id",
        )
        .bind(text(email))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TheirMessage {
                    message_id: col(r, "message_id")?,
                    ticket: col(r, "ticket")?,
                    direction: col(r, "direction")?,
                    kind: col(r, "kind")?,
                    from: col(r, "from_email")?,
                    subject: col(r, "subject")?,
                    received_at: from_ms(col(r, "received_at")?)?,
                    flags: split_list(&col::<String>(r, "flags")?),
                    raw: col(r, "raw")?,
                })
            })
            .collect()
    }

    /// Events whose words name the address.
    pub async fn their_events(&self, email: &str) -> Result<Vec<TheirEvent>> {
        let rows = sqlx::query(
            "SELECT ticket, at, what, detail FROM events WHERE detail LIKE ('%' || $1 || '%') ORDER BY id",
        )
        .bind(text(email))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TheirEvent {
                    ticket: col(r, "ticket")?,
                    at: from_ms(col(r, "at")?)?,
                    what: col(r, "what")?,
                    detail: col(r, "detail")?,
                })
            })
            .collect()
    }

    /// Ratings given on the tickets they opened.
    pub async fn their_ratings(&self, email: &str) -> Result<Vec<TheirRating>> {
        let rows = sqlx::query(
            "SELECT s.ticket, s.rating, s.rated_at FROM surveys s JOIN tickets t ON t.number = s.ticket \
             WHERE t.customer_email = $1 AND s.rating IS NOT NULL ORDER BY s.ticket",
        )
        .bind(text(email))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TheirRating {
                    ticket: col(r, "ticket")?,
                    rating: col(r, "rating")?,
                    rated_at: opt_from_ms(col(r, "rated_at")?)?,
                })
            })
            .collect()
    }
}
