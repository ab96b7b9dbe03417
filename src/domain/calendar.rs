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
