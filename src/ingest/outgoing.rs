//! What mail about a ticket says and who gets it: the template variables
//! of a ticket, the files carried to agents, and the notifications about
//! a ticket (queued through [`super::queue`]).

use super::queue::QueuedMail;
use super::{IngestError, Pipeline};
use crate::config::MailboxConfig;
use crate::domain::compose::OutAttachment;
use crate::domain::decide::refusal;
use crate::domain::event::EventKind;
use crate::domain::model::{Address, OutKind};
use crate::domain::parse::ParsedMail;
use crate::domain::{MAX_ECHOED_TEXT, clip, clip_subject, files, subject};
use crate::store::{HeldNotice, TicketState, Tx};
use crate::templates::{
    MailboxVars, MessageVars, PersonVars, Raw, ResultVars, SlaVars, TicketVars, Vars,
};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// `2026-11-27 10:00 EET`
pub fn format_time(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned_datetime(tz.clone())
        .strftime("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// The files a mail carries within a limit, and the lines that list them.
pub(crate) struct Carried {
    pub files: Vec<OutAttachment>,
    /// `name (type, size)` of the files carried, and of the rest.
    pub lines: Vec<String>,
    pub left_out: Vec<String>,
}

/// `all` in order while their total stays within `limit` bytes.
pub(crate) fn carry(all: &[OutAttachment], limit: u64) -> Carried {
    let sizes: Vec<u64> = all.iter().map(|f| f.bytes.len() as u64).collect();
    let chosen = files::select(&sizes, limit);
    Carried {
        files: chosen.attached.iter().map(|&i| all[i].clone()).collect(),
        lines: chosen
            .attached
            .iter()
            .map(|&i| file_line(&all[i]))
            .collect(),
        left_out: chosen.listed.iter().map(|&i| file_line(&all[i])).collect(),
    }
}

/// `photo.jpg (image/jpeg, 120 KB)`.
fn file_line(f: &OutAttachment) -> String {
    format!(
        "{} ({}, {})",
        f.name,
        f.content_type,
        files::size_label(f.bytes.len() as u64)
    )
}

/// `photo.jpg (image/jpeg, 120 KB)` for each attachment.
pub(crate) fn attachment_lines(mail: &ParsedMail) -> Vec<String> {
    mail.attachments
        .iter()
        .map(|a| {
            let size = files::size_label(a.size as u64);
            format!(
                "{} ({}, {size})",
                a.name.as_deref().unwrap_or("…"),
                a.content_type
            )
        })
        .collect()
}

/// Who to notify about a ticket, and how the notification presents itself.
pub(crate) struct AgentNotice<'a> {
    pub mailbox: &'a MailboxConfig,
    pub ticket: &'a TicketState,
    pub agents: &'a [String],
    /// The display name in From (`Jane Doe via Support`).
    pub from_name: &'a str,
    /// The message the notification is about: its Message-ID and References.
    pub parent: (&'a str, &'a [String]),
    /// That message's Message-ID, and who wrote it (for a digest line).
    pub about: &'a str,
    pub who: &'a str,
    /// The customer's files, and their HTML, for the agents to see.
    pub files: &'a [OutAttachment],
    pub html: Option<&'a str>,
}

/// What [`Pipeline::notify`] did.
#[derive(Debug, Clone, Default)]
pub(crate) struct Notified {
    /// Notifications queued, and to whom.
    pub sent: usize,
    pub to: Vec<String>,
    /// Notifications a limit held back for the agents' digests.
    pub held: usize,
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
        // The clock that runs now: the first answer's, or the next one's
        // after the customer wrote again.
        let (target, response_due) = match &t.response_due {
            Some((target, due)) => (target.clone(), Some(*due)),
            None if t.first_response_at.is_none() => {
                ("first_response".to_string(), t.first_response_due)
            }
            None => ("first_response".to_string(), None),
        };
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
                subject: clip_subject(&t.subject),
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
            message: {
                let (text, cut) = clip(&p.text, MAX_ECHOED_TEXT);
                MessageVars {
                    text,
                    subject: clip_subject(&p.subject),
                    attachments: p.attachments,
                    cut,
                    ..MessageVars::default()
                }
            },
            sla: SlaVars {
                // Spelled per language at render time.
                remaining: String::new(),
                target: target.clone(),
                due_at: response_due.map(|d| format_time(d, tz)).unwrap_or_default(),
                // Spelled with its preposition per language at render time.
                due_until: String::new(),
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
            digest: Vec::new(),
            lines: Vec::new(),
            query: String::new(),
            due: Vec::new(),
            queue: Vec::new(),
            survey: false,
            closing: false,
            alert: Default::default(),
            raw: Raw {
                zone: Some(tz.clone()),
                created_at: Some(t.created_at),
                due_at: t.first_response_due,
                sla_due_at: response_due,
                sla_remaining: match (target.as_str(), response_due) {
                    ("first_response", Some(d)) => Some(d.duration_since(t.created_at)),
                    _ => None,
                },
                ..Raw::default()
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

    /// Queues an `agent_notify` mail to each agent of `n`, within the limits
    /// on automatic mail; what a limit refuses is held for that agent's
    /// digest (an agent never misses a customer, nor drowns in a flood).
    pub(super) async fn notify(
        &self,
        tx: &mut Tx,
        n: AgentNotice<'_>,
        prompt: impl Fn() -> Prompt<'static>,
        now: Timestamp,
    ) -> Result<Notified, IngestError> {
        let mut done = Notified::default();
        let limit = n.mailbox.notify_attachments_max;
        let carried = carry(n.files, limit);
        for email in n.agents {
            let Some(agent) = self.config.agent(email) else {
                continue;
            };
            let sent = self
                .sent_so_far(
                    tx,
                    n.mailbox,
                    &agent.email,
                    Some(n.ticket.number),
                    None,
                    now,
                )
                .await?
                .sent;
            let p = prompt();
            if let Some((limit, why)) = refusal(&self.config.limits, &sent, false) {
                tx.hold_notice(&HeldNotice {
                    mailbox: n.mailbox.name.clone(),
                    recipient: agent.email.clone(),
                    ticket: n.ticket.number,
                    message_id: Some(n.about.to_string()),
                    event: p.event.to_string(),
                    who: n.who.to_string(),
                    reason: why.clone(),
                    held_at: now,
                })
                .await?;
                tx.add_event(
                    Some(n.ticket.number),
                    Some(n.about),
                    now,
                    EventKind::NotificationHeld,
                    &format!("{}: {why}; it goes out in their digest", agent.email),
                );
                self.limit_tripped(n.mailbox, &agent.email, OutKind::AgentNotify, limit, now);
                done.held += 1;
                continue;
            }
            let to = Address {
                email: agent.email.clone(),
                name: Some(agent.name.clone()),
            };
            let mut vars = self.vars(n.mailbox, n.ticket, &agent.timezone, p);
            vars.message.left_out = carried.left_out.clone();
            vars.message.attach_limit = files::size_label(limit);
            self.queue(
                tx,
                QueuedMail {
                    mailbox: n.mailbox,
                    ticket: n.ticket.number,
                    kind: OutKind::AgentNotify,
                    to: &to,
                    cc: &[],
                    from_name: n.from_name.to_string(),
                    language: self.config.agent_language(n.mailbox, &agent.email),
                    vars: &vars,
                    parent: n.parent,
                    auto_submitted: Some("auto-generated"),
                    attachments: &carried.files,
                    html: n.html,
                    now,
                },
            )
            .await?;
            done.sent += 1;
            done.to.push(agent.email.clone());
        }
        Ok(done)
    }
}
