//! The command line without mail servers: `ingest` of bad and odd input,
//! the JSON contract, exit codes, and `check` on a broken configuration.

#[macro_use]
mod common;

use common::Db;
use common::cli::Cli;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = common::BIN;

on_both_databases!(
    ingest_speaks_the_json_contract_and_is_idempotent,
    bad_input_is_stored_and_flagged_never_dropped,
    mbox_files_split_and_received_at_sets_the_clock,
    the_hostile_corpus_is_stored_without_a_crash,
    times_are_read_and_written_in_the_zone_asked_for,
    explain_stores_nothing_and_messages_list_shows_what_was_set_aside,
    a_slow_pipe_gets_each_line_once_its_message_is_committed
);

const GOOD: &[u8] = b"From: Jane <jane@example.org>\r\nTo: support@example.com\r\nSubject: Hello\r\nMessage-ID: <good-1@example.org>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\nHi there\r\n";

fn ingest_speaks_the_json_contract_and_is_idempotent(db: Db) {
    let c = Cli::new(db);
    let f = c.file("good.eml", GOOD);
    let first = c.ingest(&[], &[&f]);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["ticket"], 1);
    assert_eq!(first[0]["action"], "created");
    assert_eq!(first[0]["kind"], "customer");
    assert_eq!(first[0]["message_id"], "good-1@example.org");
    let again = c.ingest(&[], &[&f]);
    assert_eq!(again[0]["action"], "duplicate");
    assert_eq!(again[0]["ticket"], 1);

    // Text output, from stdin.
    let out = c.run(&["ingest", "--mailbox", "support"], Some(GOOD));
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("ticket=1 action=duplicate kind=customer")
    );

    let list = c.json(&["tickets", "list", "--json"]);
    let t = &list[0];
    for key in [
        "number",
        "subject",
        "status",
        "priority",
        "mailbox",
        "customer",
        "assignee",
        "created_at",
        "messages",
        "message_ids",
        "sla",
    ] {
        assert!(t.get(key).is_some(), "tickets list lacks {key}: {t}");
    }
    assert_eq!(
        t["messages"], 2,
        "the message and its queued acknowledgement"
    );
    assert_eq!(
        (
            t["human_messages"].as_i64(),
            t["automatic_messages"].as_i64()
        ),
        (Some(1), Some(1)),
        "the customer's words apart from our acknowledgement: {t}"
    );
    let text = c.run(&["tickets", "list"], None);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("  1 msg +1 auto"), "{text}");
    assert_eq!(t["sla"]["breached"], false);
    let show = c.json(&["tickets", "show", "1", "--json"]);
    assert_eq!(show["messages"][0]["from"], "jane@example.org");
    assert_eq!(show["messages"][0]["from_name"], "Jane");
    assert_eq!(show["messages"][0]["subject"], "Hello");
    assert!(show["events"].as_array().unwrap().len() >= 2);
    let outbox = c.json(&["outbox", "list", "--json"]);
    assert_eq!(outbox[0]["kind"], "ack");
    assert_eq!(outbox[0]["status"], "queued");
    assert_eq!(outbox[0]["to"][0], "jane@example.org");
    assert_eq!(outbox[0]["in_reply_to"], "good-1@example.org");
    assert_eq!(outbox[0]["subject"], "[#1] Hello");
}

fn bad_input_is_stored_and_flagged_never_dropped(db: Db) {
    let c = Cli::new(db);
    let files = [
        c.file("malformed.eml", b"From: x@example.org\r\nSubject: broken mime\r\nMessage-ID: <bad-mime@example.org>\r\nContent-Type: multipart/mixed; boundary=\"zzz\"\r\n\r\n--zzz\r\nContent-Type: text/plain\r\n\r\npart without end\r\n--zz"),
        c.file("no-id.eml", b"From: y@example.org\r\nSubject: no id\r\n\r\nbody\r\n"),
        c.file("8bit.eml", b"From: =?utf-8?q?Zo=C3=AB?= <z@example.org>\r\nSubject: Caf\xe9 cr\xe8me \xff\r\nMessage-ID: <eight@example.org>\r\n\r\nbody\r\n"),
        c.file("empty.eml", b""),
        c.file("garbage.eml", b"\x00\x01\x02 this is not mail at all\n"),
        c.file("nul.eml", b"From: =?utf-8?q?N=00L?= <n@example.org>\r\nSubject: =?utf-8?q?a=00b?=\r\nMessage-ID: <nul@example.org>\r\n\r\nx\r\n"),
    ];
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let out = c.ingest(&[], &refs);
    assert_eq!(out.len(), 6);
    let tickets = c.json(&["tickets", "list", "--json"]);
    let all_ids: Vec<String> = tickets
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["message_ids"].as_array().unwrap().clone())
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    for o in &out {
        let id = o["message_id"].as_str().unwrap();
        assert!(
            all_ids.contains(&id.to_string()),
            "{id} not stored in a ticket"
        );
    }
    let flags_of = |ticket: &Value| -> Vec<String> {
        let n = ticket.as_i64().unwrap().to_string();
        let show = c.json(&["tickets", "show", &n, "--json"]);
        show["messages"][0]["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .collect()
    };
    assert!(flags_of(&out[1]["ticket"]).contains(&"no-message-id".to_string()));
    assert!(
        out[1]["message_id"]
            .as_str()
            .unwrap()
            .starts_with("sha256-")
    );
    assert!(flags_of(&out[2]["ticket"]).contains(&"8bit-headers".to_string()));
    assert!(flags_of(&out[3]["ticket"]).contains(&"malformed".to_string()));
    assert!(flags_of(&out[4]["ticket"]).contains(&"malformed".to_string()));
    // Nobody to answer for the empty and garbage files: no acknowledgement queued.
    let outbox = c.json(&["outbox", "list", "--json"]);
    let acked: Vec<i64> = outbox
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["ticket"].as_i64().unwrap())
        .collect();
    assert!(!acked.contains(&out[3]["ticket"].as_i64().unwrap()));
}

fn mbox_files_split_and_received_at_sets_the_clock(db: Db) {
    let c = Cli::new(db);
    let mbox = b"From jane@example.org Tue Nov 24 10:00:00 2026\nFrom: jane@example.org\nSubject: one\nMessage-ID: <mb1@example.org>\nDate: Tue, 24 Nov 2026 10:00:00 +0000\n\nfirst\n>From the archive\n\nFrom bob@example.org Tue Nov 24 11:00:00 2026\nFrom: bob@example.org\nSubject: two\nMessage-ID: <mb2@example.org>\nDate: Tue, 24 Nov 2026 11:00:00 +0000\n\nsecond\n";
    let f = c.file("old.mbox", mbox);
    let out = c.ingest(&["--received-at", "date-header"], &[&f]);
    assert_eq!(out.len(), 2);
    let show = c.json(&["tickets", "show", "1", "--json"]);
    assert_eq!(show["created_at"], "2026-11-24T10:00:00Z");
    assert_eq!(show["sla"]["first_response_due"], "2026-11-25T10:00:00Z");
    let g = c.file(
        "x.eml",
        b"From: k@example.org\nSubject: later\nMessage-ID: <k1@example.org>\n\nx\n",
    );
    c.ingest(&["--received-at", "2026-01-02T03:04:05Z"], &[&g]);
    let show = c.json(&["tickets", "show", "3", "--json"]);
    assert_eq!(show["created_at"], "2026-01-02T03:04:05Z");
}

#[test]
fn exit_codes_follow_the_contract() {
    let c = Cli::new(Db::Sqlite);
    let bad_time = c.run(
        &[
            "ingest",
            "--mailbox",
            "support",
            "--received-at",
            "yesterday",
        ],
        Some(GOOD),
    );
    assert_eq!(bad_time.status.code(), Some(64));
    let bad_box = c.run(&["ingest", "--mailbox", "nope"], Some(GOOD));
    assert_eq!(bad_box.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&bad_box.stderr).contains("no mailbox named \"nope\""));
    assert_eq!(c.run(&["frobnicate"], None).status.code(), Some(64));

    // The database cannot be opened: a temporary failure, so an MTA retries.
    let unreachable = Cli::with_db(
        tempfile::tempdir().unwrap(),
        "sqlite:///nonexistent-dir/sub/t.db",
        None,
    );
    let out = unreachable.run(&["ingest", "--mailbox", "support"], Some(GOOD));
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pg = Cli::with_db(
        tempfile::tempdir().unwrap(),
        "postgres://nobody@127.0.0.1:1/none",
        None,
    );
    assert_eq!(
        pg.run(&["ingest", "--mailbox", "support"], Some(GOOD))
            .status
            .code(),
        Some(75)
    );

    let missing = Command::new(BIN)
        .args(["--config", "/nonexistent/postdesk.toml", "check"])
        .output()
        .unwrap();
    // A missing file is missing input (66, as README says), not a mistake in it.
    assert_eq!(missing.status.code(), Some(66));
}

#[test]
fn check_reports_every_mistake_at_once() {
    let c = Cli::new(Db::Sqlite);
    std::fs::write(
        &c.config,
        "[database]\nurl = \"mysql://x\"\n[smtp]\nhost = \"h\"\nport = \"abc\"\nsecurity = \"ssl\"\n\
         [[mailbox]]\nname = \"support\"\naddress = \"not-an-address\"\nlanguage = \"xx\"\n",
    )
    .unwrap();
    let out = c.run(&["check"], None);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("5 problems"), "{err}");
    for path in [
        "database.url:",
        "smtp.port:",
        "smtp.security:",
        "mailbox \"support\".address:",
        "mailbox \"support\".language:",
    ] {
        assert!(err.contains(path), "{path} missing from:\n{err}");
    }
    let good = Cli::new(Db::Sqlite);
    let out = good.run(&["check"], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn the_hostile_corpus_is_stored_without_a_crash(db: Db) {
    let corpus = std::env::var("POSTDESK_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    let dir = corpus.join("hostile");
    if !dir.is_dir() {
        eprintln!(
            "SKIPPED: no corpus at {} (set POSTDESK_CORPUS)",
            corpus.display()
        );
        return;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    files.sort();
    let c = Cli::new(db);
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let out = c.ingest(&["--received-at", "2026-11-01T00:00:00Z"], &refs);
    assert_eq!(out.len(), files.len());
    // Every one was stored: ingesting them again finds each of them.
    let again = c.ingest(&[], &refs);
    let stored = again.iter().filter(|o| o["action"] == "duplicate").count();
    assert_eq!(stored, files.len(), "{again:#?}");
    eprintln!(
        "hostile corpus: {stored} of {} messages stored, 0 crashes",
        files.len()
    );
}

#[test]
fn a_terminal_gets_a_progress_bar_and_a_pipe_gets_none() {
    let c = Cli::new(Db::Sqlite);
    let mbox: String = (0..50)
        .map(|i| {
            format!(
                "From a@example.org Tue Nov 24 10:00:00 2026\nFrom: c{i}@example.org\nSubject: n{i}\nMessage-ID: <p{i}@example.org>\n\nbody {i}\n\n"
            )
        })
        .collect();
    let f = c.file("big.mbox", mbox.as_bytes());
    let piped = c.run(
        &["ingest", "--mailbox", "support", f.to_str().unwrap()],
        None,
    );
    assert!(piped.status.success());
    assert!(
        piped.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    // script(1) gives the command a terminal; its stdout goes away, stderr stays.
    let cmd = format!(
        "{BIN} --config {} ingest --mailbox support {} >/dev/null",
        c.config.display(),
        f.display()
    );
    let tty = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    assert!(tty.status.success());
    let shown = String::from_utf8_lossy(&tty.stdout);
    assert!(shown.contains("50 messages"), "{shown}");
    assert!(shown.contains("100%"), "{shown}");
    assert!(shown.contains("msg/s"), "{shown}");
}

#[test]
fn json_logs_name_the_ticket_and_the_message() {
    let c = Cli::new(Db::Sqlite);
    let text = std::fs::read_to_string(&c.config).unwrap();
    std::fs::write(&c.config, format!("log_format = \"json\"\n{text}")).unwrap();
    let f = c.file("one.eml", GOOD);
    let out = Command::new(BIN)
        .args([
            "--config",
            c.config.to_str().unwrap(),
            "ingest",
            "--mailbox",
            "support",
        ])
        .arg(&f)
        .env("POSTDESK_LOG", "info")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let about = lines
        .iter()
        .find(|l| l["fields"]["message_id"] == "good-1@example.org")
        .unwrap_or_else(|| panic!("no line about the message in {stderr}"));
    assert_eq!(about["fields"]["ticket"], 1, "{about}");
    assert_eq!(about["level"], "INFO");
}

/// `--tz` chooses the zone text output writes times in and local times are
/// read in; `--at` takes a date, a local time or RFC 3339; JSON stays UTC.
fn times_are_read_and_written_in_the_zone_asked_for(db: Db) {
    let c = Cli::new(db);
    let f = c.file("good.eml", GOOD);
    c.ingest(&["--received-at", "2026-11-24T10:00:00Z"], &[&f]);
    let text = |args: &[&str]| {
        let out = c.run(args, None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let athens = text(&["tickets", "show", "1", "--tz", "Europe/Athens"]);
    assert!(athens.contains("created 2026-11-24 12:00 EET"), "{athens}");
    assert!(
        athens.contains("first response due 2026-11-25 12:00 EET"),
        "{athens}"
    );
    let warsaw = text(&["--tz", "Europe/Warsaw", "tickets", "list"]);
    assert!(warsaw.contains("2026-11-24 11:00 CET"), "{warsaw}");
    let utc = text(&["outbox", "list", "--tz", "Asia/Tokyo"]);
    assert!(
        utc.contains("      next 20") && utc.contains(" JST"),
        "{utc}"
    );
    // The first response is due 2026-11-25T10:00Z.
    let left = |at: &str, tz: &str| {
        let v = c.json(&["sla", "status", "--at", at, "--tz", tz, "--json"]);
        assert_eq!(v[0]["due_at"], "2026-11-25T10:00:00Z", "JSON stays UTC");
        v[0]["remaining_secs"].as_i64().unwrap()
    };
    assert_eq!(left("2026-11-25 11:30", "Europe/Athens"), 1800);
    assert_eq!(left("2026-11-25 11:30", "Europe/Warsaw"), -1800);
    assert_eq!(left("2026-11-25", "Europe/Athens"), 12 * 3600);
    assert_eq!(left("2026-11-25T11:30:00+02:00", "UTC"), 1800);
    let status = text(&[
        "sla",
        "status",
        "--at",
        "2026-11-25 11:30",
        "--tz",
        "Europe/Athens",
    ]);
    assert!(
        status.contains("due 2026-11-25 12:00 EET") && status.contains("30m left"),
        "{status}"
    );
    let report = text(&["report", "--since", "2026-11-01", "--tz", "Europe/Athens"]);
    assert!(report.contains("2026-11-01 00:00 EET to "), "{report}");
    for (args, says) in [
        (
            &["sla", "status", "--at", "tomorrow"][..],
            "--at: expected a date",
        ),
        (
            &["--tz", "Mars/Olympus", "tickets", "list"][..],
            "--tz: expected an IANA time zone",
        ),
        (
            &["report", "--since", "last week"][..],
            "--since: expected a duration like 30d",
        ),
    ] {
        let out = c.run(args, None);
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

const RT_NOTICE: &[u8] = b"From: Vendor Support <support@vendor.example>\r\nTo: support@example.com\r\n\
Subject: [vendor.example #33575] Resolved: printer driver\r\nMessage-ID: <rt-5.0.3-1234-1700000000-99.33575-5-0@vendor.example>\r\n\
RT-Ticket: vendor.example #33575\r\nRT-Originator: jane@example.org\r\nX-RT-Loop-Prevention: vendor.example\r\n\
Date: Tue, 24 Nov 2026 11:00:00 +0000\r\n\r\nYour request has been resolved.\r\n";

const LIST_ADMIN: &[u8] = b"From: support-owner@lists.example.org\r\nTo: support@example.com\r\n\
Subject: Post to support denied\r\nMessage-ID: <denied-1@lists.example.org>\r\n\
Date: Tue, 24 Nov 2026 11:05:00 +0000\r\n\r\nYour post was denied: you are not subscribed.\r\n";

/// `explain` tells the evidence, the threading and the decision and keeps
/// nothing; `messages list` shows mail set aside without a ticket.
fn explain_stores_nothing_and_messages_list_shows_what_was_set_aside(db: Db) {
    let c = Cli::new(db);
    let good = c.file("good.eml", GOOD);
    c.ingest(&[], &[&good]);
    let rt = c.file("rt.eml", RT_NOTICE);
    let out = c.run(&["explain", rt.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("evidence: helpdesk") && text.contains("Request Tracker"),
        "{text}"
    );
    assert!(
        text.contains("not acknowledged") && text.contains("two ticket systems"),
        "{text}"
    );
    assert!(text.contains("nothing was stored"), "{text}");
    let v = c.json(&["explain", rt.to_str().unwrap(), "--json"]);
    assert_eq!(v["evidence"], "helpdesk");
    assert_eq!(v["action"], "created");
    assert!(v["acknowledge"].is_null());
    // A reply to our acknowledgement threads to the ticket, and says by what.
    let reply = c.file(
        "reply.eml",
        b"From: Jane <jane@example.org>\r\nTo: support@example.com\r\nSubject: Re: [#1] Hello\r\n\
          Message-ID: <reply-1@example.org>\r\nIn-Reply-To: <good-1@example.org>\r\n\r\nThanks\r\n",
    );
    let v = c.json(&["explain", reply.to_str().unwrap(), "--json"]);
    assert_eq!(v["ticket"], 1, "{v}");
    assert!(
        v["threading"].as_str().unwrap().starts_with("threaded by"),
        "{v}"
    );
    // Nothing of either was stored.
    assert_eq!(
        c.json(&["tickets", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        c.json(&["messages", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let admin = c.file("admin.eml", LIST_ADMIN);
    let r = c.ingest(&[], &[&admin]);
    assert_eq!(r[0]["kind"], "list");
    assert!(r[0]["ticket"].is_null());
    let lists = c.json(&["messages", "list", "--kind", "list", "--json"]);
    assert_eq!(lists.as_array().unwrap().len(), 1, "{lists}");
    assert_eq!(lists[0]["message_id"], "denied-1@lists.example.org");
    assert!(lists[0]["ticket"].is_null());
    let all = c.json(&["messages", "list", "--since", "2026-01-01", "--json"]);
    assert_eq!(
        all.as_array().unwrap().len(),
        3,
        "newest first, with and without tickets"
    );
    let text = String::from_utf8_lossy(&c.run(&["messages", "list", "--tz", "UTC"], None).stdout)
        .to_string();
    assert!(
        text.contains("list")
            && text.contains("support-owner@lists.example.org")
            && text.contains(" - "),
        "{text}"
    );
    let out = c.run(
        &["messages", "show", "denied-1@lists.example.org", "--raw"],
        None,
    );
    assert_eq!(out.stdout, LIST_ADMIN);
    let out = c.run(&["messages", "list", "--kind", "robot"], None);
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--kind: expected one of"));
    let out = c.run(&["messages", "show", "nope@x"], None);
    assert_eq!(out.status.code(), Some(66));
}

/// A signed envelope sender (VERP) lengthens the local part; past the 64
/// octets RFC 5321 allows, every mail would be refused before it left, so
/// a long mailbox name sends unsigned instead.
#[test]
fn a_long_mailbox_name_sends_with_a_plain_envelope_sender() {
    let c = Cli::new(Db::Sqlite);
    let long = "customer-care-and-complaints-department-of-the-company";
    let text = std::fs::read_to_string(&c.config).unwrap();
    let text = text.replace(
        "address = \"support@example.com\"",
        &format!("address = \"{long}@example.com\""),
    );
    std::fs::write(&c.config, text).unwrap();
    let mail = GOOD.to_vec();
    let out = c.run(&["ingest", "--mailbox", "support"], Some(&mail));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let senders = common::column_bytes(&c.url, "SELECT env_from FROM outbox");
    assert_eq!(senders.len(), 1, "one acknowledgement");
    assert_eq!(
        String::from_utf8_lossy(&senders[0]),
        format!("{long}@example.com")
    );
    // A short name keeps its signed sender.
    let short = Cli::new(Db::Sqlite);
    let out = short.run(&["ingest", "--mailbox", "support"], Some(&mail));
    assert!(out.status.success());
    let senders = common::column_bytes(&short.url, "SELECT env_from FROM outbox");
    assert!(
        String::from_utf8_lossy(&senders[0]).starts_with("support+b-"),
        "{senders:?}"
    );
}

/// An mbox on a pipe that pauses between messages (an MTA, a script): the
/// first message's line comes, and its ticket is committed, while the pipe
/// is still open; a group never waits for input that may not come.
fn a_slow_pipe_gets_each_line_once_its_message_is_committed(db: Db) {
    use std::io::{BufRead, Write};
    let c = Cli::new(db);
    let message = |n: u32| {
        format!(
            "From jane@example.org Tue Nov 24 10:00:00 2026\n\
             From: Jane <jane@example.org>\nTo: support@example.com\nSubject: Parcel {n}\n\
             Message-ID: <slow-{n}@example.org>\nDate: Tue, 24 Nov 2026 10:00:00 +0000\n\nWhere is parcel {n}?\n\n"
        )
    };
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&c.config)
        .args(["ingest", "--mailbox", "support", "--mbox", "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (lines, read) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let _ = lines.send(line.unwrap());
        }
    });
    let next_line = || {
        let line = read
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("a line for the message written, with the pipe still open");
        serde_json::from_str::<Value>(&line).unwrap()
    };
    stdin.write_all(message(1).as_bytes()).unwrap();
    stdin.flush().unwrap();
    // The mbox reader cannot know message 1 has ended before the next
    // "From " line or the end; the next line's start is written too.
    stdin
        .write_all(b"From jane@example.org Tue Nov 24 10:01:00 2026\n")
        .unwrap();
    stdin.flush().unwrap();
    let first = next_line();
    assert_eq!(first["message_id"], "slow-1@example.org");
    assert_eq!(first["action"], "created");
    // Told as stored, and stored: visible to another process now.
    let tickets = c.json(&["tickets", "list", "--json"]);
    assert_eq!(tickets.as_array().map(Vec::len), Some(1), "{tickets}");
    let second = message(2);
    let rest = second.split_once('\n').unwrap().1;
    stdin.write_all(rest.as_bytes()).unwrap();
    drop(stdin);
    assert_eq!(next_line()["message_id"], "slow-2@example.org");
    assert!(child.wait().unwrap().success());
}
