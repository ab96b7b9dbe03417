//! The daemon: one task per IMAP mailbox and the outbox worker, started
//! together and stopped together. Tasks stop between units of work; after a
//! grace period anything still running is dropped, which rolls back an open
//! transaction rather than committing half of it.

use crate::clock::Clock;
use crate::config::{Config, MailboxConfig};
use crate::imap::MailboxWorker;
use crate::ingest::Pipeline;
use crate::oauth::Authority;
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

/// The configuration and templates in force.
pub type Loaded = (Arc<Config>, Arc<Templates>);

/// How a running daemon reads its configuration again (on SIGHUP).
pub struct Reload {
    /// Notified when a reload is asked for.
    pub signal: Arc<Notify>,
    /// Reads and checks the configuration file and the templates; every
    /// problem in one message when they are not valid.
    pub load: Box<dyn Fn() -> Result<Loaded, String> + Send + Sync>,
}

/// A task of the daemon that can be stopped on its own.
struct Running {
    stop: CancellationToken,
    done: tokio::task::JoinHandle<()>,
}

impl Running {
    fn spawn(
        tracker: &TaskTracker,
        shutdown: &CancellationToken,
        task: impl FnOnce(CancellationToken) -> futures::future::BoxFuture<'static, ()>,
    ) -> Running {
        let stop = shutdown.child_token();
        let done = tracker.spawn(task(stop.clone()));
        Running { stop, done }
    }

    /// Stops the task and waits until it has finished its unit of work.
    async fn end(self) {
        self.stop.cancel();
        let _ = self.done.await;
    }
}

/// The daemon's tasks and what they were started with.
struct Daemon {
    owner: String,
    health: Arc<Health>,
    /// OAuth2 tokens for the servers that log in with them.
    oauth: Arc<Authority>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    /// The pipeline of the configuration in force; every task reads it here.
    pipelines: tokio::sync::watch::Sender<Arc<Pipeline>>,
    outbox: Option<Running>,
    scheduler: Option<Running>,
    mailboxes: std::collections::BTreeMap<String, (MailboxConfig, Running)>,
}

impl Daemon {
    fn current(&self) -> Arc<Pipeline> {
        self.pipelines.borrow().clone()
    }

    fn start_outbox(&mut self) -> Result<(), DaemonError> {
        let p = self.current();
        let c = &p.config;
        let worker = OutboxWorker {
            store: p.store.clone(),
            mailer: Mailer::new(
                &c.smtp,
                c.outbox.idle_timeout.unsigned_abs(),
                Some(self.oauth.clone()),
            )?,
            clock: p.clock.clone(),
            config: c.outbox.clone(),
            wake: p.outbox_wake.clone(),
            owner: self.owner.clone(),
            claim_lease: crate::outbox::claim_lease(c.smtp.timeout),
            journal_dir: Some(c.outbox.journal_dir.clone()),
        };
        self.outbox = Some(Running::spawn(&self.tracker, &self.shutdown, |stop| {
            Box::pin(worker.run(stop))
        }));
        Ok(())
    }

    fn start_scheduler(&mut self) {
        let pipeline = self.current();
        let scheduler = Scheduler {
            wake: pipeline.sla_wake.clone(),
            pipeline,
        };
        self.scheduler = Some(Running::spawn(&self.tracker, &self.shutdown, |stop| {
            Box::pin(scheduler.run(stop))
        }));
    }

    fn start_mailbox(&mut self, mailbox: &MailboxConfig) {
        let worker = MailboxWorker {
            pipelines: self.pipelines.subscribe(),
            mailbox: mailbox.clone(),
            owner: self.owner.clone(),
            health: self.health.clone(),
            oauth: self.oauth.clone(),
        };
        let running = Running::spawn(&self.tracker, &self.shutdown, |stop| {
            Box::pin(worker.run(stop))
        });
        self.mailboxes
            .insert(mailbox.name.clone(), (mailbox.clone(), running));
    }

    /// Puts a new configuration in force. Tasks whose settings did not
    /// change keep running (an IMAP connection stays up); the others are
    /// stopped after their current unit of work and started again.
    async fn apply(
        &mut self,
        config: Arc<Config>,
        templates: Arc<Templates>,
    ) -> Result<(), DaemonError> {
        let current = self.current();
        let old = &current.config;
        for (what, same) in [
            ("database", old.database == config.database),
            ("http", old.http == config.http),
        ] {
            if !same {
                tracing::warn!("[{what}] changed: that part takes effect at the next restart");
            }
        }
        // Keep the settings that only a restart changes, so that what runs is what was said.
        let mut effective = (*config).clone();
        effective.database = old.database.clone();
        effective.http = old.http.clone();
        let config = Arc::new(effective);
        self.oauth.set_accounts(config.oauth.clone());
        self.pipelines
            .send_replace(Arc::new(current.reconfigured(config.clone(), templates)));

        let mut changed = Vec::new();
        let names: Vec<String> = self.mailboxes.keys().cloned().collect();
        for name in names {
            let now = config
                .mailboxes
                .iter()
                .find(|m| m.name == name && m.imap.is_some());
            if now != Some(&self.mailboxes[&name].0) {
                let (_, running) = self.mailboxes.remove(&name).expect("listed");
                running.end().await;
                changed.push(name);
            }
        }
        self.health
            .set_mailboxes(&config.mailboxes, current.clock.now());
        for m in config.mailboxes.iter().filter(|m| m.imap.is_some()) {
            if !self.mailboxes.contains_key(&m.name) {
                self.start_mailbox(m);
                if !changed.contains(&m.name) {
                    changed.push(m.name.clone());
                }
            }
        }
        if old.smtp != config.smtp || old.outbox != config.outbox {
            if let Some(r) = self.outbox.take() {
                r.end().await;
            }
            self.start_outbox()?;
            changed.push("outbox".into());
        }
        // The scheduler holds no connection: it restarts with the new policies and catches up.
        if let Some(r) = self.scheduler.take() {
            r.end().await;
        }
        self.start_scheduler();
        tracing::info!(restarted = ?changed, "configuration reloaded");
        Ok(())
    }
}

/// Runs until `shutdown` is cancelled, then stops every task. A reload
/// signal reads the configuration again; one that is not valid is logged
/// and the one in force stays.
pub async fn run(
    config: Arc<Config>,
    store: Store,
    templates: Arc<Templates>,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
    reload: Reload,
) -> Result<(), DaemonError> {
    let key = store.token_key().await?;
    let health = Arc::new(Health::new(clock.now(), &config.mailboxes));
    let tracker = TaskTracker::new();
    if let Some(http) = &config.http {
        // Bound before anything starts, so that a taken port stops the start.
        let listener = bind_http(http.listen).await?;
        let state = Arc::new(HttpState {
            store: store.clone(),
            health: health.clone(),
            clock: clock.clone(),
            metrics: crate::ops::metrics::install().map_err(DaemonError::Metrics)?,
            key: key.clone(),
        });
        tracing::info!(listen = %http.listen, "serving /metrics and /healthz");
        tracker.spawn(crate::ops::http::serve(listener, state, shutdown.clone()));
    }
    let first = Pipeline::new(
        config.clone(),
        store.clone(),
        templates,
        key,
        clock,
        Arc::new(Notify::new()),
        Arc::new(Notify::new()),
    );
    let owner = crate::instance::instance_name();
    let oauth = Arc::new(Authority::of(
        &config,
        store.clone(),
        first.clock.clone(),
        owner.clone(),
        Some(health.clone()),
    ));
    let mut daemon = Daemon {
        owner,
        oauth: oauth.clone(),
        health,
        tracker: tracker.clone(),
        shutdown: shutdown.clone(),
        pipelines: tokio::sync::watch::Sender::new(Arc::new(first)),
        outbox: None,
        scheduler: None,
        mailboxes: Default::default(),
    };
    daemon.start_outbox()?;
    daemon.start_scheduler();
    // Accounts added by a reload are kept too: the keeper reads them each round.
    let keeper = crate::oauth::keeper::Keeper {
        authority: oauth,
        pipelines: daemon.pipelines.subscribe(),
    };
    tracker.spawn(keeper.run(shutdown.clone()));
    for mailbox in config.mailboxes.iter().filter(|m| m.imap.is_some()) {
        daemon.start_mailbox(mailbox);
    }
    tracker.spawn(crate::ops::systemd::watchdog(shutdown.clone()));
    let imap_mailboxes = daemon.mailboxes.len();
    tracing::info!(mailboxes = imap_mailboxes, "postdesk running");
    crate::ops::systemd::ready(&format!("running: {imap_mailboxes} IMAP mailbox(es)"));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = reload.signal.notified() => {
                crate::ops::systemd::reloading();
                match (reload.load)() {
                    Ok((config, templates)) => {
                        if let Err(e) = daemon.apply(config, templates).await {
                            tracing::error!(error = %e, "reload could not restart a task");
                        }
                    }
                    Err(problems) => tracing::error!(
                        "configuration rejected, the one in force stays: {problems}"
                    ),
                }
                let n = daemon.mailboxes.len();
                crate::ops::systemd::ready(&format!("running: {n} IMAP mailbox(es)"));
            }
        }
    }
    stop(&tracker, &store).await;
    Ok(())
}

/// The HTTP listener (`/metrics`, `/healthz`, the rating links), bound.
async fn bind_http(listen: std::net::SocketAddr) -> Result<tokio::net::TcpListener, DaemonError> {
    tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| DaemonError::Listen {
            addr: listen,
            source,
        })
}

/// Waits for the tasks to finish their work (at most `GRACE`), then
/// closes the database.
async fn stop(tracker: &TaskTracker, store: &Store) {
    crate::ops::systemd::stopping();
    tracing::info!("shutting down");
    tracker.close();
    if tokio::time::timeout(GRACE, tracker.wait()).await.is_err() {
        tracing::warn!(
            "tasks still busy after {GRACE:?}; stopping them (open transactions roll back)"
        );
    }
    store.close().await;
    tracing::info!("stopped");
}
