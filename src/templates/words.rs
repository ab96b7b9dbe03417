//! The words tables: `templates/<lang>/words.toml`, one per language, with
//! the values and sentences the daemon puts into mail (statuses,
//! priorities, SLA targets, units of time, receipts of commands, why a
//! reply was held). Templates reach them with `t("status.open")`; phrases
//! built by the domain ([`Phrase`]) are written through them at render
//! time. A file under `templates_dir` overrides single keys; every
//! language must have every key English has (`postdesk check` says which
//! are missing), so no English slips into a Greek or Polish mail.

use super::TemplateError;
use crate::domain::phrase::{Phrase, TRANSLATED_ARGS};
use jiff::SignedDuration;
use std::collections::BTreeMap;
use std::path::Path;

const BUILTIN: &[(&str, &str)] = &[
    ("en", include_str!("../../templates/en/words.toml")),
    ("el", include_str!("../../templates/el/words.toml")),
    ("pl", include_str!("../../templates/pl/words.toml")),
];

/// Every language's table, flattened to dotted keys (`status.open`).
#[derive(Debug, Clone, Default)]
pub struct Words {
    tables: BTreeMap<String, BTreeMap<String, String>>,
}

fn flatten(
    prefix: &str,
    v: &toml::Value,
    out: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    match v {
        toml::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
            Ok(())
        }
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out)?;
            }
            Ok(())
        }
        other => Err(format!(
            "{prefix}: expected a string, got a {}",
            other.type_str()
        )),
    }
}

fn parse(name: &str, src: &str) -> Result<BTreeMap<String, String>, TemplateError> {
    let invalid = |message: String| TemplateError::Invalid {
        name: name.to_string(),
        message,
    };
    let value: toml::Value = toml::from_str(src).map_err(|e| invalid(e.to_string()))?;
    let mut out = BTreeMap::new();
    flatten("", &value, &mut out).map_err(invalid)?;
    Ok(out)
}

impl Words {
    /// The built-in tables, with single keys overridden by
    /// `dir/<lang>/words.toml`; then every language checked against English.
    pub fn load(dir: Option<&Path>, languages: &[&str]) -> Result<Words, Vec<TemplateError>> {
        let mut words = Words::default();
        let mut errors = Vec::new();
        for (lang, src) in BUILTIN {
            match parse(&format!("{lang}/words.toml"), src) {
                Ok(t) => {
                    words.tables.insert(lang.to_string(), t);
                }
                Err(e) => errors.push(e),
            }
        }
        if let Some(dir) = dir {
            for lang in languages {
                let path = dir.join(lang).join("words.toml");
                match std::fs::read_to_string(&path) {
                    Ok(src) => match parse(&path.display().to_string(), &src) {
                        Ok(t) => words.tables.entry(lang.to_string()).or_default().extend(t),
                        Err(e) => errors.push(e),
                    },
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => errors.push(TemplateError::Read {
                        path: path.display().to_string(),
                        source,
                    }),
                }
            }
        }
        errors.extend(words.missing());
        if errors.is_empty() {
            Ok(words)
        } else {
            Err(errors)
        }
    }

    /// Keys English has that another language lacks, and keys English
    /// does not know (a typo in an override).
    fn missing(&self) -> Vec<TemplateError> {
        let Some(en) = self.tables.get("en") else {
            return Vec::new();
        };
        let mut errors = Vec::new();
        for (lang, table) in &self.tables {
            let lacks: Vec<&str> = en
                .keys()
                .filter(|k| !table.contains_key(*k))
                .map(String::as_str)
                .collect();
            if !lacks.is_empty() {
                errors.push(TemplateError::Invalid {
                    name: format!("{lang}/words.toml"),
                    message: format!("missing {}", lacks.join(", ")),
                });
            }
            let unknown: Vec<&str> = table
                .keys()
                .filter(|k| !en.contains_key(*k))
                .map(String::as_str)
                .collect();
            if !unknown.is_empty() {
                errors.push(TemplateError::Invalid {
                    name: format!("{lang}/words.toml"),
                    message: format!(
                        "unknown keys {} (English has no such key)",
                        unknown.join(", ")
                    ),
                });
            }
        }
        errors
    }

    /// The text of `key` in `lang` (a variant such as `pl-formal` uses
    /// its base language's table), else in English.
    pub fn get(&self, lang: &str, key: &str) -> Option<&str> {
        let base = lang.split('-').next().unwrap_or(lang);
        [lang, base, "en"]
            .iter()
            .find_map(|l| self.tables.get(*l).and_then(|t| t.get(key)))
            .map(String::as_str)
    }

    /// `phrase` written in `lang`: its `{name}`s replaced by their values,
    /// values that name a status, priority or target translated too.
    pub fn phrase(&self, lang: &str, phrase: &Phrase) -> Result<String, String> {
        let text = self
            .get(lang, phrase.key)
            .ok_or_else(|| format!("no words for {}", phrase.key))?;
        let mut out = text.to_string();
        for (name, value) in &phrase.args {
            let shown = if TRANSLATED_ARGS.contains(name) {
                self.get(lang, &format!("{name}.{value}")).unwrap_or(value)
            } else {
                value
            };
            out = out.replace(&format!("{{{name}}}"), shown);
        }
        Ok(out)
    }

    /// A duration the way `lang` abbreviates it: its two largest units
    /// (`2h 10m`, `2 ώρ. 10 λεπ.`, `2 godz. 10 min`); with `days` false,
    /// hours are the largest.
    pub fn duration(&self, lang: &str, d: SignedDuration, days: bool) -> String {
        let parts: Vec<String> = crate::domain::duration_parts(d, days)
            .into_iter()
            .map(|(unit, n)| {
                let one = if n == 1 { "_one" } else { "" };
                self.get(lang, &format!("unit.{unit}{one}"))
                    .or_else(|| self.get(lang, &format!("unit.{unit}")))
                    .unwrap_or("{n}")
                    .replace("{n}", &n.to_string())
            })
            .collect();
        let s = parts.join(" ");
        if d.is_negative() { format!("-{s}") } else { s }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_key_and_durations_read_natively() {
        let w = Words::load(None, super::super::LANGUAGES).unwrap();
        let d = SignedDuration::from_secs(2 * 3600 + 10 * 60);
        assert_eq!(w.duration("en", d, true), "2h 10m");
        assert_eq!(w.duration("pl", d, true), "2 godz. 10 min");
        assert_eq!(
            w.duration("el", SignedDuration::from_secs(1), true),
            "1 δευτ."
        );
        assert_eq!(w.duration("pl", SignedDuration::from_secs(1), true), "1 s");
        let day = SignedDuration::from_hours(26);
        assert_eq!(w.duration("pl", day, true), "1 dzień 2 godz.");
        assert_eq!(w.duration("pl", day * 2, true), "2 dni 4 godz.");
        let p = Phrase::new("receipt.status").with("status", "pending");
        assert!(
            w.phrase("pl", &p).unwrap().contains("oczekujące"),
            "{:?}",
            w.phrase("pl", &p)
        );
        assert_eq!(
            w.get("pl-formal", "status.open"),
            w.get("pl", "status.open")
        );
    }

    #[test]
    fn an_override_missing_nothing_passes_and_a_typo_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("el")).unwrap();
        std::fs::write(
            dir.path().join("el/words.toml"),
            "[status]\nopen = \"ανοιχτό!\"\n",
        )
        .unwrap();
        let w = Words::load(Some(dir.path()), super::super::LANGUAGES).unwrap();
        assert_eq!(w.get("el", "status.open"), Some("ανοιχτό!"));
        std::fs::write(dir.path().join("el/words.toml"), "[status]\nopne = \"x\"\n").unwrap();
        let e = Words::load(Some(dir.path()), super::super::LANGUAGES).unwrap_err();
        assert!(
            e[0].to_string().contains("el/words.toml") && e[0].to_string().contains("status.opne"),
            "{}",
            e[0]
        );
    }
}
