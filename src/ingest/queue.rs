//! Rendering → composing → queueing, one service for every mail postdesk
//! sends: rendered from its template, composed with its final Message-ID
//! and the recipient's reply token (or none, for the admins), stored as an
//! outbound message and queued in the caller's transaction, with the
//! envelope sender bounces come back to.

use super::{IngestError, Pipeline};
use crate::config::MailboxConfig;
use crate::domain::compose::{self, Draft, OutAttachment, reply_references};
use crate::domain::model::{Address, Direction, OutKind};
use crate::domain::token::Purpose;
use crate::domain::{files, subject, token};
use crate::store::{NewMessage, NewOutbox, Tx};
use crate::templates::Vars;
use jiff::Timestamp;

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

impl Pipeline {
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
