//! Who may act as an agent. A From header proves nothing, so agent powers
//! need the From address of a configured agent AND one of: a reply token
//! that was issued to that same agent (they hold the notification), or an
//! `Authentication-Results` header added by our own MTA (its authserv-id is
//! configured) showing DKIM or SPF pass aligned with the From domain.

use super::parse::ParsedMail;

/// How an agent proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentProof {
    /// A reply token issued to this agent.
    Token(String),
    /// `dkim=pass` or `spf=pass` from a trusted authserv-id.
    AuthResults(String),
}

/// The outcome for mail whose From is a configured agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentCheck {
    /// Not from an agent address at all.
    NotAnAgent,
    Proven {
        email: String,
        proof: AgentProof,
    },
    /// From an agent address without proof: treated as a customer, and logged.
    Unproven {
        email: String,
        why: String,
    },
}

/// A method result of an Authentication-Results header: `dkim=pass header.d=x`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MethodResult {
    method: String,
    result: String,
    /// `header.d`, `header.i`, `smtp.mailfrom` ... (lower-cased).
    props: Vec<(String, String)>,
}

/// Parses one Authentication-Results value (RFC 8601): the authserv-id and its results.
fn parse_auth_results(v: &str) -> Option<(String, Vec<MethodResult>)> {
    // Comments in parentheses carry no meaning.
    let mut clean = String::with_capacity(v.len());
    let mut depth = 0;
    for c in v.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => clean.push(c),
            _ => {}
        }
    }
    let mut parts = clean.split(';');
    let authserv = parts.next()?.split_whitespace().next()?.to_lowercase();
    let results = parts
        .filter_map(|p| {
            let mut words = p.split_whitespace();
            let (method, result) = words.next()?.split_once('=')?;
            let props = words
                .filter_map(|w| {
                    w.split_once('=')
                        .map(|(k, v)| (k.to_lowercase(), v.trim_matches('"').to_lowercase()))
                })
                .collect();
            Some(MethodResult {
                method: method.to_lowercase(),
                result: result.to_lowercase(),
                props,
            })
        })
        .collect();
    Some((authserv, results))
}

/// `a.example.com` is aligned with `example.com` (relaxed alignment).
fn aligned(domain: &str, from_domain: &str) -> bool {
    let d = domain.trim_start_matches('@');
    let d = d.rsplit_once('@').map_or(d, |(_, d)| d);
    d == from_domain
        || d.ends_with(&format!(".{from_domain}"))
        || from_domain.ends_with(&format!(".{d}"))
}

/// A passing, aligned DKIM or SPF result from one of `trusted` authserv-ids.
/// Only the topmost header of each trusted id counts: that is the one our
/// MTA added (it removes look-alikes that arrive from outside).
pub fn auth_results_pass(m: &ParsedMail, trusted: &[String], from_domain: &str) -> Option<String> {
    let mut seen = Vec::new();
    for v in m.headers_named("authentication-results") {
        let Some((id, results)) = parse_auth_results(v) else {
            continue;
        };
        if !trusted.iter().any(|t| t.eq_ignore_ascii_case(&id)) || seen.contains(&id) {
            continue;
        }
        seen.push(id.clone());
        for r in results.iter().filter(|r| r.result == "pass") {
            let keys: &[&str] = match r.method.as_str() {
                "dkim" => &["header.d", "header.i"],
                "spf" => &["smtp.mailfrom", "smtp.helo"],
                _ => continue,
            };
            if r.props
                .iter()
                .any(|(k, v)| keys.contains(&k.as_str()) && aligned(v, from_domain))
            {
                return Some(format!("{id}: {}=pass", r.method));
            }
        }
    }
    None
}

/// Checks mail whose sender may be an agent. `token_holders` are the
/// addresses the message's verified reply tokens were issued to.
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
    if token_holders.iter().any(|h| h.eq_ignore_ascii_case(email)) {
        return AgentCheck::Proven {
            email: email.clone(),
            proof: AgentProof::Token(email.clone()),
        };
    }
    if let Some(pass) = auth_results_pass(m, trusted_authserv, from.domain()) {
        return AgentCheck::Proven {
            email: email.clone(),
            proof: AgentProof::AuthResults(pass),
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

    #[test]
    fn a_token_of_the_same_agent_proves_it() {
        let m = mail("");
        let c = check_agent(&m, &agents(), &["alice@example.com".into()], &[]);
        assert!(matches!(
            c,
            AgentCheck::Proven {
                proof: AgentProof::Token(_),
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
        let trusted = vec!["mx.example.com".to_string()];
        let ok = mail(
            "Authentication-Results: mx.example.com; dkim=pass (2048-bit key) header.d=example.com header.s=s1; spf=fail smtp.mailfrom=x@other.example\r\n",
        );
        assert!(matches!(
            check_agent(&ok, &agents(), &[], &trusted),
            AgentCheck::Proven { .. }
        ));
        let spf = mail(
            "Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=alice@mail.example.com\r\n",
        );
        assert!(matches!(
            check_agent(&spf, &agents(), &[], &trusted),
            AgentCheck::Proven { .. }
        ));
        // untrusted authserv-id, failing result, or a domain that is not aligned
        for h in [
            "Authentication-Results: evil.example; dkim=pass header.d=example.com\r\n",
            "Authentication-Results: mx.example.com; dkim=fail header.d=example.com\r\n",
            "Authentication-Results: mx.example.com; dkim=pass header.d=evil.example\r\n",
        ] {
            assert!(
                matches!(
                    check_agent(&mail(h), &agents(), &[], &trusted),
                    AgentCheck::Unproven { .. }
                ),
                "{h}"
            );
        }
        // only the topmost header of our id counts: a forged one below it is ignored
        let forged_below = mail(
            "Authentication-Results: mx.example.com; dkim=fail header.d=example.com\r\nAuthentication-Results: mx.example.com; dkim=pass header.d=example.com\r\n",
        );
        assert!(matches!(
            check_agent(&forged_below, &agents(), &[], &trusted),
            AgentCheck::Unproven { .. }
        ));
    }
}
