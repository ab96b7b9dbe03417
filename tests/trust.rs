//! The trust boundary (DESIGN §12), tried as an attacker would through
//! `postdesk ingest` on both databases: a piped body that pretends to be a
//! second message, forged senders that try to join, steer, rate, reopen or
//! silence a ticket, NUL bytes that once made PostgreSQL refuse mail, a
//! flood from one sender, a stranger's Reply-To, a 2 MB subject, and the
//! MTA's spam verdict. Each test failed on the code before the boundary.

#[macro_use]
mod common;

use common::cli::Cli;
use common::*;
use serde_json::Value;

on_both_databases!(
    a_piped_message_is_one_message_whatever_its_body_says,
    a_forged_sender_cannot_widen_a_tickets_audience,
    nul_bytes_in_any_header_are_stored,
    a_flood_from_one_sender_is_held_back_and_nothing_is_lost,
    notifications_about_one_ticket_are_limited_too,
    a_strangers_reply_to_and_a_huge_subject_go_nowhere,
    a_forged_bounce_silences_nobody,
    ratings_need_the_surveys_own_token_and_agents_need_proof,
    spam_verdicts_and_hash_spam_set_mail_aside,
);

const AGENTS: &str = "agents = [\"alice@example.com\", \"bob@example.com\"]\nsurvey = true\n";
const PEOPLE: &str = "[[agent]]\nemail = \"alice@example.com\"\nname = \"Alice\"\n\
    [[agent]]\nemail = \"bob@example.com\"\nname = \"Bob\"\n\
    [auth]\ntrusted_authserv_ids = [\"mx.example.com\"]\n";

fn cli(db: Db) -> Cli {
    Cli::with_config(db, AGENTS, PEOPLE)
}

/// A plain message (CRLF), with extra header lines.
fn msg(from: &str, subject: &str, id: &str, headers: &str, body: &str) -> Vec<u8> {
    mail(from, "support@example.com", subject, id, headers, body)
}

/// Ingests `raw` from stdin (as an MTA pipe would); the JSON lines.
fn pipe(c: &Cli, raw: &[u8]) -> Vec<Value> {
    let out = c.run(&["ingest", "--mailbox", "support", "--json"], Some(raw));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn show(c: &Cli, n: i64) -> Value {
    c.json(&["tickets", "show", &n.to_string(), "--json"])
}

fn outbox(c: &Cli) -> Vec<Value> {
    c.json(&["outbox", "list", "--json"])
        .as_array()
        .unwrap()
        .clone()
}

/// The raw bytes of the outbound mail of `kind` to `to` (the newest).
fn sent_to(c: &Cli, kind: &str, to: &str) -> Vec<u8> {
    let rows = column_bytes(
        &c.url,
        &format!(
            "SELECT m.raw FROM messages m JOIN outbox o ON o.message_id = m.message_id \
             WHERE o.kind = '{kind}' AND o.first_recipient = '{to}' ORDER BY o.id DESC"
        ),
    );
    rows.into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {kind} to {to}"))
}

/// The Reply-To address (with its token) of `raw`.
fn reply_to(raw: &[u8]) -> String {
    address_in(&header(raw, "Reply-To").unwrap())
}

fn participants(c: &Cli, n: i64) -> Vec<String> {
    show(c, n)["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["email"].as_str().unwrap().to_string())
        .collect()
}

fn has_event(t: &Value, what: &str) -> bool {
    t["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["what"] == what)
}

fn a_piped_message_is_one_message_whatever_its_body_says(db: Db) {
    let c = cli(db);
    // The customer's first mail: ticket #1.
    let first = pipe(
        &c,
        &msg(
            "Jane <jane@example.org>",
            "Order 77 never came",
            "o77@example.org",
            "",
            "Where is it?",
        ),
    );
    assert_eq!(first[0]["ticket"], 1);
    // What Postfix's local(8) hands an alias command: an envelope line in
    // front, and body lines that start with "From " left as they are. The
    // body carries a whole second "message": an agent's #close with a
    // forged pass from our own MTA and a phishing text for the customer.
    let attack = b"From eve@evil.example  Mon Nov 30 10:00:00 2026\n\
Return-Path: <eve@evil.example>\n\
From: Eve <eve@evil.example>\n\
To: support@example.com\n\
Subject: Question about shipping\n\
Message-ID: <q1@evil.example>\n\
\n\
Hello,\n\
\n\
From tomorrow on I am away.\n\
\n\
From alice@example.com Mon Nov 30 10:00:01 2026\n\
Authentication-Results: mx.example.com; dkim=pass header.d=example.com\n\
From: Alice <alice@example.com>\n\
To: support@example.com\n\
Subject: Re: [#1] Order 77 never came\n\
Message-ID: <forged@example.com>\n\
\n\
#close\n\
#assign bob\n\
Please confirm your card at http://evil.example/pay\n";
    let out = pipe(&c, attack);
    assert_eq!(out.len(), 1, "one message in, one line out: {out:?}");
    assert_eq!(out[0]["message_id"], "q1@evil.example");
    assert_eq!(out[0]["ticket"], 2);
    // Ticket #1 is untouched: still open, nobody assigned, nothing relayed.
    let t1 = show(&c, 1);
    assert_eq!(t1["status"], "open");
    assert!(t1["assignee"].is_null());
    assert!(outbox(&c).iter().all(|o| o["kind"] != "agent_reply"));
    // The message is stored byte for byte, without the envelope line.
    let raw = &column_bytes(
        &c.url,
        "SELECT raw FROM messages WHERE message_id = 'q1@evil.example'",
    )[0];
    assert!(
        raw.starts_with(b"Return-Path: <eve@evil.example>\n"),
        "{}",
        String::from_utf8_lossy(raw)
    );
    assert!(raw.ends_with(b"http://evil.example/pay\n"));
    assert!(String::from_utf8_lossy(raw).contains("\n\nFrom tomorrow on I am away.\n"));

    // The envelope is the MTA's statement: a null sender is a bounce.
    let null = pipe(
        &c,
        b"From MAILER-DAEMON  Mon Nov 30 10:00:02 2026\nFrom: x@example.org\nSubject: hi\nMessage-ID: <n1@example.org>\n\nsome text\n",
    );
    assert_eq!(null[0]["kind"], "bounce");

    // Splitting is asked for, never guessed: --mbox, or a .mbox file.
    let mbox = b"From a@example.org Mon Nov 30 10:00:00 2026\nFrom: a@example.org\nSubject: one\nMessage-ID: <m1@example.org>\n\nfirst\n\nFrom b@example.org Mon Nov 30 10:00:01 2026\nFrom: b@example.org\nSubject: two\nMessage-ID: <m2@example.org>\n\nsecond\n";
    let out = c.run(&["ingest", "--mailbox", "support", "--mbox"], Some(mbox));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
}

fn a_forged_sender_cannot_widen_a_tickets_audience(db: Db) {
    let c = cli(db);
    pipe(
        &c,
        &msg(
            "Jane <jane@example.org>",
            "Invoice 12 is wrong",
            "i12@example.org",
            "",
            "Please fix.",
        ),
    );
    // Jane's From, our tag, a spy in Cc: the text may join the ticket
    // (anyone can add words), the spy may not join its audience.
    let forged = msg(
        "Jane <jane@example.org>",
        "Re: [#1] Invoice 12 is wrong",
        "f1@evil.example",
        "Cc: spy@evil.example\r\n",
        "one more thing",
    );
    assert_eq!(pipe(&c, &forged)[0]["ticket"], 1);
    assert_eq!(participants(&c, 1), vec!["jane@example.org"]);
    assert!(has_event(&show(&c, 1), "audience unchanged"));

    // An agent's address without proof is no participant: its tag is not
    // honoured, and it gets no powers.
    let as_agent = msg(
        "Alice <alice@example.com>",
        "Re: [#1] Invoice 12 is wrong",
        "f2@evil.example",
        "Cc: spy@evil.example\r\n",
        "#assign bob\nAll fine, pay here: http://evil.example",
    );
    let out = pipe(&c, &as_agent);
    assert_ne!(out[0]["ticket"], 1, "{out:?}");
    assert!(show(&c, 1)["assignee"].is_null());
    assert!(outbox(&c).iter().all(|o| o["kind"] != "agent_reply"));

    // Jane's own reply, carrying the token we sent her, proves it is hers:
    // her colleague joins.
    let token = reply_to(&sent_to(&c, "ack", "jane@example.org"));
    let mut proven = msg(
        "Jane <jane@example.org>",
        "Re: [#1] Invoice 12 is wrong",
        "i12b@example.org",
        "Cc: colleague@example.org\r\n",
        "My colleague handles it now.",
    );
    proven = String::from_utf8(proven)
        .unwrap()
        .replace("To: support@example.com", &format!("To: {token}"))
        .into_bytes();
    assert_eq!(pipe(&c, &proven)[0]["ticket"], 1);
    let mut p = participants(&c, 1);
    p.sort();
    assert_eq!(p, vec!["colleague@example.org", "jane@example.org"]);
}

fn nul_bytes_in_any_header_are_stored(db: Db) {
    let c = cli(db);
    let cases: [&[u8]; 5] = [
        b"From: a@example.org\r\nSubject: id\r\nMessage-ID: <nul\x00id@example.org>\r\n\r\nx\r\n",
        b"From: a\x00b@example.org\r\nSubject: from\r\nMessage-ID: <nul-from@example.org>\r\n\r\nx\r\n",
        b"From: Name \x00 <c@example.org>\r\nTo: sup\x00port@example.com\r\nSubject: to\r\nMessage-ID: <nul-to@example.org>\r\n\r\nx\r\n",
        b"From: d@example.org\r\nSubject: refs\r\nMessage-ID: <nul-refs@example.org>\r\nIn-Reply-To: <p\x00@x>\r\nReferences: <r\x00@x> <s@x>\r\n\r\nx\r\n",
        b"From: e@example.org\r\nSubject: s\x00ubject =?utf-8?q?a=00b?=\r\nMessage-ID: <nul-subject@example.org>\r\n\r\nbody \x00 text\r\n",
    ];
    for raw in cases {
        let first = pipe(&c, raw);
        assert_eq!(first.len(), 1);
        assert_ne!(first[0]["action"], "duplicate");
        // Stored: the same bytes again are recognised.
        let again = pipe(&c, raw);
        assert_eq!(
            again[0]["action"],
            "duplicate",
            "{}",
            String::from_utf8_lossy(raw)
        );
    }
    let stored = count(
        &c.url,
        "SELECT COUNT(*) FROM messages WHERE direction = 'in'",
    );
    assert_eq!(stored, 5);
}

/// `n` mails from one sender, each a new conversation.
fn flood(c: &Cli, n: usize, from: &str) {
    let mut files = Vec::new();
    for i in 0..n {
        files.push(c.file(
            &format!("flood-{i}.eml"),
            &msg(
                from,
                &format!("Offer number {i}"),
                &format!("flood-{i}@evil.example"),
                "",
                "buy",
            ),
        ));
    }
    let refs: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
    assert_eq!(c.ingest(&[], &refs).len(), n);
}

fn a_flood_from_one_sender_is_held_back_and_nothing_is_lost(db: Db) {
    let c = cli(db);
    flood(&c, 1000, "eve@flood.example");
    let out = outbox(&c);
    let acks = out.iter().filter(|o| o["kind"] == "ack").count();
    assert_eq!(acks, 3, "acks_per_hour");
    for agent in ["alice@example.com", "bob@example.com"] {
        let notified = out
            .iter()
            .filter(|o| o["kind"] == "agent_notify" && o["to"][0] == agent)
            .count();
        assert_eq!(notified, 10, "auto_per_recipient for {agent}");
        let held = count(
            &c.url,
            &format!("SELECT COUNT(*) FROM held_notices WHERE recipient = '{agent}'"),
        );
        assert_eq!(held, 990, "the rest waits for {agent}'s digest");
    }
    // Every message is a ticket all the same.
    assert_eq!(count(&c.url, "SELECT COUNT(*) FROM tickets"), 1000);
    assert!(has_event(&show(&c, 1000), "notification held"));
}

fn notifications_about_one_ticket_are_limited_too(db: Db) {
    let c = Cli::with_config(
        db,
        AGENTS,
        &format!("{PEOPLE}[limits]\nauto_per_recipient = 1000\n"),
    );
    pipe(
        &c,
        &msg(
            "jane@example.org",
            "Broken screen",
            "s0@example.org",
            "",
            "It broke.",
        ),
    );
    for i in 1..=14 {
        pipe(
            &c,
            &msg(
                "jane@example.org",
                "Re: [#1] Broken screen",
                &format!("s{i}@example.org"),
                "In-Reply-To: <s0@example.org>\r\n",
                &format!("and another thing ({i})"),
            ),
        );
    }
    let to_alice = outbox(&c)
        .iter()
        .filter(|o| o["kind"] == "agent_notify" && o["to"][0] == "alice@example.com")
        .count();
    assert_eq!(to_alice, 10, "auto_per_ticket, applied to notifications");
    let held: Vec<Vec<u8>> = column_bytes(
        &c.url,
        "SELECT reason FROM held_notices WHERE recipient = 'alice@example.com'",
    );
    assert_eq!(held.len(), 5);
    assert!(String::from_utf8_lossy(&held[0]).contains("about this ticket"));
}

fn a_strangers_reply_to_and_a_huge_subject_go_nowhere(db: Db) {
    let c = cli(db);
    // One sender, 200 different third parties in Reply-To.
    let mut files = Vec::new();
    for i in 0..200 {
        files.push(c.file(
            &format!("rt-{i}.eml"),
            &msg(
                "eve@evil.example",
                &format!("Cheap watches {i}"),
                &format!("rt-{i}@evil.example"),
                &format!("Reply-To: victim{i}@third.example\r\n"),
                "buy",
            ),
        ));
    }
    let refs: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
    c.ingest(&[], &refs);
    let acks: Vec<Value> = outbox(&c)
        .into_iter()
        .filter(|o| o["kind"] == "ack")
        .collect();
    assert_eq!(acks.len(), 3);
    assert!(
        acks.iter().all(|a| a["to"][0] == "eve@evil.example"),
        "{acks:?}"
    );

    // A 2 MB subject is kept on the message, and echoed nowhere.
    let huge = "Z".repeat(2 * 1024 * 1024);
    let out = pipe(
        &c,
        &msg("kim@example.org", &huge, "huge@example.org", "", "hello"),
    );
    let n = out[0]["ticket"].as_i64().unwrap();
    let ack = sent_to(&c, "ack", "kim@example.org");
    let subject = header(&ack, "Subject").unwrap();
    assert!(
        subject.len() < 300,
        "ack subject of {} bytes",
        subject.len()
    );
    let note = sent_to(&c, "agent_notify", "alice@example.com");
    assert!(
        note.len() < 64 * 1024,
        "notification of {} bytes",
        note.len()
    );
    assert!(show(&c, n)["subject"].as_str().unwrap().chars().count() <= 201);
}

fn a_forged_bounce_silences_nobody(db: Db) {
    let c = cli(db);
    pipe(
        &c,
        &msg(
            "jane@example.org",
            "Lost parcel",
            "lp@example.org",
            "",
            "Where?",
        ),
    );
    exec(&c.url, "UPDATE outbox SET status = 'sent'");
    let ack = sent_to(&c, "ack", "jane@example.org");
    let ack_id = header(&ack, "Message-ID").unwrap();
    // A plain message from "MAILER-DAEMON" that merely quotes our Message-ID.
    let forged = format!(
        "From: MAILER-DAEMON@evil.example\r\nTo: support@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Message-ID: <fake-bounce@evil.example>\r\n\r\nThis is the mail system. User unknown, 550 5.1.1.\r\n\r\nMessage-ID: {ack_id}\r\n"
    );
    let out = pipe(&c, forged.as_bytes());
    assert_eq!(out[0]["kind"], "bounce");
    assert_eq!(count(&c.url, "SELECT COUNT(*) FROM suppressions"), 0);
    assert!(outbox(&c).iter().all(|o| o["status"] == "sent"));
    assert!(has_event(&show(&c, 1), "possible bounce"));
    // Even a well-formed DSN counts only when it comes back to the signed
    // envelope sender our mail went out with.
    let dsn = format!(
        "From: MAILER-DAEMON@mx.elsewhere.example\r\nTo: support@example.com\r\nSubject: Undelivered Mail\r\n\
         Message-ID: <dsn@elsewhere.example>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; mx.elsewhere.example\r\n\r\nFinal-Recipient: rfc822; jane@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
         --b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {ack_id}\r\n\r\n--b--\r\n"
    );
    pipe(&c, dsn.as_bytes());
    assert_eq!(count(&c.url, "SELECT COUNT(*) FROM suppressions"), 0);
    // Jane still hears from us.
    pipe(
        &c,
        &msg(
            "jane@example.org",
            "Another parcel",
            "lp2@example.org",
            "",
            "And this one?",
        ),
    );
    assert_eq!(outbox(&c).iter().filter(|o| o["kind"] == "ack").count(), 2);
}

/// `raw` sent to `address` instead of the plain support address.
fn to_address(raw: Vec<u8>, address: &str) -> Vec<u8> {
    String::from_utf8(raw)
        .unwrap()
        .replacen("To: support@example.com", &format!("To: {address}"), 1)
        .into_bytes()
}

fn rating(c: &Cli) -> Value {
    show(c, 1)["rating"].clone()
}

fn ratings_need_the_surveys_own_token_and_agents_need_proof(db: Db) {
    let c = cli(db);
    pipe(
        &c,
        &msg(
            "jane@example.org",
            "Login fails",
            "lf@example.org",
            "",
            "I cannot log in.",
        ),
    );
    // Alice resolves it, from a reply to her notification.
    let note = sent_to(&c, "agent_notify", "alice@example.com");
    let resolve = to_address(
        msg(
            "Alice <alice@example.com>",
            "Re: [#1] Login fails",
            "al1@example.com",
            "",
            "#resolve\nFixed: try again.",
        ),
        &reply_to(&note),
    );
    assert_eq!(pipe(&c, &resolve)[0]["kind"], "agent");
    assert_eq!(show(&c, 1)["status"], "resolved");
    // One mail carries her answer and the survey's question.
    let survey = sent_to(&c, "agent_reply", "jane@example.org");
    assert!(String::from_utf8_lossy(&survey).contains("from 1 to 5"));
    let survey_address = reply_to(&survey);
    assert!(survey_address.contains("+1s-"), "{survey_address}");

    // Forged agent From, our tag, a digit: no rating, no reopening.
    pipe(
        &c,
        &msg(
            "Alice <alice@example.com>",
            "Re: [#1] Login fails",
            "x1@evil.example",
            "",
            "1",
        ),
    );
    assert!(rating(&c).is_null());
    assert_eq!(show(&c, 1)["status"], "resolved");
    // The customer's reply token (shown in every mail we sent her, and to
    // everyone she copied) is not the survey's: a digit there is no rating.
    let reply_token = reply_to(&sent_to(&c, "ack", "jane@example.org"));
    pipe(
        &c,
        &to_address(
            msg(
                "jane@example.org",
                "Re: Login fails",
                "x2@example.org",
                "",
                "2",
            ),
            &reply_token,
        ),
    );
    assert!(rating(&c).is_null());

    // Her answer to the survey itself counts.
    exec(&c.url, "UPDATE tickets SET status = 'resolved'");
    let answer = to_address(
        msg(
            "jane@example.org",
            "Re: [#1] How did we do?",
            "ans@example.org",
            &format!(
                "In-Reply-To: {}\r\n",
                header(&survey, "Message-ID").unwrap()
            ),
            "5",
        ),
        &survey_address,
    );
    pipe(&c, &answer);
    assert_eq!(rating(&c), 5);
    // A stranger quoting her message cannot change it.
    pipe(
        &c,
        &msg(
            "eve@evil.example",
            "Re: Login fails",
            "x3@evil.example",
            "In-Reply-To: <lf@example.org>\r\n",
            "1",
        ),
    );
    assert_eq!(rating(&c), 5);
}

fn spam_verdicts_and_hash_spam_set_mail_aside(db: Db) {
    let c = cli(db);
    for (i, h) in [
        "X-Spam-Flag: YES\r\n",
        "X-Spam-Status: Yes, score=12.0 required=5.0\r\n",
        "X-Rspamd-Action: add header\r\n",
        "Authentication-Results: mx.example.com; dmarc=fail (p=reject) header.from=bank.example\r\n",
    ]
    .iter()
    .enumerate()
    {
        let out = pipe(&c, &msg("offers@bank.example", "Verify your account", &format!("sp{i}@bank.example"), h, "click"));
        assert_eq!(out[0]["kind"], "spam", "{h}");
        assert!(out[0]["ticket"].is_null());
    }
    assert!(outbox(&c).is_empty(), "spam is never answered nor notified");

    // An agent's #spam sets the sender's later mail aside too.
    pipe(
        &c,
        &msg(
            "pest@example.org",
            "Hello friend",
            "pest1@example.org",
            "",
            "I have an offer.",
        ),
    );
    let note = sent_to(&c, "agent_notify", "alice@example.com");
    let spam = to_address(
        msg(
            "Alice <alice@example.com>",
            "Re: [#1] Hello friend",
            "al-spam@example.com",
            "",
            "#spam",
        ),
        &reply_to(&note),
    );
    pipe(&c, &spam);
    let later = pipe(
        &c,
        &msg(
            "pest@example.org",
            "Hello again",
            "pest2@example.org",
            "",
            "Still here.",
        ),
    );
    assert_eq!(later[0]["kind"], "spam");
    assert!(later[0]["ticket"].is_null());
    let metrics_kind = count(&c.url, "SELECT COUNT(*) FROM messages WHERE kind = 'spam'");
    assert_eq!(metrics_kind, 5);
}

#[test]
fn the_database_file_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    // The usual umask, which would leave a new file readable by everyone.
    // SAFETY: umask only sets the process's file-creation mask.
    unsafe { libc::umask(0o022) };
    let c = cli(Db::Sqlite);
    pipe(
        &c,
        &msg("jane@example.org", "Hello", "priv@example.org", "", "hi"),
    );
    let db = std::path::PathBuf::from(c.url.strip_prefix("sqlite://").unwrap());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&db), 0o600, "{}", db.display());
    for suffix in ["-wal", "-shm"] {
        let f = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        if f.exists() {
            assert_eq!(mode(&f), 0o600, "{}", f.display());
        }
    }
    // A database made readable by others (an old install, a copy) is narrowed.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    c.json(&["tickets", "list", "--json"]);
    assert_eq!(mode(&db), 0o600);
}
