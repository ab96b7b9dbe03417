//! What a source hands to ingest ([`Incoming`]), and the same message with
//! the work that needs no database done ([`Prepared`]): parsed, its arrival
//! time read, the language of its text detected. Preparing is pure, so
//! `postdesk ingest` prepares the next message on its reading thread while
//! the one before is stored. The daemon prepares inline: on tokio's
//! blocking pool, preparing ahead cost more CPU than it saved
//! (BENCHMARKS.md).

use crate::domain::language;
use crate::domain::parse::{ParsedMail, parse_limited};
use jiff::Timestamp;
use std::borrow::Cow;

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `postdesk ingest` or an MTA pipe.
    Direct,
    /// An IMAP message, to be flagged after commit. `header_only`: only its
    /// header was fetched (it is over `max_message_size`), so it must not be
    /// deleted from the server.
    Imap {
        uidvalidity: u32,
        uid: u32,
        header_only: bool,
    },
}

/// When a message arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    Now,
    At(Timestamp),
    /// The message's own Date header (now when it has none).
    DateHeader,
}

/// One incoming message, as its source hands it over.
#[derive(Debug, Clone)]
pub struct Incoming<'a> {
    pub raw: Cow<'a, [u8]>,
    /// The whole message's size when `raw` is only its header (IMAP, over
    /// `max_message_size`).
    pub full_size: Option<u64>,
    /// The envelope sender an MTA stated in front of a piped message
    /// (empty for the null sender).
    pub envelope_from: Option<String>,
    pub arrival: Arrival,
    pub source: Source,
}

impl<'a> Incoming<'a> {
    /// A whole message with nothing known about its envelope.
    pub fn new(raw: impl Into<Cow<'a, [u8]>>, arrival: Arrival, source: Source) -> Self {
        Incoming {
            raw: raw.into(),
            full_size: None,
            envelope_from: None,
            arrival,
            source,
        }
    }
}

/// An incoming message ready for the database.
#[derive(Debug)]
pub struct Prepared<'a> {
    pub(super) raw: Cow<'a, [u8]>,
    pub(super) mail: ParsedMail,
    /// None: when it is ingested.
    pub(super) received_at: Option<Timestamp>,
    pub(super) source: Source,
    /// The language its writer's own words are in (see
    /// [`language::detect`]); not looked for when Content-Language names
    /// one we ship, which wins anyway.
    pub(super) text_language: Option<&'static str>,
}

impl<'a> Prepared<'a> {
    /// Parses `incoming` (at most `max_message_size` of it, see
    /// [`parse_limited`]) and reads what the rules will ask of its text.
    pub fn new(incoming: Incoming<'a>, max_message_size: u64) -> Prepared<'a> {
        let mut mail = parse_limited(&incoming.raw, max_message_size, incoming.full_size);
        mail.envelope_from = incoming.envelope_from;
        let received_at = match incoming.arrival {
            Arrival::Now => None,
            Arrival::At(t) => Some(t),
            Arrival::DateHeader => mail.date,
        };
        let declared = mail.header("content-language").and_then(language::shipped);
        let text_language = match declared {
            Some(_) => None,
            None => language::detect(&mail.text),
        };
        Prepared {
            raw: incoming.raw,
            mail,
            received_at,
            source: incoming.source,
            text_language,
        }
    }

    /// The message's size as it came.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GREEK: &str = "Καλημέρα σας, η παραγγελία μου δεν έχει φτάσει ακόμα. \
                         Μπορείτε να ελέγξετε τι συμβαίνει;";

    fn prepared(extra_header: &str, arrival: Arrival) -> Prepared<'static> {
        let raw = format!(
            "From: a@example.test\r\nTo: s@example.test\r\nSubject: parcel\r\n\
             Message-ID: <1@example.test>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\
             Content-Type: text/plain; charset=utf-8\r\n{extra_header}\r\n{GREEK}\r\n"
        );
        Prepared::new(
            Incoming::new(raw.into_bytes(), arrival, Source::Direct),
            1 << 20,
        )
    }

    #[test]
    fn the_text_language_is_looked_for_unless_a_shipped_one_is_declared() {
        assert_eq!(prepared("", Arrival::Now).text_language, Some("el"));
        // Content-Language wins anyway: no need to read the text.
        let declared = prepared("Content-Language: pl\r\n", Arrival::Now);
        assert_eq!(declared.text_language, None);
        // A language we do not ship decides nothing: the text does.
        let other = prepared("Content-Language: fi\r\n", Arrival::Now);
        assert_eq!(other.text_language, Some("el"));
    }

    #[test]
    fn the_arrival_time_is_read_as_the_source_says() {
        assert_eq!(prepared("", Arrival::Now).received_at, None);
        let date: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        assert_eq!(prepared("", Arrival::DateHeader).received_at, Some(date));
        let at: Timestamp = "2026-11-26T09:30:00Z".parse().unwrap();
        assert_eq!(prepared("", Arrival::At(at)).received_at, Some(at));
    }
}
