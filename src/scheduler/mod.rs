//! The scheduler of timed mail: SLA warnings and escalation notices when
//! they fall due, the digests of notifications a limit held back
//! ([`held`]), and each agent's daily digest ([`daily`]). It
//! sleeps until the next of them (or until ingest wakes it after moving a
//! clock or holding a notification), reads only what is due from an index,
//! never scans tickets, and on start catches up with whatever fell due while
//! it was down. Each notice goes once per recipient: the row that records it
//! has a primary key, and it is written in the same transaction as the mail;
//! a digest takes its held rows out in the transaction that queues it.

mod daily;
mod held;

use crate::config::MailboxConfig;
use crate::domain::event::EventKind;
use crate::domain::model::{Address, OutKind, Role};
use crate::domain::sla::{EscalateAfter, EscalationLevel, Notice, NotifyTarget, recipients};
use crate::ingest::{Pipeline, Prompt, QueuedMail};
use crate::store::{DueNotice, StoreError, StoredClock, TicketState, Tx};
use crate::templates::{ResultVars, Vars};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The longest sleep, so notices scheduled by another instance are seen.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// How long a wake-up waits for the commits that follow it.
const WAKE_SETTLE: Duration = Duration::from_millis(250);

pub struct Scheduler {
    pub pipeline: Arc<Pipeline>,
    pub wake: Arc<Notify>,
}

impl Scheduler {
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!("SLA scheduler started");
        let mut failures = 0u32;
        let mut caught_up = false;
        while !shutdown.is_cancelled() {
            let wait = match self.send_due(&shutdown).await {
                Ok(()) => {
                    failures = 0;
                    if !caught_up {
                        // What fell due while the daemon was down is queued now.
                        tracing::info!("SLA scheduler caught up");
                        caught_up = true;
                    }
                    self.until_next().await
                }
                Err(e) => {
                    failures += 1;
                    let wait =
                        crate::backoff(failures, Duration::from_secs(1), Duration::from_secs(60));
                    tracing::error!(error = %e, retry_in = ?wait, "SLA scheduler: database error");
                    wait
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {
                    // A burst of commits (a backlog being ingested) makes one
                    // pass, not one per commit; a notice a quarter of a
                    // second later is no later for the person it is for.
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(WAKE_SETTLE) => {}
                    }
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
        tracing::info!("SLA scheduler stopped");
    }

    async fn until_next(&self) -> Duration {
        let p = &self.pipeline;
        let notice = p.store.next_notice_due().await.ok().flatten();
        let digest = p
            .store
            .oldest_held()
            .await
            .ok()
            .flatten()
            .and_then(|t| t.checked_add(p.config.limits.digest_after).ok());
        let daily = self.next_daily().await;
        match notice.into_iter().chain(digest).chain(daily).min() {
            Some(t) => {
                let d = t.duration_since(p.clock.now());
                if d.is_negative() {
                    Duration::ZERO
                } else {
                    d.unsigned_abs().min(MAX_SLEEP)
                }
            }
            None => MAX_SLEEP,
        }
    }

    /// Sends every notice and digest that is due now.
    pub async fn send_due(&self, shutdown: &CancellationToken) -> Result<(), StoreError> {
        self.retention_if_due().await?;
        self.send_digests().await?;
        self.send_daily().await?;
        loop {
            let now = self.pipeline.clock.now();
            let due = self.pipeline.store.due_notices(now, 100).await?;
            if due.is_empty() {
                return Ok(());
            }
            for n in due {
                if shutdown.is_cancelled() {
                    return Ok(());
                }
                match self.send(&n).await {
                    Ok(()) => {}
                    Err(e) if e.is_unavailable() => return Err(e),
                    Err(e) => {
                        tracing::error!(clock = n.clock, notice = n.notice.as_str(), error = %e, "SLA notice failed")
                    }
                }
            }
        }
    }

    /// Once a day, across every instance: personal data past its age goes.
    async fn retention_if_due(&self) -> Result<(), StoreError> {
        let p = &self.pipeline;
        if !crate::retention::configured(&p.config) {
            return Ok(());
        }
        let Some(swept) = crate::retention::run_if_due(&p.store, &p.config, p.clock.now()).await?
        else {
            tracing::debug!("retention: already run today (here or by another instance)");
            return Ok(());
        };
        for s in swept {
            tracing::info!(
                mailbox = %s.mailbox,
                raw_dropped = s.raw_dropped,
                tickets_erased = s.tickets_erased,
                loose_erased = s.loose_erased,
                "retention: personal data past its age removed"
            );
        }
        Ok(())
    }

    /// The clock, ticket and mailbox of notice `n`, when there is still
    /// something to say: the clock runs, the mailbox is still configured.
    async fn still_due(
        &self,
        tx: &mut Tx,
        n: &DueNotice,
    ) -> Result<Option<(StoredClock, TicketState, MailboxConfig)>, StoreError> {
        let Some(stored) = tx.clock(n.clock).await? else {
            return Ok(None);
        };
        let Some(t) = tx.ticket_state(stored.ticket).await? else {
            return Ok(None);
        };
        if stored.clock.state.is_stopped() || stored.clock.running_since.is_none() {
            // Stopped or paused since it was scheduled: nothing to say.
            return Ok(None);
        }
        let Some(mailbox) = self.pipeline.config.mailbox(&t.mailbox).cloned() else {
            tracing::warn!(ticket = t.number, mailbox = %t.mailbox, "SLA notice for a mailbox no longer configured");
            return Ok(None);
        };
        Ok(Some((stored, t, mailbox)))
    }

    /// One notice, in one transaction: take it off the schedule, record it
    /// for each recipient, queue the mail, raise the priority.
    async fn send(&self, n: &DueNotice) -> Result<(), StoreError> {
        let p = &self.pipeline;
        let now = p.clock.now();
        let mut tx = p.store.begin().await?;
        if !tx.take_notice(n).await? {
            return Ok(());
        }
        let Some((stored, t, mailbox)) = self.still_due(&mut tx, n).await? else {
            return tx.commit().await;
        };
        let policy = p.config.policy(&stored.policy);
        let work = p.clockwork(&policy);
        let level = (n.level as usize)
            .checked_sub(1)
            .and_then(|i| policy.escalation.get(i));
        let targets = match (n.notice, level) {
            (Notice::Warning, _) => vec![NotifyTarget::Assignee],
            (Notice::Escalation, Some(l)) => l.notify.clone(),
            (Notice::Escalation, None) => Vec::new(),
        };
        let recipients = recipients(&targets, t.assignee.as_deref(), &mailbox.agents);
        let kind = match n.notice {
            Notice::Warning => OutKind::SlaWarning,
            Notice::Escalation => OutKind::Escalation,
        };
        let event = level
            .and_then(|l| l.template.clone())
            .unwrap_or_else(|| kind.as_str().to_string());
        let (parent_id, parent_refs) = tx.reply_parent(t.number, mailbox.domain()).await?;
        // What the customer last wrote, for the notice's text.
        let text = match tx.raw_message(&parent_id).await? {
            Some(raw) => crate::domain::parse::parse(&raw).text,
            None => String::new(),
        };
        let about = Notified {
            mailbox: &mailbox,
            ticket: &t,
            clock: &stored,
            event: &event,
            text: &text,
            level: n.level,
            used: stored.clock.used(now, &work),
            working_time: !matches!(work, crate::domain::calendar::Clockwork::Wall),
            kind,
            parent: (&parent_id, &parent_refs),
        };
        let mut sent_to = Vec::new();
        for r in &recipients {
            if self.notify(&mut tx, n, r, &about, now).await? {
                sent_to.push(r.clone());
            }
        }
        let what = record_notice(&mut tx, n, level, &stored, t.number, &sent_to, now).await?;
        tx.commit().await?;
        if !sent_to.is_empty() {
            crate::ops::metrics::sla_notice(n.notice.as_str());
            p.outbox_wake.notify_one();
            tracing::info!(ticket = t.number, notice = %what, to = %sent_to.join(","), "SLA notice queued");
        }
        Ok(())
    }

    /// Queues `about`'s notice to `r`, recorded once per recipient; true
    /// when it was queued. A template that cannot render is logged and
    /// skipped: the others still hear of the ticket.
    async fn notify(
        &self,
        tx: &mut Tx,
        n: &DueNotice,
        r: &str,
        about: &Notified<'_>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let p = &self.pipeline;
        if !tx.record_notice(n, r, now).await? {
            return Ok(false);
        }
        let mailbox = about.mailbox;
        let agent = p.config.agent(r);
        let tz = agent
            .map(|a| a.timezone.clone())
            .unwrap_or_else(|| p.mailbox_tz(mailbox));
        let to = Address {
            email: r.to_string(),
            name: agent.map(|a| a.name.clone()),
        };
        if agent.is_none() {
            // Someone who is not an agent: their token must verify when
            // they answer, and their answer is a remark, never the
            // customer's words.
            tx.add_participant(about.ticket.number, &to, Role::Watcher)
                .await?;
        }
        let vars = notice_vars(p, about, &tz);
        let queued = p
            .queue_named(
                tx,
                about.event,
                QueuedMail {
                    mailbox,
                    ticket: about.ticket.number,
                    kind: about.kind,
                    to: &to,
                    cc: &[],
                    from_name: mailbox.display_name.clone(),
                    language: p.config.agent_language(mailbox, r),
                    vars: &vars,
                    parent: about.parent,
                    auto_submitted: Some("auto-generated"),
                    attachments: &[],
                    html: None,
                    now,
                },
            )
            .await;
        match queued {
            Ok(_) => Ok(true),
            Err(crate::ingest::IngestError::Store(e)) => Err(e),
            Err(e) => {
                tracing::error!(ticket = about.ticket.number, error = %e, "cannot render an SLA notice");
                Ok(false)
            }
        }
    }
}

/// What an SLA notice is about: the ticket, its clock, what the customer
/// last wrote, how much of the budget is used.
struct Notified<'a> {
    mailbox: &'a MailboxConfig,
    ticket: &'a TicketState,
    clock: &'a StoredClock,
    /// The template's event name.
    event: &'a str,
    text: &'a str,
    level: u32,
    used: SignedDuration,
    /// The policy counts a calendar's working hours.
    working_time: bool,
    kind: OutKind,
    /// The mail the notice answers: its Message-ID and References.
    parent: (&'a str, &'a [String]),
}

/// The template variables of one recipient's notice, times in `tz`.
fn notice_vars(p: &Pipeline, n: &Notified<'_>, tz: &TimeZone) -> Vars {
    let c = &n.clock.clock;
    let mut vars = p.vars(
        n.mailbox,
        n.ticket,
        tz,
        Prompt {
            event: "sla",
            text: n.text.to_string(),
            subject: n.ticket.subject.clone(),
            attachments: Vec::new(),
            agent: None,
            result: ResultVars::default(),
            is_new: false,
        },
    );
    vars.event = n.event.to_string();
    vars.sla.target = c.target.as_str().into();
    vars.sla.due_at = c
        .due_at
        .map(|d| crate::ingest::format_time(d, tz))
        .unwrap_or_default();
    vars.raw.sla_due_at = c.due_at;
    // Time left counts in the calendar's working hours when there is
    // one: "3h of working time" on a Friday evening is Monday noon.
    vars.raw.sla_remaining = Some((c.budget - n.used).max(SignedDuration::ZERO));
    vars.raw.working_time = n.working_time;
    let late = n.used - c.budget;
    vars.raw.sla_late = late.is_positive().then_some(late);
    vars.sla.level = n.level;
    vars
}

/// Records a notice on ticket `ticket` (and the priority its escalation
/// level sets); returns the event's kind.
async fn record_notice(
    tx: &mut Tx,
    n: &DueNotice,
    level: Option<&EscalationLevel>,
    clock: &StoredClock,
    ticket: i64,
    sent_to: &[String],
    now: Timestamp,
) -> Result<EventKind, StoreError> {
    let what = match n.notice {
        Notice::Warning => EventKind::SlaWarning,
        Notice::Escalation => EventKind::Escalation(n.level),
    };
    let after = match level.map(|l| l.after) {
        Some(EscalateAfter::Breach) | None => String::new(),
        Some(EscalateAfter::Later(_)) => " (later level)".into(),
    };
    let detail = format!(
        "{} of {}: to {}{after}",
        what,
        clock.clock.target,
        if sent_to.is_empty() {
            "nobody new".into()
        } else {
            sent_to.join(", ")
        }
    );
    tx.add_event(Some(ticket), None, now, what, &detail);
    if let Some(priority) = level.and_then(|l| l.set_priority) {
        let edit = crate::store::TicketEdit {
            priority: Some(priority.to_string()),
            ..Default::default()
        };
        tx.edit_ticket(ticket, &edit, now).await?;
        tx.add_event(
            Some(ticket),
            None,
            now,
            EventKind::Priority,
            &format!("raised to {priority} by {what}"),
        );
    }
    Ok(what)
}
