//! Ingest: raw bytes → parse → classify → thread → decide → one database
//! transaction holding the message, the ticket change, the events and every
//! mail to send. The same path serves IMAP, `postdesk ingest` and an MTA
//! pipe. Idempotent on Message-ID: a message seen before changes nothing.

use crate::clock::Clock;
use crate::config::{Config, MailboxConfig};
use crate::domain::classify::{Us, classify, is_ours};
use crate::domain::compose::{self, Draft, reply_references};
use crate::domain::decide::{self, Inputs, Rules, TicketPlan};
use crate::domain::model::{Action, Address, Direction, Kind, OutKind};
use crate::domain::parse::{ParsedMail, parse};
use crate::domain::thread::{TagFact, ThreadFacts, TokenFact, thread};
use crate::domain::token::{self, TokenKey};
use crate::domain::{fmt_duration, subject};
use crate::store::{NewMessage, NewOutbox, NewTicket, Store, StoreError, TicketUpdate, Tx};
use crate::templates::{
    self, MailboxVars, MessageVars, PersonVars, SlaVars, Templates, TicketVars, Vars,
};
use jiff::{SignedDuration, Timestamp};
use std::sync::Arc;
use tokio::sync::Notify;

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `postdesk ingest` or an MTA pipe.
    Direct,
    /// An IMAP message, to be flagged after commit.
    Imap { uidvalidity: u32, uid: u32 },
}

/// When a message arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    Now,
    At(Timestamp),
    /// The message's own Date header (now when it has none).
    DateHeader,
}

/// What happened to one message (one line of `postdesk ingest`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    pub ticket: Option<i64>,
    pub action: &'static str,
    pub kind: &'static str,
    pub message_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Template(#[from] templates::TemplateError),
}

impl IngestError {
    /// Worth retrying later (the database is unreachable, locked or full).
    pub fn is_temporary(&self) -> bool {
        matches!(self, IngestError::Store(e) if e.is_unavailable())
    }
}

/// Everything ingest needs, shared by every mailbox task.
pub struct Pipeline {
    pub config: Arc<Config>,
    pub store: Store,
    pub templates: Arc<Templates>,
    pub key: TokenKey,
    pub clock: Arc<dyn Clock>,
    /// Woken after a commit that queued mail.
    pub outbox_wake: Arc<Notify>,
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
    /// Ingests one message.
    pub async fn ingest(
        &self,
        mailbox: &MailboxConfig,
        raw: &[u8],
        arrival: Arrival,
        source: Source,
    ) -> Result<Outcome, IngestError> {
        let mail = parse(raw);
        let received_at = match arrival {
            Arrival::Now => None,
            Arrival::At(t) => Some(t),
            Arrival::DateHeader => mail.date,
        };
        match self
            .ingest_parsed(mailbox, &mail, raw, received_at, source)
            .await
        {
            // Another writer stored the same Message-ID between our check and
            // our insert: run again, and it is a duplicate.
            Err(IngestError::Store(e)) if e.is_unique_violation() => {
                self.ingest_parsed(mailbox, &mail, raw, received_at, source)
                    .await
            }
            other => other,
        }
    }

    async fn ingest_parsed(
        &self,
        mailbox: &MailboxConfig,
        mail: &ParsedMail,
        raw: &[u8],
        received_at: Option<Timestamp>,
        source: Source,
    ) -> Result<Outcome, IngestError> {
        let now = self.clock.now();
        let received_at = received_at.unwrap_or(now);
        let ours = self.config.our_addresses();
        let class = classify(mail, &Us { addresses: &ours });
        let mut tx = self.store.begin().await?;

        if let Some(ticket) = tx.stored_message(&mail.message_id).await? {
            if let Source::Imap { uidvalidity, uid } = source {
                tx.record_imap(&mailbox.name, uidvalidity, uid, now).await?;
            }
            tx.commit().await?;
            tracing::info!(mailbox = %mailbox.name, message_id = %mail.message_id, ticket, "duplicate: already stored");
            return Ok(Outcome {
                ticket,
                action: Action::Duplicate.as_str(),
                kind: class.kind.as_str(),
                message_id: mail.message_id.clone(),
            });
        }

        let facts = self.thread_facts(&mut tx, mailbox, mail).await?;
        let threading = thread(mail, &facts);
        let view = match threading.ticket() {
            Some(n) => tx.ticket_view(n).await?,
            None => None,
        };
        let recent_acks = match mail.reply_address() {
            Some(a) => {
                let since = now
                    .checked_sub(SignedDuration::from_hours(1))
                    .unwrap_or(now);
                tx.count_sent_to(OutKind::Ack, &a.email, since).await?
            }
            None => 0,
        };
        let policy = self.config.policy(&mailbox.sla);
        let rules = Rules {
            acks_per_hour: self.config.limits.acks_per_hour,
            reopen_window: self.config.threading.reopen_window,
            first_response: policy.first_response,
            our_addresses: &ours,
        };
        let decision = decide::decide(&Inputs {
            mail,
            class: &class,
            threading: &threading,
            ticket: view.as_ref(),
            received_at,
            recent_acks,
            rules: &rules,
        });

        let language =
            templates::pick_language(mailbox.language.as_deref(), mail.header("content-language"));
        let ticket = match &decision.ticket {
            TicketPlan::None => None,
            TicketPlan::Create {
                customer,
                follows,
                first_response_due,
            } => Some(
                tx.create_ticket(&NewTicket {
                    mailbox: &mailbox.name,
                    subject: &mail.subject,
                    normalized_subject: &subject::normalize(&mail.subject),
                    customer: customer.as_ref(),
                    language,
                    sla_policy: &mailbox.sla,
                    follows: *follows,
                    created_at: received_at,
                    first_response_due: Some(*first_response_due),
                })
                .await?,
            ),
            TicketPlan::Update {
                number,
                status,
                customer_activity,
            } => {
                tx.update_ticket(&TicketUpdate {
                    number: *number,
                    status: *status,
                    customer_activity: *customer_activity,
                    at: received_at,
                })
                .await?;
                Some(*number)
            }
        };

        tx.insert_message(&NewMessage {
            message_id: &mail.message_id,
            ticket,
            mailbox: &mailbox.name,
            direction: Direction::In,
            kind: class.kind.as_str(),
            from: mail.from.as_ref(),
            subject: &mail.subject,
            in_reply_to: mail.in_reply_to.first().map(String::as_str),
            references: &mail.references,
            received_at,
            flags: &mail.flags,
            raw,
        })
        .await?;
        if let Some(n) = ticket
            && class.kind == Kind::Customer
        {
            for cc in mail.to.iter().chain(&mail.cc) {
                let sender = mail.from.as_ref().map(|f| &f.email);
                if !is_ours(&cc.email, &Us { addresses: &ours }) && Some(&cc.email) != sender {
                    tx.add_participant(n, cc, "cc").await?;
                }
            }
        }
        for (what, detail) in &decision.events {
            tx.add_event(ticket, Some(&mail.message_id), now, what, detail)
                .await?;
        }
        if let (Some(to), Some(n)) = (&decision.acknowledge, ticket) {
            let vars = self.vars(
                mailbox,
                n,
                mail,
                to,
                received_at,
                &policy_due(&decision.ticket),
                "first_response",
            );
            let id = self
                .queue(
                    &mut tx,
                    QueuedMail {
                        mailbox,
                        ticket: n,
                        kind: OutKind::Ack,
                        to,
                        language,
                        vars: &vars,
                        reply_to_message: mail,
                        auto_submitted: Some("auto-replied"),
                        now,
                    },
                )
                .await?;
            tx.add_event(
                ticket,
                Some(&id),
                now,
                "acknowledgement queued",
                &format!("to {}", to.email),
            )
            .await?;
        }
        if let Source::Imap { uidvalidity, uid } = source {
            tx.record_imap(&mailbox.name, uidvalidity, uid, now).await?;
        }
        tx.commit().await?;
        if decision.acknowledge.is_some() {
            self.outbox_wake.notify_one();
        }
        tracing::info!(
            mailbox = %mailbox.name,
            message_id = %mail.message_id,
            ticket,
            action = decision.action.as_str(),
            kind = class.kind.as_str(),
            "{}",
            threading.describe()
        );
        Ok(Outcome {
            ticket,
            action: decision.action.as_str(),
            kind: class.kind.as_str(),
            message_id: mail.message_id.clone(),
        })
    }

    /// The look-ups the threading rules need.
    async fn thread_facts(
        &self,
        tx: &mut Tx,
        mailbox: &MailboxConfig,
        mail: &ParsedMail,
    ) -> Result<ThreadFacts, StoreError> {
        let mut facts = ThreadFacts::default();
        let recipients = mail.recipient_addresses();
        for t in token::tokens_in(&recipients, mailbox.local_part(), mailbox.domain()) {
            let Some(n) = token::claimed_ticket(t) else {
                continue;
            };
            let mut holders = tx.participants(n).await?;
            holders.extend(self.config.agents.iter().map(|a| a.email.clone()));
            let issued_to = self
                .key
                .verify(t, holders.iter().map(String::as_str))
                .map(str::to_string);
            if issued_to.is_none() {
                tracing::warn!(message_id = %mail.message_id, token = t, "reply token does not verify: ignored");
            }
            facts.tokens.push(TokenFact {
                token: t.to_string(),
                ticket: n,
                issued_to,
            });
        }
        let mut ids: Vec<String> = mail
            .in_reply_to
            .iter()
            .chain(&mail.references)
            .chain(&mail.embedded_message_ids)
            .cloned()
            .collect();
        ids.sort();
        ids.dedup();
        facts.known_ids = tx.tickets_of(&ids).await?;
        if let Some(n) = subject::find_tag(&mail.subject, &self.config.threading.tag_prefix) {
            let exists = tx.ticket_view(n).await?.is_some();
            let sender = mail
                .from
                .as_ref()
                .map(|f| f.email.as_str())
                .unwrap_or_default();
            let sender_known = exists
                && (self.config.agent(sender).is_some()
                    || tx.participants(n).await?.iter().any(|p| p == sender));
            facts.tag = Some(TagFact {
                ticket: n,
                exists,
                sender_known,
            });
        }
        Ok(facts)
    }

    #[allow(clippy::too_many_arguments)]
    fn vars(
        &self,
        mailbox: &MailboxConfig,
        number: i64,
        mail: &ParsedMail,
        customer: &Address,
        received_at: Timestamp,
        due: &Option<Timestamp>,
        target: &str,
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
                target: target.into(),
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
    async fn queue(&self, tx: &mut Tx, q: QueuedMail<'_>) -> Result<String, IngestError> {
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
        let references = reply_references(
            &q.reply_to_message.references,
            &q.reply_to_message.message_id,
        );
        let raw = compose::compose(&Draft {
            from: &from,
            to: std::slice::from_ref(q.to),
            cc: &[],
            reply_to: Some(&reply_to),
            subject: &subject,
            text: &rendered.body,
            html: None,
            message_id: &message_id,
            in_reply_to: Some(&q.reply_to_message.message_id),
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
            in_reply_to: Some(&q.reply_to_message.message_id),
            references: &references,
            received_at: q.now,
            flags: &[],
            raw: &raw,
        })
        .await?;
        tx.enqueue(&NewOutbox {
            ticket: Some(q.ticket),
            mailbox: &q.mailbox.name,
            kind: q.kind,
            message_id: &message_id,
            in_reply_to: Some(&q.reply_to_message.message_id),
            env_from: &q.mailbox.address,
            recipients: std::slice::from_ref(&q.to.email),
            subject: &subject,
            created_at: q.now,
        })
        .await?;
        Ok(message_id)
    }
}

/// One mail to queue about a ticket, in reply to a message.
struct QueuedMail<'a> {
    mailbox: &'a MailboxConfig,
    ticket: i64,
    kind: OutKind,
    to: &'a Address,
    language: &'a str,
    vars: &'a Vars,
    reply_to_message: &'a ParsedMail,
    auto_submitted: Option<&'a str>,
    now: Timestamp,
}

fn policy_due(plan: &TicketPlan) -> Option<Timestamp> {
    match plan {
        TicketPlan::Create {
            first_response_due, ..
        } => Some(*first_response_due),
        _ => None,
    }
}
