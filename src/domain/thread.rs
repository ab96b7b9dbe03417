//! Threading: which ticket a message belongs to. The rules run in a fixed
//! order and the first that matches wins; the caller looks up the facts the
//! rules need (tokens verified, stored Message-IDs, the tagged ticket, ...)
//! and this module only decides, recording the rule and the value that matched.
//!
//! 1. a verified reply token in a recipient address;
//! 2. In-Reply-To, then References newest first, against stored Message-IDs
//!    (ours included), then against IDs that earlier mail referred to;
//! 3. Message-IDs inside a returned message (bounces);
//! 4. the subject tag, from a participant of that ticket;
//! 5. Outlook's Thread-Index conversation;
//! 6. the same sender and normalized subject on a recent ticket that is not closed.

use super::parse::ParsedMail;
use std::collections::HashMap;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    ReplyToken,
    InReplyTo,
    References,
    ReferencedEarlier,
    Returned,
    SubjectTag,
    ThreadIndex,
    SenderSubject,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::ReplyToken => "reply token",
            Rule::InReplyTo => "In-Reply-To",
            Rule::References => "References",
            Rule::ReferencedEarlier => "an ID earlier mail referred to",
            Rule::Returned => "Message-ID of the returned message",
            Rule::SubjectTag => "subject tag",
            Rule::ThreadIndex => "Thread-Index",
            Rule::SenderSubject => "sender and subject",
        })
    }
}

/// A reply token found in a recipient address, after verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFact {
    pub token: String,
    pub ticket: i64,
    /// The address the token was issued to; None when it did not verify.
    pub issued_to: Option<String>,
}

/// What the store knows about the ticket named in the subject tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFact {
    pub ticket: i64,
    pub exists: bool,
    /// The sender is a participant or an agent of that ticket (or, when so
    /// configured, from the domain of a participant).
    pub sender_known: bool,
}

/// The look-ups threading needs, done by the caller.
#[derive(Debug, Clone, Default)]
pub struct ThreadFacts {
    pub tokens: Vec<TokenFact>,
    /// Ticket of every stored Message-ID among the message's In-Reply-To,
    /// References and returned-message IDs.
    pub known_ids: HashMap<String, i64>,
    /// Ticket of IDs that stored mail named in its In-Reply-To/References.
    pub referenced_ids: HashMap<String, i64>,
    /// Returned-message IDs count (bounces only).
    pub use_returned_ids: bool,
    /// The mail (Message-ID, ticket) whose signed envelope sender a bounce
    /// came back to: the surest link a bounce has.
    pub returned_mail: Option<(String, i64)>,
    pub tag: Option<TagFact>,
    /// A stored message of the same Thread-Index conversation: its ticket.
    pub thread_index: Option<i64>,
    /// A recent open ticket of the same sender and normalized subject.
    pub sender_subject: Option<(i64, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Threading {
    Existing {
        ticket: i64,
        rule: Rule,
        evidence: String,
    },
    /// A new conversation; `notes` say why rules that looked close did not apply.
    New { notes: Vec<String> },
}

impl Threading {
    pub fn ticket(&self) -> Option<i64> {
        match self {
            Threading::Existing { ticket, .. } => Some(*ticket),
            Threading::New { .. } => None,
        }
    }

    /// `threaded by References <abc@x>`.
    pub fn describe(&self) -> String {
        match self {
            Threading::Existing { rule, evidence, .. } => format!("threaded by {rule} {evidence}"),
            Threading::New { notes } if notes.is_empty() => "new conversation".into(),
            Threading::New { notes } => format!("new conversation ({})", notes.join("; ")),
        }
    }
}

/// Subjects too common to say two mails are one conversation (normalized).
const GENERIC_SUBJECTS: &[&str] = &[
    "",
    "hi",
    "hello",
    "hey",
    "help",
    "question",
    "questions",
    "a question",
    "support",
    "urgent",
    "info",
    "information",
    "request",
    "inquiry",
    "enquiry",
    "issue",
    "problem",
    "test",
    "no subject",
    "(no subject)",
    "[no subject]",
    "thanks",
    "thank you",
    "order",
    "invoice",
    "contact",
    "feedback",
    "hallo",
    "pytanie",
    "pomoc",
    "ερώτηση",
    "βοήθεια",
];

/// Can this normalized subject tie two mails together?
pub fn is_distinctive(normalized: &str) -> bool {
    normalized.chars().filter(|c| c.is_alphanumeric()).count() >= 4
        && !GENERIC_SUBJECTS.contains(&normalized)
}

pub fn thread(m: &ParsedMail, facts: &ThreadFacts) -> Threading {
    let mut notes = Vec::new();
    let existing = |ticket, rule, evidence: String| Threading::Existing {
        ticket,
        rule,
        evidence,
    };

    for t in &facts.tokens {
        match &t.issued_to {
            Some(_) => return existing(t.ticket, Rule::ReplyToken, t.token.clone()),
            None => notes.push(format!("ignored forged or altered reply token {}", t.token)),
        }
    }
    if facts.use_returned_ids
        && let Some((id, n)) = &facts.returned_mail
    {
        return existing(
            *n,
            Rule::Returned,
            format!("<{id}> (its signed envelope sender)"),
        );
    }
    let parents: Vec<(&String, Rule)> = m
        .in_reply_to
        .iter()
        .map(|id| (id, Rule::InReplyTo))
        .chain(m.references.iter().rev().map(|id| (id, Rule::References)))
        .collect();
    for (id, rule) in &parents {
        if let Some(&n) = facts.known_ids.get(*id) {
            return existing(n, *rule, format!("<{id}>"));
        }
    }
    for (id, _) in &parents {
        if let Some(&n) = facts.referenced_ids.get(*id) {
            return existing(n, Rule::ReferencedEarlier, format!("<{id}>"));
        }
    }
    if facts.use_returned_ids {
        for id in m.embedded_message_ids.iter().chain(&m.quoted_message_ids) {
            if let Some(&n) = facts.known_ids.get(id) {
                return existing(n, Rule::Returned, format!("<{id}>"));
            }
        }
    }
    if let Some(tag) = &facts.tag {
        match (tag.exists, tag.sender_known) {
            (true, true) => {
                return existing(tag.ticket, Rule::SubjectTag, format!("#{}", tag.ticket));
            }
            (true, false) => notes.push(format!(
                "subject tag #{} ignored: the sender is not a participant of that ticket",
                tag.ticket
            )),
            (false, _) => notes.push(format!("subject tag #{} names no ticket", tag.ticket)),
        }
    }
    if let (Some(n), Some(ti)) = (facts.thread_index, &m.thread_index) {
        return existing(n, Rule::ThreadIndex, ti[..16.min(ti.len())].to_string());
    }
    if let Some((n, subject)) = &facts.sender_subject {
        return existing(*n, Rule::SenderSubject, format!("{subject:?}"));
    }
    Threading::New { notes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::parse::parse;

    fn mail(headers: &str) -> ParsedMail {
        parse(format!("From: jane@example.org\r\n{headers}Subject: x\r\n\r\nbody").as_bytes())
    }

    #[test]
    fn token_beats_headers() {
        let m = mail("In-Reply-To: <a@x>\r\n");
        let facts = ThreadFacts {
            tokens: vec![TokenFact {
                token: "5-abc".into(),
                ticket: 5,
                issued_to: Some("jane@example.org".into()),
            }],
            known_ids: HashMap::from([("a@x".to_string(), 9)]),
            ..Default::default()
        };
        assert_eq!(thread(&m, &facts).ticket(), Some(5));
    }

    #[test]
    fn forged_token_is_ignored_and_noted() {
        let m = mail("");
        let facts = ThreadFacts {
            tokens: vec![TokenFact {
                token: "5-abc".into(),
                ticket: 5,
                issued_to: None,
            }],
            ..Default::default()
        };
        let t = thread(&m, &facts);
        assert_eq!(t.ticket(), None);
        assert!(t.describe().contains("forged"));
    }

    #[test]
    fn in_reply_to_then_references_newest_first() {
        let m = mail("In-Reply-To: <zz@x>\r\nReferences: <a@x> <b@x>\r\n");
        let facts = ThreadFacts {
            known_ids: HashMap::from([("a@x".to_string(), 1), ("b@x".to_string(), 2)]),
            ..Default::default()
        };
        let t = thread(&m, &facts);
        assert_eq!(t.ticket(), Some(2));
        assert_eq!(t.describe(), "threaded by References <b@x>");
        let m = mail("In-Reply-To: <a@x>\r\n");
        assert_eq!(
            thread(&m, &facts).describe(),
            "threaded by In-Reply-To <a@x>"
        );
    }

    #[test]
    fn stored_ids_beat_ids_referred_to_earlier() {
        let m = mail("References: <root@x> <mid@x>\r\n");
        let facts = ThreadFacts {
            known_ids: HashMap::from([("root@x".to_string(), 1)]),
            referenced_ids: HashMap::from([("mid@x".to_string(), 2)]),
            ..Default::default()
        };
        assert_eq!(thread(&m, &facts).ticket(), Some(1));
        let only_referenced = ThreadFacts {
            referenced_ids: HashMap::from([("mid@x".to_string(), 2)]),
            ..Default::default()
        };
        let t = thread(&m, &only_referenced);
        assert_eq!(
            t.describe(),
            "threaded by an ID earlier mail referred to <mid@x>"
        );
    }

    #[test]
    fn returned_ids_only_for_bounces() {
        let m = parse(b"From: MAILER-DAEMON@x\r\nSubject: failed\r\n\r\nMessage-ID: <ours@support.example>\r\n");
        let mut facts = ThreadFacts {
            known_ids: HashMap::from([("ours@support.example".to_string(), 7)]),
            ..Default::default()
        };
        assert_eq!(thread(&m, &facts).ticket(), None);
        facts.use_returned_ids = true;
        assert_eq!(thread(&m, &facts).ticket(), Some(7));
    }

    #[test]
    fn subject_tag_only_for_known_senders() {
        let m = mail("");
        let mut facts = ThreadFacts {
            tag: Some(TagFact {
                ticket: 3,
                exists: true,
                sender_known: true,
            }),
            ..Default::default()
        };
        assert_eq!(thread(&m, &facts).ticket(), Some(3));
        facts.tag.as_mut().unwrap().sender_known = false;
        let t = thread(&m, &facts);
        assert_eq!(t.ticket(), None);
        assert!(t.describe().contains("not a participant"));
    }

    #[test]
    fn thread_index_then_sender_subject() {
        let m = mail("Thread-Index: AdC0xOxFwE/tigzGSJa9glHhu/rfhwAAPsBAAAAKniAAALxy8A==\r\n");
        let facts = ThreadFacts {
            thread_index: Some(4),
            sender_subject: Some((5, "printer".into())),
            ..Default::default()
        };
        assert_eq!(thread(&m, &facts).ticket(), Some(4));
        let plain = mail("");
        assert_eq!(
            thread(&plain, &facts).describe(),
            "threaded by sender and subject \"printer\""
        );
    }

    #[test]
    fn generic_subjects_never_tie_mails() {
        assert!(!is_distinctive(""));
        assert!(!is_distinctive("help"));
        assert!(!is_distinctive("hi!"));
        assert!(is_distinctive("printer on floor 2 shows e42"));
    }
}
