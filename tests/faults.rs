//! Faults against real servers: IMAP restarted during IDLE and during a
//! fetch, SMTP down for a while, a mailbox recreated with a new
//! UIDVALIDITY, a read-only database, SIGKILL at random points twenty times,
//! and pathological messages. Nothing may be lost, duplicated or sent twice.

#[macro_use]
mod common;

use common::*;
use std::collections::HashSet;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);

fn lmtp(s: &Setup, from: &str, subject: &str, id: &str) {
    let raw = mail(from, &s.support_address(), subject, id, "", "x");
    lmtp_send(s.env.lmtp_port, from, &s.support_address(), &raw).unwrap();
}

/// How many times we handed these delivered copies to Postfix: the queue
/// ids of the Received lines Postfix wrote when it took them from us.
fn submissions(copies: &[Vec<u8>]) -> usize {
    let id = regex::Regex::new(r"\(Postfix\) with E?SMTPS?A? id ([0-9A-Za-z]+)").unwrap();
    copies
        .iter()
        .map(|raw| {
            id.captures_iter(&String::from_utf8_lossy(raw))
                .last()
                .map(|c| c[1].to_string())
                .unwrap_or_default()
        })
        .collect::<HashSet<_>>()
        .len()
}

/// Every ticket's Message-IDs of customer mail: each in exactly one ticket.
fn assert_each_once(s: &Setup, prefix: &str, n: usize) {
    let mut seen = HashSet::new();
    for t in s.tickets() {
        for id in t["message_ids"].as_array().unwrap() {
            let id = id.as_str().unwrap();
            if id.starts_with(prefix) {
                assert!(seen.insert(id.to_string()), "{id} in two tickets");
            }
        }
    }
    assert_eq!(seen.len(), n, "messages with {prefix}");
}

#[test]
fn imap_restarts_and_an_smtp_outage_lose_and_repeat_nothing() {
    let private = PrivateMailEnv::start(0);
    let s = Setup::with(
        "faults",
        Options {
            env: Some(private.env.clone()),
            poll_interval: "1h",
            retry: r#"["1s", "2s", "4s"]"#,
            ..Options::default()
        },
    );
    let d = s.start();
    s.wait_for("IMAP connected", WAIT, || {
        d.log().contains("IMAP connected").then_some(())
    });

    // A. Dovecot restarts while the daemon waits in IDLE: it reconnects and
    // a mail sent afterwards is seen without waiting for the hourly poll.
    std::thread::sleep(Duration::from_millis(500));
    s.env.script("stop-imap");
    std::thread::sleep(Duration::from_secs(2));
    s.env.script("start-imap");
    let c = s.addr("a");
    s.write_to_support(
        &c,
        "After the restart",
        &format!("fa-{}@x.example", s.tag),
        "x",
    );
    s.wait_for("the mail after the IMAP restart", WAIT, || {
        (s.tickets().len() == 1).then_some(())
    });
    assert!(
        d.log().contains("IMAP connection lost; reconnecting"),
        "{}",
        d.log()
    );

    // B. Dovecot restarts in the middle of fetching a backlog.
    const B: usize = 300;
    for i in 0..B {
        lmtp(
            &s,
            &format!("b{i}-{}@example.test", s.tag),
            &format!("Backlog {i}"),
            &format!("fb{i}-{}@x.example", s.tag),
        );
    }
    s.wait_for("part of the backlog", WAIT, || {
        (s.tickets().len() > 30).then_some(())
    });
    s.env.script("stop-imap");
    std::thread::sleep(Duration::from_secs(1));
    s.env.script("start-imap");
    s.wait_for("the whole backlog", Duration::from_secs(180), || {
        (s.tickets().len() == B + 1).then_some(())
    });
    assert_each_once(&s, "fb", B);

    // C. SMTP is down: the acknowledgement waits, retried on the schedule,
    // and goes out exactly once when the server is back.
    s.wait_for("the outbox drained", WAIT, || {
        s.outbox()
            .iter()
            .all(|o| o["status"] == "sent")
            .then_some(())
    });
    s.env.script("stop-smtp");
    let c = s.addr("c");
    lmtp(
        &s,
        &c,
        "While SMTP is down",
        &format!("fc-{}@x.example", s.tag),
    );
    let row = s.wait_for("two failed attempts", WAIT, || {
        s.outbox()
            .into_iter()
            .find(|o| o["to"][0] == c.as_str() && o["attempts"].as_i64().unwrap() >= 2)
    });
    assert_eq!(row["status"], "queued");
    s.env.script("start-smtp");
    s.wait_for("the acknowledgement delivered", WAIT, || {
        s.outbox()
            .into_iter()
            .find(|o| o["to"][0] == c.as_str() && o["status"] == "sent")
    });
    assert_eq!(s.env.wait_delivered(&s.user("c"), 1, WAIT).len(), 1);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(s.env.delivered(&s.user("c")).len(), 1, "sent twice");
    // Acknowledgements that reached Postfix while Dovecot was away wait in
    // its queue; deliver them now and count.
    s.env.script("flush");
    std::thread::sleep(Duration::from_secs(3));
    // Dovecot was killed mid-delivery, so Postfix may deliver one
    // submission twice (LMTP is at-least-once when its server dies before
    // answering): what must be one is our submission, told apart by the
    // queue id Postfix gave it when we handed it over.
    for i in 0..B {
        let copies = s.env.wait_delivered(&format!("b{i}-{}", s.tag), 1, WAIT);
        assert_eq!(
            submissions(&copies),
            1,
            "customer b{i}: {} copies",
            copies.len()
        );
    }
    let log = d.log();
    assert!(log.contains("delivery deferred"), "{log}");
}

#[test]
fn a_recreated_mailbox_is_resynchronised_without_duplicates() {
    let private = PrivateMailEnv::start(1);
    let s = Setup::with(
        "uidvalidity",
        Options {
            env: Some(private.env.clone()),
            folder: "Support",
            after_ingest: "seen",
            poll_interval: "1s",
            idle: false,
            ..Options::default()
        },
    );
    let imap = postdesk::config::ServerConfig {
        host: "127.0.0.1".into(),
        port: s.env.imap_port,
        security: postdesk::config::Security::None,
        username: Some(s.support_address()),
        password: Some(postdesk::config::Secret::new("secret")),
        oauth: None,
        ca_file: None,
        timeout: jiff::SignedDuration::from_secs(10),
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let messages: Vec<Vec<u8>> = (0..5)
        .map(|i| {
            mail(
                &format!("u{i}-{}@example.test", s.tag),
                &s.support_address(),
                &format!("Folder {i}"),
                &format!("fu{i}-{}@x.example", s.tag),
                "",
                "x",
            )
        })
        .collect();
    let fill = |extra: usize| {
        rt.block_on(async {
            let mut session =
                postdesk::imap::connect(&imap, &postdesk::oauth::Login::Password("secret".into()))
                    .await
                    .unwrap();
            let _ = session.create("Support").await;
            for m in messages.iter().chain(std::iter::repeat_n(&messages[0], 0)) {
                session.append("Support", None, None, m).await.unwrap();
            }
            for i in 0..extra {
                let m = mail(
                    &format!("v{i}-{}@example.test", s.tag),
                    &s.support_address(),
                    "New",
                    &format!("fv{i}-{}@x.example", s.tag),
                    "",
                    "x",
                );
                session.append("Support", None, None, &m).await.unwrap();
            }
            session.logout().await.unwrap();
        })
    };
    fill(0);
    let d = s.start();
    s.wait_for("five tickets", WAIT, || {
        (s.tickets().len() == 5).then_some(())
    });
    // The folder is deleted and made again: new UIDVALIDITY, the same five mails plus one.
    rt.block_on(async {
        let mut session =
            postdesk::imap::connect(&imap, &postdesk::oauth::Login::Password("secret".into()))
                .await
                .unwrap();
        session.delete("Support").await.unwrap();
        session.logout().await.unwrap();
    });
    fill(1);
    s.wait_for("the new mail", WAIT, || {
        (s.tickets().len() == 6).then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        s.tickets().len(),
        6,
        "the five old mails came back as duplicates, not tickets"
    );
    assert_each_once(&s, "fu", 5);
    assert!(d.log().contains("UIDVALIDITY changed"), "{}", d.log());
}

on_both_databases!(sigkill_twenty_times_during_a_backlog);

fn sigkill_twenty_times_during_a_backlog(db: Db) {
    const N: usize = 2000;
    let s = Setup::with(
        "storm",
        Options {
            after_ingest: "seen",
            db,
            // Every one of the 2,000 customers is acknowledged: past the
            // default cap of 1,000 automatic mails an hour.
            extra: "[limits]\nauto_per_mailbox_hour = 100000\n".into(),
            ..Options::default()
        },
    );
    for i in 0..N {
        lmtp(
            &s,
            &format!("k{i}-{}@example.test", s.tag),
            &format!("Storm {i}"),
            &format!("fk{i}-{}@x.example", s.tag),
        );
    }
    let started = Instant::now();
    let mut rng = [0u8; 20];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut rng).unwrap();
    for (round, r) in rng.iter().enumerate() {
        let mut d = s.start_named(&format!("round{round}"));
        // A random moment in the first 1.5 seconds of each run.
        std::thread::sleep(Duration::from_millis(200 + u64::from(*r) * 5));
        d.kill();
    }
    let killed_at = s.tickets().len();
    let d = s.start_named("final");
    s.wait_for("every message", Duration::from_secs(300), || {
        (s.tickets().len() >= N).then_some(())
    });
    s.wait_for(
        "every acknowledgement sent",
        Duration::from_secs(300),
        || {
            s.outbox()
                .iter()
                .all(|o| o["status"] == "sent")
                .then_some(())
        },
    );
    assert_each_once(&s, "fk", N);
    assert_eq!(s.tickets().len(), N);
    let mut duplicates = 0;
    for i in 0..N {
        let got = s
            .env
            .wait_delivered(&format!("k{i}-{}", s.tag), 1, Duration::from_secs(10))
            .len();
        assert!(got >= 1, "customer k{i} has no acknowledgement");
        duplicates += got - 1;
    }
    eprintln!(
        "20 SIGKILLs during a {N}-message backlog ({killed_at} tickets when the storm ended), all done in {:?}: lost 0, duplicate acknowledgements {duplicates}",
        started.elapsed()
    );
    assert_eq!(duplicates, 0);
    drop(d);
}

#[test]
fn a_read_only_database_keeps_mail_on_the_server_until_it_can_be_stored() {
    let s = Setup::new("readonly", Db::Sqlite);
    let out = s.run(&["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = std::fs::read_to_string(&s.config).unwrap();
    let db = s.database_url.clone();
    std::fs::write(
        &s.config,
        config.replace(
            &format!("url = \"{db}\""),
            &format!("url = \"{db}?mode=ro\""),
        ),
    )
    .unwrap();

    // An MTA pipe is told to try again later.
    let mut child = s
        .command()
        .args(["ingest", "--mailbox", "support"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&mail(
            "x@example.test",
            &s.support_address(),
            "Pipe",
            "pipe-ro@x.example",
            "",
            "x",
        ))
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The daemon keeps the mail on the server, retries and says why.
    let d = s.start();
    let c = s.addr("customer");
    s.write_to_support(&c, "Read-only", &format!("ro-{}@x.example", s.tag), "x");
    s.wait_for("the failed store logged", WAIT, || {
        d.log().contains("readonly").then_some(())
    });
    assert_eq!(
        s.env.folder(&s.support, "INBOX"),
        1,
        "the mail stays in INBOX, not flagged or moved"
    );
    assert!(s.tickets().is_empty());
    let (st, _) = d.stop();
    assert!(st.success());

    // Writable again: the mail is stored, then moved.
    std::fs::write(&s.config, config).unwrap();
    let d = s.start();
    s.wait_for("the ticket", WAIT, || {
        (s.tickets().len() == 1).then_some(())
    });
    s.wait_for("the mail moved", WAIT, || {
        (s.env.folder(&s.support, "INBOX") == 0).then_some(())
    });
    drop(d);
}

#[test]
fn pathological_messages_stay_within_limits() {
    let c = common::cli::Cli::new(Db::Sqlite);
    // 10,000 MIME parts.
    let mut many = String::from(
        "From: p@example.test\r\nSubject: parts\r\nMessage-ID: <parts@x.example>\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n",
    );
    for i in 0..10_000 {
        many.push_str(&format!(
            "--b\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n"
        ));
    }
    many.push_str("--b--\r\n");
    // A header of 1 MB.
    let long = format!(
        "From: h@example.test\r\nSubject: header\r\nMessage-ID: <header@x.example>\r\nX-Long: {}\r\n\r\nbody\r\n",
        "y".repeat(1024 * 1024)
    );
    // 60 MB, over the default max_message_size of 50 MB.
    let mut huge =
        b"From: z@example.test\r\nSubject: huge\r\nMessage-ID: <huge@x.example>\r\n\r\n".to_vec();
    huge.extend(std::iter::repeat_n(b'z', 60 * 1024 * 1024));
    let files = [
        c.file("many.eml", many.as_bytes()),
        c.file("long.eml", long.as_bytes()),
        c.file("huge.eml", &huge),
    ];
    let refs: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
    let started = Instant::now();
    let out = c.ingest(&[], &refs);
    eprintln!(
        "10,000 parts, a 1 MB header and a 60 MB message ingested in {:?}",
        started.elapsed()
    );
    assert_eq!(out.len(), 3);
    assert!(out.iter().all(|o| o["action"] == "created"));
    let show = c.json(&["tickets", "show", &out[2]["ticket"].to_string(), "--json"]);
    assert!(
        show["messages"][0]["flags"]
            .to_string()
            .contains("too-large")
    );
    assert_eq!(show["messages"][0]["size"], huge.len());
}
