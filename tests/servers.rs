//! postdesk against a second real IMAP server, Cyrus (scripts/imapalt.sh),
//! with its defaults: personal folders under `INBOX.` with `.` as the
//! separator, an IDLE that does not announce new mail (no idled), 8-bit
//! header bytes rewritten to `X`. A backlog is read and moved to the folder
//! NAMESPACE says (`INBOX.Processed`); a folder the server refuses degrades
//! the mailbox while new mail keeps becoming tickets, and the moves catch up
//! once the server allows them; a server without MOVE gets COPY + UID
//! EXPUNGE; `check --connect` prints the resolved names and warns of the
//! rewritten headers.

#[macro_use]
mod common;

use common::*;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);

fn cyrus(name: &str, var: &str, after_ingest: &'static str, extra: &str) -> (Setup, AltImap) {
    let alt = AltImap::get(var);
    let s = Setup::with(
        name,
        Options {
            after_ingest,
            imap_alt: Some(alt.clone()),
            extra: extra.to_string(),
            ..Options::default()
        },
    );
    (s, alt)
}

/// A customer mail delivered straight into the support mailbox on Cyrus.
fn deliver(s: &Setup, alt: &AltImap, i: usize) {
    let from = s.addr(&format!("c{i}"));
    let raw = mail(
        &from,
        &s.support_address(),
        &format!("Question {i}"),
        &format!("q{i}-{}@client.example", s.tag),
        "",
        "Hello?",
    );
    alt.deliver(&from, &s.support, &raw);
}

fn tickets(s: &Setup) -> usize {
    s.tickets().len()
}

#[test]
fn a_backlog_is_read_and_moved_where_namespace_says() {
    let (s, alt) = cyrus("cyrusmove", "POSTDESK_IMAPALT", "move:Processed", "");
    for i in 0..20 {
        deliver(&s, &alt, i);
    }
    let d = s.start();
    s.wait_for("the backlog", WAIT, || (tickets(&s) == 20).then_some(()));
    s.wait_for("the moves", WAIT, || {
        (alt.count(&s.support, "INBOX.Processed") == 20).then_some(())
    });
    assert_eq!(alt.count(&s.support, "INBOX"), 0);
    assert!(
        d.log().contains("folder=INBOX.Processed") || d.log().contains("INBOX.Processed"),
        "{}",
        d.log()
    );
    // Cyrus's IDLE (without idled) announces nothing: new mail is found by
    // the poll, and the daemon says so once, with what to change.
    for i in 20..23 {
        deliver(&s, &alt, i);
        s.wait_for("the new mail", WAIT, || {
            (tickets(&s) == i + 1).then_some(())
        });
    }
    s.wait_for("the IDLE warning", WAIT, || {
        d.log()
            .contains("does not announce new mail during IDLE")
            .then_some(())
    });
    assert!(d.log().contains("Cyrus: run idled"), "{}", d.log());
    assert_eq!(
        d.log().matches("IMAP connected").count(),
        1,
        "no reconnects"
    );
}

#[test]
fn a_refused_folder_degrades_the_mailbox_and_new_mail_still_flows() {
    let port = free_port();
    let (s, alt) = cyrus(
        "cyrusacl",
        "POSTDESK_IMAPALT",
        "move:Processed",
        &format!("\n[http]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    // The folder exists, but the mailbox may not put messages in it.
    let user = s.support.clone();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let set_acl = |rights: &str| {
        rt.block_on(async {
            let mut session = alt.session(&user).await;
            let _ = session.create("INBOX.Processed").await;
            session
                .run_command_and_check_ok(format!("SETACL INBOX.Processed {user} {rights}"))
                .await
                .unwrap();
            let _ = session.logout().await;
        })
    };
    set_acl("lrsa");
    deliver(&s, &alt, 0);
    let d = s.start();
    s.wait_for("the first ticket", WAIT, || {
        (tickets(&s) == 1).then_some(())
    });
    let health = s.wait_for("the mailbox to be degraded", WAIT, || {
        let (code, body) = http_get(port, "/healthz")?;
        body.contains("degraded").then_some((code, body))
    });
    assert_eq!(health.0, 200, "degraded is not down: {}", health.1);
    assert!(
        health.1.contains("Permission denied"),
        "the server's words: {}",
        health.1
    );
    let (_, metrics) = http_get(port, "/metrics").unwrap();
    assert_eq!(
        metric(
            &metrics,
            "postdesk_imap_after_ingest_failing{mailbox=\"support\"}"
        ),
        Some(1.0)
    );
    // New mail keeps becoming tickets meanwhile, on the same connection.
    for i in 1..4 {
        deliver(&s, &alt, i);
    }
    s.wait_for("new mail as tickets", WAIT, || {
        (tickets(&s) == 4).then_some(())
    });
    assert_eq!(
        alt.count(&s.support, "INBOX"),
        4,
        "they stay in INBOX for now"
    );
    assert_eq!(
        d.log().matches("IMAP connected").count(),
        1,
        "no reconnect loop"
    );
    // The admin fixes the folder: the pending moves catch up, health recovers.
    set_acl("lrswipkxtecdan");
    s.wait_for("the moves to catch up", WAIT, || {
        (alt.count(&s.support, "INBOX.Processed") == 4).then_some(())
    });
    s.wait_for("health to recover", WAIT, || {
        let (code, body) = http_get(port, "/healthz")?;
        (code == 200 && body.contains("\"status\":\"ok\"")).then_some(())
    });
    assert!(d.log().contains("after_ingest works again"), "{}", d.log());
}

#[test]
fn a_server_without_move_gets_copy_and_uid_expunge() {
    let (s, alt) = cyrus(
        "cyrusnomove",
        "POSTDESK_IMAPALT_NOMOVE",
        "move:Processed",
        "",
    );
    for i in 0..5 {
        deliver(&s, &alt, i);
    }
    let d = s.start();
    s.wait_for("the tickets", WAIT, || (tickets(&s) == 5).then_some(()));
    s.wait_for("the copies", WAIT, || {
        (alt.count(&s.support, "INBOX.Processed") == 5).then_some(())
    });
    s.wait_for("INBOX emptied by UID EXPUNGE", WAIT, || {
        (alt.count(&s.support, "INBOX") == 0).then_some(())
    });
    assert!(d.log().contains("COPY to INBOX.Processed"), "{}", d.log());
}

#[test]
fn check_connect_names_the_folders_and_warns_of_rewritten_headers() {
    let (s, _alt) = cyrus("cyruscheck", "POSTDESK_IMAPALT", "move:Processed", "");
    let out = s.run(&["check", "--connect"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("after_ingest: MOVE to INBOX.Processed"),
        "{text}"
    );
    assert!(text.contains("rewrites 8-bit header bytes"), "{text}");
    // Dovecot keeps them.
    let dovecot = Setup::new("dovecotcheck", Db::Sqlite);
    let out = dovecot.run(&["check", "--connect"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("8-bit header bytes are kept"), "{text}");
    assert!(text.contains("after_ingest: MOVE to Processed"), "{text}");
}
