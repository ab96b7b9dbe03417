//! Erasing one person's personal data in one transaction: their messages
//! and the messages of tickets they opened lose their bytes and subjects;
//! their address becomes a pseudonym wherever it is kept (participants,
//! tickets, other people's message headers, events, held notices); mail
//! queued to them alone is dropped; what we remembered of them (language,
//! suppressions, spam marks) is deleted. Ticket numbers, times, statuses,
//! SLA clocks and ratings stay, so reports keep their figures.

use super::events::{NewEvent, insert_events};
use super::{Result, Store, col, join_list, placeholders, split_list, text};
use crate::domain::erasure::{ERASED, scrub, without};
use crate::domain::event::EventKind;
use jiff::Timestamp;
use serde::Serialize;
use std::collections::BTreeSet;

/// What an erasure changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Erased {
    pub pseudonym: String,
    /// Tickets they opened (subjects and conversations erased).
    pub tickets: usize,
    /// Messages whose bytes were dropped.
    pub messages_emptied: usize,
    /// Other people's messages whose headers named them.
    pub messages_scrubbed: usize,
    /// Queued or sent mail rows addressed to them alone, removed.
    pub outbox_removed: usize,
}

impl Store {
    /// Erases `email` (lower-case), replacing it with `pseudonym`.
    pub async fn forget(&self, email: &str, pseudonym: &str, now: Timestamp) -> Result<Erased> {
        let mut tx = self.begin_raw().await?;
        let mut done = Erased {
            pseudonym: pseudonym.to_string(),
            ..Erased::default()
        };
        let who = involvement(&mut tx, email).await?;
        let theirs = &who.theirs;
        done.tickets = theirs.len();
        // Messages: theirs and their tickets' lose their bytes; others are scrubbed.
        (done.messages_emptied, done.messages_scrubbed) =
            erase_messages(&mut tx, email, pseudonym, &who).await?;

        // Tickets they opened: the person and the subject go; numbers,
        // times, statuses and clocks stay. A later mail of theirs cannot
        // thread into them (no address, no subject, no Message-IDs).
        for t in theirs {
            erase_ticket_words(&mut tx, *t, pseudonym).await?;
        }
        sqlx::query("UPDATE participants SET email = $1, name = NULL WHERE email = $2")
            .bind(text(pseudonym))
            .bind(text(email))
            .execute(&mut *tx)
            .await?;

        // Mail addressed to them: removed when they were its only recipient.
        done.outbox_removed = erase_outbox(&mut tx, email).await?;
        // Their address in words elsewhere.
        for sql in [
            "UPDATE events SET detail = replace(detail, $1, $2) WHERE detail LIKE ('%' || $1 || '%')",
            "UPDATE outbox SET last_error = replace(last_error, $1, $2) WHERE last_error LIKE ('%' || $1 || '%')",
            "UPDATE held_notices SET who = replace(who, $1, $2), reason = replace(reason, $1, $2) \
             WHERE who LIKE ('%' || $1 || '%') OR reason LIKE ('%' || $1 || '%')",
        ] {
            sqlx::query(sql)
                .bind(text(email))
                .bind(text(pseudonym))
                .execute(&mut *tx)
                .await?;
        }
        for sql in [
            "DELETE FROM customers WHERE email = $1",
            "DELETE FROM suppressions WHERE address = $1",
            "DELETE FROM spam_senders WHERE email = $1",
        ] {
            sqlx::query(sql).bind(text(email)).execute(&mut *tx).await?;
        }
        let event = NewEvent {
            ticket: None,
            message_id: None,
            at: now,
            kind: EventKind::PersonalDataErased,
            detail: format!("personal data erased on request: now {pseudonym}"),
        };
        insert_events(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(done)
    }
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// Whose tickets and names an erasure reaches.
struct Involvement {
    /// The tickets they opened.
    theirs: BTreeSet<i64>,
    /// Those and every ticket they took part in.
    involved: BTreeSet<i64>,
    /// The names they wrote under, to scrub from other people's mail.
    names: Vec<String>,
}

/// Their tickets, and every ticket they took part in; their names.
async fn involvement(tx: &mut Tx, email: &str) -> Result<Involvement> {
    let theirs: BTreeSet<i64> = sqlx::query("SELECT number FROM tickets WHERE customer_email = $1")
        .bind(text(email))
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| col(r, "number"))
        .collect::<Result<_>>()?;
    let mut involved = theirs.clone();
    let mut names: BTreeSet<String> = BTreeSet::new();
    for r in sqlx::query("SELECT ticket, name FROM participants WHERE email = $1")
        .bind(text(email))
        .fetch_all(&mut **tx)
        .await?
    {
        involved.insert(col(&r, "ticket")?);
        if let Some(n) = col::<Option<String>>(&r, "name")? {
            names.insert(n);
        }
    }
    for r in sqlx::query(
        "SELECT DISTINCT from_name FROM messages WHERE from_email = $1 AND from_name IS NOT NULL",
    )
    .bind(text(email))
    .fetch_all(&mut **tx)
    .await?
    {
        names.insert(col(&r, "from_name")?);
    }
    let names: Vec<String> = names.into_iter().filter(|n| !n.trim().is_empty()).collect();

    Ok(Involvement {
        theirs,
        involved,
        names,
    })
}

/// Their messages and their tickets' lose their bytes; other people's
/// mail that names them is scrubbed. Returns (emptied, scrubbed).
async fn erase_messages(
    tx: &mut Tx,
    email: &str,
    pseudonym: &str,
    who: &Involvement,
) -> Result<(usize, usize)> {
    let (mut emptied, mut scrubbed) = (0, 0);
    let involved: Vec<i64> = who.involved.iter().copied().collect();
    let sql = format!(
        "SELECT id, ticket, from_email, flags FROM messages WHERE from_email = $1{}",
        if involved.is_empty() {
            String::new()
        } else {
            format!(" OR ticket IN ({})", placeholders(2, involved.len()))
        }
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(text(email));
    for t in &involved {
        q = q.bind(*t);
    }
    let mut ids: Vec<(i64, Option<i64>, Option<String>, String)> = Vec::new();
    for r in q.fetch_all(&mut **tx).await? {
        ids.push((
            col(&r, "id")?,
            col(&r, "ticket")?,
            col(&r, "from_email")?,
            col(&r, "flags")?,
        ));
    }
    for (id, ticket, from, flags) in ids {
        let own = from.as_deref() == Some(email);
        if own || ticket.is_some_and(|t| who.theirs.contains(&t)) {
            empty_message(tx, id, &flags, Some((email, pseudonym))).await?;
            emptied += 1;
        } else {
            let row = sqlx::query("SELECT raw, body FROM messages WHERE id = $1")
                .bind(id)
                .fetch_one(&mut **tx)
                .await?;
            let raw: Vec<u8> = col(&row, "raw")?;
            let body: Option<String> = col(&row, "body")?;
            let clean_raw = scrub(&raw, email, pseudonym, &who.names);
            let clean_body = body
                .as_deref()
                .and_then(|b| scrub(b.as_bytes(), email, pseudonym, &who.names))
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            if clean_raw.is_some() || clean_body.is_some() {
                sqlx::query("UPDATE messages SET raw = $1, body = $2 WHERE id = $3")
                    .bind(clean_raw.unwrap_or(raw))
                    .bind(clean_body.or(body))
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
                scrubbed += 1;
            }
        }
    }

    Ok((emptied, scrubbed))
}

/// Mail addressed to them: removed when they were its only recipient,
/// otherwise kept for the others. Returns how many rows were removed.
async fn erase_outbox(tx: &mut Tx, email: &str) -> Result<usize> {
    let mut removed = 0;
    for r in sqlx::query(
            "SELECT id, recipients FROM outbox WHERE (' ' || recipients || ' ') LIKE ('% ' || $1 || ' %')",
        )
        .bind(text(email))
        .fetch_all(&mut **tx)
        .await?
        {
            let id: i64 = col(&r, "id")?;
            match without(&split_list(&col::<String>(&r, "recipients")?), email) {
                None => {
                    sqlx::query("DELETE FROM outbox WHERE id = $1")
                        .bind(id)
                        .execute(&mut **tx)
                        .await?;
                    removed += 1;
                }
                Some(rest) => {
                    sqlx::query("UPDATE outbox SET recipients = $1, first_recipient = $2 WHERE id = $3")
                        .bind(join_list(&rest))
                        .bind(text(&rest[0]))
                        .bind(id)
                        .execute(&mut **tx)
                        .await?;
                }
            }
        }
    Ok(removed)
}

/// A message loses its bytes, text and subject and is flagged `erased`;
/// with `from`, a sender of that address becomes the pseudonym.
pub(super) async fn empty_message(
    tx: &mut Tx,
    id: i64,
    flags: &str,
    from: Option<(&str, &str)>,
) -> Result<()> {
    let mut f = split_list(flags);
    if !f.iter().any(|x| x == "erased") {
        f.push("erased".into());
    }
    let (email, pseudonym) = from.unwrap_or(("", ""));
    sqlx::query(
        "UPDATE messages SET raw = $1, body = NULL, subject = $2, flags = $3, \
         from_email = CASE WHEN from_email = $4 THEN $5 ELSE from_email END, \
         from_name = CASE WHEN from_email = $4 THEN NULL ELSE from_name END WHERE id = $6",
    )
    .bind(Vec::<u8>::new())
    .bind(ERASED)
    .bind(join_list(&f))
    .bind(text(email))
    .bind(text(pseudonym))
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A ticket keeps its number, times, status and clocks; its customer
/// becomes `pseudonym`, its subject, events' words, survey comment and
/// the Message-IDs it is threaded by go (a later mail cannot thread into it).
pub(super) async fn erase_ticket_words(tx: &mut Tx, ticket: i64, pseudonym: &str) -> Result<()> {
    sqlx::query(
        "UPDATE tickets SET customer_email = $1, customer_name = NULL, subject = $2, \
         normalized_subject = $1 WHERE number = $3",
    )
    .bind(text(pseudonym))
    .bind(ERASED)
    .bind(ticket)
    .execute(&mut **tx)
    .await?;
    for sql in [
        "UPDATE events SET detail = '(erased)' WHERE ticket = $1",
        "UPDATE outbox SET subject = '(erased)' WHERE ticket = $1",
        "DELETE FROM message_refs WHERE ticket = $1",
        "UPDATE surveys SET comment = NULL WHERE ticket = $1",
    ] {
        sqlx::query(sql).bind(ticket).execute(&mut **tx).await?;
    }
    Ok(())
}
