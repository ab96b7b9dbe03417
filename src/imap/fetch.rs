//! Fetching new mail: the sizes of what is new, the bodies in batches
//! bounded by count and bytes (`BODY.PEEK[]`, so nothing changes on the
//! server before commit), each batch stored in group commits, the lease
//! renewed between batches. A message another client expunged between the
//! listing and the fetch comes without a body: it is passed over, never
//! stored as an empty message.

use super::lease::Lease;
use super::stream::within;
use super::{Connection, FetchError, MailboxWorker, uid_set};
use crate::ingest::{Arrival, GroupCommit, Incoming, Source};
use futures::TryStreamExt;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Bytes fetched in one round trip at most (a single larger message still comes alone).
const BATCH_BYTES: u64 = 32 * 1024 * 1024;

/// Splits `(uid, size)` pairs into fetch batches of at most `max_count`
/// messages and [`BATCH_BYTES`] bytes (a bigger message goes alone).
fn batches(sized: &[(u32, u64)], max_count: usize) -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut bytes = 0u64;
    for &(uid, size) in sized {
        if !cur.is_empty() && (cur.len() >= max_count || bytes + size > BATCH_BYTES) {
            out.push(std::mem::take(&mut cur));
            bytes = 0;
        }
        cur.push(uid);
        bytes += size;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// One message as a FETCH answered it: its UID, its bytes (none when the
/// server sent `NIL`), and whether they are its header only.
type Fetched = (u32, Option<Vec<u8>>, bool);

/// A message to store: its UID, its bytes, whether they are its header only.
type Message = (u32, Vec<u8>, bool);

/// What of a fetched batch can be stored (see [`usable`]).
#[derive(Debug, PartialEq)]
struct Usable {
    /// In UID order.
    messages: Vec<Message>,
    /// Passed over: they left the folder.
    gone: Vec<u32>,
    /// Still in the folder yet sent without content: the batch stopped here.
    stuck: Option<u32>,
}

/// What of a fetched batch can be stored, in UID order. A message that
/// came without its bytes is passed over when it is no longer in the
/// folder (another client expunged it between the listing and the fetch:
/// Dovecot answers `BODY[] NIL`); while it is still there (`present`), the
/// batch stops before it, so it is fetched again and nothing after it is
/// stored ahead of it.
fn usable(fetched: Vec<Fetched>, present: &HashSet<u32>) -> Usable {
    let mut u = Usable {
        messages: Vec::with_capacity(fetched.len()),
        gone: Vec::new(),
        stuck: None,
    };
    for (uid, bytes, header_only) in fetched {
        match bytes {
            Some(b) => u.messages.push((uid, b, header_only)),
            None if present.contains(&uid) => {
                u.stuck = Some(uid);
                break;
            }
            None => u.gone.push(uid),
        }
    }
    u
}

impl MailboxWorker {
    /// Fetches and ingests new messages; returns how many. The lease is
    /// renewed before each batch: a long backlog must not let it run out
    /// while this instance still fetches (another would take the mailbox
    /// over and both would fetch it).
    pub(super) async fn fetch_new(
        &self,
        c: &mut Connection,
        last: &mut u32,
        lease: &mut Lease<'_>,
        shutdown: &CancellationToken,
    ) -> Result<usize, FetchError> {
        let timeout = self.imap().timeout.unsigned_abs();
        let query = format!("{}:*", last.saturating_add(1));
        let s = &mut c.s;
        let mut sized: Vec<(u32, u64)> = within(timeout, async {
            s.uid_fetch(&query, "(UID RFC822.SIZE)")
                .await?
                .try_filter_map(|f| async move {
                    Ok(f.uid.map(|u| (u, u64::from(f.size.unwrap_or(0)))))
                })
                .try_collect()
                .await
        })
        .await?;
        // `N:*` always matches the newest message, even when it is older than N.
        sized.retain(|(u, _)| *u > *last);
        sized.sort_unstable();
        let max = self.pipeline().config.limits.max_message_size;
        let size_of: HashMap<u32, u64> = sized.iter().copied().collect();
        let mut done = 0;
        for batch in batches(&sized, self.mailbox.fetch_batch as usize) {
            lease.keep().await?;
            let fetched = self.fetch_batch(c, &batch, &size_of, max).await?;
            let (fetched, stuck) = self.without_vanished(c, fetched).await?;
            let (stored, stopped) = self
                .store_batch(c.uidvalidity, fetched, &size_of, last, shutdown)
                .await?;
            done += stored;
            if let Some(uid) = stuck {
                tracing::warn!(mailbox = %self.mailbox.name, uid,
                    "the IMAP server sent no content for a message still in the folder; it is fetched again at the next poll");
                return Ok(done);
            }
            if stopped {
                return Ok(done);
            }
            self.apply_pending(c).await?;
            // A long backlog is progress, not silence.
            self.health
                .fetched(&self.mailbox.name, self.pipeline().clock.now());
        }
        Ok(done)
    }

    /// The messages of `batch`, in UID order; over `max` bytes only their
    /// header, and they stay on the server.
    async fn fetch_batch(
        &self,
        c: &mut Connection,
        batch: &[u32],
        size_of: &HashMap<u32, u64>,
        max: u64,
    ) -> Result<Vec<Fetched>, FetchError> {
        let (large, whole): (Vec<u32>, Vec<u32>) = batch.iter().partition(|u| size_of[u] > max);
        let fetch_timeout = self
            .imap()
            .timeout
            .unsigned_abs()
            .max(Duration::from_secs(300));
        let mut fetched: Vec<Fetched> = Vec::new();
        for (uids, item, header_only) in [
            (&whole, "BODY.PEEK[]", false),
            (&large, "BODY.PEEK[HEADER]", true),
        ] {
            if uids.is_empty() {
                continue;
            }
            let set = uid_set(uids);
            let query = format!("(UID {item})");
            let s = &mut c.s;
            let got: Vec<Fetched> = within(fetch_timeout, async {
                s.uid_fetch(&set, &query)
                    .await?
                    .try_filter_map(|f| async move {
                        let bytes = if header_only { f.header() } else { f.body() };
                        Ok(f.uid.map(|u| (u, bytes.map(<[u8]>::to_vec), header_only)))
                    })
                    .try_collect()
                    .await
            })
            .await?;
            fetched.extend(got);
        }
        fetched.sort_unstable_by_key(|(u, _, _)| *u);
        Ok(fetched)
    }

    /// `fetched` without the messages that came without content because
    /// they left the folder; asks the server which of those are still
    /// there (see [`usable`]). Also returns the UID it stopped at, if any.
    async fn without_vanished(
        &self,
        c: &mut Connection,
        fetched: Vec<Fetched>,
    ) -> Result<(Vec<Message>, Option<u32>), FetchError> {
        let missing: Vec<u32> = fetched
            .iter()
            .filter(|(_, b, _)| b.is_none())
            .map(|(u, _, _)| *u)
            .collect();
        let mut present = HashSet::new();
        if !missing.is_empty() {
            // The server told this session of the expunge with the FETCH
            // that found it gone: asked again, a vanished UID is not listed.
            let timeout = self.imap().timeout.unsigned_abs();
            let set = uid_set(&missing);
            let s = &mut c.s;
            present = within(timeout, async {
                s.uid_fetch(&set, "(UID)")
                    .await?
                    .try_filter_map(|f| async move { Ok(f.uid) })
                    .try_collect()
                    .await
            })
            .await?;
        }
        let u = usable(fetched, &present);
        if !u.gone.is_empty() {
            tracing::info!(mailbox = %self.mailbox.name, uids = %uid_set(&u.gone),
                "passed over messages another client removed from the folder before they were fetched");
        }
        Ok((u.messages, u.stuck))
    }

    /// Stores fetched messages in group commits, each bounded by count,
    /// bytes and time so a message waits at most `GROUP_WAIT` for its
    /// commit; nothing is flagged on the server before (see
    /// [`MailboxWorker::apply_pending`]). `last` follows the stored UIDs.
    /// Returns how many were stored, and whether it stopped for shutdown
    /// (what the group held is kept, the rest is fetched again next time).
    async fn store_batch(
        &self,
        uidvalidity: u32,
        fetched: Vec<Message>,
        size_of: &HashMap<u32, u64>,
        last: &mut u32,
        shutdown: &CancellationToken,
    ) -> Result<(usize, bool), FetchError> {
        let pipeline = self.pipeline();
        let mut group = GroupCommit::default();
        let mut done = 0;
        for (uid, raw, header_only) in fetched {
            if shutdown.is_cancelled() {
                group.commit(&pipeline).await?;
                return Ok((done, true));
            }
            let incoming = Incoming {
                full_size: header_only.then(|| size_of[&uid]),
                ..Incoming::new(
                    raw,
                    Arrival::Now,
                    Source::Imap {
                        uidvalidity,
                        uid,
                        header_only,
                    },
                )
            };
            let p = pipeline.prepare(incoming);
            if let Err(e) = group.ingest(&pipeline, &self.mailbox, &p).await {
                // What went before is kept; this one is retried later.
                group.commit(&pipeline).await?;
                return Err(e.into());
            }
            *last = uid;
            done += 1;
            group.commit_if_full(&pipeline).await?;
        }
        group.commit(&pipeline).await?;
        Ok((done, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_without_content_is_never_stored_as_empty() {
        let fetched: Vec<Fetched> = vec![
            (1, Some(b"a".to_vec()), false),
            (2, None, false),
            (3, Some(b"c".to_vec()), false),
            (4, None, false),
            (5, Some(b"e".to_vec()), false),
        ];
        // 2 left the folder: passed over. 4 is still there: stop before it.
        let u = usable(fetched.clone(), &HashSet::from([4]));
        let uids: Vec<u32> = u.messages.iter().map(|(u, _, _)| *u).collect();
        assert_eq!((uids, u.gone, u.stuck), (vec![1, 3], vec![2], Some(4)));
        // Both gone: everything else is stored.
        let u = usable(fetched, &HashSet::new());
        let uids: Vec<u32> = u.messages.iter().map(|(u, _, _)| *u).collect();
        assert_eq!((uids, u.gone, u.stuck), (vec![1, 3, 5], vec![2, 4], None));
        assert!(u.messages.iter().all(|(_, b, _)| !b.is_empty()));
    }

    #[test]
    fn batches_bound_count_and_bytes() {
        let sized: Vec<(u32, u64)> = (1..=5).map(|u| (u, 10)).collect();
        assert_eq!(batches(&sized, 2), vec![vec![1, 2], vec![3, 4], vec![5]]);
        let big = [(1, 1), (2, BATCH_BYTES), (3, 1)];
        assert_eq!(batches(&big, 100), vec![vec![1], vec![2], vec![3]]);
    }
}
