//! A customer's or a machine's mail: the decision (create, append, reopen,
//! ignore; acknowledge or not) and its application in the transaction —
//! the ticket, its audience, the clocks, what a bounce proves, the
//! acknowledgement and the agents' notifications.

use super::facts::Threaded;
use super::outgoing::{AgentNotice, Prompt, attachment_lines};
use super::queue::QueuedMail;
use super::{IngestError, Msg, Outcome, Pipeline, Wake};
use crate::domain::classify::{Classification, Us, is_ours};
use crate::domain::decide::{self, Decision, Inputs, Rules, TicketPlan, TicketView, ack_address};
use crate::domain::event::{Event, EventKind};
use crate::domain::model::{Action, Kind, OutKind, Role};
use crate::domain::parse::files_and_html;
use crate::domain::sla::{Happening, choose_policy};
use crate::domain::trim::{Known, trim};
use crate::domain::{clip_subject, language, subject};
use crate::store::{NewTicket, StoreError, TicketState, TicketUpdate, Tx};
use crate::templates::{self, ResultVars};
use jiff::{SignedDuration, Timestamp};

impl Pipeline {
    /// Decides about mail that is neither an agent's, a watcher's nor a
    /// rating, and applies the decision in `tx`.
    pub(super) async fn ingest_message(
        &self,
        mut tx: Tx,
        m: &Msg<'_>,
        class: &Classification,
        threaded: &Threaded,
        view: Option<&TicketView>,
        notes: Vec<Event>,
    ) -> Result<Outcome, IngestError> {
        let mail = m.mail;
        let now = m.now;
        let proven = threaded.proof.is_some();
        let mut decision = self
            .decide_message(&mut tx, m, class, threaded, view)
            .await?;
        decision.events.extend(notes);

        // The customer's language: what this mail is written in, else what
        // we remembered of them, else the mailbox's.
        let customer_email = mail.from.as_ref().map(|f| f.email.as_str());
        let remembered = m
            .sender_language
            .as_deref()
            .filter(|_| class.kind == Kind::Customer);
        let (language, source) = language::choose(&language::Evidence {
            forced: m.mailbox.force_language.as_deref(),
            content_language: mail.header("content-language"),
            text_language: m.text_language,
            remembered,
            default: m.mailbox.language.as_deref(),
        });
        let applied = self
            .apply_ticket_plan(&mut tx, m, &decision.ticket, view, language)
            .await?;
        let ticket = applied.as_ref().map(|(n, _)| *n);
        let creating = matches!(decision.ticket, TicketPlan::Create { .. });
        if class.kind == Kind::Customer
            && source.from_message()
            && let Some(email) = customer_email
        {
            // A new ticket was created in that language already.
            let write_on = ticket.filter(|_| !creating);
            tx.remember_language(email, write_on, language, m.received_at)
                .await?;
        }
        let language = &language::for_customers(language, m.mailbox.formal, templates::VARIANTS);
        self.store_incoming(&mut tx, m, ticket, class.kind).await?;
        if let Some(n) = ticket
            && class.kind == Kind::Customer
        {
            self.widen_audience(&mut tx, m, n, creating || proven, &mut decision.events)
                .await?;
        }
        tx.add_events(ticket, Some(&mail.message_id), now, &decision.events);
        let mut woke = Wake::default();
        if let Some((n, policy)) = &applied
            && class.kind == Kind::Customer
        {
            woke.scheduler |= self
                .customer_clocks(&mut tx, *n, policy, &decision.ticket, m)
                .await?;
        }
        if let Some(plan) = &decision.bounce {
            self.apply_bounce(&mut tx, ticket, mail, class, plan, now)
                .await?;
        }
        if let Some(n) = ticket
            && let Some(state) = tx.ticket_state(n).await?
        {
            let told = self
                .tell_about(&mut tx, m, class, &decision, &state, language)
                .await?;
            woke.outbox |= told.outbox;
            woke.scheduler |= told.scheduler;
        }
        self.finish(tx, m, &[], ticket, woke).await?;
        tracing::info!(
            mailbox = %m.mailbox.name,
            message_id = %mail.message_id,
            ticket,
            action = decision.action.as_str(),
            kind = class.kind.as_str(),
            "{}",
            threaded.threading.describe()
        );
        Ok(Outcome::new(ticket, decision.action, class.kind, mail))
    }

    /// The decision about `m`, with what the limits count and whether the
    /// acknowledgement's address is suppressed.
    async fn decide_message(
        &self,
        tx: &mut Tx,
        m: &Msg<'_>,
        class: &Classification,
        threaded: &Threaded,
        view: Option<&TicketView>,
    ) -> Result<Decision, StoreError> {
        let mail = m.mail;
        let ours = self.config.our_addresses();
        let proven = threaded.proof.is_some();
        let (ack_to, _) = ack_address(mail, proven);
        let (sent, suppressed) = match ack_to {
            Some(a) => {
                let sender = mail.from.as_ref().map(|f| f.email.as_str());
                let counted = self
                    .sent_so_far(tx, m.mailbox, &a.email, None, sender, m.now)
                    .await?;
                (counted.sent, counted.suppressed)
            }
            None => Default::default(),
        };
        let rules = Rules {
            limits: &self.config.limits,
            reopen_window: self.config.threading.reopen_window,
            our_addresses: &ours,
            lists_open_tickets: m.mailbox.list_mail_opens_tickets,
            verp: m.mailbox.verp,
        };
        let decision = decide::decide(&Inputs {
            mail,
            class,
            threading: &threaded.threading,
            ticket: view,
            received_at: m.received_at,
            sent,
            suppressed,
            proven,
            verp: threaded.returned.as_deref(),
            rules: &rules,
        });
        if let (Some(limit), Some(a)) = (decision.held_by, ack_to) {
            self.limit_tripped(m.mailbox, &a.email, OutKind::Ack, limit, m.now);
        }
        Ok(decision)
    }

    /// The audience of ticket `n`: a new ticket takes its sender's Cc; an
    /// existing one grows only through mail that proves its sender
    /// (`widen`); the addresses left out are recorded.
    async fn widen_audience(
        &self,
        tx: &mut Tx,
        m: &Msg<'_>,
        n: i64,
        widen: bool,
        events: &mut Vec<Event>,
    ) -> Result<(), StoreError> {
        let mail = m.mail;
        let ours = self.config.our_addresses();
        let sender = mail.from.as_ref().map(|f| &f.email);
        let newcomers: Vec<_> = mail
            .to
            .iter()
            .chain(&mail.cc)
            .filter(|cc| {
                !is_ours(&cc.email, &Us { addresses: &ours })
                    && Some(&cc.email) != sender
                    && self.config.agent(&cc.email).is_none()
            })
            .collect();
        if widen {
            for cc in newcomers {
                tx.add_participant(n, cc, Role::Cc).await?;
            }
            return Ok(());
        }
        if newcomers.is_empty() {
            return Ok(());
        }
        let known: Vec<String> = tx
            .participants(n)
            .await?
            .into_iter()
            .map(|(e, _)| e)
            .collect();
        let strangers: Vec<&str> = newcomers
            .iter()
            .map(|a| a.email.as_str())
            .filter(|e| !known.iter().any(|k| k == e))
            .collect();
        if !strangers.is_empty() {
            let why = "the mail does not prove its sender (only a reply token sent to them, \
                       or our MTA's aligned authentication, widens a ticket's audience)";
            events.push(Event::new(
                EventKind::AudienceUnchanged,
                format!("{} not added: {why}", strangers.join(", ")),
            ));
        }
        Ok(())
    }

    /// Who hears of `m` on ticket `state`: its sender's acknowledgement
    /// when the decision says so, and the agents of every customer message
    /// (never of automatic mail). Returns which workers have news.
    async fn tell_about(
        &self,
        tx: &mut Tx,
        m: &Msg<'_>,
        class: &Classification,
        decision: &Decision,
        state: &TicketState,
        language: &str,
    ) -> Result<Wake, IngestError> {
        let mail = m.mail;
        let now = m.now;
        let n = state.number;
        let mut woke = Wake::default();
        let is_new = decision.action == Action::Created;
        // A follow-up is told without what it quotes of the ticket's own
        // mail (the full text stays on the ticket).
        let text = if is_new || class.kind != Kind::Customer {
            mail.text.clone()
        } else {
            let quotable = self.quotable(tx, n, &mail.message_id).await?;
            let known = Known {
                texts: quotable.iter().map(String::as_str).collect(),
                earlier: vec![],
            };
            let own = trim(&mail.text, &known).text;
            if own.trim().is_empty() {
                mail.text.clone()
            } else {
                own
            }
        };
        let prompt = |event: &'static str| Prompt {
            event,
            text: text.clone(),
            subject: mail.subject.clone(),
            attachments: attachment_lines(mail),
            agent: None,
            result: ResultVars::default(),
            is_new,
        };
        if let Some(to) = &decision.acknowledge {
            let vars = self.vars(m.mailbox, state, &self.mailbox_tz(m.mailbox), prompt("ack"));
            let id = self
                .queue(
                    tx,
                    QueuedMail {
                        mailbox: m.mailbox,
                        ticket: n,
                        kind: OutKind::Ack,
                        to,
                        cc: &[],
                        from_name: m.mailbox.display_name.clone(),
                        language,
                        vars: &vars,
                        parent: (&mail.message_id, &mail.references),
                        auto_submitted: Some("auto-replied"),
                        attachments: &[],
                        html: None,
                        now,
                    },
                )
                .await?;
            let detail = format!("to {}", to.email);
            tx.add_event(
                Some(n),
                Some(&id),
                now,
                EventKind::AcknowledgementQueued,
                &detail,
            );
            woke.outbox = true;
        }
        if class.kind == Kind::Customer && decision.action != Action::Ignored {
            let told = self
                .notify_agents_of(tx, m, state, || prompt("customer_message"))
                .await?;
            woke.outbox |= told.outbox;
            woke.scheduler |= told.scheduler;
        }
        Ok(woke)
    }

    /// The agents of ticket `state` hear of a customer's message `m`.
    async fn notify_agents_of(
        &self,
        tx: &mut Tx,
        m: &Msg<'_>,
        state: &TicketState,
        prompt: impl Fn() -> Prompt<'static>,
    ) -> Result<Wake, IngestError> {
        let mail = m.mail;
        let mut woke = Wake::default();
        let agents = self.agents_to_notify(m.mailbox, state, None);
        if agents.is_empty() {
            // Nobody to tell: the files are not read out of the message again.
            return Ok(woke);
        }
        let who = mail
            .from
            .as_ref()
            .map(|f| f.name.clone().unwrap_or(f.email.clone()))
            .unwrap_or_default();
        let from_name = format!("{who} via {}", m.mailbox.display_name);
        let (files, html) = files_and_html(m.raw);
        let done = self
            .notify(
                tx,
                AgentNotice {
                    mailbox: m.mailbox,
                    ticket: state,
                    agents: &agents,
                    from_name: &from_name,
                    parent: (&mail.message_id, &mail.references),
                    about: &mail.message_id,
                    who: &who,
                    files: &files,
                    html: html.as_deref(),
                },
                prompt,
                m.now,
            )
            .await?;
        if done.sent > 0 {
            let to = done.to.join(", ");
            let (n, id) = (state.number, &mail.message_id);
            tx.add_event(Some(n), Some(id), m.now, EventKind::AgentsNotified, &to);
            woke.outbox = true;
        }
        woke.scheduler = done.held > 0;
        Ok(woke)
    }

    /// The customer's clocks: a new ticket starts them; a customer writing
    /// again reopens or resumes them. Returns whether any moved.
    async fn customer_clocks(
        &self,
        tx: &mut Tx,
        n: i64,
        policy: &str,
        plan: &TicketPlan,
        m: &Msg<'_>,
    ) -> Result<bool, StoreError> {
        let happenings = match plan {
            TicketPlan::Create { .. } => vec![Happening::Opened],
            TicketPlan::Update {
                status: Some(_), ..
            } => vec![Happening::Opening, Happening::CustomerWrote],
            _ => vec![Happening::CustomerWrote],
        };
        self.move_clocks(tx, n, policy, &happenings, m.received_at)
            .await
    }

    /// Creates or updates the ticket as planned (`view` is the ticket
    /// threading found); returns its number and its SLA policy.
    async fn apply_ticket_plan(
        &self,
        tx: &mut Tx,
        m: &Msg<'_>,
        plan: &TicketPlan,
        view: Option<&TicketView>,
        language: &str,
    ) -> Result<Option<(i64, String)>, StoreError> {
        let mail = m.mail;
        Ok(match plan {
            TicketPlan::None => None,
            TicketPlan::Create { customer, follows } => {
                let email = customer
                    .as_ref()
                    .map(|c| c.email.as_str())
                    .unwrap_or_default();
                let (policy, priority, rule) = choose_policy(
                    &self.config.rules,
                    &m.mailbox.name,
                    &m.mailbox.sla,
                    email,
                    &mail.subject,
                );
                // The ticket keeps a bounded subject: it is echoed in every
                // mail about the ticket. The message keeps the whole one.
                let subject = clip_subject(&mail.subject);
                let n = tx
                    .create_ticket(&NewTicket {
                        mailbox: &m.mailbox.name,
                        subject: &subject,
                        normalized_subject: &subject::normalize(&mail.subject),
                        customer: customer.as_ref(),
                        language,
                        sla_policy: policy,
                        priority: priority.as_str(),
                        follows: *follows,
                        created_at: m.received_at,
                    })
                    .await?;
                let why = match rule {
                    Some(i) => {
                        format!("SLA policy {policy}, priority {priority}: rule[{i}] matched")
                    }
                    None => format!("SLA policy {policy}: the mailbox's"),
                };
                tx.add_event(
                    Some(n),
                    Some(&mail.message_id),
                    m.received_at,
                    EventKind::Policy,
                    &why,
                );
                Some((n, policy.to_string()))
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
                    at: m.received_at,
                })
                .await?;
                // `decide` updates only the ticket the message threaded
                // into: the view read before it.
                let policy = match view {
                    Some(v) if v.number == *number => v.sla_policy.clone(),
                    _ => {
                        return Err(StoreError::Corrupt(format!(
                            "an update of ticket #{number}, which the message did not thread into"
                        )));
                    }
                };
                Some((*number, policy))
            }
        })
    }
}

/// How long ago `window` began, at `now`.
pub(super) fn since(now: Timestamp, window: SignedDuration) -> Timestamp {
    now.checked_sub(window).unwrap_or(now)
}
