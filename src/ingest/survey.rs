//! When an agent resolves or closes a ticket: the closing mail and the
//! satisfaction survey (once per ticket, never to a bounced address), and the
//! customer's answer — by mail, or by the survey's signed link — recorded
//! as the ticket's rating without reopening it.

use super::facts::Threaded;
use super::outgoing::Prompt;
use super::queue::QueuedMail;
use super::{IngestError, Msg, Outcome, Pipeline};
use crate::config::MailboxConfig;
use crate::domain::decide::TicketView;
use crate::domain::event::{Event, EventKind};
use crate::domain::model::{Action, Kind, OutKind, Status};
use crate::domain::parse::ParsedMail;
use crate::domain::survey::Rating;
use crate::domain::token::Purpose;
use crate::domain::trim::{Known, trim};
use crate::store::{StoreError, TicketState, Tx};
use crate::templates::ResultVars;
use jiff::Timestamp;

/// What finishing a ticket sends its customer: one mail, the agent's
/// answer when there is one, with these appended.
#[derive(Debug, Clone)]
pub(super) struct Closing {
    /// Tell them the ticket is done.
    pub closing: bool,
    /// Ask for a rating (the mail then carries the survey's token).
    pub survey: bool,
    /// The signed rating links' base, when the mailbox has a public address.
    pub rate_url: String,
    pub customer: crate::domain::model::Address,
}

impl Pipeline {
    /// When an agent's mail has just [`finished`] `t` (resolved or closed
    /// it): what the customer is told (the closing note, if the mailbox
    /// sends one) and asked (the survey, once per ticket), never at an
    /// address that bounced. None when nothing goes out; `events` say why
    /// when a suppression stopped it.
    pub(super) async fn closing_plan(
        &self,
        tx: &mut Tx,
        mailbox: &MailboxConfig,
        t: &TicketState,
        now: Timestamp,
        events: &mut Vec<Event>,
    ) -> Result<Option<Closing>, IngestError> {
        let Some(customer) = t.customer.clone() else {
            return Ok(None);
        };
        let survey = mailbox.survey && !tx.survey_sent(t.number).await?;
        if !survey && !mailbox.closing_mail {
            return Ok(None);
        }
        if let Some((until, why)) = tx.suppression(&customer.email, now).await? {
            let detail = format!(
                "{}: no automatic mail until {until} ({why})",
                customer.email
            );
            events.push(Event::new(EventKind::NothingSentAtClosing, detail));
            return Ok(None);
        }
        let rate_url = match self
            .config
            .http
            .as_ref()
            .and_then(|h| h.public_url.as_ref())
        {
            Some(base) if survey => format!(
                "{base}/rate/{}",
                self.key
                    .issue_for(Purpose::RateLink, t.number, &customer.email)
            ),
            _ => String::new(),
        };
        Ok(Some(Closing {
            closing: mailbox.closing_mail,
            survey,
            rate_url,
            customer,
        }))
    }

    /// Records that mail `id` told or asked what `plan` says.
    pub(super) async fn closing_sent(
        &self,
        tx: &mut Tx,
        t: &TicketState,
        plan: &Closing,
        id: &str,
        now: Timestamp,
        events: &mut Vec<Event>,
    ) -> Result<(), IngestError> {
        if plan.survey {
            tx.record_survey(t.number, id, now).await?;
            events.push(Event::new(
                EventKind::SurveyQueued,
                format!("<{id}> to {}", plan.customer.email),
            ));
        }
        if plan.closing {
            events.push(Event::new(
                EventKind::ClosingMailQueued,
                format!("<{id}> to {}", plan.customer.email),
            ));
        }
        Ok(())
    }

    /// Queues one mail to the customer for `plan` when no answer carries it:
    /// the closing mail (with the survey's question when asked), or the
    /// survey alone.
    pub(super) async fn queue_closing(
        &self,
        tx: &mut Tx,
        mailbox: &MailboxConfig,
        t: &TicketState,
        plan: &Closing,
        now: Timestamp,
        events: &mut Vec<Event>,
    ) -> Result<(), IngestError> {
        let kind = if plan.closing {
            OutKind::Closed
        } else {
            OutKind::Survey
        };
        let (parent_id, parent_refs) = tx.reply_parent(t.number, mailbox.domain()).await?;
        let mut vars = self.vars(
            mailbox,
            t,
            &self.mailbox_tz(mailbox),
            Prompt {
                event: kind.as_str(),
                text: String::new(),
                subject: t.subject.clone(),
                attachments: Vec::new(),
                agent: None,
                result: ResultVars::default(),
                is_new: false,
            },
        );
        vars.rate_url = plan.rate_url.clone();
        vars.survey = plan.survey;
        let id = self
            .queue(
                tx,
                QueuedMail {
                    mailbox,
                    ticket: t.number,
                    kind,
                    to: &plan.customer,
                    cc: &[],
                    from_name: mailbox.display_name.clone(),
                    language: &crate::domain::language::for_customers(
                        &t.language,
                        mailbox.formal,
                        crate::templates::VARIANTS,
                    ),
                    vars: &vars,
                    parent: (&parent_id, &parent_refs),
                    auto_submitted: Some("auto-generated"),
                    attachments: &[],
                    html: None,
                    now,
                },
            )
            .await?;
        self.closing_sent(tx, t, plan, &id, now, events).await
    }

    /// The rating `mail` gives, when it answers the survey of ticket `v`:
    /// the ticket is resolved or closed, its survey went out, and the mail
    /// carries the survey's own token.
    pub(super) async fn survey_answer(
        &self,
        tx: &mut Tx,
        mail: &ParsedMail,
        v: &TicketView,
        threaded: &Threaded,
    ) -> Result<Option<Rating>, StoreError> {
        if !matches!(v.status, Status::Resolved | Status::Closed)
            || threaded.survey_token != Some(v.number)
            || !tx.survey_sent(v.number).await?
        {
            return Ok(None);
        }
        let quotable = self.quotable(tx, v.number, &mail.message_id).await?;
        let known = Known {
            texts: quotable.iter().map(String::as_str).collect(),
            earlier: vec![],
        };
        Ok(crate::domain::survey::rating(
            &trim(&mail.text, &known).text,
        ))
    }

    /// A customer's answer to the survey of resolved ticket `number`, which
    /// carried the survey's own token: stored on the ticket with its rating
    /// and comment (the last answer counts); the ticket stays as it is and
    /// nothing is sent.
    pub(super) async fn record_rating(
        &self,
        mut tx: Tx,
        m: &Msg<'_>,
        number: i64,
        rating: &Rating,
    ) -> Result<Outcome, IngestError> {
        let mail = m.mail;
        self.store_incoming(&mut tx, m, Some(number), Kind::Customer)
            .await?;
        let from = mail.from.as_ref().map_or("?", |f| f.email.as_str());
        let how = match rating.comment.as_str() {
            "" => format!("by {from}, answering the survey"),
            c => format!(
                "by {from}, answering the survey: {:?}",
                crate::domain::clip(c, 300).0
            ),
        };
        crate::ratings::rate(
            &mut tx,
            number,
            rating.score,
            Some(rating.comment.as_str()).filter(|c| !c.is_empty()),
            Some(&mail.message_id),
            &how,
            m.now,
        )
        .await?;
        self.finish(tx, m, &[], Some(number), Default::default())
            .await?;
        tracing::info!(mailbox = %m.mailbox.name, message_id = %mail.message_id, ticket = number,
            rating = rating.score, "satisfaction rating recorded");
        Ok(Outcome::new(
            Some(number),
            Action::Appended,
            Kind::Customer,
            mail,
        ))
    }
}
