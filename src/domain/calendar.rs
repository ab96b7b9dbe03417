//! Business calendars: weekly opening hours written as
//! `mon-fri = "09:00-13:00,14:00-18:00"`, parsed and checked for overlaps.

use jiff::civil::{Time, Weekday};

/// Opening ranges per weekday (Monday first), each sorted and disjoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeeklyHours {
    pub days: [Vec<(Time, Time)>; 7],
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn day_index(s: &str) -> Option<usize> {
    DAY_NAMES
        .iter()
        .position(|d| d.eq_ignore_ascii_case(s.trim()))
}

pub fn weekday_index(w: Weekday) -> usize {
    w.to_monday_zero_offset() as usize
}

fn parse_time(s: &str) -> Option<Time> {
    let s = s.trim();
    if s == "24:00" {
        return Some(Time::MAX);
    }
    let (h, m) = s.split_once(':')?;
    if h.len() > 2 || m.len() != 2 {
        return None;
    }
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

impl WeeklyHours {
    /// Adds `days = "ranges"`: days are `mon`, `mon-fri`, `sat,sun`; ranges
    /// are `HH:MM-HH:MM`, comma-separated. Errors say what was expected.
    pub fn add(&mut self, days: &str, ranges: &str) -> Result<(), String> {
        let mut which = Vec::new();
        for part in days.split(',') {
            match part.split_once('-') {
                Some((a, b)) => match (day_index(a), day_index(b)) {
                    (Some(a), Some(b)) if a <= b => which.extend(a..=b),
                    _ => {
                        return Err(format!(
                            "expected days like \"mon-fri\" or \"sat\", got {days:?}"
                        ));
                    }
                },
                None => match day_index(part) {
                    Some(d) => which.push(d),
                    None => {
                        return Err(format!(
                            "expected days like \"mon-fri\" or \"sat\", got {days:?}"
                        ));
                    }
                },
            }
        }
        let mut parsed = Vec::new();
        for r in ranges.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            let (a, b) = r
                .split_once('-')
                .and_then(|(a, b)| Some((parse_time(a)?, parse_time(b)?)))
                .ok_or_else(|| format!("expected ranges like \"09:00-17:00\" or \"09:00-13:00,14:00-18:00\", got {ranges:?}"))?;
            if a >= b {
                return Err(format!("range {r:?} ends before it starts"));
            }
            parsed.push((a, b));
        }
        for d in which {
            for &(a, b) in &parsed {
                if let Some(&(c, e)) = self.days[d].iter().find(|&&(c, e)| a < e && c < b) {
                    return Err(format!(
                        "{}: {}-{} overlaps {}-{}",
                        DAY_NAMES[d],
                        a.strftime("%H:%M"),
                        b.strftime("%H:%M"),
                        c.strftime("%H:%M"),
                        e.strftime("%H:%M")
                    ));
                }
                self.days[d].push((a, b));
            }
            self.days[d].sort();
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.days.iter().all(Vec::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_split_days_and_ranges() {
        let mut h = WeeklyHours::default();
        h.add("mon-fri", "09:00-13:00,14:00-18:00").unwrap();
        h.add("sat", "10:00-14:00").unwrap();
        assert_eq!(h.days[0].len(), 2);
        assert_eq!(h.days[5].len(), 1);
        assert!(h.days[6].is_empty());
    }

    #[test]
    fn holidays_from_an_ics_file() {
        let ics = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\nSUMMARY:Christmas\r\nEND:VEVENT\r\n\
                   BEGIN:VEVENT\r\nDTSTART:20270101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let dates: Vec<String> = ics_dates(ics).iter().map(|d| d.to_string()).collect();
        assert_eq!(dates, vec!["2026-12-25", "2027-01-01"]);
    }

    #[test]
    fn rejects_overlaps_and_nonsense() {
        let mut h = WeeklyHours::default();
        h.add("mon", "09:00-13:00").unwrap();
        assert!(
            h.add("mon-tue", "12:00-14:00")
                .unwrap_err()
                .contains("overlaps")
        );
        assert!(h.add("funday", "09:00-10:00").is_err());
        assert!(h.add("tue", "10:00-09:00").is_err());
        assert!(h.add("tue", "9am-5pm").is_err());
    }
}

/// The all-day dates of an iCalendar file (`DTSTART;VALUE=DATE:20261225`,
/// or a DTSTART of a day with its time): the holidays it lists.
pub fn ics_dates(text: &str) -> Vec<jiff::civil::Date> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix("DTSTART")?;
            let value = rest.rsplit_once(':')?.1.trim();
            let day = value.get(..8)?;
            let (y, m, d) = (
                day.get(..4)?.parse().ok()?,
                day.get(4..6)?.parse().ok()?,
                day.get(6..8)?.parse().ok()?,
            );
            jiff::civil::Date::new(y, m, d).ok()
        })
        .collect()
}

/// A business calendar: opening hours in a time zone, minus holidays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    pub timezone: jiff::tz::TimeZone,
    pub hours: WeeklyHours,
    pub holidays: std::collections::BTreeSet<jiff::civil::Date>,
}

/// How far ahead to look for opening hours before giving up (a calendar
/// that is never open is refused by the configuration check).
const HORIZON_DAYS: i32 = 3 * 366;

impl Calendar {
    /// The open intervals that end after `t`, in order.
    pub fn open_intervals_from(
        &self,
        t: jiff::Timestamp,
    ) -> impl Iterator<Item = (jiff::Timestamp, jiff::Timestamp)> + '_ {
        let first = t.to_zoned_datetime(self.timezone.clone()).date();
        (0..HORIZON_DAYS)
            .filter_map(move |i| first.checked_add(jiff::Span::new().days(i)).ok())
            .filter(|d| !self.holidays.contains(d))
            .flat_map(move |d| {
                self.hours.days[weekday_index(d.weekday())]
                    .iter()
                    .filter_map(move |&(open, close)| {
                        let a = self.timezone.to_timestamp(d.to_datetime(open)).ok()?;
                        // "24:00" is the start of the next day.
                        let end = if close == Time::MAX {
                            d.tomorrow().ok()?.to_datetime(Time::midnight())
                        } else {
                            d.to_datetime(close)
                        };
                        let b = self.timezone.to_timestamp(end).ok()?;
                        (b > a).then_some((a, b))
                    })
            })
            .filter(move |&(_, b)| b > t)
    }

    /// `from` plus `d` of open time. Time before the first opening does not
    /// count: a ticket that arrives at night starts at the next opening.
    pub fn add(&self, from: jiff::Timestamp, d: jiff::SignedDuration) -> jiff::Timestamp {
        let mut left = d;
        let mut last = from;
        for (a, b) in self.open_intervals_from(from) {
            let start = a.max(from);
            let available = b.duration_since(start);
            if left <= available {
                return start.checked_add(left).unwrap_or(b);
            }
            left -= available;
            last = b;
        }
        last.checked_add(left).unwrap_or(last)
    }

    /// Open time between `a` and `b` (zero when `b` is not after `a`).
    pub fn between(&self, a: jiff::Timestamp, b: jiff::Timestamp) -> jiff::SignedDuration {
        let mut total = jiff::SignedDuration::ZERO;
        if b <= a {
            return total;
        }
        for (x, y) in self.open_intervals_from(a) {
            if x >= b {
                break;
            }
            total += y.min(b).duration_since(x.max(a));
        }
        total
    }

    /// `days` business days after `from`: the same time of day on the
    /// `days`-th open day after the day work starts (held within that day's
    /// opening hours). A ticket that arrives at night starts at the next
    /// opening, as with [`Calendar::add`].
    pub fn add_days(&self, from: jiff::Timestamp, days: u32) -> jiff::Timestamp {
        if days == 0 {
            return from;
        }
        let Some((a, _)) = self.open_intervals_from(from).next() else {
            return from;
        };
        let start = a.max(from).to_zoned_datetime(self.timezone.clone());
        let time = start.time();
        let mut date = start.date();
        let mut left = days;
        for _ in 0..HORIZON_DAYS {
            let Ok(next) = date.tomorrow() else { break };
            date = next;
            let hours = &self.hours.days[weekday_index(date.weekday())];
            if hours.is_empty() || self.holidays.contains(&date) {
                continue;
            }
            left -= 1;
            if left > 0 {
                continue;
            }
            let at = |t: Time| self.timezone.to_timestamp(date.to_datetime(t)).ok();
            let opens = hours.iter().map(|&(o, _)| o).min().unwrap_or(time);
            let closes = hours.iter().map(|&(_, c)| c).max().unwrap_or(time);
            let due = if closes == Time::MAX && time >= opens {
                at(time)
            } else {
                at(time.clamp(opens, closes))
            };
            return due.unwrap_or(from);
        }
        from
    }

    pub fn is_open(&self, t: jiff::Timestamp) -> bool {
        self.open_intervals_from(t)
            .next()
            .is_some_and(|(a, _)| a <= t)
    }
}

/// How time is counted for a deadline: around the clock, or business hours only.
#[derive(Debug, Clone, Copy)]
pub enum Clockwork<'a> {
    Wall,
    Business(&'a Calendar),
}

impl Clockwork<'_> {
    /// `from` plus `d` of countable time.
    pub fn add(&self, from: jiff::Timestamp, d: jiff::SignedDuration) -> jiff::Timestamp {
        match self {
            Clockwork::Wall => from.checked_add(d).unwrap_or(from),
            Clockwork::Business(c) => c.add(from, d),
        }
    }

    /// Countable time between `a` and `b` (negative when `b` is before `a`).
    pub fn between(&self, a: jiff::Timestamp, b: jiff::Timestamp) -> jiff::SignedDuration {
        match self {
            Clockwork::Wall => b.duration_since(a),
            Clockwork::Business(c) if b >= a => c.between(a, b),
            Clockwork::Business(c) => -c.between(b, a),
        }
    }
}

#[cfg(test)]
mod business_time {
    use super::*;
    use jiff::{SignedDuration, Timestamp};
    use proptest::prelude::*;

    fn cal(tz: &str, hours: &[(&str, &str)], holidays: &[&str]) -> Calendar {
        let mut h = WeeklyHours::default();
        for (d, r) in hours {
            h.add(d, r).unwrap();
        }
        Calendar {
            timezone: jiff::tz::TimeZone::get(tz).unwrap(),
            hours: h,
            holidays: holidays.iter().map(|d| d.parse().unwrap()).collect(),
        }
    }

    fn athens() -> Calendar {
        cal(
            "Europe/Athens",
            &[("mon-fri", "09:00-17:00")],
            &["2026-12-25"],
        )
    }

    /// Local time in the calendar's zone.
    fn local(c: &Calendar, s: &str) -> Timestamp {
        c.timezone.to_timestamp(s.parse().unwrap()).unwrap()
    }

    fn show(c: &Calendar, t: Timestamp) -> String {
        t.to_zoned_datetime(c.timezone.clone())
            .strftime("%a %Y-%m-%d %H:%M")
            .to_string()
    }

    #[test]
    fn business_days_keep_the_time_of_day_across_weekends_and_holidays() {
        let c = athens();
        let days = |at: &str, n| show(&c, c.add_days(local(&c, at), n));
        // Monday 10:00 + 5 business days: the next Monday, not three weeks on.
        assert_eq!(days("2026-11-30T10:00", 5), "Mon 2026-12-07 10:00");
        // Friday afternoon + 1 day: Monday afternoon.
        assert_eq!(days("2026-12-04T16:00", 1), "Mon 2026-12-07 16:00");
        // Thursday 24 December + 1 day: Christmas is a holiday, the weekend
        // follows, so Monday 28th.
        assert_eq!(days("2026-12-24T11:30", 1), "Mon 2026-12-28 11:30");
        // Saturday night: work starts Monday 09:00, one day is Tuesday 09:00.
        assert_eq!(days("2026-12-05T22:00", 1), "Tue 2026-12-08 09:00");
        // After closing time: the clock starts at the next opening.
        assert_eq!(days("2026-12-01T19:00", 2), "Fri 2026-12-04 09:00");
        // Budget in open time: five 8-hour days.
        let start = local(&c, "2026-11-30T10:00");
        let span = crate::domain::sla::Span {
            days: 5,
            time: SignedDuration::ZERO,
        };
        let work = Clockwork::Business(&c);
        assert_eq!(span.budget(start, &work), SignedDuration::from_hours(40));
        assert_eq!(
            show(&c, work.add(start, span.budget(start, &work))),
            "Mon 2026-12-07 10:00"
        );
        // Without a calendar a day is 24 hours.
        assert_eq!(
            span.budget(start, &Clockwork::Wall),
            SignedDuration::from_hours(120)
        );
        // `1d 2h`: a business day, then two open hours.
        let span = crate::domain::sla::Span {
            days: 1,
            time: SignedDuration::from_hours(2),
        };
        let due = work.add(start, span.budget(start, &work));
        assert_eq!(show(&c, due), "Tue 2026-12-01 12:00");
    }

    #[test]
    fn friday_afternoon_runs_into_monday() {
        let c = athens();
        let due = c.add(local(&c, "2026-11-27T15:00"), SignedDuration::from_hours(8));
        assert_eq!(show(&c, due), "Mon 2026-11-30 15:00");
    }

    #[test]
    fn a_holiday_in_between_is_skipped() {
        let c = athens();
        // Thursday 24 Dec 16:00 + 4h: 1h Thursday, Friday 25th is a holiday, 3h Monday.
        let due = c.add(local(&c, "2026-12-24T16:00"), SignedDuration::from_hours(4));
        assert_eq!(show(&c, due), "Mon 2026-12-28 12:00");
    }

    #[test]
    fn out_of_hours_arrivals_start_at_the_next_opening() {
        let c = athens();
        let sat = c.add(local(&c, "2026-11-28T11:00"), SignedDuration::from_hours(2));
        assert_eq!(show(&c, sat), "Mon 2026-11-30 11:00");
        let early = c.add(local(&c, "2026-11-26T07:30"), SignedDuration::from_mins(30));
        assert_eq!(show(&c, early), "Thu 2026-11-26 09:30");
        assert!(!c.is_open(local(&c, "2026-11-26T07:30")));
        assert!(c.is_open(local(&c, "2026-11-26T09:30")));
    }

    #[test]
    fn split_days() {
        let c = cal(
            "Europe/Athens",
            &[
                ("mon-fri", "09:00-13:00,14:00-18:00"),
                ("sat", "10:00-14:00"),
            ],
            &[],
        );
        let due = c.add(local(&c, "2026-11-26T12:00"), SignedDuration::from_hours(3));
        assert_eq!(show(&c, due), "Thu 2026-11-26 16:00");
        let sat = c.add(local(&c, "2026-11-27T17:00"), SignedDuration::from_hours(2));
        assert_eq!(show(&c, sat), "Sat 2026-11-28 11:00");
    }

    #[test]
    fn across_daylight_saving_changes() {
        // Athens and Warsaw move clocks on the last Sunday of March and October.
        for tz in ["Europe/Athens", "Europe/Warsaw"] {
            let c = cal(tz, &[("mon-sun", "00:00-24:00")], &[]);
            // 24 hours of open time across the spring change are 24 real hours...
            let start = local(&c, "2026-03-28T12:00");
            let due = c.add(start, SignedDuration::from_hours(24));
            assert_eq!(
                due.duration_since(start),
                SignedDuration::from_hours(24),
                "{tz}"
            );
            // ...and business hours stay at their local times on both sides.
            let office = cal(tz, &[("mon-fri", "09:00-17:00")], &[]);
            let d = office.add(
                local(&office, "2026-03-27T16:00"),
                SignedDuration::from_hours(2),
            );
            assert_eq!(show(&office, d), "Mon 2026-03-30 10:00", "{tz}");
            let d = office.add(
                local(&office, "2026-10-23T16:00"),
                SignedDuration::from_hours(2),
            );
            assert_eq!(show(&office, d), "Mon 2026-10-26 10:00", "{tz}");
            assert_eq!(
                office.between(local(&office, "2026-10-23T16:00"), d),
                SignedDuration::from_hours(2)
            );
        }
    }

    #[test]
    fn wall_clock_for_around_the_clock_policies() {
        let t: Timestamp = "2026-11-28T11:00:00Z".parse().unwrap();
        assert_eq!(
            Clockwork::Wall
                .add(t, SignedDuration::from_hours(24))
                .to_string(),
            "2026-11-29T11:00:00Z"
        );
    }

    proptest! {
        #[test]
        fn deadlines_never_fall_in_closed_hours(start in 0i64..(366 * 24 * 60), mins in 1i64..(60 * 200)) {
            let c = cal("Europe/Athens", &[("mon-fri", "09:00-13:00,14:00-18:00")], &["2027-01-01", "2027-01-06"]);
            let from = local(&c, "2026-11-01T00:00").checked_add(SignedDuration::from_mins(start)).unwrap();
            let due = c.add(from, SignedDuration::from_mins(mins));
            // The last instant before the deadline is open time.
            prop_assert!(c.is_open(due.checked_sub(SignedDuration::from_secs(1)).unwrap()));
            prop_assert_eq!(c.between(from, due), SignedDuration::from_mins(mins));
        }

        #[test]
        fn adding_business_time_is_monotonic(start in 0i64..(366 * 24 * 60), a in 0i64..(60 * 100), b in 0i64..(60 * 100)) {
            let c = athens();
            let from = local(&c, "2026-11-01T00:00").checked_add(SignedDuration::from_mins(start)).unwrap();
            let (x, y) = (a.min(b), a.max(b));
            prop_assert!(c.add(from, SignedDuration::from_mins(x)) <= c.add(from, SignedDuration::from_mins(y)));
        }
    }
}
