//! Dates in mail, written the way each language writes them, in the
//! recipient's time zone: `Friday 27 November 2026, 10:00 EET`,
//! `Παρασκευή 27 Νοεμβρίου 2026, 10:00 EET`, `piątek, 27 listopada 2026 r.,
//! godz. 10:00 CET`; and a deadline with its preposition, whose article or
//! case follows the weekday: `by Friday …`, `έως την Παρασκευή …` (`έως το
//! Σάββατο …`), `do piątku, 27 listopada 2026 r., godz. 10:00 CET`. Month
//! names are in the genitive where the language needs it. Other languages
//! get `2026-11-27 10:00 EET`.

use jiff::Timestamp;
use jiff::tz::TimeZone;

const EN_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const EL_DAYS: [&str; 7] = [
    "Δευτέρα",
    "Τρίτη",
    "Τετάρτη",
    "Πέμπτη",
    "Παρασκευή",
    "Σάββατο",
    "Κυριακή",
];
const EL_MONTHS: [&str; 12] = [
    "Ιανουαρίου",
    "Φεβρουαρίου",
    "Μαρτίου",
    "Απριλίου",
    "Μαΐου",
    "Ιουνίου",
    "Ιουλίου",
    "Αυγούστου",
    "Σεπτεμβρίου",
    "Οκτωβρίου",
    "Νοεμβρίου",
    "Δεκεμβρίου",
];
const PL_DAYS: [&str; 7] = [
    "poniedziałek",
    "wtorek",
    "środa",
    "czwartek",
    "piątek",
    "sobota",
    "niedziela",
];
/// After "do" (until): the genitive.
const PL_DAYS_GENITIVE: [&str; 7] = [
    "poniedziałku",
    "wtorku",
    "środy",
    "czwartku",
    "piątku",
    "soboty",
    "niedzieli",
];
const PL_MONTHS: [&str; 12] = [
    "stycznia",
    "lutego",
    "marca",
    "kwietnia",
    "maja",
    "czerwca",
    "lipca",
    "sierpnia",
    "września",
    "października",
    "listopada",
    "grudnia",
];

/// `t` in `tz`, spelled for `lang`.
pub fn spell(t: Timestamp, tz: &TimeZone, lang: &str) -> String {
    let z = t.to_zoned_datetime(tz.clone());
    let day = z.weekday().to_monday_zero_offset() as usize;
    let month = (z.month() - 1) as usize;
    let clock = z.strftime("%H:%M %Z");
    let (d, y) = (z.day(), z.year());
    match lang {
        "en" => format!("{} {d} {} {y}, {clock}", EN_DAYS[day], EN_MONTHS[month]),
        "el" => format!("{} {d} {} {y}, {clock}", EL_DAYS[day], EL_MONTHS[month]),
        "pl" => format!(
            "{}, {d} {} {y} r., godz. {clock}",
            PL_DAYS[day], PL_MONTHS[month]
        ),
        _ => z.strftime("%Y-%m-%d %H:%M %Z").to_string(),
    }
}

/// A deadline: "by" `t`, with the preposition and the article or case the
/// weekday takes in `lang`.
pub fn spell_until(t: Timestamp, tz: &TimeZone, lang: &str) -> String {
    let z = t.to_zoned_datetime(tz.clone());
    let day = z.weekday().to_monday_zero_offset() as usize;
    let month = (z.month() - 1) as usize;
    let clock = z.strftime("%H:%M %Z");
    let (d, y) = (z.day(), z.year());
    match lang {
        "el" => {
            // Σάββατο is neuter; before Δ the article drops its ν.
            let article = match day {
                0 => "τη",
                5 => "το",
                _ => "την",
            };
            format!("έως {article} {}", spell(t, tz, lang))
        }
        "pl" => format!(
            "do {}, {d} {} {y} r., godz. {clock}",
            PL_DAYS_GENITIVE[day], PL_MONTHS[month]
        ),
        _ => format!("by {}", spell(t, tz, lang)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_language_writes_its_own_dates() {
        let t: Timestamp = "2026-11-27T08:00:00Z".parse().unwrap();
        let athens = TimeZone::get("Europe/Athens").unwrap();
        let warsaw = TimeZone::get("Europe/Warsaw").unwrap();
        assert_eq!(
            spell(t, &athens, "en"),
            "Friday 27 November 2026, 10:00 EET"
        );
        assert_eq!(
            spell(t, &athens, "el"),
            "Παρασκευή 27 Νοεμβρίου 2026, 10:00 EET"
        );
        assert_eq!(
            spell(t, &warsaw, "pl"),
            "piątek, 27 listopada 2026 r., godz. 09:00 CET"
        );
        assert_eq!(
            spell_until(t, &warsaw, "pl"),
            "do piątku, 27 listopada 2026 r., godz. 09:00 CET"
        );
        assert_eq!(
            spell_until(t, &athens, "el"),
            "έως την Παρασκευή 27 Νοεμβρίου 2026, 10:00 EET"
        );
        let monday: Timestamp = "2026-11-30T08:00:00Z".parse().unwrap();
        assert_eq!(
            spell_until(monday, &athens, "el"),
            "έως τη Δευτέρα 30 Νοεμβρίου 2026, 10:00 EET"
        );
        let saturday: Timestamp = "2026-11-28T08:00:00Z".parse().unwrap();
        assert_eq!(
            spell_until(saturday, &athens, "el"),
            "έως το Σάββατο 28 Νοεμβρίου 2026, 10:00 EET"
        );
        assert_eq!(
            spell_until(saturday, &warsaw, "pl"),
            "do soboty, 28 listopada 2026 r., godz. 09:00 CET"
        );
        assert_eq!(
            spell_until(t, &athens, "en"),
            "by Friday 27 November 2026, 10:00 EET"
        );
        assert_eq!(spell(t, &TimeZone::UTC, "de"), "2026-11-27 08:00 UTC");
        // Summer time, and a day that changes with the zone.
        let july: Timestamp = "2026-07-05T22:30:00Z".parse().unwrap();
        assert_eq!(
            spell(july, &athens, "el"),
            "Δευτέρα 6 Ιουλίου 2026, 01:30 EEST"
        );
        assert_eq!(
            spell(july, &TimeZone::UTC, "en"),
            "Sunday 5 July 2026, 22:30 UTC"
        );
    }
}
