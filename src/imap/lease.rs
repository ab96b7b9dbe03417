//! The mailbox lease: several instances on one database fetch each
//! mailbox one at a time; the holder renews its lease every third of its
//! length, and keeps fetching through a short database outage while the
//! lease surely runs.

use super::{FetchError, MailboxWorker};
use std::time::Duration;

/// This instance's hold on a mailbox: several instances on one database
/// fetch each mailbox one at a time. Renewed every third of its length.
pub(super) struct Lease<'a> {
    pub(super) worker: &'a MailboxWorker,
    pub(super) ttl: Duration,
    pub(super) renewed: Option<std::time::Instant>,
}

impl Lease<'_> {
    pub(super) fn every(&self) -> Duration {
        self.ttl / 3
    }

    /// Takes or renews the lease; false while another instance holds it.
    pub(super) async fn take(&mut self) -> Result<bool, crate::store::StoreError> {
        let p = self.worker.pipeline();
        let now = p.clock.now();
        let until = now
            .checked_add(jiff::SignedDuration::try_from(self.ttl).unwrap_or_default())
            .unwrap_or(now);
        let held = p
            .store
            .acquire_mailbox_lease(&self.worker.mailbox.name, &self.worker.owner, now, until)
            .await?;
        self.renewed = held.then(std::time::Instant::now);
        Ok(held)
    }

    /// Renews the lease when a third of it has passed; an error when it is lost.
    pub(super) async fn keep(&mut self) -> Result<(), FetchError> {
        if self.renewed.is_some_and(|r| r.elapsed() < self.every()) {
            return Ok(());
        }
        match self.take().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(FetchError::LeaseLost),
            // The database is away: keep going while the lease surely runs.
            Err(e)
                if self
                    .renewed
                    .is_some_and(|r| r.elapsed() < self.ttl - self.every()) =>
            {
                tracing::warn!(mailbox = %self.worker.mailbox.name, error = %e, "cannot renew the mailbox lease yet");
                Ok(())
            }
            Err(_) => Err(FetchError::LeaseLost),
        }
    }
}
