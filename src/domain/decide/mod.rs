//! The decision for one incoming message, given its classification, its
//! thread and the ticket it belongs to: create, append, reopen or ignore;
//! the ticket's new state; what a bounce means for the mail it returns; and
//! whether to acknowledge, within the limits on automatic mail. Pure: every
//! input is a value, including the time and the counts of mail already sent.

use super::classify::{Classification, Delivery, Us, is_noreply, is_ours};
use super::model::{Action, Address, Kind, Status};
use super::parse::ParsedMail;
use super::thread::Threading;
use crate::domain::event::{Event, EventKind};
use jiff::{SignedDuration, Timestamp};

/// Limits on automatic mail, the loop breakers. Every automatic mail counts
/// against them, agents' notifications included (DESIGN §12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Acknowledgements per hour to one address, and for one sender's mail.
    pub acks_per_hour: u32,
    /// Automatic mails of any kind to one address per `auto_recipient_window`.
    pub auto_per_recipient: u32,
    pub auto_recipient_window: SignedDuration,
    /// Automatic mails about one ticket to one address per `auto_ticket_window`.
    pub auto_per_ticket: u32,
    pub auto_ticket_window: SignedDuration,
    /// Automatic mails of one mailbox per hour, all recipients together.
    pub auto_per_mailbox_hour: u32,
    /// Agents' notifications held back by a limit go out as one digest per
    /// agent this long after the first was held.
    pub digest_after: SignedDuration,
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
            auto_per_mailbox_hour: 1000,
            digest_after: SignedDuration::from_mins(15),
            bounce_suppression: SignedDuration::from_hours(24 * 60),
            max_message_size: 50 * 1024 * 1024,
        }
    }
}

/// How much automatic mail already went to a recipient, about a ticket,
/// and from the mailbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    /// Acknowledgements to the recipient in the last hour.
    pub acks_last_hour: u32,
    /// Acknowledgements of mail from the same sender in the last hour
    /// (whatever address they went to).
    pub acks_for_sender: u32,
    /// Automatic mail to the recipient within `auto_recipient_window`.
    pub to_recipient: u32,
    /// Automatic mail about the ticket to the recipient within `auto_ticket_window`.
    pub for_ticket: u32,
    /// Automatic mail of the mailbox in the last hour.
    pub mailbox_last_hour: u32,
}

/// Which limit stopped an automatic mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    AcksPerHour,
    PerRecipient,
    PerTicket,
    PerMailbox,
}

impl Refusal {
    /// The metric label: `acks_per_hour`, `per_recipient`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::AcksPerHour => "acks_per_hour",
            Refusal::PerRecipient => "per_recipient",
            Refusal::PerTicket => "per_ticket",
            Refusal::PerMailbox => "per_mailbox",
        }
    }
}

/// Which limit an automatic mail would break, and in words, if any.
pub fn refusal(limits: &Limits, sent: &Sent, is_ack: bool) -> Option<(Refusal, String)> {
    if is_ack && sent.acks_last_hour.max(sent.acks_for_sender) >= limits.acks_per_hour {
        return Some((
            Refusal::AcksPerHour,
            format!(
                "rate limit: {} acknowledgements to this address or for this sender in the last hour (limit {})",
                sent.acks_last_hour.max(sent.acks_for_sender),
                limits.acks_per_hour
            ),
        ));
    }
    if sent.mailbox_last_hour >= limits.auto_per_mailbox_hour {
        return Some((
            Refusal::PerMailbox,
            format!(
                "rate limit: {} automatic mails from this mailbox in the last hour (limit {})",
                sent.mailbox_last_hour, limits.auto_per_mailbox_hour
            ),
        ));
    }
    automatic_mail_refused(limits, sent).map(|why| {
        let which = if sent.to_recipient >= limits.auto_per_recipient {
            Refusal::PerRecipient
        } else {
            Refusal::PerTicket
        };
        (which, why)
    })
}

/// Why an automatic mail to a recipient may not go out (per recipient and
/// per ticket), if it may not.
pub fn automatic_mail_refused(limits: &Limits, sent: &Sent) -> Option<String> {
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
            "rate limit: {} automatic mails about this ticket to this address in {} (limit {})",
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
    /// The SLA policy its clocks run under.
    pub sla_policy: String,
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
    /// Our mail goes out with signed envelope senders (VERP): only a bounce
    /// that comes back to one acts on what it returns.
    pub verp: bool,
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
    /// The mail proves it comes from its From address (DESIGN §12).
    pub proven: bool,
    /// It came back to the signed envelope sender of our mail with this Message-ID.
    pub verp: Option<&'a str>,
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

/// What a returned message means for the mail it returns. A bounce is a
/// claim like any mail; it acts only on evidence: it came back to the
/// signed envelope sender (VERP) of one of our mails, or, where mail goes
/// out without one, it is a real delivery status notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BouncePlan {
    /// Our Message-IDs the bounce is about: the outbox rows to mark bounced.
    pub returned_ids: Vec<String>,
    /// Strong enough to act on: mark the rows bounced and suppress.
    pub trusted: bool,
    /// Recipients a real DSN (RFC 3464) names as failed; only these, and
    /// only among the returned mail's recipients, are suppressed.
    pub failed: Vec<String>,
    /// The failure is permanent: stop automatic mail to them until then.
    pub suppress_until: Option<Timestamp>,
    /// What the evidence was, for the ticket's events.
    pub evidence: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    pub ticket: TicketPlan,
    /// `(what, detail)` entries for the ticket's event log.
    pub events: Vec<Event>,
    /// Send an acknowledgement to this address.
    pub acknowledge: Option<Address>,
    /// The limit that held the acknowledgement back, if one did.
    pub held_by: Option<Refusal>,
    pub bounce: Option<BouncePlan>,
}

impl Decision {
    /// A decision that sends nothing.
    fn silent(
        action: Action,
        ticket: TicketPlan,
        events: Vec<Event>,
        bounce: Option<BouncePlan>,
    ) -> Decision {
        Decision {
            action,
            ticket,
            events,
            acknowledge: None,
            held_by: None,
            bounce,
        }
    }
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
    let mut events: Vec<Event> = Vec::new();
    let kind = i.class.kind;
    events.push(Event::new(
        EventKind::Received,
        format!("message <{}>: {}", i.mail.message_id, i.class.describe()),
    ));
    events.push(Event::new(EventKind::Threading, i.threading.describe()));

    let bounce = match (kind, i.class.delivery) {
        (Kind::Bounce, Some(Delivery::Failed | Delivery::Unknown)) => Some(bounce_plan(i)),
        _ => None,
    };
    let list_ticket = kind == Kind::List && i.rules.lists_open_tickets;

    // Spam is kept, never attached to a ticket (agents would read it there).
    if kind == Kind::Spam {
        events.push(Event::new(
            EventKind::Ignored,
            "spam is stored, never answered and never added to a ticket".into(),
        ));
        return Decision::silent(Action::Ignored, TicketPlan::None, events, None);
    }

    // Automatic mail: attach where it belongs, otherwise keep it without a ticket.
    if kind.is_automatic() && !list_ticket {
        return match i.ticket {
            Some(t) => {
                let update = TicketPlan::Update {
                    number: t.number,
                    status: None,
                    customer_activity: false,
                };
                Decision::silent(Action::Appended, update, events, bounce)
            }
            None => {
                events.push(Event::new(
                    EventKind::Ignored,
                    format!("{kind} mail without a ticket is stored, not answered"),
                ));
                Decision::silent(Action::Ignored, TicketPlan::None, events, bounce)
            }
        };
    }

    if let Some(t) = i.ticket
        && let Some(status) = carry_on(i, t, list_ticket, &mut events)
    {
        let update = TicketPlan::Update {
            number: t.number,
            status,
            customer_activity: kind == Kind::Customer,
        };
        return Decision::silent(Action::Appended, update, events, bounce);
    }

    let follows = i.ticket.map(|t| t.number);
    let mut held_by = None;
    let acknowledge = if list_ticket {
        events.push(Event::new(
            EventKind::NotAcknowledged,
            "mailing-list mail is never answered".into(),
        ));
        None
    } else {
        ack_target(i, &mut events, &mut held_by)
    };
    Decision {
        action: Action::Created,
        ticket: TicketPlan::Create {
            customer: i.mail.from.clone(),
            follows,
        },
        events,
        acknowledge,
        held_by,
        bounce,
    }
}

/// Whether a message on ticket `t` goes on that ticket, and with which
/// change of status (`Some(None)`: none); `None` when the ticket was
/// resolved or closed beyond the reopen window and a new one follows it.
fn carry_on(
    i: &Inputs<'_>,
    t: &TicketView,
    list_ticket: bool,
    events: &mut Vec<Event>,
) -> Option<Option<Status>> {
    let late = i.received_at.duration_since(t.updated_at) > i.rules.reopen_window;
    let closed = matches!(t.status, Status::Resolved | Status::Closed);
    if closed && late {
        events.push(Event::new(
            EventKind::FollowUp,
            format!(
                "ticket #{} is {} since beyond the reopen window: a new ticket follows it",
                t.number, t.status
            ),
        ));
        return None;
    }
    Some(match (t.status, list_ticket) {
        (Status::Open, _) | (_, true) => None,
        (Status::Pending, _) => {
            events.push(Event::new(
                EventKind::Status,
                "pending -> open: the customer wrote".into(),
            ));
            Some(Status::Open)
        }
        (s, _) => {
            events.push(Event::new(
                EventKind::Reopened,
                format!("{s} -> open: the customer wrote within the reopen window"),
            ));
            Some(Status::Open)
        }
    })
}

/// What a bounce may do, from its evidence.
fn bounce_plan(i: &Inputs<'_>) -> BouncePlan {
    let m = i.mail;
    let real_dsn = m.content_type == "multipart/report"
        && m.content_type_params
            .iter()
            .any(|(k, v)| k == "report-type" && v.to_lowercase().ends_with("delivery-status"))
        && !m.dsn.is_empty();
    let (returned_ids, trusted, evidence) = match i.verp {
        Some(id) => (
            vec![id.to_string()],
            true,
            format!("returned to the signed envelope sender of <{id}>"),
        ),
        None if i.rules.verp => (
            returned_ids(m),
            false,
            "not sent to a signed envelope sender of ours: nothing is marked or suppressed"
                .to_string(),
        ),
        None if real_dsn => (
            returned_ids(m),
            true,
            "a delivery status notification naming our mail".to_string(),
        ),
        None => (
            returned_ids(m),
            false,
            "no delivery status notification: nothing is marked or suppressed".to_string(),
        ),
    };
    let failed: Vec<String> = if trusted && real_dsn {
        let mut f: Vec<String> = m
            .dsn
            .iter()
            .filter(|r| r.action == "failed" || r.status.starts_with('5'))
            .map(|r| r.recipient.clone())
            .filter(|r| !r.is_empty())
            .collect();
        f.sort();
        f.dedup();
        f
    } else {
        Vec::new()
    };
    let suppress_until = (!failed.is_empty() && i.class.delivery == Some(Delivery::Failed))
        .then(|| {
            i.received_at
                .checked_add(i.rules.limits.bounce_suppression)
                .ok()
        })
        .flatten();
    BouncePlan {
        returned_ids,
        trusted,
        failed,
        suppress_until,
        evidence,
    }
}

/// Where the acknowledgement of `m` may go: Reply-To when it is tied to the
/// sender (the mail is proven, or Reply-To is in the From address's
/// organization), else From. A stranger's Reply-To never turns us into a
/// mailer to third parties. The note says when Reply-To was passed over.
pub fn ack_address(m: &ParsedMail, proven: bool) -> (Option<&Address>, Option<String>) {
    let from = m.from.as_ref();
    let Some(reply_to) = m.reply_to.first() else {
        return (from, None);
    };
    let Some(from) = from else {
        return (
            None,
            Some(format!(
                "Reply-To {} without a From address",
                reply_to.email
            )),
        );
    };
    let org = |d: &str| super::auth::organizational_domain(d).unwrap_or_else(|| d.to_lowercase());
    if proven || org(reply_to.domain()) == org(from.domain()) {
        (Some(reply_to), None)
    } else {
        (
            Some(from),
            Some(format!(
                "Reply-To {} is outside the sender's domain and the mail is not proven: acknowledged to {}",
                reply_to.email, from.email
            )),
        )
    }
}

/// Who gets the acknowledgement of a new ticket, if anyone; records why not.
fn ack_target(
    i: &Inputs<'_>,
    events: &mut Vec<Event>,
    held_by: &mut Option<Refusal>,
) -> Option<Address> {
    let (to, note) = ack_address(i.mail, i.proven);
    if let Some(note) = note {
        events.push(Event::new(EventKind::AcknowledgementAddress, note));
    }
    let Some(to) = to else {
        events.push(Event::new(
            EventKind::NotAcknowledged,
            "no sender address".into(),
        ));
        return None;
    };
    if !to.email.contains('@') || to.email.starts_with('@') {
        events.push(Event::new(
            EventKind::NotAcknowledged,
            format!("{} has no domain to answer at", to.email),
        ));
        return None;
    }
    if let Some(why) = i.class.never_acknowledged() {
        events.push(Event::new(
            EventKind::NotAcknowledged,
            format!(
                "another help desk's mail ({why}): two ticket systems must not answer each other"
            ),
        ));
        return None;
    }
    if is_ours(
        &to.email,
        &Us {
            addresses: i.rules.our_addresses,
        },
    ) {
        events.push(Event::new(
            EventKind::NotAcknowledged,
            format!("{} is our own address", to.email),
        ));
        return None;
    }
    // A robot sender speaks for nobody, even when Reply-To names a person.
    for who in [Some(to), i.mail.from.as_ref()].into_iter().flatten() {
        if is_noreply(who.local_part()) {
            events.push(Event::new(
                EventKind::NotAcknowledged,
                format!("{} does not read replies", who.email),
            ));
            return None;
        }
    }
    if let Some((until, reason)) = &i.suppressed {
        events.push(Event::new(
            EventKind::NotAcknowledged,
            format!(
                "{} gets no automatic mail until {until}: {reason}",
                to.email
            ),
        ));
        return None;
    }
    if let Some((which, why)) = refusal(i.rules.limits, &i.sent, true) {
        events.push(Event::new(
            EventKind::NotAcknowledged,
            format!("{}: {why}", to.email),
        ));
        *held_by = Some(which);
        return None;
    }
    Some(to.clone())
}

#[cfg(test)]
mod tests;
