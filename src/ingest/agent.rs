//! Mail from a proven agent on a ticket: commands applied, the reply
//! relayed to the customer from the support address (trimmed against the
//! ticket's own mail, attachments kept, the agent's own address nowhere;
//! when it finishes the ticket, the closing note and the survey ride along
//! in the same mail), notes passed to the other agents, a newly assigned
//! agent told, and a receipt whenever commands were given or nothing could
//! be sent.

use super::outgoing::{AgentNotice, Prompt, carry};
use super::queue::QueuedMail;
use super::survey::Closing;
use super::{IngestError, Msg, Pipeline};
use crate::config::AgentConfig;
use crate::domain::agent::{AgentDecision, AgentRef, Mail, TicketFacts, decide_agent};
use crate::domain::classify::{Us, is_ours};
use crate::domain::compose::OutAttachment;
use crate::domain::event::{Event, EventKind};
use crate::domain::files;
use crate::domain::model::{Address, OutKind, Role, Status};
use crate::domain::parse::{attachments_of, files_of};
use crate::domain::phrase::Phrase;
use crate::domain::reply::{AgentCommand, AgentText, read_agent_text};
use crate::domain::sla::Happening;
use crate::domain::survey::finished;
use crate::domain::trim::Known;
use crate::store::{TicketEdit, TicketState, Tx};
use crate::templates::{PersonVars, ResultVars};

type Events = Vec<Event>;

/// An agent's mail as read: its own text, its files, and the decision.
struct ReadMail {
    text: AgentText,
    files: Vec<OutAttachment>,
    d: AgentDecision,
}

impl Pipeline {
    /// Acts on an agent's mail; returns the events to record.
    pub(super) async fn agent_mail(
        &self,
        tx: &mut Tx,
        m: &Msg<'_>,
        t: &TicketState,
        agent: &AgentConfig,
    ) -> Result<Events, IngestError> {
        let (mail, received_at, now) = (m.mail, m.received_at, m.now);
        let ReadMail { text, files, d } = self.read_agent_mail(tx, m, t, agent).await?;
        let edit = TicketEdit {
            status: d.status,
            assignee: d.assignee.clone(),
            priority: d.priority.map(|p| p.to_string()),
            first_response_at: d.responded.then_some(received_at),
            spam: d.spam,
        };
        tx.edit_ticket(t.number, &edit, received_at).await?;
        let mut events = d.events.clone();
        // #spam also marks the sender: their later mail is spam at once.
        if d.spam
            && let Some(c) = &t.customer
        {
            tx.mark_spam_sender(&c.email, &agent.email, t.number, now)
                .await?;
            events.push(Event::new(
                EventKind::SenderMarkedAsSpam,
                format!(
                    "{}: later mail from this address is stored as spam",
                    c.email
                ),
            ));
        }
        self.agent_clocks(tx, t, &d, received_at).await?;
        let before = t.status;
        let t = tx.ticket_state(t.number).await?.expect("the ticket exists");
        let spam_or_merge = d.spam || d.merge_into.is_some();
        let plan = if finished(before, Some(t.status), spam_or_merge) {
            self.closing_plan(tx, m.mailbox, &t, now, &mut events)
                .await?
        } else {
            None
        };

        let mut relayed_to = None;
        if d.relay {
            relayed_to = Some(
                self.relay(tx, m, &t, agent, &text, &files, plan.as_ref(), &mut events)
                    .await?,
            );
        } else if let Some(plan) = &plan {
            self.queue_closing(tx, m.mailbox, &t, plan, now, &mut events)
                .await?;
        }
        if d.note && !text.body.trim().is_empty() {
            let n = self.share(tx, m, &t, agent, "note", &text.body).await?;
            events.push(Event::new(
                EventKind::NoteShared,
                format!("with {n} other agent(s)"),
            ));
        }
        self.tell_assignees(tx, m, &t, agent, &d, &mut events)
            .await?;
        if d.receipt {
            self.receipt(tx, m, &t, agent, &d, relayed_to).await?;
        }
        for o in &d.overview {
            self.send_list(tx, m, agent, o).await?;
        }
        if let Some(into) = d.merge_into {
            tx.merge_tickets(t.number, into, now).await?;
            tx.add_event(
                Some(into),
                Some(&mail.message_id),
                now,
                EventKind::Merged,
                &format!(
                    "ticket #{} was merged into this one by {}",
                    t.number, agent.email
                ),
            );
        }
        Ok(events)
    }

    /// Reads an agent's mail on ticket `t`: its own text (trimmed against
    /// what it may quote), its files, and what it decides — a reply with
    /// no customer to go to is not relayed, and the agent hears why.
    async fn read_agent_mail(
        &self,
        tx: &mut Tx,
        m: &Msg<'_>,
        t: &TicketState,
        agent: &AgentConfig,
    ) -> Result<ReadMail, IngestError> {
        let mail = m.mail;
        let quotable = self.quotable(tx, t.number, &mail.message_id).await?;
        let earlier = self.earlier_of(tx, &agent.email).await?;
        let known = Known {
            texts: quotable.iter().map(String::as_str).collect(),
            earlier: earlier.iter().map(String::as_str).collect(),
        };
        let text = read_agent_text(&mail.text, &known);
        let files = attachments_of(m.raw);
        let ours = self.config.our_addresses();
        let is_agent = |e: &str| self.config.agent(e).is_some();
        // Written to the customer themselves, with support only copied in.
        let direct = mail
            .to
            .iter()
            .chain(&mail.cc)
            .any(|a| !is_ours(&a.email, &Us { addresses: &ours }) && !is_agent(&a.email));
        let mut merge_target_exists = true;
        for c in &text.commands {
            if let AgentCommand::Merge(n) = c {
                merge_target_exists &= tx.ticket_view(*n).await?.is_some();
            }
        }
        let agents: Vec<AgentRef> = self
            .config
            .agents
            .iter()
            .map(|a| AgentRef {
                email: a.email.clone(),
                name: a.name.clone(),
            })
            .collect();
        let me = AgentRef {
            email: agent.email.clone(),
            name: agent.name.clone(),
        };
        let facts = TicketFacts {
            number: t.number,
            status: t.status,
            assignee: t.assignee.clone(),
            merge_target_exists,
        };
        let reply = Mail {
            text: &text,
            attachments: files.len(),
            direct,
        };
        let mut d = decide_agent(&me, &reply, &facts, &agents);
        if d.relay && t.customer.is_none() {
            d.relay = false;
            d.not_understood
                .push(crate::domain::phrase::Phrase::new("unknown.no_customer"));
            d.receipt = true;
        }
        Ok(ReadMail { text, files, d })
    }

    /// Moves ticket `t`'s clocks as the agent's mail decided: an answer,
    /// a status change.
    async fn agent_clocks(
        &self,
        tx: &mut Tx,
        t: &TicketState,
        d: &AgentDecision,
        received_at: jiff::Timestamp,
    ) -> Result<(), IngestError> {
        let mut happenings = Vec::new();
        if d.responded {
            happenings.push(Happening::AgentAnswered);
        }
        match d.status {
            Some(Status::Pending) => happenings.push(Happening::Pending),
            Some(Status::Open) => happenings.push(Happening::Opening),
            Some(Status::Resolved | Status::Closed) => happenings.push(Happening::Resolved),
            None => {}
        }
        self.move_clocks(tx, t.number, &t.sla_policy, &happenings, received_at)
            .await?;
        Ok(())
    }

    /// Sends the agent's answer to the customer and the people they copied,
    /// from the support address, threaded to the customer's latest message;
    /// with the closing note and the survey when the answer finished the
    /// ticket. Returns who it went to, for the receipt.
    #[allow(clippy::too_many_arguments)]
    async fn relay(
        &self,
        tx: &mut Tx,
        m: &Msg<'_>,
        t: &TicketState,
        agent: &AgentConfig,
        text: &AgentText,
        files: &[OutAttachment],
        plan: Option<&Closing>,
        events: &mut Events,
    ) -> Result<String, IngestError> {
        let (mailbox, mail, now) = (m.mailbox, m.mail, m.now);
        let ours = self.config.our_addresses();
        let customer = t.customer.clone().expect("a relay has a customer");
        let cc: Vec<Address> = tx
            .participants_in_role(t.number, Role::Cc)
            .await?
            .into_iter()
            .filter(|a| {
                a.email != customer.email
                    && self.config.agent(&a.email).is_none()
                    && !is_ours(&a.email, &Us { addresses: &ours })
            })
            .collect();
        let (parent_id, parent_refs) = tx
            .latest_customer_message(t.number)
            .await?
            .unwrap_or_else(|| (mail.message_id.clone(), Vec::new()));
        let mut vars = self.vars(
            mailbox,
            t,
            &self.mailbox_tz(mailbox),
            Prompt {
                event: "agent_reply",
                text: text.body.clone(),
                subject: mail.subject.clone(),
                attachments: Vec::new(),
                agent: Some(person(agent)),
                result: ResultVars::default(),
                is_new: false,
            },
        );
        if let Some(p) = plan {
            vars.closing = p.closing;
            vars.survey = p.survey;
            vars.rate_url = p.rate_url.clone();
        }
        let support_name = format!("{} ({})", agent.name, mailbox.display_name);
        let id = self
            .queue(
                tx,
                QueuedMail {
                    mailbox,
                    ticket: t.number,
                    kind: OutKind::AgentReply,
                    to: &customer,
                    cc: &cc,
                    from_name: support_name,
                    language: &crate::domain::language::for_customers(
                        &t.language,
                        mailbox.formal,
                        crate::templates::VARIANTS,
                    ),
                    vars: &vars,
                    parent: (&parent_id, &parent_refs),
                    auto_submitted: None,
                    attachments: files,
                    html: None,
                    now,
                },
            )
            .await?;
        let to: Vec<String> = std::iter::once(&customer)
            .chain(&cc)
            .map(|a| a.email.clone())
            .collect();
        let what = match (text.body.trim().is_empty(), files.len()) {
            (true, n) => format!("{n} attachment(s) without text"),
            (false, 0) => "reply".to_string(),
            (false, n) => format!("reply with {n} attachment(s)"),
        };
        events.push(Event::new(
            EventKind::Relayed,
            format!("{}'s {what} <{id}> to {}", agent.email, to.join(", ")),
        ));
        if let Some(p) = plan {
            self.closing_sent(tx, t, p, &id, now, events).await?;
        }
        if mailbox.cc_agents_on_replies {
            self.share(tx, m, t, agent, "agent_reply", &text.body)
                .await?;
        }
        Ok(match &customer.name {
            Some(n) => format!("{n} <{}>", customer.email),
            None => customer.email,
        })
    }

    /// Passes the agent's words to the ticket's other agents (`note`, or a
    /// copy of an `agent_reply`); returns to how many.
    async fn share(
        &self,
        tx: &mut Tx,
        m: &Msg<'_>,
        t: &TicketState,
        agent: &AgentConfig,
        event: &'static str,
        body: &str,
    ) -> Result<usize, IngestError> {
        let others = self.agents_of_ticket(m.mailbox, t, &agent.email);
        let support_name = format!("{} ({})", agent.name, m.mailbox.display_name);
        let done = self
            .notify(
                tx,
                AgentNotice {
                    mailbox: m.mailbox,
                    ticket: t,
                    agents: &others,
                    from_name: &support_name,
                    parent: (&m.mail.message_id, &m.mail.references),
                    about: &m.mail.message_id,
                    who: &agent.name,
                    files: &[],
                    html: None,
                },
                || Prompt {
                    event,
                    text: body.to_string(),
                    subject: String::new(),
                    attachments: Vec::new(),
                    agent: Some(person(agent)),
                    result: ResultVars::default(),
                    is_new: false,
                },
                m.now,
            )
            .await?;
        Ok(done.sent)
    }

    /// Tells an agent who now holds the ticket (and one who held it before
    /// and lost it to someone else): the ticket, its due time, and what
    /// the customer last wrote.
    #[allow(clippy::too_many_arguments)]
    async fn tell_assignees(
        &self,
        tx: &mut Tx,
        m: &Msg<'_>,
        t: &TicketState,
        agent: &AgentConfig,
        d: &AgentDecision,
        events: &mut Events,
    ) -> Result<(), IngestError> {
        let told: Vec<(&String, &'static str)> = [
            (d.notify_assignee.as_ref(), "assigned"),
            (d.notify_previous.as_ref(), "unassigned"),
        ]
        .into_iter()
        .filter_map(|(who, why)| who.map(|w| (w, why)))
        .collect();
        if told.is_empty() {
            return Ok(());
        }
        let last = self.latest_customer_text(tx, t.number).await?;
        let from_name = format!("{} ({})", agent.name, m.mailbox.display_name);
        for (who, event) in told {
            let done = self
                .notify(
                    tx,
                    AgentNotice {
                        mailbox: m.mailbox,
                        ticket: t,
                        agents: std::slice::from_ref(who),
                        from_name: &from_name,
                        parent: (&m.mail.message_id, &m.mail.references),
                        about: &m.mail.message_id,
                        who: &agent.name,
                        files: &[],
                        html: None,
                    },
                    || Prompt {
                        event,
                        text: last.clone(),
                        subject: String::new(),
                        attachments: Vec::new(),
                        agent: Some(person(agent)),
                        result: ResultVars::default(),
                        is_new: false,
                    },
                    m.now,
                )
                .await?;
            if done.sent > 0 {
                events.push(Event::new(
                    EventKind::AgentTold,
                    format!("{who}: {event} by {}", agent.email),
                ));
            }
        }
        Ok(())
    }

    /// The receipt to the agent: what their commands did, what was not
    /// understood, where the reply went, or why nothing was sent.
    async fn receipt(
        &self,
        tx: &mut Tx,
        m: &Msg<'_>,
        t: &TicketState,
        agent: &AgentConfig,
        d: &AgentDecision,
        relayed: Option<String>,
    ) -> Result<(), IngestError> {
        let to = Address {
            email: agent.email.clone(),
            name: Some(agent.name.clone()),
        };
        let mut vars = self.vars(
            m.mailbox,
            t,
            &agent.timezone,
            Prompt {
                event: "command_result",
                text: String::new(),
                subject: m.mail.subject.clone(),
                attachments: Vec::new(),
                agent: Some(person(agent)),
                result: ResultVars {
                    relayed,
                    ..ResultVars::default()
                },
                is_new: false,
            },
        );
        vars.raw.applied = d.applied.clone();
        vars.raw.not_understood = d.not_understood.clone();
        vars.raw.held = d.held.clone();
        // `#attachments`: the customers' files, newest first, as many as fit.
        let mut attached = Vec::new();
        if d.files {
            let mut all = Vec::new();
            for raw in tx.customer_raws(t.number).await? {
                all.extend(files_of(&raw));
            }
            let limit = m.mailbox.notify_attachments_max;
            let carried = carry(&all, limit);
            vars.message.attachments = carried.lines;
            vars.message.left_out = carried.left_out;
            vars.message.attach_limit = files::size_label(limit);
            if all.is_empty() {
                for p in vars
                    .raw
                    .applied
                    .iter_mut()
                    .filter(|p| p.key == "receipt.files")
                {
                    *p = Phrase::new("receipt.no_files");
                }
            }
            attached = carried.files;
        }
        self.queue(
            tx,
            QueuedMail {
                mailbox: m.mailbox,
                ticket: t.number,
                kind: OutKind::CommandResult,
                to: &to,
                cc: &[],
                from_name: m.mailbox.display_name.clone(),
                language: self.config.agent_language(m.mailbox, &agent.email),
                vars: &vars,
                parent: (&m.mail.message_id, &m.mail.references),
                auto_submitted: Some("auto-replied"),
                attachments: &attached,
                html: None,
                now: m.now,
            },
        )
        .await?;
        Ok(())
    }
}

fn person(agent: &AgentConfig) -> PersonVars {
    PersonVars {
        name: Some(agent.name.clone()),
        email: agent.email.clone(),
    }
}
