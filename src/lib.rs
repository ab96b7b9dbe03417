//! postdesk turns support mailboxes into tickets.
//!
//! # The flow
//! ```text
//! IMAP (IDLE/poll)  imap/   ─┐
//! stdin / MTA pipe  cli/     ┴─> ingest/: domain::parse → classify → thread → decide
//!                                   one transaction (store/): message + ticket + events + outbox rows
//!                                   after commit: IMAP flag/move (imap/)
//! outbox.rs ── smtp.rs (lettre, retry with backoff) ──> customers, agents
//! scheduler/ ── wakes at the next SLA notice ──> warning / escalation rows into the outbox
//! ```
//!
//! # Layout
//! - [`domain`]: the pure core (parsing, classification, threading,
//!   decisions, the kinds of event a ticket records, tokens, composing
//!   mail, retry schedules). No I/O; time is an argument.
//! - [`config`]: the TOML file, checked key by key, all problems at once.
//! - [`store`]: the database (SQLite or PostgreSQL) in domain terms.
//! - [`ingest`]: one message from bytes to a committed transaction; a run
//!   of messages in group commits.
//! - [`imap`]: the mailbox tasks. [`outbox`] + [`smtp`]: sending.
//! - [`scheduler`]: SLA warnings and escalations when they fall due.
//! - [`templates`]: the mail templates. [`tls`]: TLS settings for both protocols;
//!   [`net`]: opening their connections (TCP without Nagle, TLS).
//! - [`daemon`]: starts the tasks and stops them. [`cli`]: the commands.
//! - [`instance`]: who this process is among instances sharing a database.
//! - [`ops`]: health verdicts, metrics, the HTTP listener, systemd.
//! - [`ratings`]: satisfaction ratings, by mail or by the survey's link.
//! - [`retention`]: how long personal data is kept, run once a day.
//! - [`clock`]: the only place that reads the wall clock.
//! - [`advice`]: what to tell an admin when a mail server cannot be reached.
//! - [`oauth`]: OAuth2 accounts: sign-in, tokens sealed in the database,
//!   refreshed by one instance at a time; the SASL mechanisms that carry them.

pub mod advice;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod domain;
pub mod imap;
pub mod ingest;
pub mod instance;
pub mod net;
pub mod oauth;
pub mod ops;
pub mod outbox;
pub mod ratings;
pub mod retention;
pub mod scheduler;
pub mod smtp;
pub mod store;
pub mod templates;
pub mod tls;

use std::time::Duration;

/// Exponential backoff with full jitter: a random wait in
/// `[base·2^(n-1) / 2, base·2^(n-1)]`, capped at `max`.
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let exp = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
        .min(max);
    let mut b = [0u8; 4];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    let frac = f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX);
    exp.mul_f64(0.5 + frac / 2.0)
}

/// An error and its causes, on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let c_s = c.to_string();
        if !s.contains(&c_s) {
            s.push_str(": ");
            s.push_str(&c_s);
        }
        src = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let b = Duration::from_secs(1);
        let m = Duration::from_secs(60);
        for attempt in 1..30 {
            let d = backoff(attempt, b, m);
            let ceiling = b.saturating_mul(1 << (attempt - 1).min(20)).min(m);
            assert!(d <= ceiling && d >= ceiling / 2, "{attempt}: {d:?}");
        }
    }
}
