//! Raw bytes to [`ParsedMail`]: the facts the later stages need, pulled out of
//! a message once. Parsing never fails: what cannot be understood is flagged
//! (see [`flags`]) and the raw bytes are kept by the caller regardless.

mod parts;
mod repair;

use super::model::{Address, flags};
use jiff::Timestamp;
use mail_parser::{HeaderValue, Message, MessageParser, MimeHeaders};
pub use parts::{attachments_of, files_and_html, files_of, html_of};
use repair::*;

/// Longest body text kept for templates and notifications, in bytes.
const MAX_TEXT: usize = 256 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attachment {
    pub name: Option<String>,
    pub content_type: String,
    pub size: usize,
}

/// One recipient of a delivery status notification (RFC 3464).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DsnRecipient {
    /// Final-Recipient (or Original-Recipient), lower-cased.
    pub recipient: String,
    /// `failed`, `delayed`, `delivered`, `relayed`, `expanded`.
    pub action: String,
    /// `5.1.1`
    pub status: String,
}

/// What we know about one message.
#[derive(Debug, Clone, Default)]
pub struct ParsedMail {
    /// Without angle brackets; made from the SHA-256 of the bytes when absent.
    pub message_id: String,
    pub from: Option<Address>,
    pub reply_to: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    /// Decoded, unfolded; empty when absent.
    pub subject: String,
    pub date: Option<Timestamp>,
    pub in_reply_to: Vec<String>,
    /// Oldest first, as written.
    pub references: Vec<String>,
    /// Top-level header fields: lower-cased name, unfolded raw value.
    pub headers: Vec<(String, String)>,
    /// `type/subtype` of the top-level part, lower-cased.
    pub content_type: String,
    /// Parameters of the top-level Content-Type (lower-cased names).
    pub content_type_params: Vec<(String, String)>,
    /// The readable text (HTML converted), at most [`MAX_TEXT`] bytes.
    pub text: String,
    pub attachments: Vec<Attachment>,
    /// Message-IDs found inside attached messages or `text/rfc822-headers`
    /// parts (what a bounce or a forward refers to).
    pub embedded_message_ids: Vec<String>,
    /// `Message-ID:` lines quoted in the text (plain-text bounces quote the
    /// returned message's header this way).
    pub quoted_message_ids: Vec<String>,
    /// The per-recipient fields of a delivery status notification, if any.
    pub dsn: Vec<DsnRecipient>,
    /// The conversation part of an Outlook `Thread-Index` (its first 22 bytes, hex).
    pub thread_index: Option<String>,
    /// See [`flags`].
    pub flags: Vec<&'static str>,
    pub size: usize,
    /// The envelope sender the delivering MTA stated (the `From ` line in
    /// front of a piped message); empty for the null sender. Set by the
    /// caller: it is not part of the message.
    pub envelope_from: Option<String>,
}

impl ParsedMail {
    /// The first value of a header field (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header field.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The envelope sender: the MTA's `From ` line when there was one (it
    /// is the MTA's own statement), else the Return-Path header the
    /// delivering MTA put on top. Empty for the null sender `<>`.
    pub fn return_path(&self) -> Option<&str> {
        self.envelope_from
            .as_deref()
            .or_else(|| self.header("return-path").map(strip_angles))
    }

    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// Where an answer goes: Reply-To if given, else From.
    pub fn reply_address(&self) -> Option<&Address> {
        self.reply_to.first().or(self.from.as_ref())
    }

    /// Every recipient address of the envelope and header: To, Cc,
    /// Delivered-To, X-Original-To (lower-cased, unique).
    pub fn recipient_addresses(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .to
            .iter()
            .chain(&self.cc)
            .map(|a| a.email.clone())
            .collect();
        for name in ["delivered-to", "x-original-to", "envelope-to"] {
            for v in self.headers_named(name) {
                out.push(strip_angles(v).to_lowercase());
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// Runs a mail-parser call, turning a panic inside the parser into None:
/// crafted mail can trip assertions in the parser, and one bad message must
/// never stop a mailbox.
fn guarded<T>(f: impl FnOnce() -> Option<T>) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .ok()
        .flatten()
}

fn guarded_parse(raw: &[u8]) -> Option<mail_parser::Message<'_>> {
    guarded(|| MessageParser::default().parse(raw))
}

/// `<id@host>` → `id@host`.
pub fn strip_angles(s: &str) -> &str {
    s.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
}

/// The SHA-256 of `raw`, in hex.
pub fn sha256_hex(raw: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, raw);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The Message-ID given to a message that has none.
pub fn synthetic_message_id(raw: &[u8]) -> String {
    format!("sha256-{}@postdesk.invalid", sha256_hex(raw))
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 995
        && !id.contains(|c: char| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    let mut out = Vec::new();
    match v {
        HeaderValue::Text(t) => out.push(t.to_string()),
        HeaderValue::TextList(l) => out.extend(l.iter().map(|t| t.to_string())),
        _ => {}
    }
    out.retain(|id| valid_id(id));
    out
}

fn addresses(v: Option<&mail_parser::Address<'_>>) -> Vec<Address> {
    v.map(|a| {
        a.iter()
            .filter_map(|x| {
                // Obsolete forms: a source route (`@relay:user@host`) and
                // whitespace around dots (`jdoe@machine. example`).
                let email: String = x.address()?.split_whitespace().collect();
                let email = match email.rsplit_once(':') {
                    Some((route, rest)) if route.starts_with('@') => rest.to_string(),
                    _ => email,
                };
                let email = email.as_str();
                (email.contains('@') && !email.contains(char::is_control))
                    .then(|| Address::new(email, x.name().map(no_nul).as_deref()))
            })
            .collect()
    })
    .unwrap_or_default()
}

/// Text without NUL characters (U+FFFD instead): nothing parsed from mail
/// carries a NUL into the rest of the program (PostgreSQL refuses them).
fn no_nul(s: &str) -> String {
    s.replace('\0', "\u{fffd}")
}

fn unfold(v: &str) -> String {
    let v = no_nul(v);
    let mut out = String::with_capacity(v.len());
    let mut last_space = false;
    for c in v.chars() {
        let c = if c == '\r' || c == '\n' || c == '\t' {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    out.trim().to_string()
}

/// `raw` from its first line that is not blank, when a header field
/// follows the blank lines; else `raw` as it is.
fn skip_leading_blank_lines(raw: &[u8]) -> &[u8] {
    let mut i = 0;
    while let Some(end) = raw[i..].iter().position(|&b| b == b'\n') {
        let line = &raw[i..i + end];
        if !line.iter().all(|b| b.is_ascii_whitespace()) {
            break;
        }
        i += end + 1;
    }
    let rest = &raw[i..];
    let first = rest.split(|&b| b == b'\n').next().unwrap_or_default();
    let looks_like_field = first
        .iter()
        .position(|&b| b == b':')
        .is_some_and(|c| c > 0 && first[..c].iter().all(|&b| (33..=126).contains(&b)));
    if i > 0 && looks_like_field { rest } else { raw }
}

/// The header block: the bytes before the first empty line.
fn header_block(raw: &[u8]) -> &[u8] {
    let mut i = 0;
    while i < raw.len() {
        let end = raw[i..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |p| i + p);
        let line = &raw[i..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return &raw[..i];
        }
        i = end + 1;
    }
    raw
}

/// True when every line of the header block is a field or a continuation.
fn header_block_well_formed(block: &[u8]) -> bool {
    let mut first = true;
    for line in block.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if first {
                return false;
            }
            continue;
        }
        // mbox "From " separator lines are tolerated at the very top.
        if first && line.starts_with(b"From ") {
            first = false;
            continue;
        }
        first = false;
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return false;
        };
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&b| (33..=126).contains(&b)) {
            return false;
        }
    }
    !first
}

fn to_timestamp(d: &mail_parser::DateTime) -> Option<Timestamp> {
    if !d.is_valid() {
        return None;
    }
    Timestamp::from_second(d.to_timestamp()).ok()
}

fn truncate_utf8(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// Converts HTML to readable plain text, a paragraph per line: wrapping
/// would break a long URL (it no longer works when relayed), and the
/// reader's mail client wraps anyway.
pub fn html_to_text(html: &str) -> String {
    html2text::config::plain()
        .no_link_wrapping()
        .string_from_read(html.as_bytes(), 100_000)
        .unwrap_or_else(|_| html.to_string())
}

/// As [`parse`], but a message over `max` bytes is read from its header only
/// (flagged `too-large`): a giant or pathological body is stored, never
/// taken apart. `full_size` is the size of the whole message when `raw`
/// already is just its header (fetched alone from IMAP).
pub fn parse_limited(raw: &[u8], max: u64, full_size: Option<u64>) -> ParsedMail {
    let size = full_size.unwrap_or(raw.len() as u64);
    if size <= max {
        return parse(raw);
    }
    let head = header_block(raw);
    let mut p = parse(head);
    if p.has_flag(flags::NO_MESSAGE_ID) {
        p.message_id = synthetic_message_id(raw);
    }
    p.flags
        .retain(|f| *f != flags::MALFORMED || !head.is_empty());
    p.flags.push(flags::TOO_LARGE);
    p.size = size as usize;
    p.text = format!(
        "(A message of {} bytes, over the limit of {max} bytes: only its header was read.)",
        size
    );
    p
}

/// Extracts everything the pipeline needs from `raw`. Never fails.
pub fn parse(whole: &[u8]) -> ParsedMail {
    let mut p = ParsedMail {
        size: whole.len(),
        ..ParsedMail::default()
    };
    // Blank or whitespace-only lines before the first header (some gateways
    // and web forms write them) would make the whole message a body.
    let raw = skip_leading_blank_lines(whole);
    if raw.len() != whole.len() {
        p.flags.push(flags::LEADING_BLANK_LINES);
    }
    let block = header_block(raw);
    if block.iter().any(|&b| b >= 0x80) {
        p.flags.push(flags::EIGHT_BIT_HEADERS);
    }
    let well_formed = header_block_well_formed(block);

    let parsed = guarded_parse(raw);
    if parsed.is_none() && !raw.is_empty() && header_block_well_formed(block) {
        p.flags.push(flags::PARSER_FAILED);
    }
    let Some(msg) = parsed.filter(|m| !m.headers().is_empty()) else {
        p.flags.push(flags::MALFORMED);
        p.flags.push(flags::NO_MESSAGE_ID);
        p.flags.push(flags::NO_SENDER);
        p.message_id = synthetic_message_id(whole);
        p.text = truncate_utf8(no_nul(&String::from_utf8_lossy(whole)), MAX_TEXT);
        return p;
    };
    if !well_formed {
        p.flags.push(flags::MALFORMED);
    }

    p.message_id = match msg.message_id().map(strip_angles) {
        Some(id) if valid_id(id) => id.to_string(),
        _ => {
            p.flags.push(flags::NO_MESSAGE_ID);
            synthetic_message_id(whole)
        }
    };
    read_sender(&mut p, &msg);
    p.reply_to = addresses(msg.reply_to());
    p.to = msg.all_to().flat_map(|a| addresses(Some(a))).collect();
    p.cc = msg.all_cc().flat_map(|a| addresses(Some(a))).collect();
    read_subject(&mut p, &msg, block);
    p.date = msg.date().and_then(to_timestamp);
    p.in_reply_to = ids(msg.in_reply_to());
    p.references = ids(msg.references());
    p.headers = msg
        .headers_raw()
        .map(|(n, v)| (n.to_ascii_lowercase(), unfold(v)))
        .collect();
    read_content_type(&mut p, &msg);

    let text = if msg.text_body_count() > 0 && msg.text_part(0).is_some_and(|t| !t.is_text_html()) {
        msg.body_text(0).map(|t| t.into_owned())
    } else if msg.html_body_count() > 0 {
        msg.body_html(0).map(|h| html_to_text(&h))
    } else {
        msg.body_text(0).map(|t| t.into_owned())
    };
    p.text = truncate_utf8(no_nul(&text.unwrap_or_default()), MAX_TEXT);

    read_attachments(&mut p, &msg);
    p.embedded_message_ids.retain(|id| valid_id(id));
    p.quoted_message_ids = quoted_message_ids(&p.text);
    p.thread_index = p.header("thread-index").and_then(thread_index_prefix);
    p
}

/// The sender: From's first address, repaired where clients break it.
fn read_sender(p: &mut ParsedMail, msg: &Message<'_>) {
    p.from = addresses(msg.from()).into_iter().next();
    repair_sender(p, msg.header_raw("From"));
    // Comments are no part of a name: `Pete(A wonderful \) chap) <…>` is Pete.
    if let Some(from) = p.from.as_mut()
        && let Some(phrase) = msg
            .header_raw("From")
            .and_then(|r| r.rsplit_once('<'))
            .map(|(n, _)| n)
        && let Some(name) = phrase_without_comments(phrase)
    {
        from.name = Some(no_nul(&name))
            .filter(|n| !n.is_empty() && !n.contains("=?"))
            .or(from.name.take());
    }
    if p.from.is_none() {
        p.flags.push(flags::NO_SENDER);
    }
}

/// The subject (and the sender's name), read right whatever charset
/// mistakes the sending client made.
fn read_subject(p: &mut ParsedMail, msg: &Message<'_>, block: &[u8]) {
    p.subject = msg.subject().map(unfold).unwrap_or_default();
    // A subject in raw 8-bit bytes of a legacy charset, declared nowhere:
    // read with the body's charset, else the one detection finds, never
    // as U+FFFD.
    if let Some(raw_subject) = raw_header(block, "subject")
        && let Some(text) = decode_legacy(&raw_subject, body_charset(msg))
    {
        p.subject = unfold(&text);
        p.flags.push(flags::CHARSET_DETECTED);
    }
    // Encoded-words whose bytes are not what their label says (ISO-2022-JP
    // carrying Shift_JIS), or a character split across two words.
    if p.subject.contains('\u{fffd}')
        && let Some(text) = msg.header_raw("Subject").and_then(redecode_words)
    {
        p.subject = unfold(&text);
        p.flags.push(flags::CHARSET_DETECTED);
    }
    if let Some(from) = p.from.as_mut()
        && from.name.as_deref().is_some_and(|n| n.contains('\u{fffd}'))
        && let Some(name) = msg
            .header_raw("From")
            .and_then(|v| v.split('<').next())
            .and_then(redecode_words)
    {
        from.name = Some(name.trim().trim_matches('"').trim().to_string());
        p.flags.push(flags::CHARSET_DETECTED);
    }
}

/// The top part's content type and its parameters (text/plain if none).
fn read_content_type(p: &mut ParsedMail, msg: &Message<'_>) {
    if let Some(ct) = msg.root_part().content_type() {
        p.content_type = match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        };
        if let Some(attrs) = ct.attributes() {
            p.content_type_params = attrs
                .iter()
                .map(|a| (a.name.to_ascii_lowercase(), a.value.to_string()))
                .collect();
        }
    } else {
        p.content_type = "text/plain".into();
    }
}

/// Attachments; the Message-IDs of mails inside them (a bounce's copy of
/// ours) and their delivery-status reports.
fn read_attachments(p: &mut ParsedMail, msg: &Message<'_>) {
    for part in msg.attachments() {
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(s) => format!("{}/{}", ct.ctype(), s),
                None => ct.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".into())
            .to_ascii_lowercase();
        if let Some(inner) = part.message() {
            if let Some(id) = inner.message_id() {
                p.embedded_message_ids.push(strip_angles(id).to_string());
            }
        } else if content_type == "text/rfc822-headers"
            && let Some(inner) = guarded(|| MessageParser::default().parse_headers(part.contents()))
            && let Some(id) = inner.message_id()
        {
            p.embedded_message_ids.push(strip_angles(id).to_string());
        }
        if content_type == "message/delivery-status"
            || content_type == "message/global-delivery-status"
        {
            p.dsn.extend(parse_dsn(part.contents()));
        }
        p.attachments.push(Attachment {
            name: part.attachment_name().map(no_nul),
            content_type,
            size: part.len(),
        });
    }
}

/// The conversation identifier of an Outlook Thread-Index: the first 22
/// bytes of the base64-decoded value (a 6-byte time and a 16-byte GUID).
pub fn thread_index_prefix(v: &str) -> Option<String> {
    let clean: String = v
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .collect();
    let bytes = data_encoding::BASE64_NOPAD.decode(clean.as_bytes()).ok()?;
    (bytes.len() >= 22).then(|| bytes[..22].iter().map(|b| format!("{b:02x}")).collect())
}

/// `Message-ID: <...>` lines quoted in a text (plain-text bounces).
fn quoted_message_ids(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines().take(2000) {
        let l = line.trim_start_matches(['>', ' ', '\t']);
        if let Some(head) = l.get(..11)
            && head.eq_ignore_ascii_case("message-id:")
        {
            let id = strip_angles(&l[11..]);
            if valid_id(id) && id.contains('@') {
                out.push(id.to_string());
            }
        }
    }
    out.dedup();
    out
}

/// The per-recipient groups of a `message/delivery-status` body.
fn parse_dsn(body: &[u8]) -> Vec<DsnRecipient> {
    let text = String::from_utf8_lossy(body);
    let mut out = Vec::new();
    let mut cur = DsnRecipient::default();
    let flush = |cur: &mut DsnRecipient, out: &mut Vec<DsnRecipient>| {
        if !cur.recipient.is_empty() || !cur.action.is_empty() {
            out.push(std::mem::take(cur));
        }
    };
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            flush(&mut cur, &mut out);
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "final-recipient" | "original-recipient" if cur.recipient.is_empty() => {
                let addr = value.split_once(';').map_or(value, |(_, a)| a).trim();
                cur.recipient = strip_angles(addr).to_lowercase();
            }
            "action" => cur.action = value.to_ascii_lowercase(),
            "status" => {
                cur.status = value
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string()
            }
            _ => {}
        }
    }
    flush(&mut cur, &mut out);
    out.retain(|r| !r.action.is_empty() || !r.status.is_empty());
    out
}

#[cfg(test)]
mod tests;
