//! What a reply may quote, read from the ticket: the texts of its latest
//! messages (notifications and answers we sent, what the customer wrote),
//! a writer's earlier mail (their signature), and what the customer last
//! wrote, trimmed — for trimming replies by alignment and for telling an
//! agent what the ticket is about.

use super::Pipeline;
use crate::domain::parse::parse_limited;
use crate::domain::trim::{Known, trim};
use crate::store::{StoreError, Tx};

/// How many of a ticket's messages a reply is compared with.
const QUOTABLE: i64 = 30;
/// How many of a writer's earlier mails teach their signature.
const EARLIER: i64 = 6;

impl Pipeline {
    fn text_of(&self, raw: &[u8]) -> String {
        parse_limited(raw, self.config.limits.max_message_size, None).text
    }

    /// The texts of ticket `n`'s latest messages, newest first, but `except`.
    pub(super) async fn quotable(
        &self,
        tx: &mut Tx,
        n: i64,
        except: &str,
    ) -> Result<Vec<String>, StoreError> {
        Ok(tx
            .ticket_raws(n, except, QUOTABLE)
            .await?
            .iter()
            .map(|r| self.text_of(r))
            .collect())
    }

    /// The texts of `email`'s latest agent mails.
    pub(super) async fn earlier_of(
        &self,
        tx: &mut Tx,
        email: &str,
    ) -> Result<Vec<String>, StoreError> {
        Ok(tx
            .agent_raws(email, EARLIER)
            .await?
            .iter()
            .map(|r| self.text_of(r))
            .collect())
    }

    /// What the customer last wrote on ticket `n`, without what they
    /// quoted (compared with what the ticket held before it).
    pub(super) async fn latest_customer_text(
        &self,
        tx: &mut Tx,
        n: i64,
    ) -> Result<String, StoreError> {
        let Some((id, _)) = tx.latest_customer_message(n).await? else {
            return Ok(String::new());
        };
        let Some(raw) = tx.raw_message(&id).await? else {
            return Ok(String::new());
        };
        let before: Vec<String> = tx
            .ticket_raws_before(n, &id, QUOTABLE)
            .await?
            .iter()
            .map(|r| self.text_of(r))
            .collect();
        let known = Known {
            texts: before.iter().map(String::as_str).collect(),
            earlier: vec![],
        };
        Ok(trim(&self.text_of(&raw), &known).text)
    }
}
