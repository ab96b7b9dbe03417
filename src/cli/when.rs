//! Times on the command line: what `--at` and `--since` take (a date, a
//! local date and time, or RFC 3339), and how text output writes a time
//! (`2026-12-01 16:45 EET`), both in the zone `--tz` names (the system's
//! by default). JSON output keeps RFC 3339 in UTC: it is a contract.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

/// The zone of `--tz`, or the system's.
pub fn zone(tz: Option<&str>) -> Result<TimeZone, String> {
    match tz {
        Some(name) => TimeZone::get(name).map_err(|_| {
            format!(r#"--tz: expected an IANA time zone such as "Europe/Warsaw", got {name:?}"#)
        }),
        None => Ok(TimeZone::try_system().unwrap_or(TimeZone::UTC)),
    }
}

/// `2026-12-01` (its first moment), `2026-12-01 16:45` or
/// `2026-12-01T16:45[:00]` (in `tz`), or RFC 3339 with its own offset.
pub fn parse(s: &str, tz: &TimeZone) -> Result<Timestamp, String> {
    let s = s.trim();
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    let local = |dt: DateTime| {
        dt.to_zoned_datetime(tz.clone())
            .map(|z| z.timestamp())
            .map_err(|e| e.to_string())
    };
    if let Ok(dt) = s.replacen(' ', "T", 1).parse::<DateTime>()
        && s.len() > 10
    {
        return local(dt);
    }
    if let Ok(d) = s.parse::<Date>() {
        return local(d.to_datetime(jiff::civil::Time::midnight()));
    }
    Err(format!(
        "expected a date (2026-12-01), a local time (2026-12-01 16:45) or RFC 3339 \
         (2026-12-01T16:45:00+02:00), got {s:?}"
    ))
}

/// `--since`: a duration back from `now` (`30d`), or a time as [`parse`]
/// reads it.
pub fn since(s: &str, now: Timestamp, tz: &TimeZone) -> Result<Timestamp, String> {
    match crate::config::parse_duration(s) {
        Ok(d) => now
            .checked_sub(d)
            .map_err(|e| format!("{s:?} reaches too far back ({e})")),
        Err(_) => parse(s, tz).map_err(|e| format!("expected a duration like 30d, or {e}")),
    }
}

/// `2026-12-01 16:45 EET`.
pub fn show(t: Timestamp, tz: &TimeZone) -> String {
    let z = t.to_zoned_datetime(tz.clone());
    z.strftime("%Y-%m-%d %H:%M %Z").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_in_every_form_and_output_with_its_zone() {
        let warsaw = zone(Some("Europe/Warsaw")).unwrap();
        let t = |s| parse(s, &warsaw).unwrap().to_string();
        assert_eq!(t("2026-12-01"), "2026-11-30T23:00:00Z");
        assert_eq!(t("2026-12-01 16:45"), "2026-12-01T15:45:00Z");
        assert_eq!(t("2026-12-01T16:45:30"), "2026-12-01T15:45:30Z");
        assert_eq!(t("2026-12-01T16:45:00+02:00"), "2026-12-01T14:45:00Z");
        assert_eq!(t("2026-12-01T16:45:00Z"), "2026-12-01T16:45:00Z");
        // Summer time: the same wall time is an hour earlier in UTC.
        assert_eq!(t("2026-07-01 16:45"), "2026-07-01T14:45:00Z");
        assert!(
            parse("tomorrow", &warsaw)
                .unwrap_err()
                .contains("expected a date")
        );
        assert!(zone(Some("Mars/Olympus")).unwrap_err().contains("--tz"));
        let at: Timestamp = "2026-12-01T14:45:00Z".parse().unwrap();
        assert_eq!(
            show(at, &zone(Some("Europe/Athens")).unwrap()),
            "2026-12-01 16:45 EET"
        );
        assert_eq!(show(at, &warsaw), "2026-12-01 15:45 CET");
        assert_eq!(show(at, &TimeZone::UTC), "2026-12-01 14:45 UTC");
    }
}
