//! Mail that ingest queues: rendered from its template, composed with its
//! final Message-ID and the recipient's reply token, stored as an outbound
//! message and queued — all inside the ingest transaction. Also who gets
//! the notifications about a ticket.

use super::{IngestError, Pipeline};
use crate::config::MailboxConfig;
use crate::domain::compose::{self, Draft, OutAttachment, reply_references};
use crate::domain::model::{Address, Direction, OutKind};
use crate::domain::parse::ParsedMail;
use crate::domain::{fmt_duration, subject, token};
use crate::store::{NewMessage, NewOutbox, TicketState, Tx};
use crate::templates::{
    MailboxVars, MessageVars, Moments, PersonVars, ResultVars, SlaVars, TicketVars, Vars,
};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// One mail to queue about a ticket.
pub(crate) struct QueuedMail<'a> {
    pub mailbox: &'a MailboxConfig,
    pub ticket: i64,
    pub kind: OutKind,
    /// The main recipient: the reply token in Reply-To and Message-ID is theirs.
    pub to: &'a Address,
    pub cc: &'a [Address],
    /// The display name in From (the address is always the mailbox's).
    pub from_name: String,
    pub language: &'a str,
    pub vars: &'a Vars,
    /// The message this mail answers: its Message-ID and References.
    pub parent: (&'a str, &'a [String]),
    /// `auto-replied`, `auto-generated`, or None for a relayed human reply.
    pub auto_submitted: Option<&'a str>,
    pub attachments: &'a [OutAttachment],
    pub now: Timestamp,
}

fn nonce() -> String {
    let mut b = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .expect("system random generator");
    data_encoding::BASE32_NOPAD.encode(&b).to_lowercase()
}

/// `2026-11-27 10:00 EET`
pub fn format_time(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned_datetime(tz.clone())
        .strftime("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// `photo.jpg (image/jpeg, 120 KB)` for each attachment.
pub(crate) fn attachment_lines(mail: &ParsedMail) -> Vec<String> {
    mail.attachments
        .iter()
        .map(|a| {
            let size = if a.size >= 1024 * 1024 {
                format!("{:.1} MB", a.size as f64 / 1048576.0)
            } else {
                format!("{} KB", a.size.div_ceil(1024))
            };
            format!(
                "{} ({}, {size})",
                a.name.as_deref().unwrap_or("unnamed"),
                a.content_type
            )
        })
        .collect()
}

/// Who to notify about a ticket, and how the notification presents itself.
pub(crate) struct Notice<'a> {
    pub mailbox: &'a MailboxConfig,
    pub ticket: &'a TicketState,
    pub agents: &'a [String],
    /// The display name in From (`Jane Doe via Support`).
    pub from_name: &'a str,
    /// The message the notification is about: its Message-ID and References.
    pub parent: (&'a str, &'a [String]),
}

/// What prompts a mail, for the templates' `event`.
pub(crate) struct Prompt<'a> {
    pub event: &'a str,
    pub text: String,
    pub subject: String,
    pub attachments: Vec<String>,
    pub agent: Option<PersonVars>,
    pub result: ResultVars,
    pub is_new: bool,
}

impl Pipeline {
    /// The time zone of a mailbox's SLA calendar (UTC without one): for customers.
    pub(crate) fn mailbox_tz(&self, mailbox: &MailboxConfig) -> TimeZone {
        self.config.mailbox_tz(mailbox)
    }

    /// The template variables for mail about ticket `t`, with times in `tz`.
    pub(crate) fn vars(
        &self,
        mailbox: &MailboxConfig,
        t: &TicketState,
        tz: &TimeZone,
        p: Prompt<'_>,
    ) -> Vars {
        let due_at = t.first_response_due.map(|d| format_time(d, tz));
        let customer = t.customer.clone().unwrap_or(Address {
            email: String::new(),
            name: None,
        });
        let assignee = t
            .assignee
            .as_ref()
            .map(|a| self.config.agent(a).map_or(a.clone(), |c| c.name.clone()));
        Vars {
            event: p.event.into(),
            ticket: TicketVars {
                number: t.number,
                tag: subject::tag(&self.config.threading.tag_prefix, t.number),
                subject: t.subject.clone(),
                status: t.status.to_string(),
                priority: t.priority.clone(),
                created_at: format_time(t.created_at, tz),
                due_at: due_at.clone(),
                assignee,
                is_new: p.is_new,
            },
            customer: PersonVars {
                name: customer.name.clone(),
                email: customer.email.clone(),
            },
            agent: p.agent,
            message: MessageVars {
                text: p.text,
                subject: p.subject,
                attachments: p.attachments,
            },
            sla: SlaVars {
                target: "first_response".into(),
                due_at: due_at.unwrap_or_default(),
                remaining: t
                    .first_response_due
                    .map(|d| fmt_duration(d.duration_since(t.created_at)))
                    .unwrap_or_default(),
                late: String::new(),
                level: 0,
            },
            mailbox: MailboxVars {
                name: mailbox.name.clone(),
                address: mailbox.address.clone(),
                display_name: mailbox.display_name.clone(),
            },
            result: p.result,
            rate_url: String::new(),
            moments: Moments {
                zone: Some(tz.clone()),
                created_at: Some(t.created_at),
                due_at: t.first_response_due,
                sla_due_at: t.first_response_due,
            },
        }
    }

    /// The agents to tell about news on ticket `t`: its assignee once there
    /// is one, else every agent of the mailbox; never `except`.
    pub(super) fn agents_to_notify(
        &self,
        mailbox: &MailboxConfig,
        t: &TicketState,
        except: Option<&str>,
    ) -> Vec<String> {
        let mut to: Vec<String> = match &t.assignee {
            Some(a) => vec![a.clone()],
            None => mailbox.agents.clone(),
        };
        to.retain(|a| Some(a.as_str()) != except);
        to
    }

    /// Every agent of the ticket (assignee and the mailbox's agents) but `except`.
    pub(super) fn agents_of_ticket(
        &self,
        mailbox: &MailboxConfig,
        t: &TicketState,
        except: &str,
    ) -> Vec<String> {
        let mut to = mailbox.agents.clone();
        if let Some(a) = &t.assignee
            && !to.contains(a)
        {
            to.push(a.clone());
        }
        to.retain(|a| a != except);
        to
    }

    /// Queues an `agent_notify` mail to each agent of `n`.
    pub(super) async fn notify(
        &self,
        tx: &mut Tx,
        n: Notice<'_>,
        prompt: impl Fn() -> Prompt<'static>,
        now: Timestamp,
    ) -> Result<usize, IngestError> {
        let mut sent = 0;
        for email in n.agents {
            let Some(agent) = self.config.agent(email) else {
                continue;
            };
            let to = Address {
                email: agent.email.clone(),
                name: Some(agent.name.clone()),
            };
            let vars = self.vars(n.mailbox, n.ticket, &agent.timezone, prompt());
            self.queue(
                tx,
                QueuedMail {
                    mailbox: n.mailbox,
                    ticket: n.ticket.number,
                    kind: OutKind::AgentNotify,
                    to: &to,
                    cc: &[],
                    from_name: n.from_name.to_string(),
                    language: n.mailbox.language.as_deref().unwrap_or("en"),
                    vars: &vars,
                    parent: n.parent,
                    auto_submitted: Some("auto-generated"),
                    attachments: &[],
                    now,
                },
            )
            .await?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Renders, composes and queues one mail inside `tx`; returns its Message-ID.
    pub(crate) async fn queue(
        &self,
        tx: &mut Tx,
        q: QueuedMail<'_>,
    ) -> Result<String, IngestError> {
        self.queue_named(tx, q.kind.as_str(), q).await
    }

    /// As [`Pipeline::queue`], rendering the template named `template`.
    pub(crate) async fn queue_named(
        &self,
        tx: &mut Tx,
        template: &str,
        q: QueuedMail<'_>,
    ) -> Result<String, IngestError> {
        let rendered = self.templates.render(q.language, template, q.vars)?;
        let subject = subject::tagged(
            &rendered.subject,
            &self.config.threading.tag_prefix,
            q.ticket,
        );
        let token = self.key.issue(q.ticket, &q.to.email);
        let domain = q.mailbox.domain();
        let message_id = compose::message_id(&token, &nonce(), domain);
        let reply_to = token::reply_address(q.mailbox.local_part(), domain, &token);
        let from = Address {
            email: q.mailbox.address.clone(),
            name: Some(q.from_name.clone()),
        };
        let (parent_id, parent_refs) = q.parent;
        let references = reply_references(parent_refs, parent_id);
        let raw = compose::compose(&Draft {
            from: &from,
            to: std::slice::from_ref(q.to),
            cc: q.cc,
            reply_to: Some(&reply_to),
            subject: &subject,
            text: &rendered.body,
            html: None,
            message_id: &message_id,
            in_reply_to: Some(parent_id),
            references: &references,
            auto_submitted: q.auto_submitted,
            loop_marker: &q.mailbox.address,
            date: q.now,
            language: Some(q.language),
            attachments: q.attachments,
        });
        tx.insert_message(&NewMessage {
            message_id: &message_id,
            ticket: Some(q.ticket),
            mailbox: &q.mailbox.name,
            direction: Direction::Out,
            kind: q.kind.as_str(),
            from: Some(&from),
            subject: &subject,
            in_reply_to: Some(parent_id),
            references: &references,
            received_at: q.now,
            flags: &[],
            thread_index: None,
            raw: &raw,
        })
        .await?;
        let recipients: Vec<String> = std::iter::once(q.to)
            .chain(q.cc)
            .map(|a| a.email.clone())
            .collect();
        tx.enqueue(&NewOutbox {
            ticket: Some(q.ticket),
            mailbox: &q.mailbox.name,
            kind: q.kind,
            message_id: &message_id,
            in_reply_to: Some(parent_id),
            env_from: &q.mailbox.address,
            recipients: &recipients,
            subject: &subject,
            created_at: q.now,
        })
        .await?;
        Ok(message_id)
    }
}
