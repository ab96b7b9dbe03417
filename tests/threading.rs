//! Threading and loop protection through the real pipeline (`postdesk
//! ingest` on SQLite and PostgreSQL), one fixture of our own per rule: each
//! test checks the ticket a message lands in and the event that says why.

#[macro_use]
mod common;

use common::Db;
use common::cli::Cli;
use common::{count, exec};
use serde_json::Value;

on_both_databases!(
    every_threading_rule_on_its_own_fixture,
    subject_tags_and_generic_subjects_do_not_merge_strangers,
    bounces_mark_the_outbox_and_silence_the_address,
    resolved_tickets_reopen_and_old_ones_are_followed,
    subjects_match_without_case_or_accents_also_on_older_tickets
);

/// A message from `from` with `headers` (each ending in CRLF).
fn msg(from: &str, to: &str, subject: &str, id: &str, headers: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n\
         Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n{headers}\r\nHello.\r\n"
    )
    .into_bytes()
}

/// Ingests one message (arrival time `at`); returns the ingest line.
fn ingest(c: &Cli, name: &str, raw: &[u8], at: &str) -> Value {
    let f = c.file(name, raw);
    c.ingest(&["--received-at", at], &[&f]).remove(0)
}

/// The threading decisions recorded on a ticket, for failure messages.
fn why(c: &Cli, ticket: &Value) -> String {
    let n = ticket.as_i64().unwrap_or_default().to_string();
    let events = c.json(&["tickets", "show", &n, "--json"])["events"].clone();
    events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["what"] == "threading")
        .map(|e| e["detail"].as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join(" | ")
}

const AT: &str = "2026-11-26T10:00:00Z";
const T1: &str = "AdC0xOxFwE/tigzGSJa9glHhu/rfhw==";
const T1_REPLY: &str = "AdC0xOxFwE/tigzGSJa9glHhu/rfhwAAPsBAAA==";

fn every_threading_rule_on_its_own_fixture(db: Db) {
    let c = Cli::new(db);
    let support = "support@example.com";
    let first = ingest(
        &c,
        "m1.eml",
        &msg(
            "Jane <jane@cust.example>",
            support,
            "Printer on floor 2",
            "m1@cust.example",
            &format!("Thread-Index: {T1}\r\n"),
        ),
        AT,
    );
    assert_eq!(first["action"], "created");
    let t1 = first["ticket"].clone();

    // The acknowledgement's Message-ID carries Jane's token: pd.TOKEN.NONCE@domain.
    let ack_id = c.json(&["outbox", "list", "--json"])[0]["message_id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = ack_id
        .strip_prefix("pd.")
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_string();

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "token",
            msg(
                "jane@cust.example",
                &format!("support+{token}@example.com"),
                "completely new words",
                "r-token@cust.example",
                "",
            ),
            "threaded by reply token",
        ),
        (
            "irt",
            msg(
                "bob@other.example",
                support,
                "about that",
                "r-irt@other.example",
                "In-Reply-To: <m1@cust.example>\r\n",
            ),
            "threaded by In-Reply-To <m1@cust.example>",
        ),
        (
            "refs",
            msg(
                "bob@other.example",
                support,
                "still about that",
                "r-refs@other.example",
                "References: <unknown@x.example> <m1@cust.example>\r\n",
            ),
            "threaded by References <m1@cust.example>",
        ),
        (
            "late-parent-child",
            msg(
                "carl@c.example",
                support,
                "a branch",
                "r-child@c.example",
                "In-Reply-To: <m1@cust.example>\r\nReferences: <m1@cust.example> <parent-not-seen@c.example>\r\n",
            ),
            "threaded by In-Reply-To <m1@cust.example>",
        ),
        (
            "sibling",
            msg(
                "dora@d.example",
                support,
                "another branch",
                "r-sibling@d.example",
                "In-Reply-To: <parent-not-seen@c.example>\r\n",
            ),
            "threaded by an ID earlier mail referred to <parent-not-seen@c.example>",
        ),
        (
            "tag",
            msg(
                "jane@cust.example",
                support,
                "Re: [#1] printer again",
                "r-tag@cust.example",
                "",
            ),
            "threaded by subject tag #1",
        ),
        (
            "thread-index",
            msg(
                "erin@e.example",
                support,
                "odd subject",
                "r-ti@e.example",
                &format!("Thread-Index: {T1_REPLY}\r\n"),
            ),
            "threaded by Thread-Index",
        ),
        (
            "sender-subject",
            msg(
                "jane@cust.example",
                support,
                "RE: AW: Printer on floor 2",
                "r-subj@cust.example",
                "",
            ),
            "threaded by sender and subject \"printer on floor 2\"",
        ),
    ];
    for (name, raw, expected) in &cases {
        let out = ingest(&c, &format!("{name}.eml"), raw, "2026-11-27T10:00:00Z");
        assert_eq!(out["ticket"], t1, "{name}: {}", why(&c, &out["ticket"]));
        assert_eq!(out["action"], "appended", "{name}");
        let n = t1.as_i64().unwrap().to_string();
        let events = c.json(&["tickets", "show", &n, "--json"])["events"].clone();
        assert!(
            events
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["detail"].as_str().unwrap().starts_with(expected)),
            "{name}: no event {expected:?} in {events:#}"
        );
    }
    // None of those replies was acknowledged: the one acknowledgement is the first.
    assert_eq!(
        c.json(&["outbox", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A forged token (one character changed) is not trusted.
    let mut forged = token.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'a' { b'b' } else { b'a' };
    let forged = String::from_utf8(forged).unwrap();
    let out = ingest(
        &c,
        "forged.eml",
        &msg(
            "mallory@evil.example",
            &format!("support+{forged}@example.com"),
            "let me in",
            "r-forged@evil.example",
            "",
        ),
        AT,
    );
    assert_eq!(out["action"], "created");
    assert_ne!(out["ticket"], t1);
    let n = out["ticket"].as_i64().unwrap().to_string();
    let events = c.json(&["tickets", "show", &n, "--json"])["events"].to_string();
    assert!(events.contains("forged or altered reply token"), "{events}");

    // Outside the thread window the same sender and subject start over.
    let late = ingest(
        &c,
        "late.eml",
        &msg(
            "jane@cust.example",
            support,
            "Printer on floor 2",
            "late@cust.example",
            "",
        ),
        "2026-12-20T10:00:00Z",
    );
    assert_eq!(late["action"], "created");
}

fn subject_tags_and_generic_subjects_do_not_merge_strangers(db: Db) {
    let c = Cli::new(db);
    let support = "support@example.com";
    let t = ingest(
        &c,
        "a.eml",
        &msg(
            "jane@cust.example",
            support,
            "Invoice 4711 is wrong",
            "a@cust.example",
            "",
        ),
        AT,
    )["ticket"]
        .clone();
    let stranger = ingest(
        &c,
        "b.eml",
        &msg(
            "eve@evil.example",
            support,
            &format!("Re: [#{t}] Invoice 4711 is wrong"),
            "b@evil.example",
            "",
        ),
        AT,
    );
    assert_eq!(stranger["action"], "created");
    assert_ne!(stranger["ticket"], t);
    let n = stranger["ticket"].as_i64().unwrap().to_string();
    let events = c.json(&["tickets", "show", &n, "--json"])["events"].to_string();
    assert!(events.contains("not a participant"), "{events}");
    // A colleague of the same company is a stranger too, unless tag_same_domain is on.
    let colleague = ingest(
        &c,
        "c.eml",
        &msg(
            "joe@cust.example",
            support,
            &format!("[#{t}] from a colleague"),
            "c@cust.example",
            "",
        ),
        AT,
    );
    assert_ne!(colleague["ticket"], t);
    // Generic subjects never tie two mails together.
    let h1 = ingest(
        &c,
        "h1.eml",
        &msg("dave@d.example", support, "Help", "h1@d.example", ""),
        AT,
    );
    let h2 = ingest(
        &c,
        "h2.eml",
        &msg("dave@d.example", support, "Re: help", "h2@d.example", ""),
        AT,
    );
    assert_ne!(h1["ticket"], h2["ticket"]);
}

fn bounces_mark_the_outbox_and_silence_the_address(db: Db) {
    let c = Cli::new(db);
    let first = ingest(
        &c,
        "a.eml",
        &msg(
            "Jane <jane@cust.example>",
            "support@example.com",
            "Broken login",
            "a@cust.example",
            "",
        ),
        AT,
    );
    let ack = &c.json(&["outbox", "list", "--json"])[0];
    let ack_id = ack["message_id"].as_str().unwrap().to_string();
    // The acknowledgement went out (no SMTP server here: set the state).
    common::exec(
        &c.url,
        &format!("UPDATE outbox SET status = 'sent' WHERE message_id = '{ack_id}'"),
    );
    // It comes back to the envelope sender the acknowledgement went out
    // with: signed for that mail (VERP), as the MTA addresses a bounce.
    let env_from = String::from_utf8(
        common::column_bytes(
            &c.url,
            &format!("SELECT env_from FROM outbox WHERE message_id = '{ack_id}'"),
        )
        .remove(0),
    )
    .unwrap();
    assert!(env_from.starts_with("support+b-"), "{env_from}");
    let bounce = format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.cust.example>\r\nTo: {env_from}\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce-1@mx.cust.example>\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n\
         --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.cust.example\r\n\r\n\
         Final-Recipient: rfc822; jane@cust.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
         --b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{ack_id}>\r\nSubject: [#1] Broken login\r\n\r\n--b--\r\n"
    );
    let out = ingest(&c, "bounce.eml", bounce.as_bytes(), AT);
    assert_eq!(out["kind"], "bounce");
    assert_eq!(
        out["ticket"], first["ticket"],
        "the bounce is stored on the ticket of the mail it returns"
    );
    assert_eq!(
        c.json(&["outbox", "list", "--json"])[0]["status"],
        "bounced"
    );
    let n = first["ticket"].as_i64().unwrap().to_string();
    let show = c.json(&["tickets", "show", &n, "--json"]);
    let jane = show["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["email"] == "jane@cust.example")
        .unwrap()
        .clone();
    assert!(
        jane["suppressed_until"]
            .as_str()
            .unwrap()
            .starts_with("2027-01-25"),
        "{jane}"
    );
    // Jane writes again about something else: a ticket, but no automatic mail to a dead address.
    let again = ingest(
        &c,
        "b.eml",
        &msg(
            "jane@cust.example",
            "support@example.com",
            "Another question entirely",
            "b@cust.example",
            "",
        ),
        AT,
    );
    assert_eq!(again["action"], "created");
    assert_eq!(
        c.json(&["outbox", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A delay notice is attached but changes nothing.
    let delay = bounce
        .replace("Action: failed", "Action: delayed")
        .replace("Status: 5.1.1", "Status: 4.4.1")
        .replace("bounce-1@", "delay-1@");
    let out = ingest(&c, "delay.eml", delay.as_bytes(), AT);
    assert_eq!(out["ticket"], first["ticket"]);
}

fn resolved_tickets_reopen_and_old_ones_are_followed(db: Db) {
    let c = Cli::new(db);
    let t = ingest(
        &c,
        "a.eml",
        &msg(
            "jane@cust.example",
            "support@example.com",
            "VPN drops",
            "a@cust.example",
            "",
        ),
        AT,
    )["ticket"]
        .clone();
    common::exec(
        &c.url,
        &format!("UPDATE tickets SET status = 'resolved' WHERE number = {t}"),
    );
    let reply = ingest(
        &c,
        "b.eml",
        &msg(
            "jane@cust.example",
            "support@example.com",
            "Re: VPN drops",
            "b@cust.example",
            "In-Reply-To: <a@cust.example>\r\n",
        ),
        "2026-12-01T10:00:00Z",
    );
    assert_eq!(reply["ticket"], t);
    let n = t.as_i64().unwrap().to_string();
    let show = c.json(&["tickets", "show", &n, "--json"]);
    assert_eq!(show["status"], "open");
    assert!(show["events"].to_string().contains("reopened"));
    common::exec(
        &c.url,
        &format!("UPDATE tickets SET status = 'closed' WHERE number = {t}"),
    );
    let late = ingest(
        &c,
        "c.eml",
        &msg(
            "jane@cust.example",
            "support@example.com",
            "Re: VPN drops",
            "c@cust.example",
            "In-Reply-To: <b@cust.example>\r\n",
        ),
        "2027-02-01T10:00:00Z",
    );
    assert_eq!(late["action"], "created");
    let n = late["ticket"].as_i64().unwrap().to_string();
    assert_eq!(c.json(&["tickets", "show", &n, "--json"])["follows"], t);
}

/// A subject typed in capitals without accents ("ΕΚΤΥΠΩΤΗΣ") is the same
/// conversation as "Εκτυπωτής"; tickets stored before subjects were folded
/// are refolded by `migrate`.
fn subjects_match_without_case_or_accents_also_on_older_tickets(db: Db) {
    let c = Cli::new(db);
    let to = "support@example.com";
    let first = ingest(
        &c,
        "a.eml",
        &msg(
            "maria@example.gr",
            to,
            "Εκτυπωτής χαλασμένος",
            "gr1@example.gr",
            "",
        ),
        "2026-11-26T10:00:00Z",
    );
    let second = ingest(
        &c,
        "b.eml",
        &msg(
            "maria@example.gr",
            to,
            "ΕΚΤΥΠΩΤΗΣ ΧΑΛΑΣΜΕΝΟΣ",
            "gr2@example.gr",
            "",
        ),
        "2026-11-26T11:00:00Z",
    );
    assert_eq!(
        second["ticket"],
        first["ticket"],
        "{}",
        why(&c, &second["ticket"])
    );

    // A ticket stored by an earlier version: its subject kept its accents.
    exec(
        &c.url,
        "UPDATE tickets SET normalized_subject = 'εκτυπωτής χαλασμένος'",
    );
    exec(
        &c.url,
        &format!(
            "INSERT INTO settings (name, value) VALUES ('refold_subjects', {})",
            if db == Db::Sqlite {
                "X'01'"
            } else {
                "decode('01', 'hex')"
            }
        ),
    );
    let out = c.run(&["migrate"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        count(
            &c.url,
            "SELECT COUNT(*) FROM tickets WHERE normalized_subject = 'εκτυπωτησ χαλασμενοσ'"
        ),
        1
    );
    assert_eq!(
        count(
            &c.url,
            "SELECT COUNT(*) FROM settings WHERE name = 'refold_subjects'"
        ),
        0
    );
    let third = ingest(
        &c,
        "c.eml",
        &msg(
            "maria@example.gr",
            to,
            "Re: εκτυπωτης χαλασμενος",
            "gr3@example.gr",
            "",
        ),
        "2026-11-26T12:00:00Z",
    );
    assert_eq!(
        third["ticket"],
        first["ticket"],
        "{}",
        why(&c, &third["ticket"])
    );
}
