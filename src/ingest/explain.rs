//! `postdesk explain`: the reasoning for one message without storing it —
//! what parsing repaired, which evidence classified it, which rule threads
//! it, whether it proves its sender, and what the decision would be. The
//! look-ups run in a transaction that is rolled back, never committed.

use super::{IngestError, Pipeline};
use crate::config::MailboxConfig;
use crate::domain::auth::{AgentCheck, check_agent};
use crate::domain::decide::{self, Inputs, Rules, Sent};
use crate::domain::parse::parse_limited;
use serde::Serialize;

/// Everything `explain` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub message_id: String,
    pub from: Option<String>,
    pub subject: String,
    /// What parsing noticed or repaired (`address-repaired` …).
    pub flags: Vec<&'static str>,
    pub kind: String,
    /// The class of evidence that decided (`rfc3834`, `helpdesk` …).
    pub evidence: &'static str,
    pub reason: String,
    /// `threaded by …` or `new conversation`.
    pub threading: String,
    pub ticket: Option<i64>,
    /// How the sender is proven, if at all; for agents' addresses, why not.
    pub proof: Option<String>,
    pub agent: Option<String>,
    /// `created`, `appended`, `ignored`.
    pub action: String,
    /// Who would be acknowledged (limits and suppressions not counted).
    pub acknowledge: Option<String>,
    /// The decision's events, as the ticket's log would show them.
    pub events: Vec<(String, String)>,
}

impl Pipeline {
    /// Explains `raw` as if it had arrived in `mailbox` now; stores nothing.
    pub async fn explain(
        &self,
        mailbox: &MailboxConfig,
        raw: &[u8],
    ) -> Result<Explanation, IngestError> {
        let mail = parse_limited(raw, self.config.limits.max_message_size, None);
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let look = self.first_look(&mut tx, &mail).await?;
        let class = self.classify_with(&mail, &look);
        let returned = self
            .returned_mail(&mut tx, mailbox, &mail, class.kind)
            .await?;
        let threaded = self
            .thread_message(&mut tx, mailbox, &mail, class.kind, now, returned.as_ref())
            .await?;
        let view = match threaded.threading.ticket() {
            Some(n) => tx.ticket_view(n).await?,
            None => None,
        };
        let agents: Vec<String> = self.config.agents.iter().map(|a| a.email.clone()).collect();
        let agent = match check_agent(
            &mail,
            &agents,
            &threaded.holders,
            &self.config.trusted_authserv_ids,
        ) {
            AgentCheck::NotAnAgent => None,
            AgentCheck::Proven { email, proof } => {
                Some(format!("{email}, proven by {}", proof.describe()))
            }
            AgentCheck::Unproven { email, why, .. } => Some(format!(
                "{email}, NOT proven: {why} (set aside, the agent is told)"
            )),
        };
        // Nothing of this is kept.
        tx.rollback().await?;
        let ours = self.config.our_addresses();
        let rules = Rules {
            limits: &self.config.limits,
            reopen_window: self.config.threading.reopen_window,
            our_addresses: &ours,
            lists_open_tickets: mailbox.list_mail_opens_tickets,
            verp: mailbox.verp,
        };
        let d = decide::decide(&Inputs {
            mail: &mail,
            class: &class,
            threading: &threaded.threading,
            ticket: view.as_ref(),
            received_at: now,
            sent: Sent::default(),
            suppressed: None,
            proven: threaded.proof.is_some(),
            verp: threaded.returned.as_deref(),
            rules: &rules,
        });
        Ok(Explanation {
            message_id: mail.message_id.clone(),
            from: mail.from.as_ref().map(|a| a.email.clone()),
            subject: mail.subject.clone(),
            flags: mail.flags.clone(),
            kind: class.kind.to_string(),
            evidence: class.evidence.name(),
            reason: class.reason.clone(),
            threading: threaded.threading.describe(),
            ticket: threaded.threading.ticket(),
            proof: threaded.proof.as_ref().map(|p| p.describe()),
            agent,
            action: d.action.to_string(),
            acknowledge: d.acknowledge.map(|a| a.email),
            events: d
                .events
                .into_iter()
                .map(|e| (e.kind.to_string(), e.detail))
                .collect(),
        })
    }
}
