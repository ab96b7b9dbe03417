//! `postdesk ingest`: messages from files, mbox files or stdin, through the
//! same pipeline as IMAP. Prints one line (or JSON object) per message. Any
//! database trouble exits 75 at once, so an MTA pipe retries later; messages
//! already stored are recognised as duplicates on the retry.

use super::{CliResult, Failure, exit, open_store};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::mbox;
use crate::ingest::{Arrival, IngestError, Pipeline, Source};
use crate::templates::Templates;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::Notify;

fn arrival(arg: Option<&str>) -> Result<Arrival, Failure> {
    match arg {
        None => Ok(Arrival::Now),
        Some("date-header") => Ok(Arrival::DateHeader),
        Some(t) => t.parse().map(Arrival::At).map_err(|e| {
            Failure::new(
                exit::USAGE,
                format!("--received-at: expected an RFC 3339 time like 2026-11-26T09:30:00Z or date-header, got {t:?} ({e})"),
            )
        }),
    }
}

pub async fn run(
    config: Arc<Config>,
    templates: Arc<Templates>,
    clock: Arc<dyn Clock>,
    mailbox: &str,
    json: bool,
    received_at: Option<&str>,
    files: &[PathBuf],
) -> CliResult {
    let arrival = arrival(received_at)?;
    let Some(mb) = config.mailbox(mailbox).cloned() else {
        let names: Vec<&str> = config.mailboxes.iter().map(|m| m.name.as_str()).collect();
        return Err(Failure::new(
            exit::USAGE,
            format!(
                "--mailbox: no mailbox named {mailbox:?} (configured: {})",
                names.join(", ")
            ),
        ));
    };
    // Files are opened before anything is stored, so a missing one fails fast;
    // messages are then read one at a time, never a whole mbox at once.
    let mut inputs: Vec<(String, Box<dyn std::io::BufRead>)> = Vec::new();
    if files.is_empty() {
        inputs.push((
            "stdin".into(),
            Box::new(std::io::BufReader::new(std::io::stdin())),
        ));
    } else {
        for f in files {
            let file = std::fs::File::open(f).map_err(|e| {
                Failure::new(
                    exit::exit_for_io(&e),
                    format!("cannot read {}: {e}", f.display()),
                )
            })?;
            inputs.push((
                f.display().to_string(),
                Box::new(std::io::BufReader::with_capacity(1 << 20, file)),
            ));
        }
    }

    let store = open_store(&config).await?;
    let key = store.token_key().await?;
    let pipeline = Pipeline::new(
        config.clone(),
        store,
        templates,
        key,
        clock,
        Arc::new(Notify::new()),
        Arc::new(Notify::new()),
    );
    let mut out = std::io::stdout().lock();
    for (name, reader) in inputs {
        for raw in mbox::Messages::new(reader) {
            let raw =
                raw.map_err(|e| Failure::new(exit::TEMPFAIL, format!("cannot read {name}: {e}")))?;
            match pipeline.ingest(&mb, &raw, arrival, Source::Direct).await {
                Ok(o) => {
                    let line = if json {
                        serde_json::to_string(&o).expect("an outcome serialises")
                    } else {
                        let ticket = o.ticket.map_or("-".to_string(), |n| n.to_string());
                        format!(
                            "ticket={ticket} action={} kind={} message_id={}",
                            o.action, o.kind, o.message_id
                        )
                    };
                    let _ = writeln!(out, "{line}");
                }
                Err(e) => {
                    let code = match &e {
                        IngestError::Store(_) => exit::TEMPFAIL,
                        IngestError::Template(_) => exit::CONFIG,
                    };
                    return Err(Failure::new(
                        code,
                        format!("{name}: {}", crate::error_chain(&e)),
                    ));
                }
            }
        }
    }
    Ok(exit::OK)
}
