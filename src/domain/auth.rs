//! Proof of who wrote a message. Headers are claims; two things are proof
//! that mail comes from its From address: a token we sent to that address
//! (they hold our mail), or an `Authentication-Results` header added by our
//! own MTA (its authserv-id is configured) that shows a DKIM or SPF pass
//! aligned with the From domain by organizational domain (Public Suffix
//! List). Agent powers need the From address of a configured agent AND such
//! proof; so does widening an existing ticket's audience.
//!
//! `Authentication-Results` is read by the grammar of RFC 8601: comments
//! and quoted strings are honoured (a quoted `;dkim=pass` inside a property
//! value is a value, not a result), several results per header. Only the
//! topmost header of each trusted authserv-id counts: our MTA prepends its
//! own above everything that arrived from outside, and a look-alike below
//! it, written by the sender, must never count.

use super::parse::ParsedMail;

/// How the sender of a message is proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// A reply token issued to the From address.
    Token(String),
    /// `dkim=pass` or `spf=pass` from a trusted authserv-id, aligned.
    AuthResults(String),
}

impl Proof {
    /// `their reply token` / `mx.example.com: dkim=pass`.
    pub fn describe(&self) -> String {
        match self {
            Proof::Token(_) => "their reply token".into(),
            Proof::AuthResults(r) => r.clone(),
        }
    }
}

/// The outcome for mail whose From is a configured agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentCheck {
    /// Not from an agent address at all.
    NotAnAgent,
    Proven {
        email: String,
        proof: Proof,
    },
    /// From an agent address without proof: treated as a customer, and logged.
    Unproven {
        email: String,
        why: String,
        /// The addresses the tokens it carried were issued to (none: it
        /// answered no mail of ours).
        holders: Vec<String>,
    },
}

/// One result of an Authentication-Results header: `dkim=pass header.d=x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    /// Lower-cased, without a version (`dkim/1` → `dkim`).
    pub method: String,
    /// Lower-cased.
    pub result: String,
    /// `header.d`, `smtp.mailfrom` ... (names lower-cased, values as written).
    pub props: Vec<(String, String)>,
}

impl MethodResult {
    fn prop(&self, name: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Lexeme {
    Word(String),
    Eq,
    Semi,
}

/// RFC 8601 lexemes: comments (nested, with quoted-pairs) and whitespace
/// dropped; quoted strings become words (joined with an `@domain` that
/// follows them, as in `"odd;local"@example.com`).
fn lex(v: &str) -> Vec<Lexeme> {
    let mut out = Vec::new();
    let mut chars = v.chars().peekable();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<Lexeme>| {
        if !word.is_empty() {
            out.push(Lexeme::Word(std::mem::take(word)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '(' => {
                flush(&mut word, &mut out);
                let mut depth = 1;
                while depth > 0 {
                    match chars.next() {
                        Some('\\') => {
                            chars.next();
                        }
                        Some('(') => depth += 1,
                        Some(')') => depth -= 1,
                        Some(_) => {}
                        None => break,
                    }
                }
            }
            '"' => {
                loop {
                    match chars.next() {
                        Some('\\') => {
                            if let Some(q) = chars.next() {
                                word.push(q);
                            }
                        }
                        Some('"') | None => break,
                        Some(q) => word.push(q),
                    }
                }
                // A quoted local part is a word only with its domain.
                if chars.peek() != Some(&'@') {
                    out.push(Lexeme::Word(std::mem::take(&mut word)));
                }
            }
            ';' => {
                flush(&mut word, &mut out);
                out.push(Lexeme::Semi);
            }
            '=' => {
                flush(&mut word, &mut out);
                out.push(Lexeme::Eq);
            }
            c if c.is_whitespace() => flush(&mut word, &mut out),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Parses one Authentication-Results value: the authserv-id and its results.
pub fn parse_auth_results(v: &str) -> Option<(String, Vec<MethodResult>)> {
    let lexemes = lex(v);
    let mut it = lexemes.split(|l| *l == Lexeme::Semi);
    let head = it.next()?;
    let Some(Lexeme::Word(id)) = head.first() else {
        return None;
    };
    let mut results = Vec::new();
    for part in it {
        // method [/version] = result, then name = value pairs.
        let mut pairs = Vec::new();
        let mut i = 0;
        while i < part.len() {
            match (part.get(i), part.get(i + 1), part.get(i + 2)) {
                (Some(Lexeme::Word(k)), Some(Lexeme::Eq), Some(Lexeme::Word(v))) => {
                    pairs.push((k.to_lowercase(), v.clone()));
                    i += 3;
                }
                _ => i += 1,
            }
        }
        let mut pairs = pairs.into_iter();
        let Some((method, result)) = pairs.next() else {
            continue;
        };
        let method = method.split('/').next().unwrap_or_default().to_string();
        results.push(MethodResult {
            method,
            result: result.to_lowercase(),
            props: pairs.filter(|(k, _)| k != "reason").collect(),
        });
    }
    Some((id.to_lowercase(), results))
}

/// The organizational domain of `domain` (its registrable domain under the
/// Public Suffix List); None for a public suffix itself (`com`, `co.uk`).
pub fn organizational_domain(domain: &str) -> Option<String> {
    let d = domain.trim().trim_end_matches('.').to_lowercase();
    psl::domain_str(&d).map(str::to_string)
}

/// Relaxed alignment (RFC 7489): both domains share an organizational domain.
pub fn aligned(domain: &str, from_domain: &str) -> bool {
    let d = domain.trim_start_matches('@');
    let d = d.rsplit_once('@').map_or(d, |(_, d)| d);
    match (organizational_domain(d), organizational_domain(from_domain)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// The results of the topmost `Authentication-Results` header of each
/// trusted authserv-id, with that id.
pub fn trusted_results(m: &ParsedMail, trusted: &[String]) -> Vec<(String, MethodResult)> {
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for v in m.headers_named("authentication-results") {
        let Some((id, results)) = parse_auth_results(v) else {
            continue;
        };
        if !trusted.iter().any(|t| t.eq_ignore_ascii_case(&id)) || seen.contains(&id) {
            continue;
        }
        seen.push(id.clone());
        out.extend(results.into_iter().map(|r| (id.clone(), r)));
    }
    out
}

/// A passing, aligned DKIM or SPF result from one of `trusted` authserv-ids.
pub fn auth_results_pass(m: &ParsedMail, trusted: &[String], from_domain: &str) -> Option<String> {
    if from_domain.is_empty() {
        return None;
    }
    trusted_results(m, trusted).into_iter().find_map(|(id, r)| {
        if r.result != "pass" {
            return None;
        }
        let domain = match r.method.as_str() {
            "dkim" => r.prop("header.d").or(r.prop("header.i")),
            "spf" => r.prop("smtp.mailfrom"),
            _ => None,
        }?;
        aligned(domain, from_domain).then(|| format!("{id}: {}=pass ({domain})", r.method))
    })
}

/// A DMARC failure reported by a trusted authserv-id, described.
pub fn dmarc_fail(m: &ParsedMail, trusted: &[String]) -> Option<String> {
    trusted_results(m, trusted).into_iter().find_map(|(id, r)| {
        (r.method == "dmarc" && r.result == "fail").then(|| {
            let from = r.prop("header.from").unwrap_or("?");
            format!("{id}: dmarc=fail (header.from={from})")
        })
    })
}

/// Proof that `m` comes from its From address: a token issued to that
/// address (`token_holders` are the addresses its verified tokens were
/// issued to), or a trusted, aligned authentication pass.
pub fn sender_proof(m: &ParsedMail, token_holders: &[String], trusted: &[String]) -> Option<Proof> {
    let from = m.from.as_ref()?;
    if from.local_part().is_empty() {
        return None;
    }
    if let Some(h) = token_holders
        .iter()
        .find(|h| h.eq_ignore_ascii_case(&from.email))
    {
        return Some(Proof::Token(h.clone()));
    }
    auth_results_pass(m, trusted, from.domain()).map(Proof::AuthResults)
}

/// Checks mail whose sender may be an agent.
pub fn check_agent(
    m: &ParsedMail,
    agents: &[String],
    token_holders: &[String],
    trusted_authserv: &[String],
) -> AgentCheck {
    let Some(from) = &m.from else {
        return AgentCheck::NotAnAgent;
    };
    let Some(email) = agents.iter().find(|a| a.eq_ignore_ascii_case(&from.email)) else {
        return AgentCheck::NotAnAgent;
    };
    if let Some(proof) = sender_proof(m, token_holders, trusted_authserv) {
        return AgentCheck::Proven {
            email: email.clone(),
            proof,
        };
    }
    let why = if token_holders.is_empty() {
        "no reply token issued to this agent, and no trusted Authentication-Results pass"
            .to_string()
    } else {
        format!(
            "the reply token was issued to {}, not to this agent, and no trusted Authentication-Results pass",
            token_holders.join(", ")
        )
    };
    AgentCheck::Unproven {
        email: email.clone(),
        why,
        holders: token_holders.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::parse::parse;

    fn mail(headers: &str) -> ParsedMail {
        parse(
            format!("From: Alice <alice@example.com>\r\n{headers}Subject: x\r\n\r\nbody")
                .as_bytes(),
        )
    }

    const AGENTS: &[&str] = &["alice@example.com", "bob@example.com"];

    fn agents() -> Vec<String> {
        AGENTS.iter().map(|s| s.to_string()).collect()
    }

    fn trusted() -> Vec<String> {
        vec!["mx.example.com".to_string()]
    }

    fn proven(h: &str) -> bool {
        matches!(
            check_agent(&mail(h), &agents(), &[], &trusted()),
            AgentCheck::Proven { .. }
        )
    }

    #[test]
    fn a_token_of_the_same_agent_proves_it() {
        let m = mail("");
        let c = check_agent(&m, &agents(), &["alice@example.com".into()], &[]);
        assert!(matches!(
            c,
            AgentCheck::Proven {
                proof: Proof::Token(_),
                ..
            }
        ));
    }

    #[test]
    fn a_token_of_another_agent_or_none_does_not() {
        let m = mail("");
        assert!(matches!(
            check_agent(&m, &agents(), &["bob@example.com".into()], &[]),
            AgentCheck::Unproven { .. }
        ));
        assert!(matches!(
            check_agent(&m, &agents(), &[], &[]),
            AgentCheck::Unproven { .. }
        ));
        let stranger = parse(b"From: eve@evil.example\r\n\r\nx");
        assert_eq!(
            check_agent(&stranger, &agents(), &[], &[]),
            AgentCheck::NotAnAgent
        );
    }

    #[test]
    fn trusted_aligned_auth_results_prove_it() {
        assert!(proven(
            "Authentication-Results: mx.example.com; dkim=pass (2048-bit key) header.d=example.com header.s=s1; spf=fail smtp.mailfrom=x@other.example\r\n"
        ));
        assert!(proven(
            "Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=alice@mail.example.com\r\n"
        ));
        // RFC 8601's own forms: a version, comments everywhere, a quoted
        // value, a method version, results over several lines.
        assert!(proven(
            "Authentication-Results: mx.example.com 1; (a comment; with dkim=pass)\r\n spf=none; dkim/1=pass (good sig) header.d=\"example.com\"\r\n"
        ));
        // untrusted authserv-id, failing result, a domain that is not aligned
        for h in [
            "Authentication-Results: evil.example; dkim=pass header.d=example.com\r\n",
            "Authentication-Results: mx.example.com; dkim=fail header.d=example.com\r\n",
            "Authentication-Results: mx.example.com; dkim=pass header.d=evil.example\r\n",
            "Authentication-Results: mx.example.com; none\r\n",
        ] {
            assert!(!proven(h), "{h}");
        }
    }

    #[test]
    fn only_the_topmost_header_of_a_trusted_id_counts() {
        assert!(!proven(
            "Authentication-Results: mx.example.com; dkim=fail header.d=example.com\r\nAuthentication-Results: mx.example.com; dkim=pass header.d=example.com\r\n"
        ));
    }

    #[test]
    fn a_quoted_string_is_a_value_not_a_result() {
        // The attack: a pass hidden in a quoted local part of smtp.mailfrom.
        let h = "Authentication-Results: mx.example.com; spf=fail smtp.mailfrom=\"x;dkim=pass header.d=example.com;\"@evil.example\r\n";
        assert!(!proven(h));
        let (_, r) = parse_auth_results(
            "mx.example.com; spf=fail smtp.mailfrom=\"x;dkim=pass header.d=example.com;\"@evil.example",
        )
        .unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].method, "spf");
        assert_eq!(
            r[0].prop("smtp.mailfrom"),
            Some("x;dkim=pass header.d=example.com;@evil.example")
        );
        // And inside a comment.
        assert!(!proven(
            "Authentication-Results: mx.example.com; spf=fail (dkim=pass header.d=example.com) smtp.mailfrom=evil.example\r\n"
        ));
    }

    #[test]
    fn alignment_is_by_organizational_domain() {
        assert!(aligned("mail.example.com", "example.com"));
        assert!(aligned("example.com", "eu.example.com"));
        assert!(aligned("bounce@mail.example.com", "example.com"));
        // A public suffix is nobody's organization.
        assert!(!aligned("com", "example.com"));
        assert!(!aligned("co.uk", "example.co.uk"));
        assert!(aligned("shop.example.co.uk", "example.co.uk"));
        assert!(!aligned("other.co.uk", "example.co.uk"));
        // Hosted suffixes are public suffixes too.
        assert!(!aligned("evil.github.io", "victim.github.io"));
        assert!(!proven(
            "Authentication-Results: mx.example.com; dkim=pass header.d=com\r\n"
        ));
    }

    #[test]
    fn dmarc_failures_are_read_from_trusted_headers_only() {
        let trusted = trusted();
        let m = mail(
            "Authentication-Results: mx.example.com; dmarc=fail (p=reject) header.from=example.com\r\n",
        );
        assert!(dmarc_fail(&m, &trusted).is_some());
        let forged =
            mail("Authentication-Results: other.example; dmarc=fail header.from=example.com\r\n");
        assert!(dmarc_fail(&forged, &trusted).is_none());
        let pass =
            mail("Authentication-Results: mx.example.com; dmarc=pass header.from=example.com\r\n");
        assert!(dmarc_fail(&pass, &trusted).is_none());
    }
}
