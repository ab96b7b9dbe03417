//! Mail that ingest queues: rendered from its template, composed with its
//! final Message-ID and the recipient's reply token, stored as an outbound
//! message and queued — all inside the ingest transaction. Also who gets
//! the notifications about a ticket.

use super::{IngestError, Pipeline};
use crate::config::MailboxConfig;
use crate::domain::compose::{self, Draft, OutAttachment, reply_references};
use crate::domain::decide::refusal;
use crate::domain::model::{Address, Direction, OutKind};
use crate::domain::parse::ParsedMail;
use crate::domain::token::Purpose;
use crate::domain::{MAX_ECHOED_TEXT, clip, clip_subject, files, subject, token};
use crate::store::{HeldNotice, NewMessage, NewOutbox, TicketState, Tx};
use crate::templates::{
    MailboxVars, MessageVars, PersonVars, Raw, ResultVars, SlaVars, TicketVars, Vars,
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
    /// The customer's own HTML, shown in an HTML alternative of the mail
    /// (between the template's text before and after `message.text`).
    pub html: Option<&'a str>,
    pub now: Timestamp,
}

impl QueuedMail<'_> {
    /// The token in this mail's Reply-To: a survey's answer must carry the
    /// survey's own token to count as a rating.
    fn purpose(&self) -> Purpose {
        if self.kind == OutKind::Survey || self.vars.survey {
            Purpose::Survey
        } else {
            Purpose::Reply
        }
    }
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
                .await?;
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
                    "notification held",
                    &format!("{}: {why}; it goes out in their digest", agent.email),
                )
                .await?;
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
        let token = self.key.issue_for(q.purpose(), q.ticket, &q.to.email);
        let domain = q.mailbox.domain();
        let nonce = nonce();
        let message_id = compose::message_id(&token, &nonce, domain);
        let reply_to = token::reply_address(q.mailbox.local_part(), domain, &token);
        let from = Address {
            email: q.mailbox.address.clone(),
            name: Some(q.from_name.clone()),
        };
        let (parent_id, parent_refs) = q.parent;
        let references = reply_references(parent_refs, parent_id);
        // The customer's HTML between our text before and after their words.
        let html = q.html.map(|customer| {
            let words = q.vars.message.text.as_str();
            let (before, after) = match rendered.body.find(words).filter(|_| !words.is_empty()) {
                Some(i) => (&rendered.body[..i], &rendered.body[i + words.len()..]),
                None => (rendered.body.as_str(), ""),
            };
            files::notification_html(before, customer, after)
        });
        let raw = compose::compose(&Draft {
            from: &from,
            to: std::slice::from_ref(q.to),
            cc: q.cc,
            reply_to: Some(&reply_to),
            subject: &subject,
            text: &rendered.body,
            html: html.as_deref(),
            message_id: &message_id,
            in_reply_to: Some(parent_id),
            references: &references,
            auto_submitted: q.auto_submitted,
            loop_marker: &q.mailbox.address,
            date: q.now,
            language: Some(q.language),
            attachments: q.attachments,
        });
        let recipients: Vec<String> = std::iter::once(q.to)
            .chain(q.cc)
            .map(|a| a.email.clone())
            .collect();
        self.store_outbound(
            tx,
            Outbound {
                mailbox: q.mailbox,
                ticket: Some(q.ticket),
                kind: q.kind,
                message_id: &message_id,
                nonce: &nonce,
                from: &from,
                subject: &subject,
                in_reply_to: Some(parent_id),
                references: &references,
                recipients: &recipients,
                raw: &raw,
                body: &rendered.body,
                now: q.now,
            },
        )
        .await?;
        Ok(message_id)
    }

    /// Queues mail to an agent that is about no one ticket (a digest, a
    /// list, help): it carries the agent's own token in Reply-To (a reply
    /// proves it is theirs and acts on no ticket; each ticket is acted on
    /// through its own address), and answers `parent` when it answers mail.
    pub(crate) async fn queue_to_agent(
        &self,
        tx: &mut Tx,
        q: AgentMail<'_>,
    ) -> Result<String, IngestError> {
        let rendered = self.templates.render(q.language, q.template, q.vars)?;
        let nonce = nonce();
        let mailbox = q.mailbox;
        let token = self.key.issue_for(Purpose::Agent, 0, &q.to.email);
        let message_id = compose::message_id(&token, &nonce, mailbox.domain());
        let reply_to = token::reply_address(mailbox.local_part(), mailbox.domain(), &token);
        let from = Address {
            email: mailbox.address.clone(),
            name: Some(mailbox.display_name.clone()),
        };
        let references = q
            .parent
            .map(|(id, refs)| reply_references(refs, id))
            .unwrap_or_default();
        let raw = compose::compose(&Draft {
            from: &from,
            to: std::slice::from_ref(q.to),
            cc: &[],
            reply_to: Some(&reply_to),
            subject: &rendered.subject,
            text: &rendered.body,
            html: None,
            message_id: &message_id,
            in_reply_to: q.parent.map(|(id, _)| id),
            references: &references,
            auto_submitted: Some("auto-generated"),
            loop_marker: &mailbox.address,
            date: q.now,
            language: Some(q.language),
            attachments: &[],
        });
        self.store_outbound(
            tx,
            Outbound {
                mailbox,
                ticket: None,
                kind: q.kind,
                message_id: &message_id,
                nonce: &nonce,
                from: &from,
                subject: &rendered.subject,
                in_reply_to: q.parent.map(|(id, _)| id),
                references: &references,
                recipients: std::slice::from_ref(&q.to.email),
                raw: &raw,
                body: &rendered.body,
                now: q.now,
            },
        )
        .await?;
        Ok(message_id)
    }

    /// Queues mail to the admins (`[alerts] admins`) from `mailbox`'s
    /// address, in the mailbox's language. It carries no reply token: an
    /// admin's answer is mail like any other, and acts on nothing.
    pub(crate) async fn queue_admin_mail(
        &self,
        tx: &mut Tx,
        mailbox: &MailboxConfig,
        kind: OutKind,
        vars: &Vars,
        now: Timestamp,
    ) -> Result<String, IngestError> {
        let admins: Vec<Address> = self
            .config
            .admins
            .iter()
            .map(|a| Address {
                email: a.clone(),
                name: None,
            })
            .collect();
        let language = mailbox
            .language
            .as_deref()
            .unwrap_or(crate::domain::language::LANGUAGES[0]);
        let rendered = self.templates.render(language, kind.as_str(), vars)?;
        let nonce = nonce();
        let message_id = format!("{nonce}.alert@{}", mailbox.domain());
        let from = Address {
            email: mailbox.address.clone(),
            name: Some(mailbox.display_name.clone()),
        };
        let raw = compose::compose(&Draft {
            from: &from,
            to: &admins,
            cc: &[],
            reply_to: None,
            subject: &rendered.subject,
            text: &rendered.body,
            html: None,
            message_id: &message_id,
            in_reply_to: None,
            references: &[],
            auto_submitted: Some("auto-generated"),
            loop_marker: &mailbox.address,
            date: now,
            language: Some(language),
            attachments: &[],
        });
        let recipients: Vec<String> = admins.iter().map(|a| a.email.clone()).collect();
        self.store_outbound(
            tx,
            Outbound {
                mailbox,
                ticket: None,
                kind,
                message_id: &message_id,
                nonce: &nonce,
                from: &from,
                subject: &rendered.subject,
                in_reply_to: None,
                references: &[],
                recipients: &recipients,
                raw: &raw,
                body: &rendered.body,
                now,
            },
        )
        .await?;
        Ok(message_id)
    }

    /// Stores composed mail as an outbound message and queues it, with the
    /// envelope sender bounces come back to: signed for this mail (VERP)
    /// where the mailbox allows it.
    async fn store_outbound(&self, tx: &mut Tx, o: Outbound<'_>) -> Result<(), IngestError> {
        // RFC 5321 §4.5.3.1.1: a local part holds at most 64 octets; a
        // long mailbox name plus the signature would make the sender
        // invalid, and every mail undeliverable: it goes unsigned then.
        let verp = o.mailbox.verp.then(|| {
            token::reply_address(
                o.mailbox.local_part(),
                o.mailbox.domain(),
                &self.key.verp_token(o.nonce),
            )
        });
        let env_from = verp
            .filter(|a| a.split('@').next().is_some_and(|l| l.len() <= 64))
            .unwrap_or_else(|| o.mailbox.address.clone());
        tx.insert_message(&NewMessage {
            message_id: o.message_id,
            ticket: o.ticket,
            mailbox: &o.mailbox.name,
            direction: Direction::Out,
            kind: o.kind.as_str(),
            from: Some(o.from),
            subject: o.subject,
            in_reply_to: o.in_reply_to,
            references: o.references,
            received_at: o.now,
            flags: &[],
            thread_index: None,
            raw: o.raw,
            body: o.body,
        })
        .await?;
        tx.enqueue(&NewOutbox {
            ticket: o.ticket,
            mailbox: &o.mailbox.name,
            kind: o.kind,
            message_id: o.message_id,
            in_reply_to: o.in_reply_to,
            env_from: &env_from,
            recipients: o.recipients,
            subject: o.subject,
            created_at: o.now,
        })
        .await?;
        Ok(())
    }
}

/// Mail to an agent about no one ticket.
pub(crate) struct AgentMail<'a> {
    pub mailbox: &'a MailboxConfig,
    pub kind: OutKind,
    pub template: &'a str,
    pub to: &'a Address,
    pub language: &'a str,
    pub vars: &'a Vars,
    /// The mail it answers, if any: its Message-ID and References.
    pub parent: Option<(&'a str, &'a [String])>,
    pub now: Timestamp,
}

/// Composed mail on its way into the outbox.
struct Outbound<'a> {
    mailbox: &'a MailboxConfig,
    ticket: Option<i64>,
    kind: OutKind,
    message_id: &'a str,
    /// The Message-ID's nonce, which the signed envelope sender names.
    nonce: &'a str,
    from: &'a Address,
    subject: &'a str,
    in_reply_to: Option<&'a str>,
    references: &'a [String],
    recipients: &'a [String],
    raw: &'a [u8],
    /// The text it says.
    body: &'a str,
    now: Timestamp,
}
