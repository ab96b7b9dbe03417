//! Satisfaction surveys: when a resolved ticket tells its customer and asks
//! for a rating, and how an answer by mail is read. A rating is a digit from 1 to
//! 5 standing alone on the first line the customer wrote (above the quote),
//! optionally with `/5`, a `.` or `!`, or the word "stars"; anything longer
//! is a message, and is handled as one (it may reopen the ticket).

use super::model::Status;
use super::reply::trim_reply;

/// Is this change of status the step from working on the ticket to done
/// (resolved or closed), other than for spam or a merge? Then the customer
/// may be told (closing mail) and asked (survey).
pub fn finished(before: Status, after: Option<Status>, spam_or_merge: bool) -> bool {
    let done = |s: Status| matches!(s, Status::Resolved | Status::Closed);
    matches!(after, Some(s) if done(s)) && !done(before) && !spam_or_merge
}

/// Should this change of status send the survey? When it [`finished`] the
/// ticket, and only once per ticket.
pub fn asks_for_rating(
    before: Status,
    after: Option<Status>,
    spam_or_merge: bool,
    already_sent: bool,
) -> bool {
    finished(before, after, spam_or_merge) && !already_sent
}

/// The rating in a customer's answer, if the answer is one.
pub fn rating(text: &str) -> Option<u8> {
    let own = trim_reply(text);
    let first = own.lines().map(str::trim).find(|l| !l.is_empty())?;
    let mut chars = first.chars();
    let digit = chars.next()?.to_digit(10)?;
    if !(1..=5).contains(&digit) {
        return None;
    }
    let rest = chars.as_str().trim().to_lowercase();
    let rest = rest
        .trim_start_matches("/5")
        .trim_start_matches("/ 5")
        .trim();
    let rest = rest
        .trim_start_matches("stars")
        .trim_start_matches("star")
        .trim_start_matches("αστέρια")
        .trim_start_matches("gwiazdek")
        .trim_start_matches("gwiazdki")
        .trim();
    rest.chars()
        .all(|c| matches!(c, '.' | '!' | '*' | ')'))
        .then_some(digit as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digit_alone_is_a_rating() {
        assert_eq!(rating("5"), Some(5));
        assert_eq!(rating("  4.\n"), Some(4));
        assert_eq!(rating("\n\n3/5\n\nthanks"), Some(3));
        assert_eq!(rating("1 star"), Some(1));
        assert_eq!(rating("5 αστέρια!"), Some(5));
        assert_eq!(rating("4 gwiazdki"), Some(4));
        assert_eq!(
            rating(
                "5\r\n\r\nOn Thu, 26 Nov 2026 at 10:00, Support <s@example.com> wrote:\r\n> Rate us 1 to 5\r\n"
            ),
            Some(5)
        );
    }

    #[test]
    fn a_sentence_is_a_message_not_a_rating() {
        assert_eq!(rating("2 printers are still broken"), None);
        assert_eq!(rating("It is broken again"), None);
        assert_eq!(rating("0"), None);
        assert_eq!(rating("6"), None);
        assert_eq!(rating("45"), None);
        assert_eq!(rating("> 5\n"), None, "only the quote");
        assert_eq!(rating(""), None);
    }

    #[test]
    fn only_the_step_to_done_asks_and_only_once() {
        use Status::*;
        assert!(asks_for_rating(Open, Some(Resolved), false, false));
        assert!(asks_for_rating(Pending, Some(Closed), false, false));
        assert!(
            !asks_for_rating(Resolved, Some(Closed), false, false),
            "already done"
        );
        assert!(
            !asks_for_rating(Open, Some(Closed), true, false),
            "spam or merge"
        );
        assert!(
            !asks_for_rating(Open, Some(Resolved), false, true),
            "sent before"
        );
        assert!(!asks_for_rating(Open, Some(Pending), false, false));
        assert!(!asks_for_rating(Open, None, false, false));
    }
}
