//! A checked walk over a parsed TOML document. Every accessor records what it
//! read; a wrong type, a bad value or an unknown key becomes a [`Problem`]
//! naming the key path and what was expected, and the walk goes on, so one run
//! of `postdesk check` reports every mistake at once.

use crate::domain::sla::Span;
use jiff::SignedDuration;
use std::cell::RefCell;
use std::fmt;
use toml::{Table, Value};

/// One mistake in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path, e.g. `mailbox "support".imap.port`.
    pub path: String,
    /// What was expected and what was found.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Collects problems during a walk.
#[derive(Debug, Default)]
pub struct Problems(RefCell<Vec<Problem>>);

impl Problems {
    pub fn add(&self, path: impl Into<String>, message: impl Into<String>) {
        self.0.borrow_mut().push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    pub fn into_vec(self) -> Vec<Problem> {
        self.0.into_inner()
    }

    pub fn is_empty(&self) -> bool {
        self.0.borrow().is_empty()
    }
}

/// Shows a found value the way it was written, for error messages.
pub fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Table(_) => "a table".into(),
        Value::Array(_) => "an array".into(),
        other => other.to_string(),
    }
}

/// One table of the document, with its key path.
pub struct Node<'a> {
    pub path: String,
    table: &'a Table,
    problems: &'a Problems,
    used: RefCell<Vec<&'a str>>,
    /// Every key asked for, present or not: what an unknown key may have meant.
    asked: RefCell<Vec<String>>,
}

impl<'a> Node<'a> {
    pub fn root(table: &'a Table, problems: &'a Problems) -> Self {
        Node {
            path: String::new(),
            table,
            problems,
            used: RefCell::new(Vec::new()),
            asked: RefCell::new(Vec::new()),
        }
    }

    pub fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub fn problem(&self, key: &str, message: impl Into<String>) {
        self.problems.add(self.key_path(key), message);
    }

    pub fn problems(&self) -> &'a Problems {
        self.problems
    }

    pub fn has(&self, key: &str) -> bool {
        self.asked.borrow_mut().push(key.to_string());
        self.table.contains_key(key)
    }

    /// The raw value of `key`, marking it as known.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.asked.borrow_mut().push(key.to_string());
        let (k, v) = self.table.get_key_value(key)?;
        self.used.borrow_mut().push(k.as_str());
        Some(v)
    }

    fn expect<T>(
        &self,
        key: &str,
        what: &str,
        f: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Option<T> {
        let v = self.get(key)?;
        let r = f(v);
        if r.is_none() {
            self.problem(key, format!("expected {what}, got {}", shown(v)));
        }
        r
    }

    pub fn opt_str(&self, key: &str) -> Option<String> {
        self.expect(key, "a string", |v| v.as_str().map(str::to_string))
    }

    pub fn req_str(&self, key: &str) -> Option<String> {
        if !self.has(key) {
            self.problem(key, "is required (a string)");
            return None;
        }
        let s = self.opt_str(key)?;
        if s.trim().is_empty() {
            self.problem(key, "must not be empty");
            return None;
        }
        Some(s)
    }

    pub fn opt_bool(&self, key: &str) -> Option<bool> {
        self.expect(key, "true or false", Value::as_bool)
    }

    pub fn opt_int(&self, key: &str, lo: i64, hi: i64) -> Option<i64> {
        self.expect(key, &format!("an integer {lo}-{hi}"), |v| {
            v.as_integer().filter(|n| (lo..=hi).contains(n))
        })
    }

    pub fn opt_str_list(&self, key: &str) -> Option<Vec<String>> {
        self.expect(key, "an array of strings", |v| {
            v.as_array()?
                .iter()
                .map(|x| x.as_str().map(str::to_string))
                .collect()
        })
    }

    /// A duration written like `"90s"`, `"30m"`, `"24h"` or `"5d"` (days are 24 hours).
    pub fn opt_duration(&self, key: &str) -> Option<SignedDuration> {
        self.expect(key, r#"a duration like "90s", "30m", "24h" or "5d""#, |v| {
            parse_duration(v.as_str()?).ok()
        })
    }

    /// An SLA target: `"4h"`, `"8bh"` (business hours, the same as `h`:
    /// with a calendar every hour counts open time only), `"5d"` (with a
    /// calendar, business days), or both (`"1d 4h"`).
    pub fn opt_span(&self, key: &str) -> Option<Span> {
        self.expect(
            key,
            r#"a duration like "4h", "8bh" (business hours), "5d" (business days with a calendar) or "1d 4h""#,
            |v| parse_span(v.as_str()?).ok(),
        )
    }

    /// An age in calendar units: `"90d"`, `"6mo"`, `"2y"`, `"1y 6mo"`.
    pub fn opt_age(&self, key: &str) -> Option<jiff::Span> {
        self.expect(key, r#"an age like "90d", "6mo" or "2y""#, |v| {
            parse_age(v.as_str()?).ok()
        })
    }

    /// A size: `"10MB"`, `"512KB"`, `"2MiB"`, `"0"`.
    pub fn opt_size(&self, key: &str) -> Option<u64> {
        self.expect(key, r#"a size like "10MB", "512KB" or "0""#, |v| {
            v.as_str()?
                .trim()
                .parse::<bytesize::ByteSize>()
                .ok()
                .map(|b| b.as_u64())
        })
    }

    /// One of `choices`.
    pub fn opt_choice(&self, key: &str, choices: &[&'static str]) -> Option<&'static str> {
        let what = format!("one of {}", choices.join(", "));
        self.expect(key, &what, |v| {
            let s = v.as_str()?;
            choices.iter().copied().find(|c| *c == s)
        })
    }

    pub fn table(&self, key: &str) -> Option<Node<'a>> {
        let path = self.key_path(key);
        self.expect(key, "a table", Value::as_table).map(|t| Node {
            path,
            table: t,
            problems: self.problems,
            used: RefCell::new(Vec::new()),
            asked: RefCell::new(Vec::new()),
        })
    }

    /// `[[key]]`: an array of tables, each with path `key "name"` (or `key[i]`).
    pub fn tables(&self, key: &str) -> Vec<Node<'a>> {
        let Some(v) = self.get(key) else {
            return Vec::new();
        };
        let Some(items) = v.as_array() else {
            self.problem(
                key,
                format!("expected an array of tables ([[{key}]]), got {}", shown(v)),
            );
            return Vec::new();
        };
        // An item is named by its `name` (or an agent by its `email`) when
        // that is unique: `mailbox "support".imap.port` says more than
        // `mailbox[0].imap.port`.
        fn label(item: &Value) -> Option<&str> {
            let t = item.as_table()?;
            t.get("name")
                .or_else(|| t.get("email"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        }
        let labels: Vec<Option<&str>> = items.iter().map(label).collect();
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = match labels[i] {
                Some(l) if labels.iter().filter(|x| **x == Some(l)).count() == 1 => {
                    format!("{} {l:?}", self.key_path(key))
                }
                _ => format!("{}[{i}]", self.key_path(key)),
            };
            match item.as_table() {
                Some(t) => out.push(Node {
                    path,
                    table: t,
                    problems: self.problems,
                    used: RefCell::new(Vec::new()),
                    asked: RefCell::new(Vec::new()),
                }),
                None => self
                    .problems
                    .add(path, format!("expected a table, got {}", shown(item))),
            }
        }
        out
    }

    /// The keys of this table with their sub-tables: `[sla.NAME]`.
    pub fn named_tables(&self, key: &str) -> Vec<(String, Node<'a>)> {
        let Some(outer) = self.table(key) else {
            return Vec::new();
        };
        let names: Vec<&'a String> = outer.table.keys().collect();
        let out = names
            .into_iter()
            .filter_map(|name| outer.table(name).map(|n| (name.clone(), n)))
            .collect();
        outer.finish();
        out
    }

    /// Reports every key of this table that no accessor read.
    /// The keys present in this table.
    pub fn keys(&self) -> Vec<String> {
        self.table.keys().cloned().collect()
    }

    pub fn finish(&self) {
        let used = self.used.borrow();
        let asked = self.asked.borrow();
        for k in self.table.keys() {
            if !used.contains(&k.as_str()) {
                // The known key it is nearest to, when it is near: `smpt`
                // is `smtp`, `warn_befor` is `warn_before`.
                let near = asked
                    .iter()
                    .map(|a| (strsim::damerau_levenshtein(k, a), a))
                    .filter(|(d, a)| *d <= 2.max(a.len() / 4) && *d < a.len())
                    .min();
                match near {
                    Some((_, a)) => self.problem(k, format!("unknown key (did you mean {a:?}?)")),
                    None => self.problem(k, "unknown key"),
                }
            }
        }
    }
}

/// Parses `"90s"`, `"30m"`, `"24h"`, `"5d"`, `"1h30m"`; days count as 24 hours.
/// `"5d"`, `"1d 4h"`, `"8bh"`: whole days apart from the rest.
pub fn parse_span(s: &str) -> Result<Span, String> {
    let text = s.trim().replace("bh", "h");
    let span: jiff::Span = text.parse().map_err(|e| format!("{e}"))?;
    if span.get_years() != 0 || span.get_months() != 0 || span.get_weeks() != 0 {
        return Err("use days, hours and minutes".into());
    }
    let days = span.get_days();
    let rest = span
        .days(0)
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|e| format!("{e}"))?;
    if days < 0 || rest.is_negative() {
        return Err("a duration cannot be negative".into());
    }
    Ok(Span {
        days: days as u32,
        time: rest,
    })
}

/// A positive age of whole days, weeks, months or years (`"2y"`), kept in
/// calendar units: a year back from now is the same date a year earlier.
pub fn parse_age(s: &str) -> Result<jiff::Span, String> {
    let span: jiff::Span = s.trim().parse().map_err(|e| format!("{e}"))?;
    let no_time = span.get_hours() == 0
        && span.get_minutes() == 0
        && span.get_seconds() == 0
        && span.get_milliseconds() == 0
        && span.get_microseconds() == 0
        && span.get_nanoseconds() == 0;
    if !span.is_positive() || !no_time {
        return Err("expected a positive number of days, weeks, months or years".into());
    }
    Ok(span)
}

pub fn parse_duration(s: &str) -> Result<SignedDuration, String> {
    let span: jiff::Span = s.trim().parse().map_err(|e| format!("{e}"))?;
    let d = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|e| format!("{e}"))?;
    if d.is_negative() {
        return Err("a duration cannot be negative".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_keep_days_apart() {
        let span = |s| parse_span(s).unwrap();
        assert_eq!(
            span("5d"),
            Span {
                days: 5,
                time: SignedDuration::ZERO
            }
        );
        assert_eq!(
            span("1d 4h"),
            Span {
                days: 1,
                time: SignedDuration::from_hours(4)
            }
        );
        assert_eq!(
            span("8bh"),
            Span {
                days: 0,
                time: SignedDuration::from_hours(8)
            }
        );
        assert_eq!(
            span("36h"),
            Span {
                days: 0,
                time: SignedDuration::from_hours(36)
            }
        );
        assert!(parse_span("2w").is_err());
        assert!(parse_span("soon").is_err());
    }

    #[test]
    fn ages_are_calendar_units() {
        assert_eq!(parse_age("90d").unwrap().get_days(), 90);
        assert_eq!(parse_age("2y").unwrap().get_years(), 2);
        assert_eq!(parse_age("1y 6mo").unwrap().get_months(), 6);
        assert!(parse_age("0d").is_err());
        assert!(parse_age("12h").is_err(), "retention is counted in days");
        assert!(parse_age("soon").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("90s").unwrap(),
            SignedDuration::from_secs(90)
        );
        assert_eq!(
            parse_duration("30m").unwrap(),
            SignedDuration::from_mins(30)
        );
        assert_eq!(
            parse_duration("24h").unwrap(),
            SignedDuration::from_hours(24)
        );
        assert_eq!(
            parse_duration("5d").unwrap(),
            SignedDuration::from_hours(120)
        );
        assert_eq!(
            parse_duration("1h30m").unwrap(),
            SignedDuration::from_mins(90)
        );
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-5m").is_err());
    }
}
