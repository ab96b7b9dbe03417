//! Each agent's daily digest, at the time of their day they chose
//! (`[[agent]] digest = "08:30"`): their open tickets, what is due by the
//! end of their day or late, and what nobody has taken. Sent once a day:
//! a row under the primary key (agent, day) is claimed in the transaction
//! that queues the mail, so with several instances one sends it; after
//! downtime the missed digest of the day goes out at start.

use super::Scheduler;
use crate::config::AgentConfig;
use crate::domain::model::{Address, OutKind};
use crate::domain::reply::Overview;
use crate::ingest::{AgentMail, IngestError};
use crate::store::StoreError;
use jiff::Timestamp;
use jiff::civil::Date;

impl Scheduler {
    /// The agent's local day at `now`, and when their digest of that day is due.
    fn digest_day(agent: &AgentConfig, now: Timestamp) -> Option<(Date, Timestamp)> {
        let at = agent.digest?;
        let today = now.to_zoned_datetime(agent.timezone.clone()).date();
        let due = today
            .to_datetime(at)
            .to_zoned_datetime(agent.timezone.clone())
            .ok()?;
        Some((today, due.timestamp()))
    }

    /// When the next daily digest falls due (now, for one missed today).
    pub(super) async fn next_daily(&self) -> Option<Timestamp> {
        let p = &self.pipeline;
        let now = p.clock.now();
        let mut next: Option<Timestamp> = None;
        for agent in p.config.agents.iter().filter(|a| a.digest.is_some()) {
            let Some((today, due)) = Self::digest_day(agent, now) else {
                continue;
            };
            let sent = p
                .store
                .agent_digest_days(&agent.email, &[today.to_string()])
                .await
                .ok()?;
            let at = if sent.is_empty() {
                due
            } else {
                // Tomorrow's, in the agent's zone.
                let tomorrow = today.tomorrow().ok()?;
                tomorrow
                    .to_datetime(agent.digest?)
                    .to_zoned_datetime(agent.timezone.clone())
                    .ok()?
                    .timestamp()
            };
            next = Some(next.map_or(at, |n: Timestamp| n.min(at)));
        }
        next
    }

    /// Sends every daily digest that is due and not sent yet.
    pub(super) async fn send_daily(&self) -> Result<(), StoreError> {
        let p = &self.pipeline;
        let now = p.clock.now();
        for agent in p.config.agents.iter() {
            let Some((today, due)) = Self::digest_day(agent, now) else {
                continue;
            };
            if now < due {
                continue;
            }
            match self.daily(agent, today, now).await {
                Ok(()) => {}
                Err(IngestError::Store(e)) => return Err(e),
                Err(e) => {
                    tracing::error!(agent = %agent.email, error = %e, "cannot render a daily digest")
                }
            }
        }
        Ok(())
    }

    /// One agent's digest of `day`, in one transaction.
    async fn daily(
        &self,
        agent: &AgentConfig,
        day: Date,
        now: Timestamp,
    ) -> Result<(), IngestError> {
        let p = &self.pipeline;
        let Some(mailbox) = p
            .config
            .mailboxes
            .iter()
            .find(|m| m.agents.contains(&agent.email))
            .cloned()
        else {
            return Ok(());
        };
        let mut tx = p.store.begin().await?;
        if !tx
            .claim_agent_digest(&agent.email, &day.to_string(), now)
            .await?
        {
            return Ok(tx.commit().await?);
        }
        let boxes: Vec<String> = p
            .config
            .mailboxes
            .iter()
            .filter(|m| m.agents.contains(&agent.email))
            .map(|m| m.name.clone())
            .collect();
        let end_of_day = day
            .tomorrow()
            .ok()
            .and_then(|d| {
                d.to_datetime(jiff::civil::Time::midnight())
                    .to_zoned_datetime(agent.timezone.clone())
                    .ok()
            })
            .map_or(now, |z| z.timestamp());
        let lines = |l: Vec<crate::store::TicketLine>| -> Vec<crate::templates::LineVars> {
            l.iter()
                .map(|t| p.line_vars(&mailbox, agent, t, now))
                .collect()
        };
        let mut vars = p.agent_vars(&mailbox, agent, "daily");
        vars.lines = lines(
            tx.overview(&Overview::Mine, &agent.email, &boxes, now)
                .await?,
        );
        vars.due = lines(
            tx.overview(&Overview::DueBy(end_of_day), &agent.email, &boxes, now)
                .await?,
        );
        vars.queue = lines(
            tx.overview(&Overview::Queue, &agent.email, &boxes, now)
                .await?,
        );
        let to = Address {
            email: agent.email.clone(),
            name: Some(agent.name.clone()),
        };
        p.queue_to_agent(
            &mut tx,
            AgentMail {
                mailbox: &mailbox,
                kind: OutKind::Digest,
                template: "daily",
                to: &to,
                language: p.config.agent_language(&mailbox, &agent.email),
                vars: &vars,
                parent: None,
                now,
            },
        )
        .await?;
        tx.commit().await?;
        p.outbox_wake.notify_one();
        tracing::info!(agent = %agent.email, day = %day, "daily digest queued");
        Ok(())
    }
}
