//! A sentence for a reader, kept as a key and its values until it is
//! written: receipts of commands, why a reply was held, why a mail did
//! nothing. The words live in each language's table of the templates
//! (`templates/<lang>/words.toml`), never here, so a Greek agent reads
//! Greek and an English one English.

use serde::Serialize;

/// A key of the words table and the values its text names (`{name}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phrase {
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Phrase {
    pub fn new(key: &'static str) -> Phrase {
        Phrase {
            key,
            args: Vec::new(),
        }
    }

    /// The phrase with `{name}` standing for `value`. A value that is itself
    /// a key's last part (`status` = `resolved`) is translated through the
    /// table's `status.resolved` when it has one.
    pub fn with(mut self, name: &'static str, value: impl ToString) -> Phrase {
        self.args.push((name, value.to_string()));
        self
    }

    /// The value of `{name}`, if given.
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Keys whose values are translated when a phrase names them.
pub const TRANSLATED_ARGS: &[&str] = &["status", "priority", "target"];
