//! The daemon: one task per IMAP mailbox and the outbox worker, started
//! together and stopped together. Tasks stop between units of work; after a
//! grace period anything still running is dropped, which rolls back an open
//! transaction rather than committing half of it.

use crate::clock::Clock;
use crate::config::Config;
use crate::imap::MailboxWorker;
use crate::ingest::Pipeline;
use crate::ops::health::Health;
use crate::ops::http::HttpState;
use crate::outbox::OutboxWorker;
use crate::scheduler::Scheduler;
use crate::smtp::Mailer;
use crate::store::Store;
use crate::templates::Templates;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long tasks get to finish after shutdown is requested.
pub const GRACE: Duration = Duration::from_secs(8);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Smtp(#[from] crate::smtp::SmtpSetupError),
    #[error("http.listen: cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("metrics: {0}")]
    Metrics(String),
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into())
}

/// Is process `pid` of host `host` known to have exited? Only processes of
/// this host can be known; a reused pid looks alive, which is the safe side.
pub fn process_is_gone(host: &str, pid: u32) -> bool {
    host == hostname()
        && pid != std::process::id()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Is `owner` (an [`instance_name`]) a process of this host that has exited?
pub fn owner_is_dead(owner: &str) -> bool {
    let mut parts = owner.rsplitn(3, ':');
    let (_rand, pid, host) = (parts.next(), parts.next(), parts.next());
    match (host, pid.and_then(|p| p.parse::<u32>().ok())) {
        (Some(h), Some(pid)) => process_is_gone(h, pid),
        _ => false,
    }
}

/// A name for this process in row claims: host, pid and a random part.
pub fn instance_name() -> String {
    let host = hostname();
    let mut b = [0u8; 4];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        u32::from_le_bytes(b)
    )
}

/// Runs until `shutdown` is cancelled, then stops every task.
pub async fn run(
    config: Arc<Config>,
    store: Store,
    templates: Arc<Templates>,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
) -> Result<(), DaemonError> {
    let key = store.token_key().await?;
    let wake = Arc::new(Notify::new());
    let sla_wake = Arc::new(Notify::new());
    let pipeline = Arc::new(Pipeline::new(
        config.clone(),
        store.clone(),
        templates,
        key,
        clock.clone(),
        wake.clone(),
        sla_wake.clone(),
    ));
    let mailer = Mailer::new(&config.smtp, config.outbox.idle_timeout.unsigned_abs())?;
    let owner = instance_name();
    let health = Arc::new(Health::new(clock.now(), &config.mailboxes));
    let tracker = TaskTracker::new();
    if let Some(http) = &config.http {
        // Bound before anything starts, so that a taken port stops the start.
        let listener = tokio::net::TcpListener::bind(http.listen)
            .await
            .map_err(|source| DaemonError::Listen {
                addr: http.listen,
                source,
            })?;
        let state = Arc::new(HttpState {
            store: store.clone(),
            health: health.clone(),
            clock: clock.clone(),
            metrics: crate::ops::metrics::install().map_err(DaemonError::Metrics)?,
        });
        tracing::info!(listen = %http.listen, "serving /metrics and /healthz");
        tracker.spawn(crate::ops::http::serve(listener, state, shutdown.clone()));
    }
    tracker.spawn(
        OutboxWorker {
            store: store.clone(),
            mailer,
            clock: clock.clone(),
            config: config.outbox.clone(),
            wake,
            owner: owner.clone(),
            claim_lease: crate::outbox::claim_lease(config.smtp.timeout),
            journal_dir: Some(config.outbox.journal_dir.clone()),
        }
        .run(shutdown.clone()),
    );
    tracker.spawn(
        Scheduler {
            pipeline: pipeline.clone(),
            wake: sla_wake,
        }
        .run(shutdown.clone()),
    );
    for mailbox in config.mailboxes.iter().filter(|m| m.imap.is_some()) {
        tracker.spawn(
            MailboxWorker {
                pipeline: pipeline.clone(),
                mailbox: mailbox.clone(),
                owner: owner.clone(),
                health: health.clone(),
            }
            .run(shutdown.clone()),
        );
    }
    tracker.spawn(crate::ops::systemd::watchdog(shutdown.clone()));
    tracker.close();
    let imap_mailboxes = config.mailboxes.iter().filter(|m| m.imap.is_some()).count();
    tracing::info!(mailboxes = imap_mailboxes, "postdesk running");
    crate::ops::systemd::ready(&format!("running: {imap_mailboxes} IMAP mailbox(es)"));
    shutdown.cancelled().await;
    crate::ops::systemd::stopping();
    tracing::info!("shutting down");
    if tokio::time::timeout(GRACE, tracker.wait()).await.is_err() {
        tracing::warn!(
            "tasks still busy after {GRACE:?}; stopping them (open transactions roll back)"
        );
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_owners_are_recognised_only_on_this_host() {
        let me = instance_name();
        assert!(!owner_is_dead(&me));
        let host = hostname();
        assert!(
            owner_is_dead(&format!("{host}:4000000000:abcd"))
                || !std::path::Path::new("/proc").exists()
        );
        assert!(!owner_is_dead("some-other-host:1:abcd"));
        assert!(!owner_is_dead("garbage"));
    }
}
