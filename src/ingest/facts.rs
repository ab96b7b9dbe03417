//! The look-ups threading needs, made in rule order inside the ingest
//! transaction and stopped as soon as a rule matches (most mail is settled by
//! its first look-up). Also what the message proves: whose tokens it carries
//! and whether its From address is proven (DESIGN §12).

use super::Pipeline;
use crate::config::MailboxConfig;
use crate::domain::auth::{Proof, sender_proof};
use crate::domain::model::Kind;
use crate::domain::parse::ParsedMail;
use crate::domain::subject;
use crate::domain::thread::{TagFact, ThreadFacts, Threading, TokenFact, is_distinctive, thread};
use crate::domain::token::{self, Purpose};
use crate::store::{ReturnedMail, StoreError, Tx};
use jiff::Timestamp;

/// A message's thread and what it proves.
pub(super) struct Threaded {
    pub threading: Threading,
    /// The addresses its verified tokens were issued to.
    pub holders: Vec<String>,
    /// The ticket of a verified survey token it carries: only such mail rates.
    pub survey_token: Option<i64>,
    /// Proof that it comes from its From address.
    pub proof: Option<Proof>,
    /// For a bounce: the Message-ID of our mail whose signed envelope
    /// sender it came back to.
    pub returned: Option<String>,
}

/// The reply tokens a message carries (see `Pipeline::token_facts`).
#[derive(Default)]
struct Tokens {
    tokens: Vec<TokenFact>,
    /// The ticket of a verified survey token.
    survey_token: Option<i64>,
    /// Whom its verified agent tokens were issued to.
    agent_holders: Vec<String>,
}

impl Pipeline {
    /// Threads `mail`, looking up only what the rules reach, and says what
    /// it proves: the holders of its valid tokens, and its sender.
    pub(super) async fn thread_message(
        &self,
        tx: &mut Tx,
        mailbox: &MailboxConfig,
        mail: &ParsedMail,
        kind: Kind,
        received_at: Timestamp,
        returned: Option<&ReturnedMail>,
    ) -> Result<Threaded, StoreError> {
        let mut facts = ThreadFacts {
            use_returned_ids: kind == Kind::Bounce,
            returned_mail: returned.and_then(|r| r.ticket.map(|t| (r.message_id.clone(), t))),
            ..ThreadFacts::default()
        };
        let settled =
            |facts: &ThreadFacts| matches!(thread(mail, facts), Threading::Existing { .. });

        // 1. Tokens in recipient addresses.
        let found = self.token_facts(tx, mailbox, mail).await?;
        facts.tokens = found.tokens;
        let survey_token = found.survey_token;
        let agent_holders = found.agent_holders;
        let holders: Vec<String> = facts
            .tokens
            .iter()
            .filter_map(|t| t.issued_to.clone())
            .chain(agent_holders)
            .collect();
        let proof = sender_proof(mail, &holders, &self.config.trusted_authserv_ids);
        let done = |facts: &ThreadFacts, holders: Vec<String>, proof: Option<Proof>| Threaded {
            threading: thread(mail, facts),
            holders,
            survey_token,
            proof,
            returned: returned.map(|r| r.message_id.clone()),
        };
        if settled(&facts) {
            return Ok(done(&facts, holders, proof));
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
                return Ok(done(&facts, holders, proof));
            }
        }

        // 4. The subject tag, from someone who belongs to that ticket.
        if let Some(n) = subject::find_tag(&mail.subject, &self.config.threading.tag_prefix) {
            facts.tag = Some(self.tag_fact(tx, mail, n, proof.is_some()).await?);
            if settled(&facts) {
                return Ok(done(&facts, holders, proof));
            }
        }

        // 5. Outlook's conversation.
        if let Some(ti) = &mail.thread_index {
            facts.thread_index = tx.ticket_of_thread_index(ti).await?;
            if settled(&facts) {
                return Ok(done(&facts, holders, proof));
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
        Ok(done(&facts, holders, proof))
    }

    /// The reply tokens in `mail`'s recipient addresses, each verified
    /// against everyone the ticket's mail went to (its participants and
    /// the agents).
    async fn token_facts(
        &self,
        tx: &mut Tx,
        mailbox: &MailboxConfig,
        mail: &ParsedMail,
    ) -> Result<Tokens, StoreError> {
        let mut found = Tokens::default();
        let recipients = mail.recipient_addresses();
        for t in token::tokens_in(&recipients, mailbox.local_part(), mailbox.domain()) {
            let Some(claim) = token::claim(t) else {
                continue;
            };
            let n = claim.ticket;
            let mut candidates: Vec<String> = tx
                .participants(n)
                .await?
                .into_iter()
                .map(|(e, _)| e)
                .collect();
            candidates.extend(self.config.agents.iter().map(|a| a.email.clone()));
            let issued_to = match claim.purpose {
                Purpose::Reply | Purpose::Survey | Purpose::Agent => self
                    .key
                    .verify(t, candidates.iter().map(String::as_str))
                    .map(str::to_string),
                // A rating link's token is for the web page only.
                Purpose::RateLink => None,
            };
            if issued_to.is_none() {
                tracing::warn!(message_id = %mail.message_id, token = t, "reply token does not verify: ignored");
            } else if claim.purpose == Purpose::Survey {
                found.survey_token = Some(n);
            }
            if claim.purpose == Purpose::Agent {
                // Proves the agent; names no ticket to thread into.
                found.agent_holders.extend(issued_to);
                continue;
            }
            found.tokens.push(TokenFact {
                token: t.to_string(),
                ticket: n,
                issued_to,
            });
        }
        Ok(found)
    }

    /// The subject tag naming ticket `n`, and whether its sender belongs
    /// to that ticket: one of its customers (a claim may add text), or an
    /// agent or watcher whose mail proves it is theirs (`proven`). An
    /// internal address without proof is no participant: anyone can write
    /// it in a From.
    async fn tag_fact(
        &self,
        tx: &mut Tx,
        mail: &ParsedMail,
        n: i64,
        proven: bool,
    ) -> Result<TagFact, StoreError> {
        let exists = tx.ticket_view(n).await?.is_some();
        let sender = mail
            .from
            .as_ref()
            .map(|f| f.email.as_str())
            .unwrap_or_default();
        let sender_known = exists && !sender.is_empty() && {
            let participants = tx.participants(n).await?;
            let domain = sender.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
            let internal = self.config.agent(sender).is_some()
                || participants
                    .iter()
                    .any(|(p, r)| p == sender && !r.is_audience());
            if internal {
                proven
            } else {
                participants
                    .iter()
                    .any(|(p, r)| p == sender && r.is_audience())
                    || (self.config.threading.tag_same_domain
                        && !domain.is_empty()
                        && participants
                            .iter()
                            .any(|(p, r)| r.is_audience() && p.ends_with(&format!("@{domain}"))))
            }
        };
        Ok(TagFact {
            ticket: n,
            exists,
            sender_known,
        })
    }
}
