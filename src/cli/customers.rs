//! Personal data for the admin (GDPR Art. 15 and 20): `customers list`,
//! `customers show EMAIL` and `customers export EMAIL --out DIR` (a JSON
//! file of everything held about the person and every message they sent or
//! were sent as an `.eml` file, bytes unchanged); and `backup FILE`, a
//! consistent copy of a SQLite database taken while the daemon runs.

use super::{CliResult, Failure, exit, when};
use crate::clock::Clock;
use crate::domain::files::safe_name;
use crate::store::{CustomerRow, Store};
use std::path::Path;

/// `customers list`.
pub async fn list(store: &Store, tz: &jiff::tz::TimeZone, json: bool) -> CliResult {
    let all = store.list_customers().await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&all).expect("serialisable")
        );
        return Ok(exit::OK);
    }
    if all.is_empty() {
        println!("no customers");
        return Ok(exit::OK);
    }
    println!(
        "{:<36} {:>7} {:>5} {:>5}  {:<21} LAST CONTACT",
        "EMAIL", "TICKETS", "FROM", "TO", "FIRST CONTACT"
    );
    for c in &all {
        println!(
            "{:<36} {:>7} {:>5} {:>5}  {:<21} {}",
            c.email,
            c.tickets.len(),
            c.messages_from,
            c.messages_to,
            c.first_contact.map_or("-".into(), |t| when::show(t, tz)),
            c.last_contact.map_or("-".into(), |t| when::show(t, tz)),
        );
    }
    Ok(exit::OK)
}

async fn known(store: &Store, email: &str) -> Result<CustomerRow, Failure> {
    store
        .customer(&email.trim().to_lowercase())
        .await?
        .ok_or_else(|| Failure::new(exit::NOINPUT, format!("no personal data held for {email}")))
}

/// `customers show EMAIL`.
pub async fn show(store: &Store, email: &str, tz: &jiff::tz::TimeZone, json: bool) -> CliResult {
    let c = known(store, email).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&c).expect("serialisable")
        );
        return Ok(exit::OK);
    }
    println!(
        "{}{}",
        c.email,
        c.name
            .as_ref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default()
    );
    let numbers: Vec<String> = c.tickets.iter().map(|n| format!("#{n}")).collect();
    println!(
        "  tickets: {}",
        if numbers.is_empty() {
            "-".into()
        } else {
            numbers.join(", ")
        }
    );
    println!(
        "  messages: {} from them, {} to them",
        c.messages_from, c.messages_to
    );
    println!(
        "  first contact {}, last contact {}",
        c.first_contact.map_or("-".into(), |t| when::show(t, tz)),
        c.last_contact.map_or("-".into(), |t| when::show(t, tz))
    );
    Ok(exit::OK)
}

/// `customers export EMAIL --out DIR`: `DIR/customer.json` and
/// `DIR/messages/NNNN-in|out-<Message-ID>.eml`.
pub async fn export(store: &Store, clock: &dyn Clock, email: &str, out: &Path) -> CliResult {
    let c = known(store, email).await?;
    let now = clock.now();
    let io = |what: &Path, e: std::io::Error| {
        Failure::new(
            exit::CANTCREAT,
            format!("cannot write {}: {e}", what.display()),
        )
    };
    let dir = out.join("messages");
    std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
    let messages = store.their_messages(&c.email).await?;
    let mut listed = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let name = format!(
            "{:04}-{}-{}.eml",
            i + 1,
            m.direction,
            safe_name(&m.message_id)
        );
        let path = dir.join(&name);
        std::fs::write(&path, &m.raw).map_err(|e| io(&path, e))?;
        let mut v = serde_json::to_value(m).expect("serialisable");
        v["file"] = serde_json::Value::String(format!("messages/{name}"));
        listed.push(v);
    }
    let mut tickets = Vec::new();
    for n in &c.tickets {
        if let Some(d) = store.ticket_detail(*n, now).await? {
            tickets.push(d);
        }
    }
    let doc = serde_json::json!({
        "email": c.email,
        "name": c.name,
        "exported_at": now,
        "summary": c,
        "tickets": tickets,
        "messages": listed,
        "events": store.their_events(&c.email).await?,
        "ratings": store.their_ratings(&c.email).await?,
    });
    let file = out.join("customer.json");
    std::fs::write(
        &file,
        serde_json::to_string_pretty(&doc).expect("serialisable"),
    )
    .map_err(|e| io(&file, e))?;
    println!(
        "exported {}: {} tickets, {} messages into {}",
        c.email,
        c.tickets.len(),
        messages.len(),
        out.display()
    );
    Ok(exit::OK)
}

/// `customers forget EMAIL --yes`.
pub async fn forget(store: &Store, clock: &dyn Clock, email: &str, yes: bool) -> CliResult {
    let email = email.trim().to_lowercase();
    let Some(c) = store.customer(&email).await? else {
        println!("nothing held for {email} (never held, or erased already)");
        return Ok(exit::OK);
    };
    if !yes {
        return Err(Failure::new(
            exit::USAGE,
            format!(
                "this erases the personal data of {email} for good: the text of {} messages from them and \
                 the conversations of {} tickets; run it again with --yes (export it first with \
                 `postdesk customers export {email} --out DIR` if they asked for a copy)",
                c.messages_from,
                c.tickets.len()
            ),
        ));
    }
    let key = store.token_key().await?;
    let pseudonym = key.pseudonym(&email);
    let done = store.forget(&email, &pseudonym, clock.now()).await?;
    println!(
        "erased {email}: now {pseudonym}; {} tickets kept without their words, {} messages emptied, \
         {} other messages cleaned of the address, {} queued or sent mail rows to them removed",
        done.tickets, done.messages_emptied, done.messages_scrubbed, done.outbox_removed
    );
    Ok(exit::OK)
}

/// `retention run [--dry-run] [--at TIME]`.
pub async fn retention(
    store: &Store,
    config: &crate::config::Config,
    now: jiff::Timestamp,
    dry: bool,
    json: bool,
) -> CliResult {
    let swept = crate::retention::run(store, config, now, dry).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&swept).expect("serialisable")
        );
        return Ok(exit::OK);
    }
    if swept.is_empty() {
        println!("no mailbox has a retention setting: everything is kept");
    }
    let verb = if dry { "would remove" } else { "removed" };
    for s in &swept {
        println!(
            "{}: {verb} the original bytes of {} messages, the words and addresses of {} quiet tickets \
             and {} messages without a ticket",
            s.mailbox, s.raw_dropped, s.tickets_erased, s.loose_erased
        );
    }
    Ok(exit::OK)
}

/// `backup FILE`.
pub async fn backup(store: &Store, file: &Path) -> CliResult {
    if file.exists() {
        return Err(Failure::new(
            exit::CANTCREAT,
            format!("{} exists: give a new file name", file.display()),
        ));
    }
    match store.backup_sqlite(file).await? {
        Some(()) => {
            let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
            println!("backup written to {} ({size} bytes)", file.display());
            Ok(exit::OK)
        }
        None => Err(Failure::new(
            exit::USAGE,
            "backup copies a SQLite database; for PostgreSQL use pg_dump (README: Backups)",
        )),
    }
}
