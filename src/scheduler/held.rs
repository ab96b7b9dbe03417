//! Digests of the notifications a limit held back: one mail per agent,
//! `digest_after` after the first was held, with every held one listed;
//! the rows leave the table in the transaction that queues the mail, so one
//! instance sends each digest once.

use super::Scheduler;
use crate::domain::event::EventKind;
use crate::domain::model::{Address, OutKind};
use crate::store::StoreError;

impl Scheduler {
    /// Sends a digest to every recipient whose oldest held notification
    /// waited `digest_after`.
    pub async fn send_digests(&self) -> Result<(), StoreError> {
        let p = &self.pipeline;
        let now = p.clock.now();
        let before = now.checked_sub(p.config.limits.digest_after).unwrap_or(now);
        for recipient in p.store.digest_recipients(before).await? {
            match self.digest(&recipient).await {
                Ok(()) => {}
                Err(crate::ingest::IngestError::Store(e)) => return Err(e),
                Err(e) => tracing::error!(recipient, error = %e, "cannot render a digest"),
            }
        }
        Ok(())
    }

    /// One recipient's digest, in one transaction.
    async fn digest(&self, recipient: &str) -> Result<(), crate::ingest::IngestError> {
        let p = &self.pipeline;
        let now = p.clock.now();
        let mut tx = p.store.begin().await?;
        let held = tx.take_held(recipient).await?;
        let Some(first) = held.first() else {
            return Ok(tx.commit().await?);
        };
        let Some(mailbox) = p.config.mailbox(&first.mailbox).cloned() else {
            tracing::warn!(recipient, mailbox = %first.mailbox, "held notifications of a mailbox no longer configured: dropped");
            return Ok(tx.commit().await?);
        };
        let agent = p.config.agent(recipient);
        let tz = agent
            .map(|a| a.timezone.clone())
            .unwrap_or_else(|| p.mailbox_tz(&mailbox));
        let mut items = Vec::new();
        for h in &held {
            let subject = tx
                .ticket_state(h.ticket)
                .await?
                .map(|t| crate::domain::clip_subject(&t.subject))
                .unwrap_or_default();
            items.push(crate::templates::DigestItem {
                tag: crate::domain::subject::tag(&p.config.threading.tag_prefix, h.ticket),
                subject,
                event: h.event.clone(),
                who: h.who.clone(),
                at: crate::ingest::format_time(h.held_at, &tz),
            });
        }
        let to = Address {
            email: recipient.to_string(),
            name: agent.map(|a| a.name.clone()),
        };
        let vars = crate::templates::Vars {
            event: "digest".into(),
            agent: Some(crate::templates::PersonVars {
                name: to.name.clone(),
                email: to.email.clone(),
            }),
            mailbox: crate::templates::MailboxVars {
                name: mailbox.name.clone(),
                address: mailbox.address.clone(),
                display_name: mailbox.display_name.clone(),
            },
            digest: items,
            ..Default::default()
        };
        let language = p.config.agent_language(&mailbox, recipient);
        let id = p
            .queue_to_agent(
                &mut tx,
                crate::ingest::AgentMail {
                    mailbox: &mailbox,
                    kind: OutKind::Digest,
                    template: OutKind::Digest.as_str(),
                    to: &to,
                    language,
                    vars: &vars,
                    parent: None,
                    now,
                },
            )
            .await?;
        for n in held
            .iter()
            .map(|h| h.ticket)
            .collect::<std::collections::BTreeSet<_>>()
        {
            tx.add_event(
                Some(n),
                None,
                now,
                EventKind::DigestQueued,
                &format!("<{id}> to {recipient}, with the notifications held back"),
            );
        }
        tx.commit().await?;
        crate::ops::metrics::digest_sent(&mailbox.name);
        p.outbox_wake.notify_one();
        tracing::info!(recipient, mailbox = %mailbox.name, held = held.len(), "digest of held notifications queued");
        Ok(())
    }
}
