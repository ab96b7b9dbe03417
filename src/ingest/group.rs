//! Group commit of a run of messages (an IMAP fetch, an mbox): the
//! transaction being filled, and when it is full (count, bytes, or how long
//! its first message has waited).

use super::{IngestError, Outcome, Pipeline, Prepared};
use crate::config::MailboxConfig;
use crate::store::{Group, StoreError};
use std::time::Duration;

/// At most this many messages in one group commit.
const GROUP_COUNT: usize = 64;
/// At most this many bytes of mail in one group commit.
const GROUP_BYTES: usize = 8 << 20;
/// A message waits at most this long for its group to commit.
const GROUP_WAIT: Duration = Duration::from_millis(100);

/// The group commit being filled, if any. Nothing its members did is
/// visible, nor may it be acted on (flagged on a server, reported as
/// stored), before [`GroupCommit::commit`].
#[derive(Default)]
pub struct GroupCommit {
    group: Option<(Group, std::time::Instant)>,
    bytes: usize,
}

impl GroupCommit {
    /// Stores `prepared` in the open group, opening one if none is. On an
    /// error this message's work is undone, the rest of the group's is not
    /// (commit it, or drop it).
    pub async fn ingest(
        &mut self,
        pipeline: &Pipeline,
        mailbox: &MailboxConfig,
        prepared: &Prepared<'_>,
    ) -> Result<Outcome, IngestError> {
        if self.group.is_none() {
            let g = pipeline.store.begin_group().await?;
            self.group = Some((g, std::time::Instant::now()));
            self.bytes = 0;
        }
        let g = &mut self.group.as_mut().expect("just opened").0;
        let outcome = pipeline.ingest_prepared(Some(g), mailbox, prepared).await?;
        self.bytes += prepared.len();
        Ok(outcome)
    }

    /// Commits the group if it is full; true when it did.
    pub async fn commit_if_full(&mut self, pipeline: &Pipeline) -> Result<bool, StoreError> {
        if !self.full() {
            return Ok(false);
        }
        self.commit(pipeline).await?;
        Ok(true)
    }

    fn full(&self) -> bool {
        self.group.as_ref().is_some_and(|(g, since)| {
            g.kept >= GROUP_COUNT || self.bytes >= GROUP_BYTES || since.elapsed() >= GROUP_WAIT
        })
    }

    /// When the open group must commit, whether or not more messages come
    /// (a source that may pause between messages waits no longer than this).
    pub fn deadline(&self) -> Option<tokio::time::Instant> {
        self.group
            .as_ref()
            .map(|(_, since)| tokio::time::Instant::from_std(*since + GROUP_WAIT))
    }

    /// Commits what the group holds and wakes the workers for it.
    pub async fn commit(&mut self, pipeline: &Pipeline) -> Result<(), StoreError> {
        if let Some((g, _)) = self.group.take() {
            let kept = g.kept;
            g.commit().await?;
            if kept > 0 {
                pipeline.outbox_wake.notify_one();
                pipeline.sla_wake.notify_one();
            }
        }
        Ok(())
    }
}
