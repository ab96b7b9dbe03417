//! The classifier on hand-written mail: every evidence class, and the
//! human mail that must not be mistaken for a machine's.
use super::*;
use crate::domain::parse::parse;

fn classify_raw(headers: &str, body: &str) -> Classification {
    let raw = format!("{headers}Message-ID: <x@y>\r\n\r\n{body}\r\n");
    let us = ["support@example.com".to_string()];
    let rules = SpamRule::builtin();
    let trusted = ["mx.example.com".to_string()];
    let screening = Screening {
        trusted_authserv_ids: &trusted,
        spam_rules: &rules,
        dmarc_fail_is_spam: true,
        sender_marked: None,
    };
    classify(&parse(raw.as_bytes()), &Us { addresses: &us }, &screening)
}

fn kind(headers: &str) -> Kind {
    classify_raw(&format!("{headers}Subject: hi\r\n"), "body").kind
}

#[test]
fn customers() {
    assert_eq!(kind("From: jane@example.org\r\n"), Kind::Customer);
    assert_eq!(
        kind("From: jane@example.org\r\nAuto-Submitted: no\r\n"),
        Kind::Customer
    );
    // a weak sign alone is not enough
    assert_eq!(
        kind("From: jane@example.org\r\nX-Auto-Response-Suppress: All\r\n"),
        Kind::Customer
    );
    // customers may write about deliveries
    let c = classify_raw(
        "From: jane@example.org\r\nSubject: Delivery failure of my order\r\n",
        "The parcel never came.",
    );
    assert_eq!(c.kind, Kind::Customer);
    let c = classify_raw(
        "From: jane@example.org\r\nSubject: Read: the manual\r\n",
        "I read it, still stuck.",
    );
    assert_eq!(c.kind, Kind::Customer);
}

#[test]
fn machines() {
    assert_eq!(
        kind("From: jane@example.org\r\nAuto-Submitted: auto-replied\r\n"),
        Kind::AutoReply
    );
    assert_eq!(
        kind("From: jane@example.org\r\nX-Autoreply: yes\r\n"),
        Kind::AutoReply
    );
    assert_eq!(
        kind("From: jane@example.org\r\nPrecedence: junk\r\n"),
        Kind::AutoReply
    );
    assert_eq!(
        kind("From: jane@example.org\r\nPrecedence: bulk\r\n"),
        Kind::List
    );
    assert_eq!(
        kind("From: jane@example.org\r\nList-Id: <l.example.org>\r\n"),
        Kind::List
    );
    assert_eq!(kind("From: MAILER-DAEMON@example.org\r\n"), Kind::Bounce);
    assert_eq!(kind("From: postmaster@example.org\r\n"), Kind::Bounce);
    assert_eq!(
        kind("Return-Path: <>\r\nFrom: jane@example.org\r\n"),
        Kind::Bounce
    );
    assert_eq!(
        kind(
            "From: x@example.org\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n"
        ),
        Kind::Bounce
    );
    assert_eq!(
        kind(
            "From: x@example.org\r\nContent-Type: multipart/report; report-type=disposition-notification; boundary=b\r\n"
        ),
        Kind::AutoReply
    );
}

#[test]
fn vacation_replies_with_a_null_sender_are_auto_replies() {
    let c = classify_raw(
        "Return-Path: <>\r\nFrom: jane@example.org\r\nAuto-Submitted: auto-replied (vacation)\r\nSubject: Out of office\r\n",
        "I am away.",
    );
    assert_eq!(c.kind, Kind::AutoReply);
    let c = classify_raw(
        "Return-Path: <>\r\nFrom: x@example.org\r\nSubject: Undeliverable: hi\r\n",
        "550 user unknown",
    );
    assert_eq!(c.kind, Kind::Bounce);
}

#[test]
fn last_resort_subjects_and_phrases() {
    let c = classify_raw(
        "From: a@x.example\r\nSubject: Automatyczna odpowiedź: urlop\r\n",
        "Jestem na urlopie.",
    );
    assert_eq!(c.kind, Kind::AutoReply);
    let c = classify_raw(
        "From: a@x.example\r\nSubject: RE: Automatic reply: Invoice\r\n",
        "away",
    );
    assert_eq!(c.kind, Kind::AutoReply);
    let c = classify_raw(
        "From: a@x.example\r\nSubject: Αυτόματη απάντηση: Θέμα\r\n",
        "Λείπω.",
    );
    assert_eq!(c.kind, Kind::AutoReply);
    let c = classify_raw(
        "From: \"System Administrator\"@x.example\r\nSubject: Delivery Failure\r\n",
        "Could not deliver message to the following recipient(s): bob@x.example",
    );
    assert_eq!(
        (c.kind, c.delivery),
        (Kind::Bounce, Some(Delivery::Unknown))
    );
    let c = classify_raw(
        "From: noreply-dmarc-support@google.com\r\nSubject: Report domain: x.example Submitter: google.com\r\n",
        "",
    );
    assert_eq!(c.kind, Kind::AutoReply);
}

#[test]
fn our_own_mail() {
    assert_eq!(kind("From: support@example.com\r\n"), Kind::Loop);
    assert_eq!(kind("From: Support@Example.com\r\n"), Kind::Loop);
    assert_eq!(kind("From: support+12-abc@example.com\r\n"), Kind::Loop);
    assert_eq!(
        kind("From: jane@example.org\r\nX-Postdesk-Loop: support@example.com\r\n"),
        Kind::Loop
    );
    assert_eq!(kind("From: supportive@example.com\r\n"), Kind::Customer);
}

#[test]
fn the_mta_spam_verdict_and_a_trusted_dmarc_failure_make_spam() {
    for h in [
        "X-Spam-Flag: YES\r\n",
        "X-Spam-Status: Yes, score=9.1 required=5.0 tests=BAYES_99\r\n",
        "X-Rspamd-Action: add header\r\n",
        "X-Spamd-Result: default: True [12.30 / 15.00];\r\n",
        "Authentication-Results: mx.example.com; dmarc=fail (p=reject) header.from=bank.example\r\n",
    ] {
        assert_eq!(
            kind(&format!("From: jane@example.org\r\n{h}")),
            Kind::Spam,
            "{h}"
        );
    }
    for h in [
        "X-Spam-Flag: NO\r\n",
        "X-Spam-Status: No, score=-1.0\r\n",
        "X-Rspamd-Action: no action\r\n",
        "X-Spamd-Result: default: False [0.00 / 15.00];\r\n",
        // a DMARC failure only counts from our own MTA
        "Authentication-Results: other.example; dmarc=fail header.from=bank.example\r\n",
    ] {
        assert_eq!(
            kind(&format!("From: jane@example.org\r\n{h}")),
            Kind::Customer,
            "{h}"
        );
    }
}

#[test]
fn noreply_senders() {
    assert!(is_noreply("noreply"));
    assert!(is_noreply("No-Reply"));
    assert!(is_noreply("billing-noreply"));
    assert!(is_noreply("gmail-noreply"));
    assert!(is_noreply("noreply+abc"));
    assert!(!is_noreply("norbert"));
}

/// The evidence class that decided, by name.
fn evidence(headers: &str, body: &str) -> (Kind, &'static str) {
    let c = classify_raw(headers, body);
    (c.kind, c.evidence.name())
}

#[test]
fn postmaster_in_every_spelling_is_a_mail_system() {
    for from in [
        "post_master@mail.example.net",
        "imss@gw.example.co.jp",
        "\"Postmaster\\@mx.example.org\"@mx.example.org",
        "Mail.Daemon@example.com",
        "MDaemon@example.com",
    ] {
        let (kind, by) = evidence(
            &format!("From: {from}\r\nSubject: email bounce notification\r\n"),
            "Your message could not be delivered.",
        );
        assert_eq!((kind, by), (Kind::Bounce, "mail-system-sender"), "{from}");
    }
    // A person whose name merely contains "post" or "master" writes.
    let (kind, _) = evidence(
        "From: postmasterson@example.org\r\nSubject: hi\r\n",
        "Hello",
    );
    assert_eq!(kind, Kind::Customer);
}

#[test]
fn delay_warnings_and_failure_notices_without_a_report() {
    let c = classify_raw(
        "From: Mail System <mailsys@example.net>\r\nSubject: Mail Delivery Warning\r\n",
        "This is a warning message only. Your message has not yet been delivered; \
         we will keep trying for 5 days.",
    );
    assert_eq!(
        (c.kind, c.evidence.name()),
        (Kind::Bounce, "failure-notice")
    );
    assert_eq!(c.delivery, Some(Delivery::Delayed));
    let c = classify_raw(
        "From: gateway@example.net\r\nSubject: Mail could not be delivered\r\n",
        "The message could not be delivered to jane@example.org: 550 5.1.1 user unknown",
    );
    assert_eq!((c.kind, c.delivery), (Kind::Bounce, Some(Delivery::Failed)));
}

#[test]
fn plain_feedback_loop_complaints() {
    let (kind, by) = evidence(
        "From: staff@hotmail.example\r\nSubject: complaint about message from 192.0.2.7\r\n",
        "A user of our service reported the attached message as spam.",
    );
    assert_eq!((kind, by), (Kind::AutoReply, "feedback-loop"));
    let (kind, by) = evidence(
        "From: fbl@isp.example\r\nSubject: Email report\r\n",
        "This is an email abuse report for an email message received from IP 192.0.2.7\n\
         Feedback-Type: abuse\n",
    );
    assert_eq!((kind, by), (Kind::AutoReply, "feedback-loop"));
}

#[test]
fn lotus_notes_out_of_office() {
    for subject in [
        "AUTO: Jane Doe is out of the office (returning 02.12.2026)",
        "AUTO: Hans Meier ist außer Haus (Rückkehr am 03.12.2026)",
        "AUTO: Marie Curie est absente du bureau (retour le 04/12/2026)",
    ] {
        let (kind, by) = evidence(
            &format!("From: jane@corp.example\r\nSubject: {subject}\r\n"),
            "I am out of the office until 02.12.2026 with limited access to e-mail.",
        );
        assert_eq!(
            (kind, by),
            (Kind::AutoReply, "out-of-office-subject"),
            "{subject}"
        );
    }
    // "Auto:" written by a person about cars is theirs.
    let (kind, _) = evidence(
        "From: jane@example.org\r\nSubject: Auto: insurance question\r\n",
        "Hello, my car insurance...",
    );
    assert_eq!(kind, Kind::Customer);
}

#[test]
fn other_help_desks_are_people_we_never_acknowledge() {
    for headers in [
        "RT-Ticket: rt.example.org #33575\r\nRT-Originator: jane@example.org\r\nX-RT-Loop-Prevention: rt.example.org\r\nX-Managed-BY: RT 5.0.3 (http://www.bestpractical.com/rt/)\r\n",
        "X-Zendesk-From-Account-Id: 12ab34\r\n",
        "X-JIRA-FingerPrint: 1a2b3c\r\n",
        "X-OTRS-Loop: yes\r\n",
        "X-Zammad-Ticket-ID: 17\r\n",
    ] {
        let c = classify_raw(
            &format!(
                "From: support@vendor.example\r\nSubject: [vendor #33575] Resolved: printer\r\n{headers}"
            ),
            "Your request has been resolved.",
        );
        assert_eq!(
            (c.kind, c.evidence.name()),
            (Kind::Customer, "helpdesk"),
            "{headers}"
        );
        assert!(c.never_acknowledged().is_some());
    }
    let raw = "From: jira@vendor.example\r\nSubject: [JIRA] (SD-1) Printer\r\n\
               Message-ID: <JIRA.10001.1600000000000.123.1600000000001@Atlassian.JIRA>\r\n\r\nUpdated.\r\n";
    let c = classify(
        &parse(raw.as_bytes()),
        &Us { addresses: &[] },
        &Screening::default(),
    );
    assert_eq!(c.evidence.name(), "helpdesk", "{}", c.reason);
    assert!(
        classify_raw("From: jane@example.org\r\nSubject: hi\r\n", "hello")
            .never_acknowledged()
            .is_none()
    );
}

#[test]
fn list_managers_talking_to_us() {
    for (from, subject, extra) in [
        (
            "support-owner@lists.example.org",
            "Post to support denied",
            "",
        ),
        (
            "fml@lists.example.jp",
            "You jane@example.org are not member (support ML)",
            "X-ML-Name: support\r\n",
        ),
        (
            "owner-support@lists.example.org",
            "Loop Alert: Duplicated Message-ID",
            "",
        ),
        ("Majordomo@lists.example.org", "Majordomo results: help", ""),
        (
            "support-bounces@lists.example.org",
            "Your message to Support awaits moderator approval",
            "",
        ),
        ("support-request@lists.example.org", "confirm 1a2b3c4d", ""),
    ] {
        let (kind, by) = evidence(
            &format!("From: {from}\r\nSubject: {subject}\r\n{extra}"),
            "Your message was not distributed to the list.",
        );
        assert_eq!((kind, by), (Kind::List, "list-manager"), "{from} {subject}");
    }
    // A person at an address ending in -admin asking something is a person.
    let (kind, _) = evidence(
        "From: office-admin@example.org\r\nSubject: Invoice for November\r\n",
        "Hello, where is our invoice?",
    );
    assert_eq!(kind, Kind::Customer);
}

#[test]
fn an_address_never_loses_its_local_part() {
    for (from, email, flag) in [
        (
            "\"Postmaster\\@mx.example.org\"@mx.example.org",
            "\"postmaster\\@mx.example.org\"@mx.example.org",
            "address-repaired",
        ),
        (
            "=?utf-8?Q?agent?=@example.com",
            "=?utf-8?q?agent?=@example.com",
            "encoded-local-part",
        ),
        ("Moderator <moderator>", "moderator", "bare-local-part"),
    ] {
        let raw = format!("From: {from}\r\nSubject: x\r\nMessage-ID: <a@b>\r\n\r\nhi\r\n");
        let m = parse(raw.as_bytes());
        assert_eq!(
            m.from.as_ref().map(|a| a.email.as_str()),
            Some(email),
            "{from}"
        );
        assert!(m.has_flag(flag), "{from}: {:?}", m.flags);
    }
}

#[test]
fn raw_8bit_subjects_are_read_by_their_charset() {
    let mail = |subject: &[u8], ct: &str| {
        let mut raw = b"From: a@example.org\r\nSubject: ".to_vec();
        raw.extend_from_slice(subject);
        raw.extend_from_slice(format!("\r\nMessage-ID: <a@b>\r\n{ct}\r\nhi\r\n").as_bytes());
        parse(&raw)
    };
    // KOI8-R, declared nowhere: detected.
    let (koi8, _, _) = encoding_rs::KOI8_R.encode("Проблема с принтером в офисе");
    let m = mail(&koi8, "");
    assert_eq!(m.subject, "Проблема с принтером в офисе");
    assert!(m.has_flag("charset-detected"));
    // ISO-8859-2, as the body declares.
    let (latin2, _, _) = encoding_rs::ISO_8859_2.encode("Zażółć gęślą jaźń");
    let m = mail(&latin2, "Content-Type: text/plain; charset=iso-8859-2\r\n");
    assert_eq!(m.subject, "Zażółć gęślą jaźń");
    // Shift_JIS, declared nowhere.
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("プリンターが壊れました");
    assert_eq!(mail(&sjis, "").subject, "プリンターが壊れました");
    // UTF-8 is read as UTF-8.
    let m = mail(
        "Zażółć".as_bytes(),
        "Content-Type: text/plain; charset=iso-8859-2\r\n",
    );
    assert_eq!(m.subject, "Zażółć");
    assert!(!m.has_flag("charset-detected"));
}
