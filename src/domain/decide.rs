//! The decision for one incoming message, given its classification, its
//! thread and the ticket it belongs to: create, append, reopen or ignore;
//! the ticket's new state; and whether to acknowledge. Pure: every input is a
//! value, including the time.

use super::classify::{Classification, Us, is_noreply, is_ours};
use super::model::{Action, Address, Kind, Status};
use super::parse::ParsedMail;
use super::thread::Threading;
use jiff::{SignedDuration, Timestamp};

/// What decide needs to know about the ticket a message threads into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketView {
    pub number: i64,
    pub status: Status,
    pub updated_at: Timestamp,
}

/// Settings that shape decisions.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    pub acks_per_hour: u32,
    pub reopen_window: SignedDuration,
    pub first_response: SignedDuration,
    /// Our addresses, lower-cased: never acknowledged.
    pub our_addresses: &'a [String],
}

pub struct Inputs<'a> {
    pub mail: &'a ParsedMail,
    pub class: &'a Classification,
    pub threading: &'a Threading,
    /// The ticket `threading` names, if it exists.
    pub ticket: Option<&'a TicketView>,
    pub received_at: Timestamp,
    /// Acknowledgements sent to the reply address in the last hour.
    pub recent_acks: u32,
    pub rules: &'a Rules<'a>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketPlan {
    /// Store the message without a ticket.
    None,
    Create {
        customer: Option<Address>,
        /// The closed ticket this one follows up, when a late reply opens a new ticket.
        follows: Option<i64>,
        first_response_due: Timestamp,
    },
    Update {
        number: i64,
        /// New status, when it changes.
        status: Option<Status>,
        /// The customer wrote (moves `last_customer_at`).
        customer_activity: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    pub ticket: TicketPlan,
    /// `(what, detail)` entries for the ticket's event log.
    pub events: Vec<(&'static str, String)>,
    /// Send an acknowledgement to this address.
    pub acknowledge: Option<Address>,
}

pub fn decide(i: &Inputs<'_>) -> Decision {
    let mut events: Vec<(&'static str, String)> = Vec::new();
    let kind = i.class.kind;
    events.push((
        "received",
        format!(
            "{} message <{}>: {}",
            kind, i.mail.message_id, i.class.reason
        ),
    ));
    events.push(("threading", i.threading.describe()));

    // Automatic mail: attach where it belongs, otherwise keep it without a ticket.
    if kind.is_automatic() {
        return match i.ticket {
            Some(t) => Decision {
                action: Action::Appended,
                ticket: TicketPlan::Update {
                    number: t.number,
                    status: None,
                    customer_activity: false,
                },
                events,
                acknowledge: None,
            },
            None => {
                events.push((
                    "ignored",
                    format!("{kind} mail without a ticket is stored, not answered"),
                ));
                Decision {
                    action: Action::Ignored,
                    ticket: TicketPlan::None,
                    events,
                    acknowledge: None,
                }
            }
        };
    }

    if let Some(t) = i.ticket {
        let late = i.received_at.duration_since(t.updated_at) > i.rules.reopen_window;
        let closed = matches!(t.status, Status::Resolved | Status::Closed);
        if !(closed && late) {
            let status = match t.status {
                Status::Open => None,
                Status::Pending => {
                    events.push(("status", "pending -> open: the customer wrote".into()));
                    Some(Status::Open)
                }
                s => {
                    events.push((
                        "reopened",
                        format!("{s} -> open: the customer wrote within the reopen window"),
                    ));
                    Some(Status::Open)
                }
            };
            return Decision {
                action: Action::Appended,
                ticket: TicketPlan::Update {
                    number: t.number,
                    status,
                    customer_activity: kind == Kind::Customer,
                },
                events,
                acknowledge: None,
            };
        }
        events.push((
            "follow-up",
            format!(
                "ticket #{} is {} since beyond the reopen window: a new ticket follows it",
                t.number, t.status
            ),
        ));
    }

    let follows = i.ticket.map(|t| t.number);
    let acknowledge = ack_target(i, &mut events);
    Decision {
        action: Action::Created,
        ticket: TicketPlan::Create {
            customer: i.mail.from.clone(),
            follows,
            first_response_due: i
                .received_at
                .checked_add(i.rules.first_response)
                .unwrap_or(i.received_at),
        },
        events,
        acknowledge,
    }
}

/// Who gets the acknowledgement of a new ticket, if anyone; records why not.
fn ack_target(i: &Inputs<'_>, events: &mut Vec<(&'static str, String)>) -> Option<Address> {
    let Some(to) = i.mail.reply_address() else {
        events.push(("not acknowledged", "no sender address".into()));
        return None;
    };
    if is_ours(
        &to.email,
        &Us {
            addresses: i.rules.our_addresses,
        },
    ) {
        events.push((
            "not acknowledged",
            format!("{} is our own address", to.email),
        ));
        return None;
    }
    if is_noreply(to.local_part()) {
        events.push((
            "not acknowledged",
            format!("{} does not read replies", to.email),
        ));
        return None;
    }
    if i.recent_acks >= i.rules.acks_per_hour {
        events.push((
            "not acknowledged",
            format!(
                "rate limit: {} acknowledgements to {} in the last hour (limit {})",
                i.recent_acks, to.email, i.rules.acks_per_hour
            ),
        ));
        return None;
    }
    Some(to.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::parse::parse;
    use crate::domain::thread::Rule;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    struct Case {
        mail: ParsedMail,
        class: Classification,
        threading: Threading,
        ticket: Option<TicketView>,
        recent_acks: u32,
    }

    impl Case {
        fn new(from: &str, kind: Kind) -> Self {
            Case {
                mail: parse(
                    format!("From: {from}\r\nSubject: help\r\nMessage-ID: <m@x>\r\n\r\nhi")
                        .as_bytes(),
                ),
                class: Classification {
                    kind,
                    reason: "test".into(),
                },
                threading: Threading::New { notes: vec![] },
                ticket: None,
                recent_acks: 0,
            }
        }

        fn on(mut self, number: i64, status: Status, updated: &str) -> Self {
            self.threading = Threading::Existing {
                ticket: number,
                rule: Rule::InReplyTo,
                evidence: "<a@b>".into(),
            };
            self.ticket = Some(TicketView {
                number,
                status,
                updated_at: at(updated),
            });
            self
        }

        fn decide(&self) -> Decision {
            let ours = vec!["support@example.com".to_string()];
            let rules = Rules {
                acks_per_hour: 3,
                reopen_window: SignedDuration::from_hours(24 * 14),
                first_response: SignedDuration::from_hours(24),
                our_addresses: &ours,
            };
            decide(&Inputs {
                mail: &self.mail,
                class: &self.class,
                threading: &self.threading,
                ticket: self.ticket.as_ref(),
                received_at: at("2026-11-26T10:00:00Z"),
                recent_acks: self.recent_acks,
                rules: &rules,
            })
        }
    }

    #[test]
    fn new_customer_mail_creates_and_acknowledges() {
        let d = Case::new("jane@example.org", Kind::Customer).decide();
        assert_eq!(d.action, Action::Created);
        assert_eq!(d.acknowledge.unwrap().email, "jane@example.org");
        match d.ticket {
            TicketPlan::Create {
                first_response_due, ..
            } => {
                assert_eq!(first_response_due, at("2026-11-27T10:00:00Z"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn replies_append_without_acknowledgement() {
        let d = Case::new("jane@example.org", Kind::Customer)
            .on(4, Status::Open, "2026-11-25T10:00:00Z")
            .decide();
        assert_eq!(d.action, Action::Appended);
        assert_eq!(d.acknowledge, None);
    }

    #[test]
    fn pending_and_recently_resolved_tickets_reopen() {
        for s in [Status::Pending, Status::Resolved, Status::Closed] {
            let d = Case::new("jane@example.org", Kind::Customer)
                .on(4, s, "2026-11-20T10:00:00Z")
                .decide();
            assert_eq!(
                d.ticket,
                TicketPlan::Update {
                    number: 4,
                    status: Some(Status::Open),
                    customer_activity: true
                }
            );
        }
    }

    #[test]
    fn late_reply_to_closed_ticket_opens_a_linked_one() {
        let d = Case::new("jane@example.org", Kind::Customer)
            .on(4, Status::Closed, "2026-10-01T10:00:00Z")
            .decide();
        assert_eq!(d.action, Action::Created);
        assert!(matches!(
            d.ticket,
            TicketPlan::Create {
                follows: Some(4),
                ..
            }
        ));
        assert!(d.acknowledge.is_some());
    }

    #[test]
    fn automatic_mail_is_never_acknowledged() {
        for k in [Kind::AutoReply, Kind::Bounce, Kind::List, Kind::Loop] {
            let d = Case::new("jane@example.org", k).decide();
            assert_eq!(d.action, Action::Ignored, "{k}");
            assert_eq!(d.acknowledge, None);
            let d = Case::new("jane@example.org", k)
                .on(4, Status::Pending, "2026-11-25T10:00:00Z")
                .decide();
            assert_eq!(d.action, Action::Appended, "{k}");
            assert_eq!(
                d.ticket,
                TicketPlan::Update {
                    number: 4,
                    status: None,
                    customer_activity: false
                }
            );
        }
    }

    #[test]
    fn ack_rate_limit_and_noreply() {
        let mut c = Case::new("jane@example.org", Kind::Customer);
        c.recent_acks = 3;
        let d = c.decide();
        assert_eq!(d.action, Action::Created);
        assert_eq!(d.acknowledge, None);
        assert!(
            d.events
                .iter()
                .any(|(w, e)| *w == "not acknowledged" && e.contains("rate limit"))
        );
        assert_eq!(
            Case::new("noreply@shop.example", Kind::Customer)
                .decide()
                .acknowledge,
            None
        );
        assert_eq!(
            Case::new("support@example.com", Kind::Customer)
                .decide()
                .acknowledge,
            None
        );
    }
}
