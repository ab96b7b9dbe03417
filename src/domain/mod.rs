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
pub mod mbox;
pub mod model;
pub mod parse;
pub mod reply;
pub mod report;
pub mod retry;
pub mod sla;
pub mod subject;
pub mod survey;
pub mod thread;
pub mod token;

use jiff::SignedDuration;

/// `1d 2h`, `24h`, `30m`, `90s`: a duration as people write it.
pub fn fmt_duration(d: SignedDuration) -> String {
    let neg = d.is_negative();
    let mut secs = d.as_secs().unsigned_abs();
    let mut parts = Vec::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            parts.push(format!("{}{unit}", secs / size));
            secs %= size;
        }
        if parts.len() == 2 {
            break;
        }
    }
    if parts.is_empty() {
        parts.push("0s".into());
    }
    let s = parts.join(" ");
    if neg { format!("-{s}") } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(fmt_duration(SignedDuration::from_hours(24)), "1d");
        assert_eq!(fmt_duration(SignedDuration::from_hours(26)), "1d 2h");
        assert_eq!(fmt_duration(SignedDuration::from_secs(90)), "1m 30s");
        assert_eq!(fmt_duration(SignedDuration::from_secs(-90)), "-1m 30s");
        assert_eq!(fmt_duration(SignedDuration::ZERO), "0s");
    }
}
