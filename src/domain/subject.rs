//! Subjects: the ticket tag (`[#42]`, or `[Support #42]` with another
//! prefix) and the normalized form used to compare subjects across replies.

/// `[#42]` for prefix `#`.
pub fn tag(prefix: &str, number: i64) -> String {
    format!("[{prefix}{number}]")
}

/// The ticket number of the first tag with this prefix in `subject`.
pub fn find_tag(subject: &str, prefix: &str) -> Option<i64> {
    let lower = subject.to_lowercase();
    let needle = format!("[{}", prefix.to_lowercase());
    let mut from = 0;
    while let Some(pos) = lower[from..].find(&needle) {
        let start = from + pos + needle.len();
        let digits: String = lower[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if !digits.is_empty() && lower[start + digits.len()..].starts_with(']') {
            return digits.parse().ok().filter(|n| *n > 0);
        }
        from = start;
    }
    None
}

/// The subject for mail about ticket `number`: tagged once, at the front.
pub fn tagged(subject: &str, prefix: &str, number: i64) -> String {
    if find_tag(subject, prefix) == Some(number) {
        return subject.to_string();
    }
    let s = subject.trim();
    if s.is_empty() {
        tag(prefix, number)
    } else {
        format!("{} {s}", tag(prefix, number))
    }
}

/// Reply and forward prefixes, compared case-insensitively, before a colon.
const PREFIXES: &[&str] = &[
    "re",
    "aw",
    "antw",
    "odp",
    "απ",
    "σχετ",
    "sv",
    "vs",
    "rif",
    "r",
    "réf",
    "ref",
    "res",
    "rv",
    "tr",
    "ynt",
    "enc",
    "fwd",
    "fw",
    "wg",
    "pd",
    "i",
    "答复",
    "回复",
    "转发",
    "antwort",
    "vá",
    "továbbítás",
    "doorst",
];

/// Strips one leading reply prefix (`Re:`, `AW:`, `Re[2]:`, `Odp.:`, `答复：`).
fn strip_prefix_once(s: &str) -> Option<&str> {
    let colon = s.find([':', '：'])?;
    let head = s[..colon].trim().trim_end_matches('.');
    let head = match head.find(['[', '(']) {
        Some(b)
            if head.ends_with([']', ')'])
                && head[b + 1..head.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_digit()) =>
        {
            &head[..b]
        }
        _ => head,
    };
    let head = head.trim().to_lowercase();
    PREFIXES
        .contains(&head.as_str())
        .then(|| s[colon..].trim_start_matches([':', '：']).trim_start())
}

/// Strips one leading `[anything]` tag (ticket tags, mailing-list names).
fn strip_bracket_once(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('[')?;
    let end = rest.find(']')?;
    Some(rest[end + 1..].trim_start())
}

/// The subject without reply/forward prefixes, bracket tags, case, accents
/// or extra whitespace: `Re: AW: [list] Re[2]: Printer  Broken` →
/// `printer broken`, `Re: ΕΚΤΥΠΩΤΗΣ` = `Εκτυπωτής` (see [`super::fold`]).
pub fn normalize(subject: &str) -> String {
    let mut s = subject.trim();
    while let Some(rest) = strip_prefix_once(s).or_else(|| strip_bracket_once(s)) {
        s = rest.trim_start();
    }
    // Bounded like every subject we keep: enough to tell conversations apart.
    let words: String = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(super::MAX_ECHOED_SUBJECT)
        .collect();
    super::fold::fold(&words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert_eq!(find_tag("Re: [#42] Printer", "#"), Some(42));
        assert_eq!(find_tag("[Support #7] x", "Support #"), Some(7));
        assert_eq!(find_tag("[support #7] x", "Support #"), Some(7));
        assert_eq!(find_tag("[#] x [#12a] y", "#"), None);
        assert_eq!(find_tag("see [#3] and [#4]", "#"), Some(3));
        assert_eq!(tagged("Printer", "#", 5), "[#5] Printer");
        assert_eq!(tagged("Re: [#5] Printer", "#", 5), "Re: [#5] Printer");
        assert_eq!(tagged("", "#", 5), "[#5]");
    }

    #[test]
    fn normalizes_many_languages() {
        for s in [
            "Printer broken",
            "Re: Printer broken",
            "RE: re: Printer   broken",
            "AW: [EXT] Re: printer broken",
            "Re[2]: Printer broken",
            "Odp.: Printer broken",
            "Απ: Printer broken",
            "ΣΧΕΤ: Printer broken",
            "答复: 回复: Printer broken",
            "R: R: R: Printer broken",
            "Fwd: Re: [#12] Printer broken",
            "[USRP-users] Re: Printer broken",
            "SV: Printer broken",
        ] {
            assert_eq!(normalize(s), "printer broken", "{s}");
        }
        assert_eq!(normalize("Re: "), "");
        assert_eq!(normalize("Report: sales"), "report: sales");
        // Capitals typed without accents are the same subject.
        assert_eq!(
            normalize("ΣΧΕΤ: ΕΚΤΥΠΩΤΗΣ ΧΑΛΑΣΜΕΝΟΣ"),
            normalize("Εκτυπωτής χαλασμένος")
        );
        assert_eq!(normalize("Odp: DRUKARKA NIE DZIAŁA"), "drukarka nie dziala");
    }
}
