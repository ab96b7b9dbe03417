//! Checking the templates as a whole: every variable a template reads must
//! exist in the sample contexts (else it is named, with the nearest real
//! name), and every template must render with every sample.

use super::{PARTIALS, TemplateError, Templates, Vars};
use minijinja::Value;
use std::collections::HashSet;

impl Templates {
    /// Names every variable a template uses that no sample holds, then
    /// renders every template with each of [`Vars::samples`].
    pub(super) fn check(&self) -> Vec<TemplateError> {
        let mut errors = Vec::new();
        let samples: Vec<Value> = Vars::samples()
            .iter()
            .filter_map(|v| v.spelled_in("en", &self.words).ok())
            .map(|v| Value::from(minijinja::value::Serde(&v)))
            .collect();
        let globals: HashSet<&str> = self.env.globals().map(|(n, _)| n).collect();
        let mut names: Vec<&str> = self.env.templates().map(|(n, _)| n).collect();
        names.sort_unstable();
        for n in names {
            let (lang, event) = n
                .trim_end_matches(".txt")
                .split_once('/')
                .unwrap_or(("en", n));
            let unknown = self.unknown_variables(n, &samples, &globals);
            if !unknown.is_empty() {
                errors.extend(unknown.into_iter().map(|message| TemplateError::Invalid {
                    name: n.to_string(),
                    message,
                }));
                continue;
            }
            if PARTIALS.contains(&event) {
                // Rendered through the templates that include them.
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

    /// `undefined variable customer_nam (did you mean customer_name?)` for
    /// each dotted name the template reads that resolves in no sample. A
    /// name under a value that is empty in a sample (`sla.due_until` when
    /// there is no SLA) counts as known: templates test it first.
    fn unknown_variables(
        &self,
        template: &str,
        samples: &[Value],
        globals: &HashSet<&str>,
    ) -> Vec<String> {
        let Ok(tmpl) = self.env.get_template(template) else {
            return Vec::new();
        };
        let mut used: Vec<String> = tmpl.undeclared_variables(true).into_iter().collect();
        used.sort();
        let mut out = Vec::new();
        for path in used {
            let parts: Vec<&str> = path.split('.').collect();
            if globals.contains(parts[0]) || parts[0] == "loop" {
                continue;
            }
            // Where the name stopped resolving, and what was there instead.
            let mut miss: Option<(usize, Vec<String>)> = None;
            let mut known = false;
            for sample in samples {
                let mut v = sample.clone();
                let mut ok = true;
                for (i, part) in parts.iter().enumerate() {
                    if v.is_none() {
                        break;
                    }
                    let next = v.get_attr(part).unwrap_or(Value::UNDEFINED);
                    if next.is_undefined() {
                        if miss.as_ref().is_none_or(|(at, _)| i > *at) {
                            miss = Some((i, keys_of(&v)));
                        }
                        ok = false;
                        break;
                    }
                    v = next;
                }
                if ok {
                    known = true;
                    break;
                }
            }
            if known {
                continue;
            }
            let hint = miss
                .and_then(|(at, keys)| {
                    let wrong = parts[at];
                    keys.iter()
                        .map(|k| (strsim::damerau_levenshtein(wrong, k), k.clone()))
                        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
                        .min()
                        .map(|(_, k)| {
                            let mut p = parts[..at].to_vec();
                            p.push(&k);
                            format!(" (did you mean {}?)", p.join("."))
                        })
                })
                .unwrap_or_default();
            out.push(format!("undefined variable {path}{hint}"));
        }
        out
    }
}

/// The keys of a map value, for a suggestion.
fn keys_of(v: &Value) -> Vec<String> {
    v.try_iter()
        .map(|it| it.filter_map(|k| k.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}
