//! The service manager's protocol (`sd_notify`): READY once every task has
//! started, RELOADING while a new configuration is put in force, STOPPING
//! when shutdown begins, a STATUS line, and WATCHDOG
//! keep-alives at half the interval systemd asks for (`WatchdogSec=`), sent
//! by a task of the runtime, so a wedged runtime stops them and gets the
//! daemon restarted. Without `NOTIFY_SOCKET` every call does nothing.

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify the service manager");
    }
}

pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A reload begins; [`ready`] ends it.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// Sends WATCHDOG=1 until `shutdown`, when the service manager asks for it.
pub async fn watchdog(shutdown: CancellationToken) {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let every = interval / 2;
    tracing::info!(?interval, "systemd watchdog on");
    loop {
        send(&[NotifyState::Watchdog]);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
