//! Satisfaction ratings: recorded on the ticket with their event (the last
//! answer counts), from a survey answered by mail or from the survey's
//! link. The HTTP handler of the link reaches this service, not the ingest
//! pipeline.

use crate::domain::event::{Event, EventKind};
use crate::domain::token::{Purpose, TokenKey, claimed_ticket};
use crate::store::{Store, StoreError, Tx};
use jiff::Timestamp;

/// Records `rating` on `ticket` with its event; the last answer counts.
pub async fn rate(
    tx: &mut Tx,
    ticket: i64,
    rating: u8,
    comment: Option<&str>,
    message_id: Option<&str>,
    how: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    tx.rate(ticket, rating, comment, now).await?;
    let event = Event::new(
        EventKind::Rated,
        format!("{rating} of 5 {how} (the last answer counts)"),
    );
    tx.add_events(Some(ticket), message_id, now, &[event]);
    Ok(())
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
    rate(
        &mut tx,
        number,
        rating,
        None,
        None,
        "by the survey link",
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(ticket = number, rating, "satisfaction rating recorded");
    Ok(Some(number))
}
