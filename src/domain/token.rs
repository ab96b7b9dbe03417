//! Tokens: `support+TOKEN@domain`. A token names a ticket and is bound,
//! by an HMAC-SHA256 truncated to 80 bits, to the address it was sent to and
//! to its purpose, with a secret generated once and kept in the database. It
//! cannot be guessed, moved to another ticket, used by another recipient or
//! for another purpose. Lower-case base32, so mail systems that fold the case
//! of local parts do not break it.
//!
//! Purposes: a **reply** token (`42-…`) in the Reply-To of every mail we send
//! threads the answer and proves who holds it; a **survey** token (`42s-…`) is
//! the only way a mailed rating is recorded; a **rating-link** token
//! (`42r-…`) signs the survey's web links. A reply token therefore never
//! rates a ticket, and a link cannot be turned into a reply address.
//! Bounces come back to a fourth kind, the signed envelope sender (VERP,
//! `b-…`), see [`verp_token`].

use data_encoding::BASE32_NOPAD;
use ring::hmac;

/// Bytes of MAC shown in a token (80 bits).
const MAC_BYTES: usize = 10;

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Reply-To of the mail we send: threads the answer, proves the sender.
    Reply,
    /// Reply-To of a satisfaction survey: a rating by mail.
    Survey,
    /// The survey's signed web links.
    RateLink,
    /// An agent's own address for mail about no ticket (lists, digests):
    /// ticket number 0, bound to the agent.
    Agent,
}

impl Purpose {
    /// The letter after the ticket number (none for reply tokens, which
    /// keep the form they had before purposes existed).
    fn mark(self) -> &'static str {
        match self {
            Purpose::Reply => "",
            Purpose::Survey => "s",
            Purpose::RateLink => "r",
            Purpose::Agent => "a",
        }
    }

    fn domain(self) -> &'static str {
        match self {
            Purpose::Reply => "postdesk-token-v1",
            Purpose::Survey => "postdesk-survey-v1",
            Purpose::RateLink => "postdesk-rate-v1",
            Purpose::Agent => "postdesk-agent-v1",
        }
    }

    fn from_mark(m: &str) -> Option<Purpose> {
        match m {
            "" => Some(Purpose::Reply),
            "s" => Some(Purpose::Survey),
            "r" => Some(Purpose::RateLink),
            "a" => Some(Purpose::Agent),
            _ => None,
        }
    }
}

/// A token taken apart (not yet verified).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claimed<'a> {
    pub ticket: i64,
    pub purpose: Purpose,
    mac: &'a str,
}

/// The signing key for tokens.
#[derive(Clone)]
pub struct TokenKey(hmac::Key);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(***)")
    }
}

/// Constant-time equality of two MACs (no early exit on the first difference).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl TokenKey {
    pub fn new(secret: &[u8]) -> Self {
        TokenKey(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    fn sign(&self, msg: &str) -> [u8; MAC_BYTES] {
        let tag = hmac::sign(&self.0, msg.as_bytes());
        let mut out = [0u8; MAC_BYTES];
        out.copy_from_slice(&tag.as_ref()[..MAC_BYTES]);
        out
    }

    fn mac(&self, purpose: Purpose, ticket: i64, recipient: &str) -> [u8; MAC_BYTES] {
        self.sign(&format!(
            "{}:{ticket}:{}",
            purpose.domain(),
            recipient.trim().to_lowercase()
        ))
    }

    /// The reply token for `recipient` on ticket `ticket`: `42-k3j5...` (16 MAC chars).
    pub fn issue(&self, ticket: i64, recipient: &str) -> String {
        self.issue_for(Purpose::Reply, ticket, recipient)
    }

    /// A token of `purpose` for `recipient` on ticket `ticket`.
    pub fn issue_for(&self, purpose: Purpose, ticket: i64, recipient: &str) -> String {
        let mac = BASE32_NOPAD
            .encode(&self.mac(purpose, ticket, recipient))
            .to_lowercase();
        format!("{ticket}{}-{mac}", purpose.mark())
    }

    /// Which of `candidates` the token was issued to, if any, whatever its
    /// purpose (see [`claim`] for the purpose).
    pub fn verify<'a>(
        &self,
        token: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Option<&'a str> {
        let c = claim(token)?;
        let given = BASE32_NOPAD.decode(c.mac.to_uppercase().as_bytes()).ok()?;
        candidates
            .into_iter()
            .find(|who| same(&self.mac(c.purpose, c.ticket, who), &given))
    }

    /// As [`TokenKey::verify`], for a token that must have `purpose`.
    pub fn verify_for<'a>(
        &self,
        purpose: Purpose,
        token: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Option<&'a str> {
        claim(token).filter(|c| c.purpose == purpose)?;
        self.verify(token, candidates)
    }

    /// The stable pseudonym that replaces an erased person's address:
    /// `erased-` and 16 hex digits of a keyed hash, the same for the same
    /// address in this database, and not reversible by guessing addresses
    /// without the key.
    pub fn pseudonym(&self, email: &str) -> String {
        let mac = self.sign(&format!(
            "postdesk-erased-v1:{}",
            email.trim().to_lowercase()
        ));
        let hex: String = mac[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("erased-{hex}")
    }

    /// The signed envelope sender's token for one outbound mail, named by
    /// the nonce of its Message-ID: `b-NONCE-MAC`.
    pub fn verp_token(&self, nonce: &str) -> String {
        let mac = BASE32_NOPAD
            .encode(&self.sign(&format!("postdesk-verp-v1:{}", nonce.to_lowercase())))
            .to_lowercase();
        format!("b-{}-{mac}", nonce.to_lowercase())
    }

    /// The nonce a VERP token names, when its signature holds.
    pub fn verify_verp<'a>(&self, token: &'a str) -> Option<&'a str> {
        let rest = token.strip_prefix("b-")?;
        let (nonce, mac) = rest.rsplit_once('-')?;
        let given = BASE32_NOPAD.decode(mac.to_uppercase().as_bytes()).ok()?;
        let expected = self.sign(&format!("postdesk-verp-v1:{}", nonce.to_lowercase()));
        same(&expected, &given).then_some(nonce)
    }
}

/// A token taken apart: its ticket and purpose (unverified).
pub fn claim(token: &str) -> Option<Claimed<'_>> {
    let (head, mac) = token.split_once('-')?;
    let digits = head.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let purpose = Purpose::from_mark(&head[digits.len()..].to_ascii_lowercase())?;
    let ticket: i64 = digits.parse().ok()?;
    // Ticket 0 is no ticket: only an agent's own token names it.
    if (ticket == 0) != (purpose == Purpose::Agent) || ticket < 0 {
        return None;
    }
    (mac.len() == 16 && mac.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(Claimed {
        ticket,
        purpose,
        mac,
    })
}

/// The ticket number a token claims (unverified).
pub fn claimed_ticket(token: &str) -> Option<i64> {
    claim(token).map(|c| c.ticket)
}

/// The `+…` parts of addresses `local+DETAIL@domain` (case-insensitive).
fn details<'a>(addresses: &'a [String], local: &str, domain: &str) -> Vec<&'a str> {
    let prefix = format!("{}+", local.to_lowercase());
    let suffix = format!("@{}", domain.to_lowercase());
    addresses
        .iter()
        .filter_map(|a| a.strip_prefix(&prefix)?.strip_suffix(&suffix))
        .collect()
}

/// Tokens in addresses of the form `local+TOKEN@domain` (case-insensitive).
pub fn tokens_in<'a>(addresses: &'a [String], local: &str, domain: &str) -> Vec<&'a str> {
    details(addresses, local, domain)
        .into_iter()
        .filter(|t| claim(t).is_some())
        .collect()
}

/// VERP tokens (`b-…`, unverified) in addresses `local+b-…@domain`.
pub fn verp_tokens_in<'a>(addresses: &'a [String], local: &str, domain: &str) -> Vec<&'a str> {
    details(addresses, local, domain)
        .into_iter()
        .filter(|t| t.starts_with("b-"))
        .collect()
}

/// `support+TOKEN@example.com`.
pub fn reply_address(local: &str, domain: &str, token: &str) -> String {
    format!("{local}+{token}@{domain}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_and_verify() {
        let k = TokenKey::new(b"secret");
        let t = k.issue(42, "Jane@Example.com");
        assert!(t.starts_with("42-"));
        assert_eq!(t.len(), 3 + 16);
        assert_eq!(
            k.verify(&t, ["bob@x.example", "jane@example.com"]),
            Some("jane@example.com")
        );
        assert_eq!(
            k.verify(&t.to_uppercase(), ["jane@example.com"]),
            Some("jane@example.com")
        );
    }

    #[test]
    fn forged_moved_or_foreign_tokens_fail() {
        let k = TokenKey::new(b"secret");
        let t = k.issue(42, "jane@example.com");
        // another ticket
        let moved = t.replacen("42-", "43-", 1);
        assert_eq!(k.verify(&moved, ["jane@example.com"]), None);
        // another recipient
        assert_eq!(k.verify(&t, ["bob@example.com"]), None);
        // another key
        assert_eq!(
            TokenKey::new(b"other").verify(&t, ["jane@example.com"]),
            None
        );
        // altered character
        let mut bad = t.clone().into_bytes();
        let last = bad.len() - 1;
        bad[last] = if bad[last] == b'a' { b'b' } else { b'a' };
        assert_eq!(
            k.verify(std::str::from_utf8(&bad).unwrap(), ["jane@example.com"]),
            None
        );
        assert_eq!(k.verify("42-short", ["jane@example.com"]), None);
    }

    #[test]
    fn a_token_serves_only_its_purpose() {
        let k = TokenKey::new(b"secret");
        let reply = k.issue(7, "jane@example.com");
        let survey = k.issue_for(Purpose::Survey, 7, "jane@example.com");
        let link = k.issue_for(Purpose::RateLink, 7, "jane@example.com");
        assert!(survey.starts_with("7s-") && link.starts_with("7r-"));
        assert_eq!(claim(&survey).map(|c| c.purpose), Some(Purpose::Survey));
        for (t, p) in [
            (&reply, Purpose::Reply),
            (&survey, Purpose::Survey),
            (&link, Purpose::RateLink),
        ] {
            assert!(k.verify_for(p, t, ["jane@example.com"]).is_some(), "{t}");
        }
        // The reply token, the one every participant's mail client shows,
        // does not rate; relabelling a token's purpose breaks its MAC.
        assert_eq!(
            k.verify_for(Purpose::Survey, &reply, ["jane@example.com"]),
            None
        );
        assert_eq!(
            k.verify_for(Purpose::RateLink, &survey, ["jane@example.com"]),
            None
        );
        let relabelled = reply.replacen("7-", "7s-", 1);
        assert_eq!(k.verify(&relabelled, ["jane@example.com"]), None);
    }

    #[test]
    fn an_agents_own_token_names_no_ticket() {
        let k = TokenKey::new(b"secret");
        let t = k.issue_for(Purpose::Agent, 0, "alice@example.com");
        assert!(t.starts_with("0a-"));
        assert_eq!(
            claim(&t).map(|c| (c.ticket, c.purpose)),
            Some((0, Purpose::Agent))
        );
        assert!(
            k.verify_for(Purpose::Agent, &t, ["alice@example.com"])
                .is_some()
        );
        assert!(
            claim(&t.replacen("0a-", "0-", 1)).is_none(),
            "no reply token for ticket 0"
        );
        assert!(claim(&k.issue_for(Purpose::Agent, 5, "a@b.example")).is_none());
    }

    #[test]
    fn verp_tokens_are_signed() {
        let k = TokenKey::new(b"secret");
        let t = k.verp_token("abcd2345");
        assert!(t.starts_with("b-abcd2345-"));
        assert_eq!(k.verify_verp(&t), Some("abcd2345"));
        assert_eq!(k.verify_verp(&t.replace("abcd", "abce")), None);
        assert_eq!(TokenKey::new(b"other").verify_verp(&t), None);
        assert_eq!(k.verify_verp("b-abcd2345"), None);
        assert!(claim(&t).is_none(), "a VERP token is no reply token");
    }

    #[test]
    fn finds_tokens_in_plus_addresses() {
        let k = TokenKey::new(b"s");
        let t = k.issue(7, "a@b.example");
        let v = k.verp_token("n0nce");
        let addrs = vec![
            format!("support+{t}@example.com"),
            "support@example.com".to_string(),
            "support+nonsense@example.com".to_string(),
            format!("other+{t}@example.com"),
            format!("support+{v}@example.com"),
        ];
        assert_eq!(
            tokens_in(&addrs, "Support", "Example.com"),
            vec![t.as_str()]
        );
        assert_eq!(
            verp_tokens_in(&addrs, "support", "example.com"),
            vec![v.as_str()]
        );
    }
}
