//! Mail from a proven agent on a ticket: commands applied, the reply
//! relayed to the customer from the support address (quote and signature
//! trimmed, attachments kept, the agent's own address nowhere), notes passed
//! to the other agents, and a receipt when commands were given.

use super::outgoing::{Notice, Prompt, QueuedMail};
use super::{IngestError, Msg, Pipeline};
use crate::config::AgentConfig;
use crate::domain::agent::{AgentRef, TicketFacts, decide_agent};
use crate::domain::classify::{Us, is_ours};
use crate::domain::model::{Address, OutKind, Role, Status};
use crate::domain::parse::attachments_of;
use crate::domain::reply::{Command, read_agent_text};
use crate::domain::sla::Happening;
use crate::store::{TicketEdit, TicketState, Tx};
use crate::templates::{PersonVars, ResultVars};

impl Pipeline {
    /// Acts on an agent's mail; returns the events to record.
    pub(super) async fn agent_mail(
        &self,
        tx: &mut Tx,
        m: &Msg<'_>,
        t: &TicketState,
        agent: &AgentConfig,
    ) -> Result<Vec<(&'static str, String)>, IngestError> {
        let (mailbox, mail, raw) = (m.mailbox, m.mail, m.raw);
        let (received_at, now) = (m.received_at, m.now);
        let text = read_agent_text(&mail.text);
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
            if let Command::Merge(n) = c {
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
        let mut d = decide_agent(&me, &text, &facts, direct, &agents);
        if d.relay && t.customer.is_none() {
            d.relay = false;
            d.not_understood
                .push("the ticket has no customer address to answer".into());
            d.receipt = true;
        }
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
            events.push((
                "sender marked as spam",
                format!(
                    "{}: later mail from this address is stored as spam",
                    c.email
                ),
            ));
        }
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
        let status_before = t.status;
        let t = tx.ticket_state(t.number).await?.expect("the ticket exists");
        let agent_person = Some(PersonVars {
            name: Some(agent.name.clone()),
            email: agent.email.clone(),
        });
        let support_name = format!("{} ({})", agent.name, mailbox.display_name);
        let mut relayed_to = None;

        if d.relay {
            let customer = t.customer.clone().expect("checked above");
            let cc: Vec<Address> = tx
                .participants_in_role(t.number, Role::Cc)
                .await?
                .into_iter()
                .filter(|a| {
                    a.email != customer.email
                        && !is_agent(&a.email)
                        && !is_ours(&a.email, &Us { addresses: &ours })
                })
                .collect();
            let (parent_id, parent_refs) = tx
                .latest_customer_message(t.number)
                .await?
                .unwrap_or_else(|| (mail.message_id.clone(), Vec::new()));
            let vars = self.vars(
                mailbox,
                &t,
                &self.mailbox_tz(mailbox),
                Prompt {
                    event: "agent_reply",
                    text: text.body.clone(),
                    subject: mail.subject.clone(),
                    attachments: Vec::new(),
                    agent: agent_person.clone(),
                    result: ResultVars::default(),
                    is_new: false,
                },
            );
            let files = attachments_of(raw);
            let id = self
                .queue(
                    tx,
                    QueuedMail {
                        mailbox,
                        ticket: t.number,
                        kind: OutKind::AgentReply,
                        to: &customer,
                        cc: &cc,
                        from_name: support_name.clone(),
                        language: &t.language,
                        vars: &vars,
                        parent: (&parent_id, &parent_refs),
                        auto_submitted: None,
                        attachments: &files,
                        now,
                    },
                )
                .await?;
            let to: Vec<String> = std::iter::once(&customer)
                .chain(&cc)
                .map(|a| a.email.clone())
                .collect();
            events.push((
                "relayed",
                format!("{}'s reply <{id}> to {}", agent.email, to.join(", ")),
            ));
            relayed_to = Some(match &customer.name {
                Some(n) => format!("{n} <{}>", customer.email),
                None => customer.email.clone(),
            });
            if mailbox.cc_agents_on_replies {
                let others = self.agents_of_ticket(mailbox, &t, &agent.email);
                let body = text.body.clone();
                let person = agent_person.clone();
                self.notify(
                    tx,
                    Notice {
                        mailbox,
                        ticket: &t,
                        agents: &others,
                        from_name: &support_name,
                        parent: (&mail.message_id, &mail.references),
                        about: &mail.message_id,
                        who: &agent.name,
                    },
                    || Prompt {
                        event: "agent_reply",
                        text: body.clone(),
                        subject: String::new(),
                        attachments: Vec::new(),
                        agent: person.clone(),
                        result: ResultVars::default(),
                        is_new: false,
                    },
                    now,
                )
                .await?;
            }
        }
        if d.note && !text.body.trim().is_empty() {
            let others = self.agents_of_ticket(mailbox, &t, &agent.email);
            let body = text.body.clone();
            let person = agent_person.clone();
            let n = self
                .notify(
                    tx,
                    Notice {
                        mailbox,
                        ticket: &t,
                        agents: &others,
                        from_name: &support_name,
                        parent: (&mail.message_id, &mail.references),
                        about: &mail.message_id,
                        who: &agent.name,
                    },
                    || Prompt {
                        event: "note",
                        text: body.clone(),
                        subject: String::new(),
                        attachments: Vec::new(),
                        agent: person.clone(),
                        result: ResultVars::default(),
                        is_new: false,
                    },
                    now,
                )
                .await?;
            events.push(("note shared", format!("with {} other agent(s)", n.sent)));
        }
        if d.receipt {
            let to = Address {
                email: agent.email.clone(),
                name: Some(agent.name.clone()),
            };
            let vars = self.vars(
                mailbox,
                &t,
                &agent.timezone,
                Prompt {
                    event: "command_result",
                    text: String::new(),
                    subject: mail.subject.clone(),
                    attachments: Vec::new(),
                    agent: agent_person.clone(),
                    result: ResultVars {
                        applied: d.applied.clone(),
                        not_understood: d.not_understood.clone(),
                        relayed: relayed_to,
                    },
                    is_new: false,
                },
            );
            self.queue(
                tx,
                QueuedMail {
                    mailbox,
                    ticket: t.number,
                    kind: OutKind::CommandResult,
                    to: &to,
                    cc: &[],
                    from_name: mailbox.display_name.clone(),
                    language: mailbox.language.as_deref().unwrap_or("en"),
                    vars: &vars,
                    parent: (&mail.message_id, &mail.references),
                    auto_submitted: Some("auto-replied"),
                    attachments: &[],
                    now,
                },
            )
            .await?;
        }
        let spam_or_merge = d.spam || d.merge_into.is_some();
        events.extend(
            self.after_done(tx, mailbox, &t, status_before, spam_or_merge, now)
                .await?,
        );
        if let Some(into) = d.merge_into {
            tx.merge_tickets(t.number, into, now).await?;
            tx.add_event(
                Some(into),
                Some(&mail.message_id),
                now,
                "merged",
                &format!(
                    "ticket #{} was merged into this one by {}",
                    t.number, agent.email
                ),
            )
            .await?;
        }
        Ok(events)
    }
}
