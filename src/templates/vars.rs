//! The variables every template sees (DESIGN §7), and the values kept raw
//! until render time ([`Raw`]): dates, durations and phrases, which are
//! spelled in the language of the template that renders them.

use super::words::Words;
use crate::domain::phrase::Phrase;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, Default)]
pub struct TicketVars {
    pub number: i64,
    /// `[#42]`
    pub tag: String,
    pub subject: String,
    pub status: String,
    pub priority: String,
    pub created_at: String,
    pub due_at: Option<String>,
    pub assignee: Option<String>,
    /// The message that prompts this mail opened the ticket.
    pub is_new: bool,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct PersonVars {
    pub name: Option<String>,
    pub email: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct MessageVars {
    pub text: String,
    pub subject: String,
    /// `name (type, size)` of each attachment.
    pub attachments: Vec<String>,
    /// Characters of the text left out (it is kept on the ticket).
    pub cut: usize,
    /// The attachments this mail does not carry (over `attach_limit` in
    /// all), as `name (type, size)`.
    pub left_out: Vec<String>,
    /// The most a mail carries, `10.0 MB`.
    pub attach_limit: String,
}

/// One held-back notification in a digest.
#[derive(Debug, Clone, Serialize, Default)]
pub struct DigestItem {
    /// `[#42]`
    pub tag: String,
    pub subject: String,
    /// `customer_message`, `note` or `agent_reply`.
    pub event: String,
    /// Who wrote it.
    pub who: String,
    /// When it arrived, in the recipient's zone.
    pub at: String,
}

/// One ticket of a list sent to an agent.
#[derive(Debug, Clone, Serialize, Default)]
pub struct LineVars {
    pub tag: String,
    pub subject: String,
    /// `Name <address>` or the address.
    pub customer: String,
    pub status: String,
    /// When the running response clock is due, in the agent's zone (empty
    /// when none runs).
    pub due: String,
    /// That time has passed.
    pub late: bool,
    /// The address that acts on this ticket as the agent.
    pub reply: String,
}

/// What an agent's commands did, for `command_result`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ResultVars {
    pub applied: Vec<String>,
    pub not_understood: Vec<String>,
    /// Who the agent's reply went to, when it went.
    pub relayed: Option<String>,
    /// Why nothing was sent to the customer although the agent answered
    /// (empty when something was, or nothing was meant to be).
    pub held: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct SlaVars {
    pub target: String,
    pub due_at: String,
    /// The deadline with its preposition: "by Friday …", "έως την
    /// Παρασκευή …", "do piątku, …" (the article or case follows the day).
    pub due_until: String,
    pub remaining: String,
    /// How late the answer is, once the target has passed (`2h 10m`).
    pub late: String,
    /// The escalation level (1, 2, ...); 0 for a warning.
    pub level: u32,
}

/// For an admin's alert (`oauth_failed`): which account stopped working,
/// since when, why, and the command that mends it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct AlertVars {
    pub account: String,
    pub provider: String,
    /// The provider's words (`invalid_grant: ...`).
    pub error: String,
    /// When it stopped working, spelled in the template's language.
    pub since: String,
    /// `postdesk auth login NAME`.
    pub command: String,
    /// The mailboxes read over IMAP with the account.
    pub imap_mailboxes: Vec<String>,
    /// Whether mail is sent over SMTP with the account.
    pub smtp: bool,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct MailboxVars {
    pub name: String,
    pub address: String,
    pub display_name: String,
}

/// The variables every template sees (DESIGN §7).
#[derive(Debug, Clone, Serialize, Default)]
pub struct Vars {
    /// What prompts the mail: `customer_message`, `agent_reply`, `note`, ...
    pub event: String,
    pub ticket: TicketVars,
    pub customer: PersonVars,
    pub agent: Option<PersonVars>,
    pub message: MessageVars,
    pub sla: SlaVars,
    pub mailbox: MailboxVars,
    pub result: ResultVars,
    /// For the survey: the page that takes a rating by link (append `/N`),
    /// empty when the HTTP listener has no `public_url`.
    pub rate_url: String,
    /// For a digest: the notifications a limit held back, oldest first.
    pub digest: Vec<DigestItem>,
    /// For a list (`#mine`, `#find` ...) and the daily digest: its tickets.
    pub lines: Vec<LineVars>,
    /// What `#find` looked for.
    pub query: String,
    /// For the daily digest: tickets due by the end of the day, or late.
    pub due: Vec<LineVars>,
    /// For the daily digest: open tickets nobody has taken.
    pub queue: Vec<LineVars>,
    /// This mail also asks for a rating (the survey's question is appended,
    /// and its Reply-To carries the survey's token).
    pub survey: bool,
    /// This mail also tells the customer the ticket is done.
    pub closing: bool,
    /// For an admin's alert.
    pub alert: AlertVars,
    /// The values behind some of the strings above, spelled at render
    /// time the way the template's language writes them.
    #[serde(skip)]
    pub raw: Raw,
}

/// Times, durations and phrases, and the recipient's time zone: spelled
/// per language when a template renders.
#[derive(Debug, Clone, Default)]
pub struct Raw {
    pub zone: Option<jiff::tz::TimeZone>,
    pub created_at: Option<jiff::Timestamp>,
    pub due_at: Option<jiff::Timestamp>,
    pub sla_due_at: Option<jiff::Timestamp>,
    /// What is left of the SLA target, and whether it is counted in the
    /// calendar's working hours.
    pub sla_remaining: Option<jiff::SignedDuration>,
    pub working_time: bool,
    /// How late the answer is.
    pub sla_late: Option<jiff::SignedDuration>,
    /// Since when an alert's account has failed.
    pub alert_since: Option<jiff::Timestamp>,
    /// The receipt's lines.
    pub applied: Vec<Phrase>,
    pub not_understood: Vec<Phrase>,
    pub held: Option<Phrase>,
}

impl Raw {
    /// A receipt of every command, for checking templates.
    fn sample_receipts() -> Vec<Phrase> {
        let mut out: Vec<Phrase> = ["open", "pending", "resolved", "closed"]
            .into_iter()
            .map(|s| Phrase::new("receipt.status").with("status", s))
            .collect();
        out.extend(
            ["low", "normal", "high", "urgent"]
                .into_iter()
                .map(|p| Phrase::new("receipt.priority").with("priority", p)),
        );
        out.push(Phrase::new("receipt.took").with("name", "Alice"));
        out.push(
            Phrase::new("receipt.assigned")
                .with("name", "Bob")
                .with("email", "bob@example.com"),
        );
        for key in [
            "receipt.note",
            "receipt.spam",
            "receipt.files",
            "receipt.no_files",
        ] {
            out.push(Phrase::new(key));
        }
        out.push(Phrase::new("receipt.merged").with("number", 41));
        out
    }

    /// Every way a command line can be misunderstood, for checking templates.
    fn sample_not_understood() -> Vec<Phrase> {
        let line = |key| Phrase::new(key).with("line", "#asign bob");
        let mut out: Vec<Phrase> = [
            "unknown.merge_self",
            "unknown.merge_missing",
            "unknown.no_argument",
            "unknown.not_a_command",
            "unknown.usage.assign",
            "unknown.usage.priority",
            "unknown.usage.merge",
            "unknown.usage.find",
        ]
        .into_iter()
        .map(line)
        .collect();
        out.push(line("unknown.did_you_mean").with("command", "#assign"));
        out.push(line("unknown.agent").with("agents", "Alice, Bob"));
        out.push(Phrase::new("unknown.no_customer"));
        out.push(Phrase::new("held.unproven_token").with("holders", "bob@example.com"));
        out
    }
}

impl Vars {
    /// These variables with their dates, durations and phrases spelled for
    /// `lang`.
    pub(super) fn spelled_in(&self, lang: &str, words: &Words) -> Result<Vars, String> {
        let mut v = self.clone();
        let raw = &self.raw;
        let phrases = |list: &[Phrase]| -> Result<Vec<String>, String> {
            list.iter().map(|p| words.phrase(lang, p)).collect()
        };
        if !raw.applied.is_empty() {
            v.result.applied = phrases(&raw.applied)?;
        }
        if !raw.not_understood.is_empty() {
            v.result.not_understood = phrases(&raw.not_understood)?;
        }
        if let Some(p) = &raw.held {
            v.result.held = words.phrase(lang, p)?;
        }
        if let Some(d) = raw.sla_remaining {
            let spelled = words.duration(lang, d, !raw.working_time);
            v.sla.remaining = if raw.working_time {
                words
                    .get(lang, "sla.working_time")
                    .unwrap_or("{duration}")
                    .replace("{duration}", &spelled)
            } else {
                spelled
            };
        }
        if let Some(d) = raw.sla_late {
            v.sla.late = words.duration(lang, d, true);
        }
        let Some(zone) = &raw.zone else {
            return Ok(v);
        };
        let spell = |t| crate::domain::dates::spell(t, zone, lang);
        if let Some(t) = raw.created_at {
            v.ticket.created_at = spell(t);
        }
        if let Some(t) = raw.due_at {
            v.ticket.due_at = Some(spell(t));
        }
        if let Some(t) = raw.alert_since {
            v.alert.since = spell(t);
        }
        if let Some(t) = raw.sla_due_at {
            v.sla.due_at = spell(t);
            v.sla.due_until = crate::domain::dates::spell_until(t, zone, lang);
        }
        Ok(v)
    }

    /// Samples that take every branch a template may have: each event, with
    /// and without the optional parts.
    pub fn samples() -> Vec<Vars> {
        let full = Vars::sample();
        let mut out = vec![full.clone()];
        for event in [
            "agent_reply",
            "note",
            "command_result",
            "sla_warning",
            "escalation",
            "assigned",
            "unassigned",
            "mine",
            "queue",
            "atrisk",
            "find",
        ] {
            out.push(Vars {
                event: event.into(),
                ..full.clone()
            });
        }
        let mut daily = full.clone();
        daily.event = "daily".into();
        daily.due = daily.lines.clone();
        daily.queue = daily.lines.clone();
        out.push(daily);
        for (status, priority) in [
            ("pending", "low"),
            ("resolved", "high"),
            ("closed", "urgent"),
        ] {
            let mut v = full.clone();
            v.ticket.status = status.into();
            v.ticket.priority = priority.into();
            v.sla.target = "next_response".into();
            v.raw.working_time = true;
            out.push(v);
        }
        let mut bare = full;
        bare.ticket.due_at = None;
        bare.ticket.assignee = None;
        bare.ticket.is_new = false;
        bare.customer.name = None;
        bare.agent = None;
        bare.message.attachments.clear();
        bare.message.left_out.clear();
        bare.result = ResultVars::default();
        bare.sla.due_at = String::new();
        bare.sla.due_until = String::new();
        bare.sla.late = String::new();
        bare.sla.level = 0;
        bare.rate_url = String::new();
        bare.message.cut = 0;
        bare.digest.clear();
        bare.survey = false;
        bare.closing = false;
        bare.lines.clear();
        bare.raw = Raw::default();
        out.push(bare);
        out
    }

    /// A plausible ticket for checking templates.
    pub fn sample() -> Vars {
        Vars {
            event: "customer_message".into(),
            ticket: TicketVars {
                number: 42,
                tag: "[#42]".into(),
                subject: "Printer on floor 2 is broken".into(),
                status: "open".into(),
                priority: "normal".into(),
                created_at: "2026-11-26 09:15 UTC".into(),
                due_at: Some("2026-11-27 09:15 UTC".into()),
                assignee: Some("Alice".into()),
                is_new: true,
            },
            customer: PersonVars {
                name: Some("Jane Doe".into()),
                email: "jane@example.org".into(),
            },
            agent: Some(PersonVars {
                name: Some("Alice".into()),
                email: "alice@example.com".into(),
            }),
            message: MessageVars {
                text: "Hello,\nthe printer shows error E42.\nJane".into(),
                subject: "Printer on floor 2 is broken".into(),
                attachments: vec![
                    "photo.jpg (image/jpeg, 120 KB)".into(),
                    "video.mp4 (video/mp4, 30 MB)".into(),
                ],
                cut: 1234,
                left_out: vec!["video.mp4 (video/mp4, 30 MB)".into()],
                attach_limit: "10 MB".into(),
            },
            sla: SlaVars {
                target: "first_response".into(),
                due_at: "2026-11-27 09:15 UTC".into(),
                due_until: "by 2026-11-27 09:15 UTC".into(),
                remaining: "1d".into(),
                late: "2h 10m".into(),
                level: 1,
            },
            mailbox: MailboxVars {
                name: "support".into(),
                address: "support@example.com".into(),
                display_name: "Example Support".into(),
            },
            result: ResultVars {
                relayed: Some("Jane Doe <jane@example.org>".into()),
                ..ResultVars::default()
            },
            rate_url: "https://support.example.com/rate/42r-abcdefghijklmnop".into(),
            digest: ["customer_message", "note", "agent_reply"]
                .into_iter()
                .map(|event| DigestItem {
                    tag: "[#42]".into(),
                    subject: "Printer on floor 2 is broken".into(),
                    event: event.into(),
                    who: "Jane Doe".into(),
                    at: "2026-11-26 09:15 UTC".into(),
                })
                .collect(),
            survey: true,
            closing: true,
            alert: AlertVars {
                account: "acme".into(),
                provider: "microsoft".into(),
                error: "invalid_grant: AADSTS50173".into(),
                since: "2026-11-26 09:15 UTC".into(),
                command: "postdesk auth login acme".into(),
                imap_mailboxes: vec!["support".into()],
                smtp: true,
            },
            lines: vec![
                LineVars {
                    tag: "[#42]".into(),
                    subject: "Printer on floor 2 is broken".into(),
                    customer: "Jane Doe <jane@example.org>".into(),
                    status: "open".into(),
                    due: "2026-11-27 09:15 UTC".into(),
                    late: true,
                    reply: "support+42-abcdefghijklmnop@example.com".into(),
                },
                LineVars {
                    tag: "[#43]".into(),
                    subject: "Refund".into(),
                    customer: "bob@example.org".into(),
                    status: "pending".into(),
                    due: String::new(),
                    late: false,
                    reply: "support+43-abcdefghijklmnop@example.com".into(),
                },
            ],
            query: "printer".into(),
            due: Vec::new(),
            queue: Vec::new(),
            raw: Raw {
                zone: Some(jiff::tz::TimeZone::UTC),
                created_at: "2026-11-26T09:15:00Z".parse().ok(),
                due_at: "2026-11-27T09:15:00Z".parse().ok(),
                sla_due_at: "2026-11-27T09:15:00Z".parse().ok(),
                sla_remaining: Some(jiff::SignedDuration::from_secs(26 * 3600)),
                working_time: false,
                sla_late: Some(jiff::SignedDuration::from_secs(2 * 3600 + 600)),
                alert_since: "2026-11-26T09:15:00Z".parse().ok(),
                applied: Raw::sample_receipts(),
                not_understood: Raw::sample_not_understood(),
                held: Some(Phrase::new("held.empty").with("lines", 3)),
            },
        }
    }
}
