//! The decision for a proven agent's mail on a ticket: which commands apply,
//! whether the text goes to the customer, to the other agents as a note, or
//! nowhere, who the ticket is assigned to, and what the receipt says. Pure.

use super::model::{Priority, Status};
use super::reply::{AgentText, Command};

/// What decide needs about the ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketFacts {
    pub number: i64,
    pub status: Status,
    pub assignee: Option<String>,
    /// `#merge N`: whether ticket N exists.
    pub merge_target_exists: bool,
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
    pub applied: Vec<String>,
    /// Lines for the receipt: what was not understood (with suggestions).
    pub not_understood: Vec<String>,
    /// Send the agent a receipt.
    pub receipt: bool,
    pub events: Vec<(&'static str, String)>,
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

/// Decides what `agent`'s mail does to the ticket. `direct`: the agent wrote
/// to the customer themselves (support only in Cc): recorded, not relayed.
pub fn decide_agent(
    agent: &AgentRef,
    text: &AgentText,
    ticket: &TicketFacts,
    direct: bool,
    agents: &[AgentRef],
) -> AgentDecision {
    let mut d = AgentDecision::default();
    for c in &text.commands {
        match c {
            Command::Close => {
                d.status = Some(Status::Closed);
                d.applied.push("status: closed".into());
            }
            Command::Resolve => {
                d.status = Some(Status::Resolved);
                d.applied.push("status: resolved".into());
            }
            Command::Pending => {
                d.status = Some(Status::Pending);
                d.applied
                    .push("status: pending (waiting for the customer)".into());
            }
            Command::Open => {
                d.status = Some(Status::Open);
                d.applied.push("status: open".into());
            }
            Command::Take => {
                d.assignee = Some(agent.email.clone());
                d.applied
                    .push(format!("assigned to {} (took it)", agent.name));
            }
            Command::Assign(who) => match find_agent(who, agents) {
                Some(a) => {
                    d.assignee = Some(a.email.clone());
                    d.applied
                        .push(format!("assigned to {} <{}>", a.name, a.email));
                }
                None => {
                    let names: Vec<&str> = agents.iter().map(|a| a.name.as_str()).collect();
                    d.not_understood.push(format!(
                        "#assign {who}: no agent of that name or address (agents: {})",
                        names.join(", ")
                    ));
                }
            },
            Command::Priority(p) => match Priority::parse(p) {
                Some(p) => {
                    d.priority = Some(p);
                    d.applied.push(format!("priority: {p}"));
                }
                None => d.not_understood.push(format!("#priority {p}")),
            },
            Command::Note => {
                d.note = true;
                d.applied
                    .push("internal note: the customer does not see it".into());
            }
            Command::Merge(n) if *n == ticket.number => {
                d.not_understood
                    .push(format!("#merge {n}: that is this ticket"));
            }
            Command::Merge(n) if !ticket.merge_target_exists => {
                d.not_understood.push(format!("#merge {n}: no such ticket"));
            }
            Command::Merge(n) => {
                d.merge_into = Some(*n);
                d.status = Some(Status::Closed);
                d.applied.push(format!("merged into #{n}"));
            }
            Command::Spam => {
                d.spam = true;
                d.status = Some(Status::Closed);
                d.applied.push("marked as spam and closed".into());
            }
        }
    }
    for n in &text.not_understood {
        d.not_understood.push(match &n.suggestion {
            Some(s) if s.starts_with('#') && !s.contains(' ') => {
                format!("{} (did you mean {s}?)", n.line)
            }
            Some(s) => format!("{} (expected {s})", n.line),
            None => format!("{} (not a command)", n.line),
        });
    }
    let has_text = !text.body.trim().is_empty();
    d.relay = has_text && !direct && !d.note && !d.spam && d.not_understood.is_empty();
    if has_text && d.note {
        d.events
            .push(("note", format!("internal note by {}", agent.email)));
    }
    if !d.not_understood.is_empty() && has_text && !d.note {
        d.events.push((
            "held back",
            "the reply was not sent to the customer: a command was not understood".into(),
        ));
    }
    d.responded = d.relay || (direct && has_text);
    if direct {
        d.events.push((
            "agent answered directly",
            format!(
                "{} wrote to the customer; recorded, not relayed",
                agent.email
            ),
        ));
    }
    if d.responded && ticket.assignee.is_none() && d.assignee.is_none() {
        d.assignee = Some(agent.email.clone());
        d.events.push((
            "assigned",
            format!(
                "{}: the first agent to answer takes the ticket",
                agent.email
            ),
        ));
    }
    for a in &d.applied {
        d.events
            .push(("command", format!("{} by {}", a, agent.email)));
    }
    d.receipt = !text.commands.is_empty() || !d.not_understood.is_empty();
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reply::read_agent_text;

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

    fn run(text: &str) -> AgentDecision {
        decide_agent(
            &agents()[0],
            &read_agent_text(text),
            &ticket(),
            false,
            &agents(),
        )
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
        assert_eq!(d.not_understood, vec!["#asign bob (did you mean #assign?)"]);
        let d = run("#assign carol\nHere is the answer.");
        assert!(!d.relay);
        assert!(d.not_understood[0].contains("no agent"));
        let d = run("#merge 7");
        assert!(d.not_understood[0].contains("this ticket"));
    }

    #[test]
    fn direct_replies_are_recorded_not_relayed() {
        let d = decide_agent(
            &agents()[1],
            &read_agent_text("Answer sent to you directly."),
            &ticket(),
            true,
            &agents(),
        );
        assert!(!d.relay && d.responded);
        assert_eq!(d.assignee.as_deref(), Some("bob@example.com"));
    }

    #[test]
    fn an_assigned_ticket_stays_with_its_assignee() {
        let t = TicketFacts {
            assignee: Some("bob@example.com".into()),
            ..ticket()
        };
        let d = decide_agent(
            &agents()[0],
            &read_agent_text("I can help."),
            &t,
            false,
            &agents(),
        );
        assert_eq!(d.assignee, None);
    }
}
