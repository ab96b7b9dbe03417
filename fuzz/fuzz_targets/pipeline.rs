//! Arbitrary bytes through the pure pipeline: parse → classify → thread →
//! decide, and an agent's reading of the same text. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postdesk::domain::classify::{Screening, SpamRule, Us, classify};
use postdesk::domain::decide::{self, Inputs, Limits, Rules, Sent, TicketView};
use postdesk::domain::model::Status;
use postdesk::domain::parse::parse;
use postdesk::domain::thread::{ThreadFacts, thread};
use postdesk::domain::{auth, reply, subject};

fuzz_target!(
    init: {
        // postdesk catches panics inside mail-parser on purpose (a message it
        // cannot parse is stored raw). libfuzzer-sys aborts in its panic hook,
        // before any catch; an uncaught panic still aborts the run.
        std::panic::set_hook(Box::new(|_| {}));
    },
    |data: &[u8]| {
    let ours = vec!["support@example.com".to_string()];
    let mail = parse(data);
    let spam_rules = SpamRule::builtin();
    let screening = Screening {
        spam_rules: &spam_rules,
        dmarc_fail_is_spam: true,
        ..Screening::default()
    };
    let class = classify(&mail, &Us { addresses: &ours }, &screening);
    // Pretend every ID the message names is stored, on ticket 1.
    let mut facts = ThreadFacts {
        use_returned_ids: true,
        ..ThreadFacts::default()
    };
    for id in mail.in_reply_to.iter().chain(&mail.references).chain(&mail.embedded_message_ids) {
        facts.known_ids.insert(id.clone(), 1);
    }
    let threading = thread(&mail, &facts);
    let view = TicketView {
        number: 1,
        status: Status::Resolved,
        updated_at: "2026-01-01T00:00:00Z".parse().unwrap(),
    };
    let limits = Limits::default();
    let rules = Rules {
        limits: &limits,
        reopen_window: jiff::SignedDuration::from_hours(24 * 14),
        our_addresses: &ours,
        lists_open_tickets: data.first().is_some_and(|b| b & 1 == 1),
        verp: data.first().is_some_and(|b| b & 2 == 2),
    };
    let _ = decide::decide(&Inputs {
        mail: &mail,
        class: &class,
        threading: &threading,
        ticket: threading.ticket().map(|_| &view),
        received_at: "2026-11-26T10:00:00Z".parse().unwrap(),
        sent: Sent::default(),
        suppressed: None,
        proven: false,
        verp: None,
        rules: &rules,
    });
    let _ = subject::normalize(&mail.subject);
    let _ = subject::find_tag(&mail.subject, "#");
    let _ = reply::read_agent_text(&mail.text);
    let _ = auth::check_agent(&mail, &ours, &[], &["mx.example.com".to_string()]);
});
