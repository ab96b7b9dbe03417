//! The agents' day in their own mail client, against real Dovecot and
//! Postfix: answers written below or between the quote, or only an
//! attachment, reach the customer; an empty answer is never dropped
//! silently; assignment tells the new assignee; notifications show the
//! clock that runs and no quoted history; survey answers in the customer's
//! words rate without reopening; a fresh mail from an agent is answered
//! with what to do; closing sends one mail; the report counts reopened
//! tickets.

#[macro_use]
mod common;

use common::team::*;
use common::*;
use std::time::Duration;

on_both_databases!(
    answers_below_between_and_without_words_reach_the_customer,
    an_empty_answer_is_held_with_a_receipt,
    the_new_assignee_hears_and_follow_ups_show_the_running_clock,
    survey_answers_in_the_customers_words_rate_without_reopening,
    a_fresh_mail_from_an_agent_gets_an_answer_not_a_ticket,
    closing_sends_the_customer_one_mail_and_the_report_counts_reopening
);

/// A proof of an agent's mail a trusted server added (see the setup's [auth]).
const DKIM_PASS: &str =
    "Authentication-Results: mx.postdesk.test; dkim=pass header.d=example.test\r\n";

/// The customer's inbox, read, that `pick` accepts.
fn customer_mail(s: &Setup, pick: impl Fn(&str) -> bool) -> Vec<String> {
    mails_where(s, "customer", pick)
        .iter()
        .map(|m| body_of(m))
        .collect()
}

/// Waits for the customer's answer that contains `words`; returns its text.
fn customer_gets(s: &Setup, words: &str) -> String {
    body_of(&wait_mail(s, "customer", words, |m| m.contains(words)))
}

/// No part of our notification (quoted or not), no attribution line.
fn assert_nothing_quoted(text: &str) {
    for leak in [
        "New ticket",
        "Status open",
        "Reply to this mail",
        "wrote:",
        "> ",
        "#assign",
    ] {
        assert!(
            !text.contains(leak),
            "{leak:?} reached the customer:\n{text}"
        );
    }
}

fn answers_below_between_and_without_words_reach_the_customer(db: Db) {
    let s = setup("below", db);
    let _d = s.start();
    let (note, _) = customer_writes(&s, None);
    let reply_to = address_in(&header(&note, "Reply-To").unwrap());
    let quote = quoted(&note);

    // Bottom-posted, as mutt and many Thunderbird users write.
    answer_with(
        &s,
        "alice",
        &note,
        "",
        &format!(
            "On 30/11/2026 14:46, Test Support wrote:\n{quote}\nHi Jane,\nplease switch the printer off for ten seconds.\n\nAlice\n"
        ),
    );
    let below = customer_gets(&s, "off for ten seconds");
    assert!(below.contains("Hi Jane,"), "{below}");
    assert_nothing_quoted(&below);

    // Interleaved: answers between the quoted lines.
    let lines: Vec<&str> = quote.lines().collect();
    let (head, tail) = lines.split_at(3);
    answer_with(
        &s,
        "alice",
        &note,
        "",
        &format!(
            "On Mon, 30 Nov 2026 at 14:46, Test Support <{reply_to}> wrote:\n{}\nDoes it show E42 right after switching on?\n\n{}\nI will call you at three.\n",
            head.join("\n"),
            tail.join("\n")
        ),
    );
    let between = customer_gets(&s, "right after switching on");
    let (a, b) = (
        between.find("right after switching on").unwrap(),
        between
            .find("call you at three")
            .expect("the second answer"),
    );
    assert!(a < b, "in the order written:\n{between}");
    assert_nothing_quoted(&between);

    // Only an attachment, the quote as the client left it.
    let alice = s.addr("alice");
    let raw = format!(
        "From: Alice <{alice}>\r\nTo: {reply_to}\r\nSubject: Re: [#1] Printer shows E42\r\n\
         Message-ID: <att-{tag}@agent.example>\r\nIn-Reply-To: {parent}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         On Mon, 30 Nov 2026 at 14:46, Test Support <{reply_to}> wrote:\r\n{q}\r\n\
         --XX\r\nContent-Type: application/pdf; name=\"firmware-guide.pdf\"\r\nContent-Disposition: attachment; filename=\"firmware-guide.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IK\r\n--XX--\r\n",
        tag = s.tag,
        parent = header(&note, "Message-ID").unwrap(),
        q = quote.replace('\n', "\r\n"),
    );
    s.env.send(&alice, &[&reply_to], raw.as_bytes());
    let with_file = wait_mail(&s, "customer", "the attachment", |m| {
        m.contains("firmware-guide.pdf")
    });
    assert_nothing_quoted(&body_of(&with_file));
    // Every answer is on the ticket, and the first one stopped the clock.
    let t = &s.tickets()[0];
    assert!(t["sla"]["first_response_at"].is_string(), "{t}");
    assert_eq!(
        customer_mail(&s, |_| true).len(),
        4,
        "the acknowledgement and three answers"
    );
}

fn an_empty_answer_is_held_with_a_receipt(db: Db) {
    let s = setup("empty", db);
    let _d = s.start();
    let (note, _) = customer_writes(&s, None);
    // Sent by mistake: nothing but the quote.
    answer_with(
        &s,
        "alice",
        &note,
        "",
        &format!(
            "On Mon, 30 Nov 2026 at 14:46, Test Support wrote:\n{}",
            quoted(&note)
        ),
    );
    let receipt = wait_mail(&s, "alice", "a receipt", |m| m.contains("Nothing sent"));
    let text = body_of(&receipt);
    assert!(text.contains("no text of its own"), "{text}");
    assert!(text.contains("kept on the ticket"), "{text}");
    let n = s.tickets()[0]["number"].as_i64().unwrap().to_string();
    let show = s.json(&["tickets", "show", &n, "--json"]);
    assert!(
        show["events"].to_string().contains("nothing relayed"),
        "{show:#}"
    );
    assert!(
        show["sla"]["first_response_at"].is_null(),
        "the clock runs on"
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        customer_mail(&s, |_| true).len(),
        1,
        "only the acknowledgement"
    );
}

fn the_new_assignee_hears_and_follow_ups_show_the_running_clock(db: Db) {
    let s = setup("assign", db);
    let _d = s.start();
    let (note, _) = customer_writes(&s, None);
    // Alice hands the ticket to Bob: Bob hears it, in his time zone.
    alice_replies(&s, &note, "#assign Bob", "");
    let told = body_of(&wait_mail(&s, "bob", "the assignment", |m| {
        m.contains("assigned ticket")
    }));
    assert!(told.contains("Alice assigned ticket [#1] to you"), "{told}");
    assert!(told.contains("The printer on floor 2 shows E42."), "{told}");
    assert!(told.contains("First answer due"), "{told}");
    assert!(told.contains("CET"), "Bob reads Warsaw time:\n{told}");
    // Alice takes it back: Bob hears that too.
    alice_replies(&s, &note, "#take", "");
    let lost = body_of(&wait_mail(&s, "bob", "the take-over", |m| {
        m.contains("took over")
    }));
    assert!(
        lost.contains("Alice took over ticket [#1] from you"),
        "{lost}"
    );

    // Alice answers; Jane writes again, quoting the answer.
    alice_replies(&s, &note, "Hi Jane, please restart the printer.", "");
    let answer = wait_mail(&s, "customer", "the answer", |m| {
        m.contains("please restart the printer")
    });
    let customer = s.addr("customer");
    let answer_reply_to = address_in(&header(&answer, "Reply-To").unwrap());
    s.env.send(
        &customer,
        &[&answer_reply_to],
        &mail(
            &format!("Jane Doe <{customer}>"),
            &answer_reply_to,
            "Re: [#1] Printer shows E42",
            &format!("c2-{}@client.example", s.tag),
            &format!(
                "In-Reply-To: {}\r\n",
                header(&answer, "Message-ID").unwrap()
            ),
            &format!(
                "It still shows E42 after the restart.\r\n\r\nOn Mon, 30 Nov 2026 at 14:50, Alice (Test Support) <{answer_reply_to}> wrote:\r\n> Hi Jane, please restart the printer.\r\n"
            ),
        ),
    );
    let follow_up = body_of(&wait_mail(&s, "alice", "the follow-up", |m| {
        m.contains("wrote again")
    }));
    assert!(
        follow_up.contains("It still shows E42 after the restart."),
        "{follow_up}"
    );
    assert!(
        follow_up.contains("Next answer due") && !follow_up.contains("First answer due"),
        "the running clock:\n{follow_up}"
    );
    assert!(
        follow_up.contains("EET"),
        "Alice reads Athens time:\n{follow_up}"
    );
    assert!(
        !follow_up.contains("> Hi Jane") && !follow_up.contains("wrote:"),
        "the customer's quote is trimmed:\n{follow_up}"
    );
    // The ticket keeps her whole message.
    let raw = column_bytes(
        &s.database_url,
        &format!(
            "SELECT raw FROM messages WHERE message_id = 'c2-{}@client.example'",
            s.tag
        ),
    );
    assert!(String::from_utf8_lossy(&raw[0]).contains("> Hi Jane, please restart"));
}

fn survey_answers_in_the_customers_words_rate_without_reopening(db: Db) {
    let s = setup_with("words", db, "survey = true");
    let _d = s.start();
    let (note, _) = customer_writes(&s, None);
    alice_replies(&s, &note, "#resolve\nThe firmware is updated.", "");
    let survey = wait_mail(&s, "customer", "the survey", |m| m.contains("from 1 to 5"));
    let survey_to = address_in(&header(&survey, "Reply-To").unwrap());
    let customer = s.addr("customer");
    let number = s.tickets()[0]["number"].as_i64().unwrap().to_string();
    let show = || s.json(&["tickets", "show", &number, "--json"]);
    // Alice has her notification and the receipt of #resolve.
    wait_mail(&s, "alice", "the receipt", |m| m.contains("Done"));
    let alice_had = s.env.delivered(&s.user("alice")).len();
    for (i, (answer, score, comment)) in [
        ("4, thanks!", 4, "thanks!"),
        ("5, ευχαριστώ πολύ!", 5, "ευχαριστώ πολύ!"),
        (
            "★★★ dziękuję, ale trwało to długo",
            3,
            "dziękuję, ale trwało to długo",
        ),
        ("Pięć! Wszystko działa.", 5, "Wszystko działa."),
    ]
    .into_iter()
    .enumerate()
    {
        s.env.send(
            &customer,
            &[&survey_to],
            &mail(
                &format!("Jane Doe <{customer}>"),
                &survey_to,
                &format!("Re: {}", header(&survey, "Subject").unwrap()),
                &format!("rate{i}-{}@client.example", s.tag),
                &format!("In-Reply-To: {}\r\n", header(&survey, "Message-ID").unwrap()),
                &format!("{answer}\r\n\r\nOn Mon, 30 Nov 2026, Test Support wrote:\r\n> How happy are you?\r\n"),
            ),
        );
        let got = s.wait_for(&format!("the rating of {answer:?}"), WAIT, || {
            let t = show();
            let rated = t["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["what"] == "rated")
                .count();
            (rated == i + 1).then_some(t)
        });
        assert_eq!(got["rating"], score, "{answer}");
        assert_eq!(got["rating_comment"], comment, "{answer}");
        assert_eq!(got["status"], "resolved", "{answer} reopened the ticket");
    }
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        s.env.delivered(&s.user("alice")).len(),
        alice_had,
        "no agent was told of a rating as of a new message"
    );
}

fn a_fresh_mail_from_an_agent_gets_an_answer_not_a_ticket(db: Db) {
    let s = setup("fresh", db);
    let _d = s.start();
    customer_writes(&s, None);
    find(&s, "bob", "Printer shows E42");
    let (alice, support) = (s.addr("alice"), s.support_address());
    let bob_had = s.env.delivered(&s.user("bob")).len();
    let write = |id: &str, headers: &str, subject: &str, body: &str| {
        s.env.send(
            &alice,
            &[&support],
            &mail(
                &format!("Alice <{alice}>"),
                &support,
                subject,
                &format!("{id}-{}@agent.example", s.tag),
                headers,
                body,
            ),
        );
    };
    // Without proof: set aside, and Alice learns why.
    write(
        "f1",
        "",
        "[#1] Printer shows E42",
        "#take\nI will call her.",
    );
    let unproven = body_of(&wait_mail(&s, "alice", "the first answer", |m| {
        m.contains("Nothing done") && m.contains("did not prove")
    }));
    assert!(unproven.contains("reply to a mail about it"), "{unproven}");
    // Proven, but about no ticket: the same.
    write(
        "f2",
        DKIM_PASS,
        "Printer on floor 2",
        "#take\nI will call her.",
    );
    let no_ticket = body_of(&wait_mail(&s, "alice", "the second answer", |m| {
        m.contains("Nothing done") && m.contains("about none")
    }));
    assert!(no_ticket.contains("#close #resolve"), "{no_ticket}");
    assert_eq!(s.tickets().len(), 1, "no ticket for an agent's mail");
    assert!(s.tickets()[0]["assignee"].is_null());
    // Proven and naming the ticket: it acts.
    write("f3", DKIM_PASS, "[#1] Printer shows E42", "#take");
    s.wait_for("alice took the ticket", WAIT, || {
        (s.tickets()[0]["assignee"] == alice.as_str()).then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    let bob_got: Vec<String> = s.env.delivered(&s.user("bob"))[..]
        .iter()
        .map(|m| body_of(m))
        .collect();
    assert_eq!(
        bob_got.len(),
        bob_had,
        "no agent hears of an agent's mail as a customer's: {bob_got:#?}"
    );
}

fn closing_sends_the_customer_one_mail_and_the_report_counts_reopening(db: Db) {
    let s = setup_with("close", db, "survey = true\nclosing_mail = true");
    let _d = s.start();
    let (note, _) = customer_writes(&s, None);
    alice_replies(&s, &note, "#close\nThe firmware is updated; all fixed.", "");
    let one = customer_gets(&s, "all fixed");
    assert!(one.contains("as closed"), "the closing note:\n{one}");
    assert!(one.contains("from 1 to 5"), "the survey:\n{one}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        customer_mail(&s, |_| true).len(),
        2,
        "the acknowledgement and one mail at closing"
    );
    // Jane writes again: the ticket reopens, and the report says so.
    let answer = wait_mail(&s, "customer", "the answer", |m| m.contains("all fixed"));
    let customer = s.addr("customer");
    let to = address_in(&header(&answer, "Reply-To").unwrap());
    s.env.send(
        &customer,
        &[&to],
        &mail(
            &format!("Jane Doe <{customer}>"),
            &to,
            "Re: [#1] Printer shows E42",
            &format!("again-{}@client.example", s.tag),
            "",
            "Sorry, E42 is back this morning.",
        ),
    );
    s.wait_for("the ticket reopened", WAIT, || {
        (s.tickets()[0]["status"] == "open").then_some(())
    });
    let r = s.json(&[
        "report",
        "--since",
        "2026-01-01T00:00:00Z",
        "--format",
        "json",
    ]);
    let m = &r["mailboxes"][0];
    assert_eq!(m["reopened"], 1, "{m:#}");

    // Closing without words: the closing mail carries the survey question
    // only when it was not asked before; still one mail.
    let before = customer_mail(&s, |_| true).len();
    alice_replies(&s, &note, "#close", "");
    let closed = body_of(&wait_mail(&s, "customer", "the closing mail", |m| {
        m.contains("as closed") && !m.contains("all fixed")
    }));
    assert!(
        !closed.contains("from 1 to 5"),
        "asked once per ticket:\n{closed}"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(customer_mail(&s, |_| true).len(), before + 1);
}
