//! A watcher's mail: someone an escalation named who is not an agent,
//! answering with proof. Kept as an internal remark, never relayed.

use super::facts::Threaded;
use super::outgoing::{AgentNotice, Prompt};
use super::{IngestError, Msg, Outcome, Pipeline, Wake};
use crate::domain::auth::Proof;
use crate::domain::event::{Event, EventKind};
use crate::domain::model::{Action, Kind};
use crate::domain::trim::Known;
use crate::store::Tx;

impl Pipeline {
    /// A proven watcher's mail (someone an escalation named who is not an
    /// agent): kept on the ticket as their internal remark and passed to
    /// the ticket's agents, never relayed to the customer, never taken for
    /// the customer's words, moving no clock.
    pub(super) async fn ingest_remark(
        &self,
        mut tx: Tx,
        m: &Msg<'_>,
        number: i64,
        threaded: &Threaded,
        proof: &Proof,
    ) -> Result<Outcome, IngestError> {
        let mail = m.mail;
        let from = mail.from.clone().expect("a watcher has an address");
        self.store_incoming(&mut tx, m, Some(number), Kind::Agent)
            .await?;
        let t = tx
            .ticket_state(number)
            .await?
            .expect("threading found the ticket");
        let quotable = self.quotable(&mut tx, number, &mail.message_id).await?;
        let known = Known {
            texts: quotable.iter().map(String::as_str).collect(),
            earlier: vec![],
        };
        let text = crate::domain::reply::read_agent_text(&mail.text, &known).body;
        let agents = self.agents_of_ticket(m.mailbox, &t, &from.email);
        let who = from.name.clone().unwrap_or(from.email.clone());
        let from_name = format!("{who} ({})", m.mailbox.display_name);
        let person = crate::templates::PersonVars {
            name: from.name.clone(),
            email: from.email.clone(),
        };
        let shared = self
            .notify(
                &mut tx,
                AgentNotice {
                    mailbox: m.mailbox,
                    ticket: &t,
                    agents: &agents,
                    from_name: &from_name,
                    parent: (&mail.message_id, &mail.references),
                    about: &mail.message_id,
                    who: &who,
                    files: &[],
                    html: None,
                },
                || Prompt {
                    event: "note",
                    text: text.clone(),
                    subject: String::new(),
                    attachments: Vec::new(),
                    agent: Some(person.clone()),
                    result: Default::default(),
                    is_new: false,
                },
                m.now,
            )
            .await?;
        let events = vec![
            Event::new(
                EventKind::Remark,
                format!(
                    "internal remark <{}> by {} (not an agent; proven by {}): not relayed to the customer",
                    mail.message_id,
                    from.email,
                    proof.describe()
                ),
            ),
            Event::new(EventKind::Threading, threaded.threading.describe()),
            Event::new(
                EventKind::NoteShared,
                format!("with {} agent(s)", shared.sent),
            ),
        ];
        let woke = Wake {
            outbox: shared.sent > 0,
            scheduler: shared.held > 0,
        };
        self.finish(tx, m, &events, Some(number), woke).await?;
        tracing::info!(mailbox = %m.mailbox.name, message_id = %mail.message_id, ticket = number, from = %from.email, "remark by a watcher");
        Ok(Outcome::new(
            Some(number),
            Action::Appended,
            Kind::Agent,
            mail,
        ))
    }
}
