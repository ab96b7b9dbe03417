use super::*;

#[test]
fn plain_message() {
    let raw = b"From: \"Jane Doe\" <Jane@Example.COM>\r\nTo: support@example.com\r\nSubject: =?utf-8?q?Caf=C3=A9?= broken\r\nMessage-ID: <abc@x.example>\r\nIn-Reply-To: <p1@y>\r\nReferences: <p0@y> <p1@y>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0200\r\n\r\nHello\r\n";
    let p = parse(raw);
    assert_eq!(p.message_id, "abc@x.example");
    assert_eq!(
        p.from,
        Some(Address::new("jane@example.com", Some("Jane Doe")))
    );
    assert_eq!(p.subject, "Café broken");
    assert_eq!(p.in_reply_to, vec!["p1@y"]);
    assert_eq!(p.references, vec!["p0@y", "p1@y"]);
    assert_eq!(p.date.unwrap().to_string(), "2026-11-24T08:00:00Z");
    assert!(p.text.starts_with("Hello"));
    assert!(p.flags.is_empty(), "{:?}", p.flags);
}

#[test]
fn no_message_id_gets_a_stable_synthetic_one() {
    let raw = b"From: a@b.example\r\nSubject: x\r\n\r\nbody\r\n";
    let a = parse(raw);
    assert!(a.has_flag(flags::NO_MESSAGE_ID));
    assert_eq!(a.message_id, parse(raw).message_id);
    assert!(a.message_id.starts_with("sha256-"));
    assert_ne!(
        a.message_id,
        parse(b"From: a@b.example\r\nSubject: y\r\n\r\nbody\r\n").message_id
    );
}

#[test]
fn garbage_and_empty_are_flagged_not_fatal() {
    for raw in [
        &b""[..],
        b"\x00\x01\x02 not a mail",
        b"just some text without headers\n",
    ] {
        let p = parse(raw);
        assert!(p.has_flag(flags::MALFORMED), "{raw:?} -> {:?}", p.flags);
        assert!(!p.message_id.is_empty());
    }
}

#[test]
fn blank_lines_before_the_header_are_skipped_and_flagged() {
    let raw = b"\r\n   \r\nFrom: Jane <jane@example.org>\r\nSubject: hello\r\nMessage-ID: <b@x>\r\n\r\nbody\r\n";
    let p = parse(raw);
    assert_eq!(p.from.as_ref().unwrap().email, "jane@example.org");
    assert_eq!(p.subject, "hello");
    assert!(p.has_flag(flags::LEADING_BLANK_LINES));
    assert!(!p.has_flag(flags::MALFORMED));
    // Text that merely starts with a blank line stays as it is.
    assert!(parse(b"\n\njust text\n").has_flag(flags::MALFORMED));
}

#[test]
fn header_line_without_colon_is_malformed() {
    let raw = b"From: a@b.example\r\nThis is not a header\r\nSubject: x\r\n\r\nbody";
    assert!(parse(raw).has_flag(flags::MALFORMED));
}

#[test]
fn eight_bit_header_is_flagged() {
    let raw = "From: a@b.example\r\nSubject: caf\u{e9}\r\n\r\nbody".as_bytes();
    let mut bytes = raw.to_vec();
    bytes.push(0xff);
    assert!(parse(&bytes).has_flag(flags::EIGHT_BIT_HEADERS));
}

#[test]
fn delivery_status_and_thread_index() {
    let raw = b"From: MAILER-DAEMON@x.example\r\nSubject: Undelivered\r\nMessage-ID: <b@x>\r\n\
Thread-Index: AdC0xOxFwE/tigzGSJa9glHhu/rfhwAAPsBAAAAKniAAALxy8A==\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n\
--b\r\nContent-Type: message/delivery-status\r\n\r\n\
Reporting-MTA: dns; x.example\r\n\r\nFinal-Recipient: rfc822; <Bob@Example.org>\r\nAction: failed\r\nStatus: 5.1.1 (user unknown)\r\n\r\n\
--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <orig@us.example>\r\nSubject: hi\r\n\r\n--b--\r\n";
    let p = parse(raw);
    assert_eq!(
        p.dsn,
        vec![DsnRecipient {
            recipient: "bob@example.org".into(),
            action: "failed".into(),
            status: "5.1.1".into()
        }]
    );
    assert_eq!(p.embedded_message_ids, vec!["orig@us.example"]);
    assert_eq!(p.thread_index.as_deref().map(str::len), Some(44));
    let text = parse(b"From: a@b.example\r\nSubject: x\r\n\r\n-- headers follow --\r\nMessage-ID: <q@orig.example>\r\n");
    assert_eq!(text.quoted_message_ids, vec!["q@orig.example"]);
}

#[test]
fn oversized_messages_are_read_from_their_header_only() {
    let mut raw =
        b"From: a@b.example\r\nSubject: big\r\nMessage-ID: <big@b.example>\r\n\r\n".to_vec();
    raw.extend(std::iter::repeat_n(b'x', 5000));
    let p = parse_limited(&raw, 1000, None);
    assert!(p.has_flag(flags::TOO_LARGE));
    assert_eq!(p.message_id, "big@b.example");
    assert_eq!(p.subject, "big");
    assert_eq!(p.size, raw.len());
    assert!(!parse_limited(&raw, 100_000, None).has_flag(flags::TOO_LARGE));
    let head_only = parse_limited(&raw[..60], 1000, Some(5060));
    assert!(head_only.has_flag(flags::TOO_LARGE) && head_only.text.contains("5060 bytes"));
}

#[test]
fn html_only_becomes_text() {
    let raw = b"From: a@b.example\r\nContent-Type: text/html\r\n\r\n<p>Hello <b>there</b></p><p>Second</p>";
    let p = parse(raw);
    assert!(
        p.text.contains("Hello") && p.text.contains("Second"),
        "{:?}",
        p.text
    );
    assert!(!p.text.contains("<p>"));
}
