//! The look-ups threading needs, made in rule order inside the ingest
//! transaction and stopped as soon as a rule matches (most mail is settled by
//! its first look-up).

use super::Pipeline;
use crate::config::MailboxConfig;
use crate::domain::model::Kind;
use crate::domain::parse::ParsedMail;
use crate::domain::subject;
use crate::domain::thread::{TagFact, ThreadFacts, Threading, TokenFact, is_distinctive, thread};
use crate::domain::token;
use crate::store::{StoreError, Tx};
use jiff::Timestamp;

impl Pipeline {
    /// Threads `mail`, looking up only what the rules reach. Also returns
    /// the addresses its valid reply tokens were issued to (agents' proof).
    pub(super) async fn thread_message(
        &self,
        tx: &mut Tx,
        mailbox: &MailboxConfig,
        mail: &ParsedMail,
        kind: Kind,
        received_at: Timestamp,
    ) -> Result<(Threading, Vec<String>), StoreError> {
        let mut facts = ThreadFacts {
            use_returned_ids: kind == Kind::Bounce,
            ..ThreadFacts::default()
        };
        let settled =
            |facts: &ThreadFacts| matches!(thread(mail, facts), Threading::Existing { .. });

        // 1. Reply tokens in recipient addresses.
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
        let holders: Vec<String> = facts
            .tokens
            .iter()
            .filter_map(|t| t.issued_to.clone())
            .collect();
        if settled(&facts) {
            return Ok((thread(mail, &facts), holders));
        }

        // 2-3. Message-IDs: stored ones, then those earlier mail referred to.
        let mut ids: Vec<String> = mail
            .in_reply_to
            .iter()
            .chain(&mail.references)
            .cloned()
            .collect();
        if facts.use_returned_ids {
            ids.extend(
                mail.embedded_message_ids
                    .iter()
                    .chain(&mail.quoted_message_ids)
                    .cloned(),
            );
        }
        ids.sort();
        ids.dedup();
        if !ids.is_empty() {
            facts.known_ids = tx.tickets_of(&ids).await?;
            if !settled(&facts) {
                facts.referenced_ids = tx.tickets_referring_to(&ids).await?;
            }
            if settled(&facts) {
                return Ok((thread(mail, &facts), holders));
            }
        }

        // 4. The subject tag, from someone who belongs to that ticket.
        if let Some(n) = subject::find_tag(&mail.subject, &self.config.threading.tag_prefix) {
            let exists = tx.ticket_view(n).await?.is_some();
            let sender = mail
                .from
                .as_ref()
                .map(|f| f.email.as_str())
                .unwrap_or_default();
            let sender_known = exists && {
                let participants = tx.participants(n).await?;
                let domain = sender.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
                self.config.agent(sender).is_some()
                    || participants.iter().any(|p| p == sender)
                    || (self.config.threading.tag_same_domain
                        && !domain.is_empty()
                        && participants
                            .iter()
                            .any(|p| p.ends_with(&format!("@{domain}"))))
            };
            facts.tag = Some(TagFact {
                ticket: n,
                exists,
                sender_known,
            });
            if settled(&facts) {
                return Ok((thread(mail, &facts), holders));
            }
        }

        // 5. Outlook's conversation.
        if let Some(ti) = &mail.thread_index {
            facts.thread_index = tx.ticket_of_thread_index(ti).await?;
            if settled(&facts) {
                return Ok((thread(mail, &facts), holders));
            }
        }

        // 6. Same sender and subject, recently, on a ticket that is not closed.
        let normalized = subject::normalize(&mail.subject);
        if let Some(from) = &mail.from
            && is_distinctive(&normalized)
        {
            let since = received_at
                .checked_sub(self.config.threading.thread_window)
                .unwrap_or(received_at);
            if let Some(n) = tx
                .ticket_of_sender_subject(&from.email, &normalized, since)
                .await?
            {
                facts.sender_subject = Some((n, normalized));
            }
        }
        Ok((thread(mail, &facts), holders))
    }
}
