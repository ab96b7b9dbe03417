//! Agents' mail about no one ticket: the lists they ask for (`#mine`,
//! `#queue`, `#atrisk`, `#find WORDS`), each line with the address that
//! acts on that ticket; and, for mail from an agent's address that is about
//! no ticket or proves nothing, a word back saying what was not done and
//! how to act — such mail is never taken for a customer's.

use super::queue::AgentMail;
use super::{IngestError, Msg, Outcome, Pipeline, Wake};
use crate::config::{AgentConfig, MailboxConfig};
use crate::domain::auth::Proof;
use crate::domain::event::{Event, EventKind};
use crate::domain::model::{Action, Address, Kind, OutKind};
use crate::domain::phrase::Phrase;
use crate::domain::reply::{AgentCommand, Overview, read_agent_text};
use crate::domain::token::{self, Purpose};
use crate::domain::trim::Known;
use crate::store::{TicketLine, Tx};
use crate::templates::{LineVars, PersonVars, Vars};
use jiff::Timestamp;

impl Pipeline {
    /// Mail from an agent's address that names no ticket, or proves
    /// nothing: stored aside; lists answered when it is proven; otherwise
    /// the agent is told why nothing happened.
    pub(super) async fn ingest_agent_outside(
        &self,
        mut tx: Tx,
        m: &Msg<'_>,
        agent: &AgentConfig,
        proof: Result<&Proof, &[String]>,
        why: String,
    ) -> Result<Outcome, IngestError> {
        let mail = m.mail;
        self.store_incoming(&mut tx, m, None, Kind::Agent).await?;
        let text = read_agent_text(&mail.text, &Known::default());
        let mut events = vec![Event::new(
            EventKind::AgentMailOutsideTicket,
            format!("<{}> from {}: {why}", mail.message_id, agent.email),
        )];
        let mut sent = 0;
        let lists: Vec<&Overview> = text
            .commands
            .iter()
            .filter_map(|c| match c {
                AgentCommand::Overview(o) => Some(o),
                _ => None,
            })
            .collect();
        let others = text.commands.len() - lists.len();
        if proof.is_ok() && !lists.is_empty() {
            for o in lists {
                sent += self.send_list(&mut tx, m, agent, o).await?;
            }
            events.push(Event::new(
                EventKind::ListsSent,
                format!("{sent} to {}", agent.email),
            ));
        }
        let help = match (proof, others > 0 || !text.not_understood.is_empty()) {
            (Err([]), _) => Some(Phrase::new("held.unproven")),
            (Err(holders), _) => {
                Some(Phrase::new("held.unproven_token").with("holders", holders.join(", ")))
            }
            (Ok(_), true) => Some(Phrase::new("held.commands_without_ticket")),
            (Ok(_), false) if text.commands.is_empty() => Some(Phrase::new("held.no_ticket")),
            _ => None,
        };
        if let Some(held) = help {
            events.push(Event::new(
                EventKind::AgentTold,
                format!("{}: {}", agent.email, held.key),
            ));
            sent += self.send_help(&mut tx, m, agent, held).await?;
        }
        let woke = Wake {
            outbox: sent > 0,
            scheduler: false,
        };
        self.finish(tx, m, &events, None, woke).await?;
        tracing::info!(mailbox = %m.mailbox.name, message_id = %mail.message_id, agent = %agent.email,
            proven = proof.is_ok(), "agent mail outside a ticket");
        Ok(Outcome::new(None, Action::Ignored, Kind::Agent, mail))
    }

    /// May another automatic mail go to `agent` now? Records it when not.
    async fn agent_mail_allowed(
        &self,
        tx: &mut Tx,
        mailbox: &MailboxConfig,
        agent: &AgentConfig,
        now: Timestamp,
    ) -> Result<bool, IngestError> {
        let sent = self
            .sent_so_far(tx, mailbox, &agent.email, None, None, now)
            .await?
            .sent;
        match crate::domain::decide::refusal(&self.config.limits, &sent, false) {
            None => Ok(true),
            Some((limit, _)) => {
                self.limit_tripped(mailbox, &agent.email, OutKind::CommandResult, limit, now);
                Ok(false)
            }
        }
    }

    /// One list, answered to the agent; returns how many mails went.
    pub(super) async fn send_list(
        &self,
        tx: &mut Tx,
        m: &Msg<'_>,
        agent: &AgentConfig,
        what: &Overview,
    ) -> Result<usize, IngestError> {
        if !self.agent_mail_allowed(tx, m.mailbox, agent, m.now).await? {
            return Ok(0);
        }
        let mailboxes: Vec<String> = self
            .config
            .mailboxes
            .iter()
            .filter(|b| b.agents.contains(&agent.email))
            .map(|b| b.name.clone())
            .chain(std::iter::once(m.mailbox.name.clone()))
            .collect();
        let lines = tx.overview(what, &agent.email, &mailboxes, m.now).await?;
        let (event, query) = match what {
            Overview::Mine => ("mine", String::new()),
            Overview::Queue => ("queue", String::new()),
            Overview::AtRisk => ("atrisk", String::new()),
            Overview::Find(q) => ("find", q.clone()),
            Overview::DueBy(_) => ("due", String::new()),
        };
        let mut vars = self.agent_vars(m.mailbox, agent, event);
        vars.query = query;
        vars.lines = lines
            .iter()
            .map(|l| self.line_vars(m.mailbox, agent, l, m.now))
            .collect();
        self.queue_to_agent(
            tx,
            AgentMail {
                mailbox: m.mailbox,
                kind: OutKind::CommandResult,
                template: "overview",
                to: &address(agent),
                language: self.config.agent_language(m.mailbox, &agent.email),
                vars: &vars,
                parent: Some((&m.mail.message_id, &m.mail.references)),
                now: m.now,
            },
        )
        .await?;
        Ok(1)
    }

    /// Tells the agent why their mail did nothing, and how to act.
    async fn send_help(
        &self,
        tx: &mut Tx,
        m: &Msg<'_>,
        agent: &AgentConfig,
        held: Phrase,
    ) -> Result<usize, IngestError> {
        if !self.agent_mail_allowed(tx, m.mailbox, agent, m.now).await? {
            return Ok(0);
        }
        let mut vars = self.agent_vars(m.mailbox, agent, "help");
        vars.raw.held = Some(held);
        vars.message.subject = crate::domain::clip_subject(&m.mail.subject);
        self.queue_to_agent(
            tx,
            AgentMail {
                mailbox: m.mailbox,
                kind: OutKind::CommandResult,
                template: "agent_help",
                to: &address(agent),
                language: self.config.agent_language(m.mailbox, &agent.email),
                vars: &vars,
                parent: Some((&m.mail.message_id, &m.mail.references)),
                now: m.now,
            },
        )
        .await?;
        Ok(1)
    }

    /// Variables of a mail to `agent` about no one ticket.
    pub(crate) fn agent_vars(
        &self,
        mailbox: &MailboxConfig,
        agent: &AgentConfig,
        event: &str,
    ) -> Vars {
        Vars {
            event: event.to_string(),
            agent: Some(PersonVars {
                name: Some(agent.name.clone()),
                email: agent.email.clone(),
            }),
            mailbox: crate::templates::MailboxVars {
                name: mailbox.name.clone(),
                address: mailbox.address.clone(),
                display_name: mailbox.display_name.clone(),
            },
            ..Vars::default()
        }
    }

    /// One ticket of a list, with the address that acts on it as `agent`.
    pub(crate) fn line_vars(
        &self,
        mailbox: &MailboxConfig,
        agent: &AgentConfig,
        l: &TicketLine,
        now: Timestamp,
    ) -> LineVars {
        let box_of = self.config.mailbox(&l.mailbox).unwrap_or(mailbox);
        let token = self.key.issue_for(Purpose::Reply, l.number, &agent.email);
        LineVars {
            tag: crate::domain::subject::tag(&self.config.threading.tag_prefix, l.number),
            subject: crate::domain::clip_subject(&l.subject),
            customer: match (&l.customer_name, &l.customer) {
                (Some(n), Some(e)) => format!("{n} <{e}>"),
                (None, Some(e)) => e.clone(),
                _ => String::new(),
            },
            status: l.status.clone(),
            due: l
                .due
                .map(|d| super::format_time(d, &agent.timezone))
                .unwrap_or_default(),
            late: l.due.is_some_and(|d| d < now),
            reply: token::reply_address(box_of.local_part(), box_of.domain(), &token),
        }
    }
}

fn address(agent: &AgentConfig) -> Address {
    Address {
        email: agent.email.clone(),
        name: Some(agent.name.clone()),
    }
}
