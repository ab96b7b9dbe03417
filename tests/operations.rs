//! Running as a service, against real servers: `/metrics` counts what the
//! daemon did, and `/healthz` turns 503 with a reason while Dovecot is down
//! and 200 again when it is back.

#[macro_use]
mod common;

use common::*;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn metrics_count_the_work_and_healthz_follows_the_imap_server() {
    let private = PrivateMailEnv::start(0);
    let port = free_port();
    let s = Setup::with(
        "ops",
        Options {
            env: Some(private.env.clone()),
            poll_interval: "1s",
            extra: format!("\n[http]\nlisten = \"127.0.0.1:{port}\"\n"),
            ..Options::default()
        },
    );
    let d = s.start();
    let health = |want: u16| {
        s.wait_for(&format!("/healthz {want}"), WAIT, || {
            http_get(port, "/healthz").filter(|(code, _)| *code == want)
        })
    };
    // Healthy from the start (three polls of grace), connected a moment later.
    let body = s.wait_for("/healthz to say connected", WAIT, || {
        http_get(port, "/healthz")
            .filter(|(code, body)| *code == 200 && body.contains("\"state\":\"connected\""))
            .map(|(_, body)| body)
    });
    let ok: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ok["status"], "ok", "{ok}");
    assert_eq!(ok["database"], "ok", "{ok}");
    assert_eq!(ok["mailboxes"]["support"]["state"], "connected", "{ok}");

    let customer = s.addr("customer");
    s.write_to_support(
        &customer,
        "Counted",
        &format!("m-{}@client.example", s.tag),
        "Hello",
    );
    s.env.wait_delivered(&s.user("customer"), 1, WAIT);
    let text = s.wait_for("the ack counted as sent", WAIT, || {
        let (code, text) = http_get(port, "/metrics")?;
        assert_eq!(code, 200);
        (metric(&text, r#"postdesk_outbox_sent_total{kind="ack"}"#) == Some(1.0)).then_some(text)
    });
    let sample = |name: &str| metric(&text, name).unwrap_or_else(|| panic!("no {name} in\n{text}"));
    assert_eq!(
        sample(r#"postdesk_messages_ingested_total{mailbox="support",kind="customer"}"#),
        1.0
    );
    assert_eq!(
        sample(r#"postdesk_tickets_created_total{mailbox="support"}"#),
        1.0
    );
    assert_eq!(sample("postdesk_ingest_duration_seconds_count"), 1.0);
    assert_eq!(sample("postdesk_database_up"), 1.0);
    assert_eq!(sample("postdesk_outbox_queued"), 0.0);
    assert_eq!(sample("postdesk_tickets_breached"), 0.0);
    assert_eq!(sample(r#"postdesk_imap_connected{mailbox="support"}"#), 1.0);
    let last = sample(r#"postdesk_imap_last_fetch_timestamp_seconds{mailbox="support"}"#);
    let created: jiff::Timestamp = s.tickets()[0]["created_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let created = created.as_millisecond() as f64 / 1000.0;
    assert!(
        last >= created - 5.0 && last < created + 30.0,
        "last fetch {last}, ticket created {created}"
    );
    assert!(text.contains("# HELP postdesk_tickets_at_risk"), "{text}");

    // Dovecot stops: within three poll intervals /healthz says so, and why.
    s.env.script("stop-imap");
    let (_, body) = health(503);
    let bad: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(bad["status"], "unhealthy", "{bad}");
    let problem = bad["problems"][0].as_str().unwrap();
    assert!(
        problem.starts_with("mailbox support: no successful fetch"),
        "{bad}"
    );
    assert_eq!(
        bad["mailboxes"]["support"]["state"], "disconnected",
        "{bad}"
    );
    let (_, text) = http_get(port, "/metrics").unwrap();
    assert_eq!(
        metric(&text, r#"postdesk_imap_connected{mailbox="support"}"#),
        Some(0.0)
    );

    // And back.
    s.env.script("start-imap");
    health(200);
    drop(d);
}

#[test]
fn the_service_manager_hears_ready_watchdog_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let s = Setup::new("notify", Db::Sqlite);
    let path = s.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let d = s.start_with_env(
        "daemon",
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("WATCHDOG_USEC", "400000"),
        ],
    );
    let mut heard = Vec::new();
    let mut buf = [0u8; 4096];
    let mut watchdogs = 0;
    while watchdogs < 3 {
        let n = socket
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("{e}; heard so far: {heard:?}\n{}", d.log()));
        let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
        watchdogs += msg.lines().filter(|l| *l == "WATCHDOG=1").count();
        heard.push(msg);
    }
    let all = heard.concat();
    assert!(all.contains("READY=1\n"), "{heard:?}");
    assert!(
        all.contains("STATUS=running: 1 IMAP mailbox(es)"),
        "{heard:?}"
    );
    let (status, _) = d.stop();
    assert!(status.success());
    let mut stopping = false;
    while let Ok(n) = socket.recv(&mut buf) {
        if String::from_utf8_lossy(&buf[..n]).contains("STOPPING=1") {
            stopping = true;
            break;
        }
    }
    assert!(stopping, "no STOPPING=1 after SIGTERM");
}

#[test]
fn sighup_reloads_a_valid_configuration_and_keeps_the_old_one_otherwise() {
    let s = Setup::new("reload", Db::Sqlite);
    let d = s.start();
    let connections = || d.log().matches("IMAP connected").count();
    s.wait_for("IMAP connected", WAIT, || {
        (connections() == 1).then_some(())
    });
    let original = std::fs::read_to_string(&s.config).unwrap();

    // A template override and nothing else: the IMAP connection stays up.
    let tpl = s.dir.path().join("tpl/en");
    std::fs::create_dir_all(&tpl).unwrap();
    let ack = std::fs::read_to_string(repo().join("templates/en/ack.txt")).unwrap();
    std::fs::write(
        tpl.join("ack.txt"),
        ack.replace("Kind regards,", "RELOADED-ACK\nKind regards,"),
    )
    .unwrap();
    std::fs::write(&s.config, format!("templates_dir = \"tpl\"\n{original}")).unwrap();
    d.reload();
    s.wait_for("the reload", WAIT, || {
        d.log().contains("configuration reloaded").then_some(())
    });
    assert!(d.log().contains("restarted=[]"), "{}", d.log());
    let ack_for = |who: &str| {
        let customer = s.addr(who);
        s.write_to_support(
            &customer,
            &format!("From {who}"),
            &format!("{who}-{}@client.example", s.tag),
            "Hi",
        );
        let got = s.env.wait_delivered(&s.user(who), 1, WAIT);
        String::from_utf8_lossy(&got[0]).into_owned()
    };
    assert!(
        ack_for("first").contains("RELOADED-ACK"),
        "the new template is in force"
    );
    assert_eq!(
        connections(),
        1,
        "an unchanged mailbox keeps its connection"
    );

    // A configuration with a mistake is refused, named, and the last good one stays.
    std::fs::write(
        &s.config,
        format!("templates_dir = \"tpl\"\nlog_fromat = \"json\"\n{original}"),
    )
    .unwrap();
    d.reload();
    s.wait_for("the refusal", WAIT, || {
        d.log().contains("configuration rejected").then_some(())
    });
    assert!(d.log().contains("log_fromat: unknown key"), "{}", d.log());
    assert!(
        ack_for("second").contains("RELOADED-ACK"),
        "the last good configuration stays"
    );
    assert_eq!(connections(), 1);

    // A changed mailbox is restarted with its new settings.
    let slower = original.replace("poll_interval = \"2s\"", "poll_interval = \"3s\"");
    assert_ne!(slower, original);
    std::fs::write(&s.config, slower).unwrap();
    d.reload();
    s.wait_for("the mailbox restarted", WAIT, || {
        (connections() == 2).then_some(())
    });
    assert!(d.log().contains(r#"restarted=["support"]"#), "{}", d.log());
    assert!(
        !ack_for("third").contains("RELOADED-ACK"),
        "the override is gone again"
    );
    let (status, _) = d.stop();
    assert!(status.success());
}
