//! The marks mail clients leave around a quote, in the languages postdesk
//! reads (en, el, pl, and the common others): attribution lines ("On …
//! wrote:", "Στις … έγραψε:", "W dniu … napisał:"), Outlook header blocks
//! and separators, forwarded-message lines, device lines ("Sent from my
//! iPhone"), signature and footer markers. Tables and their matchers; the
//! trimming that uses them is in the parent module.

use super::*;

pub(super) const ATTRIBUTION_VERBS: &[&str] = &[
    "wrote",
    "writes",
    "schrieb",
    "schreef",
    "a écrit",
    "escribió",
    "escreveu",
    "ha scritto",
    "scrisse",
    "napisał",
    "napisała",
    "napisał(a)",
    "napisal",
    "napisana przez",
    " pisze",
    "έγραψε",
    "skrev",
    "kirjoitti",
    "napsal",
    "napísal",
    "írta",
    "a scris",
    "написал",
    "написала",
    "написав",
    "пише",
    "пишет",
    "yazdı",
    "kirjutas",
    "rašė",
    "rakstīja",
    "je napisal",
    "je napisala",
    "va escriure",
    "kirjoitti:",
    "كتب",
    "כתב",
    "写道",
    "寫道",
    "のメッセージ",
    "さんは書きました",
    "님이 작성",
    "작성:",
    "wrote the following",
];

/// Does this text (one line, or a wrapped one joined) say who wrote the
/// quote below it?
pub(super) fn attribution_text(joined: &str) -> bool {
    // Every form below ends with a colon, is dashed, or holds an address:
    // asked of many lines, most are answered without lower-casing them.
    let t = joined.trim();
    if !(t.ends_with([':', '：']) || t.contains('@') || (t.starts_with("--") && t.ends_with("--")))
    {
        return false;
    }
    let lower = t.to_lowercase();
    if lower.is_empty() || lower.chars().count() > 400 {
        return false;
    }
    let verb = ATTRIBUTION_VERBS.iter().any(|v| lower.contains(v));
    let ends = lower.ends_with(':') || lower.ends_with('：');
    // "---- John Smith wrote ----"
    let dashed = lower.starts_with("--") && lower.ends_with("--");
    // "2017-11-24 16:32 GMT+01:00 Name <a@b>:" or "24.11.2017, 16:32, "Name" <a@b>:"
    let date_first = ends && lower.contains('@') && digit_groups(&lower) >= 3;
    (verb && (ends || dashed || lower.contains('@'))) || date_first
}

/// How many runs of digits a text has (a date and a time have three or more).
pub(super) fn digit_groups(s: &str) -> usize {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|d| !d.is_empty())
        .count()
}

/// The attribution that ends at line `end` (the last line above a quote):
/// its first line. The line alone, or with the one or two lines above it
/// (a wrapped attribution), never across a blank line; lines above are
/// taken in when they open an attribution ("On Mon, 30 Nov …", a date).
pub(super) fn attribution_ending(lines: &[&str], end: usize) -> Option<usize> {
    let opens = |l: &str| {
        let t = unquote(l).1.trim();
        let lower = format!(" {}", t.to_lowercase());
        OPENERS.iter().any(|o| lower.starts_with(&o.to_lowercase())) || digit_groups(t) >= 2
    };
    let mut found = None;
    for start in (end.saturating_sub(2)..=end).rev() {
        if lines[start].trim().is_empty() {
            break;
        }
        let joined: Vec<&str> = lines[start..=end]
            .iter()
            .map(|l| unquote(l).1.trim())
            .collect();
        if attribution_text(&joined.join(" ")) && (found.is_none() || opens(lines[start])) {
            found = Some(start);
        } else if found.is_some() {
            break;
        }
    }
    found
}

/// Openers of attribution lines, for a line that starts with the writer's
/// own words and ends with the attribution ("Thanks! On Mon, … wrote:").
pub(super) const OPENERS: &[&str] = &[
    " On ",
    " on ",
    " Le ",
    " Am ",
    " El ",
    " Il ",
    " Em ",
    " Op ",
    " W dniu ",
    " Dnia ",
    " Στις ",
    " Den ",
    " På ",
    " В ",
    " У ",
];

/// Splits a line where the writer's words run into an attribution that is
/// followed by a quote.
pub(super) fn split_shared_lines(text: &str) -> String {
    // Gmail's tracking mark (a lone U+1427) is no one's words.
    let lines: Vec<&str> = text.lines().filter(|l| l.trim() != "\u{1427}").collect();
    let mut out = String::with_capacity(text.len() + 16);
    let mut first = true;
    let mut push = |part: &str| {
        if !std::mem::take(&mut first) {
            out.push('\n');
        }
        out.push_str(part);
    };
    for (i, line) in lines.iter().enumerate() {
        // "Bob **From: **bob@…" (an HTML reply whose signature and the
        // quoted header block share a line), with header fields below.
        let fields_below = lines
            .get(i + 1)
            .is_some_and(|l| header_field(unquote(l).1, OTHER_FIELDS));
        let glued = fields_below
            .then(|| {
                line.match_indices(" *")
                    .map(|(a, _)| a + 1)
                    .find(|&a| header_field(&line[a..], FROM_FIELDS))
            })
            .flatten();
        if let Some(at) = glued {
            push(line[..at].trim_end());
            push(&line[at..]);
            continue;
        }
        let quote_below = lines[i + 1..]
            .iter()
            .find(|l| !l.trim().is_empty())
            .is_some_and(|l| unquote(l).0 > 0);
        let split = quote_below
            && OPENERS.iter().any(|o| {
                line.find(o)
                    .is_some_and(|at| at > 0 && attribution_text(&line[at..]))
            });
        if split {
            let at = OPENERS
                .iter()
                .filter_map(|o| {
                    line.find(o)
                        .filter(|&a| a > 0 && attribution_text(&line[a..]))
                })
                .min()
                .expect("found above");
            push(line[..at].trim_end());
            push(line[at..].trim_start());
        } else {
            push(line);
        }
    }
    out
}

/// Names of the sender field of a header block, in the languages mail
/// clients are localised to (`From:`, `De :`, `Von:`, `Od:`, `Από:` ...).
pub(super) const FROM_FIELDS: &[&str] = &[
    "from",
    "de",
    "von",
    "van",
    "od",
    "από",
    "apo",
    "da",
    "fra",
    "från",
    "fran",
    "lähettäjä",
    "от",
    "від",
    "feladó",
    "kimden",
    "mittente",
    "remitente",
    "expéditeur",
    "afzender",
    "nadawca",
    "发件人",
    "發件人",
    "寄件者",
    "差出人",
    "보낸 사람",
    "المرسل",
    "من",
    "odesílatel",
    "pošiljatelj",
    "saatja",
    "siuntėjas",
    "sender",
];
/// Other fields of a header block (date, recipients, subject).
pub(super) const OTHER_FIELDS: &[&str] = &[
    "sent",
    "date",
    "to",
    "cc",
    "subject",
    "envoyé",
    "envoyé le",
    "date",
    "à",
    "objet",
    "gesendet",
    "datum",
    "an",
    "betreff",
    "verzonden",
    "aan",
    "onderwerp",
    "wysłano",
    "wysłane",
    "data",
    "do",
    "temat",
    "dw",
    "στάλθηκε",
    "ημερομηνία",
    "προς",
    "κοιν",
    "θέμα",
    "inviato",
    "data",
    "a",
    "oggetto",
    "enviado",
    "fecha",
    "para",
    "asunto",
    "assunto",
    "sendt",
    "til",
    "emne",
    "skickat",
    "till",
    "ämne",
    "lähetetty",
    "vastaanottaja",
    "aihe",
    "отправлено",
    "дата",
    "кому",
    "тема",
    "надіслано",
    "küldve",
    "címzett",
    "tárgy",
    "gönderildi",
    "kime",
    "konu",
    "trimis",
    "către",
    "subiect",
    "odesláno",
    "komu",
    "předmět",
    "发送时间",
    "收件人",
    "主题",
    "日期",
    "傳送時間",
    "收件者",
    "主旨",
    "送信日時",
    "宛先",
    "件名",
    "보낸 날짜",
    "받는 사람",
    "제목",
    "التاريخ",
    "إلى",
    "الموضوع",
    "sent at",
    "wysłane",
];

/// `From: …` in one of many languages (also `*From:*` of a text made from HTML).
pub(super) fn header_field(line: &str, fields: &[&str]) -> bool {
    // Asked of nearly every line: only the name before the colon is
    // lower-cased, and only when there is a colon.
    let l = line.trim().trim_start_matches('*');
    // Two searches for one character each (memchr) beat one for either.
    let Some(at) = [l.find(':'), l.find('：')].into_iter().flatten().min() else {
        return false;
    };
    let name = l[..at].trim().trim_end_matches('*').trim().to_lowercase();
    name.chars().count() <= 24 && fields.contains(&name.as_str())
}

/// A header block of a quoted original starts here: a sender field, then a
/// date, recipient or subject field within the next few lines.
pub(super) fn header_block(lines: &[&str], i: usize) -> bool {
    let (_, first) = unquote(lines[i]);
    header_field(first, FROM_FIELDS)
        && lines[i + 1..]
            .iter()
            .take(4)
            .any(|l| header_field(unquote(l).1, OTHER_FIELDS))
}

pub(super) const SEPARATOR_WORDS: &[&str] = &[
    "original message",
    "forwarded message",
    "reply message",
    "antwort nachricht",
    "message d'origine",
    "message transféré",
    "oprindelig besked",
    "oprindelig meddelelse",
    "ursprüngliche nachricht",
    "original-nachricht",
    "weitergeleitete nachricht",
    "oryginalna wiadomość",
    "wiadomość oryginalna",
    "przekazana wiadomość",
    "αρχικό μήνυμα",
    "προωθημένο μήνυμα",
    "mensaje original",
    "mensaje reenviado",
    "messaggio originale",
    "messaggio inoltrato",
    "mensagem original",
    "mensagem encaminhada",
    "oorspronkelijk bericht",
    "doorgestuurd bericht",
    "ursprungligt meddelande",
    "vidarebefordrat meddelande",
    "opprinnelig melding",
    "alkuperäinen viesti",
    "välitetty viesti",
    "исходное сообщение",
    "пересылаемое сообщение",
    "пересланное сообщение",
    "оригінальне повідомлення",
    "původní zpráva",
    "přeposlaná zpráva",
    "eredeti üzenet",
    "továbbított üzenet",
    "mesaj original",
    "mesaj redirecționat",
    "orijinal ileti",
    "原始邮件",
    "原始郵件",
    "転送されたメッセージ",
    "元のメッセージ",
    "원본 메시지",
    "전달된 메시지",
    "الرسالة الأصلية",
];

/// Lines that open a forwarded message without dashes.
pub(super) const FORWARD_LINES: &[&str] = &[
    "begin forwarded message",
    "forwarded message",
    "début du message réexpédié",
    "début du message transféré",
    "anfang der weitergeleiteten nachricht",
    "inicio del mensaje reenviado",
    "inizio messaggio inoltrato",
    "início da mensagem reencaminhada",
    "begin doorgestuurd bericht",
    "vidarebefordrat brev",
    "videresendt melding",
    "początek przekazywanej wiadomości",
    "αρχή προωθημένου μηνύματος",
    "начало пересылаемого сообщения",
    "転送されたメッセージ",
    "转发的邮件",
];

/// `-----Original Message-----`, `-------- Message d'origine --------`,
/// `---------- Forwarded message ---------`, `________________________________`.
pub(super) fn separator(line: &str) -> bool {
    let t = unquote(line).1.trim().trim_matches('*').trim();
    // Every form below ends with a colon or starts with `-`, `_` or `=`:
    // asked of every line, most are answered without lower-casing them.
    if !(t.ends_with(':') || t.starts_with(['-', '_', '='])) {
        return false;
    }
    let l = t.to_lowercase();
    // Apple Mail and others: "Begin forwarded message:".
    if l.ends_with(':')
        && FORWARD_LINES
            .iter()
            .any(|f| l.trim_end_matches(':').trim() == *f)
    {
        return true;
    }
    if l.len() >= 20 && l.chars().all(|c| c == '_') {
        return true;
    }
    let stripped = l.trim_matches(|c: char| c == '-' || c == '_' || c == '=' || c.is_whitespace());
    (l.starts_with("--") || l.starts_with("__") || l.starts_with("=="))
        && SEPARATOR_WORDS.iter().any(|w| stripped.starts_with(w))
}

pub(super) const DEVICE_LINES: &[&str] = &[
    "sent from my ",
    "sent from mobile",
    "sent from outlook",
    "sent from mail for windows",
    "sent from yahoo mail",
    "sent from proton mail",
    "sent with proton mail",
    "sent via ",
    "get outlook for ios",
    "get outlook for android",
    "envoyé de mon ",
    "envoyé depuis ",
    "von meinem ",
    "gesendet von meinem",
    "gesendet mit ",
    "enviado desde mi ",
    "enviado desde ",
    "enviado do meu ",
    "enviado de meu ",
    "inviato da ",
    "verzonden vanaf mijn ",
    "verstuurd vanaf mijn ",
    "wysłane z mojego ",
    "wysłano z mojego ",
    "wysłane z ",
    "στάλθηκε από το ",
    "στάλθηκε από ",
    "εστάλη από ",
    "отправлено с ",
    "отправлено из ",
    "надіслано з ",
    "skickat från min ",
    "sendt fra min ",
    "sendt fra ",
    "lähetetty ",
    "odesláno z ",
    "elküldve ",
    "iphone'umdan gönderildi",
    "从我的",
    "發自我的",
    "iphoneから送信",
    "내 iphone에서 보냄",
    "holen sie sich outlook für",
    "obtenir outlook pour",
    "scarica outlook per",
    "obtener outlook para",
    "pobierz aplikację outlook",
];

/// Characters of a line that [`device_line`] reads: more than the longest
/// of [`DEVICE_LINES`].
pub(super) const DEVICE_HEAD: usize = 32;

pub(super) fn device_line(line: &str) -> bool {
    let l = line.trim();
    // Asked of every line the writer kept: most are answered by their
    // first letter, and only the opening, where the patterns are, is
    // lower-cased.
    let Some(first) = l.chars().next().and_then(|c| c.to_lowercase().next()) else {
        return false;
    };
    if !DEVICE_LINES.iter().any(|p| p.starts_with(first)) {
        return false;
    }
    let head = match l.char_indices().nth(DEVICE_HEAD) {
        Some((end, _)) => &l[..end],
        None => l,
    };
    let head = head.to_lowercase();
    DEVICE_LINES.iter().any(|p| head.starts_with(p)) && l.to_lowercase().len() < 120
}

/// `-- ` (RFC 3676), `--`, `—`.
pub(super) fn signature_marker(line: &str) -> bool {
    matches!(line.trim_end(), "--" | "-- " | "—") || line == "-- "
}

/// The number of a link note as HTML is rendered to text: `[3]: https://…`.
pub(super) fn link_note(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('[')?;
    let (n, after) = rest.split_once("]: ")?;
    (n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() && !after.contains(' ')).then_some(n)
}

/// `__`, `* * *`, `~~~`: a footer follows when nothing of the writer's does.
pub(super) fn footer_marker(line: &str) -> bool {
    let l = line.trim();
    (l.len() >= 2 && l.chars().all(|c| c == '_'))
        || l == "* * *"
        || (l.len() >= 3 && l.chars().all(|c| c == '~'))
}
