//! Personal data on both databases: every address held, one person's
//! summary, and an export holding every message they sent or were sent,
//! byte for byte; a SQLite backup taken while 1,000 messages are being
//! ingested restores to a database that passes `check` and holds every
//! ticket committed before it began.

#[macro_use]
mod common;

use common::Db;
use common::cli::Cli;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

on_both_databases!(
    a_customer_export_holds_every_message_byte_for_byte,
    forgetting_leaves_no_trace_and_keeps_the_figures,
    retention_drops_raw_bytes_then_text_at_their_ages,
    one_instance_claims_the_days_retention_run
);

fn mail(from: &str, subject: &str, id: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: support@example.com\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// `customers export EMAIL --out DIR`, which must succeed: its customer.json.
fn export(c: &Cli, email: &str, out: &std::path::Path) -> Value {
    let run = c.run(
        &["customers", "export", email, "--out", out.to_str().unwrap()],
        None,
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(out.join("customer.json")).unwrap()).unwrap()
}

/// Anna's two mails, in Polish; both carry the phrase "drukarka nie drukuje".
fn annas_mails() -> [Vec<u8>; 2] {
    [
        mail(
            "Anna Nowak <anna@example.org>",
            "Drukarka nie działa",
            "anna-1@example.org",
            "Dzień dobry, drukarka nie drukuje od wczoraj.",
        ),
        mail(
            "Anna Nowak <anna@example.org>",
            "Faktura za listopad",
            "anna-2@example.org",
            "Proszę o fakturę, drukarka nie drukuje nadal.",
        ),
    ]
}

fn a_customer_export_holds_every_message_byte_for_byte(db: Db) {
    let c = Cli::new(db);
    let [anna1, anna2] = annas_mails();
    let bob = mail("Bob <bob@example.net>", "Hello", "bob-1@example.net", "Hi");
    for (name, raw) in [("a1.eml", &anna1), ("a2.eml", &anna2), ("b1.eml", &bob)] {
        let f = c.file(name, raw);
        c.ingest(&[], &[&f]);
    }

    let list = c.json(&["customers", "list", "--json"]);
    let emails: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["anna@example.org", "bob@example.net"]);
    let anna = c.json(&["customers", "show", "anna@example.org", "--json"]);
    assert_eq!(anna["tickets"], serde_json::json!([1, 2]));
    assert_eq!(anna["name"], "Anna Nowak");
    assert_eq!(
        (anna["messages_from"].as_i64(), anna["messages_to"].as_i64()),
        (Some(2), Some(2)),
        "her two mails and our two acknowledgements: {anna}"
    );

    let out = c.dir.path().join("export");
    let doc = export(&c, "Anna@Example.org", &out);
    assert_eq!(doc["email"], "anna@example.org");
    assert_eq!(doc["tickets"].as_array().unwrap().len(), 2);
    let messages = doc["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4, "{doc:#}");
    for m in messages {
        let file = out.join(m["file"].as_str().unwrap());
        let bytes = std::fs::read(&file).unwrap();
        let id = m["message_id"].as_str().unwrap();
        let stored = c.run(&["messages", "show", id, "--raw"], None).stdout;
        assert_eq!(bytes, stored, "{id}: the export is the stored bytes");
        match id {
            "anna-1@example.org" => assert_eq!(bytes, anna1, "her own words, unchanged"),
            "anna-2@example.org" => assert_eq!(bytes, anna2),
            other => {
                assert_eq!(m["direction"], "out", "{other}");
                assert!(String::from_utf8_lossy(&bytes).contains("anna@example.org"));
            }
        }
    }
    assert!(
        !messages
            .iter()
            .any(|m| m["message_id"] == "bob-1@example.net"),
        "nobody else's mail"
    );
    let unknown = c.run(
        &[
            "customers",
            "export",
            "nobody@example.org",
            "--out",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(unknown.status.code(), Some(66));
    assert_eq!(
        c.run(&["customers", "show", "nobody@example.org"], None)
            .status
            .code(),
        Some(66)
    );
}

/// Tickets committed so far; 0 while the database or its tables are not
/// there yet.
fn tickets_so_far(url: &str) -> i64 {
    use sqlx::Connection;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            sqlx::any::install_default_drivers();
            // Read-only: never create the file before the ingest does.
            let Ok(mut c) = sqlx::AnyConnection::connect(&format!("{url}?mode=ro")).await else {
                return 0;
            };
            sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM tickets")
                .fetch_one(&mut c)
                .await
                .map_or(0, |r| r.0)
        })
}

/// Every `table.column` of the database holding one of `needles` (any
/// case in text; as written in bytes on PostgreSQL), with the needle: one
/// connection for the whole search.
fn traces(db: Db, url: &str, needles: &[&str]) -> Vec<String> {
    use sqlx::{Connection, Row};
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            sqlx::any::install_default_drivers();
            let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
            let list = match db {
                Db::Sqlite => {
                    "SELECT m.name || '.' || p.name || '.' || p.type FROM sqlite_master m, pragma_table_info(m.name) p \
                     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'"
                }
                Db::Postgres => {
                    "SELECT table_name || '.' || column_name || '.' || data_type FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'"
                }
            };
            let columns: Vec<String> = sqlx::query(list)
                .fetch_all(&mut conn)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect();
            let mut found = Vec::new();
            for tc in &columns {
                let mut p = tc.splitn(3, '.');
                let (t, c, ty) = (p.next().unwrap(), p.next().unwrap(), p.next().unwrap_or(""));
                for needle in needles {
                    let n = needle.replace('\'', "''");
                    let sql = match db {
                        Db::Sqlite => format!(
                            "SELECT COUNT(*) FROM \"{t}\" WHERE instr(lower(CAST(\"{c}\" AS TEXT)), lower('{n}')) > 0"
                        ),
                        Db::Postgres if ty == "bytea" => format!(
                            "SELECT COUNT(*) FROM \"{t}\" WHERE position(convert_to('{n}', 'UTF8') in \"{c}\") > 0"
                        ),
                        Db::Postgres => format!(
                            "SELECT COUNT(*) FROM \"{t}\" WHERE strpos(lower(\"{c}\"::text), lower('{n}')) > 0"
                        ),
                    };
                    let (count,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                        .fetch_one(&mut conn)
                        .await
                        .unwrap();
                    if count > 0 {
                        found.push(format!("{t}.{c}: {needle}"));
                    }
                }
            }
            found
        })
}

fn forgetting_leaves_no_trace_and_keeps_the_figures(db: Db) {
    let c = Cli::new(db);
    let [anna1, anna2] = annas_mails();
    // Bob copies Anna: his mail is his, her address in it is hers.
    let bob = b"From: Bob <bob@example.net>\r\nTo: support@example.com\r\nCc: Anna Nowak <anna@example.org>\r\n\
         Subject: Office move\r\nMessage-ID: <bob-2@example.net>\r\n\r\nWe move on Friday.\r\n"
        .to_vec();
    for (name, raw) in [("a1.eml", &anna1), ("a2.eml", &anna2), ("b.eml", &bob)] {
        let f = c.file(name, raw);
        c.ingest(&[], &[&f]);
    }
    assert!(
        !traces(db, &c.url, &["anna@example.org"]).is_empty(),
        "the search finds what is there"
    );
    let figures = |c: &Cli| {
        let r = c.json(&[
            "report",
            "--since",
            "2026-01-01T00:00:00Z",
            "--format",
            "json",
        ]);
        (r["total"].clone(), r["mailboxes"].clone())
    };
    let before = figures(&c);
    let statuses = |c: &Cli| -> Vec<(i64, String)> {
        c.json(&["tickets", "list", "--json"])
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["number"].as_i64().unwrap(),
                    t["status"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let tickets_before = statuses(&c);

    let refused = c.run(&["customers", "forget", "anna@example.org"], None);
    assert_eq!(refused.status.code(), Some(64), "not without --yes");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    let out = c.run(&["customers", "forget", "anna@example.org", "--yes"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        said.contains("erased anna@example.org: now erased-"),
        "{said}"
    );

    let needles = [
        "anna@example.org",
        "drukarka nie drukuje",
        "Anna Nowak",
        "Drukarka nie działa",
    ];
    assert_eq!(
        traces(db, &c.url, &needles),
        Vec::<String>::new(),
        "still stored"
    );
    assert_eq!(statuses(&c), tickets_before, "numbers and statuses stay");
    assert_eq!(figures(&c), before, "report figures stay");
    let erased_events = "SELECT COUNT(*) FROM events WHERE what = 'personal data erased'";
    assert_eq!(common::count(&c.url, erased_events), 1);
    // Bob's mail is still his.
    let bob_now = c
        .run(&["messages", "show", "bob-2@example.net", "--raw"], None)
        .stdout;
    let bob_now = String::from_utf8(bob_now).unwrap();
    assert!(
        bob_now.contains("From: Bob <bob@example.net>") && bob_now.contains("We move on Friday.")
    );
    assert!(bob_now.contains("Cc: erased <erased-"), "{bob_now}");

    // Again: nothing left to do, nothing changes.
    let again = c.run(&["customers", "forget", "anna@example.org", "--yes"], None);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing held"));
    assert_eq!(common::count(&c.url, erased_events), 1);
    assert_eq!(
        c.run(&["customers", "show", "anna@example.org"], None)
            .status
            .code(),
        Some(66)
    );
    let left: Vec<String> = c
        .json(&["customers", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["email"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left, ["bob@example.net"], "a pseudonym is nobody to list");

    // She writes again, on the same subject: a new customer, a new ticket.
    let back = mail(
        "Anna Nowak <anna@example.org>",
        "Drukarka nie działa",
        "anna-3@example.org",
        "Znowu ja.",
    );
    let f = c.file("a3.eml", &back);
    let r = c.ingest(&[], &[&f]);
    assert_eq!(r[0]["action"], "created", "{r:?}");
    assert_eq!(r[0]["ticket"], 4);
}

fn retention_drops_raw_bytes_then_text_at_their_ages(db: Db) {
    let c = Cli::with_config(db, "retention = { raw = \"90d\", text = \"2y\" }", "");
    let old = mail(
        "Anna Nowak <anna@example.org>",
        "Stara sprawa",
        "old-1@example.org",
        "Dawno temu, drukarka.",
    );
    let mid = mail(
        "Bob <bob@example.net>",
        "Summer question",
        "mid-1@example.net",
        "The summer invoice, please.",
    );
    let new = mail(
        "Carl <carl@example.com>",
        "Fresh question",
        "new-1@example.com",
        "Today's words.",
    );
    for (name, raw, at) in [
        ("old.eml", &old, "2024-01-10T10:00:00Z"),
        ("mid.eml", &mid, "2026-06-01T10:00:00Z"),
        ("new.eml", &new, "2026-11-20T10:00:00Z"),
    ] {
        let f = c.file(name, raw);
        c.ingest(&["--received-at", at], &[&f]);
    }
    let report = |c: &Cli| {
        c.json(&[
            "report",
            "--since",
            "2020-01-01T00:00:00Z",
            "--format",
            "json",
        ])["total"]
            .clone()
    };
    let figures = report(&c);
    let at = "2026-12-01T00:00:00Z";
    let dropped =
        "SELECT COUNT(*) FROM messages WHERE flags LIKE '%raw-dropped%' OR flags LIKE '%erased%'";

    // A dry run says what would go and changes nothing.
    let dry = c.json(&["retention", "run", "--dry-run", "--at", at, "--json"]);
    let s = &dry[0];
    assert_eq!(s["mailbox"], "support");
    assert_eq!(
        s["tickets_erased"], 1,
        "Anna's ticket is older than 2 years: {dry}"
    );
    // Anna's and Bob's mail; our acknowledgements to them are still queued
    // (no SMTP server here) and keep their bytes until sent.
    assert_eq!(s["raw_dropped"], 2, "{dry}");
    assert_eq!(
        common::count(&c.url, dropped),
        0,
        "a dry run changes nothing"
    );
    assert_eq!(
        c.run(&["messages", "show", "old-1@example.org", "--raw"], None)
            .stdout,
        old
    );

    let out = c.run(&["retention", "run", "--at", at], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(said.contains("support: removed the original bytes of 2 messages, the words and addresses of 1 quiet tickets"), "{said}");
    // Past 2 years: Anna is gone from the database.
    assert_eq!(
        traces(
            db,
            &c.url,
            &["anna@example.org", "Anna Nowak", "Dawno temu"]
        ),
        Vec::<String>::new()
    );
    // Past 90 days: Bob's bytes are gone, his text stays.
    assert!(
        c.run(&["messages", "show", "mid-1@example.net", "--raw"], None)
            .stdout
            .is_empty()
    );
    assert_eq!(
        common::count(
            &c.url,
            "SELECT COUNT(*) FROM messages WHERE message_id = 'mid-1@example.net' AND body LIKE '%summer invoice%' \
             AND flags LIKE '%raw-dropped%'"
        ),
        1
    );
    // Recent mail is untouched.
    assert_eq!(
        c.run(&["messages", "show", "new-1@example.com", "--raw"], None)
            .stdout,
        new
    );
    assert_eq!(report(&c), figures, "the report's figures stay");
    // Again: nothing left to do.
    let again = c.json(&["retention", "run", "--at", at, "--json"]);
    assert_eq!(
        (
            again[0]["raw_dropped"].as_i64(),
            again[0]["tickets_erased"].as_i64()
        ),
        (Some(0), Some(0))
    );
}

fn one_instance_claims_the_days_retention_run(db: Db) {
    let c = Cli::new(db);
    c.in_process(async |_, store| {
        let now: jiff::Timestamp = "2026-12-01T03:00:00Z".parse().unwrap();
        // Eight instances wake at the same moment: one runs it.
        let claims = futures::future::join_all((0..8).map(|_| {
            let store = store.clone();
            async move { store.claim_retention(now).await.unwrap() }
        }))
        .await;
        assert_eq!(claims.iter().filter(|c| **c).count(), 1, "{claims:?}");
        let later = now
            .checked_add(jiff::SignedDuration::from_hours(5))
            .unwrap();
        assert!(!store.claim_retention(later).await.unwrap(), "once a day");
        let tomorrow = now
            .checked_add(jiff::SignedDuration::from_hours(24))
            .unwrap();
        assert!(store.claim_retention(tomorrow).await.unwrap());
        assert_eq!(store.retention_last_run().await.unwrap(), Some(tomorrow));
    });
}

#[test]
fn the_daemon_runs_retention_once_a_day() {
    let s = common::Setup::with(
        "retention",
        common::Options {
            extra: "retention = { raw = \"90d\" }".into(),
            db: Db::Postgres,
            ..common::Options::default()
        },
    );
    let old = mail(
        "Old <old@example.org>",
        "Long ago",
        "daemon-old@example.org",
        "Ancient words.",
    );
    let f = s.dir.path().join("old.eml");
    std::fs::write(&f, &old).unwrap();
    let out = s.run(&[
        "ingest",
        "--mailbox",
        "support",
        "--received-at",
        "2025-01-10T10:00:00Z",
        f.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d = s.start();
    s.wait_for("the daily retention run", Duration::from_secs(30), || {
        d.log()
            .contains("retention: personal data past its age removed")
            .then_some(())
    });
    assert!(d.log().contains("raw_dropped=1"), "{}", d.log());
    assert!(
        s.run(&["messages", "show", "daemon-old@example.org", "--raw"])
            .stdout
            .is_empty()
    );
    // A second instance started now finds the day's run done.
    let second = s.start_with_env(
        "second",
        &[("POSTDESK_LOG", "info,sqlx=warn,postdesk::scheduler=debug")],
    );
    s.wait_for(
        "the second instance's retention check",
        Duration::from_secs(30),
        || {
            second
                .log()
                .contains("retention: already run today")
                .then_some(())
        },
    );
    let second_log = second.log.clone();
    let (st, _) = second.stop();
    assert!(st.success());
    let second_log = std::fs::read_to_string(second_log).unwrap();
    assert!(
        !second_log.contains("retention: personal data past its age removed"),
        "one run a day across instances:\n{second_log}"
    );
    d.stop();
}

#[test]
fn a_backup_taken_during_an_ingest_restores_every_committed_ticket() {
    let c = Cli::new(Db::Sqlite);
    let mut mbox = Vec::new();
    for i in 0..1000 {
        mbox.extend_from_slice(b"From sender@example.org Mon Nov 30 10:00:00 2026\n");
        mbox.extend_from_slice(&mail(
            &format!("Customer {i} <c{i}@example.org>"),
            &format!("Question {i}"),
            &format!("bulk-{i}@example.org"),
            "Hello",
        ));
        mbox.push(b'\n');
    }
    let file = c.file("bulk.mbox", &mbox);
    let ingest = Command::new(common::BIN)
        .arg("--config")
        .arg(&c.config)
        .args(["ingest", "--mailbox", "support", "--mbox"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until part of it is committed.
    let started = Instant::now();
    let before = loop {
        let n = tickets_so_far(&c.url);
        if n >= 50 {
            break n;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "ingest too slow: {n}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let copy = c.dir.path().join("backup.db");
    let out = c.run(&["backup", copy.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done = ingest.wait_with_output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    // A second backup onto the same file is refused, not overwritten.
    let again = c.run(&["backup", copy.to_str().unwrap()], None);
    assert_eq!(again.status.code(), Some(73));

    // Restore: a configuration pointing at the copy.
    let url = format!("sqlite://{}", copy.display());
    let restored = Cli::with_db(tempfile::tempdir().unwrap(), &url, None);
    let check = restored.run(&["check"], None);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let held = common::count(&url, "SELECT COUNT(*) FROM tickets");
    eprintln!("backup: {before} tickets committed when it began, {held} in the copy, of 1000");
    assert!(
        held >= before && held <= 1000,
        "{held} tickets in the copy, {before} committed before it"
    );
    assert_eq!(
        common::count(
            &url,
            &format!("SELECT COUNT(*) FROM tickets WHERE number <= {before}")
        ),
        before,
        "every ticket committed before the backup began"
    );
    assert_eq!(
        common::count(&url, "SELECT COUNT(*) FROM messages WHERE direction = 'in'"),
        held,
        "each ticket with its message: a consistent snapshot"
    );
    let tickets = restored.json(&["tickets", "list", "--json"]);
    assert_eq!(tickets.as_array().unwrap().len() as i64, held);

    // PostgreSQL has its own tools.
    let pg = Cli::new(Db::Postgres);
    let out = pg.run(
        &["backup", c.dir.path().join("pg.db").to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
}

/// README's PostgreSQL recipe: `pg_dump -Fc`, then `pg_restore` into a
/// new database, which passes `check` and lists the same tickets.
#[test]
fn a_postgresql_dump_restores_as_readme_says() {
    let c = Cli::new(Db::Postgres);
    for i in 0..3 {
        let f = c.file(
            &format!("m{i}.eml"),
            &mail(
                "Ann <ann@example.org>",
                &format!("Question {i}"),
                &format!("pg-{i}@example.org"),
                "Hello",
            ),
        );
        c.ingest(&[], &[&f]);
    }
    let dump = c.dir.path().join("postdesk.dump");
    let st = Command::new("pg_dump")
        .args(["-Fc", "-f", dump.to_str().unwrap(), &c.url])
        .status()
        .expect("pg_dump (Debian: postgresql-client)");
    assert!(st.success());
    let target = common::PgDatabase::create(&format!("restore-{}", common::run_tag()));
    let st = Command::new("pg_restore")
        .args(["--no-owner", "-d", &target.url, dump.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
    let url = target.url.clone();
    let restored = Cli::with_db(tempfile::tempdir().unwrap(), &url, Some(target));
    let list = |c: &Cli| c.json(&["tickets", "list", "--json"]);
    assert_eq!(list(&restored), list(&c));
    assert!(restored.run(&["check"], None).status.success());
}

/// A stranger writes the Message-ID: it names the exported file, so it
/// must not lead the export out of its directory.
#[test]
fn an_export_never_writes_outside_its_directory() {
    let c = Cli::new(Db::Sqlite);
    let f = c.file(
        "eve.eml",
        &mail(
            "Eve <eve@example.org>",
            "Hi",
            "../../../escape/evil@example.org",
            "Hello",
        ),
    );
    let id = c.ingest(&[], &[&f])[0]["message_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(id.contains("../"), "the hostile Message-ID is kept: {id}");
    let out = c.dir.path().join("a").join("b").join("export");
    let doc = export(&c, "eve@example.org", &out);
    for m in doc["messages"].as_array().unwrap() {
        let file = m["file"].as_str().unwrap();
        assert!(
            file.starts_with("messages/") && !file.contains(".."),
            "{file}"
        );
        assert!(out.join(file).is_file());
    }
    assert!(!c.dir.path().join("escape").exists());
    assert!(!c.dir.path().join("a").join("escape").exists());
}
