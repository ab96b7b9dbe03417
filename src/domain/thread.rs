//! Threading: which ticket a message belongs to. The rules run in a fixed
//! order and the first that matches wins; the caller looks up the facts the
//! rules need (tokens verified, stored Message-IDs, the tagged ticket) and
//! this module only decides, recording the rule and the value that matched.

use super::parse::ParsedMail;
use std::collections::HashMap;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    ReplyToken,
    InReplyTo,
    References,
    Embedded,
    SubjectTag,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::ReplyToken => "reply token",
            Rule::InReplyTo => "In-Reply-To",
            Rule::References => "References",
            Rule::Embedded => "Message-ID of the returned message",
            Rule::SubjectTag => "subject tag",
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
    /// The sender is a participant or an agent of that ticket.
    pub sender_known: bool,
}

/// The look-ups threading needs, done by the caller.
#[derive(Debug, Clone, Default)]
pub struct ThreadFacts {
    pub tokens: Vec<TokenFact>,
    /// Ticket of every stored Message-ID among the message's In-Reply-To,
    /// References and embedded IDs.
    pub known_ids: HashMap<String, i64>,
    pub tag: Option<TagFact>,
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
    for id in &m.in_reply_to {
        if let Some(&n) = facts.known_ids.get(id) {
            return existing(n, Rule::InReplyTo, format!("<{id}>"));
        }
    }
    for id in m.references.iter().rev() {
        if let Some(&n) = facts.known_ids.get(id) {
            return existing(n, Rule::References, format!("<{id}>"));
        }
    }
    for id in &m.embedded_message_ids {
        if let Some(&n) = facts.known_ids.get(id) {
            return existing(n, Rule::Embedded, format!("<{id}>"));
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
            tag: None,
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
}
