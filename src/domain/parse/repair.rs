//! Reading headers the wider world writes wrong: a sender's address as
//! written when the parser lost its local part (quoted, encoded-word,
//! bare), display names without comments, raw 8-bit subjects in legacy
//! charsets, and encoded-words whose bytes are not what their label says.
//! Every repair is flagged on the message by the caller.

use super::{ParsedMail, flags, no_nul};
use crate::domain::model::Address;
use mail_parser::MimeHeaders;

/// The addr-spec of a raw address header, as written: inside `<…>` when
/// there is one, else the value without comments; unfolded.
pub(super) fn raw_addr_spec(value: &str) -> Option<String> {
    let v: String = value.split(['\r', '\n']).collect::<Vec<_>>().join(" ");
    let spec = match (v.rfind('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => v[a + 1..b].to_string(),
        _ => {
            let mut depth = 0usize;
            v.chars()
                .filter(|c| {
                    match c {
                        '(' => depth += 1,
                        ')' => {
                            depth = depth.saturating_sub(1);
                            return false;
                        }
                        _ => {}
                    }
                    depth == 0
                })
                .collect()
        }
    };
    let spec = spec.trim().to_string();
    (!spec.is_empty() && !spec.contains(char::is_control)).then_some(spec)
}

/// A display name as written without its comments (parentheses outside
/// quotes, escapes honoured) and its quotes; None when it has no comment.
pub(super) fn phrase_without_comments(phrase: &str) -> Option<String> {
    let (mut out, mut depth, mut quoted, mut escaped, mut had) =
        (String::new(), 0usize, false, false, false);
    for c in phrase.chars() {
        if escaped {
            if depth == 0 {
                out.push(c);
            }
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' if depth == 0 => quoted = !quoted,
            '(' if !quoted => {
                depth += 1;
                had = true;
            }
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    had.then(|| out.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The sender as written when the parser lost part of it. An address must
/// never lose its local part: `=?utf-8?Q?agent?=@example.com` read as
/// `@example.com` would match a whole domain. A bare local part is kept
/// too (it names the sender, though nobody can be answered there).
pub(super) fn repair_sender(p: &mut ParsedMail, raw: Option<&str>) {
    let Some(spec) = raw.and_then(raw_addr_spec) else {
        return;
    };
    let name = p.from.as_ref().and_then(|a| a.name.clone());
    let lost_local = p.from.as_ref().is_some_and(|a| a.email.starts_with('@'));
    if lost_local && spec.contains('@') && !spec.starts_with('@') {
        p.flags.push(flags::ADDRESS_REPAIRED);
        if spec.contains("=?") {
            p.flags.push(flags::ENCODED_LOCAL_PART);
        }
        // The name as written before `<`, unless it is itself encoded.
        let written = raw
            .and_then(|r| r.rsplit_once('<'))
            .map(|(n, _)| n.trim().trim_matches('"').trim())
            .filter(|n| !n.is_empty() && !n.contains("=?"))
            .map(no_nul);
        let name = written.or(name);
        p.from = Some(Address::new(&no_nul(&spec), name.as_deref()));
    } else if p.from.is_none()
        && !spec.contains('@')
        && !spec.contains(char::is_whitespace)
        && spec
            .chars()
            .all(|c| c.is_alphanumeric() || "._+-".contains(c))
    {
        p.flags.push(flags::BARE_LOCAL_PART);
        // `Moderator <moderator>`, or `MAILER-DAEMON (Mail Delivery System)`.
        let raw = raw.unwrap_or_default();
        let name = match raw.split_once('<') {
            Some((n, _)) => Some(n),
            None => raw
                .split_once('(')
                .and_then(|(_, c)| c.rsplit_once(')'))
                .map(|(c, _)| c),
        }
        .map(|n| n.trim().trim_matches('"').trim())
        .filter(|n| !n.is_empty() && *n != spec)
        .map(no_nul);
        p.from = Some(Address::new(&spec, name.as_deref()));
    }
}

/// The raw bytes of header `name` (its continuation lines joined), when
/// they hold 8-bit bytes that are not UTF-8 and no encoded-word.
pub(super) fn raw_header(block: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    for line in block.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match &mut out {
            Some(v) if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') => {
                v.push(b' ');
                v.extend_from_slice(line.trim_ascii_start());
            }
            Some(_) => break,
            None => {
                if let Some(colon) = line.iter().position(|&b| b == b':')
                    && line[..colon]
                        .trim_ascii()
                        .eq_ignore_ascii_case(name.as_bytes())
                {
                    out = Some(line[colon + 1..].trim_ascii().to_vec());
                }
            }
        }
    }
    out.filter(|v| {
        v.iter().any(|&b| b >= 0x80)
            && std::str::from_utf8(v).is_err()
            && !v.windows(2).any(|w| w == b"=?")
    })
}

/// The charset the message's text declares, when it is a legacy one.
pub(super) fn body_charset(
    msg: &mail_parser::Message<'_>,
) -> Option<&'static encoding_rs::Encoding> {
    let label = msg
        .text_part(0)
        .and_then(|p| p.content_type())
        .and_then(|ct| ct.attribute("charset"))
        .or_else(|| {
            msg.root_part()
                .content_type()
                .and_then(|ct| ct.attribute("charset"))
        })?;
    encoding_rs::Encoding::for_label(label.trim().as_bytes())
        .filter(|e| *e != encoding_rs::UTF_8 && e.is_ascii_compatible())
}

/// Charsets that mislabelled or narrowly labelled words turn out to be:
/// their wider Microsoft and national supersets.
pub(super) fn wider_charsets(label: &str) -> Vec<&'static encoding_rs::Encoding> {
    let mut out = Vec::new();
    if let Some(e) = encoding_rs::Encoding::for_label(label.as_bytes()) {
        out.push(e);
    }
    match label.to_ascii_lowercase().as_str() {
        "iso-2022-jp" | "iso2022jp" | "csiso2022jp" => {
            out.extend([encoding_rs::SHIFT_JIS, encoding_rs::EUC_JP])
        }
        "gb2312" | "gbk" | "euc-cn" | "x-gbk" => out.push(encoding_rs::GB18030),
        "ks_c_5601-1987" | "euc-kr" => out.push(encoding_rs::EUC_KR),
        "big5" => out.push(encoding_rs::BIG5),
        _ => {}
    }
    out
}

/// Decodes the encoded-words of a raw header value again, our way: the
/// bytes of adjacent words in one charset joined before decoding (a
/// character may be split across them), each run tried with its label and
/// then its wider relatives, else detected. None when nothing is better.
pub(super) fn redecode_words(raw: &str) -> Option<String> {
    static WORD: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let word = WORD
        .get_or_init(|| regex::Regex::new(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=").expect("valid"));
    let mut out = String::new();
    let mut last = 0;
    let mut run: Option<(String, Vec<u8>)> = None;
    let flush = |run: &mut Option<(String, Vec<u8>)>, out: &mut String| {
        if let Some((label, bytes)) = run.take() {
            let label = label.split('*').next().unwrap_or_default().to_string();
            let text = wider_charsets(&label)
                .into_iter()
                .find_map(|e| match e.decode_without_bom_handling(&bytes) {
                    (t, false) => Some(t.into_owned()),
                    _ => None,
                })
                .or_else(|| decode_legacy(&bytes, None))
                .unwrap_or_default();
            out.push_str(&text);
        }
    };
    for c in word.captures_iter(raw) {
        let m = c.get(0).expect("whole match");
        let between = &raw[last..m.start()];
        let label = c[1].to_ascii_lowercase();
        let payload = c[3].as_bytes();
        let bytes = if c[2].eq_ignore_ascii_case("b") {
            data_encoding::BASE64
                .decode(payload)
                .or_else(|_| data_encoding::BASE64_NOPAD.decode(payload.trim_ascii_end()))
                .ok()?
        } else {
            let mut v = Vec::new();
            let mut i = 0;
            while i < payload.len() {
                match payload[i] {
                    b'_' => v.push(b' '),
                    b'=' if i + 2 < payload.len() => {
                        let hex = std::str::from_utf8(payload.get(i + 1..i + 3)?).ok()?;
                        v.push(u8::from_str_radix(hex, 16).ok()?);
                        i += 2;
                    }
                    b => v.push(b),
                }
                i += 1;
            }
            v
        };
        let joins = between.trim().is_empty() && run.as_ref().is_some_and(|(l, _)| *l == label);
        if joins {
            run.as_mut().expect("a run").1.extend(bytes);
        } else {
            flush(&mut run, &mut out);
            // Whitespace between encoded-words disappears (RFC 2047 §6.2).
            if last == 0 || !between.trim().is_empty() {
                out.push_str(between);
            }
            run = Some((label, bytes));
        }
        last = m.end();
    }
    flush(&mut run, &mut out);
    out.push_str(&raw[last..]);
    (last > 0 && !out.contains('\u{fffd}')).then_some(out)
}

/// Legacy 8-bit bytes as text: with `declared` when it reads them without
/// error, else with the charset detection finds.
pub(super) fn decode_legacy(
    bytes: &[u8],
    declared: Option<&'static encoding_rs::Encoding>,
) -> Option<String> {
    if let Some(e) = declared
        && let (text, false) = e.decode_without_bom_handling(bytes)
    {
        return Some(text.into_owned());
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    let guess = detector.guess(None, true);
    let (text, _) = guess.decode_without_bom_handling(bytes);
    Some(text.into_owned())
}
