//! The walking skeleton against real Dovecot and Postfix: customer mail sent
//! over SMTP becomes a ticket, and its acknowledgement arrives in the
//! customer's IMAP inbox; replies thread; automatic mail is not answered;
//! IDLE wakes the daemon; a SIGKILL in a burst loses and duplicates nothing.

#[macro_use]
mod common;

on_both_databases!(
    imaps_and_delete_after_ingest,
    an_oversized_mail_is_recorded_and_kept_on_the_server,
    customer_mail_becomes_a_ticket_and_the_ack_reaches_the_customer,
    replies_thread_into_the_ticket_without_a_second_ack,
    automatic_mail_gets_no_acknowledgement,
    idle_picks_up_mail_without_waiting_for_the_poll,
    sigkill_in_a_burst_loses_and_duplicates_nothing
);

use common::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

fn customer_mail_becomes_a_ticket_and_the_ack_reaches_the_customer(db: Db) {
    let s = Setup::new("ack", db);
    let d = s.start();
    let customer = s.addr("customer");
    let sent_at = Instant::now();
    s.env.send(
        &customer,
        &[&s.support_address()],
        &mail(
            &format!("Jane Doe <{customer}>"),
            &s.support_address(),
            "Printer broken",
            &format!("m1-{}@client.example", s.tag),
            "",
            "It shows E42.",
        ),
    );
    let acks = s.env.wait_delivered(&s.user("customer"), 1, WAIT);
    let latency = sent_at.elapsed();
    assert_eq!(acks.len(), 1, "no acknowledgement arrived\n{}", d.log());
    eprintln!("SMTP accept -> acknowledgement in the customer's inbox: {latency:?}");

    let ack = &acks[0];
    let tickets = s.tickets();
    assert_eq!(tickets.len(), 1);
    let t = &tickets[0];
    let n = t["number"].as_i64().unwrap();
    assert_eq!(t["customer"], customer.as_str());
    assert_eq!(t["status"], "open");
    assert_eq!(t["messages"], 2);
    assert!(t["sla"]["first_response_due"].is_string());

    let subject = header(ack, "Subject").unwrap();
    assert_eq!(subject, format!("[#{n}] Printer broken"));
    assert_eq!(
        header(ack, "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    assert_eq!(
        header(ack, "X-Auto-Response-Suppress").as_deref(),
        Some("All")
    );
    assert_eq!(
        header(ack, "In-Reply-To").unwrap(),
        format!("<m1-{}@client.example>", s.tag)
    );
    let reply_to = header(ack, "Reply-To").unwrap();
    assert!(
        reply_to.contains(&format!("{}+{n}-", s.support)),
        "{reply_to}"
    );
    let ack_id = header(ack, "Message-ID").unwrap();
    let ids: Vec<String> = t["message_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(
        ids.contains(&ack_id.trim_matches(['<', '>']).to_string()),
        "{ids:?} lacks {ack_id}"
    );

    // The message left INBOX for Processed (after it was committed).
    s.wait_for("the move to Processed", WAIT, || {
        (s.env.folder(&s.support, "INBOX") == 0 && s.env.folder(&s.support, "Processed") == 1)
            .then_some(())
    });
    let detail = s.json(&["tickets", "show", &n.to_string(), "--json"]);
    assert_eq!(detail["messages"][0]["direction"], "in");
    assert_eq!(detail["messages"][1]["direction"], "out");
    assert!(
        detail["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["what"] == "sent")
    );
    let outbox = s.outbox();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0]["status"], "sent");
    assert_eq!(outbox[0]["kind"], "ack");
    let (status, took) = d.stop();
    assert!(status.success(), "{status}");
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
}

fn replies_thread_into_the_ticket_without_a_second_ack(db: Db) {
    let s = Setup::new("reply", db);
    let d = s.start();
    let customer = s.addr("customer");
    let first_id = format!("first-{}@client.example", s.tag);
    s.write_to_support(&customer, "VPN down", &first_id, "VPN does not connect.");
    let acks = s.env.wait_delivered(&s.user("customer"), 1, WAIT);
    assert_eq!(acks.len(), 1, "{}", d.log());
    let ack_id = header(&acks[0], "Message-ID").unwrap();
    let reply_to = header(&acks[0], "Reply-To").unwrap();
    let token_addr = reply_to
        .rsplit('<')
        .next()
        .unwrap()
        .trim_end_matches('>')
        .to_string();
    let subject = header(&acks[0], "Subject").unwrap();

    // 1. A reply to the acknowledgement, to its Reply-To address (the token), with References.
    s.env.send(
        &customer,
        &[&token_addr],
        &mail(
            &customer,
            &token_addr,
            &format!("Re: {subject}"),
            &format!("r1-{}@client.example", s.tag),
            &format!("In-Reply-To: {ack_id}\r\nReferences: <{first_id}> {ack_id}\r\n"),
            "Still down.",
        ),
    );
    // 2. An Outlook-style follow-up: only In-Reply-To, to the plain address, subject changed.
    s.env.send(
        &customer,
        &[&s.support_address()],
        &mail(
            &customer,
            &s.support_address(),
            "RE: something else entirely",
            &format!("r2-{}@client.example", s.tag),
            &format!("In-Reply-To: <{first_id}>\r\nThread-Index: AdlX1234567890abcdefABCD==\r\n"),
            "And now?",
        ),
    );

    let t = s.wait_for("both replies on the ticket", WAIT, || {
        let t = s.tickets();
        (t.len() == 1 && t[0]["messages"] == 4).then(|| t[0].clone())
    });
    let n = t["number"].as_i64().unwrap();
    let detail = s.json(&["tickets", "show", &n.to_string(), "--json"]);
    let events: Vec<String> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"].as_str().unwrap().to_string())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("threaded by reply token")),
        "{events:#?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e == &format!("threaded by In-Reply-To <{first_id}>")),
        "{events:#?}"
    );
    // Give a wrongly queued second ack time to arrive before counting.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        s.env.delivered(&s.user("customer")).len(),
        1,
        "a reply was acknowledged"
    );
    assert_eq!(s.outbox().len(), 1);
    drop(d);
}

fn automatic_mail_gets_no_acknowledgement(db: Db) {
    let s = Setup::new("auto", db);
    let d = s.start();
    let robot = s.addr("robot");
    let cases = [
        ("Auto-Submitted: auto-replied\r\n", "Out of office"),
        ("Precedence: bulk\r\n", "Newsletter"),
        ("List-Id: <news.example.test>\r\n", "List post"),
    ];
    for (i, (h, subj)) in cases.iter().enumerate() {
        s.env.send(
            &robot,
            &[&s.support_address()],
            &mail(
                &robot,
                &s.support_address(),
                subj,
                &format!("auto{i}-{}@robot.example", s.tag),
                h,
                "I am away.",
            ),
        );
    }
    // And one bounce with an empty envelope sender.
    s.env.send(
        "",
        &[&s.support_address()],
        &mail(
            "MAILER-DAEMON@example.test",
            &s.support_address(),
            "Undelivered Mail Returned to Sender",
            &format!("bounce-{}@example.test", s.tag),
            "",
            "Delivery failed.",
        ),
    );
    // A human message after them proves the daemon processed the whole queue.
    let human = s.addr("human");
    s.write_to_support(
        &human,
        "Real question",
        &format!("h-{}@client.example", s.tag),
        "Hi",
    );
    s.env.wait_delivered(&s.user("human"), 1, WAIT);
    s.wait_for("the human's ticket", WAIT, || {
        (!s.tickets().is_empty()).then_some(())
    });
    // Postfix delivers in parallel, so the human's mail may overtake the robots':
    // wait for all four automatic messages rather than trusting the order.
    let automatic = "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND ticket IS NULL";
    s.wait_for("the four automatic messages", WAIT, || {
        (count(&s.database_url, automatic) >= 4).then_some(())
    });
    assert_eq!(
        count(&s.database_url, automatic),
        4,
        "the automatic messages are stored without a ticket"
    );
    for kind in ["autoreply", "list", "bounce"] {
        let n = count(
            &s.database_url,
            &format!("SELECT COUNT(*) FROM messages WHERE kind = '{kind}'"),
        );
        assert!(n >= 1, "no {kind} stored");
    }
    // Only the human got an acknowledgement; the robots' messages are stored without tickets.
    assert_eq!(s.env.delivered(&s.user("robot")).len(), 0);
    let outbox = s.outbox();
    assert_eq!(outbox.len(), 1, "{outbox:#?}");
    assert_eq!(outbox[0]["to"][0], human.as_str());
    assert_eq!(s.tickets().len(), 1);
    drop(d);
}

fn idle_picks_up_mail_without_waiting_for_the_poll(db: Db) {
    let s = Setup::with(
        "idle",
        Options {
            idle: true,
            poll_interval: "1h",
            db,
            ..Options::default()
        },
    );
    let d = s.start();
    s.wait_for("IMAP connected", WAIT, || {
        d.log().contains("IMAP connected").then_some(())
    });
    // Let the daemon enter IDLE.
    std::thread::sleep(Duration::from_millis(500));
    let customer = s.addr("customer");
    let sent = Instant::now();
    s.write_to_support(
        &customer,
        "Via IDLE",
        &format!("idle-{}@client.example", s.tag),
        "hello",
    );
    s.wait_for("the ticket", Duration::from_secs(15), || {
        (!s.tickets().is_empty()).then_some(())
    });
    let committed = sent.elapsed();
    let acks = s
        .env
        .wait_delivered(&s.user("customer"), 1, Duration::from_secs(15));
    let acked = sent.elapsed();
    assert_eq!(acks.len(), 1, "{}", d.log());
    eprintln!(
        "with IDLE: SMTP accept -> ticket committed {committed:?}, -> acknowledgement in the customer's inbox {acked:?}"
    );
    // The poll interval is an hour: only IDLE can explain an answer this fast.
    assert!(committed < Duration::from_secs(15));
    drop(d);
}

fn sigkill_in_a_burst_loses_and_duplicates_nothing(db: Db) {
    const N: usize = 200;
    let s = Setup::with(
        "burst",
        Options {
            after_ingest: "seen",
            db,
            ..Options::default()
        },
    );
    let mut d = s.start();
    let sender = std::thread::spawn({
        let env = s.env.clone();
        let support = s.support_address();
        let tag = s.tag.clone();
        move || {
            for i in 0..N {
                let c = format!("c{i}-{tag}@example.test");
                env.send(
                    &c,
                    &[&support],
                    &mail(
                        &c,
                        &support,
                        &format!("Burst {i}"),
                        &format!("burst{i}-{tag}@client.example"),
                        "",
                        "x",
                    ),
                );
            }
        }
    });
    // Kill once some but not all messages are tickets, then restart.
    s.wait_for("a first part of the burst", Duration::from_secs(60), || {
        let n = s.tickets().len();
        (n >= 100).then_some(())
    });
    d.kill();
    let before = s.tickets().len();
    d = s.start();
    sender.join().unwrap();
    s.wait_for(
        "every message as a ticket",
        Duration::from_secs(120),
        || (s.tickets().len() >= N).then_some(()),
    );
    s.wait_for(
        "every acknowledgement sent",
        Duration::from_secs(120),
        || {
            s.outbox()
                .iter()
                .all(|o| o["status"] == "sent")
                .then_some(())
        },
    );
    let tickets = s.tickets();
    eprintln!(
        "killed with {before} of {N} tickets; after restart {}",
        tickets.len()
    );
    assert_eq!(tickets.len(), N, "tickets");
    let mut seen: HashMap<String, i64> = HashMap::new();
    for t in &tickets {
        for id in t["message_ids"].as_array().unwrap() {
            let id = id.as_str().unwrap().to_string();
            if id.starts_with("burst") {
                assert!(
                    seen.insert(id.clone(), t["number"].as_i64().unwrap())
                        .is_none(),
                    "{id} in two tickets"
                );
            }
        }
    }
    assert_eq!(seen.len(), N, "every message in exactly one ticket");
    for i in 0..N {
        let got = s
            .env
            .wait_delivered(&format!("c{i}-{}", s.tag), 1, Duration::from_secs(10));
        assert_eq!(
            got.len(),
            1,
            "customer c{i} got {} acknowledgements",
            got.len()
        );
    }
    drop(d);
}

fn imaps_and_delete_after_ingest(db: Db) {
    let s = Setup::with(
        "imaps",
        Options {
            imaps: true,
            after_ingest: "delete",
            db,
            ..Options::default()
        },
    );
    let d = s.start();
    let customer = s.addr("customer");
    s.write_to_support(
        &customer,
        "Over IMAPS",
        &format!("tls-{}@client.example", s.tag),
        "x",
    );
    assert_eq!(
        s.env.wait_delivered(&s.user("customer"), 1, WAIT).len(),
        1,
        "{}",
        d.log()
    );
    s.wait_for("the message deleted from INBOX", WAIT, || {
        (s.env.folder(&s.support, "INBOX") == 0).then_some(())
    });
    assert_eq!(s.tickets().len(), 1);
    assert!(d.log().contains("IMAP connected"));
}

fn an_oversized_mail_is_recorded_and_kept_on_the_server(db: Db) {
    let s = Setup::with(
        "oversize",
        Options {
            after_ingest: "delete",
            extra: "[limits]\nmax_message_size = 4096\n".into(),
            db,
            ..Options::default()
        },
    );
    let d = s.start();
    let customer = s.addr("customer");
    let big = "x".repeat(200).repeat(100);
    s.write_to_support(
        &customer,
        "A huge attachment",
        &format!("big-{}@client.example", s.tag),
        &big,
    );
    let acks = s.env.wait_delivered(&s.user("customer"), 1, WAIT);
    assert_eq!(acks.len(), 1, "{}", d.log());
    let n = s.tickets()[0]["number"].as_i64().unwrap().to_string();
    let show = s.json(&["tickets", "show", &n, "--json"]);
    assert!(
        show["messages"][0]["flags"]
            .to_string()
            .contains("too-large"),
        "{show}"
    );
    // Only its header was fetched: it is not deleted from the server.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(s.env.folder(&s.support, "INBOX"), 1);
}
