use super::*;
use crate::domain::event::EventKind;
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
    proven: bool,
    verp_on: bool,
    verp: Option<String>,
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
                evidence: crate::domain::classify::Evidence::None,
                reason: "test".into(),
                delivery: (kind == Kind::Bounce).then_some(Delivery::Failed),
            },
            threading: Threading::New { notes: vec![] },
            ticket: None,
            sent: Sent::default(),
            suppressed: None,
            lists_open_tickets: false,
            proven: false,
            verp_on: false,
            verp: None,
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
            sla_policy: "standard".into(),
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
            verp: self.verp_on,
        };
        decide(&Inputs {
            mail: &self.mail,
            class: &self.class,
            threading: &self.threading,
            ticket: self.ticket.as_ref(),
            received_at: at("2026-11-26T10:00:00Z"),
            sent: self.sent,
            suppressed: self.suppressed.clone(),
            proven: self.proven,
            verp: self.verp.as_deref(),
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

const DSN: &str = "From: MAILER-DAEMON@x.example\r\nSubject: Undelivered\r\nMessage-ID: <b@x>\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n\
--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x.example\r\n\r\n\
Final-Recipient: rfc822; jane@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
Final-Recipient: rfc822; bob@example.org\r\nAction: delivered\r\nStatus: 2.0.0\r\n\r\n\
--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <pd.4-abc.n@example.com>\r\n\r\n--b--\r\n";

#[test]
fn a_real_dsn_suppresses_only_the_recipients_it_names_as_failed() {
    let d = Case::raw(DSN, Kind::Bounce)
        .on(4, Status::Open, "2026-11-25T10:00:00Z")
        .decide();
    let b = d.bounce.unwrap();
    assert!(b.trusted, "{}", b.evidence);
    assert!(
        b.returned_ids
            .contains(&"pd.4-abc.n@example.com".to_string())
    );
    assert_eq!(b.failed, vec!["jane@example.org"]);
    assert_eq!(b.suppress_until, Some(at("2027-01-25T10:00:00Z")));
}

#[test]
fn a_bounce_without_evidence_changes_nothing() {
    // A plain "MAILER-DAEMON" text that quotes our Message-ID: anyone
    // who saw our mail can write it.
    let forged = "From: MAILER-DAEMON@x.example\r\nSubject: failed\r\nMessage-ID: <b@x>\r\n\r\nMessage-ID: <pd.4-abc.n@example.com>\r\n";
    let b = Case::raw(forged, Kind::Bounce).decide().bounce.unwrap();
    assert!(!b.trusted && b.failed.is_empty() && b.suppress_until.is_none());
    // Where mail goes out with signed envelope senders, even a real DSN
    // counts only when it comes back to one.
    let mut c = Case::raw(DSN, Kind::Bounce);
    c.verp_on = true;
    let b = c.decide().bounce.unwrap();
    assert!(!b.trusted && b.suppress_until.is_none(), "{}", b.evidence);
    c.verp = Some("pd.4-abc.n@example.com".into());
    let b = c.decide().bounce.unwrap();
    assert!(b.trusted);
    assert_eq!(b.returned_ids, vec!["pd.4-abc.n@example.com"]);
    assert_eq!(b.failed, vec!["jane@example.org"]);
    // A text bounce to a signed envelope sender marks the mail, and
    // suppresses nobody: no DSN names who failed.
    let mut c = Case::raw(forged, Kind::Bounce);
    c.verp_on = true;
    c.verp = Some("pd.4-abc.n@example.com".into());
    let b = c.decide().bounce.unwrap();
    assert!(b.trusted && b.failed.is_empty() && b.suppress_until.is_none());
    let mut delayed = Case::raw(DSN, Kind::Bounce);
    delayed.class.delivery = Some(Delivery::Delayed);
    assert_eq!(delayed.decide().bounce, None);
}

#[test]
fn spam_is_kept_without_a_ticket() {
    let d = Case::new("jane@example.org", Kind::Spam)
        .on(4, Status::Open, "2026-11-25T10:00:00Z")
        .decide();
    assert_eq!(d.action, Action::Ignored);
    assert_eq!(d.ticket, TicketPlan::None);
    assert_eq!(d.acknowledge, None);
}

#[test]
fn a_stranger_reply_to_is_not_acknowledged() {
    let raw = "From: eve@evil.example\r\nReply-To: victim@third.example\r\nSubject: buy now\r\nMessage-ID: <m@x>\r\n\r\nhi";
    let d = Case::raw(raw, Kind::Customer).decide();
    assert_eq!(d.acknowledge.unwrap().email, "eve@evil.example");
    assert!(
        d.events
            .iter()
            .any(|e| e.kind == EventKind::AcknowledgementAddress)
    );
    // Proven mail, or a Reply-To in the sender's own organization, is honoured.
    let mut c = Case::raw(raw, Kind::Customer);
    c.proven = true;
    assert_eq!(
        c.decide().acknowledge.unwrap().email,
        "victim@third.example"
    );
    let same_org = "From: jane@mail.example.org\r\nReply-To: orders@example.org\r\nSubject: order\r\nMessage-ID: <m@x>\r\n\r\nhi";
    assert_eq!(
        Case::raw(same_org, Kind::Customer)
            .decide()
            .acknowledge
            .unwrap()
            .email,
        "orders@example.org"
    );
}

#[test]
fn acknowledgements_per_sender_and_per_mailbox_are_limited() {
    let mut c = Case::new("jane@example.org", Kind::Customer);
    c.sent.acks_for_sender = 3;
    let d = c.decide();
    assert_eq!(d.acknowledge, None);
    assert_eq!(d.held_by, Some(Refusal::AcksPerHour));
    let mut c = Case::new("jane@example.org", Kind::Customer);
    c.sent.mailbox_last_hour = 1000;
    assert_eq!(c.decide().held_by, Some(Refusal::PerMailbox));
    let limits = Limits::default();
    let sent = Sent {
        for_ticket: 10,
        ..Sent::default()
    };
    assert_eq!(
        refusal(&limits, &sent, false).map(|r| r.0),
        Some(Refusal::PerTicket)
    );
    assert_eq!(refusal(&limits, &Sent::default(), false), None);
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
            .any(|e| e.kind == EventKind::NotAcknowledged && e.detail.contains("rate limit"))
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
