//! `[limits]` (how much automatic mail may go out) and `[spam]` (how the
//! MTA's spam verdict is read).

use super::reader::Node;
use crate::domain::classify::SpamRule;
use crate::domain::decide::Limits;
use jiff::SignedDuration;

/// How spam is recognised besides an agent's `#spam`.
#[derive(Debug, Clone)]
pub struct SpamConfig {
    /// Verdict headers: the built-in ones (SpamAssassin, rspamd) unless
    /// `builtin = false`, then those of `verdict_headers`.
    pub rules: Vec<SpamRule>,
    /// A DMARC `fail` in a trusted Authentication-Results makes mail spam.
    pub dmarc_fail: bool,
}

impl PartialEq for SpamConfig {
    fn eq(&self, other: &Self) -> bool {
        self.dmarc_fail == other.dmarc_fail
            && self.rules.len() == other.rules.len()
            && self
                .rules
                .iter()
                .zip(&other.rules)
                .all(|(a, b)| a.header == b.header && a.pattern.as_str() == b.pattern.as_str())
    }
}

impl Eq for SpamConfig {}

impl Default for SpamConfig {
    fn default() -> Self {
        SpamConfig {
            rules: SpamRule::builtin(),
            dmarc_fail: true,
        }
    }
}

pub(super) fn read_limits(n: Option<&Node<'_>>) -> Option<Limits> {
    let mut l = Limits::default();
    let Some(n) = n else { return Some(l) };
    let count = |key: &str, into: &mut u32| {
        if let Some(v) = n.opt_int(key, 0, 1_000_000) {
            *into = v as u32;
        }
    };
    count("acks_per_hour", &mut l.acks_per_hour);
    count("auto_per_recipient", &mut l.auto_per_recipient);
    count("auto_per_ticket", &mut l.auto_per_ticket);
    count("auto_per_mailbox_hour", &mut l.auto_per_mailbox_hour);
    let window = |key: &str, into: &mut SignedDuration| {
        if let Some(d) = n.opt_duration(key) {
            *into = d;
        }
    };
    window("auto_recipient_window", &mut l.auto_recipient_window);
    window("auto_ticket_window", &mut l.auto_ticket_window);
    window("bounce_suppression", &mut l.bounce_suppression);
    window("digest_after", &mut l.digest_after);
    if l.digest_after < SignedDuration::from_secs(1) {
        n.problem("digest_after", "expected at least 1s");
    }
    if let Some(v) = n.opt_int("max_message_size", 1024, i64::MAX) {
        l.max_message_size = v as u64;
    }
    n.finish();
    Some(l)
}

pub(super) fn read_spam(n: Option<&Node<'_>>) -> Option<SpamConfig> {
    let mut s = SpamConfig::default();
    let Some(n) = n else { return Some(s) };
    if n.opt_bool("builtin") == Some(false) {
        s.rules.clear();
    }
    if let Some(b) = n.opt_bool("dmarc_fail") {
        s.dmarc_fail = b;
    }
    for h in n.tables("verdict_headers") {
        let header = h.req_str("header");
        let pattern = h.req_str("pattern");
        h.finish();
        let (Some(header), Some(pattern)) = (header, pattern) else {
            continue;
        };
        if header.contains(|c: char| c == ':' || c.is_whitespace()) {
            h.problem(
                "header",
                format!("expected a header name like \"X-Spam-Flag\", got {header:?}"),
            );
            continue;
        }
        match SpamRule::new(&header, &pattern) {
            Ok(rule) => s.rules.push(rule),
            Err(e) => h.problem(
                "pattern",
                format!("expected a regular expression, got {pattern:?}: {e}"),
            ),
        }
    }
    n.finish();
    Some(s)
}
