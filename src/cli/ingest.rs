//! `postdesk ingest`: messages from files, mbox files or stdin, through the
//! same pipeline as IMAP. Prints one line (or JSON object) per message. Any
//! database trouble exits 75 at once, so an MTA pipe retries later; messages
//! already stored are recognised as duplicates on the retry. On a terminal
//! a progress bar shows messages, rate and time left; piped, it is silent.

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
    let mut total_bytes = Some(0u64);
    if files.is_empty() {
        total_bytes = None;
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
            let size = file.metadata().map(|m| m.len()).ok();
            total_bytes = total_bytes.zip(size).map(|(a, b)| a + b);
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
    let progress = Progress::new(total_bytes);
    let mut out = std::io::stdout().lock();
    for (name, reader) in inputs {
        for raw in mbox::Messages::new(reader) {
            let raw =
                raw.map_err(|e| Failure::new(exit::TEMPFAIL, format!("cannot read {name}: {e}")))?;
            let result = pipeline.ingest(&mb, &raw, arrival, Source::Direct).await;
            progress.message_done(raw.len());
            match result {
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
                    progress.abandon();
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
    progress.finish();
    Ok(exit::OK)
}

/// The progress bar of a long ingest: bytes read of the whole input (a
/// spinner for stdin), messages stored and their rate, time left. Hidden
/// unless stderr is a terminal, so pipes and logs stay clean.
struct Progress {
    bar: indicatif::ProgressBar,
    messages: std::cell::Cell<u64>,
}

impl Progress {
    fn new(total_bytes: Option<u64>) -> Progress {
        use indicatif::{ProgressBar, ProgressStyle};
        let bar = if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            ProgressBar::hidden()
        } else if let Some(total) = total_bytes {
            ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{bar:30} {percent:>3}% {msg} [{elapsed_precise}, {eta} left]",
                )
                .expect("a valid template"),
            )
        } else {
            ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {msg} [{elapsed_precise}]")
                    .expect("a valid template"),
            )
        };
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        Progress {
            bar,
            messages: std::cell::Cell::new(0),
        }
    }

    fn message_done(&self, bytes: usize) {
        let n = self.messages.get() + 1;
        self.messages.set(n);
        self.bar.inc(bytes as u64);
        let secs = self.bar.elapsed().as_secs_f64().max(0.001);
        self.bar
            .set_message(format!("{n} messages, {:.0} msg/s", n as f64 / secs));
    }

    fn finish(&self) {
        if let Some(total) = self.bar.length() {
            self.bar.set_position(total);
        }
        self.bar.finish();
    }

    fn abandon(&self) {
        self.bar.abandon();
    }
}
