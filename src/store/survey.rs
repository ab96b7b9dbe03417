//! Satisfaction surveys in the database: one per ticket, under its primary
//! key, and the latest rating the customer gave.

use super::{Result, Store, Tx, col, ms, text};
use jiff::Timestamp;

impl Tx {
    /// Has this ticket's survey been sent?
    pub async fn survey_sent(&mut self, ticket: i64) -> Result<bool> {
        let row = sqlx::query("SELECT ticket FROM surveys WHERE ticket = $1")
            .bind(ticket)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(row.is_some())
    }

    /// Records the survey mail `message_id` as the ticket's one survey.
    pub async fn record_survey(
        &mut self,
        ticket: i64,
        message_id: &str,
        at: Timestamp,
    ) -> Result<()> {
        sqlx::query("INSERT INTO surveys (ticket, message_id, sent_at) VALUES ($1, $2, $3)")
            .bind(ticket)
            .bind(text(message_id))
            .bind(ms(at))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Stores the customer's answer and what they wrote with it; a later
    /// answer replaces an earlier one.
    pub async fn rate(
        &mut self,
        ticket: i64,
        rating: u8,
        comment: Option<&str>,
        at: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE surveys SET rating = $2, rated_at = $3, comment = $4 WHERE ticket = $1",
        )
        .bind(ticket)
        .bind(i64::from(rating))
        .bind(ms(at))
        .bind(comment.map(text))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}

impl Store {
    /// A ticket's latest rating and its comment, for `tickets show`.
    pub(super) async fn rating_of(&self, ticket: i64) -> Result<(Option<i64>, Option<String>)> {
        let row = sqlx::query("SELECT rating, comment FROM surveys WHERE ticket = $1")
            .bind(ticket)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok((col(&r, "rating")?, col(&r, "comment")?)),
            None => Ok((None, None)),
        }
    }
}
