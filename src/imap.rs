//! The IMAP source: one task per mailbox. It connects (TLS, STARTTLS or
//! plain), keeps its place by UIDVALIDITY and the last committed UID, fetches
//! new mail oldest first in batches bounded by count and bytes
//! (`BODY.PEEK[]`, so nothing changes on the server before commit), hands
//! each message to ingest, and only then applies `after_ingest` — also for
//! anything committed before a crash. It waits with IDLE when the server
//! offers it, polls otherwise, and reconnects with backoff and jitter.

use crate::config::{AfterIngest, MailboxConfig, Security, ServerConfig};
use crate::ingest::{Arrival, IngestError, Pipeline, Source};
use crate::ops::health::Health;
use async_imap::extensions::idle::IdleResponse;
use async_imap::{Client, Session};
use futures::TryStreamExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_util::sync::CancellationToken;

/// Re-issue IDLE before servers drop it (RFC 2177 asks for < 29 minutes).
const IDLE_RENEW: Duration = Duration::from_secs(28 * 60);
/// Bytes fetched in one round trip at most (a single larger message still comes alone).
const BATCH_BYTES: u64 = 32 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot connect to {server}: {source}")]
    Connect {
        server: String,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS with {server} failed: {message}")]
    Tls { server: String, message: String },
    #[error("login to {server} as {user} failed: {message}")]
    Login {
        server: String,
        user: String,
        message: String,
    },
    #[error("IMAP: {0}")]
    Imap(#[from] async_imap::error::Error),
    #[error("IMAP connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("IMAP server did not answer within {0:?}")]
    Timeout(Duration),
    #[error("folder {folder}: {message}")]
    Folder { folder: String, message: String },
    #[error("cannot store a message: {0}")]
    Ingest(#[from] IngestError),
    #[error("cannot update the mailbox position: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("another instance took the mailbox over (our lease ran out)")]
    LeaseLost,
}

/// A plain or TLS connection, one type for async-imap.
#[derive(Debug)]
pub enum ImapStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for ImapStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ImapStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

pub type ImapSession = Session<ImapStream>;

async fn within<T, E>(d: Duration, f: impl Future<Output = Result<T, E>>) -> Result<T, FetchError>
where
    FetchError: From<E>,
{
    match tokio::time::timeout(d, f).await {
        Ok(r) => r.map_err(FetchError::from),
        Err(_) => Err(FetchError::Timeout(d)),
    }
}

async fn tls_wrap(
    tcp: TcpStream,
    cfg: &ServerConfig,
    server: &str,
) -> Result<ImapStream, FetchError> {
    let tls_err = |message: String| FetchError::Tls {
        server: server.to_string(),
        message,
    };
    let config =
        crate::tls::client_config(cfg.ca_file.as_deref()).map_err(|e| tls_err(e.to_string()))?;
    let name = rustls::pki_types::ServerName::try_from(cfg.host.clone())
        .map_err(|e| tls_err(e.to_string()))?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| tls_err(e.to_string()))?;
    Ok(ImapStream::Tls(Box::new(tls)))
}

/// Connects and logs in.
pub async fn connect(cfg: &ServerConfig) -> Result<ImapSession, FetchError> {
    let server = format!("{}:{}", cfg.host, cfg.port);
    let timeout = cfg.timeout.unsigned_abs();
    let tcp = match tokio::time::timeout(timeout, TcpStream::connect((cfg.host.as_str(), cfg.port)))
        .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(source)) => return Err(FetchError::Connect { server, source }),
        Err(_) => return Err(FetchError::Timeout(timeout)),
    };
    tcp.set_nodelay(true).ok();
    let client = match cfg.security {
        Security::Tls => {
            let mut c = Client::new(tls_wrap(tcp, cfg, &server).await?);
            within(timeout, c.read_response()).await?;
            c
        }
        Security::None => {
            let mut c = Client::new(ImapStream::Plain(tcp));
            within(timeout, c.read_response()).await?;
            c
        }
        Security::StartTls => {
            let mut c = Client::new(ImapStream::Plain(tcp));
            within(timeout, c.read_response()).await?;
            within(timeout, c.run_command_and_check_ok("STARTTLS", None)).await?;
            let ImapStream::Plain(tcp) = c.into_inner() else {
                unreachable!("STARTTLS starts from a plain connection")
            };
            Client::new(tls_wrap(tcp, cfg, &server).await?)
        }
    };
    let user = cfg.username.clone().unwrap_or_default();
    let pass = cfg
        .password
        .as_ref()
        .map(|p| p.expose().to_string())
        .unwrap_or_default();
    match tokio::time::timeout(timeout, client.login(&user, &pass)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err((e, _))) => Err(FetchError::Login {
            server,
            user,
            message: e.to_string(),
        }),
        Err(_) => Err(FetchError::Timeout(timeout)),
    }
}

/// `1:3,5,7:8` for a sorted list of UIDs.
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// Splits `(uid, size)` pairs into fetch batches of at most `max_count`
/// messages and [`BATCH_BYTES`] bytes (a bigger message goes alone).
pub fn batches(sized: &[(u32, u64)], max_count: usize) -> Vec<Vec<u32>> {
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

struct Caps {
    idle: bool,
    mv: bool,
    uidplus: bool,
}

pub struct MailboxWorker {
    /// The pipeline of the configuration in force: a reload that leaves
    /// this mailbox alone swaps it without dropping the connection.
    pub pipelines: tokio::sync::watch::Receiver<Arc<Pipeline>>,
    pub mailbox: MailboxConfig,
    /// Names this process in the mailbox lease.
    pub owner: String,
    /// Where the task says how its connection goes, for `/healthz`.
    pub health: Arc<Health>,
}

/// This instance's hold on a mailbox: several instances on one database
/// fetch each mailbox one at a time. Renewed every third of its length.
struct Lease<'a> {
    worker: &'a MailboxWorker,
    ttl: Duration,
    renewed: Option<std::time::Instant>,
}

impl Lease<'_> {
    fn every(&self) -> Duration {
        self.ttl / 3
    }

    /// Takes or renews the lease; false while another instance holds it.
    async fn take(&mut self) -> Result<bool, crate::store::StoreError> {
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
    async fn keep(&mut self) -> Result<(), FetchError> {
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

impl MailboxWorker {
    fn pipeline(&self) -> Arc<Pipeline> {
        self.pipelines.borrow().clone()
    }

    fn imap(&self) -> &ServerConfig {
        self.mailbox.imap.as_ref().expect("an IMAP mailbox")
    }

    pub async fn run(self, shutdown: CancellationToken) {
        let name = self.mailbox.name.clone();
        let mut failures = 0u32;
        let mut lease = Lease {
            worker: &self,
            ttl: self.pipeline().config.database.mailbox_lease.unsigned_abs(),
            renewed: None,
        };
        let mut waiting_logged = false;
        loop {
            match lease.take().await {
                Ok(true) => waiting_logged = false,
                Ok(false) => {
                    self.health.standby(&name);
                    if !waiting_logged {
                        let holder = self
                            .pipeline()
                            .store
                            .mailbox_lease_holder(&name)
                            .await
                            .ok()
                            .flatten();
                        tracing::info!(mailbox = %name, holder = ?holder.map(|h| h.0), "mailbox held by another instance; standing by");
                        waiting_logged = true;
                    }
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(lease.every()) => continue,
                    }
                }
                Err(e) => {
                    self.health
                        .failed(&name, format!("cannot take the mailbox lease: {e}"));
                    failures += 1;
                    let wait =
                        crate::backoff(failures, Duration::from_secs(1), Duration::from_secs(300));
                    tracing::error!(mailbox = %name, error = %e, retry_in = ?wait,
                        "cannot take the mailbox lease: nothing is fetched until the database accepts writes");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(wait) => continue,
                    }
                }
            }
            let result = self.session(&shutdown, &mut failures, &mut lease).await;
            if shutdown.is_cancelled() {
                break;
            }
            if let Err(e) = result {
                self.health.failed(&name, e.to_string());
                failures += 1;
                let wait =
                    crate::backoff(failures, Duration::from_secs(1), Duration::from_secs(300));
                tracing::warn!(mailbox = %name, error = %e, retry_in = ?wait, attempt = failures, "IMAP connection lost; reconnecting");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
        if lease.renewed.is_some()
            && let Err(e) = self
                .pipeline()
                .store
                .release_mailbox_lease(&name, &self.owner)
                .await
        {
            tracing::warn!(mailbox = %name, error = %e, "cannot release the mailbox lease; it runs out by itself");
        }
        tracing::info!(mailbox = %name, "mailbox stopped");
    }

    /// One connection, from login until it fails or shutdown.
    async fn session(
        &self,
        shutdown: &CancellationToken,
        failures: &mut u32,
        lease: &mut Lease<'_>,
    ) -> Result<(), FetchError> {
        let cfg = self.imap();
        let timeout = cfg.timeout.unsigned_abs();
        let mut s = connect(cfg).await?;
        let caps = within(timeout, s.capabilities()).await?;
        let caps = Caps {
            idle: caps.has_str("IDLE"),
            mv: caps.has_str("MOVE"),
            uidplus: caps.has_str("UIDPLUS"),
        };
        if let AfterIngest::Move(folder) = &self.mailbox.after_ingest {
            // Creating an existing folder fails harmlessly.
            let _ = within(timeout, s.create(folder)).await;
        }
        let selected = within(timeout, s.select(&self.mailbox.folder))
            .await
            .map_err(|e| FetchError::Folder {
                folder: self.mailbox.folder.clone(),
                message: e.to_string(),
            })?;
        let uidvalidity = selected.uid_validity.unwrap_or(0);
        let pipeline = self.pipeline();
        let store = &pipeline.store;
        let now = pipeline.clock.now();
        let mut last = match store.mailbox_position(&self.mailbox.name).await? {
            Some((v, last)) if v == uidvalidity => last,
            Some((v, _)) => {
                tracing::warn!(mailbox = %self.mailbox.name, old = v, new = uidvalidity,
                    "UIDVALIDITY changed: fetching the folder again; stored messages are recognised by Message-ID");
                store
                    .reset_mailbox(&self.mailbox.name, uidvalidity, now)
                    .await?;
                0
            }
            None => {
                store
                    .reset_mailbox(&self.mailbox.name, uidvalidity, now)
                    .await?;
                0
            }
        };
        *failures = 0;
        self.health.connected(&self.mailbox.name);
        tracing::info!(mailbox = %self.mailbox.name, folder = %self.mailbox.folder, uidvalidity, last_uid = last,
            idle = caps.idle && self.mailbox.idle, "IMAP connected");

        loop {
            lease.keep().await?;
            self.apply_pending(&mut s, uidvalidity, &caps).await?;
            while !shutdown.is_cancelled()
                && self
                    .fetch_new(&mut s, uidvalidity, &mut last, &caps, shutdown)
                    .await?
                    > 0
            {}
            if shutdown.is_cancelled() {
                let _ = tokio::time::timeout(Duration::from_secs(2), s.logout()).await;
                return Ok(());
            }
            self.health
                .fetched(&self.mailbox.name, self.pipeline().clock.now());
            // Wake at least every third of the lease to renew it, and every
            // poll interval also in IDLE: a connection that died silently is
            // found within one interval, and /healthz knows it is alive.
            let wait = self.mailbox.poll_interval.unsigned_abs().min(lease.every());
            s = if caps.idle && self.mailbox.idle {
                self.idle(s, IDLE_RENEW.min(wait), shutdown).await?
            } else {
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
                s
            };
            while s.unsolicited_responses.try_recv().is_ok() {}
            // Selecting again refreshes the view and tells whether the folder
            // was deleted and made anew under us (a new UIDVALIDITY): then
            // start over, and Message-IDs keep the tickets as they are.
            let again = within(timeout, s.select(&self.mailbox.folder)).await?;
            if again.uid_validity.unwrap_or(0) != uidvalidity {
                return Err(FetchError::Folder {
                    folder: self.mailbox.folder.clone(),
                    message: "UIDVALIDITY changed while connected".into(),
                });
            }
        }
    }

    /// Waits in IDLE until the server reports a change, the renewal time, or shutdown.
    async fn idle(
        &self,
        s: ImapSession,
        renew: Duration,
        shutdown: &CancellationToken,
    ) -> Result<ImapSession, FetchError> {
        let timeout = self.imap().timeout.unsigned_abs();
        let mut handle = s.idle();
        within(timeout, handle.init()).await?;
        let response = {
            let (wait, stop) = handle.wait_with_timeout(renew);
            tokio::select! {
                r = wait => r?,
                _ = shutdown.cancelled() => {
                    drop(stop);
                    IdleResponse::ManualInterrupt
                }
            }
        };
        tracing::debug!(mailbox = %self.mailbox.name, ?response, "IDLE ended");
        within(timeout, handle.done()).await
    }

    /// Fetches and ingests new messages; returns how many.
    async fn fetch_new(
        &self,
        s: &mut ImapSession,
        uidvalidity: u32,
        last: &mut u32,
        caps: &Caps,
        shutdown: &CancellationToken,
    ) -> Result<usize, FetchError> {
        let timeout = self.imap().timeout.unsigned_abs();
        let query = format!("{}:*", last.saturating_add(1));
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
        let size_of: std::collections::HashMap<u32, u64> = sized.iter().copied().collect();
        let mut done = 0;
        for batch in batches(&sized, self.mailbox.fetch_batch as usize) {
            // Over max_message_size: only the header is fetched; the message
            // stays on the server.
            let (large, whole): (Vec<u32>, Vec<u32>) = batch.iter().partition(|u| size_of[u] > max);
            let fetch_timeout = timeout.max(Duration::from_secs(300));
            let mut fetched: Vec<(u32, Vec<u8>, bool)> = Vec::new();
            for (uids, item, header_only) in [
                (&whole, "BODY.PEEK[]", false),
                (&large, "BODY.PEEK[HEADER]", true),
            ] {
                if uids.is_empty() {
                    continue;
                }
                let set = uid_set(uids);
                let query = format!("(UID {item})");
                let got: Vec<(u32, Vec<u8>, bool)> = within(fetch_timeout, async {
                    s.uid_fetch(&set, &query)
                        .await?
                        .try_filter_map(|f| async move {
                            let bytes = if header_only { f.header() } else { f.body() };
                            Ok(f.uid
                                .map(|u| (u, bytes.unwrap_or_default().to_vec(), header_only)))
                        })
                        .try_collect()
                        .await
                })
                .await?;
                fetched.extend(got);
            }
            fetched.sort_unstable_by_key(|(u, _, _)| *u);
            for (uid, raw, header_only) in fetched {
                if shutdown.is_cancelled() {
                    return Ok(done);
                }
                let full_size = header_only.then(|| size_of[&uid]);
                let source = Source::Imap {
                    uidvalidity,
                    uid,
                    header_only,
                };
                self.pipeline()
                    .ingest_sized(&self.mailbox, &raw, full_size, Arrival::Now, source)
                    .await?;
                *last = uid;
                done += 1;
            }
            self.apply_pending(s, uidvalidity, caps).await?;
            // A long backlog is progress, not silence.
            self.health
                .fetched(&self.mailbox.name, self.pipeline().clock.now());
        }
        Ok(done)
    }

    /// Applies `after_ingest` to every committed message not yet handled.
    async fn apply_pending(
        &self,
        s: &mut ImapSession,
        uidvalidity: u32,
        caps: &Caps,
    ) -> Result<(), FetchError> {
        let pipeline = self.pipeline();
        let store = &pipeline.store;
        let uids = store.pending_imap(&self.mailbox.name, uidvalidity).await?;
        if uids.is_empty() {
            return Ok(());
        }
        let timeout = self
            .imap()
            .timeout
            .unsigned_abs()
            .max(Duration::from_secs(120));
        for chunk in uids.chunks(500) {
            let set = uid_set(chunk);
            match &self.mailbox.after_ingest {
                AfterIngest::Seen => {
                    within(timeout, async {
                        s.uid_store(&set, "+FLAGS.SILENT (\\Seen)")
                            .await?
                            .try_collect::<Vec<_>>()
                            .await
                    })
                    .await?;
                }
                AfterIngest::Move(folder) if caps.mv => {
                    within(timeout, s.uid_mv(&set, folder)).await?;
                }
                AfterIngest::Move(_) | AfterIngest::Delete => {
                    if let AfterIngest::Move(folder) = &self.mailbox.after_ingest {
                        within(timeout, s.uid_copy(&set, folder)).await?;
                    }
                    within(timeout, async {
                        s.uid_store(&set, "+FLAGS.SILENT (\\Seen \\Deleted)")
                            .await?
                            .try_collect::<Vec<_>>()
                            .await
                    })
                    .await?;
                    if caps.uidplus {
                        within(timeout, async {
                            s.uid_expunge(&set).await?.try_collect::<Vec<_>>().await
                        })
                        .await?;
                    } else {
                        within(timeout, async {
                            s.expunge().await?.try_collect::<Vec<_>>().await
                        })
                        .await?;
                    }
                }
            }
            store
                .clear_pending_imap(&self.mailbox.name, uidvalidity, chunk)
                .await?;
        }
        tracing::debug!(mailbox = %self.mailbox.name, count = uids.len(), "after-ingest action applied");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_compress_ranges() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[4]), "4");
        assert_eq!(uid_set(&[]), "");
    }

    #[test]
    fn batches_bound_count_and_bytes() {
        let sized: Vec<(u32, u64)> = (1..=5).map(|u| (u, 10)).collect();
        assert_eq!(batches(&sized, 2), vec![vec![1, 2], vec![3, 4], vec![5]]);
        let big = [(1, 1), (2, BATCH_BYTES), (3, 1)];
        assert_eq!(batches(&big, 100), vec![vec![1], vec![2], vec![3]]);
    }
}
