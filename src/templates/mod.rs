//! The mail templates: minijinja files `<lang>/<event>.txt` whose first line
//! is `Subject: ...`. Built-in copies ship inside the binary; files under
//! `templates_dir` override them one by one. Every template is compiled and
//! rendered with a sample ticket at start (and by `postdesk check`), so a
//! broken template is found before any mail needs it. Values and sentences
//! come from each language's words table ([`words`]); a template writes
//! `{{ t("status." ~ ticket.status) }}`.

mod check;
mod vars;
pub mod words;

pub use vars::*;
use words::Words;

use crate::domain::model::OutKind;
use minijinja::{Environment, UndefinedBehavior, Value};
use std::path::Path;
use std::sync::Arc;

/// Languages we ship, the first is the fallback.
pub use crate::domain::language::LANGUAGES;

/// Variants of a language with templates of their own where they differ
/// (the rest are the base language's): Polish addressing customers
/// formally ("Państwo"), chosen by a mailbox's `formal = true`.
pub const VARIANTS: &[(&str, &str)] = &[("pl-formal", "pl")];

/// The templates of mail to customers, which the formal variants rewrite.
pub const CUSTOMER_TEMPLATES: &[&str] = &[
    "_survey",
    "_closing",
    "ack",
    "closed",
    "survey",
    "agent_reply",
];

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
            ("en", $event, include_str!(concat!("../../templates/en/", $event, ".txt"))),
            ("el", $event, include_str!(concat!("../../templates/el/", $event, ".txt"))),
            ("pl", $event, include_str!(concat!("../../templates/pl/", $event, ".txt"))),
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
    "daily",
    "oauth_failed"
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

/// The formal Polish set (see [`VARIANTS`]).
const BUILTIN_FORMAL: &[(&str, &str, &str)] = &[
    (
        "pl-formal",
        "_survey",
        include_str!("../../templates/pl-formal/_survey.txt"),
    ),
    (
        "pl-formal",
        "_closing",
        include_str!("../../templates/pl-formal/_closing.txt"),
    ),
    (
        "pl-formal",
        "ack",
        include_str!("../../templates/pl-formal/ack.txt"),
    ),
    (
        "pl-formal",
        "closed",
        include_str!("../../templates/pl-formal/closed.txt"),
    ),
    (
        "pl-formal",
        "survey",
        include_str!("../../templates/pl-formal/survey.txt"),
    ),
    (
        "pl-formal",
        "agent_reply",
        include_str!("../../templates/pl-formal/agent_reply.txt"),
    ),
];

pub struct Templates {
    env: Environment<'static>,
    words: Arc<Words>,
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
        for (lang, event, src) in BUILTIN.iter().chain(BUILTIN_FORMAL) {
            add(&mut env, &mut errors, name(lang, event), src.to_string());
        }
        let languages: Vec<&str> = LANGUAGES
            .iter()
            .copied()
            .chain(VARIANTS.iter().map(|(v, _)| *v))
            .collect();
        let words = match Words::load(dir, LANGUAGES) {
            Ok(w) => Arc::new(w),
            Err(e) => {
                errors.extend(e);
                Arc::new(Words::default())
            }
        };
        let table = words.clone();
        env.add_function(
            "t",
            move |state: &minijinja::State, key: &str| -> Result<String, minijinja::Error> {
                let lang = state.name().split('/').next().unwrap_or("en");
                table.get(lang, key).map(str::to_string).ok_or_else(|| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::UndefinedError,
                        format!("no words for {key:?} (add it to {lang}/words.toml)"),
                    )
                })
            },
        );
        env.add_filter("wrap", wrap);
        if let Some(dir) = dir {
            for lang in &languages {
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
        let t = Templates { env, words };
        // Every template that parsed is checked too, so one run lists a
        // syntax error in one language and an unknown name in another.
        // The built-in ones alone are checked by the tests instead: the
        // check renders every template with every sample, some 50 ms of
        // CPU that every `postdesk ingest` from an MTA pipe would pay.
        if dir.is_some() {
            errors.extend(t.check());
        }
        if errors.is_empty() {
            Ok(t)
        } else {
            Err(errors)
        }
    }

    /// Is there a template for `event` (in any language)?
    pub fn has(&self, event: &str) -> bool {
        self.env.get_template(&name("en", event)).is_ok()
    }

    /// Renders `event` in `lang` (a variant falls back to its base
    /// language), else in English.
    pub fn render(&self, lang: &str, event: &str, vars: &Vars) -> Result<Rendered, TemplateError> {
        let base = VARIANTS
            .iter()
            .find(|(v, _)| *v == lang)
            .map_or(lang, |(_, b)| *b);
        let tmpl = [lang, base, "en"]
            .iter()
            .find_map(|l| self.env.get_template(&name(l, event)).ok())
            .ok_or_else(|| TemplateError::Missing {
                event: event.into(),
                lang: lang.into(),
            })?;
        let used = tmpl.name().split('/').next().unwrap_or("en");
        // A variant writes dates and words as its base language does.
        let used = VARIANTS
            .iter()
            .find(|(v, _)| *v == used)
            .map_or(used, |(_, b)| *b);
        let vars =
            vars.spelled_in(used, &self.words)
                .map_err(|message| TemplateError::Invalid {
                    name: tmpl.name().to_string(),
                    message,
                })?;
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

/// Columns a line of our prose takes at most.
pub const WIDTH: usize = 76;

/// The `wrap` filter: each line of our prose broken at [`WIDTH`]
/// columns, continuation lines indented like the line (and under the text
/// of a `- ` item). Words are never broken: a link stays whole. For use
/// with `{% filter wrap %}` around sentences holding values; never around
/// what a customer or an agent wrote.
fn wrap(text: &str) -> String {
    let mut out = String::new();
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if textwrap::core::display_width(line) <= WIDTH {
            out.push_str(line);
            continue;
        }
        let indent = &line[..line.len() - line.trim_start().len()];
        let hanging = if line.trim_start().starts_with("- ") {
            format!("{indent}  ")
        } else {
            indent.to_string()
        };
        let options = textwrap::Options::new(WIDTH)
            .subsequent_indent(&hanging)
            .break_words(false);
        out.push_str(&textwrap::fill(line, options));
    }
    out
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

#[cfg(test)]
mod tests;
