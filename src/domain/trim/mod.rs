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

mod patterns;
use patterns::*;

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
    // Asked of every line: only its first bytes can hold the mark.
    let initials = line
        .bytes()
        .take(4)
        .position(|b| b == b'>')
        .filter(|&at| at >= 1)?;
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

    /// Whether any known text has a word (else nothing can align).
    fn has_words(&self) -> bool {
        self.0.chars().any(char::is_alphanumeric)
    }

    /// These words, in this order, are a run of a known text.
    fn contains(&self, ws: &[String]) -> bool {
        !ws.is_empty() && self.0.contains(&format!(" {} ", ws.join(" ")))
    }
}

fn has_words(line: &str) -> bool {
    line.chars().any(char::is_alphanumeric)
}

/// Marks lines that are a run of a known text. Lines of three words or
/// more must match on their own; shorter ones only inside a matched block.
fn align(lines: &[&str], stream: &Stream, marks: &mut [Mark]) {
    let mut hit = vec![false; lines.len()];
    // Without known words nothing aligns: no line's words need reading.
    if stream.has_words() {
        for (i, l) in lines.iter().enumerate() {
            let ws = words(unquote(l).1);
            hit[i] = ws.len() >= 3 && stream.contains(&ws);
        }
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

    // Each pass marks what goes, reading the marks of the passes before.
    let mut guessed = mark_original(&lines, &mut marks);
    mark_attributions(&lines, &mut marks);
    mark_signatures(&lines, &mut marks, &known.earlier);
    guessed += mark_footers(&lines, &mut marks);
    assemble(&lines, &marks, guessed)
}

/// Header blocks and separators open the unmarked original of
/// Outlook-style clients: everything after them goes. Returns how many
/// lines of the writer's own that cut may have been (a guess).
fn mark_original(lines: &[&str], marks: &mut [Mark]) -> usize {
    let n = lines.len();
    let mut guessed = 0;
    if let Some(mut start) = (0..n)
        .find(|&i| marks[i] != Mark::Quoted && (separator(lines[i]) || header_block(lines, i)))
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
    guessed
}

/// Attribution lines ("On Monday, Ann wrote:") above what was removed.
fn mark_attributions(lines: &[&str], marks: &mut [Mark]) {
    let n = lines.len();
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
        if let Some(start) = attribution_ending(lines, end) {
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
        && let Some(start) = attribution_ending(lines, end)
        && (start..=end).any(|i| lines[i].contains('@') || digit_groups(lines[i]) >= 2)
    {
        for m in &mut marks[start..=end] {
            *m = Mark::Attribution;
        }
    }
}

/// Device lines ("Sent from my phone"), a signature after "-- ", and the
/// signature learned from the writer's `earlier` mails.
fn mark_signatures(lines: &[&str], marks: &mut [Mark], earlier: &[&str]) {
    let n = lines.len();
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
    for sig in learned_signatures(earlier) {
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
}

/// Footers, and link notes whose mark went with the quote. Returns how
/// many lines of the writer's own a footer may have been (a guess).
fn mark_footers(lines: &[&str], marks: &mut [Mark]) -> usize {
    let n = lines.len();
    let mut guessed = 0;
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
    let mut kept_text: Option<String> = None;
    for i in 0..n {
        if marks[i] != Mark::New {
            continue;
        }
        if let Some(note) = link_note(lines[i])
            && let kept_text = kept_text.get_or_insert_with(|| {
                (0..n)
                    .filter(|&i| marks[i] == Mark::New)
                    .map(|i| lines[i])
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            && !kept_text.contains(&format!("][{note}]"))
            && !kept_text.contains(&format!(" [{note}]"))
        {
            marks[i] = Mark::Footer;
        }
    }
    guessed
}

/// The kept lines as one text, and what was cut, counted.
fn assemble(lines: &[&str], marks: &[Mark], guessed: usize) -> Trimmed {
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
mod tests;
