//! Mail that ingest queues: rendered from its template, composed with its
//! final Message-ID and the recipient's reply token, stored as an outbound
//! message and queued — all inside the ingest transaction.

use super::{IngestError, Pipeline};
use crate::config::MailboxConfig;
use crate::domain::compose::{self, Draft, reply_references};
use crate::domain::model::{Address, Direction, OutKind};
use crate::domain::parse::ParsedMail;
use crate::domain::{fmt_duration, subject, token};
use crate::store::{NewMessage, NewOutbox, Tx};
use crate::templates::{MailboxVars, MessageVars, PersonVars, SlaVars, TicketVars, Vars};
use jiff::Timestamp;

/// One mail to queue about a ticket, in reply to a message.
pub(super) struct QueuedMail<'a> {
    pub mailbox: &'a MailboxConfig,
    pub ticket: i64,
    pub kind: OutKind,
    pub to: &'a Address,
    pub language: &'a str,
    pub vars: &'a Vars,
    pub reply_to_message: &'a ParsedMail,
    /// `auto-replied`, `auto-generated`, or None for a relayed human reply.
    pub auto_submitted: Option<&'a str>,
    pub now: Timestamp,
}

fn nonce() -> String {
    let mut b = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .expect("system random generator");
    data_encoding::BASE32_NOPAD.encode(&b).to_lowercase()
}

/// `2026-11-27 10:00 EET`
pub fn format_time(t: Timestamp, tz: &jiff::tz::TimeZone) -> String {
    t.to_zoned_datetime(tz.clone())
        .strftime("%Y-%m-%d %H:%M %Z")
        .to_string()
}

impl Pipeline {
    /// The template variables for mail about ticket `number`, opened by `mail`.
    pub(super) fn vars(
        &self,
        mailbox: &MailboxConfig,
        number: i64,
        mail: &ParsedMail,
        customer: &Address,
        received_at: Timestamp,
        due: Option<Timestamp>,
    ) -> Vars {
        let policy = self.config.policy(&mailbox.sla);
        let tz = policy
            .calendar
            .as_ref()
            .and_then(|c| self.config.calendars.get(c))
            .map(|c| c.timezone.clone())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        let due_at = due.map(|d| format_time(d, &tz));
        Vars {
            ticket: TicketVars {
                number,
                tag: subject::tag(&self.config.threading.tag_prefix, number),
                subject: mail.subject.clone(),
                status: "open".into(),
                priority: "normal".into(),
                created_at: format_time(received_at, &tz),
                due_at: due_at.clone(),
            },
            customer: PersonVars {
                name: customer.name.clone(),
                email: customer.email.clone(),
            },
            agent: None,
            message: MessageVars {
                text: mail.text.clone(),
                subject: mail.subject.clone(),
            },
            sla: SlaVars {
                target: "first_response".into(),
                due_at: due_at.unwrap_or_default(),
                remaining: due
                    .map(|d| fmt_duration(d.duration_since(received_at)))
                    .unwrap_or_default(),
            },
            mailbox: MailboxVars {
                name: mailbox.name.clone(),
                address: mailbox.address.clone(),
                display_name: mailbox.display_name.clone(),
            },
        }
    }

    /// Renders, composes and queues one mail inside `tx`; returns its Message-ID.
    pub(super) async fn queue(
        &self,
        tx: &mut Tx,
        q: QueuedMail<'_>,
    ) -> Result<String, IngestError> {
        let rendered = self.templates.render(q.language, q.kind.as_str(), q.vars)?;
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
            name: Some(q.mailbox.display_name.clone()),
        };
        let parent = q.reply_to_message;
        let references = reply_references(&parent.references, &parent.message_id);
        let raw = compose::compose(&Draft {
            from: &from,
            to: std::slice::from_ref(q.to),
            cc: &[],
            reply_to: Some(&reply_to),
            subject: &subject,
            text: &rendered.body,
            html: None,
            message_id: &message_id,
            in_reply_to: Some(&parent.message_id),
            references: &references,
            auto_submitted: q.auto_submitted,
            loop_marker: &q.mailbox.address,
            date: q.now,
            language: Some(q.language),
        });
        tx.insert_message(&NewMessage {
            message_id: &message_id,
            ticket: Some(q.ticket),
            mailbox: &q.mailbox.name,
            direction: Direction::Out,
            kind: q.kind.as_str(),
            from: Some(&from),
            subject: &subject,
            in_reply_to: Some(&parent.message_id),
            references: &references,
            received_at: q.now,
            flags: &[],
            thread_index: None,
            raw: &raw,
        })
        .await?;
        tx.enqueue(&NewOutbox {
            ticket: Some(q.ticket),
            mailbox: &q.mailbox.name,
            kind: q.kind,
            message_id: &message_id,
            in_reply_to: Some(&parent.message_id),
            env_from: &q.mailbox.address,
            recipients: std::slice::from_ref(&q.to.email),
            subject: &subject,
            created_at: q.now,
        })
        .await?;
        Ok(message_id)
    }
}
