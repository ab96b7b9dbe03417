//! `postdesk ingest`: messages from files, mbox files or stdin, through the
//! same pipeline as IMAP. Prints one line (or JSON object) per message. Any
//! database trouble exits 75 at once, so an MTA pipe retries later; messages
//! already stored are recognised as duplicates on the retry. On a terminal
//! a progress bar shows messages, rate and time left; piped, it is silent.
//!
//! What an MTA pipes in is ONE message, whatever its body says: Postfix's
//! local(8) and Exim's pipe transport put a `From sender date` envelope line
//! in front and do not escape body lines that start with `From `, so
//! splitting stdin as an mbox would let a customer's text become a second
//! message with headers of its choosing (DESIGN §12). Only `*.mbox` files,
//! or any input with `--mbox`, are split.

use super::{CliResult, Failure, exit, open_store};
use crate::clock::Clock;
use crate::config::{Config, MailboxConfig};
use crate::domain::mbox;
use crate::ingest::{
    Arrival, GroupCommit, Incoming, IngestError, Outcome, Pipeline, Prepared, Source,
};
use crate::store::StoreError;
use crate::templates::Templates;
use std::io::{Read, Write};
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

/// How `postdesk ingest` reads its input.
pub struct Options<'a> {
    pub mailbox: &'a str,
    pub json: bool,
    pub received_at: Option<&'a str>,
    /// Split every input as an mbox (otherwise only `*.mbox` files are).
    pub mbox: bool,
}

/// One message as read: its bytes and the envelope sender an MTA stated.
type Piped = (Vec<u8>, Option<String>);

/// One input: a name for messages, a reader, and whether it is an mbox.
struct Input {
    name: String,
    reader: Box<dyn std::io::BufRead + Send>,
    mbox: bool,
}

pub async fn run(
    config: Arc<Config>,
    templates: Arc<Templates>,
    clock: Arc<dyn Clock>,
    o: Options<'_>,
    files: &[PathBuf],
) -> CliResult {
    let arrival = arrival(o.received_at)?;
    let Some(mb) = config.mailbox(o.mailbox).cloned() else {
        let names: Vec<&str> = config.mailboxes.iter().map(|m| m.name.as_str()).collect();
        return Err(Failure::new(
            exit::USAGE,
            format!(
                "--mailbox: no mailbox named {:?} (configured: {})",
                o.mailbox,
                names.join(", ")
            ),
        ));
    };
    let (inputs, total_bytes) = open_inputs(&o, files)?;
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
    let messages = read_ahead(inputs, arrival, config.limits.max_message_size);
    let committed = Committed {
        pipeline: &pipeline,
        group: GroupCommit::default(),
        stored: Vec::new(),
        json: o.json,
        progress: Progress::new(total_bytes),
    };
    store_all(committed, &mb, messages).await
}

/// Stores what `messages` brings, in group commits, and tells each message
/// once its group has committed.
async fn store_all(
    mut c: Committed<'_>,
    mb: &MailboxConfig,
    mut messages: tokio::sync::mpsc::Receiver<ReadAhead>,
) -> CliResult {
    loop {
        // A source that pauses (a slow pipe) does not hold a group open.
        let next = match c.group.deadline() {
            Some(at) => match tokio::time::timeout_at(at, messages.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    c.commit().await?;
                    continue;
                }
            },
            None => messages.recv().await,
        };
        let Some((name, read)) = next else { break };
        let prepared = match read {
            Ok(p) => p,
            Err(f) => return c.stop(f).await,
        };
        if let Err(e) = c.ingest(mb, &prepared).await {
            let code = match &e {
                IngestError::Store(_) => exit::TEMPFAIL,
                IngestError::Template(_) => exit::CONFIG,
            };
            // What went before is kept (and told); this one is not.
            let f = Failure::new(code, format!("{name}: {}", crate::error_chain(&e)));
            return c.stop(f).await;
        }
        c.commit_if_full().await?;
    }
    c.commit().await?;
    c.progress.finish();
    Ok(exit::OK)
}

/// The group commit of `postdesk ingest` and the lines it owes: a message's
/// line is printed once its group has committed, so what the output names
/// as stored is stored.
struct Committed<'p> {
    pipeline: &'p Pipeline,
    group: GroupCommit,
    stored: Vec<Outcome>,
    json: bool,
    progress: Progress,
}

impl Committed<'_> {
    async fn ingest(
        &mut self,
        mb: &MailboxConfig,
        prepared: &Prepared<'_>,
    ) -> Result<(), IngestError> {
        let outcome = self.group.ingest(self.pipeline, mb, prepared).await?;
        self.progress.message_done(prepared.len());
        self.stored.push(outcome);
        Ok(())
    }

    /// Commits the open group, then prints its lines.
    async fn commit(&mut self) -> Result<(), Failure> {
        let result = self.group.commit(self.pipeline).await;
        self.committed(result.map(|()| true))
    }

    async fn commit_if_full(&mut self) -> Result<(), Failure> {
        let result = self.group.commit_if_full(self.pipeline).await;
        self.committed(result)
    }

    fn committed(&mut self, result: Result<bool, StoreError>) -> Result<(), Failure> {
        match result {
            Ok(true) => {
                print(&mut std::io::stdout().lock(), &mut self.stored, self.json);
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(e) => {
                self.progress.abandon();
                Err(Failure::new(exit::TEMPFAIL, crate::error_chain(&e)))
            }
        }
    }

    /// Stops on `failure`, after committing (and telling) what went before.
    async fn stop(mut self, failure: Failure) -> CliResult {
        self.commit().await?;
        self.progress.abandon();
        Err(failure)
    }
}

/// The inputs of `postdesk ingest`, opened (stdin when no file is named),
/// and their size when known. Files are opened before anything is stored,
/// so a missing one fails fast; an mbox is then read one message at a
/// time, never whole.
fn open_inputs(o: &Options<'_>, files: &[PathBuf]) -> Result<(Vec<Input>, Option<u64>), Failure> {
    let mut inputs: Vec<Input> = Vec::new();
    let mut total_bytes = Some(0u64);
    if files.is_empty() {
        total_bytes = None;
        inputs.push(Input {
            name: "stdin".into(),
            reader: Box::new(std::io::BufReader::new(std::io::stdin())),
            mbox: o.mbox,
        });
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
            inputs.push(Input {
                name: f.display().to_string(),
                reader: Box::new(std::io::BufReader::with_capacity(1 << 20, file)),
                mbox: o.mbox
                    || f.extension()
                        .is_some_and(|e| e.eq_ignore_ascii_case("mbox")),
            });
        }
    }

    Ok((inputs, total_bytes))
}

/// Prints (and forgets) the lines of committed messages.
fn print(out: &mut impl Write, stored: &mut Vec<Outcome>, json: bool) {
    for o in stored.drain(..) {
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
    let _ = out.flush();
}

/// A message read and prepared, named by its input; or why reading stopped.
type ReadAhead = (Arc<str>, Result<Prepared<'static>, Failure>);

/// Reads and prepares the messages of `inputs` on a thread of their own,
/// a few ahead of the one being stored; in order. Reading stops at the
/// first input that cannot be read.
fn read_ahead(
    inputs: Vec<Input>,
    arrival: Arrival,
    max_message_size: u64,
) -> tokio::sync::mpsc::Receiver<ReadAhead> {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    std::thread::spawn(move || {
        for input in inputs {
            let name: Arc<str> = input.name.into();
            let messages: Box<dyn Iterator<Item = std::io::Result<Piped>>> = if input.mbox {
                Box::new(mbox::Messages::new(input.reader).map(|m| m.map(|raw| (raw, None))))
            } else {
                Box::new(std::iter::once(read_one(input.reader)))
            };
            for message in messages {
                let read = message
                    .map(|(raw, envelope_from)| {
                        let incoming = Incoming {
                            raw: raw.into(),
                            full_size: None,
                            envelope_from,
                            arrival,
                            source: Source::Direct,
                        };
                        Prepared::new(incoming, max_message_size)
                    })
                    .map_err(|e| Failure::new(exit::TEMPFAIL, format!("cannot read {name}: {e}")));
                let failed = read.is_err();
                // The receiver is gone: ingest stopped on an error.
                if tx.blocking_send((name.clone(), read)).is_err() || failed {
                    return;
                }
            }
        }
    });
    rx
}

/// One whole message from `reader`, byte for byte, without the envelope
/// `From ` line an MTA may put in front of it (whose sender is returned).
fn read_one(mut reader: Box<dyn std::io::BufRead + Send>) -> std::io::Result<Piped> {
    let mut raw = Vec::new();
    reader.read_to_end(&mut raw)?;
    let (envelope, start) = mbox::envelope_line(&raw);
    if start > 0 {
        raw.drain(..start);
    }
    Ok((raw, envelope))
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
