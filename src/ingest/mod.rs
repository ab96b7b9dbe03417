//! Ingest: raw bytes → parse → classify → thread → decide → one database
//! transaction holding the message, the ticket change, the events and every
//! mail to send. The same path serves IMAP, `postdesk ingest` and an MTA
//! pipe. Idempotent on Message-ID: a message seen before changes nothing.
//!
//! A source hands over an [`Incoming`]; [`Prepared`] is the same message
//! with the work that needs no database done (parsed, language detected).
//! A run of messages (an IMAP fetch, an mbox) shares group commits
//! ([`GroupCommit`]), each message in a savepoint of its own.
//!
//! Who may do what follows the trust boundary (DESIGN §12): [`facts`]
//! threads a message and says what it proves (tokens, an aligned
//! authentication pass); a proven agent's mail goes to [`agent`], a proven
//! watcher's to a remark, a reply carrying the survey's own token to
//! [`survey`], everything else to [`message`]. [`outgoing`] renders and
//! queues mail, [`limits`] holds back what the limits refuse, [`bounce`]
//! acts on returned mail only on evidence.

mod agent;
mod bounce;
mod explain;
mod facts;
mod group;
mod history;
mod incoming;
mod limits;
mod message;
mod outgoing;
mod overview;
mod queue;
mod remark;
mod sla;
mod survey;

pub use explain::Explanation;
pub use group::GroupCommit;
pub use incoming::{Arrival, Incoming, Prepared, Source};
pub use outgoing::format_time;

use crate::clock::Clock;
use crate::config::{Config, MailboxConfig};
use crate::domain::auth::{AgentCheck, Proof, check_agent};
use crate::domain::classify::{Classification, Screening, Us, classify};
use crate::domain::event::{Event, EventKind};
use crate::domain::model::{Action, Direction, Kind, Role};
use crate::domain::parse::ParsedMail;
use crate::domain::token::TokenKey;
use crate::store::{FirstLook, Group, NewMessage, Store, StoreError, Tx};
use crate::templates::{self, Templates};
use facts::Threaded;
use jiff::Timestamp;
pub(crate) use outgoing::Prompt;
pub(crate) use queue::{AgentMail, QueuedMail};
use std::sync::Arc;
use tokio::sync::Notify;

/// What happened to one message (one line of `postdesk ingest`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    pub ticket: Option<i64>,
    pub action: Action,
    pub kind: Kind,
    pub message_id: String,
}

impl Outcome {
    fn new(ticket: Option<i64>, action: Action, kind: Kind, mail: &ParsedMail) -> Self {
        Outcome {
            ticket,
            action,
            kind,
            message_id: mail.message_id.clone(),
        }
    }
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
    /// Woken after a commit that moved SLA clocks or held a notification.
    pub sla_wake: Arc<Notify>,
    /// When a limit was last logged for an address: logged once per
    /// window, while every refusal is still recorded in the ticket's events.
    limit_logged: std::sync::Mutex<std::collections::HashMap<String, Timestamp>>,
}

/// The message being ingested, with what every step needs to know of it.
pub(super) struct Msg<'a> {
    pub mailbox: &'a MailboxConfig,
    pub mail: &'a ParsedMail,
    pub raw: &'a [u8],
    pub received_at: Timestamp,
    pub now: Timestamp,
    pub source: Source,
    /// The language remembered of its sender (see [`Tx::first_look`]).
    pub sender_language: Option<String>,
    /// The language of its text (see [`Prepared`]).
    pub text_language: Option<&'static str>,
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

    /// Ingests one message.
    pub async fn ingest(
        &self,
        mailbox: &MailboxConfig,
        incoming: Incoming<'_>,
    ) -> Result<Outcome, IngestError> {
        let prepared = self.prepare(incoming);
        self.ingest_prepared(None, mailbox, &prepared).await
    }

    /// As [`Pipeline::ingest`], as a member of `group`: the message's work
    /// is durable only when the group commits (and is undone alone when it
    /// fails). The caller wakes the workers after that commit.
    pub async fn ingest_in(
        &self,
        group: &mut Group,
        mailbox: &MailboxConfig,
        incoming: Incoming<'_>,
    ) -> Result<Outcome, IngestError> {
        let prepared = self.prepare(incoming);
        self.ingest_prepared(Some(group), mailbox, &prepared).await
    }

    /// Does the work on `incoming` that needs no database (see [`Prepared`]).
    pub fn prepare<'a>(&self, incoming: Incoming<'a>) -> Prepared<'a> {
        Prepared::new(incoming, self.config.limits.max_message_size)
    }

    /// Stores a prepared message, alone or as a member of `group` (see
    /// [`Pipeline::ingest_in`]).
    pub async fn ingest_prepared(
        &self,
        mut group: Option<&mut Group>,
        mailbox: &MailboxConfig,
        prepared: &Prepared<'_>,
    ) -> Result<Outcome, IngestError> {
        let started = std::time::Instant::now();
        let mut retried = false;
        let outcome = loop {
            let now = self.clock.now();
            let tx = match group.as_deref_mut() {
                Some(g) => g.member().await?,
                None => self.store.begin().await?,
            };
            let result = self
                .ingest_parsed(
                    tx,
                    Msg {
                        mailbox,
                        mail: &prepared.mail,
                        raw: &prepared.raw,
                        received_at: prepared.received_at.unwrap_or(now),
                        now,
                        source: prepared.source,
                        sender_language: None,
                        text_language: prepared.text_language,
                    },
                )
                .await;
            if let Some(g) = group.as_deref_mut() {
                g.settle().await?;
            }
            match result {
                // Another writer stored the same Message-ID between our check
                // and our insert: run again, and it is a duplicate.
                Err(IngestError::Store(e)) if e.is_unique_violation() && !retried => retried = true,
                other => break other?,
            }
        };
        crate::ops::metrics::ingested(
            &mailbox.name,
            outcome.action,
            outcome.kind,
            started.elapsed(),
        );
        Ok(outcome)
    }

    /// What the database knows of `mail` before anything else (see
    /// [`Tx::first_look`]).
    async fn first_look(&self, tx: &mut Tx, mail: &ParsedMail) -> Result<FirstLook, StoreError> {
        let sender = mail.from.as_ref().map(|f| f.email.as_str());
        tx.first_look(&mail.message_id, sender).await
    }

    /// Classifies `mail`: our own addresses, the MTA's spam verdict, a DMARC
    /// failure from our MTA, and senders an agent marked as spam.
    fn classify_with(&self, mail: &ParsedMail, look: &FirstLook) -> Classification {
        let ours = self.config.our_addresses();
        let screening = Screening {
            trusted_authserv_ids: &self.config.trusted_authserv_ids,
            spam_rules: &self.config.spam.rules,
            dmarc_fail_is_spam: self.config.spam.dmarc_fail,
            sender_marked: look.spam_mark.as_deref(),
        };
        classify(mail, &Us { addresses: &ours }, &screening)
    }

    async fn ingest_parsed(&self, mut tx: Tx, mut m: Msg<'_>) -> Result<Outcome, IngestError> {
        let mail = m.mail;
        let look = self.first_look(&mut tx, mail).await?;
        m.sender_language = look.language.clone();
        let class = self.classify_with(mail, &look);

        if let Some(ticket) = look.stored {
            self.record_source(&mut tx, m.mailbox, m.source, m.now);
            tx.commit().await?;
            tracing::info!(mailbox = %m.mailbox.name, message_id = %mail.message_id, ticket, "duplicate: already stored");
            return Ok(Outcome::new(ticket, Action::Duplicate, class.kind, mail));
        }

        let returned = self
            .returned_mail(&mut tx, m.mailbox, mail, class.kind)
            .await?;
        let threaded = self
            .thread_message(
                &mut tx,
                m.mailbox,
                mail,
                class.kind,
                m.received_at,
                returned.as_ref(),
            )
            .await?;
        let view = match threaded.threading.ticket() {
            Some(n) => tx.ticket_view(n).await?,
            None => None,
        };

        let mut notes = Vec::new();
        let route = if class.kind == Kind::Customer {
            self.route(&mut tx, mail, &threaded, view.as_ref(), &mut notes)
                .await?
        } else {
            Route::Message
        };
        match route {
            Route::Message => {
                self.ingest_message(tx, &m, &class, &threaded, view.as_ref(), notes)
                    .await
            }
            Route::AgentMail {
                number,
                agent,
                proof,
            } => {
                self.ingest_agent_mail(tx, &m, number, agent, &threaded, &proof)
                    .await
            }
            Route::AgentOutside { agent, proof, why } => {
                let proof = match &proof {
                    Ok(p) => Ok(p),
                    Err(holders) => Err(holders.as_slice()),
                };
                self.ingest_agent_outside(tx, &m, agent, proof, why).await
            }
            Route::Remark { number } => {
                let proof = threaded.proof.as_ref().expect("routed on its proof");
                self.ingest_remark(tx, &m, number, &threaded, proof).await
            }
            Route::Rating { number, rating } => self.record_rating(tx, &m, number, &rating).await,
        }
    }

    /// Where a customer-kind message goes, by what it proves (DESIGN §12):
    /// an agent's mail, a watcher's remark, a survey answer, or a message.
    /// An agent's address without proof is noted in `notes` when it names
    /// no configured agent.
    async fn route(
        &self,
        tx: &mut Tx,
        mail: &ParsedMail,
        threaded: &Threaded,
        view: Option<&crate::domain::decide::TicketView>,
        notes: &mut Vec<Event>,
    ) -> Result<Route<'_>, StoreError> {
        // An agent's mail on a ticket, with proof that it is theirs.
        let agents: Vec<String> = self.config.agents.iter().map(|a| a.email.clone()).collect();
        match check_agent(
            mail,
            &agents,
            &threaded.holders,
            &self.config.trusted_authserv_ids,
        ) {
            AgentCheck::Proven { email, proof } => {
                if let Some(agent) = self.config.agent(&email) {
                    return Ok(match view {
                        Some(v) => Route::AgentMail {
                            number: v.number,
                            agent,
                            proof,
                        },
                        None => Route::AgentOutside {
                            agent,
                            why: format!("proven by {}; it names no ticket", proof.describe()),
                            proof: Ok(proof),
                        },
                    });
                }
            }
            // An agent's address without proof is never a customer:
            // set aside, and the agent is told (a forger gains nothing).
            AgentCheck::Unproven {
                email,
                why,
                holders,
            } => {
                tracing::warn!(message_id = %mail.message_id, from = %email,
                    "mail from an agent address without proof: set aside ({why})");
                if let Some(agent) = self.config.agent(&email) {
                    return Ok(Route::AgentOutside {
                        agent,
                        proof: Err(holders),
                        why,
                    });
                }
                notes.push(Event::new(
                    EventKind::AgentNotProven,
                    format!("{email}: {why}"),
                ));
            }
            AgentCheck::NotAnAgent => {}
        }
        // Someone told of an escalation who is no agent, answering it.
        if let (Some(v), Some(_), Some(from)) = (view, &threaded.proof, &mail.from)
            && tx
                .participants(v.number)
                .await?
                .iter()
                .any(|(p, r)| *p == from.email && *r == Role::Watcher)
        {
            return Ok(Route::Remark { number: v.number });
        }
        // An answer to the survey, carrying the survey's own token.
        if let Some(v) = view
            && let Some(rating) = self.survey_answer(tx, mail, v, threaded).await?
        {
            return Ok(Route::Rating {
                number: v.number,
                rating,
            });
        }
        Ok(Route::Message)
    }

    /// After commit, the IMAP message needs its after-ingest action (unless
    /// it would be deleted while we hold only its header); the mailbox's
    /// position moves past it either way.
    fn record_source(&self, tx: &mut Tx, mailbox: &MailboxConfig, source: Source, now: Timestamp) {
        if let Source::Imap {
            uidvalidity,
            uid,
            header_only,
        } = source
        {
            let keep = header_only && mailbox.after_ingest == crate::config::AfterIngest::Delete;
            tx.record_imap(&mailbox.name, uidvalidity, uid, !keep, now);
        }
    }

    /// Stores an incoming message (raw bytes and what was parsed from them).
    async fn store_incoming(
        &self,
        tx: &mut Tx,
        m: &Msg<'_>,
        ticket: Option<i64>,
        kind: Kind,
    ) -> Result<(), StoreError> {
        let mail = m.mail;
        tx.insert_message(&NewMessage {
            message_id: &mail.message_id,
            ticket,
            mailbox: &m.mailbox.name,
            direction: Direction::In,
            kind: kind.as_str(),
            from: mail.from.as_ref(),
            subject: &mail.subject,
            in_reply_to: mail.in_reply_to.first().map(String::as_str),
            references: &mail.references,
            received_at: m.received_at,
            flags: &mail.flags,
            thread_index: mail.thread_index.as_deref(),
            raw: m.raw,
            body: &mail.text,
        })
        .await
    }

    /// Records `events` and the source, commits, wakes the workers: how
    /// every kind of mail ends its transaction.
    async fn finish(
        &self,
        mut tx: Tx,
        m: &Msg<'_>,
        events: &[Event],
        ticket: Option<i64>,
        woke: Wake,
    ) -> Result<(), StoreError> {
        tx.add_events(ticket, Some(&m.mail.message_id), m.now, events);
        self.record_source(&mut tx, m.mailbox, m.source, m.now);
        // A group member's work is not yet visible: the group's commit wakes
        // the workers once for all its members.
        let alone = !tx.in_group();
        tx.commit().await?;
        if alone && woke.outbox {
            self.outbox_wake.notify_one();
        }
        if alone && woke.scheduler {
            self.sla_wake.notify_one();
        }
        Ok(())
    }

    /// The whole transaction for a proven agent's mail on ticket `number`.
    async fn ingest_agent_mail(
        &self,
        mut tx: Tx,
        m: &Msg<'_>,
        number: i64,
        agent: &crate::config::AgentConfig,
        threaded: &Threaded,
        proof: &Proof,
    ) -> Result<Outcome, IngestError> {
        let mail = m.mail;
        let state = tx
            .ticket_state(number)
            .await?
            .expect("threading found the ticket");
        self.store_incoming(&mut tx, m, Some(number), Kind::Agent)
            .await?;
        let me = crate::domain::model::Address::new(&agent.email, Some(&agent.name));
        tx.add_participant(number, &me, Role::Agent).await?;
        let mut events = vec![
            Event::new(
                EventKind::Received,
                format!(
                    "agent message <{}> from {}, proven by {}",
                    mail.message_id,
                    agent.email,
                    proof.describe()
                ),
            ),
            Event::new(EventKind::Threading, threaded.threading.describe()),
        ];
        events.extend(self.agent_mail(&mut tx, m, &state, agent).await?);
        let woke = Wake {
            outbox: true,
            scheduler: true,
        };
        self.finish(tx, m, &events, Some(number), woke).await?;
        tracing::info!(mailbox = %m.mailbox.name, message_id = %mail.message_id, ticket = number, agent = %agent.email, "agent mail");
        Ok(Outcome::new(
            Some(number),
            Action::Appended,
            Kind::Agent,
            mail,
        ))
    }
}

/// Where a message goes once threaded (see [`Pipeline::route`]).
enum Route<'c> {
    /// A message from a customer (or a robot, or an unproven sender).
    Message,
    /// A proven agent's mail on ticket `number`.
    AgentMail {
        number: i64,
        agent: &'c crate::config::AgentConfig,
        proof: Proof,
    },
    /// An agent's mail set aside: proven but naming no ticket (`Ok`), or
    /// unproven, with the holders of the tokens it carried (`Err`).
    AgentOutside {
        agent: &'c crate::config::AgentConfig,
        proof: Result<Proof, Vec<String>>,
        why: String,
    },
    /// A watcher's remark on ticket `number`.
    Remark { number: i64 },
    /// A survey answer on ticket `number`.
    Rating {
        number: i64,
        rating: crate::domain::survey::Rating,
    },
}

/// Which workers a commit has news for.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Wake {
    /// Mail was queued.
    pub outbox: bool,
    /// Clocks moved, or a notification was held for a digest.
    pub scheduler: bool,
}
