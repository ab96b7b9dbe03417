//! The decision for one incoming message, given its classification, its
//! thread and the ticket it belongs to: create, append, reopen or ignore;
//! the ticket's new state; what a bounce means for the mail it returns; and
//! whether to acknowledge, within the limits on automatic mail. Pure: every
//! input is a value, including the time and the counts of mail already sent.

use super::classify::{Classification, Delivery, Us, is_noreply, is_ours};
use super::model::{Action, Address, Kind, Status};
use super::parse::ParsedMail;
use super::thread::Threading;
use jiff::{SignedDuration, Timestamp};

/// Limits on automatic mail, the loop breakers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Acknowledgements to one address per hour.
    pub acks_per_hour: u32,
    /// Automatic mails of any kind to one address per `auto_recipient_window`.
    pub auto_per_recipient: u32,
    pub auto_recipient_window: SignedDuration,
    /// Automatic mails about one ticket per `auto_ticket_window`.
    pub auto_per_ticket: u32,
    pub auto_ticket_window: SignedDuration,
    /// No automatic mail to an address that bounced permanently, for this long.
    pub bounce_suppression: SignedDuration,
    /// Largest message in bytes.
    pub max_message_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            acks_per_hour: 3,
            auto_per_recipient: 10,
            auto_recipient_window: SignedDuration::from_mins(10),
            auto_per_ticket: 10,
            auto_ticket_window: SignedDuration::from_hours(1),
            bounce_suppression: SignedDuration::from_hours(24 * 60),
            max_message_size: 50 * 1024 * 1024,
        }
    }
}

/// How much automatic mail already went to a recipient and about a ticket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    /// Acknowledgements to the recipient in the last hour.
    pub acks_last_hour: u32,
    /// Automatic mail to the recipient within `auto_recipient_window`.
    pub to_recipient: u32,
    /// Automatic mail about the ticket within `auto_ticket_window`.
    pub for_ticket: u32,
}

/// Why an automatic mail may not go out, if it may not.
pub fn automatic_mail_refused(limits: &Limits, sent: &Sent, is_ack: bool) -> Option<String> {
    if is_ack && sent.acks_last_hour >= limits.acks_per_hour {
        return Some(format!(
            "rate limit: {} acknowledgements to this address in the last hour (limit {})",
            sent.acks_last_hour, limits.acks_per_hour
        ));
    }
    if sent.to_recipient >= limits.auto_per_recipient {
        return Some(format!(
            "rate limit: {} automatic mails to this address in {} (limit {})",
            sent.to_recipient,
            super::fmt_duration(limits.auto_recipient_window),
            limits.auto_per_recipient
        ));
    }
    if sent.for_ticket >= limits.auto_per_ticket {
        return Some(format!(
            "rate limit: {} automatic mails about this ticket in {} (limit {})",
            sent.for_ticket,
            super::fmt_duration(limits.auto_ticket_window),
            limits.auto_per_ticket
        ));
    }
    None
}

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
    pub limits: &'a Limits,
    pub reopen_window: SignedDuration,
    /// Our addresses, lower-cased: never acknowledged.
    pub our_addresses: &'a [String],
    /// Mailing-list mail opens and joins tickets (never acknowledged).
    pub lists_open_tickets: bool,
}

pub struct Inputs<'a> {
    pub mail: &'a ParsedMail,
    pub class: &'a Classification,
    pub threading: &'a Threading,
    /// The ticket `threading` names, if it exists.
    pub ticket: Option<&'a TicketView>,
    pub received_at: Timestamp,
    /// Automatic mail already sent to the reply address.
    pub sent: Sent,
    /// The reply address may get no automatic mail: until when, and why.
    pub suppressed: Option<(Timestamp, String)>,
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
    },
    Update {
        number: i64,
        /// New status, when it changes.
        status: Option<Status>,
        /// The customer wrote (moves `last_customer_at`).
        customer_activity: bool,
    },
}

/// What a returned message means for the mail it returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BouncePlan {
    /// Our Message-IDs the bounce may be about: the outbox rows to mark bounced.
    pub returned_ids: Vec<String>,
    /// The failure is permanent: stop automatic mail to those recipients.
    pub suppress_until: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    pub ticket: TicketPlan,
    /// `(what, detail)` entries for the ticket's event log.
    pub events: Vec<(&'static str, String)>,
    /// Send an acknowledgement to this address.
    pub acknowledge: Option<Address>,
    pub bounce: Option<BouncePlan>,
}

/// Message-IDs a bounce may be returning: everything it names.
fn returned_ids(m: &ParsedMail) -> Vec<String> {
    let mut ids: Vec<String> = m
        .embedded_message_ids
        .iter()
        .chain(&m.quoted_message_ids)
        .chain(&m.in_reply_to)
        .chain(&m.references)
        .cloned()
        .collect();
    ids.sort();
    ids.dedup();
    ids
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

    let bounce = match (kind, i.class.delivery) {
        (Kind::Bounce, Some(Delivery::Failed | Delivery::Unknown)) => {
            let permanent = i.class.delivery == Some(Delivery::Failed);
            Some(BouncePlan {
                returned_ids: returned_ids(i.mail),
                suppress_until: permanent
                    .then(|| {
                        i.received_at
                            .checked_add(i.rules.limits.bounce_suppression)
                            .ok()
                    })
                    .flatten(),
            })
        }
        _ => None,
    };
    let list_ticket = kind == Kind::List && i.rules.lists_open_tickets;

    // Automatic mail: attach where it belongs, otherwise keep it without a ticket.
    if kind.is_automatic() && !list_ticket {
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
                bounce,
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
                    bounce,
                }
            }
        };
    }

    if let Some(t) = i.ticket {
        let late = i.received_at.duration_since(t.updated_at) > i.rules.reopen_window;
        let closed = matches!(t.status, Status::Resolved | Status::Closed);
        if !(closed && late) {
            let status = match (t.status, list_ticket) {
                (Status::Open, _) | (_, true) => None,
                (Status::Pending, _) => {
                    events.push(("status", "pending -> open: the customer wrote".into()));
                    Some(Status::Open)
                }
                (s, _) => {
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
                bounce,
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
    let acknowledge = if list_ticket {
        events.push((
            "not acknowledged",
            "mailing-list mail is never answered".into(),
        ));
        None
    } else {
        ack_target(i, &mut events)
    };
    Decision {
        action: Action::Created,
        ticket: TicketPlan::Create {
            customer: i.mail.from.clone(),
            follows,
        },
        events,
        acknowledge,
        bounce,
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
    // A robot sender speaks for nobody, even when Reply-To names a person.
    for who in [Some(to), i.mail.from.as_ref()].into_iter().flatten() {
        if is_noreply(who.local_part()) {
            events.push((
                "not acknowledged",
                format!("{} does not read replies", who.email),
            ));
            return None;
        }
    }
    if let Some((until, reason)) = &i.suppressed {
        events.push((
            "not acknowledged",
            format!(
                "{} gets no automatic mail until {until}: {reason}",
                to.email
            ),
        ));
        return None;
    }
    if let Some(why) = automatic_mail_refused(i.rules.limits, &i.sent, true) {
        events.push(("not acknowledged", format!("{}: {why}", to.email)));
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
        sent: Sent,
        suppressed: Option<(Timestamp, String)>,
        lists_open_tickets: bool,
    }

    impl Case {
        fn new(from: &str, kind: Kind) -> Self {
            Case::raw(
                &format!("From: {from}\r\nSubject: help\r\nMessage-ID: <m@x>\r\n\r\nhi"),
                kind,
            )
        }

        fn raw(raw: &str, kind: Kind) -> Self {
            Case {
                mail: parse(raw.as_bytes()),
                class: Classification {
                    kind,
                    reason: "test".into(),
                    delivery: (kind == Kind::Bounce).then_some(Delivery::Failed),
                },
                threading: Threading::New { notes: vec![] },
                ticket: None,
                sent: Sent::default(),
                suppressed: None,
                lists_open_tickets: false,
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
            let limits = Limits::default();
            let rules = Rules {
                limits: &limits,
                reopen_window: SignedDuration::from_hours(24 * 14),
                our_addresses: &ours,
                lists_open_tickets: self.lists_open_tickets,
            };
            decide(&Inputs {
                mail: &self.mail,
                class: &self.class,
                threading: &self.threading,
                ticket: self.ticket.as_ref(),
                received_at: at("2026-11-26T10:00:00Z"),
                sent: self.sent,
                suppressed: self.suppressed.clone(),
                rules: &rules,
            })
        }
    }

    #[test]
    fn new_customer_mail_creates_and_acknowledges() {
        let d = Case::new("jane@example.org", Kind::Customer).decide();
        assert_eq!(d.action, Action::Created);
        assert_eq!(d.acknowledge.unwrap().email, "jane@example.org");
        assert!(matches!(d.ticket, TicketPlan::Create { follows: None, .. }));
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
    fn automatic_mail_is_never_acknowledged_nor_moves_a_ticket() {
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
    fn list_mail_can_open_tickets_but_is_never_answered() {
        let mut c = Case::new("dev@lists.example.org", Kind::List);
        c.lists_open_tickets = true;
        let d = c.decide();
        assert_eq!(d.action, Action::Created);
        assert_eq!(d.acknowledge, None);
    }

    #[test]
    fn a_permanent_bounce_marks_and_suppresses() {
        let raw = "From: MAILER-DAEMON@x.example\r\nSubject: failed\r\nMessage-ID: <b@x>\r\n\r\nMessage-ID: <pd.4-abc.n@example.com>\r\n";
        let d = Case::raw(raw, Kind::Bounce)
            .on(4, Status::Open, "2026-11-25T10:00:00Z")
            .decide();
        let b = d.bounce.unwrap();
        assert!(
            b.returned_ids
                .contains(&"pd.4-abc.n@example.com".to_string())
        );
        assert_eq!(b.suppress_until, Some(at("2027-01-25T10:00:00Z")));
        let mut delayed = Case::raw(raw, Kind::Bounce);
        delayed.class.delivery = Some(Delivery::Delayed);
        assert_eq!(delayed.decide().bounce, None);
    }

    #[test]
    fn limits_suppression_and_noreply_stop_acknowledgements() {
        let mut c = Case::new("jane@example.org", Kind::Customer);
        c.sent.acks_last_hour = 3;
        let d = c.decide();
        assert_eq!(d.action, Action::Created);
        assert_eq!(d.acknowledge, None);
        assert!(
            d.events
                .iter()
                .any(|(w, e)| *w == "not acknowledged" && e.contains("rate limit"))
        );
        let mut c = Case::new("jane@example.org", Kind::Customer);
        c.sent.to_recipient = 10;
        assert_eq!(c.decide().acknowledge, None);
        let mut c = Case::new("jane@example.org", Kind::Customer);
        c.suppressed = Some((at("2027-01-01T00:00:00Z"), "bounced".into()));
        assert_eq!(c.decide().acknowledge, None);
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
        let robot_for_person = Case::raw(
            "From: gmail-noreply@google.example\r\nReply-To: x.y@example.org\r\nSubject: invited\r\n\r\nhi",
            Kind::Customer,
        );
        assert_eq!(robot_for_person.decide().acknowledge, None);
    }
}
