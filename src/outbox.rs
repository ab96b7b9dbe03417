//! The outbox worker: sends queued mail through SMTP, oldest due first,
//! sleeping until the next row falls due or ingest wakes it. 4xx and
//! connection errors are retried on the configured schedule; 5xx fails the
//! row. A row is marked sent only after the server accepted it, so a crash
//! can at worst send a mail again, never lose it.

use crate::clock::Clock;
use crate::config::OutboxConfig;
use crate::domain::retry::next_attempt;
use crate::smtp::{Mailer, SendOutcome};
use crate::store::{Store, StoreError};
use jiff::SignedDuration;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How long a claim on a row lasts before another sender may take it.
const CLAIM_LEASE: SignedDuration = SignedDuration::from_secs(300);
/// Rows claimed per round.
const BATCH: u32 = 20;
/// The longest sleep, so rows queued by another process are seen.
const MAX_SLEEP: Duration = Duration::from_secs(30);

pub struct OutboxWorker {
    pub store: Store,
    pub mailer: Mailer,
    pub clock: Arc<dyn Clock>,
    pub config: OutboxConfig,
    pub wake: Arc<Notify>,
    /// Names this process in claims.
    pub owner: String,
}

impl OutboxWorker {
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(server = self.mailer.server(), "outbox worker started");
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            let wait = match self.drain(&shutdown).await {
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
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        if let Err(e) = self.store.release_outbox_claims(&self.owner).await {
            tracing::warn!(error = %e, "outbox: cannot release claims; they expire by themselves");
        }
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

    /// Sends everything that is due; stops between mails at shutdown.
    async fn drain(&self, shutdown: &CancellationToken) -> Result<(), StoreError> {
        loop {
            let now = self.clock.now();
            let jobs = self
                .store
                .claim_outbox(&self.owner, now, CLAIM_LEASE, BATCH)
                .await?;
            if jobs.is_empty() {
                return Ok(());
            }
            for job in jobs {
                if shutdown.is_cancelled() {
                    return Ok(());
                }
                let outcome = self
                    .mailer
                    .send(&job.env_from, &job.recipients, &job.raw)
                    .await;
                let now = self.clock.now();
                match outcome {
                    SendOutcome::Sent => {
                        tracing::info!(ticket = job.ticket, message_id = %job.message_id, kind = %job.kind,
                            to = %job.recipients.join(","), "sent");
                        self.store.outbox_sent(&job, now).await?;
                    }
                    SendOutcome::Temporary(e) => {
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
                        self.store
                            .outbox_attempt_failed(&job, &e, next, now)
                            .await?;
                    }
                    SendOutcome::Permanent(e) => {
                        tracing::error!(ticket = job.ticket, message_id = %job.message_id, error = %e,
                            "delivery failed permanently");
                        self.store
                            .outbox_attempt_failed(&job, &e, None, now)
                            .await?;
                    }
                }
            }
        }
    }
}
