//! Group commit of fetched messages: the transaction being filled, and
//! when it is full (count, bytes, or how long its first message has waited).

use crate::ingest::Pipeline;
use std::time::Duration;

/// At most this many messages in one group commit.
const GROUP_COUNT: usize = 64;
/// At most this many bytes of mail in one group commit.
const GROUP_BYTES: usize = 8 << 20;
/// A message waits at most this long for its group to commit.
const GROUP_WAIT: Duration = Duration::from_millis(100);

/// The group commit being filled, if any.
#[derive(Default)]
pub(super) struct Open {
    group: Option<(crate::store::Group, std::time::Instant)>,
    pub(super) bytes: usize,
}

impl Open {
    pub(super) async fn get(
        &mut self,
        pipeline: &Pipeline,
    ) -> Result<&mut crate::store::Group, crate::store::StoreError> {
        if self.group.is_none() {
            let g = pipeline.store.begin_group().await?;
            self.group = Some((g, std::time::Instant::now()));
            self.bytes = 0;
        }
        Ok(&mut self.group.as_mut().expect("just opened").0)
    }

    pub(super) fn full(&self) -> bool {
        self.group.as_ref().is_some_and(|(g, since)| {
            g.kept >= GROUP_COUNT || self.bytes >= GROUP_BYTES || since.elapsed() >= GROUP_WAIT
        })
    }

    /// Commits what the group holds and wakes the workers for it.
    pub(super) async fn commit(
        &mut self,
        pipeline: &Pipeline,
    ) -> Result<(), crate::store::StoreError> {
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
