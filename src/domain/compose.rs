//! Outbound messages: the bytes of a mail we send, with the headers that keep
//! threads together and loops away (Message-ID carrying the recipient's
//! token, In-Reply-To/References, Reply-To, our loop header, and on
//! automatic mail Auto-Submitted and X-Auto-Response-Suppress).

use super::classify::LOOP_HEADER;
use super::model::Address;
use jiff::Timestamp;
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address as MbAddress;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;

/// A file attached to an outbound mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutAttachment {
    pub content_type: String,
    pub name: String,
    pub bytes: Vec<u8>,
    /// An image the HTML shows (`cid:`): sent inline beside the HTML.
    pub content_id: Option<String>,
}

/// Everything that goes into one outbound mail.
#[derive(Debug, Clone)]
pub struct Draft<'a> {
    pub from: &'a Address,
    pub to: &'a [Address],
    pub cc: &'a [Address],
    pub reply_to: Option<&'a str>,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: Option<&'a str>,
    /// Without angle brackets.
    pub message_id: &'a str,
    pub in_reply_to: Option<&'a str>,
    /// Oldest first.
    pub references: &'a [String],
    /// `auto-replied`, `auto-generated`, or None for a relayed human reply.
    pub auto_submitted: Option<&'a str>,
    /// The value of our loop header: the sending mailbox's address.
    pub loop_marker: &'a str,
    pub date: Timestamp,
    pub language: Option<&'a str>,
    pub attachments: &'a [OutAttachment],
}

/// Our Message-ID for a mail to the holder of `token`: `pd.TOKEN.NONCE@domain`.
pub fn message_id(token: &str, nonce: &str, domain: &str) -> String {
    format!("pd.{token}.{nonce}@{domain}")
}

fn mb_address(a: &Address) -> MbAddress<'_> {
    MbAddress::new_address(a.name.as_deref(), a.email.as_str())
}

fn mb_list(list: &[Address]) -> MbAddress<'_> {
    MbAddress::new_list(list.iter().map(mb_address).collect())
}

/// The mail as bytes (RFC 5322, CRLF line ends).
pub fn compose(d: &Draft<'_>) -> Vec<u8> {
    let mut b = MessageBuilder::new()
        .from(mb_address(d.from))
        .to(mb_list(d.to))
        .subject(d.subject)
        .message_id(d.message_id)
        .date(d.date.as_second())
        .header(LOOP_HEADER, Raw::new(d.loop_marker));
    if !d.cc.is_empty() {
        b = b.cc(mb_list(d.cc));
    }
    if let Some(r) = d.reply_to {
        b = b.reply_to(MbAddress::new_address(d.from.name.as_deref(), r));
    }
    if let Some(irt) = d.in_reply_to {
        b = b.in_reply_to(irt);
    }
    if !d.references.is_empty() {
        b = b.references(MessageId::new_list(d.references.iter().map(String::as_str)));
    }
    // Automatic mail says so, and asks responders to stay quiet. A relayed
    // reply is a person's words: no such marks, so the customer's
    // out-of-office reaches the ticket (where it is stored, never answered).
    if let Some(a) = d.auto_submitted {
        b = b.header("Auto-Submitted", Raw::new(a));
        b = b.header("X-Auto-Response-Suppress", Raw::new("All"));
    }
    if let Some(l) = d.language {
        b = b.header("Content-Language", Raw::new(l));
    }
    b = b.body(body(d));
    b.write_to_vec().expect("writing to a Vec cannot fail")
}

/// The MIME tree: the text (and its HTML alternative, with the images the
/// HTML shows beside it in a multipart/related), then the attachments.
fn body<'a>(d: &'a Draft<'a>) -> MimePart<'a> {
    let text = MimePart::new("text/plain", d.text);
    let shown = |a: &&OutAttachment| d.html.is_some() && a.content_id.is_some();
    let main = match d.html {
        None => text,
        Some(html) => {
            let alternative = MimePart::new(
                "multipart/alternative",
                vec![text, MimePart::new("text/html", html)],
            );
            let inline: Vec<MimePart<'a>> = d
                .attachments
                .iter()
                .filter(shown)
                .map(|a| {
                    MimePart::new(a.content_type.as_str(), a.bytes.as_slice())
                        .header(
                            "Content-Disposition",
                            ContentType::new("inline").attribute("filename", a.name.as_str()),
                        )
                        .cid(a.content_id.as_deref().unwrap_or_default())
                })
                .collect();
            if inline.is_empty() {
                alternative
            } else {
                let mut parts = vec![alternative];
                parts.extend(inline);
                MimePart::new("multipart/related", parts)
            }
        }
    };
    let files: Vec<MimePart<'a>> = d
        .attachments
        .iter()
        .filter(|a| !shown(a))
        .map(|a| {
            MimePart::new(a.content_type.as_str(), a.bytes.as_slice()).attachment(a.name.as_str())
        })
        .collect();
    if files.is_empty() {
        main
    } else {
        let mut parts = vec![main];
        parts.extend(files);
        MimePart::new("multipart/mixed", parts)
    }
}

/// References for a reply to a message: its References, then its own ID,
/// keeping the first and the latest ones when the chain grows long.
pub fn reply_references(parent_refs: &[String], parent_id: &str) -> Vec<String> {
    let mut refs: Vec<String> = parent_refs.to_vec();
    refs.push(parent_id.to_string());
    refs.dedup();
    const MAX: usize = 20;
    if refs.len() > MAX {
        let mut kept = vec![refs[0].clone()];
        kept.extend_from_slice(&refs[refs.len() - (MAX - 1)..]);
        refs = kept;
    }
    refs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::parse::parse;

    #[test]
    fn composed_mail_parses_back_with_every_header() {
        let from = Address::new("support@example.com", Some("Support"));
        let to = [Address::new("jane@example.org", Some("Jane Ω"))];
        let refs = reply_references(&["a@x".to_string()], "b@x");
        let raw = compose(&Draft {
            from: &from,
            to: &to,
            cc: &[],
            reply_to: Some("support+1-abc@example.com"),
            subject: "[#1] Ünïcode subject",
            text: "Hello\nthere",
            html: None,
            message_id: "pd.1-abc.n1@example.com",
            in_reply_to: Some("b@x"),
            references: &refs,
            auto_submitted: Some("auto-replied"),
            loop_marker: "support@example.com",
            date: "2026-11-26T10:00:00Z".parse().unwrap(),
            language: Some("en"),
            attachments: &[OutAttachment {
                content_id: None,
                content_type: "application/pdf".into(),
                name: "invoice.pdf".into(),
                bytes: b"%PDF-1.4 fake".to_vec(),
            }],
        });
        let p = parse(&raw);
        assert_eq!(p.message_id, "pd.1-abc.n1@example.com");
        assert_eq!(p.subject, "[#1] Ünïcode subject");
        assert_eq!(p.in_reply_to, vec!["b@x"]);
        assert_eq!(p.references, vec!["a@x", "b@x"]);
        assert_eq!(p.header("auto-submitted"), Some("auto-replied"));
        assert_eq!(p.header("x-auto-response-suppress"), Some("All"));
        assert_eq!(p.header("x-postdesk-loop"), Some("support@example.com"));
        assert_eq!(p.reply_to[0].email, "support+1-abc@example.com");
        assert_eq!(p.to[0].name.as_deref(), Some("Jane Ω"));
        assert!(p.text.contains("there"));
        assert!(p.flags.is_empty(), "{:?}", p.flags);
        assert_eq!(p.attachments.len(), 1);
        assert_eq!(p.attachments[0].name.as_deref(), Some("invoice.pdf"));
    }

    #[test]
    fn long_reference_chains_keep_root_and_latest() {
        let refs: Vec<String> = (0..30).map(|i| format!("{i}@x")).collect();
        let r = reply_references(&refs, "new@x");
        assert_eq!(r.len(), 20);
        assert_eq!(r[0], "0@x");
        assert_eq!(r.last().unwrap(), "new@x");
    }
}
