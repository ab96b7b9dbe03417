//! IMAP folder names as the server spells them. Servers differ: Dovecot
//! keeps personal folders at the top (`Processed`, separator `/` or `.`),
//! Cyrus and Courier under `INBOX.` (`INBOX.Processed`), Gmail has labels
//! (`[Gmail]/All Mail`). The server says which in its NAMESPACE response
//! (RFC 2342); a folder named in the configuration without the personal
//! prefix is put under it, a full name is taken as written.

/// The personal namespace: where a user's own folders live.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Personal {
    /// `INBOX.` on Cyrus and Courier, empty on Dovecot and Gmail.
    pub prefix: String,
    /// The hierarchy separator, when the server has one.
    pub delimiter: Option<char>,
}

/// Reads the personal namespace from a `* NAMESPACE` response line (the
/// first of its personal namespaces). None when the line is not one, or
/// the server has no personal namespace (`NIL`).
pub fn parse_namespace(line: &str) -> Option<Personal> {
    let rest = line
        .trim()
        .strip_prefix("* ")?
        .trim_start()
        .strip_prefix("NAMESPACE")?
        .trim_start();
    if rest.starts_with("NIL") {
        return None;
    }
    // (("prefix" "delim") ...) ...: the first two values of the first group.
    let group = rest.strip_prefix('(')?.trim_start().strip_prefix('(')?;
    let mut words = Words(group);
    let prefix = words.next()??;
    let delimiter = words.next()?.and_then(|d| d.chars().next());
    Some(Personal { prefix, delimiter })
}

/// Quoted strings and NIL, one at a time (`Some(None)` for NIL).
struct Words<'a>(&'a str);

impl Iterator for Words<'_> {
    type Item = Option<String>;

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.0.trim_start();
        if let Some(rest) = s.strip_prefix("NIL") {
            self.0 = rest;
            return Some(None);
        }
        let mut chars = s.strip_prefix('"')?.char_indices();
        let mut out = String::new();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => out.extend(chars.next().map(|(_, q)| q)),
                '"' => {
                    self.0 = &s[i + 2..];
                    return Some(Some(out));
                }
                c => out.push(c),
            }
        }
        None
    }
}

/// The server's name for the folder the configuration calls `configured`.
/// `INBOX` and names already under the personal prefix are taken as they
/// are; others go under the prefix, with `/` as the configuration's
/// separator turned into the server's.
pub fn resolve(configured: &str, personal: &Personal) -> String {
    let name = configured.trim();
    let upper = name.to_ascii_uppercase();
    let delim = personal.delimiter.unwrap_or('/');
    let under_inbox = upper == "INBOX"
        || upper
            .strip_prefix("INBOX")
            .is_some_and(|rest| rest.starts_with(delim));
    let prefixed = !personal.prefix.is_empty()
        && name
            .to_lowercase()
            .starts_with(&personal.prefix.to_lowercase());
    if under_inbox || prefixed {
        return name.to_string();
    }
    let local: String = name
        .chars()
        .map(|c| if c == '/' { delim } else { c })
        .collect();
    format!("{}{local}", personal.prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(line: &str) -> Personal {
        parse_namespace(line).unwrap()
    }

    #[test]
    fn namespaces_of_real_servers() {
        // Cyrus and Courier (altnamespace off).
        assert_eq!(
            ns(r#"* NAMESPACE (("INBOX." ".")) (("user." ".")) (("" "."))"#),
            Personal {
                prefix: "INBOX.".into(),
                delimiter: Some('.')
            }
        );
        // Dovecot, Gmail.
        assert_eq!(
            ns(r#"* NAMESPACE (("" "/")) NIL NIL"#),
            Personal {
                prefix: String::new(),
                delimiter: Some('/')
            }
        );
        assert_eq!(ns(r#"* NAMESPACE (("" NIL)) NIL NIL"#).delimiter, None);
        assert_eq!(parse_namespace("* NAMESPACE NIL NIL NIL"), None);
        assert_eq!(parse_namespace("* OK whatever"), None);
        assert_eq!(ns(r#"* NAMESPACE (("Odd \"x\"" "/"))"#).prefix, "Odd \"x\"");
    }

    #[test]
    fn configured_names_go_under_the_personal_prefix() {
        let cyrus = ns(r#"* NAMESPACE (("INBOX." ".")) NIL NIL"#);
        assert_eq!(resolve("Processed", &cyrus), "INBOX.Processed");
        assert_eq!(resolve("INBOX.Processed", &cyrus), "INBOX.Processed");
        assert_eq!(resolve("inbox.Processed", &cyrus), "inbox.Processed");
        assert_eq!(resolve("INBOX", &cyrus), "INBOX");
        assert_eq!(resolve("Archive/2026", &cyrus), "INBOX.Archive.2026");
        let dovecot = ns(r#"* NAMESPACE (("" "/")) NIL NIL"#);
        assert_eq!(resolve("Processed", &dovecot), "Processed");
        assert_eq!(resolve("Archive/2026", &dovecot), "Archive/2026");
        assert_eq!(resolve("INBOX/Sub", &dovecot), "INBOX/Sub");
        let none = Personal::default();
        assert_eq!(resolve("Processed", &none), "Processed");
        assert_eq!(resolve("[Gmail]/All Mail", &dovecot), "[Gmail]/All Mail");
    }
}
