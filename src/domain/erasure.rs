//! Erasing a person from stored mail (GDPR Art. 17): what replaces their
//! address and name inside bytes we keep, and which messages lose their
//! bytes entirely. Pure; the store applies it.

use jiff::Timestamp;

/// The moment `age` before `now` (calendar units counted in UTC: "2y"
/// back from 2028-03-01 is 2026-03-01). None when out of range.
pub fn cutoff(now: Timestamp, age: jiff::Span) -> Option<Timestamp> {
    now.to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .checked_sub(age)
        .ok()
        .map(|z| z.timestamp())
}

/// What an erased message's subject becomes.
pub const ERASED: &str = "(erased)";

/// `raw` with every occurrence of `email` (in any letter case) replaced by
/// `pseudonym`, and every occurrence of each name in `names` (four
/// characters or more, exact case) replaced by "erased". None when nothing
/// was found. Only plain occurrences are found: an address inside a
/// base64 or quoted-printable body part is not (such messages are emptied
/// whole when they are the person's own or on their tickets).
pub fn scrub(raw: &[u8], email: &str, pseudonym: &str, names: &[String]) -> Option<Vec<u8>> {
    let mut out = replace_ascii_ci(raw, email.as_bytes(), pseudonym.as_bytes());
    for name in names.iter().filter(|n| n.chars().count() >= 4) {
        if let Some(next) = replace_exact(out.as_deref().unwrap_or(raw), name.as_bytes(), b"erased")
        {
            out = Some(next);
        }
    }
    out
}

fn replace_ascii_ci(hay: &[u8], needle: &[u8], with: &[u8]) -> Option<Vec<u8>> {
    replace_by(hay, needle, with, |a, b| a.eq_ignore_ascii_case(b))
}

fn replace_exact(hay: &[u8], needle: &[u8], with: &[u8]) -> Option<Vec<u8>> {
    replace_by(hay, needle, with, |a, b| a == b)
}

fn replace_by(
    hay: &[u8],
    needle: &[u8],
    with: &[u8],
    eq: impl Fn(&[u8], &[u8]) -> bool,
) -> Option<Vec<u8>> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    let mut found = false;
    while i < hay.len() {
        if i + needle.len() <= hay.len() && eq(&hay[i..i + needle.len()], needle) {
            out.extend_from_slice(with);
            i += needle.len();
            found = true;
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    found.then_some(out)
}

/// `recipients` without `email`; None when nobody else is left.
pub fn without(recipients: &[String], email: &str) -> Option<Vec<String>> {
    let rest: Vec<String> = recipients
        .iter()
        .filter(|r| !r.eq_ignore_ascii_case(email))
        .cloned()
        .collect();
    (!rest.is_empty()).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_in_any_case_and_names_are_replaced() {
        let raw = b"From: Bob <bob@example.net>\r\nCc: Anna Nowak <Anna@Example.org>\r\n\r\nanna@example.org said hi";
        let out = scrub(
            raw,
            "anna@example.org",
            "erased-00ff",
            &["Anna Nowak".into()],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "From: Bob <bob@example.net>\r\nCc: erased <erased-00ff>\r\n\r\nerased-00ff said hi"
        );
        assert_eq!(scrub(b"nothing here", "anna@example.org", "x", &[]), None);
        // A short name would match inside other words: left alone.
        assert_eq!(scrub(b"Ann went home", "a@b.c", "x", &["Ann".into()]), None);
    }

    #[test]
    fn ages_count_back_in_calendar_units() {
        let now: Timestamp = "2028-03-01T12:00:00Z".parse().unwrap();
        let two_years: jiff::Span = "2y".parse().unwrap();
        assert_eq!(
            cutoff(now, two_years).unwrap().to_string(),
            "2026-03-01T12:00:00Z"
        );
        let ninety: jiff::Span = "90d".parse().unwrap();
        assert_eq!(
            cutoff(now, ninety).unwrap().to_string(),
            "2027-12-02T12:00:00Z"
        );
    }

    #[test]
    fn recipients_lose_only_the_person() {
        let r = vec![
            "anna@example.org".to_string(),
            "bob@example.net".to_string(),
        ];
        assert_eq!(
            without(&r, "ANNA@example.org"),
            Some(vec!["bob@example.net".to_string()])
        );
        assert_eq!(without(&r[..1], "anna@example.org"), None);
    }
}
