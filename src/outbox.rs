//! The outbox worker: sends queued mail through SMTP, oldest due first,
//! sleeping until the next row falls due or ingest wakes it. 4xx and
//! connection errors are retried on the configured schedule; 5xx fails the
//! row.
//!
//! Exactly once across crashes: the moment the message body has been
//! written and only the final dot is left, a line goes to the
//! [`SentJournal`] (appended to a file: no lock to wait for); the server's
//! answer adds another. Before any row is claimed again, the database
//! catches up from the journal: accepted rows are sent; a row whose dot went
//! out but whose answer never came back (the process died while the server
//! was answering) is in doubt and is treated as delivered, with an event
//! saying so. A crash before the dot leaves the row queued, to be sent again
//! in full. So a mail is never sent twice; only a crash in the microseconds
//! between the journal line and the dot leaving could lose one.

use crate::clock::Clock;
use crate::config::OutboxConfig;
use crate::domain::retry::next_attempt;
use crate::ops::metrics::{self, Attempt};
use crate::smtp::{Mailer, SendOutcome};
use crate::store::{OutboxJob, Store, StoreError};
use jiff::SignedDuration;
use jiff::Timestamp;
use std::io::{BufRead, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Rows claimed per round: few, so that after a crash only a few rows wait
/// for their claim to expire.
pub const BATCH: u32 = 5;
/// The longest sleep, so rows queued by another process are seen.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// Long enough to send a whole batch when every send takes the full SMTP timeout.
pub fn claim_lease(smtp_timeout: SignedDuration) -> SignedDuration {
    smtp_timeout.max(SignedDuration::from_secs(1)) * (BATCH as i32 + 1)
}

/// What the journal knows about one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noted {
    /// The server accepted it.
    Accepted,
    /// The final dot was about to go out when the record ends: the server may
    /// have accepted it. Treated as delivered, so it is never sent twice.
    InDoubt,
    /// The server answered the dot with a refusal: nothing to settle.
    Refused,
}

/// What happened to rows between the final dot and the database update,
/// appended line by line to a file of this process in the journal
/// directory (`outbox-journal.HOST.PID`), so that a crash cannot make an
/// accepted mail look unsent. A starting process also settles the journals
/// of processes of this host that are gone. Without a directory the journal
/// lives in memory only.
#[derive(Debug, Default)]
pub struct SentJournal {
    dir: Option<PathBuf>,
    memory: Vec<String>,
    /// Journals of gone processes read by the last [`SentJournal::entries`].
    orphans: Vec<PathBuf>,
}

const JOURNAL_PREFIX: &str = "outbox-journal.";

impl SentJournal {
    pub fn new(dir: Option<PathBuf>) -> Self {
        SentJournal {
            dir,
            memory: Vec::new(),
            orphans: Vec::new(),
        }
    }

    fn own_path(&self) -> Option<PathBuf> {
        let name = format!(
            "{JOURNAL_PREFIX}{}.{}",
            crate::instance::hostname(),
            std::process::id()
        );
        self.dir.as_ref().map(|d| d.join(name))
    }

    /// Journals left by processes of this host that are gone.
    fn orphan_paths(&self) -> Vec<PathBuf> {
        let Some(dir) = &self.dir else {
            return Vec::new();
        };
        let Ok(rd) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        rd.flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                let (host, pid) = name.strip_prefix(JOURNAL_PREFIX)?.rsplit_once('.')?;
                crate::instance::process_is_gone(host, pid.parse().ok()?).then(|| e.path())
            })
            .collect()
    }

    fn note(&mut self, tag: char, id: i64, at: Timestamp) {
        let line = format!("{tag} {id} {}", at.as_millisecond());
        let Some(path) = self.own_path() else {
            self.memory.push(line);
            return;
        };
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
        if let Err(e) = written {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the outbox journal");
            self.memory.push(line);
        }
    }

    /// The body is written; the final dot goes next.
    pub fn at_dot(&mut self, id: i64, at: Timestamp) {
        self.note('D', id, at);
    }

    /// The server answered the dot.
    pub fn answered(&mut self, id: i64, accepted: bool, at: Timestamp) {
        self.note(if accepted { 'S' } else { 'F' }, id, at);
    }

    /// The last word on each row noted and not yet cleared, by this process
    /// or by gone processes of this host.
    pub fn entries(&mut self) -> Vec<(i64, Noted, Timestamp)> {
        let mut lines = self.memory.clone();
        self.orphans = self.orphan_paths();
        for path in self
            .own_path()
            .into_iter()
            .chain(self.orphans.iter().cloned())
        {
            if let Ok(f) = std::fs::File::open(&path) {
                lines.extend(std::io::BufReader::new(f).lines().map_while(Result::ok));
            }
        }
        let mut last: std::collections::BTreeMap<i64, (Noted, Timestamp)> = Default::default();
        for line in lines {
            let mut p = line.split_whitespace();
            let (Some(tag), Some(Ok(id)), Some(Ok(ms))) =
                (p.next(), p.next().map(str::parse), p.next().map(str::parse))
            else {
                continue;
            };
            let Ok(at) = Timestamp::from_millisecond(ms) else {
                continue;
            };
            let noted = match tag {
                "S" => Noted::Accepted,
                "D" => Noted::InDoubt,
                "F" => Noted::Refused,
                _ => continue,
            };
            last.insert(id, (noted, at));
        }
        last.into_iter().map(|(id, (n, at))| (id, n, at)).collect()
    }

    /// Forgets what [`SentJournal::entries`] returned: the database holds it now.
    pub fn clear(&mut self) {
        self.memory.clear();
        if let Some(path) = self.own_path()
            && let Err(e) = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_len(0))
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "cannot clear the outbox journal");
        }
        for path in self.orphans.drain(..) {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Removes this process's journal file at a clean stop.
    pub fn remove(&mut self) {
        if let Some(path) = self.own_path() {
            let _ = std::fs::remove_file(path);
        }
    }
}

pub struct OutboxWorker {
    pub store: Store,
    pub mailer: Mailer,
    pub clock: Arc<dyn Clock>,
    pub config: OutboxConfig,
    pub wake: Arc<Notify>,
    /// Names this process in claims.
    pub owner: String,
    /// How long a claim lasts before another sender may take the row: see [`claim_lease`].
    pub claim_lease: SignedDuration,
    /// Where the [`SentJournal`] lives.
    pub journal_dir: Option<PathBuf>,
}

impl OutboxWorker {
    pub async fn run(mut self, shutdown: CancellationToken) {
        tracing::info!(server = self.mailer.server(), "outbox worker started");
        // Mail queued by another process (the MTA pipe's `postdesk ingest`)
        // wakes us too, not only our own ingest.
        let watching = shutdown.child_token();
        let watcher = {
            let (store, wake, stop) = (self.store.clone(), self.wake.clone(), watching.clone());
            tokio::spawn(async move { store.watch_commits(wake, stop).await })
        };
        let mut journal = SentJournal::new(self.journal_dir.clone());
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            let wait = match self.drain(&shutdown, &mut journal).await {
                Ok(()) => {
                    failures = 0;
                    self.until_next_due().await
                }
                Err(e) => {
                    failures += 1;
                    let wait =
                        crate::backoff(failures, Duration::from_secs(1), Duration::from_secs(60));
                    tracing::error!(error = %e, retry_in = ?wait, "outbox: database error");
                    wait
                }
            };
            self.mailer.close_if_idle().await;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        match self.settle(&mut journal).await {
            Ok(()) => journal.remove(),
            Err(e) => {
                tracing::warn!(error = %e, "outbox: sent mail not yet recorded; the next start records it")
            }
        }
        if let Err(e) = self.store.release_outbox_claims(&self.owner).await {
            tracing::warn!(error = %e, "outbox: cannot release claims; they expire by themselves");
        }
        watching.cancel();
        let _ = watcher.await;
        tracing::info!("outbox worker stopped");
    }

    async fn until_next_due(&self) -> Duration {
        match self.store.next_outbox_due().await {
            Ok(Some(t)) => {
                let d = t.duration_since(self.clock.now());
                if d.is_negative() {
                    Duration::ZERO
                } else {
                    d.unsigned_abs().min(MAX_SLEEP)
                }
            }
            _ => MAX_SLEEP,
        }
    }

    /// Rows claimed by a process of this host that died need not wait for
    /// their claims to expire (the journal says what it managed to send).
    async fn release_dead_claims(&self) {
        let owners = match self.store.outbox_claim_owners().await {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(error = %e, "outbox: cannot list claims");
                return;
            }
        };
        for owner in owners.iter().filter(|o| crate::instance::owner_is_dead(o)) {
            tracing::info!(owner = %owner, "outbox: releasing the claims of a process that is gone");
            if let Err(e) = self.store.release_outbox_claims(owner).await {
                tracing::warn!(error = %e, "outbox: cannot release claims");
            }
        }
    }

    /// Records in the database what the journal holds, then clears it.
    async fn settle(&self, journal: &mut SentJournal) -> Result<(), StoreError> {
        let entries = journal.entries();
        if entries.is_empty() {
            return Ok(());
        }
        let done: Vec<(i64, Timestamp, bool)> = entries
            .into_iter()
            .filter_map(|(id, noted, at)| match noted {
                Noted::Accepted => Some((id, at, false)),
                Noted::InDoubt => {
                    tracing::warn!(outbox = id, "delivery in doubt: stopped while the server was answering the final dot; treated as delivered so it is never sent twice");
                    Some((id, at, true))
                }
                Noted::Refused => None,
            })
            .collect();
        self.store.outbox_sent(&done).await?;
        journal.clear();
        Ok(())
    }

    /// Sends everything that is due; stops between mails at shutdown.
    async fn drain(
        &mut self,
        shutdown: &CancellationToken,
        journal: &mut SentJournal,
    ) -> Result<(), StoreError> {
        loop {
            // Before claiming: rows held by a process of this host that died
            // are free again, and nothing accepted earlier (by this process
            // or by the dead one, whose journal is read after its claims
            // are released) may look unsent. The other order would let a
            // process die between the two steps with its final dot in its
            // journal and its row free: sent twice.
            self.release_dead_claims().await;
            self.settle(journal).await?;
            let now = self.clock.now();
            let jobs = self
                .store
                .claim_outbox(&self.owner, now, self.claim_lease, BATCH)
                .await?;
            if jobs.is_empty() {
                return Ok(());
            }
            for job in jobs {
                if shutdown.is_cancelled() {
                    return Ok(());
                }
                let clock = self.clock.clone();
                let outcome = self
                    .mailer
                    .send(&job.env_from, &job.recipients, &job.raw, || {
                        journal.at_dot(job.id, clock.now())
                    })
                    .await;
                self.record(&job, outcome, journal).await?;
            }
        }
    }

    /// Records what became of one attempt: sent, in doubt (as sent), to
    /// retry, or given up; in the journal, the store and the metrics.
    async fn record(
        &self,
        job: &OutboxJob,
        outcome: SendOutcome,
        journal: &mut SentJournal,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        match outcome {
            SendOutcome::Sent => {
                journal.answered(job.id, true, now);
                tracing::info!(ticket = job.ticket, message_id = %job.message_id, kind = %job.kind,
                    to = %job.recipients.join(","), "sent");
                self.store.outbox_sent(&[(job.id, now, false)]).await?;
                metrics::delivery(Attempt::Sent, &job.kind);
            }
            SendOutcome::InDoubt(e) => {
                // The journal's dot line stands: settled as delivered, never resent.
                tracing::warn!(ticket = job.ticket, message_id = %job.message_id, error = %e,
                    "delivery in doubt: the server did not answer the end of the message; treated as delivered so it is never sent twice");
                self.store.outbox_sent(&[(job.id, now, true)]).await?;
                metrics::delivery(Attempt::Sent, &job.kind);
            }
            SendOutcome::Temporary(e) => {
                journal.answered(job.id, false, now);
                let next = next_attempt(
                    &self.config.retry,
                    job.attempts + 1,
                    job.created_at,
                    now,
                    self.config.give_up_after,
                );
                match next {
                    Some(t) => {
                        tracing::warn!(ticket = job.ticket, message_id = %job.message_id,
                        error = %e, next_attempt = %t, "delivery deferred")
                    }
                    None => {
                        tracing::error!(ticket = job.ticket, message_id = %job.message_id,
                        error = %e, "delivery failed: still undeliverable after the retry period")
                    }
                }
                self.store.outbox_attempt_failed(job, &e, next, now).await?;
                let how = if next.is_some() {
                    Attempt::Deferred
                } else {
                    Attempt::Failed
                };
                metrics::delivery(how, &job.kind);
            }
            SendOutcome::Blocked(e) => {
                // Waits for the admin, whatever its age: the mail
                // is not at fault, and goes once the account works.
                journal.answered(job.id, false, now);
                let wait = self.config.retry.first().copied().unwrap_or_default();
                let next = now.checked_add(wait).unwrap_or(now);
                tracing::warn!(ticket = job.ticket, message_id = %job.message_id,
                    error = %e, next_attempt = %next, "delivery waits for a new OAuth2 sign-in");
                self.store
                    .outbox_attempt_failed(job, &e, Some(next), now)
                    .await?;
                metrics::delivery(Attempt::Deferred, &job.kind);
            }
            SendOutcome::Permanent(e) => {
                journal.answered(job.id, false, now);
                tracing::error!(ticket = job.ticket, message_id = %job.message_id, error = %e,
                    "delivery failed permanently");
                self.store.outbox_attempt_failed(job, &e, None, now).await?;
                metrics::delivery(Attempt::Failed, &job.kind);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_survives_its_process_and_settles_gone_ones() {
        let dir = tempfile::tempdir().unwrap();
        let t: Timestamp = "2026-11-26T10:00:00Z".parse().unwrap();
        let mut a = SentJournal::new(Some(dir.path().to_path_buf()));
        a.at_dot(7, t);
        a.answered(7, true, t);
        a.at_dot(3, t); // the process dies while the server answers
        a.at_dot(9, t);
        a.answered(9, false, t);
        // A journal left by a process of this host that is gone.
        let gone = dir.path().join(format!(
            "{JOURNAL_PREFIX}{}.4000000000",
            crate::instance::hostname()
        ));
        std::fs::write(&gone, format!("D 11 {}\n", t.as_millisecond())).unwrap();
        // Another host's journal is not ours to settle.
        let other = dir.path().join(format!("{JOURNAL_PREFIX}elsewhere.1"));
        std::fs::write(&other, format!("D 12 {}\n", t.as_millisecond())).unwrap();

        let mut b = SentJournal::new(Some(dir.path().to_path_buf()));
        assert_eq!(
            b.entries(),
            vec![
                (3, Noted::InDoubt, t),
                (7, Noted::Accepted, t),
                (9, Noted::Refused, t),
                (11, Noted::InDoubt, t)
            ]
        );
        b.clear();
        assert!(!gone.exists());
        assert!(other.exists());
        assert!(
            SentJournal::new(Some(dir.path().to_path_buf()))
                .entries()
                .is_empty()
        );

        let mut m = SentJournal::new(None);
        m.at_dot(1, t);
        assert_eq!(m.entries(), vec![(1, Noted::InDoubt, t)]);
        m.clear();
        assert!(m.entries().is_empty());
    }
}
