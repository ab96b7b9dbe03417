//! What a person wrote in a reply, without what their mail client added:
//! the quoted original, the attribution line above it ("On … wrote:"), an
//! Outlook header block or separator, a signature, a device line ("Sent
//! from my iPhone"), a list or contact footer. The text is kept wherever it
//! stands: above the quote, below it, or between quoted blocks.
//!
//! Alignment first: the caller knows the texts of the ticket's messages —
//! above all the notification being answered — so a line whose words are a
//! run of one of those texts is the quote, however the client wrapped,
//! re-indented or unmarked it, in any language. The patterns (attribution
//! phrasings, header fields, separators and device lines in many
//! languages) only decide what alignment cannot see: a client that rewrote
//! the quote, a forwarded thread. Every cut line is counted by reason, and
//! lines cut by a pattern alone are counted apart, so that the caller can
//! refuse to relay a reply whose trimming looks wrong.

use std::collections::HashSet;

/// What the trimming may compare the reply with.
#[derive(Debug, Clone, Default)]
pub struct Known<'a> {
    /// Texts of the messages the reply may quote: the ticket's messages,
    /// the notification being answered first of all.
    pub texts: Vec<&'a str>,
    /// Earlier texts by the same writer: a block of lines that ended at
    /// least two of them is their signature.
    pub earlier: Vec<&'a str>,
}

/// Why lines were cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cut {
    pub quoted: usize,
    /// Unmarked copies of a known text.
    pub aligned: usize,
    pub attribution: usize,
    /// Header blocks and separators, and the unmarked original below them.
    pub original: usize,
    pub signature: usize,
    pub device: usize,
    pub footer: usize,
    /// Lines with words that only a pattern cut (no known text matched
    /// them): trimming guessed here.
    pub guessed: usize,
}

/// The reply, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trimmed {
    pub text: String,
    pub cut: Cut,
    /// Lines with words that were kept.
    pub kept: usize,
}

impl Trimmed {
    /// Trimming cut more unverified words than it kept: a pattern matched
    /// where the writer probably did not quote (say, a line of their own
    /// that looks like a header field). Better to hold the reply than to
    /// send half of it.
    pub fn doubtful(&self) -> bool {
        self.cut.guessed >= 3 && self.cut.guessed > self.kept
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    New,
    Blank,
    Quoted,
    Aligned,
    Attribution,
    Original,
    Signature,
    Device,
    Footer,
}

/// Lower-case words (letters and digits), for comparing texts whatever
/// their wrapping, quoting and punctuation.
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// A line without its quote markers (`> `, `>>`), and how deep it was quoted.
fn unquote(line: &str) -> (usize, &str) {
    let mut depth = 0;
    let mut rest = line.trim_start();
    while let Some(r) = rest.strip_prefix('>').or_else(|| supercite(rest)) {
        depth += 1;
        rest = r.trim_start_matches([' ', '\t']);
    }
    (depth, rest)
}

/// A Supercite quote mark (Emacs, Gnus): the writer's initials and `>`,
/// as in `JD> text`. Returns what follows it.
fn supercite(line: &str) -> Option<&str> {
    let initials = line.find('>').filter(|&at| (1..=3).contains(&at))?;
    let after = &line[initials + 1..];
    (line[..initials].chars().all(|c| c.is_ascii_uppercase())
        && (after.is_empty() || after.starts_with([' ', '>'])))
    .then_some(after)
}

/// The known texts as one stream of words, each text between spaces.
struct Stream(String);

impl Stream {
    fn new(texts: &[&str]) -> Stream {
        let mut s = String::from(" ");
        for t in texts {
            for l in t.lines() {
                let (_, l) = unquote(l);
                for w in words(l) {
                    s.push_str(&w);
                    s.push(' ');
                }
            }
            s.push_str("\u{1} ");
        }
        Stream(s)
    }

    /// These words, in this order, are a run of a known text.
    fn contains(&self, ws: &[String]) -> bool {
        !ws.is_empty() && self.0.contains(&format!(" {} ", ws.join(" ")))
    }
}

const ATTRIBUTION_VERBS: &[&str] = &[
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
fn attribution_text(joined: &str) -> bool {
    let lower = joined.trim().to_lowercase();
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
fn digit_groups(s: &str) -> usize {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|d| !d.is_empty())
        .count()
}

/// The attribution that ends at line `end` (the last line above a quote):
/// its first line. The line alone, or with the one or two lines above it
/// (a wrapped attribution), never across a blank line; lines above are
/// taken in when they open an attribution ("On Mon, 30 Nov …", a date).
fn attribution_ending(lines: &[&str], end: usize) -> Option<usize> {
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
const OPENERS: &[&str] = &[
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
fn split_shared_lines(text: &str) -> String {
    // Gmail's tracking mark (a lone U+1427) is no one's words.
    let lines: Vec<&str> = text.lines().filter(|l| l.trim() != "\u{1427}").collect();
    let mut out = Vec::with_capacity(lines.len());
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
            out.push(line[..at].trim_end().to_string());
            out.push(line[at..].to_string());
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
            out.push(line[..at].trim_end().to_string());
            out.push(line[at..].trim_start().to_string());
        } else {
            out.push((*line).to_string());
        }
    }
    out.join("\n")
}

/// Names of the sender field of a header block, in the languages mail
/// clients are localised to (`From:`, `De :`, `Von:`, `Od:`, `Από:` ...).
const FROM_FIELDS: &[&str] = &[
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
const OTHER_FIELDS: &[&str] = &[
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
fn header_field(line: &str, fields: &[&str]) -> bool {
    let l = line.trim().trim_start_matches('*').to_lowercase();
    let Some((name, _)) = l.split_once([':', '：']) else {
        return false;
    };
    let name = name.trim().trim_end_matches('*').trim();
    name.chars().count() <= 24 && fields.contains(&name)
}

/// A header block of a quoted original starts here: a sender field, then a
/// date, recipient or subject field within the next few lines.
fn header_block(lines: &[&str], i: usize) -> bool {
    let (_, first) = unquote(lines[i]);
    header_field(first, FROM_FIELDS)
        && lines[i + 1..]
            .iter()
            .take(4)
            .any(|l| header_field(unquote(l).1, OTHER_FIELDS))
}

const SEPARATOR_WORDS: &[&str] = &[
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
const FORWARD_LINES: &[&str] = &[
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
fn separator(line: &str) -> bool {
    let l = unquote(line)
        .1
        .trim()
        .trim_matches('*')
        .trim()
        .to_lowercase();
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

const DEVICE_LINES: &[&str] = &[
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

fn device_line(line: &str) -> bool {
    let l = line.trim().to_lowercase();
    l.len() < 120 && DEVICE_LINES.iter().any(|p| l.starts_with(p))
}

/// `-- ` (RFC 3676), `--`, `—`.
fn signature_marker(line: &str) -> bool {
    matches!(line.trim_end(), "--" | "-- " | "—") || line == "-- "
}

/// The number of a link note as HTML is rendered to text: `[3]: https://…`.
fn link_note(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('[')?;
    let (n, after) = rest.split_once("]: ")?;
    (n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() && !after.contains(' ')).then_some(n)
}

/// `__`, `* * *`, `~~~`: a footer follows when nothing of the writer's does.
fn footer_marker(line: &str) -> bool {
    let l = line.trim();
    (l.len() >= 2 && l.chars().all(|c| c == '_'))
        || l == "* * *"
        || (l.len() >= 3 && l.chars().all(|c| c == '~'))
}

fn has_words(line: &str) -> bool {
    line.chars().any(char::is_alphanumeric)
}

/// Marks lines that are a run of a known text. Lines of three words or
/// more must match on their own; shorter ones only inside a matched block.
fn align(lines: &[&str], stream: &Stream, marks: &mut [Mark]) {
    let mut hit = vec![false; lines.len()];
    for (i, l) in lines.iter().enumerate() {
        let ws = words(unquote(l).1);
        hit[i] = ws.len() >= 3 && stream.contains(&ws);
    }
    // Runs of consecutive lines aligned together catch short lines too.
    let mut i = 0;
    while i < lines.len() {
        if !hit[i] {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        let mut j = i + 1;
        while j < lines.len() {
            let ws = words(unquote(lines[j]).1);
            if ws.is_empty() {
                j += 1;
                continue;
            }
            let mut run: Vec<String> = words(unquote(lines[end]).1);
            run.extend(ws.iter().cloned());
            if hit[j] || stream.contains(&run) {
                end = j;
                j += 1;
            } else {
                break;
            }
        }
        for m in marks.iter_mut().take(end + 1).skip(start) {
            if *m == Mark::New {
                *m = Mark::Aligned;
            }
        }
        i = end + 1;
    }
    // Lines without words ("--", "***") between removed lines go with them.
    for i in 1..lines.len().saturating_sub(1) {
        if marks[i] == Mark::New && !has_words(lines[i]) {
            let removed = |m: Mark| matches!(m, Mark::Aligned | Mark::Quoted);
            let before = (0..i).rev().find(|&j| marks[j] != Mark::Blank);
            let after = (i + 1..lines.len()).find(|&j| marks[j] != Mark::Blank);
            if before.is_some_and(|j| removed(marks[j])) && after.is_some_and(|j| removed(marks[j]))
            {
                marks[i] = Mark::Aligned;
            }
        }
    }
}

/// The normalised non-empty lines of `text` that end it.
fn tail(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| words(l).join(" "))
        .filter(|l| !l.is_empty())
        .collect()
}

/// The signature learned from earlier texts: the longest block of lines
/// that ends at least two of them (at most eight lines).
fn learned_signatures(earlier: &[&str]) -> Vec<Vec<String>> {
    let tails: Vec<Vec<String>> = earlier.iter().map(|t| tail(t)).collect();
    let mut found: HashSet<Vec<String>> = HashSet::new();
    for (i, a) in tails.iter().enumerate() {
        for b in &tails[i + 1..] {
            let n = a
                .iter()
                .rev()
                .zip(b.iter().rev())
                .take_while(|(x, y)| x == y)
                .count()
                .min(8);
            if n >= 2 {
                found.insert(a[a.len() - n..].to_vec());
            }
        }
    }
    found.into_iter().collect()
}

/// Trims `text`, comparing it with what `known` holds.
pub fn trim(text: &str, known: &Known<'_>) -> Trimmed {
    let text = split_shared_lines(text);
    let lines: Vec<&str> = text.lines().collect();
    let n = lines.len();
    let mut marks: Vec<Mark> = lines
        .iter()
        .map(|l| {
            if l.trim().is_empty() {
                Mark::Blank
            } else if unquote(l).0 > 0 {
                Mark::Quoted
            } else {
                Mark::New
            }
        })
        .collect();
    let stream = Stream::new(&known.texts);
    align(&lines, &stream, &mut marks);

    // Header blocks and separators open the unmarked original of
    // Outlook-style clients: everything after them goes.
    let mut guessed = 0;
    if let Some(mut start) = (0..n)
        .find(|&i| marks[i] != Mark::Quoted && (separator(lines[i]) || header_block(&lines, i)))
    {
        // Fields above the sender's belong to the block (Hotmail puts
        // Date: and Subject: first).
        while !separator(lines[start])
            && start > 0
            && marks[start - 1] != Mark::Quoted
            && header_field(unquote(lines[start - 1]).1, OTHER_FIELDS)
        {
            start -= 1;
        }
        // The block itself: the separator and the header fields.
        let body = (start..n)
            .find(|&i| {
                let (_, l) = unquote(lines[i]);
                !(l.trim().is_empty()
                    || separator(lines[i])
                    || header_field(l, FROM_FIELDS)
                    || header_field(l, OTHER_FIELDS))
            })
            .unwrap_or(n);
        // A separator, or a block of three fields with a date, is surely
        // a quoted original; a shorter block may be the writer's own
        // words, so what it cuts is a guess.
        let fields = (start..body)
            .filter(|&i| {
                let l = unquote(lines[i]).1;
                header_field(l, FROM_FIELDS) || header_field(l, OTHER_FIELDS)
            })
            .count();
        let dated = (start..body).any(|i| digit_groups(lines[i]) >= 2);
        let sure = separator(lines[start]) || (fields >= 3 && dated);
        // With nothing written above it and nothing known below it, the
        // "original" is all there is (a forward): it stays.
        let written_above = (0..start).any(|i| marks[i] == Mark::New && has_words(lines[i]));
        let known_below = (body..n)
            .find(|&i| marks[i] != Mark::Blank && has_words(lines[i]))
            .is_none_or(|i| matches!(marks[i], Mark::Quoted | Mark::Aligned));
        let cut_from = if written_above || known_below {
            start
        } else {
            n
        };
        for i in cut_from..n {
            if !sure && i >= body && marks[i] == Mark::New && has_words(lines[i]) {
                guessed += 1;
            }
            if matches!(marks[i], Mark::New | Mark::Aligned | Mark::Blank) {
                marks[i] = Mark::Original;
            }
        }
    }

    // Attribution lines: the line(s) right above a quoted, aligned or
    // original block.
    let removed = |m: Mark| matches!(m, Mark::Quoted | Mark::Aligned | Mark::Original);
    for i in 1..n {
        if !removed(marks[i]) || removed(marks[i - 1]) && marks[i - 1] != Mark::Blank {
            continue;
        }
        let Some(end) = (0..i).rev().find(|&j| marks[j] != Mark::Blank) else {
            continue;
        };
        if marks[end] != Mark::New {
            continue;
        }
        if let Some(start) = attribution_ending(&lines, end) {
            for m in &mut marks[start..=end] {
                *m = Mark::Attribution;
            }
        }
    }
    // A dated attribution above text that is no quote of ours: the client
    // put the original below it unmarked (phones, Outlook in some
    // languages); everything after it goes.
    if let Some(a) = (0..n).find(|&i| {
        marks[i] == Mark::New
            && (i == 0 || marks[i - 1] == Mark::Blank)
            && attribution_text(lines[i])
            && (lines[i].contains('@') || digit_groups(lines[i]) >= 2)
            && (i + 1..n).any(|j| marks[j] == Mark::New && has_words(lines[j]))
            && (0..i).any(|j| marks[j] == Mark::New && has_words(lines[j]))
    }) {
        marks[a] = Mark::Attribution;
        for m in &mut marks[a + 1..] {
            if matches!(*m, Mark::New | Mark::Blank | Mark::Aligned) {
                *m = Mark::Original;
            }
        }
    }

    // An attribution with nothing below it: the writer deleted the quote
    // and kept its first line (or the client dropped the quote). It would
    // show the customer who wrote to whom, addresses included.
    if let Some(end) = (0..n).rev().find(|&i| marks[i] != Mark::Blank)
        && marks[end] == Mark::New
        && let Some(start) = attribution_ending(&lines, end)
        && (start..=end).any(|i| lines[i].contains('@') || digit_groups(lines[i]) >= 2)
    {
        for m in &mut marks[start..=end] {
            *m = Mark::Attribution;
        }
    }

    // Device lines; a signature after "-- " up to the next quoted block.
    let mut in_signature = false;
    for i in 0..n {
        match marks[i] {
            Mark::New if device_line(lines[i]) => marks[i] = Mark::Device,
            Mark::New if signature_marker(lines[i]) => {
                marks[i] = Mark::Signature;
                in_signature = true;
            }
            Mark::New | Mark::Blank if in_signature => marks[i] = Mark::Signature,
            Mark::Quoted | Mark::Aligned | Mark::Original | Mark::Attribution => {
                in_signature = false
            }
            _ => {}
        }
    }

    // A learned signature: the block that ended the writer's earlier mails.
    let kept_idx: Vec<usize> = (0..n)
        .filter(|&i| marks[i] == Mark::New && has_words(lines[i]))
        .collect();
    for sig in learned_signatures(&known.earlier) {
        let norm: Vec<String> = kept_idx
            .iter()
            .map(|&i| words(lines[i]).join(" "))
            .collect();
        if let Some(pos) = norm.windows(sig.len()).rposition(|w| w == sig.as_slice()) {
            for &i in &kept_idx[pos..pos + sig.len()] {
                marks[i] = Mark::Signature;
            }
        }
    }

    // A footer after "__" or "* * *" at the very end.
    if let Some(f) = (0..n)
        .rev()
        .find(|&i| marks[i] == Mark::New && footer_marker(lines[i]))
    {
        let own_after = (f + 1..n).any(|j| marks[j] == Mark::New && has_words(lines[j]));
        let footer_lines = (f + 1..n).filter(|&j| marks[j] == Mark::New).count();
        if !own_after || footer_lines <= 6 {
            for i in f..n {
                if marks[i] == Mark::New || marks[i] == Mark::Blank {
                    guessed += usize::from(i > f && marks[i] == Mark::New && has_words(lines[i]));
                    marks[i] = Mark::Footer;
                }
            }
        }
    }

    // Link notes of an HTML reply ("[1]: mailto:…") whose mark went with
    // the quote.
    let kept_text: String = (0..n)
        .filter(|&i| marks[i] == Mark::New)
        .map(|i| lines[i])
        .collect::<Vec<_>>()
        .join("\n");
    for i in 0..n {
        if marks[i] != Mark::New {
            continue;
        }
        if let Some(note) = link_note(lines[i])
            && !kept_text.contains(&format!("][{note}]"))
            && !kept_text.contains(&format!(" [{note}]"))
        {
            marks[i] = Mark::Footer;
        }
    }

    let mut cut = Cut {
        guessed,
        ..Cut::default()
    };
    let mut out: Vec<&str> = Vec::new();
    let mut kept = 0;
    for (i, m) in marks.iter().enumerate() {
        let counted = has_words(lines[i]);
        match m {
            Mark::New => {
                out.push(lines[i].trim_end());
                kept += usize::from(counted);
            }
            Mark::Blank => out.push(""),
            Mark::Quoted => cut.quoted += usize::from(counted),
            Mark::Aligned => cut.aligned += usize::from(counted),
            Mark::Attribution => cut.attribution += usize::from(counted),
            Mark::Original => cut.original += usize::from(counted),
            Mark::Signature => cut.signature += usize::from(counted),
            Mark::Device => cut.device += usize::from(counted),
            Mark::Footer => cut.footer += usize::from(counted),
        }
    }
    // Blank lines left between removed blocks: at most one in a row.
    let mut text = String::new();
    let mut blank = false;
    for l in out {
        if l.is_empty() {
            blank = true;
            continue;
        }
        if blank && !text.is_empty() {
            text.push('\n');
        }
        blank = false;
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(l);
    }
    Trimmed { text, cut, kept }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTE: &str = "New ticket [#7] from Jane Doe <jane@example.org>:\n\nHello,\nthe printer on floor 2 shows error E42 since this morning and nothing prints.\nJane\n\n--\nStatus open, priority normal.\nFirst answer due Tuesday 1 December 2026, 16:42 EET.\nReply to this mail to answer the customer; your reply goes out from the support address.\n";

    fn known() -> Known<'static> {
        Known {
            texts: vec![NOTE],
            earlier: vec![],
        }
    }

    fn t(s: &str) -> String {
        trim(s, &known()).text
    }

    #[test]
    fn top_posted_replies_of_every_client() {
        let quoted: String = NOTE.lines().map(|l| format!("> {l}\n")).collect();
        let cases = [
            // Gmail, Thunderbird, Apple Mail: attribution, then "> " lines.
            format!(
                "Hi Jane,\nplease restart it.\n\nOn Mon, 30 Nov 2026 at 14:46, Jane Doe via Support <support+7-abc@example.com> wrote:\n{quoted}"
            ),
            // The attribution wrapped over two lines, without a colon on the first.
            format!(
                "Hi Jane,\nplease restart it.\n\nOn Mon, 30 Nov 2026 at 14:46, Jane Doe via Support\n<support+7-abc@example.com> wrote:\n\n{quoted}"
            ),
            // Outlook: a header block and the original unmarked and re-wrapped.
            format!(
                "Hi Jane,\nplease restart it.\n\n________________________________\nFrom: Jane Doe via Support <support+7-abc@example.com>\nSent: Monday, November 30, 2026 2:46 PM\nTo: Alice <alice@example.com>\nSubject: [#7] Printer\n\n{}",
                NOTE.replace("since this morning and", "since this\nmorning and")
            ),
            // Outlook in Polish and Greek.
            format!(
                "Hi Jane,\nplease restart it.\n\nOd: Jane Doe via Support <support+7-abc@example.com>\nWysłano: poniedziałek, 30 listopada 2026 14:46\nDo: Alice\nTemat: [#7] Printer\n\n{NOTE}"
            ),
            format!(
                "Hi Jane,\nplease restart it.\n\nΑπό: Jane Doe via Support <support+7-abc@example.com>\nΣτάλθηκε: Δευτέρα, 30 Νοεμβρίου 2026 2:46 μμ\nΠρος: Alice\nΘέμα: [#7] Printer\n\n{NOTE}"
            ),
            // A separator.
            format!("Hi Jane,\nplease restart it.\n\n-----Original Message-----\n{NOTE}"),
            format!("Hi Jane,\nplease restart it.\n\n-------- Message d'origine --------\n{NOTE}"),
            // A device line and a signature.
            format!(
                "Hi Jane,\nplease restart it.\n\nSent from my iPhone\n\nOn 30 Nov 2026, at 14:46, Support <support@example.com> wrote:\n{quoted}"
            ),
            format!(
                "Hi Jane,\nplease restart it.\n\n-- \nAlice Smith\nalice@example.com | +30 210 000 0000\n\nOn 30/11/2026 14:46, Support wrote:\n{quoted}"
            ),
            // No marks at all: the client pasted the notification unquoted.
            format!("Hi Jane,\nplease restart it.\n\n{NOTE}"),
            // Date first (Gmail in some locales), German "schrieb".
            format!(
                "Hi Jane,\nplease restart it.\n\n2026-11-30 14:46 GMT+02:00 Support <support@example.com>:\n{quoted}"
            ),
            format!(
                "Hi Jane,\nplease restart it.\n\nAm 30.11.2026 um 14:46 schrieb Support <support@example.com>:\n{quoted}"
            ),
            format!(
                "Hi Jane,\nplease restart it.\n\nDnia 30.11.2026 o 14:46 Support <support@example.com> napisał(a):\n{quoted}"
            ),
            // The quote deleted, its first line left behind.
            "Hi Jane,\nplease restart it.\n\nOn Mon, 30 Nov 2026 at 14:46, Support <support+7-abc@example.com> wrote:\n\n".to_string(),
            "Hi Jane,\nplease restart it.\n\nOn Mon, 30 Nov 2026 at 14:46, Support\n<support+7-abc@example.com> wrote:".to_string(),
        ];
        for c in cases {
            assert_eq!(t(&c), "Hi Jane,\nplease restart it.", "{c}");
        }
    }

    #[test]
    fn bottom_posted_and_interleaved_words_are_kept() {
        let quoted: String = NOTE.lines().map(|l| format!("> {l}\n")).collect();
        // Below the quote (mutt, many Thunderbird users).
        let below = format!(
            "On 30/11 14:46, Jane Doe via Support wrote:\n{quoted}\nHi Jane,\nplease restart it.\n\nAlice\n"
        );
        assert_eq!(t(&below), "Hi Jane,\nplease restart it.\n\nAlice");
        // Between quoted blocks.
        let between = "On 30/11 14:46, Support wrote:\n> Hello,\n> the printer on floor 2 shows error E42 since this morning and nothing prints.\n\nDoes it show E42 right after switching on?\n\n> Jane\n> --\n> Status open, priority normal.\n\nI will call you at three.\n";
        assert_eq!(
            t(between),
            "Does it show E42 right after switching on?\n\nI will call you at three."
        );
        // A reply that begins with the attribution relays what comes after.
        let inline = format!(
            "On Mon, 30 Nov 2026 at 14:46, Support <support@example.com> wrote:\n{quoted}\nYes, E42 means the fuser."
        );
        assert_eq!(t(&inline), "Yes, E42 means the fuser.");
    }

    #[test]
    fn html_renderings_and_old_quote_styles_are_read() {
        // Supercite (Emacs) quotes carry the writer's initials.
        assert_eq!(
            t("Yes, the fuser.\n\nJD> the printer shows E42\nJD> since this morning\n"),
            "Yes, the fuser."
        );
        // An HTML reply rendered to text: a signature sharing its line with
        // a bold header block, and the link notes of the cut quote.
        assert_eq!(
            t(
                "Hi\nthere\nBob **From: **jane@example.org\n**To: **support@example.com\n**Sent: **Friday, July 22, 2011 6:20:01 PM\n**Subject: **Hello\nHello"
            ),
            "Hi\nthere\nBob"
        );
        assert_eq!(
            t(
                "See [the guide][1].\n\nOn Mon, 30 Nov 2026, Jane <[jane@example.org][2]> wrote:\n> Hello\n\n[1]: https://example.com/guide\n[2]: mailto:jane@example.org"
            ),
            "See [the guide][1].\n\n[1]: https://example.com/guide"
        );
        // Hotmail's block opens with Date:, not From:.
        assert_eq!(
            t(
                "Fine, thanks.\n\nDate: Thu, 26 Jun 2014 13:53:45 +0400\nSubject: Test message\nFrom: jane@example.org\nTo: alex@example.com\nHello! How are you?"
            ),
            "Fine, thanks."
        );
        // Gmail's tracking mark is nobody's words.
        assert_eq!(t("Thanks!\n\u{1427}\n"), "Thanks!");
    }

    #[test]
    fn the_writers_own_words_stay_intact() {
        for own in [
            "Hi,\n\nIt fails because of X.\nOn Monday we fix it.\n-- not a signature",
            "Il faut redémarrer l'imprimante.\nIl y a une mise à jour.",
            "From what I see, the fuser is broken.\nDate: tomorrow works for me.",
            "Call me at 3.\nOn Monday I am away: ask Bob.",
        ] {
            let r = trim(own, &known());
            assert_eq!(r.text, own.trim_end(), "{own}");
            assert!(!r.doubtful());
        }
        // A "wrote:" in the writer's own sentence is not an attribution.
        let s = "She wrote: the printer is fine now.";
        assert_eq!(t(s), s);
    }

    #[test]
    fn nothing_but_the_quote_leaves_nothing() {
        let quoted: String = NOTE.lines().map(|l| format!("> {l}\n")).collect();
        let r = trim(
            &format!("On 30/11 14:46, Support wrote:\n{quoted}"),
            &known(),
        );
        assert_eq!(r.text, "");
        assert!(r.cut.quoted > 3 && r.cut.attribution == 1);
    }

    #[test]
    fn a_guess_that_cuts_more_than_it_keeps_is_doubtful() {
        // A header-like line of the writer's own, above text that is no
        // known mail: the pattern would cut it all.
        let r = trim(
            "Ok.\n\nFrom: our warehouse team\nTo: the courier\nThe parcel left on Monday.\nIt should arrive on Thursday.\nTracking number 12345.\n",
            &known(),
        );
        assert!(r.doubtful(), "{r:?}");
    }

    #[test]
    fn a_signature_is_learned_from_earlier_mails() {
        let earlier = [
            "Restart it, please.\n\nAlice Smith\nSupport Team, Example Ltd\n+30 210 000 0000",
            "It is fixed.\n\nAlice Smith\nSupport Team, Example Ltd\n+30 210 000 0000",
        ];
        let k = Known {
            texts: vec![NOTE],
            earlier: earlier.to_vec(),
        };
        let r = trim(
            "Your refund is on its way.\n\nAlice Smith\nSupport Team, Example Ltd\n+30 210 000 0000\n",
            &k,
        );
        assert_eq!(r.text, "Your refund is on its way.");
        assert_eq!(r.cut.signature, 3);
    }

    #[test]
    fn device_lines_and_footers_go() {
        let r = t("Restarting it now.\n\nWysłane z mojego iPhone'a");
        assert_eq!(r, "Restarting it now.");
        let r = t("Restarting it now.\n\nGet Outlook for Android");
        assert_eq!(r, "Restarting it now.");
        let r = t("Restarting it now.\n__\nExample Ltd, 1 Main Street, Athens\nwww.example.com");
        assert_eq!(r, "Restarting it now.");
    }
}
