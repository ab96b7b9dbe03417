//! Agents working from their own mail client, against real Dovecot and
//! Postfix: the notification arrives, a reply to it reaches the customer from
//! the support address (quote trimmed, threaded, attachments kept, no trace
//! of the agent's address), commands act on the ticket, notes stay inside,
//! and an agent address without proof gets no powers.

#[macro_use]
mod common;

use common::team::*;
use common::*;
use std::time::Duration;

on_both_databases!(
    an_agent_reply_reaches_the_customer_from_the_support_address,
    notes_stay_inside_and_commands_act,
    agent_powers_need_proof,
    direct_replies_are_recorded_not_relayed,
    a_vacation_reply_to_a_relayed_answer_ends_the_loop,
    a_resolved_ticket_asks_once_for_a_rating_and_keeps_the_last_answer,
    the_survey_link_asks_before_it_records
);

fn an_agent_reply_reaches_the_customer_from_the_support_address(db: Db) {
    let s = setup("relay", db);
    let _d = s.start();
    let colleague = s.addr("colleague");
    let (note, customer_id) = customer_writes(&s, Some(&colleague));
    // Both agents were told; the notification speaks for the customer.
    assert!(
        header(&note, "From")
            .unwrap()
            .contains("Jane Doe via Test Support")
    );
    assert_eq!(
        header(&note, "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert!(String::from_utf8_lossy(&note).contains("The printer on floor 2 shows E42."));
    find(&s, "bob", "Printer shows E42");

    // Alice answers from her mail client, with an attachment.
    let alice = s.addr("alice");
    let reply_to = address_in(&header(&note, "Reply-To").unwrap());
    let parent = header(&note, "Message-ID").unwrap();
    let raw = format!(
        "From: Alice <{alice}>\r\nTo: {reply_to}\r\nSubject: Re: [#1] Printer shows E42\r\n\
         Message-ID: <a1-{tag}@agent.example>\r\nIn-Reply-To: {parent}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Hi Jane,\r\nplease switch it off and on again; the manual is attached.\r\n\r\n\
         On Thu, 26 Nov 2026 at 10:00, Jane Doe via Test Support <{reply_to}> wrote:\r\n> The printer on floor 2 shows E42.\r\n\
         --XX\r\nContent-Type: application/pdf; name=\"manual.pdf\"\r\nContent-Disposition: attachment; filename=\"manual.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IK\r\n--XX--\r\n",
        tag = s.tag
    );
    s.env.send(&alice, &[&reply_to], raw.as_bytes());

    // Jane has her acknowledgement and the answer.
    let got = s.env.wait_delivered(&s.user("customer"), 2, WAIT);
    assert_eq!(got.len(), 2, "ack and answer");
    let answer = got
        .iter()
        .find(|m| header(m, "Auto-Submitted").is_none())
        .expect("a human answer")
        .clone();
    let from = header(&answer, "From").unwrap();
    assert!(from.starts_with("\"Alice (Test Support)\""), "{from}");
    assert!(
        from.contains(&format!("<{}@example.test>", s.support)),
        "{from}"
    );
    assert_eq!(
        header(&answer, "In-Reply-To").unwrap(),
        format!("<{customer_id}>")
    );
    let text = String::from_utf8_lossy(&answer).to_string();
    assert!(text.contains("please switch it off and on again"), "{text}");
    assert!(
        !text.contains("> The printer"),
        "the quote was not trimmed:\n{text}"
    );
    assert!(text.contains("manual.pdf"), "the attachment is missing");
    // No trace of the agent's own address anywhere in what the customer got.
    assert!(
        !text.to_lowercase().contains(&alice),
        "the agent's address leaked:\n{text}"
    );
    // The customer's colleague in Cc got the answer too.
    let cc_got = s.env.wait_delivered(&s.user("colleague"), 2, WAIT);
    assert!(
        cc_got
            .iter()
            .any(|m| String::from_utf8_lossy(m).contains("please switch it off"))
    );

    let t = &s.tickets()[0];
    assert_eq!(
        t["assignee"],
        alice.as_str(),
        "the first agent to answer takes the ticket"
    );
    assert!(t["sla"]["first_response_at"].is_string());
    // Jane answers the answer: it joins the ticket, and only Alice (the assignee) is told.
    let answer_id = header(&answer, "Message-ID").unwrap();
    let answer_reply_to = address_in(&header(&answer, "Reply-To").unwrap());
    let customer = s.addr("customer");
    s.env.send(
        &customer,
        &[&answer_reply_to],
        &mail(
            &customer,
            &answer_reply_to,
            "Re: [#1] Printer shows E42",
            &format!("c2-{}@client.example", s.tag),
            &format!("In-Reply-To: {answer_id}\r\n"),
            "Thanks, that worked.",
        ),
    );
    s.wait_for("the customer's second message", WAIT, || {
        (s.tickets()[0]["messages"].as_u64().unwrap() >= 7).then_some(())
    });
    let alice_mail = s.env.wait_delivered(&s.user("alice"), 2, WAIT);
    assert_eq!(alice_mail.len(), 2, "alice is told of the follow-up");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        s.env.delivered(&s.user("bob")).len(),
        1,
        "bob is not: the ticket is alice's"
    );
    assert_eq!(
        s.env.delivered(&s.user("customer")).len(),
        2,
        "no acknowledgement of a reply"
    );
}

fn notes_stay_inside_and_commands_act(db: Db) {
    let s = setup("commands", db);
    let _d = s.start();
    let (note, _) = customer_writes(&s, None);
    alice_replies(
        &s,
        &note,
        "#note\r\nShe is on the old firmware, check with Bob.",
        "",
    );
    // Bob gets the note; the customer gets nothing but her acknowledgement.
    let bob_note = find_with(&s, "bob", "Printer shows E42", "added an internal note");
    assert!(String::from_utf8_lossy(&bob_note).contains("old firmware"));
    // Alice gets a receipt.
    let receipt = find_with(&s, "alice", "Done", "internal note");
    assert_eq!(
        header(&receipt, "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );

    // A typo: nothing to the customer, and the receipt suggests the command.
    alice_replies(&s, &note, "#clsoe\r\nAll fixed now.", "");
    find_with(&s, "alice", "Not all understood", "did you mean #close?");

    alice_replies(&s, &note, "#close", "");
    s.wait_for("the ticket closed", WAIT, || {
        (s.tickets()[0]["status"] == "closed").then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        s.env.delivered(&s.user("customer")).len(),
        1,
        "only the acknowledgement reached the customer"
    );
}

fn agent_powers_need_proof(db: Db) {
    let s = setup("proof", db);
    let _d = s.start();
    let (note, customer_id) = customer_writes(&s, None);
    let alice = s.addr("alice");
    // 1. From alice, straight to support, no token: treated as a customer's mail.
    s.env.send(
        &alice,
        &[&s.support_address()],
        &mail(
            &alice,
            &s.support_address(),
            "Re: Printer shows E42",
            &format!("x1-{}@agent.example", s.tag),
            &format!("In-Reply-To: <{customer_id}>\r\n"),
            "#close\r\nI close this.",
        ),
    );
    // 2. From alice, to bob's token address: not alice's token, no powers either.
    let bob_note = find(&s, "bob", "Printer shows E42");
    let bob_token = address_in(&header(&bob_note, "Reply-To").unwrap());
    s.env.send(
        &alice,
        &[&bob_token],
        &mail(
            &alice,
            &bob_token,
            "Re: [#1] Printer shows E42",
            &format!("x2-{}@agent.example", s.tag),
            "",
            "#close\r\nClosing with Bob's token.",
        ),
    );
    // Neither is the customer's mail nor the agent's: both are set aside,
    // and Alice (the real owner of the address) is told why, twice.
    let told = s.wait_for("alice told twice", WAIT, || {
        let got: Vec<String> = s
            .env
            .delivered(&s.user("alice"))
            .iter()
            .map(|m| {
                String::from_utf8_lossy(m)
                    .replace("=\r\n", "")
                    .replace("\r\n", " ")
            })
            .filter(|m| m.contains("Nothing done"))
            .collect();
        (got.len() == 2).then_some(got)
    });
    assert!(told.iter().all(|m| m.contains("it is yours")), "{told:#?}");
    assert!(
        told.iter().any(|m| m.contains("did not prove")),
        "{told:#?}"
    );
    assert!(told.iter().any(|m| m.contains("we sent to")), "{told:#?}");
    let t = &s.tickets()[0];
    assert_eq!(t["status"], "open", "no agent powers without proof");
    let n = t["number"].as_i64().unwrap().to_string();
    let show = s.json(&["tickets", "show", &n, "--json"]);
    let ids = show["message_ids"].to_string();
    assert!(
        !ids.contains("x1-") && !ids.contains("x2-"),
        "the set-aside mail is not on the ticket: {ids}"
    );
    // And with her own token the same command works.
    alice_replies(&s, &note, "#close", "");
    s.wait_for("the ticket closed", WAIT, || {
        (s.tickets()[0]["status"] == "closed").then_some(())
    });
    assert!(
        s.env
            .delivered(&s.user("customer"))
            .iter()
            .all(|m| !String::from_utf8_lossy(m).contains("I close this"))
    );
}

fn direct_replies_are_recorded_not_relayed(db: Db) {
    let s = setup("direct", db);
    let _d = s.start();
    let (_, customer_id) = customer_writes(&s, None);
    let alice = s.addr("alice");
    let customer = s.addr("customer");
    // Alice answers Jane herself, support in Cc; our MTA vouches for her domain.
    let raw = mail(
        &format!("Alice <{alice}>"),
        &customer,
        "Re: Printer shows E42",
        &format!("d1-{}@agent.example", s.tag),
        &format!(
            "Cc: {}\r\nIn-Reply-To: <{customer_id}>\r\nAuthentication-Results: mx.postdesk.test; dkim=pass header.d=example.test\r\n",
            s.support_address()
        ),
        "Hi Jane, I called you and we fixed it.",
    );
    s.env.send(&alice, &[&customer, &s.support_address()], &raw);
    s.wait_for("the direct answer recorded", WAIT, || {
        let t = &s.tickets()[0];
        t["sla"]["first_response_at"].is_string().then_some(())
    });
    assert_eq!(s.tickets()[0]["assignee"], alice.as_str());
    std::thread::sleep(Duration::from_secs(1));
    // Jane has the acknowledgement and Alice's own mail: nothing relayed a second time.
    assert_eq!(s.env.delivered(&s.user("customer")).len(), 2);
}

fn a_vacation_reply_to_a_relayed_answer_ends_the_loop(db: Db) {
    let s = setup("vacation", db);
    s.env.vacation(&s.user("customer"));
    let _d = s.start();
    let (note, _) = customer_writes(&s, None);
    // Our acknowledgement carries Auto-Submitted: the responder stays quiet.
    s.wait_for("the acknowledgement sent", WAIT, || {
        s.outbox()
            .iter()
            .any(|o| o["kind"] == "ack" && o["status"] == "sent")
            .then_some(())
    });
    // Alice answers: a human message, so the responder does answer it.
    alice_replies(&s, &note, "Hi Jane, please restart the printer.", "");
    s.wait_for("the out-of-office reply stored on the ticket", WAIT, || {
        let n = s.tickets()[0]["number"].as_i64().unwrap().to_string();
        let show = s.json(&["tickets", "show", &n, "--json"]);
        show["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["kind"] == "autoreply")
            .then_some(())
    });
    let before = s.outbox().len();
    let first_response = s.tickets()[0]["sla"]["first_response_at"].clone();
    std::thread::sleep(Duration::from_secs(3));
    // Nothing went out in return: no acknowledgement, no notification, no clock moved.
    let after = s.outbox();
    assert_eq!(
        after.len(),
        before,
        "postdesk answered the auto-reply: {after:#?}"
    );
    assert_eq!(s.tickets()[0]["sla"]["first_response_at"], first_response);
    assert_eq!(s.tickets()[0]["status"], "open");
    // The customer has exactly our two mails; support got exactly one auto-reply.
    assert_eq!(s.env.delivered(&s.user("customer")).len(), 2);
    let n = s.tickets()[0]["number"].as_i64().unwrap().to_string();
    let show = s.json(&["tickets", "show", &n, "--json"]);
    let autoreplies = show["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "autoreply")
        .count();
    assert_eq!(autoreplies, 1);
}

fn a_resolved_ticket_asks_once_for_a_rating_and_keeps_the_last_answer(db: Db) {
    let s = setup_with("survey", db, "survey = true\nclosing_mail = true");
    let _d = s.start();
    let (note, _) = customer_writes(&s, None);
    alice_replies(
        &s,
        &note,
        "#resolve\r\nThe firmware is updated; it works now.",
        "",
    );
    // The customer gets the acknowledgement and one mail: the answer, the
    // closing note and the survey's question together.
    let survey = find_with(&s, "customer", "Printer shows E42", "from 1 to 5");
    let text = String::from_utf8_lossy(&survey).replace("=\r\n", "");
    assert!(text.contains("The firmware is updated"), "{text}");
    assert!(text.contains("as solved"), "{text}");
    assert_eq!(
        header(&survey, "Auto-Submitted"),
        None,
        "it carries a person's answer"
    );
    let reply_to = address_in(&header(&survey, "Reply-To").unwrap());
    let customer = s.addr("customer");
    let answer = |n: usize, text: &str| {
        let raw = format!(
            "From: Jane Doe <{customer}>\r\nTo: {reply_to}\r\nSubject: Re: {}\r\nMessage-ID: <r{n}-{}@client.example>\r\n\
             In-Reply-To: {}\r\n\r\n{text}\r\n\r\nOn Thu, 26 Nov 2026, Test Support wrote:\r\n> How happy are you?\r\n",
            header(&survey, "Subject").unwrap(),
            s.tag,
            header(&survey, "Message-ID").unwrap(),
        );
        s.env.send(&customer, &[&reply_to], raw.as_bytes());
    };
    let rating = || {
        let n = s.tickets()[0]["number"].as_i64().unwrap();
        s.json(&["tickets", "show", &n.to_string(), "--json"])
    };
    answer(1, "4");
    let shown = s.wait_for("the rating", WAIT, || {
        let t = rating();
        (t["rating"] == 4).then_some(t)
    });
    assert_eq!(
        shown["status"], "resolved",
        "a rating never reopens the ticket"
    );
    answer(2, "5 stars!");
    s.wait_for("the second answer", WAIT, || {
        (rating()["rating"] == 5).then_some(())
    });
    // Closing the resolved ticket asks nothing again, and no answer was acknowledged.
    alice_replies(&s, &note, "#close", "");
    s.wait_for("the ticket closed", WAIT, || {
        (rating()["status"] == "closed").then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        s.env.delivered(&s.user("customer")).len(),
        2,
        "ack, and the answer with closing note and survey; closing a resolved ticket says nothing more"
    );
    let t = rating();
    let events: Vec<&str> = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["what"].as_str())
        .collect();
    assert_eq!(
        events.iter().filter(|e| **e == "survey queued").count(),
        1,
        "{events:?}"
    );
    assert_eq!(
        events.iter().filter(|e| **e == "rated").count(),
        2,
        "{events:?}"
    );
    assert!(
        t["messages"].as_array().unwrap().len() >= 5,
        "the answers are kept on the ticket"
    );
}

fn the_survey_link_asks_before_it_records(db: Db) {
    let port = free_port();
    let s = setup_with("surveylink", db, "survey = true");
    // [http] goes at the end of the file, after every mailbox and agent table.
    let text = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(
        &s.config,
        format!("{text}\n[http]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"https://help.example.test/pd/\"\n"),
    )
    .unwrap();
    let _d = s.start();
    let (note, _) = customer_writes(&s, None);
    alice_replies(&s, &note, "#resolve", "");
    let survey = find_with(&s, "customer", "How did we do?", "one click");
    let text = String::from_utf8_lossy(&survey).replace("=\r\n", "");
    let link = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("4: "))
        .unwrap_or_else(|| panic!("no link for 4 in\n{text}"))
        .to_string();
    let path = link
        .strip_prefix("https://help.example.test/pd")
        .expect("the public address")
        .to_string();
    assert!(path.starts_with("/rate/") && path.ends_with("/4"), "{path}");
    let number = s.tickets()[0]["number"].as_i64().unwrap();
    let show = || s.json(&["tickets", "show", &number.to_string(), "--json"]);
    // Opening the link (as a mail scanner would) records nothing.
    let (code, head, page) = http_full(port, "GET", &path).unwrap();
    assert_eq!(code, 200);
    // The page is never framed, cached, or told to a next site.
    for h in [
        "x-frame-options: deny",
        "frame-ancestors 'none'",
        "referrer-policy: no-referrer",
        "cache-control: no-store",
    ] {
        assert!(head.contains(h), "{h} missing from\n{head}");
    }
    assert!(
        page.contains("<form method=\"post\">") && page.contains("4 of 5"),
        "{page}"
    );
    assert_eq!(show()["rating"], serde_json::Value::Null);
    // The button does.
    let (code, page) = http_post(port, &path).unwrap();
    assert_eq!(code, 200, "{page}");
    assert_eq!(show()["rating"], 4);
    let two = format!("{}/2", path.trim_end_matches("/4"));
    assert_eq!(http_post(port, &two).unwrap().0, 200);
    assert_eq!(show()["rating"], 2, "the last answer counts");
    // A forged token, or a number out of range, does nothing.
    let forged = format!("/rate/{number}r-aaaaaaaaaaaaaaaa/5");
    assert_eq!(http_post(port, &forged).unwrap().0, 404);
    // The link has its own token: the customer's reply token, which every
    // mail she got shows (and her Cc saw), does not rate.
    let reply_token = address_in(&header(&survey, "Reply-To").unwrap());
    let reply_token = reply_token.split(['+', '@']).nth(1).unwrap().to_string();
    assert_ne!(format!("/rate/{reply_token}/4"), path);
    assert_eq!(
        http_post(port, &format!("/rate/{reply_token}/1"))
            .unwrap()
            .0,
        404
    );
    let nine = format!("{}/9", path.trim_end_matches("/4"));
    assert_eq!(http_post(port, &nine).unwrap().0, 404);
    assert_eq!(show()["rating"], 2);
    assert_eq!(show()["status"], "resolved");
}
