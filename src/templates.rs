//! The mail templates: minijinja files `<lang>/<event>.txt` whose first line
//! is `Subject: ...`. Built-in copies ship inside the binary; files under
//! `templates_dir` override them one by one. Every template is compiled and
//! rendered with a sample ticket at start (and by `postdesk check`), so a
//! broken template is found before any mail needs it.

use crate::domain::model::OutKind;
use minijinja::{Environment, UndefinedBehavior, Value};
use serde::Serialize;
use std::path::Path;

/// Languages we ship, the first is the fallback.
pub const LANGUAGES: &[&str] = &["en", "el", "pl"];

/// Pieces included by other templates (their names start with `_`): the
/// survey's question and the closing note, which a relayed answer, the
/// closing mail and the survey mail share.
pub const PARTIALS: &[&str] = &["_survey", "_closing"];

/// Templates of mail to agents that is no outbox kind of its own: the
/// lists they ask for, and help when their mail did nothing.
pub const AGENT_TEMPLATES: &[&str] = &["overview", "agent_help", "daily"];

/// Built-in templates for each language: (language, event, source).
macro_rules! builtin {
    ($($event:literal),* $(,)?) => {
        &[$(
            ("en", $event, include_str!(concat!("../templates/en/", $event, ".txt"))),
            ("el", $event, include_str!(concat!("../templates/el/", $event, ".txt"))),
            ("pl", $event, include_str!(concat!("../templates/pl/", $event, ".txt"))),
        )*]
    };
}

const BUILTIN: &[(&str, &str, &str)] = builtin!(
    "_survey",
    "_closing",
    "ack",
    "agent_notify",
    "agent_reply",
    "command_result",
    "sla_warning",
    "escalation",
    "survey",
    "closed",
    "digest",
    "overview",
    "agent_help",
    "daily"
);

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template {name}: {message}")]
    Invalid { name: String, message: String },
    #[error("cannot read template {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no template for {event} in {lang} or en")]
    Missing { event: String, lang: String },
}

/// A rendered template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
}

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
    /// The moments behind the dates above: at render time they are spelled
    /// the way the template's language writes dates.
    #[serde(skip)]
    pub moments: Moments,
}

/// Times and the recipient's time zone, for dates spelled per language.
#[derive(Debug, Clone, Default)]
pub struct Moments {
    pub zone: Option<jiff::tz::TimeZone>,
    pub created_at: Option<jiff::Timestamp>,
    pub due_at: Option<jiff::Timestamp>,
    pub sla_due_at: Option<jiff::Timestamp>,
}

impl Vars {
    /// These variables with their dates spelled for `lang`.
    fn spelled_in(&self, lang: &str) -> Vars {
        let mut v = self.clone();
        let Some(zone) = &self.moments.zone else {
            return v;
        };
        let spell = |t| crate::domain::dates::spell(t, zone, lang);
        if let Some(t) = self.moments.created_at {
            v.ticket.created_at = spell(t);
        }
        if let Some(t) = self.moments.due_at {
            v.ticket.due_at = Some(spell(t));
        }
        if let Some(t) = self.moments.sla_due_at {
            v.sla.due_at = spell(t);
            v.sla.due_until = crate::domain::dates::spell_until(t, zone, lang);
        }
        v
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
        let mut bare = full;
        bare.ticket.due_at = None;
        bare.ticket.assignee = None;
        bare.ticket.is_new = false;
        bare.customer.name = None;
        bare.agent = None;
        bare.message.attachments.clear();
        bare.result = ResultVars::default();
        bare.sla.due_at = String::new();
        bare.sla.late = String::new();
        bare.sla.level = 0;
        bare.rate_url = String::new();
        bare.message.cut = 0;
        bare.digest.clear();
        bare.survey = false;
        bare.closing = false;
        bare.lines.clear();
        bare.moments = Moments::default();
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
                attachments: vec!["photo.jpg (image/jpeg, 120 KB)".into()],
                cut: 1234,
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
                applied: vec!["status: resolved".into()],
                not_understood: vec!["#asign bob (did you mean #assign?)".into()],
                relayed: Some("Jane Doe <jane@example.org>".into()),
                held: "the reply had no text of its own".into(),
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
            moments: Moments {
                zone: Some(jiff::tz::TimeZone::UTC),
                created_at: "2026-11-26T09:15:00Z".parse().ok(),
                due_at: "2026-11-27T09:15:00Z".parse().ok(),
                sla_due_at: "2026-11-27T09:15:00Z".parse().ok(),
            },
        }
    }
}

pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

fn name(lang: &str, event: &str) -> String {
    format!("{lang}/{event}.txt")
}

impl Templates {
    /// The built-in templates, overridden by files in `dir`; all checked.
    pub fn load(dir: Option<&Path>) -> Result<Templates, Vec<TemplateError>> {
        Templates::load_with(dir, &[])
    }

    /// As [`Templates::load`], plus templates the configuration names
    /// (`[[sla.NAME.escalation]] template`), which must exist in `dir` (in
    /// English at least).
    pub fn load_with(
        dir: Option<&Path>,
        extra: &[String],
    ) -> Result<Templates, Vec<TemplateError>> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .keep_trailing_newline(true)
                .trim_blocks(true)
                .build()
                .expect("default delimiters"),
        );
        let mut errors = Vec::new();
        let add = |env: &mut Environment<'static>,
                   errors: &mut Vec<TemplateError>,
                   n: String,
                   src: String| {
            if let Err(e) = env.add_template_owned(n.clone(), src) {
                errors.push(TemplateError::Invalid {
                    name: n,
                    message: e.to_string(),
                });
            }
        };
        for (lang, event, src) in BUILTIN {
            add(&mut env, &mut errors, name(lang, event), src.to_string());
        }
        if let Some(dir) = dir {
            for lang in LANGUAGES {
                for event in OutKind::NAMES
                    .iter()
                    .chain(PARTIALS)
                    .chain(AGENT_TEMPLATES)
                    .copied()
                    .chain(extra.iter().map(String::as_str))
                {
                    let path = dir.join(lang).join(format!("{event}.txt"));
                    match std::fs::read_to_string(&path) {
                        Ok(src) => add(&mut env, &mut errors, name(lang, event), src),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(source) => errors.push(TemplateError::Read {
                            path: path.display().to_string(),
                            source,
                        }),
                    }
                }
            }
        }
        for event in extra {
            if env.get_template(&name("en", event)).is_err() {
                errors.push(TemplateError::Missing {
                    event: event.clone(),
                    lang: "en".into(),
                });
            }
        }
        let t = Templates { env };
        if errors.is_empty() {
            errors.extend(t.check());
        }
        if errors.is_empty() {
            Ok(t)
        } else {
            Err(errors)
        }
    }

    /// Renders every template with [`Vars::sample`].
    fn check(&self) -> Vec<TemplateError> {
        let mut errors = Vec::new();
        for (n, _) in self.env.templates() {
            let (lang, event) = n
                .trim_end_matches(".txt")
                .split_once('/')
                .unwrap_or(("en", n));
            if PARTIALS.contains(&event) {
                // Checked through the templates that include them.
                continue;
            }
            if let Some(e) = Vars::samples()
                .iter()
                .find_map(|v| self.render(lang, event, v).err())
            {
                errors.push(e);
            }
        }
        errors
    }

    /// Is there a template for `event` (in any language)?
    pub fn has(&self, event: &str) -> bool {
        self.env.get_template(&name("en", event)).is_ok()
    }

    /// Renders `event` in `lang`, falling back to English.
    pub fn render(&self, lang: &str, event: &str, vars: &Vars) -> Result<Rendered, TemplateError> {
        let n = name(lang, event);
        let tmpl =
            match self.env.get_template(&n) {
                Ok(t) => t,
                Err(_) => self.env.get_template(&name("en", event)).map_err(|_| {
                    TemplateError::Missing {
                        event: event.into(),
                        lang: lang.into(),
                    }
                })?,
            };
        let used = tmpl.name().split('/').next().unwrap_or("en");
        let vars = vars.spelled_in(used);
        let out = tmpl
            .render(Value::from(minijinja::value::Serde(&vars)))
            .map_err(|e| TemplateError::Invalid {
                name: tmpl.name().to_string(),
                message: format!("{e:#}"),
            })?;
        split_subject(&out).ok_or_else(|| TemplateError::Invalid {
            name: tmpl.name().to_string(),
            message: "the first line must be \"Subject: ...\"".into(),
        })
    }
}

fn split_subject(out: &str) -> Option<Rendered> {
    let (first, rest) = out.split_once('\n').unwrap_or((out, ""));
    let subject = first
        .trim_end_matches('\r')
        .strip_prefix("Subject:")?
        .trim()
        .to_string();
    let body = rest
        .strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))
        .unwrap_or(rest);
    Some(Rendered {
        subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
        body: body.to_string(),
    })
}

/// The template language: the mailbox's, else the customer's
/// Content-Language when we ship it, else English.
pub fn pick_language(mailbox: Option<&str>, content_language: Option<&str>) -> &'static str {
    let find = |l: &str| {
        let l = l.trim().to_lowercase();
        let primary = l
            .split(['-', '_', ',', ';'])
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        LANGUAGES.iter().copied().find(|x| *x == primary)
    };
    mailbox
        .and_then(find)
        .or_else(|| content_language.and_then(find))
        .unwrap_or(LANGUAGES[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_render_in_every_language() {
        let t = Templates::load(None).unwrap();
        // The deadline reads with its preposition, in the case it takes.
        let due = [
            ("en", "Friday 27 November 2026, 09:15 UTC"),
            ("el", "έως την Παρασκευή 27 Νοεμβρίου 2026, 09:15 UTC"),
            ("pl", "do piątku, 27 listopada 2026 r., godz. 09:15 UTC"),
        ];
        for (lang, when) in due {
            let r = t.render(lang, "ack", &Vars::sample()).unwrap();
            assert!(r.subject.starts_with("[#42] "), "{lang}: {}", r.subject);
            assert!(r.body.contains("[#42]"));
            assert!(r.body.contains(when), "{lang}: {}", r.body);
        }
        // Greek and Polish greetings carry no name: a name in the nominative
        // after "Γεια σας", or bare after "Dzień dobry", reads wrong.
        for (lang, event, greeting) in [
            ("el", "ack", "Γεια σας,\n\nΣας ευχαριστούμε"),
            ("el", "survey", "Γεια σας,\n\nΤο αίτημά"),
            ("pl", "ack", "Dzień dobry,\n\ndziękujemy"),
            ("pl", "closed", "Dzień dobry,\n\nTwoje"),
        ] {
            let r = t.render(lang, event, &Vars::sample()).unwrap();
            assert!(r.body.starts_with(greeting), "{lang} {event}: {}", r.body);
        }
        let r = t.render("el", "escalation", &Vars::sample()).unwrap();
        assert!(
            r.body.contains("(πελάτης: Jane Doe <jane@example.org>)")
                && r.body.contains("Κλιμάκωση: επίπεδο 1"),
            "{}",
            r.body
        );
        // A language we have no template for falls back to English, dates too.
        let r = t.render("de", "ack", &Vars::sample()).unwrap();
        assert!(r.body.contains("Friday 27 November 2026"), "{}", r.body);
    }

    #[test]
    fn overrides_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("en")).unwrap();
        std::fs::write(
            dir.path().join("en/ack.txt"),
            "Subject: hi {{ ticket.nope }}\nbody",
        )
        .unwrap();
        let errs = Templates::load(Some(dir.path())).unwrap_err();
        assert!(errs[0].to_string().contains("en/ack.txt"), "{}", errs[0]);
        std::fs::write(dir.path().join("en/ack.txt"), "no subject line\n").unwrap();
        assert!(Templates::load(Some(dir.path())).is_err());
        std::fs::write(
            dir.path().join("en/ack.txt"),
            "Subject: {{ ticket.tag }} thanks\n\nWe got it.\n",
        )
        .unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let r = t.render("en", "ack", &Vars::sample()).unwrap();
        assert_eq!(r.subject, "[#42] thanks");
        assert_eq!(r.body, "We got it.\n");
    }

    #[test]
    fn every_mail_the_daemon_sends_has_a_template_in_every_language() {
        let t = Templates::load(None).unwrap();
        for event in [
            "ack",
            "agent_notify",
            "agent_reply",
            "command_result",
            "sla_warning",
            "escalation",
        ] {
            for lang in LANGUAGES {
                assert!(
                    t.env.get_template(&name(lang, event)).is_ok(),
                    "{lang}/{event}"
                );
            }
        }
    }

    #[test]
    fn language_choice() {
        assert_eq!(pick_language(Some("pl"), Some("el")), "pl");
        assert_eq!(pick_language(None, Some("el-GR")), "el");
        assert_eq!(pick_language(None, Some("de")), "en");
        assert_eq!(pick_language(None, None), "en");
    }
}
