//! The IMAP source: one task per mailbox. It connects (TLS, STARTTLS or
//! plain; [`stream`]), learns the server's folder names from NAMESPACE,
//! keeps its place by UIDVALIDITY and the last committed UID, fetches new
//! mail oldest first in batches bounded by count and bytes (`BODY.PEEK[]`,
//! so nothing changes on the server before commit), hands each message to
//! ingest, and only then applies `after_ingest` ([`actions`]) — also for
//! anything committed before a crash. A refused action degrades the mailbox
//! and is retried later; it never stops new mail. It waits with IDLE when
//! the server offers it (and says so when the server's IDLE stays silent),
//! polls otherwise, and reconnects with backoff and jitter.

mod actions;
mod fetch;
mod lease;
mod probe;
mod stream;

pub use actions::{Action, Caps};
pub use probe::{Probe, probe};
pub use stream::{ImapSession, ImapStream, connect, personal_namespace};

use crate::config::{MailboxConfig, ServerConfig};
use crate::domain::folders;
use crate::ingest::{IngestError, Pipeline};
use crate::ops::health::Health;
use actions::{Retry, ensure_folder, refusal};
use async_imap::extensions::idle::IdleResponse;
use lease::Lease;
use std::sync::Arc;
use std::time::Duration;
use stream::within;
use tokio_util::sync::CancellationToken;

/// Re-issue IDLE before servers drop it (RFC 2177 asks for < 29 minutes).
const IDLE_RENEW: Duration = Duration::from_secs(28 * 60);

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Connecting, TLS or the login failed; the message says what to do.
    #[error(transparent)]
    Server(#[from] crate::advice::ServerTrouble),
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
    /// The mailbox's OAuth2 account gives no token.
    #[error(transparent)]
    OAuth(#[from] crate::oauth::OAuthError),
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

/// What one connection knows and carries between its steps.
struct Connection {
    s: ImapSession,
    caps: Caps,
    uidvalidity: u32,
    /// The folder read, as the server names it.
    folder: String,
    /// How `after_ingest` is done on this server.
    action: Action,
    retry: Retry,
    /// IDLE cycles in a row that ended without news while polling then found mail.
    idle_silent: u32,
    idle_silence_logged: bool,
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
    /// Tokens for a mailbox that logs in with OAuth2.
    pub oauth: Arc<crate::oauth::Authority>,
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
            let mut recoveries = self.oauth.recoveries();
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
                let signed_in = async {
                    match e {
                        // Back at once after a new sign-in.
                        FetchError::OAuth(_) => {
                            let _ = recoveries.changed().await;
                        }
                        _ => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(wait) => {}
                    _ = signed_in => failures = 0,
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

    /// Logs in and learns what the server offers and how it names the
    /// folders; makes sure the target of `move:` exists (a refusal degrades
    /// the mailbox, it does not stop it).
    async fn open(&self) -> Result<Connection, FetchError> {
        let cfg = self.imap();
        let name = &self.mailbox.name;
        let timeout = cfg.timeout.unsigned_abs();
        let login = self.oauth.login(cfg).await?;
        let mut s = connect(cfg, &login).await?;
        let c = within(timeout, s.capabilities()).await?;
        let caps = Caps {
            idle: c.has_str("IDLE"),
            mv: c.has_str("MOVE"),
            uidplus: c.has_str("UIDPLUS"),
            namespace: c.has_str("NAMESPACE"),
        };
        let personal = personal_namespace(&mut s, caps.namespace, timeout).await?;
        let folder = folders::resolve(&self.mailbox.folder, &personal);
        let target = match &self.mailbox.after_ingest {
            crate::config::AfterIngest::Move(f) => Some(folders::resolve(f, &personal)),
            _ => None,
        };
        if let Some(t) = &target {
            match ensure_folder(&mut s, t, timeout).await {
                Ok(()) => self.health.after_ingest_ok(name),
                Err(e) => match refusal(&e) {
                    Some(m) => {
                        let why = format!("folder {t}: {m}");
                        tracing::error!(mailbox = %name, folder = %t, error = %m,
                            "the after_ingest folder cannot be used: messages stay in {folder} until it can");
                        self.health.after_ingest_failed(name, why);
                    }
                    None => return Err(e),
                },
            }
        }
        let action = Action::choose(&self.mailbox.after_ingest, target.as_deref(), &caps);
        if let Some(caveat) = action.caveat() {
            tracing::warn!(mailbox = %name, "{caveat}");
        }
        let selected =
            within(timeout, s.select(&folder))
                .await
                .map_err(|e| FetchError::Folder {
                    folder: folder.clone(),
                    message: e.to_string(),
                })?;
        tracing::info!(mailbox = %name, folder = %folder, prefix = %personal.prefix,
            delimiter = ?personal.delimiter, after_ingest = %action.describe(), "IMAP folders resolved");
        Ok(Connection {
            s,
            caps,
            uidvalidity: selected.uid_validity.unwrap_or(0),
            folder,
            action,
            retry: Retry::default(),
            idle_silent: 0,
            idle_silence_logged: false,
        })
    }

    /// One connection, from login until it fails or shutdown.
    async fn session(
        &self,
        shutdown: &CancellationToken,
        failures: &mut u32,
        lease: &mut Lease<'_>,
    ) -> Result<(), FetchError> {
        let timeout = self.imap().timeout.unsigned_abs();
        let mut c = self.open().await?;
        let pipeline = self.pipeline();
        let store = &pipeline.store;
        let now = pipeline.clock.now();
        let mut last = match store.mailbox_position(&self.mailbox.name).await? {
            Some((v, last)) if v == c.uidvalidity => last,
            Some((v, _)) => {
                tracing::warn!(mailbox = %self.mailbox.name, old = v, new = c.uidvalidity,
                    "UIDVALIDITY changed: fetching the folder again; stored messages are recognised by Message-ID");
                store
                    .reset_mailbox(&self.mailbox.name, c.uidvalidity, now)
                    .await?;
                0
            }
            None => {
                store
                    .reset_mailbox(&self.mailbox.name, c.uidvalidity, now)
                    .await?;
                0
            }
        };
        self.health.connected(&self.mailbox.name);
        tracing::info!(mailbox = %self.mailbox.name, folder = %c.folder, uidvalidity = c.uidvalidity, last_uid = last,
            idle = c.caps.idle && self.mailbox.idle, "IMAP connected");

        let mut idle_quiet = false;
        loop {
            lease.keep().await?;
            self.apply_pending(&mut c).await?;
            let mut found = 0;
            loop {
                if shutdown.is_cancelled() {
                    break;
                }
                let n = self.fetch_new(&mut c, &mut last, lease, shutdown).await?;
                found += n;
                if n == 0 {
                    break;
                }
            }
            if shutdown.is_cancelled() {
                let _ = tokio::time::timeout(Duration::from_secs(2), c.s.logout()).await;
                return Ok(());
            }
            if idle_quiet {
                self.idle_silence(&mut c, found).await;
            }
            self.health
                .fetched(&self.mailbox.name, self.pipeline().clock.now());
            // A whole cycle went through: only now is the connection good
            // again (a login that fails at the next step must keep backing off).
            *failures = 0;
            // Wake at least every third of the lease to renew it, and every
            // poll interval also in IDLE: a connection that died silently is
            // found within one interval, and /healthz knows it is alive.
            let wait = self.mailbox.poll_interval.unsigned_abs().min(lease.every());
            idle_quiet = false;
            if c.caps.idle && self.mailbox.idle {
                let (s, quiet) = self.idle(c.s, IDLE_RENEW.min(wait), shutdown).await?;
                c.s = s;
                idle_quiet = quiet;
            } else {
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            while c.s.unsolicited_responses.try_recv().is_ok() {}
            // Selecting again refreshes the view and tells whether the folder
            // was deleted and made anew under us (a new UIDVALIDITY): then
            // start over, and Message-IDs keep the tickets as they are.
            let again = within(timeout, c.s.select(&c.folder)).await?;
            if again.uid_validity.unwrap_or(0) != c.uidvalidity {
                return Err(FetchError::Folder {
                    folder: c.folder.clone(),
                    message: "UIDVALIDITY changed while connected".into(),
                });
            }
        }
    }

    /// After an IDLE that ended without news: if polling then found mail
    /// (twice in a row, so one unlucky moment does not count), the server's
    /// IDLE does not announce new mail; say once how to make it.
    async fn idle_silence(&self, c: &mut Connection, found: usize) {
        if found == 0 {
            c.idle_silent = 0;
            return;
        }
        c.idle_silent += 1;
        if c.idle_silent < 2 || c.idle_silence_logged {
            return;
        }
        c.idle_silence_logged = true;
        let timeout = self.imap().timeout.unsigned_abs();
        let server = within(timeout, c.s.id([("name", Some("postdesk"))]))
            .await
            .ok()
            .flatten()
            .and_then(|id| id.get("name").cloned())
            .unwrap_or_default();
        let hint = idle_hint(&server);
        let every = self
            .mailbox
            .poll_interval
            .min(self.pipeline().config.database.mailbox_lease / 3);
        tracing::warn!(mailbox = %self.mailbox.name, server = %server,
            "the IMAP server does not announce new mail during IDLE: new mail is found only by polling, every {}. {hint}",
            crate::domain::fmt_duration(every));
    }

    /// Waits in IDLE until the server reports a change, the renewal time,
    /// or shutdown; also says whether it ended without the server saying
    /// anything.
    async fn idle(
        &self,
        s: ImapSession,
        renew: Duration,
        shutdown: &CancellationToken,
    ) -> Result<(ImapSession, bool), FetchError> {
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
        let quiet = matches!(response, IdleResponse::Timeout);
        Ok((within(timeout, handle.done()).await?, quiet))
    }

    /// Applies `after_ingest` to every committed message not yet handled.
    /// A refusal by the server leaves them pending (they are tickets
    /// already), marks the mailbox degraded and waits its own backoff; only
    /// a connection problem is an error.
    async fn apply_pending(&self, c: &mut Connection) -> Result<(), FetchError> {
        if !c.retry.due() {
            return Ok(());
        }
        let pipeline = self.pipeline();
        let store = &pipeline.store;
        let name = &self.mailbox.name;
        let uids = store.pending_imap(name, c.uidvalidity).await?;
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
            if let Err(e) = c.action.apply(&mut c.s, &set, timeout).await {
                let Some(words) = refusal(&e) else {
                    return Err(e);
                };
                let wait = c.retry.refused(self.mailbox.poll_interval.unsigned_abs());
                let why = format!(
                    "after_ingest ({}) refused by the server: {words}",
                    c.action.describe()
                );
                tracing::error!(mailbox = %name, pending = uids.len(), retry_in = ?wait,
                    "{why}; the messages are stored and stay in {} until it works", c.folder);
                crate::ops::metrics::after_ingest_refused(name);
                self.health.after_ingest_failed(name, why);
                return Ok(());
            }
            store.clear_pending_imap(name, c.uidvalidity, chunk).await?;
        }
        if c.retry.succeeded() {
            tracing::info!(mailbox = %name, "after_ingest works again");
        }
        self.health.after_ingest_ok(name);
        tracing::debug!(mailbox = %name, count = uids.len(), "after-ingest action applied");
        Ok(())
    }
}

/// What to change on a server whose IDLE does not announce new mail.
fn idle_hint(server: &str) -> &'static str {
    let s = server.to_ascii_lowercase();
    if s.contains("cyrus") {
        "Cyrus: run idled (add it to the SERVICES of cyrus.conf) or lower imapidlepoll in imapd.conf."
    } else if s.contains("courier") {
        "Courier: set IMAP_ENHANCEDIDLE=1 in imapd (it needs FAM or inotify support)."
    } else {
        "Check the server's IDLE settings, or lower poll_interval for this mailbox."
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
}
