//! The pure core: no I/O crate is imported here, and every function that
//! depends on time takes it as an argument. Each stage of the flow is one
//! module: [`parse`] → [`classify`] → [`thread`] → [`decide`], plus the
//! pieces they share ([`token`], [`subject`], [`compose`], [`retry`],
//! [`calendar`]).

pub mod agent;
pub mod auth;
pub mod calendar;
pub mod classify;
pub mod compose;
pub mod dates;
pub mod decide;
pub mod erasure;
pub mod event;
pub mod files;
pub mod fold;
pub mod folders;
pub mod language;
pub mod mbox;
pub mod model;
pub mod parse;
pub mod phrase;
pub mod reply;
pub mod report;
pub mod retry;
pub mod sla;
pub mod subject;
pub mod survey;
pub mod thread;
pub mod token;
pub mod trim;

use jiff::SignedDuration;

/// The most of a customer's subject any mail of ours repeats, in characters.
pub const MAX_ECHOED_SUBJECT: usize = 200;
/// The most of a customer's text a notification to agents repeats.
pub const MAX_ECHOED_TEXT: usize = 32 * 1024;

/// `s` cut to at most `max` characters (an ellipsis marks a cut), and how
/// many characters were left out.
pub fn clip(s: &str, max: usize) -> (String, usize) {
    match s.char_indices().nth(max) {
        None => (s.to_string(), 0),
        Some((end, _)) => {
            let kept = s[..end].trim_end();
            (format!("{kept}…"), s[end..].chars().count())
        }
    }
}

/// A subject as our mail may repeat it (a stranger's 2 MB subject is not
/// echoed back to anyone).
pub fn clip_subject(s: &str) -> String {
    clip(s, MAX_ECHOED_SUBJECT).0
}

/// The two largest whole units of `d` (`[("h", 2), ("m", 10)]`), at least
/// one (`[("s", 0)]`); the sign is the caller's. Without `days`, hours are
/// the largest unit (working time: 30 working hours are not "1d 6h").
pub fn duration_parts(d: SignedDuration, days: bool) -> Vec<(&'static str, u64)> {
    let mut secs = d.as_secs().unsigned_abs();
    let mut parts = Vec::new();
    let units: &[(&str, u64)] = &[("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];
    for &(unit, size) in &units[usize::from(!days)..] {
        if secs >= size {
            parts.push((unit, secs / size));
            secs %= size;
        }
        if parts.len() == 2 {
            break;
        }
    }
    if parts.is_empty() {
        parts.push(("s", 0));
    }
    parts
}

/// `1d 2h`, `24h`, `30m`, `90s`: a duration as people write it, for logs
/// and the CLI (mail spells it per language).
pub fn fmt_duration(d: SignedDuration) -> String {
    let s: Vec<String> = duration_parts(d, true)
        .into_iter()
        .map(|(unit, n)| format!("{n}{unit}"))
        .collect();
    let s = s.join(" ");
    if d.is_negative() { format!("-{s}") } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_counts_characters_not_bytes() {
        assert_eq!(clip("short", 10), ("short".to_string(), 0));
        assert_eq!(clip("Ελληνικά κείμενα", 8), ("Ελληνικά…".to_string(), 8));
        assert_eq!(
            clip_subject(&"x".repeat(5000)).chars().count(),
            MAX_ECHOED_SUBJECT + 1
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(fmt_duration(SignedDuration::from_hours(24)), "1d");
        assert_eq!(fmt_duration(SignedDuration::from_hours(26)), "1d 2h");
        assert_eq!(fmt_duration(SignedDuration::from_secs(90)), "1m 30s");
        assert_eq!(fmt_duration(SignedDuration::from_secs(-90)), "-1m 30s");
        assert_eq!(fmt_duration(SignedDuration::ZERO), "0s");
    }
}
