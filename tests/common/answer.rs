//! Would the daemon answer a new message? The pure pipeline (parse,
//! classify, decide) as ingest runs it, for the tests that score real mail.

use postdesk::domain::classify::{Screening, SpamRule, Us, classify};
use postdesk::domain::decide::{self, Inputs, Limits, Rules, Sent};
use postdesk::domain::parse::parse;
use postdesk::domain::thread::Threading;

/// Would a new message get an acknowledgement? The pure pipeline, as ingest runs it.
pub fn would_answer(raw: &[u8]) -> (bool, String) {
    let ours = vec!["support@example.com".to_string()];
    let mail = parse(raw);
    let spam_rules = SpamRule::builtin();
    let screening = Screening {
        spam_rules: &spam_rules,
        dmarc_fail_is_spam: true,
        ..Screening::default()
    };
    let class = classify(&mail, &Us { addresses: &ours }, &screening);
    let threading = Threading::New { notes: vec![] };
    let limits = Limits::default();
    let rules = Rules {
        limits: &limits,
        reopen_window: jiff::SignedDuration::from_hours(24 * 14),
        our_addresses: &ours,
        lists_open_tickets: false,
        verp: true,
    };
    let d = decide::decide(&Inputs {
        mail: &mail,
        class: &class,
        threading: &threading,
        ticket: None,
        received_at: "2026-11-26T10:00:00Z".parse().unwrap(),
        sent: Sent::default(),
        suppressed: None,
        proven: false,
        verp: None,
        rules: &rules,
    });
    (d.acknowledge.is_some(), class.describe())
}
