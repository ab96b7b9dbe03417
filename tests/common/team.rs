//! A support team for end-to-end tests of the agents' workflow: a mailbox
//! with agents Alice (Europe/Athens) and Bob (Europe/Warsaw), a customer
//! who writes, and agents who answer the way mail clients compose replies.

use super::*;
use std::time::Duration;

pub const WAIT: Duration = Duration::from_secs(30);

/// A setup with agents alice and bob.
pub fn setup(name: &str, db: Db) -> Setup {
    setup_with(name, db, "")
}

/// As [`setup`], with more keys for the mailbox.
pub fn setup_with(name: &str, db: Db, mailbox_keys: &str) -> Setup {
    team(name, db, mailbox_keys, "")
}

/// As [`setup_with`], with more keys in both agents' `[[agent]]` tables.
pub fn team(name: &str, db: Db, mailbox_keys: &str, agent_keys: &str) -> Setup {
    let tag = format!("{name}-{}", run_tag());
    let (alice, bob) = (
        format!("alice-{tag}@example.test"),
        format!("bob-{tag}@example.test"),
    );
    let extra = format!(
        "agents = [\"{alice}\", \"{bob}\"]\ncc_agents_on_replies = false\n{mailbox_keys}\n\
         [[agent]]\nemail = \"{alice}\"\nname = \"Alice\"\ntimezone = \"Europe/Athens\"\n{agent_keys}\n\
         [[agent]]\nemail = \"{bob}\"\nname = \"Bob\"\ntimezone = \"Europe/Warsaw\"\n{agent_keys}\n\
         [auth]\ntrusted_authserv_ids = [\"mx.postdesk.test\"]\n"
    );
    Setup::with_tag(
        tag,
        Options {
            extra,
            db,
            ..Options::default()
        },
    )
}

/// A delivered mail as a reader sees it: quoted-printable soft breaks
/// joined, the body decoded.
pub fn readable(raw: &[u8]) -> String {
    let parsed = postdesk::domain::parse::parse(raw);
    format!(
        "Subject: {}\n{}",
        parsed.subject,
        String::from_utf8_lossy(raw)
            .replace("=\r\n", "")
            .replace("=\n", "")
            + "\n"
            + &parsed.text
    )
}

/// The decoded text of a mail's body.
pub fn body_of(raw: &[u8]) -> String {
    postdesk::domain::parse::parse(raw).text
}

/// Every mail in `user`'s inbox that `pick` accepts (read with [`readable`]).
pub fn mails_where(s: &Setup, user: &str, pick: impl Fn(&str) -> bool) -> Vec<Vec<u8>> {
    s.env
        .delivered(&s.user(user))
        .into_iter()
        .filter(|m| pick(&readable(m)))
        .collect()
}

/// Waits for a mail in `user`'s inbox that `pick` accepts; returns it.
pub fn wait_mail(s: &Setup, user: &str, what: &str, pick: impl Fn(&str) -> bool) -> Vec<u8> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(m) = mails_where(s, user, &pick).into_iter().next() {
            return m;
        }
        if std::time::Instant::now() > deadline {
            let all: Vec<String> = s
                .env
                .delivered(&s.user(user))
                .iter()
                .map(|m| readable(m))
                .collect();
            let log = std::fs::read_to_string(s.dir.path().join("daemon.log")).unwrap_or_default();
            panic!(
                "no mail for {user}: {what}\n--- their mail ---\n{all:#?}\n--- daemon log ---\n{log}"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A message in `user`'s inbox whose subject contains `subject` and whose
/// text contains `text`.
pub fn find_with(s: &Setup, user: &str, subject: &str, text: &str) -> Vec<u8> {
    let what = format!("subject {subject:?} and text {text:?}");
    wait_mail(s, user, &what, |m| {
        m.lines().next().is_some_and(|l| l.contains(subject)) && m.contains(text)
    })
}

pub fn find(s: &Setup, user: &str, subject: &str) -> Vec<u8> {
    find_with(s, user, subject, "")
}

/// The customer writes about `subject`; returns (the notification to
/// alice, the customer's Message-ID).
pub fn customer_writes_about(s: &Setup, subject: &str, text: &str) -> (Vec<u8>, String) {
    let customer = s.addr("customer");
    let id = format!("c-{}-{}@client.example", s.tag, run_tag());
    s.env.send(
        &customer,
        &[&s.support_address()],
        &mail(
            &format!("Jane Doe <{customer}>"),
            &s.support_address(),
            subject,
            &id,
            "",
            text,
        ),
    );
    // The subject as it reads once decoded (it may be RFC 2047 encoded).
    let shown =
        postdesk::domain::parse::parse(format!("Subject: {subject}\r\n\r\n").as_bytes()).subject;
    let note = find(s, "alice", &shown);
    (note, id)
}

/// The customer writes; returns (the notification to alice, the customer's Message-ID).
pub fn customer_writes(s: &Setup, cc: Option<&str>) -> (Vec<u8>, String) {
    let customer = s.addr("customer");
    let id = format!("c1-{}@client.example", s.tag);
    let cc_header = cc.map(|c| format!("Cc: {c}\r\n")).unwrap_or_default();
    let mut rcpts = vec![s.support_address()];
    rcpts.extend(cc.map(str::to_string));
    let r: Vec<&str> = rcpts.iter().map(String::as_str).collect();
    s.env.send(
        &customer,
        &r,
        &mail(
            &format!("Jane Doe <{customer}>"),
            &s.support_address(),
            "Printer shows E42",
            &id,
            &cc_header,
            "The printer on floor 2 shows E42.",
        ),
    );
    let note = find(s, "alice", "Printer shows E42");
    (note, id)
}

/// `who` answers `to_mail` with `body` (the whole text, quote included, as
/// their client composed it) and `extra_headers`; returns the Message-ID.
pub fn answer_with(
    s: &Setup,
    who: &str,
    to_mail: &[u8],
    extra_headers: &str,
    body: &str,
) -> String {
    let from = s.addr(who);
    let reply_to = address_in(&header(to_mail, "Reply-To").unwrap());
    let parent = header(to_mail, "Message-ID").unwrap();
    let subject = header(to_mail, "Subject").unwrap();
    let id = format!("{who}-{}@agent.example", run_tag());
    let raw = format!(
        "From: {who} <{from}>\r\nTo: {reply_to}\r\nSubject: Re: {subject}\r\nMessage-ID: <{id}>\r\n\
         Date: Mon, 30 Nov 2026 12:46:00 +0000\r\nIn-Reply-To: {parent}\r\nReferences: {parent}\r\n\
         {extra_headers}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{}",
        body.replace("\r\n", "\n").replace('\n', "\r\n")
    );
    s.env.send(&from, &[&reply_to], raw.as_bytes());
    id
}

/// `to_mail`'s text quoted as mail clients do: "> " before every line.
pub fn quoted(to_mail: &[u8]) -> String {
    body_of(to_mail)
        .lines()
        .map(|l| {
            if l.is_empty() {
                ">\n".to_string()
            } else {
                format!("> {l}\n")
            }
        })
        .collect()
}

/// Alice answers a mail she received, writing above the quote (Gmail).
pub fn alice_replies(s: &Setup, to_mail: &[u8], body: &str, extra_headers: &str) {
    let reply_to = address_in(&header(to_mail, "Reply-To").unwrap());
    let text = format!(
        "{body}\n\nOn Thu, 26 Nov 2026 at 10:00, Test Support <{reply_to}> wrote:\n{}",
        quoted(to_mail)
    );
    answer_with(s, "alice", to_mail, extra_headers, &text);
}
