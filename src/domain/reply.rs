//! An agent's mail, read as a person would: the commands at the top
//! (`#close`, `#assign bob`, ...), the text they wrote, and what their mail
//! client added after it (the quoted notification, the signature), which is
//! trimmed before the text goes to the customer.

/// One command line of an agent's mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Close,
    Resolve,
    Pending,
    Open,
    Assign(String),
    Take,
    Priority(String),
    Note,
    Merge(i64),
    Spam,
}

/// A `#word` line that is not a command: what it said, and a likely meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotUnderstood {
    pub line: String,
    pub suggestion: Option<String>,
}

/// An agent's mail, taken apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentText {
    pub commands: Vec<Command>,
    pub not_understood: Vec<NotUnderstood>,
    /// What the agent wrote, without commands, quote and signature.
    pub body: String,
}

const COMMANDS: &[&str] = &[
    "close", "resolve", "pending", "open", "assign", "take", "priority", "note", "merge", "spam",
];
const PRIORITIES: &[&str] = &["low", "normal", "high", "urgent"];

/// Levenshtein distance, for suggesting the command a typo meant.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn suggest(word: &str) -> Option<String> {
    COMMANDS
        .iter()
        .map(|c| (distance(word, c), *c))
        .filter(|(d, c)| *d <= 2 && *d < c.len())
        .min()
        .map(|(_, c)| format!("#{c}"))
}

fn parse_command(line: &str) -> Result<Command, NotUnderstood> {
    let rest = line.trim().trim_start_matches('#');
    let (word, arg) = rest
        .split_once(char::is_whitespace)
        .map_or((rest, ""), |(w, a)| (w, a.trim()));
    let word = word.to_lowercase();
    let bad = |suggestion: Option<String>| NotUnderstood {
        line: line.trim().to_string(),
        suggestion,
    };
    match (word.as_str(), arg) {
        ("close", "") => Ok(Command::Close),
        ("resolve", "") => Ok(Command::Resolve),
        ("pending", "") => Ok(Command::Pending),
        ("open", "") => Ok(Command::Open),
        ("take", "") => Ok(Command::Take),
        ("note", "") => Ok(Command::Note),
        ("spam", "") => Ok(Command::Spam),
        ("assign", a) if !a.is_empty() => Ok(Command::Assign(a.to_string())),
        ("assign", _) => Err(bad(Some("#assign NAME or #assign EMAIL".into()))),
        ("priority", p) if PRIORITIES.contains(&p.to_lowercase().as_str()) => {
            Ok(Command::Priority(p.to_lowercase()))
        }
        ("priority", _) => Err(bad(Some("#priority low|normal|high|urgent".into()))),
        ("merge", n) => match n.trim_start_matches('#').parse::<i64>() {
            Ok(n) if n > 0 => Ok(Command::Merge(n)),
            _ => Err(bad(Some("#merge N (a ticket number)".into()))),
        },
        (w, _) if COMMANDS.contains(&w) => Err(bad(Some(format!("#{w} takes no argument")))),
        (w, _) => Err(bad(suggest(w))),
    }
}

/// Is this line where the quoted original starts?
fn starts_quote(line: &str, next: Option<&str>) -> bool {
    let l = line.trim();
    let lower = l.to_lowercase();
    // Outlook
    if lower.starts_with("-----original message-----")
        || lower.starts_with("----- original message -----")
        || lower.starts_with("-----ursprüngliche nachricht-----")
        || lower.starts_with("-----oryginalna wiadomość-----")
        || lower.starts_with("-----message d'origine-----")
        || (l.starts_with("________________________________")
            && next.is_some_and(|n| n.trim().contains(':')))
    {
        return true;
    }
    // An Outlook header block: "From: ..." followed by "Sent:"/"Date:"
    let header = |s: &str| {
        let s = s.trim().to_lowercase();
        ["from:", "von:", "de :", "de:", "od:", "από:", "da:"]
            .iter()
            .any(|p| s.starts_with(p))
    };
    let sent = |s: &str| {
        let s = s.trim().to_lowercase();
        [
            "sent:",
            "date:",
            "gesendet:",
            "envoyé :",
            "wysłano:",
            "στάλθηκε:",
            "inviato:",
            "enviado:",
        ]
        .iter()
        .any(|p| s.starts_with(p))
    };
    if header(l) && next.is_some_and(sent) {
        return true;
    }
    // Gmail, Apple Mail, Thunderbird: "On <date>, <someone> wrote:" (maybe over two lines)
    // "... wrote:" / "schrieb Name <x@y>:": ends in a colon and names the verb.
    let attribution = |s: &str| {
        let lower = s.trim_end().to_lowercase();
        const VERBS: &[&str] = &[
            "wrote",
            "schrieb",
            "a écrit",
            "escribió",
            "pisze",
            "napisał",
            "έγραψε",
            "ha scritto",
            "schreef",
            "skrev",
            "kirjoitti",
            "napsal",
        ];
        lower.ends_with(':') && lower.len() < 300 && VERBS.iter().any(|v| lower.contains(v))
    };
    let opener = [
        "on ", "am ", "le ", "el ", "w dniu", "στις", "il ", "op ", "den ",
    ];
    if opener.iter().any(|o| lower.starts_with(o)) {
        if attribution(l) {
            return true;
        }
        if let Some(n) = next
            && attribution(&format!("{l} {}", n.trim()))
        {
            return true;
        }
    }
    false
}

/// Cuts the quoted original, the signature and trailing `>` lines.
pub fn trim_reply(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate() {
        let next = lines.get(i + 1).copied();
        if *line == "-- " || line.trim_end() == "--" || starts_quote(line, next) {
            end = i;
            break;
        }
    }
    let mut kept: Vec<&str> = lines[..end].to_vec();
    // A quoted block at the end (bottom-posting clients without an attribution line).
    while kept
        .last()
        .is_some_and(|l| l.trim().is_empty() || l.trim_start().starts_with('>'))
    {
        kept.pop();
    }
    kept.join("\n").trim_matches('\n').trim_end().to_string()
}

/// Reads an agent's mail: command lines first (blank lines between them are
/// fine), then the text, trimmed.
pub fn read_agent_text(text: &str) -> AgentText {
    let mut out = AgentText::default();
    let mut rest_from = 0;
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let l = line.trim();
        if l.is_empty() {
            rest_from = i + 1;
            continue;
        }
        if !l.starts_with('#')
            || l.starts_with("##")
            || l.len() < 2
            || !l[1..].starts_with(|c: char| c.is_alphabetic())
        {
            break;
        }
        match parse_command(l) {
            Ok(c) => out.commands.push(c),
            Err(n) => out.not_understood.push(n),
        }
        rest_from = i + 1;
    }
    out.body = trim_reply(&lines[rest_from.min(lines.len())..].join("\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_then_text() {
        let a = read_agent_text("#close\n#assign Bob\n\nThanks, fixed now.\n");
        assert_eq!(
            a.commands,
            vec![Command::Close, Command::Assign("Bob".into())]
        );
        assert_eq!(a.body, "Thanks, fixed now.");
        let a = read_agent_text("#priority URGENT\n#merge #12\n#note\nChecked the logs.");
        assert_eq!(
            a.commands,
            vec![
                Command::Priority("urgent".into()),
                Command::Merge(12),
                Command::Note
            ]
        );
        assert_eq!(a.body, "Checked the logs.");
    }

    #[test]
    fn near_misses_get_suggestions() {
        let a = read_agent_text("#asign bob\n#clsoe\n#frobnicate\n");
        assert_eq!(a.commands, vec![]);
        let s: Vec<_> = a
            .not_understood
            .iter()
            .map(|n| n.suggestion.clone())
            .collect();
        assert_eq!(s, vec![Some("#assign".into()), Some("#close".into()), None]);
        assert_eq!(read_agent_text("#priority soon").not_understood.len(), 1);
        assert_eq!(read_agent_text("#merge x").not_understood.len(), 1);
    }

    #[test]
    fn hashtags_inside_text_are_text() {
        let a = read_agent_text("Use #42 as reference.\n#close");
        assert!(a.commands.is_empty());
        assert_eq!(a.body, "Use #42 as reference.\n#close");
        assert!(read_agent_text("#1 is the ticket").commands.is_empty());
    }

    #[test]
    fn quotes_of_every_client_are_trimmed() {
        let cases = [
            "Hi Jane,\nplease restart it.\n\nOn Thu, 26 Nov 2026 at 10:00, Support <support+1-abc@example.com> wrote:\n> [#1] Printer\n> text\n",
            "Hi Jane,\nplease restart it.\n\nOn Thu, 26 Nov 2026 at 10:00, Jane Doe via Support\n<support+1-abc@example.com> wrote:\n> text\n",
            "Hi Jane,\nplease restart it.\n\n-----Original Message-----\nFrom: Support\nSent: Thursday\n",
            "Hi Jane,\nplease restart it.\n\n________________________________\nFrom: Support <support@example.com>\nSent: Thursday, November 26, 2026 10:00\n",
            "Hi Jane,\nplease restart it.\n\nFrom: Support <support@example.com>\nDate: Thursday, 26 November 2026 at 10:00\nTo: Alice\n",
            "Hi Jane,\nplease restart it.\n\nAm 26.11.2026 um 10:00 schrieb Support:\n> text\n",
            "Hi Jane,\nplease restart it.\n\n-- \nAlice Smith\nalice@example.com\n+30 210 000\n",
            "Hi Jane,\nplease restart it.\n\n> quoted at the bottom\n> more\n",
        ];
        for c in cases {
            assert_eq!(trim_reply(c), "Hi Jane,\nplease restart it.", "{c:?}");
        }
    }

    #[test]
    fn the_agents_own_text_stays_intact() {
        let text = "Hi,\n\n> you wrote: it fails\n\nIt fails because of X.\nOn Monday we fix it.\n-- not a signature";
        assert_eq!(trim_reply(text), text);
    }
}
