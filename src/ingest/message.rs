//! A customer's or a machine's mail: the decision (create, append, reopen,
//! ignore; acknowledge or not) and its application in the transaction —
//! the ticket, its audience, the clocks, what a bounce proves, the
//! acknowledgement and the agents' notifications.

use super::facts::Threaded;
use super::outgoing::{AgentNotice, Prompt, attachment_lines};
use super::queue::QueuedMail;
use super::{IngestError, Msg, Outcome, Pipeline, Wake};
use crate::domain::classify::{Classification, Us, is_ours};
use crate::domain::decide::{self, Inputs, Rules, TicketPlan, TicketView, ack_address};
use crate::domain::model::{Action, Kind, OutKind, Role};
use crate::domain::parse::files_and_html;
use crate::domain::sla::{Happening, choose_policy};
use crate::domain::trim::{Known, trim};
use crate::domain::{clip_subject, language, subject};
use crate::store::{NewTicket, StoreError, TicketUpdate, Tx};
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
        notes: Vec<(&'static str, String)>,
    ) -> Result<Outcome, IngestError> {
        let mail = m.mail;
        let now = m.now;
        let ours = self.config.our_addresses();
        let proven = threaded.proof.is_some();
        let (ack_to, _) = ack_address(mail, proven);
        let (sent, suppressed) = match ack_to {
            Some(a) => {
                let sender = mail.from.as_ref().map(|f| f.email.as_str());
                let sent = self
                    .sent_so_far(&mut tx, m.mailbox, &a.email, None, sender, now)
                    .await?;
                (sent, tx.suppression(&a.email, now).await?)
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
        let returned_id = threaded.returned.as_deref();
        let mut decision = decide::decide(&Inputs {
            mail,
            class,
            threading: &threaded.threading,
            ticket: view,
            received_at: m.received_at,
            sent,
            suppressed,
            proven,
            verp: returned_id,
            rules: &rules,
        });
        decision.events.extend(notes);
        if let (Some(limit), Some(a)) = (decision.held_by, ack_to) {
            self.limit_tripped(m.mailbox, &a.email, OutKind::Ack, limit, now);
        }

        // The customer's language: what this mail is written in, else what
        // we remembered of them, else the mailbox's.
        let customer_email = mail.from.as_ref().map(|f| f.email.as_str());
        let remembered = match customer_email {
            Some(e) if class.kind == Kind::Customer => tx.customer_language(e).await?,
            _ => None,
        };
        let (language, source) = language::choose(&language::Evidence {
            forced: m.mailbox.force_language.as_deref(),
            content_language: mail.header("content-language"),
            text: &mail.text,
            remembered: remembered.as_deref(),
            default: m.mailbox.language.as_deref(),
        });
        let ticket = self
            .apply_ticket_plan(&mut tx, m, &decision.ticket, language)
            .await?;
        if class.kind == Kind::Customer
            && source.from_message()
            && let Some(email) = customer_email
        {
            tx.remember_language(email, ticket, language, m.received_at)
                .await?;
        }
        let language = &language::for_customers(language, m.mailbox.formal, templates::VARIANTS);
        self.store_incoming(&mut tx, m, ticket, class.kind).await?;
        // The audience of a ticket: a new ticket takes its sender's Cc; an
        // existing one grows only through mail that proves its sender.
        if let Some(n) = ticket
            && class.kind == Kind::Customer
        {
            let creating = matches!(decision.ticket, TicketPlan::Create { .. });
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
            if creating || proven {
                for cc in newcomers {
                    tx.add_participant(n, cc, Role::Cc).await?;
                }
            } else if !newcomers.is_empty() {
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
                    decision.events.push((
                        "audience unchanged",
                        format!(
                            "{} not added: the mail does not prove its sender (only a reply token sent to them, or our MTA's aligned authentication, widens a ticket's audience)",
                            strangers.join(", ")
                        ),
                    ));
                }
            }
        }
        tx.add_events(ticket, Some(&mail.message_id), now, &decision.events)
            .await?;
        let mut woke = Wake::default();
        if let Some(n) = ticket
            && class.kind == Kind::Customer
        {
            woke.scheduler |= self
                .customer_clocks(&mut tx, n, &decision.ticket, m)
                .await?;
        }
        if let Some(plan) = &decision.bounce {
            self.apply_bounce(&mut tx, ticket, mail, class, plan, now)
                .await?;
        }
        if let Some(n) = ticket
            && let Some(state) = tx.ticket_state(n).await?
        {
            let is_new = decision.action == Action::Created;
            // A follow-up is told without what it quotes of the ticket's own
            // mail (the full text stays on the ticket).
            let text = if is_new || class.kind != Kind::Customer {
                mail.text.clone()
            } else {
                let quotable = self.quotable(&mut tx, n, &mail.message_id).await?;
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
                let vars = self.vars(
                    m.mailbox,
                    &state,
                    &self.mailbox_tz(m.mailbox),
                    prompt("ack"),
                );
                let id = self
                    .queue(
                        &mut tx,
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
                tx.add_event(
                    ticket,
                    Some(&id),
                    now,
                    "acknowledgement queued",
                    &format!("to {}", to.email),
                )
                .await?;
                woke.outbox = true;
            }
            // Agents hear of every customer message (never of automatic mail).
            if class.kind == Kind::Customer && decision.action != Action::Ignored {
                let agents = self.agents_to_notify(m.mailbox, &state, None);
                let who = mail
                    .from
                    .as_ref()
                    .map(|f| f.name.clone().unwrap_or(f.email.clone()))
                    .unwrap_or_default();
                let from_name = format!("{who} via {}", m.mailbox.display_name);
                let (files, html) = files_and_html(m.raw);
                let done = self
                    .notify(
                        &mut tx,
                        AgentNotice {
                            mailbox: m.mailbox,
                            ticket: &state,
                            agents: &agents,
                            from_name: &from_name,
                            parent: (&mail.message_id, &mail.references),
                            about: &mail.message_id,
                            who: &who,
                            files: &files,
                            html: html.as_deref(),
                        },
                        || prompt("customer_message"),
                        now,
                    )
                    .await?;
                if done.sent > 0 {
                    tx.add_event(
                        ticket,
                        Some(&mail.message_id),
                        now,
                        "agents notified",
                        &done.to.join(", "),
                    )
                    .await?;
                    woke.outbox = true;
                }
                woke.scheduler |= done.held > 0;
            }
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

    /// The customer's clocks: a new ticket starts them; a customer writing
    /// again reopens or resumes them. Returns whether any moved.
    async fn customer_clocks(
        &self,
        tx: &mut Tx,
        n: i64,
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
        let policy = tx
            .ticket_state(n)
            .await?
            .map(|t| t.sla_policy)
            .unwrap_or_default();
        self.move_clocks(tx, n, &policy, &happenings, m.received_at)
            .await
    }

    /// Creates or updates the ticket as planned; returns its number.
    async fn apply_ticket_plan(
        &self,
        tx: &mut Tx,
        m: &Msg<'_>,
        plan: &TicketPlan,
        language: &str,
    ) -> Result<Option<i64>, StoreError> {
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
                    "policy",
                    &why,
                )
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
                    at: m.received_at,
                })
                .await?;
                Some(*number)
            }
        })
    }
}

/// How long ago `window` began, at `now`.
pub(super) fn since(now: Timestamp, window: SignedDuration) -> Timestamp {
    now.checked_sub(window).unwrap_or(now)
}
