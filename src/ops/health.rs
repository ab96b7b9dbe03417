//! What `/healthz` answers. Each IMAP mailbox task reports here how its
//! connection goes; [`assess`] turns that and the database's answer into a
//! verdict: healthy when every mailbox this instance fetches has fetched
//! successfully within three poll intervals (a mailbox held by another
//! instance is that instance's business) and the database answers. A
//! mailbox whose `after_ingest` the server refuses still fetches new mail:
//! it is *degraded* (status 200, `"status": "degraded"`, with the server's
//! words), not unhealthy.

use crate::config::MailboxConfig;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// How many poll intervals without a successful fetch make a mailbox unhealthy.
pub const MISSED_POLLS: i32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImapState {
    /// Not connected yet since start.
    Starting,
    Connected,
    /// The connection failed; the task is waiting to reconnect.
    Disconnected,
    /// Another instance holds the mailbox's lease.
    Standby,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxHealth {
    pub state: ImapState,
    /// The end of the last fetch that found the folder and took what was new.
    pub last_fetch: Option<Timestamp>,
    pub last_error: Option<String>,
    /// Why `after_ingest` does not work now (the server's words), if it does not.
    pub after_ingest_error: Option<String>,
    #[serde(skip)]
    pub poll_interval: SignedDuration,
    /// Since when this instance has been responsible for the mailbox: the
    /// start, or the reload that added it. Silence counts from here until
    /// the first fetch.
    #[serde(skip)]
    pub watched_since: Timestamp,
}

/// The mailboxes' state, shared by their tasks and the HTTP listener.
#[derive(Debug)]
pub struct Health {
    mailboxes: Mutex<BTreeMap<String, MailboxHealth>>,
    /// OAuth2 accounts that need an admin, with why.
    oauth: Mutex<BTreeMap<String, String>>,
}

impl Health {
    /// Knows every IMAP mailbox of `mailboxes` from the start.
    pub fn new(started: Timestamp, mailboxes: &[MailboxConfig]) -> Health {
        let health = Health {
            mailboxes: Mutex::new(BTreeMap::new()),
            oauth: Mutex::new(BTreeMap::new()),
        };
        health.set_mailboxes(mailboxes, started);
        health
    }

    /// At start and after a reload: mailboxes that stay keep their state, new
    /// ones start afresh (silence counted from `now`), removed ones are forgotten.
    pub fn set_mailboxes(&self, mailboxes: &[MailboxConfig], now: Timestamp) {
        let mut map = self.mailboxes.lock().expect("health lock");
        let old = std::mem::take(&mut *map);
        for m in mailboxes.iter().filter(|m| m.imap.is_some()) {
            let h = match old.get(&m.name) {
                Some(h) => MailboxHealth {
                    poll_interval: m.poll_interval,
                    ..h.clone()
                },
                None => MailboxHealth {
                    state: ImapState::Starting,
                    last_fetch: None,
                    last_error: None,
                    after_ingest_error: None,
                    poll_interval: m.poll_interval,
                    watched_since: now,
                },
            };
            map.insert(m.name.clone(), h);
        }
    }

    fn update(&self, mailbox: &str, f: impl FnOnce(&mut MailboxHealth)) {
        let mut map = self.mailboxes.lock().expect("health lock");
        if let Some(h) = map.get_mut(mailbox) {
            f(h);
        }
    }

    pub fn connected(&self, mailbox: &str) {
        self.update(mailbox, |h| h.state = ImapState::Connected);
    }

    /// A fetch went through: the folder was read and everything new stored.
    pub fn fetched(&self, mailbox: &str, at: Timestamp) {
        self.update(mailbox, |h| {
            h.state = ImapState::Connected;
            h.last_fetch = Some(at);
            h.last_error = None;
        });
    }

    pub fn failed(&self, mailbox: &str, error: String) {
        self.update(mailbox, |h| {
            h.state = ImapState::Disconnected;
            h.last_error = Some(error);
        });
    }

    /// The server refused the after-ingest action: new mail still flows.
    pub fn after_ingest_failed(&self, mailbox: &str, why: String) {
        self.update(mailbox, |h| h.after_ingest_error = Some(why));
    }

    pub fn after_ingest_ok(&self, mailbox: &str) {
        self.update(mailbox, |h| h.after_ingest_error = None);
    }

    pub fn standby(&self, mailbox: &str) {
        self.update(mailbox, |h| h.state = ImapState::Standby);
    }

    pub fn snapshot(&self) -> BTreeMap<String, MailboxHealth> {
        self.mailboxes.lock().expect("health lock").clone()
    }

    /// An OAuth2 account that cannot be used until an admin acts.
    pub fn oauth_failed(&self, account: &str, why: String) {
        self.oauth
            .lock()
            .expect("health lock")
            .insert(account.to_string(), why);
    }

    pub fn oauth_ok(&self, account: &str) {
        self.oauth.lock().expect("health lock").remove(account);
    }

    /// After a reload: forgets accounts no longer configured.
    pub fn keep_accounts(&self, configured: impl Fn(&str) -> bool) {
        self.oauth
            .lock()
            .expect("health lock")
            .retain(|name, _| configured(name));
    }

    /// The failed OAuth2 accounts, with why.
    pub fn oauth_snapshot(&self) -> BTreeMap<String, String> {
        self.oauth.lock().expect("health lock").clone()
    }
}

/// The body of `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// "ok", "degraded" (working, but something needs an admin) or "unhealthy".
    pub status: &'static str,
    /// "ok", or why the database did not answer.
    pub database: String,
    pub mailboxes: BTreeMap<String, MailboxHealth>,
    /// OAuth2 accounts that do not work, with why (absent when all do).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub oauth: BTreeMap<String, String>,
    /// Why it is unhealthy, one line per reason; empty when healthy.
    pub problems: Vec<String>,
    /// What is degraded, one line per reason.
    pub warnings: Vec<String>,
}

impl Verdict {
    pub fn healthy(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The verdict at `now`. Pure: the caller asks the database and the clock.
pub fn assess(
    mailboxes: BTreeMap<String, MailboxHealth>,
    oauth: BTreeMap<String, String>,
    now: Timestamp,
    database: Result<(), String>,
) -> Verdict {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    if let Err(e) = &database {
        problems.push(format!("database: {e}"));
    }
    for why in oauth.values() {
        problems.push(why.clone());
    }
    for (name, h) in &mailboxes {
        if h.state == ImapState::Standby {
            continue;
        }
        if let Some(e) = &h.after_ingest_error {
            warnings.push(format!("mailbox {name}: {e}"));
        }
        let limit = h.poll_interval * MISSED_POLLS;
        let since = h.last_fetch.unwrap_or(h.watched_since);
        let quiet = now.duration_since(since);
        if quiet > limit {
            let what = match h.last_fetch {
                Some(_) => format!(
                    "no successful fetch for {}",
                    crate::domain::fmt_duration(quiet)
                ),
                None => format!(
                    "no successful fetch since it started {} ago",
                    crate::domain::fmt_duration(quiet)
                ),
            };
            let why = h
                .last_error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            problems.push(format!(
                "mailbox {name}: {what} (limit {}){why}",
                crate::domain::fmt_duration(limit)
            ));
        }
    }
    Verdict {
        status: match (problems.is_empty(), warnings.is_empty()) {
            (false, _) => "unhealthy",
            (true, false) => "degraded",
            (true, true) => "ok",
        },
        database: database.err().unwrap_or_else(|| "ok".into()),
        mailboxes,
        oauth,
        problems,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn mailbox(state: ImapState, last: Option<&str>) -> BTreeMap<String, MailboxHealth> {
        BTreeMap::from([(
            "support".to_string(),
            MailboxHealth {
                state,
                last_fetch: last.map(t),
                last_error: Some("connection refused".into()),
                after_ingest_error: None,
                poll_interval: SignedDuration::from_secs(60),
                watched_since: t(START),
            },
        )])
    }

    const START: &str = "2026-11-26T10:00:00Z";

    #[test]
    fn a_recent_fetch_is_healthy() {
        let v = assess(
            mailbox(ImapState::Connected, Some("2026-11-26T10:05:00Z")),
            BTreeMap::new(),
            t("2026-11-26T10:07:59Z"),
            Ok(()),
        );
        assert!(v.healthy(), "{v:?}");
        assert_eq!(v.status, "ok");
    }

    #[test]
    fn three_missed_polls_are_unhealthy_and_say_why() {
        let v = assess(
            mailbox(ImapState::Disconnected, Some("2026-11-26T10:05:00Z")),
            BTreeMap::new(),
            t("2026-11-26T10:08:01Z"),
            Ok(()),
        );
        assert!(!v.healthy());
        assert_eq!(v.status, "unhealthy");
        assert_eq!(v.problems.len(), 1);
        assert!(
            v.problems[0].starts_with("mailbox support: no successful fetch for 3m"),
            "{v:?}"
        );
        assert!(v.problems[0].ends_with(": connection refused"), "{v:?}");
    }

    #[test]
    fn a_new_daemon_gets_three_polls_to_connect() {
        let fresh = assess(
            mailbox(ImapState::Starting, None),
            BTreeMap::new(),
            t("2026-11-26T10:02:00Z"),
            Ok(()),
        );
        assert!(fresh.healthy());
        let stuck = assess(
            mailbox(ImapState::Starting, None),
            BTreeMap::new(),
            t("2026-11-26T10:03:01Z"),
            Ok(()),
        );
        assert!(!stuck.healthy());
        assert!(stuck.problems[0].contains("since it started"), "{stuck:?}");
    }

    #[test]
    fn a_mailbox_held_elsewhere_is_not_ours_to_judge() {
        let v = assess(
            mailbox(ImapState::Standby, None),
            BTreeMap::new(),
            t("2026-11-27T10:00:00Z"),
            Ok(()),
        );
        assert!(v.healthy());
    }

    #[test]
    fn a_refused_after_ingest_action_degrades_but_stays_healthy() {
        let mut m = mailbox(ImapState::Connected, Some("2026-11-26T10:05:00Z"));
        m.get_mut("support").unwrap().after_ingest_error =
            Some("folder Processed: cannot create it: Permission denied".into());
        let v = assess(m, BTreeMap::new(), t("2026-11-26T10:06:00Z"), Ok(()));
        assert!(v.healthy());
        assert_eq!(v.status, "degraded");
        assert_eq!(
            v.warnings,
            vec![
                "mailbox support: folder Processed: cannot create it: Permission denied"
                    .to_string()
            ]
        );
    }

    #[test]
    fn a_silent_database_is_unhealthy() {
        let v = assess(
            BTreeMap::new(),
            BTreeMap::new(),
            t(START),
            Err("timed out after 2s".into()),
        );
        assert!(!v.healthy());
        assert_eq!(v.database, "timed out after 2s");
        assert_eq!(v.problems, vec!["database: timed out after 2s".to_string()]);
    }

    #[test]
    fn a_failed_oauth_account_is_unhealthy_and_named() {
        let v = assess(
            mailbox(ImapState::Connected, Some("2026-11-26T10:05:00Z")),
            BTreeMap::from([(
                "acme".to_string(),
                "OAuth2 account acme: the provider refused to refresh the token (invalid_grant)"
                    .to_string(),
            )]),
            t("2026-11-26T10:06:00Z"),
            Ok(()),
        );
        assert!(!v.healthy());
        assert_eq!(v.status, "unhealthy");
        assert!(v.problems[0].starts_with("OAuth2 account acme:"), "{v:?}");
        assert!(v.oauth.contains_key("acme"));
    }

    #[test]
    fn an_account_removed_by_a_reload_no_longer_counts() {
        let h = Health::new(t(START), &[]);
        h.oauth_failed("acme", "OAuth2 account acme: refused".into());
        h.oauth_failed("globex", "OAuth2 account globex: refused".into());
        h.keep_accounts(|n| n == "globex");
        assert_eq!(
            h.oauth_snapshot().into_keys().collect::<Vec<_>>(),
            vec!["globex"]
        );
        h.oauth_ok("globex");
        assert!(assess(BTreeMap::new(), h.oauth_snapshot(), t(START), Ok(())).healthy());
    }
}
