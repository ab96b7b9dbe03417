//! The decision for a proven agent's mail on a ticket: which commands apply,
//! whether the text goes to the customer, to the other agents as a note, or
//! nowhere, who the ticket is assigned to, and what the receipt says. Pure.

use super::model::{Priority, Status};
use super::phrase::Phrase;
use super::reply::{AgentCommand, AgentText, Hint, NotUnderstood, Overview};
use crate::domain::event::{Event, EventKind};

/// What decide needs about the ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketFacts {
    pub number: i64,
    pub status: Status,
    pub assignee: Option<String>,
    /// `#merge N`: whether ticket N exists.
    pub merge_target_exists: bool,
}

/// The agent's mail, as read.
#[derive(Debug, Clone, Copy)]
pub struct Mail<'a> {
    pub text: &'a AgentText,
    /// Files attached (an answer may be a file alone).
    pub attachments: usize,
    /// Written to the customer directly, support only in copy.
    pub direct: bool,
}

/// An agent of the configuration, for `#assign`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRef {
    pub email: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentDecision {
    pub status: Option<Status>,
    pub assignee: Option<String>,
    pub priority: Option<Priority>,
    pub merge_into: Option<i64>,
    pub spam: bool,
    /// Send the text to the customer.
    pub relay: bool,
    /// Send the text to the other agents as an internal note.
    pub note: bool,
    /// This mail answers the customer (relayed, or written to them directly).
    pub responded: bool,
    /// Lines for the receipt: what was applied.
    pub applied: Vec<Phrase>,
    /// Lines for the receipt: what was not understood (with suggestions).
    pub not_understood: Vec<Phrase>,
    /// Send the agent a receipt.
    pub receipt: bool,
    /// The receipt carries the ticket's files (`#attachments`).
    pub files: bool,
    /// Why nothing went to the customer when the agent seemed to answer
    /// (for the receipt; the full text stays on the ticket).
    pub held: Option<Phrase>,
    /// Someone else now holds the ticket: tell them.
    pub notify_assignee: Option<String>,
    /// Who held it before and lost it to someone else: tell them too.
    pub notify_previous: Option<String>,
    /// Lists of tickets the agent asked for (answered in their own mail).
    pub overview: Vec<Overview>,
    pub events: Vec<Event>,
}

/// The receipt of a status command.
fn status(s: Status) -> Phrase {
    Phrase::new("receipt.status").with("status", s.as_str())
}

/// `#assign bob` → the agent named or addressed so (case-insensitive).
fn find_agent<'a>(who: &str, agents: &'a [AgentRef]) -> Option<&'a AgentRef> {
    let w = who
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_lowercase();
    agents
        .iter()
        .find(|a| a.email == w || a.name.to_lowercase() == w)
        .or_else(|| {
            agents
                .iter()
                .find(|a| a.email.split('@').next() == Some(w.as_str()))
        })
}

/// Decides what `agent`'s mail does to the ticket. A mail written to the
/// customer directly (support only in Cc) is recorded, not relayed. Words
/// are never dropped silently: a reply that trimming left empty, or whose
/// trimming had to guess more than it kept, is held with a receipt.
pub fn decide_agent(
    agent: &AgentRef,
    mail: &Mail<'_>,
    ticket: &TicketFacts,
    agents: &[AgentRef],
) -> AgentDecision {
    let (text, direct) = (mail.text, mail.direct);
    let mut d = AgentDecision::default();
    for c in &text.commands {
        command(&mut d, c, agent, ticket, agents);
    }
    d.not_understood
        .extend(text.not_understood.iter().map(not_understood));
    let has_text = !text.body.trim().is_empty();
    let answers = (has_text || mail.attachments > 0) && !direct && !d.note && !d.spam;
    d.relay = answers && d.not_understood.is_empty() && !text.doubtful;
    if has_text && d.note {
        d.events.push(Event::new(
            EventKind::Note,
            format!("internal note by {}", agent.email),
        ));
    }
    if !d.not_understood.is_empty() && has_text && !d.note {
        d.events.push(Event::new(
            EventKind::HeldBack,
            "the reply was not sent to the customer: a command was not understood".into(),
        ));
    }
    if answers && d.not_understood.is_empty() && text.doubtful {
        d.events.push(Event::new(
            EventKind::HeldBack,
            format!(
                "nothing relayed: below the text, {} line(s) looked like a quoted mail \
                 but match no mail of this ticket",
                text.cut.guessed
            ),
        ));
        d.held = Some(Phrase::new("held.doubtful").with("lines", text.cut.guessed));
    }
    if let Some((event, phrase)) = nothing_of_its_own(mail) {
        d.events.push(event);
        d.held = Some(phrase);
    }
    d.responded = d.relay || (direct && has_text);
    if direct {
        d.events.push(Event::new(
            EventKind::AgentAnsweredDirectly,
            format!(
                "{} wrote to the customer; recorded, not relayed",
                agent.email
            ),
        ));
    }
    if d.responded && ticket.assignee.is_none() && d.assignee.is_none() {
        d.assignee = Some(agent.email.clone());
        d.events.push(Event::new(
            EventKind::Assigned,
            format!(
                "{}: the first agent to answer takes the ticket",
                agent.email
            ),
        ));
    }
    for c in text
        .commands
        .iter()
        .filter(|c| !matches!(c, AgentCommand::Overview(_)))
    {
        d.events.push(Event::new(
            EventKind::Command,
            format!("{} by {}", c.written(), agent.email),
        ));
    }
    who_to_tell(&mut d, agent, ticket);
    let ticket_commands = text
        .commands
        .iter()
        .any(|c| !matches!(c, AgentCommand::Overview(_)));
    d.receipt = ticket_commands || !d.not_understood.is_empty() || d.held.is_some();
    d
}

/// Who hears of a change of assignee: the new one and the previous one,
/// unless they made the change themselves.
fn who_to_tell(d: &mut AgentDecision, agent: &AgentRef, ticket: &TicketFacts) {
    if let Some(new) = &d.assignee
        && ticket.assignee.as_ref() != Some(new)
    {
        if *new != agent.email {
            d.notify_assignee = Some(new.clone());
        }
        if let Some(old) = &ticket.assignee
            && *old != agent.email
        {
            d.notify_previous = Some(old.clone());
        }
    }
}

/// A reply with nothing of its own (only the quote, no attachment, no
/// command): nothing is relayed, and the agent is told why.
fn nothing_of_its_own(mail: &Mail<'_>) -> Option<(Event, Phrase)> {
    let text = mail.text;
    let empty = text.body.trim().is_empty()
        && mail.attachments == 0
        && !mail.direct
        && text.commands.is_empty()
        && text.not_understood.is_empty();
    if !empty {
        return None;
    }
    let cut = text.cut.quoted + text.cut.aligned + text.cut.original;
    let event = Event::new(
        EventKind::NothingRelayed,
        format!(
            "the reply had no text of its own (only the quoted mail: {cut} line(s) cut) \
             and no attachment"
        ),
    );
    Some((event, Phrase::new("held.empty").with("lines", cut)))
}

/// What one command of `agent`'s mail changes.
fn command(
    d: &mut AgentDecision,
    c: &AgentCommand,
    agent: &AgentRef,
    ticket: &TicketFacts,
    agents: &[AgentRef],
) {
    let line = c.written();
    match c {
        AgentCommand::Close
        | AgentCommand::Resolve
        | AgentCommand::Pending
        | AgentCommand::Open => {
            let s = match c {
                AgentCommand::Close => Status::Closed,
                AgentCommand::Resolve => Status::Resolved,
                AgentCommand::Pending => Status::Pending,
                _ => Status::Open,
            };
            d.status = Some(s);
            d.applied.push(status(s));
        }
        AgentCommand::Take => {
            d.assignee = Some(agent.email.clone());
            d.applied
                .push(Phrase::new("receipt.took").with("name", &agent.name));
        }
        AgentCommand::Assign(who) => match find_agent(who, agents) {
            Some(a) => {
                d.assignee = Some(a.email.clone());
                d.applied.push(
                    Phrase::new("receipt.assigned")
                        .with("name", &a.name)
                        .with("email", &a.email),
                );
            }
            None => {
                let names: Vec<&str> = agents.iter().map(|a| a.name.as_str()).collect();
                d.not_understood.push(
                    Phrase::new("unknown.agent")
                        .with("line", &line)
                        .with("agents", names.join(", ")),
                );
            }
        },
        AgentCommand::Priority(p) => match Priority::parse(p) {
            Some(p) => {
                d.priority = Some(p);
                d.applied
                    .push(Phrase::new("receipt.priority").with("priority", p));
            }
            None => d
                .not_understood
                .push(Phrase::new("unknown.usage.priority").with("line", &line)),
        },
        AgentCommand::Note => {
            d.note = true;
            d.applied.push(Phrase::new("receipt.note"));
        }
        AgentCommand::Merge(n) if *n == ticket.number => {
            d.not_understood
                .push(Phrase::new("unknown.merge_self").with("line", &line));
        }
        AgentCommand::Merge(n) if !ticket.merge_target_exists => {
            d.not_understood
                .push(Phrase::new("unknown.merge_missing").with("line", &line));
        }
        AgentCommand::Merge(n) => {
            d.merge_into = Some(*n);
            d.status = Some(Status::Closed);
            d.applied
                .push(Phrase::new("receipt.merged").with("number", n));
        }
        AgentCommand::Spam => {
            d.spam = true;
            d.status = Some(Status::Closed);
            d.applied.push(Phrase::new("receipt.spam"));
        }
        AgentCommand::Files => {
            d.files = true;
            d.applied.push(Phrase::new("receipt.files"));
        }
        AgentCommand::Overview(o) => d.overview.push(o.clone()),
    }
}

/// The receipt's words for a line that looked like a command but is none.
fn not_understood(n: &NotUnderstood) -> Phrase {
    match &n.hint {
        Some(Hint::DidYouMean(c)) => Phrase::new("unknown.did_you_mean").with("command", c),
        Some(Hint::Usage(usage)) => Phrase::new(match *usage {
            "assign" => "unknown.usage.assign",
            "priority" => "unknown.usage.priority",
            "merge" => "unknown.usage.merge",
            _ => "unknown.usage.find",
        }),
        Some(Hint::NoArgument) => Phrase::new("unknown.no_argument"),
        None => Phrase::new("unknown.not_a_command"),
    }
    .with("line", &n.line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reply::{AgentText, read_agent_text};
    use crate::domain::trim::Known;

    fn agents() -> Vec<AgentRef> {
        vec![
            AgentRef {
                email: "alice@example.com".into(),
                name: "Alice".into(),
            },
            AgentRef {
                email: "bob@example.com".into(),
                name: "Bob".into(),
            },
        ]
    }

    fn ticket() -> TicketFacts {
        TicketFacts {
            number: 7,
            status: Status::Open,
            assignee: None,
            merge_target_exists: true,
        }
    }

    fn read(text: &str) -> AgentText {
        read_agent_text(text, &Known::default())
    }

    fn decide(
        who: usize,
        text: &str,
        t: &TicketFacts,
        attachments: usize,
        direct: bool,
    ) -> AgentDecision {
        let text = read(text);
        let mail = Mail {
            text: &text,
            attachments,
            direct,
        };
        decide_agent(&agents()[who], &mail, t, &agents())
    }

    fn run(text: &str) -> AgentDecision {
        decide(0, text, &ticket(), 0, false)
    }

    #[test]
    fn a_plain_reply_is_relayed_and_takes_the_ticket() {
        let d = run("Please restart the printer.");
        assert!(d.relay && d.responded && !d.receipt);
        assert_eq!(d.assignee.as_deref(), Some("alice@example.com"));
    }

    #[test]
    fn commands_without_text_change_the_ticket_only() {
        let d = run("#close\n");
        assert_eq!(d.status, Some(Status::Closed));
        assert!(!d.relay && !d.responded && d.receipt);
        let d = run("#assign bob\n#priority high");
        assert_eq!(d.assignee.as_deref(), Some("bob@example.com"));
        assert_eq!(d.priority, Some(Priority::High));
    }

    #[test]
    fn a_reply_with_commands_is_relayed_and_receipted() {
        let d = run("#resolve\nFixed in release 2.1.");
        assert!(d.relay && d.receipt);
        assert_eq!(d.status, Some(Status::Resolved));
    }

    #[test]
    fn notes_and_spam_reach_no_customer() {
        let d = run("#note\nCustomer is on the old plan.");
        assert!(!d.relay && d.note && !d.responded);
        let d = run("#spam");
        assert!(d.spam && !d.relay);
        assert_eq!(d.status, Some(Status::Closed));
    }

    #[test]
    fn anything_not_understood_holds_the_reply_back() {
        let d = run("#asign bob\nHere is the answer.");
        assert!(!d.relay && d.receipt);
        assert_eq!(
            d.not_understood,
            vec![
                Phrase::new("unknown.did_you_mean")
                    .with("command", "#assign")
                    .with("line", "#asign bob")
            ]
        );
        let d = run("#assign carol\nHere is the answer.");
        assert!(!d.relay);
        assert_eq!(d.not_understood[0].key, "unknown.agent");
        assert_eq!(d.not_understood[0].arg("agents"), Some("Alice, Bob"));
        let d = run("#merge 7");
        assert_eq!(d.not_understood[0].key, "unknown.merge_self");
    }

    #[test]
    fn direct_replies_are_recorded_not_relayed() {
        let d = decide(1, "Answer sent to you directly.", &ticket(), 0, true);
        assert!(!d.relay && d.responded);
        assert_eq!(d.assignee.as_deref(), Some("bob@example.com"));
    }

    #[test]
    fn an_assigned_ticket_stays_with_its_assignee() {
        let t = TicketFacts {
            assignee: Some("bob@example.com".into()),
            ..ticket()
        };
        let d = decide(0, "I can help.", &t, 0, false);
        assert_eq!(d.assignee, None);
    }

    #[test]
    fn a_file_alone_is_an_answer_and_an_empty_reply_gets_a_receipt() {
        let d = decide(0, "", &ticket(), 1, false);
        assert!(d.relay && d.responded && d.held.is_none());
        let d = run(
            "\n\nOn Mon, 30 Nov 2026 at 14:46, Support <s@example.com> wrote:\n> the printer shows E42\n",
        );
        assert!(!d.relay && d.receipt);
        assert_eq!(d.held.as_ref().map(|h| h.key), Some("held.empty"));
        assert_eq!(d.held.as_ref().and_then(|h| h.arg("lines")), Some("1"));
        assert!(d.events.iter().any(|e| e.kind == EventKind::NothingRelayed));
    }

    #[test]
    fn a_doubtful_trim_holds_the_reply_back() {
        let d = run(
            "Ok.\n\nFrom: our warehouse team\nTo: the courier\nThe parcel left on Monday.\nIt should arrive on Thursday.\nTracking number 12345.\n",
        );
        assert!(!d.relay && d.receipt);
        assert_eq!(d.held.as_ref().map(|h| h.key), Some("held.doubtful"));
    }

    #[test]
    fn a_new_assignee_and_the_previous_one_are_told() {
        let d = run("#assign bob");
        assert_eq!(d.notify_assignee.as_deref(), Some("bob@example.com"));
        let t = TicketFacts {
            assignee: Some("bob@example.com".into()),
            ..ticket()
        };
        let d = decide(0, "#take", &t, 0, false);
        assert_eq!(d.notify_assignee, None, "alice took it herself");
        assert_eq!(d.notify_previous.as_deref(), Some("bob@example.com"));
        let d = decide(1, "#take", &t, 0, false);
        assert_eq!(
            (d.notify_assignee, d.notify_previous),
            (None, None),
            "already bob's"
        );
    }
}
