//! An overview without leaving the mail client, against real Dovecot and
//! Postfix: `#mine`, `#queue`, `#atrisk` and `#find` answered by mail with
//! an address per ticket that acts on it, and each agent's daily digest,
//! sent once a day — across restarts, and across instances on PostgreSQL.

#[macro_use]
mod common;

use common::team::*;
use common::*;
use std::time::Duration;

on_both_databases!(
    lists_by_mail_act_on_the_tickets_they_show,
    the_daily_digest_comes_once_a_day
);

const DKIM_PASS: &str =
    "Authentication-Results: mx.postdesk.test; dkim=pass header.d=example.test\r\n";

/// A team whose "urgent" tickets must be answered within three hours
/// (so they are at risk at once).
fn listed_team(name: &str, db: Db) -> Setup {
    let s = setup(name, db);
    let text = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(
        &s.config,
        format!("{text}\n[sla.tight]\nfirst_response = \"3h\"\n\n[[rule]]\nsubject = [\"urgent\"]\nsla = \"tight\"\n"),
    )
    .unwrap();
    s
}

/// Two tickets: #1 (the printer) taken by Alice, #2 (urgent VPN) by nobody.
fn two_tickets(s: &Setup) {
    let (note, _) =
        customer_writes_about(s, "Printer shows E42", "The printer on floor 2 shows E42.");
    alice_replies(s, &note, "#take", "");
    s.wait_for("alice took #1", WAIT, || {
        s.tickets()
            .iter()
            .any(|t| t["number"] == 1 && t["assignee"] == s.addr("alice").as_str())
            .then_some(())
    });
    customer_writes_about(
        s,
        "Urgent: VPN down",
        "Nobody in the office can reach the VPN.",
    );
}

/// The address a list gives for ticket `tag`.
fn address_for(list: &str, tag: &str) -> String {
    let mut lines = list.lines().skip_while(|l| !l.starts_with(tag));
    lines
        .find_map(|l| l.trim().strip_prefix("To act on it, write to "))
        .unwrap_or_else(|| panic!("no address for {tag} in\n{list}"))
        .trim()
        .to_string()
}

fn lists_by_mail_act_on_the_tickets_they_show(db: Db) {
    let s = listed_team("lists", db);
    let _d = s.start();
    two_tickets(&s);
    let (alice, support) = (s.addr("alice"), s.support_address());
    s.env.send(
        &alice,
        &[&support],
        &mail(
            &format!("Alice <{alice}>"),
            &support,
            "lists",
            &format!("l1-{}@agent.example", s.tag),
            DKIM_PASS,
            "#mine\n#queue\n#atrisk\n#find printer floor",
        ),
    );
    let list = |subject: &str| body_of(&find(&s, "alice", subject));
    let mine = list("Your open tickets: 1");
    assert!(mine.contains("[#1] Printer shows E42"), "{mine}");
    assert!(mine.contains("Jane Doe"), "{mine}");
    assert!(mine.contains("EET"), "due in Alice's zone:\n{mine}");
    let queue = list("Tickets nobody has taken: 1");
    assert!(queue.contains("[#2] Urgent: VPN down"), "{queue}");
    let at_risk = list("Tickets near or past their deadline: 1");
    assert!(
        at_risk.contains("[#2]") && !at_risk.contains("[#1]"),
        "{at_risk}"
    );
    let found = list("Tickets matching \"printer floor\": 1");
    assert!(found.contains("[#1]") && !found.contains("[#2]"), "{found}");

    // Writing to the address under #2 acts on #2.
    let to = address_for(&queue, "[#2]");
    s.env.send(
        &alice,
        &[&to],
        &mail(
            &format!("Alice <{alice}>"),
            &to,
            "Re: Tickets nobody has taken: 1",
            &format!("l2-{}@agent.example", s.tag),
            "",
            "#take",
        ),
    );
    s.wait_for("alice took #2", WAIT, || {
        s.tickets()
            .iter()
            .any(|t| t["number"] == 2 && t["assignee"] == alice.as_str())
            .then_some(())
    });
    // A reply to a list asks for another one, proven by its address alone.
    let queue_mail = find(&s, "alice", "Tickets nobody has taken: 1");
    answer_with(&s, "alice", &queue_mail, "", "#mine\n\n> old list\n");
    let both = list("Your open tickets: 2");
    assert!(both.contains("[#1]") && both.contains("[#2]"), "{both}");
    // The customer heard none of it.
    assert!(
        s.env
            .delivered(&s.user("customer"))
            .iter()
            .all(|m| !body_of(m).contains("#take")),
    );
}

fn the_daily_digest_comes_once_a_day(db: Db) {
    let s = listed_team("digest", db);
    {
        let _d = s.start();
        two_tickets(&s);
        find(&s, "bob", "Urgent: VPN down");
    }
    // Alice wants her digest at midnight: today's is due at once.
    let text = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(
        &s.config,
        text.replacen(
            "timezone = \"Europe/Athens\"\n",
            "timezone = \"Europe/Athens\"\ndigest = \"00:00\"\n",
            1,
        ),
    )
    .unwrap();
    let digests = || mails_where(&s, "alice", |m| m.contains("Your day:"));
    {
        // Two instances on PostgreSQL; one sends.
        let _a = s.start_named("first");
        let _b = (db == Db::Postgres).then(|| s.start_named("second"));
        let got = wait_mail(&s, "alice", "the digest", |m| m.contains("Your day:"));
        let text = body_of(&got);
        assert!(
            header(&got, "Subject")
                .unwrap()
                .starts_with("Your day: 1 open, "),
            "{text}"
        );
        assert!(text.contains("[#1] Printer shows E42"), "{text}");
        assert!(text.contains("[#2] Urgent: VPN down"), "{text}");
        assert!(text.contains("Good morning Alice"), "{text}");
        assert!(text.contains("Not taken by anyone (1)"), "{text}");
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(digests().len(), 1, "one digest across instances");
    }
    // A restart the same day sends nothing more; Bob asked for none.
    let d = s.start_named("again");
    s.wait_for("the restarted daemon", WAIT, || {
        d.log().contains("postdesk running").then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(digests().len(), 1, "once a day");
    assert!(mails_where(&s, "bob", |m| m.contains("Your day:")).is_empty());
}
