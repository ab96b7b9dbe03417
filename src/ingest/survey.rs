//! When an agent resolves or closes a ticket: the closing mail and the
//! satisfaction survey (once per ticket, never to a bounced address), and the
//! customer's answer — by mail, or by the survey's signed link — recorded
//! as the ticket's rating without reopening it.

use super::outgoing::{Prompt, QueuedMail};
use super::{IngestError, Msg, Outcome, Pipeline};
use crate::config::MailboxConfig;
use crate::domain::model::{Action, Kind, OutKind, Status};
use crate::domain::survey::{asks_for_rating, finished};
use crate::domain::token::{Purpose, TokenKey, claimed_ticket};
use crate::store::{Store, StoreError, TicketState, Tx};
use crate::templates::ResultVars;
use jiff::Timestamp;

impl Pipeline {
    /// After an agent's mail changed `t` from `before` to its status now:
    /// when that finished the ticket, queues the closing mail (if the mailbox
    /// sends one) and the survey (if it asks for ratings; once per ticket),
    /// never to an address that bounced. Returns the events to record.
    pub(super) async fn after_done(
        &self,
        tx: &mut Tx,
        mailbox: &MailboxConfig,
        t: &TicketState,
        before: Status,
        spam_or_merge: bool,
        now: Timestamp,
    ) -> Result<Vec<(&'static str, String)>, IngestError> {
        let mut events = Vec::new();
        let Some(customer) = t.customer.clone() else {
            return Ok(events);
        };
        if !finished(before, Some(t.status), spam_or_merge) {
            return Ok(events);
        }
        let survey = mailbox.survey
            && asks_for_rating(
                before,
                Some(t.status),
                spam_or_merge,
                tx.survey_sent(t.number).await?,
            );
        if !survey && !mailbox.closing_mail {
            return Ok(events);
        }
        if let Some((until, why)) = tx.suppression(&customer.email, now).await? {
            let detail = format!(
                "{}: no automatic mail until {until} ({why})",
                customer.email
            );
            events.push(("nothing sent at closing", detail));
            return Ok(events);
        }
        if mailbox.closing_mail {
            let id = self
                .to_customer(
                    tx,
                    mailbox,
                    t,
                    &customer,
                    OutKind::Closed,
                    String::new(),
                    now,
                )
                .await?;
            events.push((
                "closing mail queued",
                format!("<{id}> to {}", customer.email),
            ));
        }
        if survey {
            let rate_url = match self
                .config
                .http
                .as_ref()
                .and_then(|h| h.public_url.as_ref())
            {
                Some(base) => format!(
                    "{base}/rate/{}",
                    self.key
                        .issue_for(Purpose::RateLink, t.number, &customer.email)
                ),
                None => String::new(),
            };
            let id = self
                .to_customer(tx, mailbox, t, &customer, OutKind::Survey, rate_url, now)
                .await?;
            tx.record_survey(t.number, &id, now).await?;
            events.push(("survey queued", format!("<{id}> to {}", customer.email)));
        }
        Ok(events)
    }

    /// Queues automatic mail of `kind` about `t` to its customer, in the
    /// ticket's language, threaded to their latest message.
    #[allow(clippy::too_many_arguments)]
    async fn to_customer(
        &self,
        tx: &mut Tx,
        mailbox: &MailboxConfig,
        t: &TicketState,
        customer: &crate::domain::model::Address,
        kind: OutKind,
        rate_url: String,
        now: Timestamp,
    ) -> Result<String, IngestError> {
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
        vars.rate_url = rate_url;
        self.queue(
            tx,
            QueuedMail {
                mailbox,
                ticket: t.number,
                kind,
                to: customer,
                cc: &[],
                from_name: mailbox.display_name.clone(),
                language: &t.language,
                vars: &vars,
                parent: (&parent_id, &parent_refs),
                auto_submitted: Some("auto-generated"),
                attachments: &[],
                now,
            },
        )
        .await
    }

    /// A customer's answer to the survey of resolved ticket `number`, which
    /// carried the survey's own token: stored on the ticket with its rating
    /// (the last answer counts); the ticket stays as it is and nothing is sent.
    pub(super) async fn record_rating(
        &self,
        mut tx: Tx,
        m: &Msg<'_>,
        number: i64,
        rating: u8,
    ) -> Result<Outcome, IngestError> {
        let mail = m.mail;
        self.store_incoming(&mut tx, m, Some(number), Kind::Customer)
            .await?;
        let from = mail.from.as_ref().map_or("?", |f| f.email.as_str());
        rate(
            &mut tx,
            number,
            rating,
            Some(&mail.message_id),
            &format!("by {from}, answering the survey"),
            m.now,
        )
        .await?;
        self.finish(tx, m, &[], Some(number), Default::default())
            .await?;
        tracing::info!(mailbox = %m.mailbox.name, message_id = %mail.message_id, ticket = number, rating,
            "satisfaction rating recorded");
        Ok(Outcome::new(
            Some(number),
            Action::Appended,
            Kind::Customer,
            mail,
        ))
    }
}

/// Records `rating` on `ticket` with its event; the last answer counts.
async fn rate(
    tx: &mut Tx,
    ticket: i64,
    rating: u8,
    message_id: Option<&str>,
    how: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    tx.rate(ticket, rating, now).await?;
    let event = (
        "rated",
        format!("{rating} of 5 {how} (the last answer counts)"),
    );
    tx.add_events(Some(ticket), message_id, now, &[event]).await
}

/// A rating given by the survey's link: `token` must be the customer's
/// token for a ticket whose survey was sent. Returns the ticket, or None
/// for a link that is not valid.
pub async fn rate_by_link(
    store: &Store,
    key: &TokenKey,
    token: &str,
    rating: u8,
    now: Timestamp,
) -> Result<Option<i64>, StoreError> {
    let Some(number) = claimed_ticket(token).filter(|_| (1..=5).contains(&rating)) else {
        return Ok(None);
    };
    let mut tx = store.begin().await?;
    let customer = tx.ticket_state(number).await?.and_then(|t| t.customer);
    let valid = customer.is_some_and(|c| {
        key.verify_for(Purpose::RateLink, token, [c.email.as_str()])
            .is_some()
    });
    if !valid || !tx.survey_sent(number).await? {
        tracing::warn!(ticket = number, "a rating link that is not valid was used");
        return Ok(None);
    }
    rate(&mut tx, number, rating, None, "by the survey link", now).await?;
    tx.commit().await?;
    tracing::info!(ticket = number, rating, "satisfaction rating recorded");
    Ok(Some(number))
}
