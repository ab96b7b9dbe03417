//! What `postdesk report` computes, from rows the database hands over: per
//! mailbox and per agent, tickets opened and resolved, first-response time
//! (business time where a calendar applies: the first-response clock's own
//! count), SLA compliance, reopen rate, satisfaction, busiest hours, and the
//! daily series the charts draw. Pure: the window and time zones are given.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use std::collections::BTreeMap;

/// One ticket, as the report needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketRow {
    pub number: i64,
    pub mailbox: String,
    pub assignee: Option<String>,
    pub created_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    /// The first-response clock: `met`, `breached`, or still counting.
    pub first_response_state: Option<String>,
    /// Business time the first response took (the clock's count when it stopped).
    pub first_response_used: Option<SignedDuration>,
    pub reopens: i64,
    pub rating: Option<i64>,
}

/// Response-time buckets of the distribution chart, in hours (upper bounds).
pub const RESPONSE_BUCKETS: &[(&str, i64)] = &[
    ("< 1h", 1),
    ("1-4h", 4),
    ("4-8h", 8),
    ("8-24h", 24),
    ("1-3d", 72),
    ("> 3d", i64::MAX),
];

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Day {
    pub date: String,
    pub opened: u64,
    pub resolved: u64,
    /// First responses that met / breached their target, by the day the ticket opened.
    pub sla_met: u64,
    pub sla_breached: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Group {
    pub name: String,
    /// The person's or mailbox's name from the configuration, for people
    /// to read (the report's `name` stays the key: an address, a mailbox).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub opened: u64,
    pub resolved: u64,
    pub first_responses: u64,
    pub first_response_median_minutes: Option<i64>,
    pub first_response_p90_minutes: Option<i64>,
    /// Counts per [`RESPONSE_BUCKETS`] entry.
    pub first_response_distribution: Vec<u64>,
    pub sla_met: u64,
    pub sla_breached: u64,
    /// Met of met + breached, in percent; None before any clock stopped.
    pub sla_compliance_percent: Option<f64>,
    pub reopened: u64,
    /// Reopened of resolved, in percent.
    pub reopen_rate_percent: Option<f64>,
    pub ratings: u64,
    pub rating_average: Option<f64>,
    /// How many ratings of 1, 2, 3, 4 and 5.
    pub rating_distribution: [u64; 5],
    /// Customer messages by hour of the day (0-23) in the group's time zone.
    pub busiest_hours: [u64; 24],
    pub days: Vec<Day>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub since: Timestamp,
    pub until: Timestamp,
    /// Every mailbox together (days and hours in UTC).
    pub total: Group,
    pub mailboxes: Vec<Group>,
    pub agents: Vec<Group>,
}

impl Group {
    /// The name people read: the configured name, else the key.
    pub fn label(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.name)
    }

    /// Nothing happened in this group in the window.
    pub fn is_empty(&self) -> bool {
        self.opened == 0
            && self.resolved == 0
            && self.first_responses == 0
            && self.busiest_hours.iter().all(|n| *n == 0)
    }
}

fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (1000.0 * part as f64 / whole as f64).round() / 10.0)
}

/// The value at quantile `q` (nearest rank) of sorted `v`.
fn quantile(v: &[i64], q: f64) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

struct Builder<'a> {
    since: Timestamp,
    until: Timestamp,
    tz: &'a TimeZone,
    group: Group,
    minutes: Vec<i64>,
    days: BTreeMap<Date, Day>,
    /// Tickets done in the window or reopened in it: the reopen rate's base.
    done: u64,
}

impl<'a> Builder<'a> {
    fn new(name: &str, since: Timestamp, until: Timestamp, tz: &'a TimeZone) -> Self {
        let mut days = BTreeMap::new();
        let (first, last) = (
            since.to_zoned_datetime(tz.clone()).date(),
            until.to_zoned_datetime(tz.clone()).date(),
        );
        let mut d = first;
        while d <= last {
            days.insert(
                d,
                Day {
                    date: d.to_string(),
                    ..Day::default()
                },
            );
            match d.tomorrow() {
                Ok(n) => d = n,
                Err(_) => break,
            }
        }
        Builder {
            since,
            until,
            tz,
            group: Group {
                name: name.to_string(),
                first_response_distribution: vec![0; RESPONSE_BUCKETS.len()],
                ..Group::default()
            },
            minutes: Vec::new(),
            days,
            done: 0,
        }
    }

    fn within(&self, t: Timestamp) -> bool {
        t >= self.since && t <= self.until
    }

    fn day(&mut self, t: Timestamp) -> Option<&mut Day> {
        self.days
            .get_mut(&t.to_zoned_datetime(self.tz.clone()).date())
    }

    fn add(&mut self, t: &TicketRow) {
        let g = &mut self.group;
        // Reopened in the window, whatever the ticket's status now (a
        // reopened ticket is open again, so its resolution is gone).
        g.reopened += u64::from(t.reopens > 0);
        let resolved_now = t
            .resolved_at
            .filter(|r| *r >= self.since && *r <= self.until);
        // The rate's base: tickets that were done in the window, the reopened
        // ones among them whether or not they are done again.
        self.done += u64::from(resolved_now.is_some() || t.reopens > 0);
        if let Some(r) = resolved_now {
            g.resolved += 1;
            if let Some(d) = self.day(r) {
                d.resolved += 1;
            }
        }
        if let Some(r) = t.rating.filter(|r| (1..=5).contains(r)) {
            let g = &mut self.group;
            g.ratings += 1;
            g.rating_distribution[(r - 1) as usize] += 1;
        }
        if !self.within(t.created_at) {
            return;
        }
        self.group.opened += 1;
        let state = t.first_response_state.as_deref();
        if let Some(d) = self.day(t.created_at) {
            d.opened += 1;
            d.sla_met += u64::from(state == Some("met"));
            d.sla_breached += u64::from(state == Some("breached"));
        }
        let g = &mut self.group;
        match state {
            Some("met") => g.sla_met += 1,
            Some("breached") => g.sla_breached += 1,
            _ => {}
        }
        if let (Some("met" | "breached"), Some(used)) = (state, t.first_response_used) {
            let minutes = used.as_secs() / 60;
            self.minutes.push(minutes);
            let bucket = RESPONSE_BUCKETS
                .iter()
                .position(|(_, h)| used.as_secs() < h.saturating_mul(3600))
                .unwrap_or(RESPONSE_BUCKETS.len() - 1);
            self.group.first_response_distribution[bucket] += 1;
        }
    }

    fn arrival(&mut self, t: Timestamp) {
        if self.within(t) {
            let hour = t.to_zoned_datetime(self.tz.clone()).hour() as usize;
            self.group.busiest_hours[hour] += 1;
        }
    }

    fn finish(mut self) -> Group {
        self.minutes.sort_unstable();
        let g = &mut self.group;
        g.first_responses = self.minutes.len() as u64;
        g.first_response_median_minutes = quantile(&self.minutes, 0.5);
        g.first_response_p90_minutes = quantile(&self.minutes, 0.9);
        g.sla_compliance_percent = percent(g.sla_met, g.sla_met + g.sla_breached);
        g.reopen_rate_percent = percent(g.reopened, self.done);
        let sum: i64 = g
            .rating_distribution
            .iter()
            .enumerate()
            .map(|(i, n)| (i as i64 + 1) * *n as i64)
            .sum();
        g.rating_average =
            (g.ratings > 0).then(|| (100.0 * sum as f64 / g.ratings as f64).round() / 100.0);
        g.days = self.days.into_values().collect();
        self.group
    }
}

/// The report for `[since, until]`. `arrivals`: (mailbox, time) of each
/// customer message; `tz`: the time zone of a mailbox (agents use UTC).
pub fn build(
    tickets: &[TicketRow],
    arrivals: &[(String, Timestamp)],
    since: Timestamp,
    until: Timestamp,
    tz: impl Fn(&str) -> TimeZone,
) -> Report {
    let mut mailboxes: BTreeMap<String, Vec<&TicketRow>> = BTreeMap::new();
    let mut agents: BTreeMap<String, Vec<&TicketRow>> = BTreeMap::new();
    for t in tickets {
        mailboxes.entry(t.mailbox.clone()).or_default().push(t);
        if let Some(a) = &t.assignee {
            agents.entry(a.clone()).or_default().push(t);
        }
    }
    for (m, _) in arrivals {
        mailboxes.entry(m.clone()).or_default();
    }
    let mailboxes = mailboxes
        .into_iter()
        .map(|(name, rows)| {
            let zone = tz(&name);
            let mut b = Builder::new(&name, since, until, &zone);
            rows.into_iter().for_each(|t| b.add(t));
            for (_, at) in arrivals.iter().filter(|(m, _)| *m == name) {
                b.arrival(*at);
            }
            b.finish()
        })
        .collect();
    let utc = TimeZone::UTC;
    let total = {
        let mut b = Builder::new("total", since, until, &utc);
        tickets.iter().for_each(|t| b.add(t));
        for (_, at) in arrivals {
            b.arrival(*at);
        }
        b.finish()
    };
    let agents = agents
        .into_iter()
        .map(|(name, rows)| {
            let mut b = Builder::new(&name, since, until, &utc);
            rows.into_iter().for_each(|t| b.add(t));
            b.finish()
        })
        .collect();
    Report {
        since,
        until,
        total,
        mailboxes,
        agents,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn row(n: i64, created: &str, state: Option<&str>, used_min: i64) -> TicketRow {
        TicketRow {
            number: n,
            mailbox: "support".into(),
            assignee: Some("alice@example.com".into()),
            created_at: t(created),
            resolved_at: None,
            first_response_state: state.map(str::to_string),
            first_response_used: state.map(|_| SignedDuration::from_mins(used_min)),
            reopens: 0,
            rating: None,
        }
    }

    #[test]
    fn counts_times_compliance_and_ratings() {
        let mut rows = vec![
            row(1, "2026-11-02T09:00:00Z", Some("met"), 30),
            row(2, "2026-11-02T10:00:00Z", Some("met"), 90),
            row(3, "2026-11-03T10:00:00Z", Some("breached"), 26 * 60),
            row(4, "2026-11-03T11:00:00Z", Some("running"), 0),
            // Outside the window: only its resolution counts.
            row(5, "2026-10-01T10:00:00Z", Some("met"), 10),
        ];
        rows[0].resolved_at = Some(t("2026-11-02T12:00:00Z"));
        rows[0].rating = Some(5);
        rows[1].resolved_at = Some(t("2026-11-03T12:00:00Z"));
        rows[1].reopens = 1;
        rows[1].rating = Some(3);
        rows[4].resolved_at = Some(t("2026-11-02T08:00:00Z"));
        rows[3].assignee = None;
        let arrivals = vec![
            ("support".to_string(), t("2026-11-02T09:00:00Z")),
            ("support".to_string(), t("2026-11-02T09:30:00Z")),
            ("support".to_string(), t("2026-11-03T14:00:00Z")),
        ];
        let athens: TimeZone = TimeZone::get("Europe/Athens").unwrap();
        let r = build(
            &rows,
            &arrivals,
            t("2026-11-01T00:00:00Z"),
            t("2026-11-04T00:00:00Z"),
            |_| athens.clone(),
        );
        let g = &r.mailboxes[0];
        assert_eq!((g.opened, g.resolved), (4, 3));
        assert_eq!(g.first_responses, 3);
        assert_eq!(g.first_response_median_minutes, Some(90));
        assert_eq!(g.first_response_p90_minutes, Some(26 * 60));
        assert_eq!(g.first_response_distribution, vec![1, 1, 0, 0, 1, 0]);
        assert_eq!((g.sla_met, g.sla_breached), (2, 1));
        assert_eq!(g.sla_compliance_percent, Some(66.7));
        assert_eq!(g.reopen_rate_percent, Some(33.3));
        assert_eq!(g.ratings, 2);
        assert_eq!(g.rating_average, Some(4.0));
        assert_eq!(g.rating_distribution, [0, 0, 1, 0, 1]);
        // Hours in Athens (UTC+2 in November).
        assert_eq!(g.busiest_hours[11], 2);
        assert_eq!(g.busiest_hours[16], 1);
        assert_eq!(g.days.len(), 4, "every day of the window, quiet ones too");
        assert_eq!(g.days[1].date, "2026-11-02");
        assert_eq!(
            (g.days[1].opened, g.days[1].resolved, g.days[1].sla_met),
            (2, 2, 2)
        );
        assert_eq!(g.days[2].sla_breached, 1);
        assert_eq!(
            (
                r.total.opened,
                r.total.resolved,
                r.total.sla_met,
                r.total.ratings
            ),
            (4, 3, 2, 2),
            "the period's totals"
        );
        assert!(!g.is_empty());
        let alice = &r.agents[0];
        assert_eq!(alice.name, "alice@example.com");
        assert_eq!(alice.opened, 3, "ticket 4 has nobody yet");
    }

    #[test]
    fn an_empty_window_has_no_averages() {
        let r = build(
            &[],
            &[],
            t("2026-11-01T00:00:00Z"),
            t("2026-11-02T00:00:00Z"),
            |_| TimeZone::UTC,
        );
        assert!(r.mailboxes.is_empty());
        assert!(r.total.is_empty());
        let g = Builder::new("x", r.since, r.until, &TimeZone::UTC).finish();
        assert_eq!(g.sla_compliance_percent, None);
        assert_eq!(g.rating_average, None);
        assert_eq!(g.first_response_median_minutes, None);
    }
}
