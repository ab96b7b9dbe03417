//! Several `postdesk run` instances on one PostgreSQL database, against real
//! Dovecot and Postfix: 1,000 customer mails arrive while three instances
//! run, one is killed with SIGKILL halfway; afterwards there are exactly
//! 1,000 tickets, each customer's inbox holds exactly one acknowledgement,
//! and no message is in two tickets. Prints the time to drain. And a
//! backlog that takes longer than the lease to fetch stays with the
//! instance fetching it.

mod common;

use common::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const N: usize = 1000;

#[test]
fn three_instances_share_the_work_and_survive_a_kill() {
    let s = Setup::with(
        "multi",
        Options {
            db: Db::Postgres,
            after_ingest: "move:Processed",
            // 1,000 acknowledgements: at the default cap on automatic mail.
            extra: "[limits]\nauto_per_mailbox_hour = 100000\n".into(),
            ..Options::default()
        },
    );
    // Short leases, so the survivors take over quickly.
    let text = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(
        &s.config,
        text.replace(
            "[database]\n",
            "[database]\nmailbox_lease = \"6s\"\nmax_connections = 4\n",
        ),
    )
    .unwrap();
    let mut daemons: Vec<Daemon> = (0..3)
        .map(|i| s.start_named(&format!("instance{i}")))
        .collect();
    let started = Instant::now();
    let sender = std::thread::spawn({
        let env = s.env.clone();
        let support = s.support_address();
        let tag = s.tag.clone();
        move || {
            for i in 0..N {
                let c = format!("m{i}-{tag}@example.test");
                env.send(
                    &c,
                    &[&support],
                    &mail(
                        &c,
                        &support,
                        &format!("Question {i}"),
                        &format!("multi{i}-{tag}@client.example"),
                        "",
                        "x",
                    ),
                );
            }
        }
    });
    // Kill the instance holding the mailbox once half the mail is in.
    s.wait_for(
        "half of the mail as tickets",
        Duration::from_secs(180),
        || (s.tickets().len() >= N / 2).then_some(()),
    );
    let holder = common::count(&s.database_url, "SELECT COUNT(*) FROM mailbox_leases");
    assert_eq!(holder, 1, "exactly one instance holds the mailbox");
    let logs: Vec<String> = daemons.iter().map(|d| d.log()).collect();
    let victim = logs
        .iter()
        .position(|l| l.contains("IMAP connected"))
        .unwrap_or(0);
    daemons[victim].kill();
    eprintln!("killed instance {victim} at {:?}", started.elapsed());
    sender.join().unwrap();
    s.wait_for("every mail as a ticket", Duration::from_secs(300), || {
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
    let drained = started.elapsed();

    let tickets = s.tickets();
    if tickets.len() != N {
        // Say which ticket is extra before failing: a second ticket for one
        // message, or mail that is not a customer's question at all.
        let mut by_id: HashMap<String, Vec<&serde_json::Value>> = HashMap::new();
        for t in &tickets {
            for id in t["message_ids"].as_array().unwrap() {
                by_id
                    .entry(id.as_str().unwrap().into())
                    .or_default()
                    .push(t);
            }
            if !t["message_ids"]
                .as_array()
                .unwrap()
                .iter()
                .any(|id| id.as_str().unwrap().starts_with("multi"))
            {
                eprintln!("ticket without a customer's question: {t}");
            }
        }
        for (id, ts) in by_id.iter().filter(|(_, ts)| ts.len() > 1) {
            eprintln!("{id} in {} tickets: {ts:?}", ts.len());
        }
    }
    assert_eq!(tickets.len(), N, "tickets");
    let mut seen: HashMap<String, i64> = HashMap::new();
    for t in &tickets {
        for id in t["message_ids"].as_array().unwrap() {
            let id = id.as_str().unwrap().to_string();
            if id.starts_with("multi") {
                assert!(
                    seen.insert(id.clone(), t["number"].as_i64().unwrap())
                        .is_none(),
                    "{id} in two tickets"
                );
            }
        }
    }
    assert_eq!(seen.len(), N);
    let mut duplicates = 0;
    for i in 0..N {
        let got = s
            .env
            .wait_delivered(&format!("m{i}-{}", s.tag), 1, Duration::from_secs(30))
            .len();
        assert!(got >= 1, "customer m{i} got no acknowledgement");
        duplicates += got - 1;
    }
    let senders: Vec<usize> = (0..3)
        .map(|i| {
            std::fs::read_to_string(s.dir.path().join(format!("instance{i}.log")))
                .unwrap_or_default()
                .matches(" sent ")
                .count()
        })
        .collect();
    eprintln!(
        "multi-instance: {N} mails, 3 instances (one killed), drained in {drained:?}; duplicate acknowledgements {duplicates}; \
         sent per instance {senders:?}"
    );
    assert_eq!(duplicates, 0, "duplicate acknowledgements");
}

/// The holder renews its lease while it works through a backlog: a second
/// instance started meanwhile never takes the mailbox over (before, the
/// lease was renewed only between fetch cycles; a backlog longer than the
/// lease let a second instance in, both fetched the same folder, and a
/// message one of them had just moved came to the other without content).
#[test]
fn a_backlog_longer_than_the_lease_stays_with_its_holder() {
    const BACKLOG: usize = 600;
    let s = Setup::with(
        "lease",
        Options {
            db: Db::Postgres,
            // Small batches: the lease is renewed between batches.
            extra: "fetch_batch = 5\n[limits]\nauto_per_mailbox_hour = 100000\n".into(),
            ..Options::default()
        },
    );
    let text = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(
        &s.config,
        text.replace("[database]\n", "[database]\nmailbox_lease = \"6s\"\n"),
    )
    .unwrap();
    let support = s.support_address();
    for i in 0..BACKLOG {
        let c = format!("l{i}-{}@example.test", s.tag);
        let raw = mail(
            &c,
            &support,
            &format!("Backlog {i}"),
            &format!("lease{i}-{}@client.example", s.tag),
            "",
            "x",
        );
        lmtp_send(s.env.lmtp_port, &c, &support, &raw).unwrap();
    }
    let holder = s.start_named("holder");
    s.wait_for("the first tickets", Duration::from_secs(60), || {
        (!s.tickets().is_empty()).then_some(())
    });
    let started = Instant::now();
    let second = s.start_named("second");
    s.wait_for("the whole backlog", Duration::from_secs(300), || {
        (s.tickets().len() >= BACKLOG).then_some(())
    });
    eprintln!(
        "lease: {BACKLOG} messages drained {:?} after the second instance started (lease 6s)",
        started.elapsed()
    );
    assert_eq!(s.tickets().len(), BACKLOG, "tickets");
    assert!(
        !holder.log().contains("lease ran out"),
        "the holder lost its lease while fetching"
    );
    assert!(
        !second.log().contains("IMAP connected"),
        "the second instance took the mailbox over from a live holder"
    );
}
