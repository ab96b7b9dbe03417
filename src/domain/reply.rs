//! An agent's mail, read as a person would: the commands at the top
//! (`#close`, `#assign bob`, ...), then the text they wrote, trimmed of what
//! their mail client added ([`super::trim`]) before it goes to the customer.

/// One command line of an agent's mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentCommand {
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
    /// `#attachments` (or `#files`): the ticket's files, in the receipt.
    Files,
    /// A list of tickets, answered by mail.
    Overview(Overview),
}

impl AgentCommand {
    /// The command as an agent writes it (`#assign bob`), for the log.
    pub fn written(&self) -> String {
        match self {
            AgentCommand::Close => "#close".into(),
            AgentCommand::Resolve => "#resolve".into(),
            AgentCommand::Pending => "#pending".into(),
            AgentCommand::Open => "#open".into(),
            AgentCommand::Assign(who) => format!("#assign {who}"),
            AgentCommand::Take => "#take".into(),
            AgentCommand::Priority(p) => format!("#priority {p}"),
            AgentCommand::Note => "#note".into(),
            AgentCommand::Merge(n) => format!("#merge {n}"),
            AgentCommand::Spam => "#spam".into(),
            AgentCommand::Files => "#attachments".into(),
            AgentCommand::Overview(Overview::Mine) => "#mine".into(),
            AgentCommand::Overview(Overview::Queue) => "#queue".into(),
            AgentCommand::Overview(Overview::AtRisk) => "#atrisk".into(),
            AgentCommand::Overview(Overview::Find(w)) => format!("#find {w}"),
            AgentCommand::Overview(Overview::DueBy(t)) => format!("(due by {t})"),
        }
    }
}

/// The lists an agent can ask for by mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overview {
    /// `#mine`: the agent's open tickets.
    Mine,
    /// `#queue`: open tickets nobody has taken.
    Queue,
    /// `#atrisk`: tickets near or past their deadline.
    AtRisk,
    /// `#find WORDS`: tickets whose subject, customer or text has every word.
    Find(String),
    /// Open tickets whose response is due by then, or late (the daily digest).
    DueBy(jiff::Timestamp),
}

/// A `#word` line that is not a command: what it said, and a likely meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotUnderstood {
    pub line: String,
    pub hint: Option<Hint>,
}

/// What a line that is not a command probably meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    /// A near miss of this command (`#clsoe` → `#close`).
    DidYouMean(String),
    /// The command is right but its argument is not: how it is written
    /// (`assign`, `priority`, `merge`, `find`).
    Usage(&'static str),
    /// The command takes no argument.
    NoArgument,
}

/// An agent's mail, taken apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentText {
    pub commands: Vec<AgentCommand>,
    pub not_understood: Vec<NotUnderstood>,
    /// What the agent wrote, without commands, quote and signature.
    pub body: String,
    /// What trimming cut, and whether it had to guess more than it kept.
    pub cut: Cut,
    pub doubtful: bool,
}

use super::trim::{Cut, Known, trim};

const COMMANDS: &[&str] = &[
    "close",
    "resolve",
    "pending",
    "open",
    "assign",
    "take",
    "priority",
    "note",
    "merge",
    "spam",
    "mine",
    "queue",
    "atrisk",
    "find",
    "attachments",
    "files",
];
const PRIORITIES: &[&str] = &["low", "normal", "high", "urgent"];

fn suggest(word: &str) -> Option<Hint> {
    COMMANDS
        .iter()
        .map(|c| (strsim::levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2 && *d < c.len())
        .min()
        .map(|(_, c)| Hint::DidYouMean(format!("#{c}")))
}

fn parse_command(line: &str) -> Result<AgentCommand, NotUnderstood> {
    let rest = line.trim().trim_start_matches('#');
    let (word, arg) = rest
        .split_once(char::is_whitespace)
        .map_or((rest, ""), |(w, a)| (w, a.trim()));
    let word = word.to_lowercase();
    let bad = |hint: Option<Hint>| NotUnderstood {
        line: line.trim().to_string(),
        hint,
    };
    match (word.as_str(), arg) {
        ("close", "") => Ok(AgentCommand::Close),
        ("resolve", "") => Ok(AgentCommand::Resolve),
        ("pending", "") => Ok(AgentCommand::Pending),
        ("open", "") => Ok(AgentCommand::Open),
        ("take", "") => Ok(AgentCommand::Take),
        ("note", "") => Ok(AgentCommand::Note),
        ("spam", "") => Ok(AgentCommand::Spam),
        ("attachments" | "files", "") => Ok(AgentCommand::Files),
        ("mine", "") => Ok(AgentCommand::Overview(Overview::Mine)),
        ("queue", "") => Ok(AgentCommand::Overview(Overview::Queue)),
        ("atrisk" | "at-risk", "") => Ok(AgentCommand::Overview(Overview::AtRisk)),
        ("find", w) if !w.is_empty() => Ok(AgentCommand::Overview(Overview::Find(w.to_string()))),
        ("find", _) => Err(bad(Some(Hint::Usage("find")))),
        ("assign", a) if !a.is_empty() => Ok(AgentCommand::Assign(a.to_string())),
        ("assign", _) => Err(bad(Some(Hint::Usage("assign")))),
        ("priority", p) if PRIORITIES.contains(&p.to_lowercase().as_str()) => {
            Ok(AgentCommand::Priority(p.to_lowercase()))
        }
        ("priority", _) => Err(bad(Some(Hint::Usage("priority")))),
        ("merge", n) => match n.trim_start_matches('#').parse::<i64>() {
            Ok(n) if n > 0 => Ok(AgentCommand::Merge(n)),
            _ => Err(bad(Some(Hint::Usage("merge")))),
        },
        (w, _) if COMMANDS.contains(&w) => Err(bad(Some(Hint::NoArgument))),
        (w, _) => Err(bad(suggest(w))),
    }
}

/// Reads an agent's mail: command lines first (blank lines between them are
/// fine), then the text, trimmed against what `known` holds.
pub fn read_agent_text(text: &str, known: &Known<'_>) -> AgentText {
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
    let trimmed = trim(&lines[rest_from.min(lines.len())..].join("\n"), known);
    out.doubtful = trimmed.doubtful();
    out.body = trimmed.text;
    out.cut = trimmed.cut;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> AgentText {
        read_agent_text(text, &Known::default())
    }

    #[test]
    fn commands_then_text() {
        let a = read("#close\n#assign Bob\n\nThanks, fixed now.\n");
        assert_eq!(
            a.commands,
            vec![AgentCommand::Close, AgentCommand::Assign("Bob".into())]
        );
        assert_eq!(a.body, "Thanks, fixed now.");
        let a = read("#priority URGENT\n#merge #12\n#note\nChecked the logs.");
        assert_eq!(
            a.commands,
            vec![
                AgentCommand::Priority("urgent".into()),
                AgentCommand::Merge(12),
                AgentCommand::Note
            ]
        );
        assert_eq!(a.body, "Checked the logs.");
    }

    #[test]
    fn near_misses_get_suggestions() {
        let a = read("#asign bob\n#clsoe\n#frobnicate\n");
        assert_eq!(a.commands, vec![]);
        let s: Vec<_> = a.not_understood.iter().map(|n| n.hint.clone()).collect();
        let near = |c: &str| Some(Hint::DidYouMean(c.into()));
        assert_eq!(s, vec![near("#assign"), near("#close"), None]);
        assert_eq!(read("#priority soon").not_understood.len(), 1);
        assert_eq!(read("#merge x").not_understood.len(), 1);
    }

    #[test]
    fn overview_commands() {
        let a = read("#mine\n#queue\n#atrisk\n#find broken printer\n");
        assert_eq!(
            a.commands,
            vec![
                AgentCommand::Overview(Overview::Mine),
                AgentCommand::Overview(Overview::Queue),
                AgentCommand::Overview(Overview::AtRisk),
                AgentCommand::Overview(Overview::Find("broken printer".into())),
            ]
        );
        assert_eq!(read("#find").not_understood.len(), 1);
        assert_eq!(
            read("#mien").not_understood[0].hint,
            Some(Hint::DidYouMean("#mine".into()))
        );
    }

    #[test]
    fn hashtags_inside_text_are_text() {
        let a = read("Use #42 as reference.\n#close");
        assert!(a.commands.is_empty());
        assert_eq!(a.body, "Use #42 as reference.\n#close");
        assert!(read("#1 is the ticket").commands.is_empty());
    }
}
