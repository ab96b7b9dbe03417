//! Satisfaction surveys: when a resolved ticket tells its customer and asks
//! for a rating, and how an answer by mail is read: a score from 1 to 5 at
//! the start of what the customer wrote (a digit, stars, a number word),
//! with any words after it kept as its comment. Only an answer that
//! carries the survey's own token is read this way (DESIGN §12).

use super::model::Status;

/// Is this change of status the step from working on the ticket to done
/// (resolved or closed), other than for spam or a merge? Then the customer
/// may be told (closing mail) and asked (survey).
pub fn finished(before: Status, after: Option<Status>, spam_or_merge: bool) -> bool {
    let done = |s: Status| matches!(s, Status::Resolved | Status::Closed);
    matches!(after, Some(s) if done(s)) && !done(before) && !spam_or_merge
}

/// A rating by mail, and the words that came with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    pub score: u8,
    /// What the customer added ("thanks!"), kept with the rating.
    pub comment: String,
}

/// Number words from one to five in the languages we answer in.
const NUMBER_WORDS: &[(&str, u8)] = &[
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("ένα", 1),
    ("ενα", 1),
    ("δύο", 2),
    ("δυο", 2),
    ("τρία", 3),
    ("τρια", 3),
    ("τέσσερα", 4),
    ("τεσσερα", 4),
    ("πέντε", 5),
    ("πεντε", 5),
    ("jeden", 1),
    ("jedna", 1),
    ("dwa", 2),
    ("dwie", 2),
    ("trzy", 3),
    ("cztery", 4),
    ("pięć", 5),
    ("piec", 5),
];

/// Words that may follow the number: "5/5", "4 stars", "4 αστέρια".
const QUALIFIERS: &[&str] = &[
    "/5",
    "/ 5",
    "out of 5",
    "of 5",
    "stars",
    "star",
    "αστέρια",
    "αστέρι",
    "αστερια",
    "στα 5",
    "στα πέντε",
    "gwiazdek",
    "gwiazdki",
    "gwiazdka",
    "na 5",
    "z 5",
];

/// The score at the start of `line` and what follows it, if the line
/// starts with one: a digit, a run of stars, or a number word.
fn score_at_start(line: &str) -> Option<(u8, &str, bool)> {
    let stars = line.chars().take_while(|c| *c == '★').count();
    if stars > 0 {
        let rest = line[stars * '★'.len_utf8()..].trim_start_matches('☆');
        return (1..=5)
            .contains(&stars)
            .then_some((stars as u8, rest, true));
    }
    let mut chars = line.chars();
    if let Some(d) = chars.next().and_then(|c| c.to_digit(10)) {
        let rest = chars.as_str();
        if rest.starts_with(|c: char| c.is_ascii_digit()) || !(1..=5).contains(&d) {
            return None;
        }
        return Some((d as u8, rest, false));
    }
    let lower = line.to_lowercase();
    NUMBER_WORDS.iter().find_map(|(w, n)| {
        let rest = lower.strip_prefix(w)?;
        // A whole word only: "fivefold" is not five.
        if rest.starts_with(char::is_alphanumeric) {
            return None;
        }
        Some((*n, &line[line.len() - rest.len()..], false))
    })
}

/// The rating in a customer's answer to the survey, if it starts with one:
/// `4`, `4/5`, `5 stars`, `★★★★`, a number word in English, Greek or
/// Polish. Words after it (on the same line after a comma, a dash or a
/// full stop, or on the lines below) are its comment: "4, thanks!". A bare
/// number followed by a word ("2 printers are still broken") is a message.
pub fn rating(own_text: &str) -> Option<Rating> {
    let mut lines = own_text.lines().map(str::trim).skip_while(|l| l.is_empty());
    let first = lines.next()?;
    let (score, rest, mut qualified) = score_at_start(first)?;
    let mut rest = rest.trim_start();
    let lower = rest.to_lowercase();
    if let Some(q) = QUALIFIERS.iter().find(|q| lower.starts_with(*q)) {
        rest = rest[q.len()..].trim_start();
        qualified = true;
    }
    let separated = rest.is_empty()
        || rest.starts_with([',', '.', '!', ':', ';', ')', '-', '–', '—', '*', '/'])
        || qualified;
    if !separated {
        return None;
    }
    let mut comment: Vec<&str> = vec![
        rest.trim_start_matches([',', '.', '!', ':', ';', ')', '-', '–', '—', '*', '/'])
            .trim(),
    ];
    comment.extend(lines);
    let comment = comment.join("\n").trim().to_string();
    Some(Rating { score, comment })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(text: &str) -> Option<u8> {
        rating(text).map(|r| r.score)
    }

    #[test]
    fn a_score_alone_is_a_rating() {
        assert_eq!(score("5"), Some(5));
        assert_eq!(score("  4.\n"), Some(4));
        assert_eq!(score("\n\n3/5\n"), Some(3));
        assert_eq!(score("1 star"), Some(1));
        assert_eq!(score("5 αστέρια!"), Some(5));
        assert_eq!(score("4 gwiazdki"), Some(4));
        assert_eq!(score("★★★★☆"), Some(4));
        assert_eq!(score("Five"), Some(5));
        assert_eq!(score("πέντε"), Some(5));
        assert_eq!(score("Cztery!"), Some(4));
    }

    #[test]
    fn words_after_the_score_are_its_comment() {
        let r = rating("4, thanks!").unwrap();
        assert_eq!((r.score, r.comment.as_str()), (4, "thanks!"));
        let r = rating("5, ευχαριστώ πολύ!").unwrap();
        assert_eq!((r.score, r.comment.as_str()), (5, "ευχαριστώ πολύ!"));
        let r = rating("5/5 szybko i konkretnie").unwrap();
        assert_eq!((r.score, r.comment.as_str()), (5, "szybko i konkretnie"));
        let r = rating("3\n\nThe answer came late, but it worked.").unwrap();
        assert_eq!(
            (r.score, r.comment.as_str()),
            (3, "The answer came late, but it worked.")
        );
        let r = rating("★★★★★ Great service").unwrap();
        assert_eq!((r.score, r.comment.as_str()), (5, "Great service"));
        let r = rating("Pięć! Wszystko działa.").unwrap();
        assert_eq!((r.score, r.comment.as_str()), (5, "Wszystko działa."));
        assert_eq!(rating("4!").unwrap().comment, "");
        assert_eq!(rating("4").unwrap().comment, "");
    }

    #[test]
    fn a_sentence_is_a_message_not_a_rating() {
        assert_eq!(score("2 printers are still broken"), None);
        assert_eq!(score("Two printers are still broken"), None);
        assert_eq!(score("It is broken again"), None);
        assert_eq!(score("0"), None);
        assert_eq!(score("6"), None);
        assert_eq!(score("45"), None);
        assert_eq!(score("Fivefold thanks"), None);
        assert_eq!(score(""), None);
    }

    #[test]
    fn only_the_step_to_done_finishes() {
        use Status::*;
        assert!(finished(Open, Some(Resolved), false));
        assert!(finished(Pending, Some(Closed), false));
        assert!(!finished(Resolved, Some(Closed), false), "already done");
        assert!(!finished(Open, Some(Closed), true), "spam or merge");
        assert!(!finished(Open, Some(Pending), false));
        assert!(!finished(Open, None, false));
    }
}
