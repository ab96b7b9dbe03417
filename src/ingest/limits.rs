//! The limits on automatic mail, as ingest applies them: what was already
//! queued (to the recipient, about the ticket, for the sender, by the
//! mailbox), and what happens when a limit trips — the refusal is recorded,
//! logged once per window per address, counted in `/metrics`; an agent's
//! notification is held for the agent's digest instead of being lost.

use super::Pipeline;
use super::message::since;
use crate::config::MailboxConfig;
use crate::domain::decide::Refusal;
use crate::domain::model::OutKind;
use crate::store::{Counted, SentQuery, StoreError, Tx};
use jiff::{SignedDuration, Timestamp};

impl Pipeline {
    /// What automatic mail already went out that the limits count, for a
    /// mail to `to` (about `ticket`, prompted by mail from `sender`), and
    /// whether `to` is suppressed.
    pub(super) async fn sent_so_far(
        &self,
        tx: &mut Tx,
        mailbox: &MailboxConfig,
        to: &str,
        ticket: Option<i64>,
        sender: Option<&str>,
        now: Timestamp,
    ) -> Result<Counted, StoreError> {
        let limits = &self.config.limits;
        tx.sent_counts(&SentQuery {
            to,
            ticket,
            sender,
            mailbox: &mailbox.name,
            hour_ago: since(now, SignedDuration::from_hours(1)),
            recipient_since: since(now, limits.auto_recipient_window),
            ticket_since: since(now, limits.auto_ticket_window),
            mailbox_cap: limits.auto_per_mailbox_hour,
            now,
        })
        .await
    }

    /// A limit held back a mail of `kind` to `address`: counted, and logged
    /// at most once per window for the address (every refusal is still in
    /// the ticket's events).
    pub(super) fn limit_tripped(
        &self,
        mailbox: &MailboxConfig,
        address: &str,
        kind: OutKind,
        limit: Refusal,
        now: Timestamp,
    ) {
        crate::ops::metrics::held(&mailbox.name, kind.as_str(), limit.as_str());
        let mut seen = self.limit_logged.lock().expect("limit log lock");
        let window = self
            .config
            .limits
            .auto_recipient_window
            .max(SignedDuration::from_hours(1));
        let key = format!("{}:{address}", limit.as_str());
        let quiet = seen
            .get(&key)
            .is_some_and(|t| now.duration_since(*t) < window);
        if !quiet {
            tracing::warn!(
                mailbox = %mailbox.name,
                address,
                kind = kind.as_str(),
                limit = limit.as_str(),
                "automatic mail held back by a limit (logged once per {} per address)",
                crate::domain::fmt_duration(window)
            );
            seen.insert(key, now);
        }
        if seen.len() > 10_000 {
            seen.retain(|_, t| now.duration_since(*t) < window);
        }
    }
}
