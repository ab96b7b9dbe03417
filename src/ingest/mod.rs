//! Ingest: raw bytes → parse → classify → thread → decide → one database
//! transaction holding the message, the ticket change, the events and every
//! mail to send. The same path serves IMAP, `postdesk ingest` and an MTA
//! pipe. Idempotent on Message-ID: a message seen before changes nothing.
//!
//! [`facts`] makes the look-ups threading needs; [`outgoing`] renders and
//! queues the mail a decision sends; [`agent`] acts on agents' mail.

mod agent;
mod facts;
mod outgoing;
mod sla;
mod survey;

pub use outgoing::format_time;
pub use survey::rate_by_link;

use crate::clock::Clock;
use crate::config::{Config, MailboxConfig};
use crate::domain::auth::{AgentCheck, AgentProof, check_agent};
use crate::domain::classify::{Us, classify, is_ours};
use crate::domain::decide::{self, Inputs, Rules, Sent, TicketPlan};
use crate::domain::model::{Action, Direction, Kind, OutKind, Status};
use crate::domain::parse::{ParsedMail, parse_limited};
use crate::domain::sla::{Happening, choose_policy};
use crate::domain::subject;
use crate::domain::token::TokenKey;
use crate::store::{NewMessage, NewTicket, Store, StoreError, TicketUpdate, Tx};
use crate::templates::{self, ResultVars, Templates};
use jiff::{SignedDuration, Timestamp};
pub(crate) use outgoing::{Notice, Prompt, QueuedMail, attachment_lines};
use std::sync::Arc;
use tokio::sync::Notify;

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `postdesk ingest` or an MTA pipe.
    Direct,
    /// An IMAP message, to be flagged after commit. `header_only`: only its
    /// header was fetched (it is over `max_message_size`), so it must not be
    /// deleted from the server.
    Imap {
        uidvalidity: u32,
        uid: u32,
        header_only: bool,
    },
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
    /// Woken after a commit that moved SLA clocks.
    pub sla_wake: Arc<Notify>,
    /// When a rate limit was last logged for an address: logged once per
    /// window, while every refusal is still recorded in the ticket's events.
    limit_logged: std::sync::Mutex<std::collections::HashMap<String, Timestamp>>,
}

impl Pipeline {
    pub fn new(
        config: Arc<Config>,
        store: Store,
        templates: Arc<Templates>,
        key: TokenKey,
        clock: Arc<dyn Clock>,
        outbox_wake: Arc<Notify>,
        sla_wake: Arc<Notify>,
    ) -> Pipeline {
        Pipeline {
            config,
            store,
            templates,
            key,
            clock,
            outbox_wake,
            sla_wake,
            limit_logged: Default::default(),
        }
    }

    /// The same pipeline (database, key, clock, wake-ups) with another
    /// configuration and templates: what a reload puts in force.
    pub fn reconfigured(&self, config: Arc<Config>, templates: Arc<Templates>) -> Pipeline {
        Pipeline::new(
            config,
            self.store.clone(),
            templates,
            self.key.clone(),
            self.clock.clone(),
            self.outbox_wake.clone(),
            self.sla_wake.clone(),
        )
    }

    /// Logs a tripped limit for `address`, at most once per window.
    fn log_limit(&self, address: &str, why: &str, now: Timestamp) {
        let mut seen = self.limit_logged.lock().expect("limit log lock");
        let window = self
            .config
            .limits
            .auto_recipient_window
            .max(SignedDuration::from_hours(1));
        let quiet = seen
            .get(address)
            .is_some_and(|t| now.duration_since(*t) < window);
        if !quiet {
            tracing::warn!(
                address,
                "automatic mail held back: {why} (logged once per {})",
                crate::domain::fmt_duration(window)
            );
            seen.insert(address.to_string(), now);
        }
        if seen.len() > 10_000 {
            seen.retain(|_, t| now.duration_since(*t) < window);
        }
    }

    /// Ingests one message. `full_size`: the size of the whole message when
    /// `raw` is only its header (IMAP, over `max_message_size`).
    pub async fn ingest(
        &self,
        mailbox: &MailboxConfig,
        raw: &[u8],
        arrival: Arrival,
        source: Source,
    ) -> Result<Outcome, IngestError> {
        self.ingest_sized(mailbox, raw, None, arrival, source).await
    }

    /// As [`Pipeline::ingest`] for a message whose header alone is `raw`.
    pub async fn ingest_sized(
        &self,
        mailbox: &MailboxConfig,
        raw: &[u8],
        full_size: Option<u64>,
        arrival: Arrival,
        source: Source,
    ) -> Result<Outcome, IngestError> {
        let started = std::time::Instant::now();
        let mail = parse_limited(raw, self.config.limits.max_message_size, full_size);
        let received_at = match arrival {
            Arrival::Now => None,
            Arrival::At(t) => Some(t),
            Arrival::DateHeader => mail.date,
        };
        let outcome = match self
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
        }?;
        crate::ops::metrics::ingested(
            &mailbox.name,
            outcome.action,
            outcome.kind,
            started.elapsed(),
        );
        Ok(outcome)
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
            self.record_source(&mut tx, mailbox, source, now).await?;
            tx.commit().await?;
            tracing::info!(mailbox = %mailbox.name, message_id = %mail.message_id, ticket, "duplicate: already stored");
            return Ok(Outcome {
                ticket,
                action: Action::Duplicate.as_str(),
                kind: class.kind.as_str(),
                message_id: mail.message_id.clone(),
            });
        }

        let (threading, token_holders) = self
            .thread_message(&mut tx, mailbox, mail, class.kind, received_at)
            .await?;
        let view = match threading.ticket() {
            Some(n) => tx.ticket_view(n).await?,
            None => None,
        };

        // An agent's mail on a ticket, with proof that it is theirs.
        let mut agent_check_events = Vec::new();
        if class.kind == Kind::Customer {
            let agents: Vec<String> = self.config.agents.iter().map(|a| a.email.clone()).collect();
            match check_agent(mail, &agents, &token_holders, &self.config.trusted_authserv_ids) {
                AgentCheck::Proven { email, proof } => match (&view, self.config.agent(&email)) {
                    (Some(v), Some(agent)) => {
                        let number = v.number;
                        return self
                            .ingest_agent_mail(tx, mailbox, mail, raw, number, agent, &threading, &proof, received_at, now, source)
                            .await;
                    }
                    _ => agent_check_events.push((
                        "agent without ticket",
                        format!("{email} wrote to support outside any ticket: handled like a customer's mail"),
                    )),
                },
                AgentCheck::Unproven { email, why } => {
                    tracing::warn!(message_id = %mail.message_id, from = %email,
                        "mail from an agent address without proof: treated as a customer's ({why})");
                    agent_check_events.push(("agent not proven", format!("{email}: treated as a customer's mail ({why})")));
                }
                AgentCheck::NotAnAgent => {}
            }
        }

        // An answer to the survey of a resolved ticket is a rating, not a reopening.
        if class.kind == Kind::Customer
            && let Some(v) = &view
            && matches!(v.status, Status::Resolved | Status::Closed)
            && let Some(rating) = crate::domain::survey::rating(&mail.text)
            && tx.survey_sent(v.number).await?
        {
            let number = v.number;
            return self
                .record_rating(
                    tx,
                    mailbox,
                    mail,
                    raw,
                    number,
                    rating,
                    received_at,
                    now,
                    source,
                )
                .await;
        }

        let limits = &self.config.limits;
        let (sent, suppressed) = match mail.reply_address() {
            Some(a) => {
                let since = |d: SignedDuration| now.checked_sub(d).unwrap_or(now);
                let sent = Sent {
                    acks_last_hour: tx
                        .count_sent_to(OutKind::Ack, &a.email, since(SignedDuration::from_hours(1)))
                        .await?,
                    to_recipient: tx
                        .count_auto_to(&a.email, since(limits.auto_recipient_window))
                        .await?,
                    for_ticket: 0,
                };
                (sent, tx.suppression(&a.email, now).await?)
            }
            None => (Sent::default(), None),
        };
        let rules = Rules {
            limits,
            reopen_window: self.config.threading.reopen_window,
            our_addresses: &ours,
            lists_open_tickets: mailbox.list_mail_opens_tickets,
        };
        let mut decision = decide::decide(&Inputs {
            mail,
            class: &class,
            threading: &threading,
            ticket: view.as_ref(),
            received_at,
            sent,
            suppressed,
            rules: &rules,
        });
        decision.events.extend(agent_check_events);
        for (what, detail) in &decision.events {
            if *what == "not acknowledged"
                && detail.contains("rate limit")
                && let Some(a) = mail.reply_address()
            {
                self.log_limit(&a.email, detail, now);
            }
        }

        let language =
            templates::pick_language(mailbox.language.as_deref(), mail.header("content-language"));
        let ticket = self
            .apply_ticket_plan(
                &mut tx,
                mailbox,
                mail,
                &decision.ticket,
                language,
                received_at,
            )
            .await?;
        self.store_incoming(&mut tx, mailbox, mail, raw, ticket, class.kind, received_at)
            .await?;
        if let Some(n) = ticket
            && class.kind == Kind::Customer
        {
            let sender = mail.from.as_ref().map(|f| &f.email);
            for cc in mail.to.iter().chain(&mail.cc) {
                if !is_ours(&cc.email, &Us { addresses: &ours })
                    && Some(&cc.email) != sender
                    && self.config.agent(&cc.email).is_none()
                {
                    tx.add_participant(n, cc, "cc").await?;
                }
            }
        }
        tx.add_events(ticket, Some(&mail.message_id), now, &decision.events)
            .await?;
        // The customer's clocks: a new ticket starts them; a customer writing
        // again reopens or resumes them. Automatic mail never moves one.
        let mut clocks_moved = false;
        if let Some(n) = ticket
            && class.kind == Kind::Customer
        {
            let happenings = match &decision.ticket {
                TicketPlan::Create { .. } => vec![Happening::Opened],
                TicketPlan::Update {
                    status: Some(_), ..
                } => vec![Happening::Opening, Happening::CustomerWrote],
                _ => vec![Happening::CustomerWrote],
            };
            let policy = tx
                .ticket_state(n)
                .await?
                .map(|t| t.sla_policy)
                .unwrap_or_default();
            clocks_moved = self
                .move_clocks(&mut tx, n, &policy, &happenings, received_at)
                .await?;
        }
        let mut bounced = 0;
        if let Some(plan) = &decision.bounce {
            for (id, recipients) in tx.mark_bounced(&plan.returned_ids).await? {
                bounced += 1;
                tx.add_event(
                    ticket,
                    Some(&id),
                    now,
                    "bounced",
                    &format!("to {}", recipients.join(", ")),
                )
                .await?;
                if let Some(until) = plan.suppress_until {
                    for r in &recipients {
                        let why = format!("permanent bounce of <{id}>: {}", class.reason);
                        tx.suppress(r, until, &why, now).await?;
                        let detail = format!("{r}: no automatic mail until {until}");
                        tx.add_event(ticket, Some(&mail.message_id), now, "suppressed", &detail)
                            .await?;
                    }
                }
            }
        }
        let mut queued = false;
        if let Some(n) = ticket
            && let Some(state) = tx.ticket_state(n).await?
        {
            let is_new = decision.action == Action::Created;
            let prompt = |event: &'static str| Prompt {
                event,
                text: mail.text.clone(),
                subject: mail.subject.clone(),
                attachments: attachment_lines(mail),
                agent: None,
                result: ResultVars::default(),
                is_new,
            };
            if let Some(to) = &decision.acknowledge {
                let vars = self.vars(mailbox, &state, &self.mailbox_tz(mailbox), prompt("ack"));
                let id = self
                    .queue(
                        &mut tx,
                        QueuedMail {
                            mailbox,
                            ticket: n,
                            kind: OutKind::Ack,
                            to,
                            cc: &[],
                            from_name: mailbox.display_name.clone(),
                            language,
                            vars: &vars,
                            parent: (&mail.message_id, &mail.references),
                            auto_submitted: Some("auto-replied"),
                            attachments: &[],
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
                queued = true;
            }
            // Agents hear of every customer message (never of automatic mail).
            if class.kind == Kind::Customer && decision.action != Action::Ignored {
                let agents = self.agents_to_notify(mailbox, &state, None);
                let who = mail
                    .from
                    .as_ref()
                    .map(|f| f.name.clone().unwrap_or(f.email.clone()))
                    .unwrap_or_default();
                let from_name = format!("{who} via {}", mailbox.display_name);
                let parent = (mail.message_id.as_str(), mail.references.as_slice());
                let sent = self
                    .notify(
                        &mut tx,
                        Notice {
                            mailbox,
                            ticket: &state,
                            agents: &agents,
                            from_name: &from_name,
                            parent,
                        },
                        || prompt("customer_message"),
                        now,
                    )
                    .await?;
                if sent > 0 {
                    tx.add_event(
                        ticket,
                        Some(&mail.message_id),
                        now,
                        "agents notified",
                        &agents.join(", "),
                    )
                    .await?;
                    queued = true;
                }
            }
        }
        self.record_source(&mut tx, mailbox, source, now).await?;
        tx.commit().await?;
        if bounced > 0 {
            crate::ops::metrics::bounced(bounced);
        }
        if queued {
            self.outbox_wake.notify_one();
        }
        if clocks_moved {
            self.sla_wake.notify_one();
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

    /// After commit, the IMAP message needs its after-ingest action (unless
    /// it would be deleted while we hold only its header); the mailbox's
    /// position moves past it either way.
    async fn record_source(
        &self,
        tx: &mut Tx,
        mailbox: &MailboxConfig,
        source: Source,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if let Source::Imap {
            uidvalidity,
            uid,
            header_only,
        } = source
        {
            let keep = header_only && mailbox.after_ingest == crate::config::AfterIngest::Delete;
            tx.record_imap(&mailbox.name, uidvalidity, uid, !keep, now)
                .await?;
        }
        Ok(())
    }

    /// Stores an incoming message (raw bytes and what was parsed from them).
    #[allow(clippy::too_many_arguments)]
    async fn store_incoming(
        &self,
        tx: &mut Tx,
        mailbox: &MailboxConfig,
        mail: &ParsedMail,
        raw: &[u8],
        ticket: Option<i64>,
        kind: Kind,
        received_at: Timestamp,
    ) -> Result<(), StoreError> {
        tx.insert_message(&NewMessage {
            message_id: &mail.message_id,
            ticket,
            mailbox: &mailbox.name,
            direction: Direction::In,
            kind: kind.as_str(),
            from: mail.from.as_ref(),
            subject: &mail.subject,
            in_reply_to: mail.in_reply_to.first().map(String::as_str),
            references: &mail.references,
            received_at,
            flags: &mail.flags,
            thread_index: mail.thread_index.as_deref(),
            raw,
        })
        .await
    }

    /// The whole transaction for a proven agent's mail on ticket `number`.
    #[allow(clippy::too_many_arguments)]
    async fn ingest_agent_mail(
        &self,
        mut tx: Tx,
        mailbox: &MailboxConfig,
        mail: &ParsedMail,
        raw: &[u8],
        number: i64,
        agent: &crate::config::AgentConfig,
        threading: &crate::domain::thread::Threading,
        proof: &AgentProof,
        received_at: Timestamp,
        now: Timestamp,
        source: Source,
    ) -> Result<Outcome, IngestError> {
        let state = tx
            .ticket_state(number)
            .await?
            .expect("threading found the ticket");
        self.store_incoming(
            &mut tx,
            mailbox,
            mail,
            raw,
            Some(number),
            Kind::Agent,
            received_at,
        )
        .await?;
        let me = crate::domain::model::Address::new(&agent.email, Some(&agent.name));
        tx.add_participant(number, &me, "agent").await?;
        let proof = match proof {
            AgentProof::Token(_) => "their reply token".to_string(),
            AgentProof::AuthResults(r) => r.clone(),
        };
        let mut events = vec![
            (
                "received",
                format!(
                    "agent message <{}> from {}, proven by {proof}",
                    mail.message_id, agent.email
                ),
            ),
            ("threading", threading.describe()),
        ];
        events.extend(
            self.agent_mail(&mut tx, mailbox, mail, raw, &state, agent, received_at, now)
                .await?,
        );
        tx.add_events(Some(number), Some(&mail.message_id), now, &events)
            .await?;
        self.record_source(&mut tx, mailbox, source, now).await?;
        tx.commit().await?;
        self.outbox_wake.notify_one();
        self.sla_wake.notify_one();
        tracing::info!(mailbox = %mailbox.name, message_id = %mail.message_id, ticket = number, agent = %agent.email, "agent mail");
        Ok(Outcome {
            ticket: Some(number),
            action: Action::Appended.as_str(),
            kind: Kind::Agent.as_str(),
            message_id: mail.message_id.clone(),
        })
    }

    /// Creates or updates the ticket as planned; returns its number.
    async fn apply_ticket_plan(
        &self,
        tx: &mut Tx,
        mailbox: &MailboxConfig,
        mail: &ParsedMail,
        plan: &TicketPlan,
        language: &str,
        received_at: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        Ok(match plan {
            TicketPlan::None => None,
            TicketPlan::Create { customer, follows } => {
                let email = customer
                    .as_ref()
                    .map(|c| c.email.as_str())
                    .unwrap_or_default();
                let (policy, priority, rule) = choose_policy(
                    &self.config.rules,
                    &mailbox.name,
                    &mailbox.sla,
                    email,
                    &mail.subject,
                );
                let n = tx
                    .create_ticket(&NewTicket {
                        mailbox: &mailbox.name,
                        subject: &mail.subject,
                        normalized_subject: &subject::normalize(&mail.subject),
                        customer: customer.as_ref(),
                        language,
                        sla_policy: policy,
                        priority: priority.as_str(),
                        follows: *follows,
                        created_at: received_at,
                    })
                    .await?;
                let why = match rule {
                    Some(i) => {
                        format!("SLA policy {policy}, priority {priority}: rule[{i}] matched")
                    }
                    None => format!("SLA policy {policy}: the mailbox's"),
                };
                tx.add_event(Some(n), Some(&mail.message_id), received_at, "policy", &why)
                    .await?;
                Some(n)
            }
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
        })
    }
}
