//! SLA notices in-process on both databases with a manual clock: the
//! pipeline ingests, the scheduler sends what is due, and time moves only
//! when the test moves it. The warning falls due at its second, not one
//! before; the breach (strictly after the due second) escalates once, to the assignee and the manager; an
//! answer in time leaves nothing scheduled, so nothing is ever sent.

#[macro_use]
mod common;

use common::Db;
use common::cli::Cli;
use postdesk::clock::{Clock, ManualClock};
use postdesk::ingest::{Arrival, Incoming, Pipeline, Source};
use postdesk::scheduler::Scheduler;
use std::sync::Arc;

on_both_databases!(
    a_breach_warns_then_escalates_once_at_its_second,
    an_answer_in_time_leaves_nothing_scheduled
);

const POLICY: &str = r#"
[[agent]]
email = "alice@example.com"
name = "Alice"

[sla.fast]
first_response = "20s"
warn_before = "10s"

[[sla.fast.escalation]]
after = "breach"
notify = ["assignee", "manager@example.com"]
set_priority = "urgent"
"#;

fn cli(db: Db) -> Cli {
    Cli::with_config(
        db,
        "sla = \"fast\"\nagents = [\"alice@example.com\"]",
        POLICY,
    )
}

fn customer_mail() -> Vec<u8> {
    b"From: Jane <jane@example.org>\r\nTo: support@example.com\r\nSubject: Server down\r\n\
      Message-ID: <down-1@example.org>\r\n\r\nOur server is down.\r\n"
        .to_vec()
}

/// Runs a blocking look at the database from inside the test's runtime.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().unwrap())
}

fn column(c: &Cli, sql: &str) -> Vec<Vec<u8>> {
    off_runtime(|| common::column_bytes(&c.url, sql))
}

fn number(c: &Cli, sql: &str) -> i64 {
    off_runtime(|| common::count(&c.url, sql))
}

/// The kinds of queued mail and who each goes to, oldest first.
fn queued(c: &Cli) -> Vec<(String, String)> {
    let kinds = column(c, "SELECT kind FROM outbox ORDER BY id");
    let to = column(c, "SELECT recipients FROM outbox ORDER BY id");
    kinds
        .into_iter()
        .zip(to)
        .map(|(k, t)| (String::from_utf8(k).unwrap(), String::from_utf8(t).unwrap()))
        .collect()
}

fn count(c: &Cli, kind: &str) -> usize {
    queued(c).iter().filter(|(k, _)| k == kind).count()
}

/// A pipeline and a scheduler on `clock`, and the customer's mail ingested.
async fn opened(
    config: Arc<postdesk::config::Config>,
    store: postdesk::store::Store,
    clock: &ManualClock,
) -> (Arc<Pipeline>, Scheduler, postdesk::config::MailboxConfig) {
    let key = store.token_key().await.unwrap();
    let mailbox = config.mailbox("support").unwrap().clone();
    let pipeline = Arc::new(Pipeline::new(
        config,
        store,
        Arc::new(postdesk::templates::Templates::load(None).unwrap()),
        key,
        Arc::new(clock.clone()),
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(tokio::sync::Notify::new()),
    ));
    let scheduler = Scheduler {
        pipeline: pipeline.clone(),
        wake: Arc::new(tokio::sync::Notify::new()),
    };
    let mail = customer_mail();
    pipeline
        .ingest(&mailbox, Incoming::new(&mail, Arrival::Now, Source::Direct))
        .await
        .unwrap();
    (pipeline, scheduler, mailbox)
}

fn a_breach_warns_then_escalates_once_at_its_second(db: Db) {
    let c = cli(db);
    let clock = ManualClock::new("2026-12-01T10:00:00Z".parse().unwrap());
    let start = clock.now();
    let at = |secs: i64| start + jiff::SignedDuration::from_secs(secs);
    let never = tokio_util::sync::CancellationToken::new();
    c.in_process(async |config, store| {
        let (_, scheduler, _) = opened(config, store, &clock).await;
        assert_eq!(count(&c, "agent_notify"), 1);

        clock.set(at(9));
        scheduler.send_due(&never).await.unwrap();
        assert_eq!(count(&c, "sla_warning"), 0, "warned a second early");
        clock.set(at(10));
        scheduler.send_due(&never).await.unwrap();
        assert_eq!(count(&c, "sla_warning"), 1, "{:?}", queued(&c));
        // Due at 20 s; a breach is strictly after it (the next second).
        clock.set(at(20));
        scheduler.send_due(&never).await.unwrap();
        assert_eq!(
            count(&c, "escalation"),
            0,
            "escalated at the due time, before the breach"
        );
        clock.set(at(21));
        scheduler.send_due(&never).await.unwrap();
        let escalations: Vec<String> = queued(&c)
            .into_iter()
            .filter(|(k, _)| k == "escalation")
            .map(|(_, to)| to)
            .collect();
        assert!(!escalations.is_empty(), "{:?}", queued(&c));
        let everyone = escalations.join(",");
        assert!(everyone.contains("manager@example.com"), "{everyone}");
        // Again and much later: nothing more.
        let before = queued(&c).len();
        clock.set(at(3600));
        scheduler.send_due(&never).await.unwrap();
        scheduler.send_due(&never).await.unwrap();
        assert_eq!(queued(&c).len(), before, "{:?}", queued(&c));
        assert_eq!(
            number(&c, "SELECT COUNT(*) FROM tickets WHERE priority = 'urgent'"),
            1
        );
    });
}

fn an_answer_in_time_leaves_nothing_scheduled(db: Db) {
    let c = cli(db);
    let clock = ManualClock::new("2026-12-01T10:00:00Z".parse().unwrap());
    let start = clock.now();
    let never = tokio_util::sync::CancellationToken::new();
    c.in_process(async |config, store| {
        let (p, scheduler, mailbox) = opened(config, store, &clock).await;
        // Alice answers from her notification five seconds later.
        let notice = column(
            &c,
            "SELECT m.raw FROM messages m JOIN outbox o ON o.message_id = m.message_id \
             WHERE o.kind = 'agent_notify'",
        );
        let reply_to = common::header(&notice[0], "Reply-To").unwrap();
        let reply_to = common::address_in(&reply_to);
        let notice_id = common::header(&notice[0], "Message-ID").unwrap();
        clock.set(start + jiff::SignedDuration::from_secs(5));
        let answer = format!(
            "From: Alice <alice@example.com>\r\nTo: {reply_to}\r\nSubject: Re: [#1] Server down\r\n\
             Message-ID: <answer-1@example.com>\r\nIn-Reply-To: {notice_id}\r\n\r\nRestarting it now.\r\n"
        );
        p.ingest(
            &mailbox,
            Incoming::new(answer.as_bytes(), Arrival::Now, Source::Direct),
        )
        .await
        .unwrap();
        assert_eq!(count(&c, "agent_reply"), 1, "{:?}", queued(&c));
        assert_eq!(
            number(&c, "SELECT COUNT(*) FROM sla_schedule"),
            0,
            "the answer left notices scheduled"
        );
        for secs in [10, 20, 3600, 86_400] {
            clock.set(start + jiff::SignedDuration::from_secs(secs));
            scheduler.send_due(&never).await.unwrap();
        }
        assert_eq!(count(&c, "sla_warning") + count(&c, "escalation"), 0, "{:?}", queued(&c));
    });
}
