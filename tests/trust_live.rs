//! The trust boundary against real Dovecot and Postfix: a bounce that the
//! MTA returns to our signed envelope sender suppresses exactly the failed
//! recipient; passwords never reach the log at any level; the bytes
//! Postfix's local(8) pipes to a command are one message; notifications a
//! limit holds back arrive as one digest; a manager who answers an
//! escalation is heard as a remark, never as the customer.

#[macro_use]
mod common;

use common::*;
use std::time::Duration;

on_both_databases!(
    a_bounce_to_the_signed_envelope_sender_suppresses_only_the_failed_recipient,
    held_notifications_arrive_as_one_digest,
    a_managers_answer_to_an_escalation_is_a_remark_not_the_customers_words,
);

const WAIT: Duration = Duration::from_secs(40);

fn with_alice(name: &str, db: Db, mailbox_keys: &str, tables: &str) -> Setup {
    let tag = format!("{name}-{}", run_tag());
    let alice = format!("alice-{tag}@example.test");
    let extra = format!(
        "agents = [\"{alice}\"]\n{mailbox_keys}\n\
         [[agent]]\nemail = \"{alice}\"\nname = \"Alice\"\n{tables}"
    );
    Setup::with_tag(
        tag,
        Options {
            extra,
            db,
            ..Options::default()
        },
    )
}

fn a_bounce_to_the_signed_envelope_sender_suppresses_only_the_failed_recipient(db: Db) {
    let s = with_alice("verp", db, "", "");
    let _d = s.start();
    // Postfix takes mail for nosuchuser-*, is refused by the next hop and
    // returns a real DSN to the envelope sender: the daemon's VERP address.
    let gone = s.addr("nosuchuser");
    let fine = s.addr("customer");
    s.write_to_support(
        &gone,
        "Where is my refund?",
        &format!("g-{}@client.example", s.tag),
        "Please answer.",
    );
    s.write_to_support(
        &fine,
        "Password reset",
        &format!("f-{}@client.example", s.tag),
        "Please help.",
    );
    let ack = &s.env.wait_delivered(&s.user("customer"), 1, WAIT)[0];
    let return_path = header(ack, "Return-Path").unwrap();
    assert!(
        return_path.starts_with(&format!("<{}+b-", s.support)),
        "the envelope sender is signed per mail: {return_path}"
    );
    let number = s.wait_for("the bounce to suppress the address", WAIT, || {
        s.tickets().iter().find_map(|t| {
            let n = t["number"].as_i64()?;
            let show = s.json(&["tickets", "show", &n.to_string(), "--json"]);
            show["participants"]
                .as_array()?
                .iter()
                .any(|p| p["email"] == gone.as_str() && p["suppressed_until"].is_string())
                .then_some(n)
        })
    });
    let show = s.json(&["tickets", "show", &number.to_string(), "--json"]);
    let events: Vec<String> = show["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}: {}", e["what"], e["detail"]))
        .collect();
    assert!(
        events.iter().any(|e| e.contains("signed envelope sender")),
        "{events:#?}"
    );
    // Exactly that recipient, and the acknowledgement is marked bounced.
    assert_eq!(
        count(&s.database_url, "SELECT COUNT(*) FROM suppressions"),
        1
    );
    let bounced: Vec<serde_json::Value> = s
        .outbox()
        .into_iter()
        .filter(|o| o["status"] == "bounced")
        .collect();
    assert_eq!(bounced.len(), 1);
    assert_eq!(bounced[0]["to"][0], gone.as_str());
}

fn held_notifications_arrive_as_one_digest(db: Db) {
    let s = with_alice(
        "digest",
        db,
        "",
        "[limits]\nauto_per_recipient = 2\ndigest_after = \"2s\"\n",
    );
    let _d = s.start();
    for i in 0..5 {
        let from = s.addr(&format!("c{i}"));
        s.write_to_support(
            &from,
            &format!("Question number {i}"),
            &format!("q{i}-{}@client.example", s.tag),
            "Hello?",
        );
    }
    let got = s.env.wait_delivered(&s.user("alice"), 3, WAIT);
    let subjects: Vec<String> = got.iter().filter_map(|m| header(m, "Subject")).collect();
    assert_eq!(
        got.len(),
        3,
        "two notifications and one digest: {subjects:?}"
    );
    let digest = got
        .iter()
        .find(|m| header(m, "Subject").is_some_and(|s| s.contains("held back")))
        .unwrap_or_else(|| panic!("no digest in {subjects:?}"));
    let text = String::from_utf8_lossy(digest);
    assert!(text.contains("3 notifications held back"), "{text}");
    assert_eq!(text.matches("Question number").count(), 3, "{text}");
    assert_eq!(
        header(digest, "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert_eq!(
        count(&s.database_url, "SELECT COUNT(*) FROM held_notices"),
        0
    );
    // Nothing more comes: the digest took every held row.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(s.env.delivered(&s.user("alice")).len(), 3);
}

fn a_managers_answer_to_an_escalation_is_a_remark_not_the_customers_words(db: Db) {
    let tag = format!("remark-{}", run_tag());
    let manager = format!("manager-{tag}@example.test");
    let s = with_alice(
        "remark",
        db,
        "sla = \"fast\"",
        &format!(
            "[sla.fast]\nfirst_response = \"3s\"\n\
             [[sla.fast.escalation]]\nafter = \"breach\"\nnotify = [\"{manager}\"]\n"
        ),
    );
    let _d = s.start();
    let customer = s.addr("customer");
    s.write_to_support(
        &customer,
        "Server down",
        &format!("c-{}@client.example", s.tag),
        "Our server is down.",
    );
    let escalation = s
        .env
        .wait_delivered(&format!("manager-{tag}"), 1, WAIT)
        .remove(0);
    let reply_to = address_in(&header(&escalation, "Reply-To").unwrap());
    let subject = header(&escalation, "Subject").unwrap();
    let parent = header(&escalation, "Message-ID").unwrap();
    s.env.send(
        &manager,
        &[&reply_to],
        &mail(
            &format!("The Manager <{manager}>"),
            &reply_to,
            &format!("Re: {subject}"),
            &format!("m1-{}@corp.example", s.tag),
            &format!("In-Reply-To: {parent}\r\n"),
            "Call her back today, she is our biggest client.",
        ),
    );
    let note = s.wait_for("the remark reaches alice", WAIT, || {
        s.env
            .delivered(&s.user("alice"))
            .into_iter()
            .find(|m| String::from_utf8_lossy(m).contains("biggest client"))
    });
    assert!(String::from_utf8_lossy(&note).contains("internal note"));
    let t = &s.tickets()[0];
    let show = s.json(&["tickets", "show", &t["number"].to_string(), "--json"]);
    assert!(
        show["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["what"] == "remark"),
        "{show:#}"
    );
    let manager_row = show["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["email"] == manager.as_str())
        .cloned()
        .unwrap();
    assert_eq!(manager_row["role"], "watcher");
    // The customer heard nothing of it, and it answered nothing.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        s.env.delivered(&s.user("customer")).len(),
        1,
        "only the acknowledgement"
    );
    assert!(show["sla"]["first_response_at"].is_null());
}

#[test]
fn passwords_never_reach_the_log_at_any_level() {
    let s = with_alice("secrets", Db::Sqlite, "", "");
    // SMTP with a login (Postfix checks it against Dovecot's passwords).
    let text = std::fs::read_to_string(&s.config).unwrap().replacen(
        "[smtp]\n",
        &format!(
            "[smtp]\nusername = \"{}@example.test\"\npassword_env = \"POSTDESK_TEST_IMAP_PASSWORD\"\n",
            s.support
        ),
        1,
    );
    std::fs::write(&s.config, text).unwrap();
    let trace = [("POSTDESK_LOG", "trace")];
    let check = s
        .command()
        .args(["check", "--connect"])
        .envs(trace)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let d = s.start_with_env("daemon", &trace);
    let customer = s.addr("customer");
    s.write_to_support(
        &customer,
        "Hello",
        &format!("h-{}@client.example", s.tag),
        "Hi.",
    );
    s.env.wait_delivered(&s.user("customer"), 1, WAIT);
    let log = d.log();
    d.stop();
    // The SMTP login did happen (Postfix says who logged in) ...
    let postfix = std::fs::read_to_string(s.env.root.join("log/postfix.log")).unwrap();
    assert!(postfix.contains(&format!("sasl_username={}@example.test", s.support)));
    // ... and neither the password nor an AUTH PLAIN blob of it is logged.
    let user = format!("{}@example.test", s.support);
    let plain = data_encoding::BASE64.encode(format!("\0{user}\0secret").as_bytes());
    for (what, text) in [
        (
            "check --connect",
            String::from_utf8_lossy(&check.stderr).into_owned(),
        ),
        ("run", log),
    ] {
        assert!(text.len() > 1000, "{what}: trace logging is on");
        let login_quoted = format!("LOGIN \"{user}\"");
        let login_bare = format!("LOGIN {user}");
        for secret in [
            plain.as_str(),
            "\"secret\"",
            " secret\r",
            " secret\n",
            login_quoted.as_str(),
            login_bare.as_str(),
        ] {
            assert!(
                !text.contains(secret),
                "{what} logged {secret:?}:\n{}",
                text.lines()
                    .filter(|l| l.contains(secret.trim()))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
}

#[test]
fn what_postfix_pipes_to_a_command_is_one_message() {
    let s = with_alice("pipe", Db::Sqlite, "", "");
    let id = format!("pipe-{}@client.example", s.tag);
    let body = "Hello,\r\n\r\nFrom tomorrow on I am away.\r\n\r\nFrom alice@example.test Mon Nov 30 10:00:01 2026\r\nFrom: Alice <alice@example.test>\r\nSubject: Re: [#1] x\r\n\r\n#close\r\n";
    let raw = mail(
        "jane@client.example",
        "capture@pipe.example.test",
        "Away",
        &id,
        "",
        body,
    );
    s.env
        .send("jane@client.example", &["capture@pipe.example.test"], &raw);
    // The exact bytes local(8) handed the alias command.
    let piped = s.wait_for("Postfix to pipe the message", WAIT, || {
        std::fs::read_dir(s.env.root.join("pipe"))
            .ok()?
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .filter_map(|e| std::fs::read(e.path()).ok())
            .find(|b| String::from_utf8_lossy(b).contains(&id))
    });
    assert!(
        piped.starts_with(b"From jane@client.example "),
        "an envelope line first"
    );
    assert!(
        String::from_utf8_lossy(&piped).contains("\n\nFrom alice@example.test "),
        "body From lines are not escaped"
    );
    let mut child = s
        .command()
        .args(["ingest", "--mailbox", "support", "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&piped).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let stored = &column_bytes(
        &s.database_url,
        &format!("SELECT raw FROM messages WHERE message_id = '{id}'"),
    )[0];
    assert!(
        stored.starts_with(b"Return-Path: <jane@client.example>"),
        "the envelope line is gone"
    );
    assert_eq!(
        &stored[..],
        &piped[piped.iter().position(|&b| b == b'\n').unwrap() + 1..]
    );
}
