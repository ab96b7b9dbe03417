//! Reply tokens: `support+TOKEN@domain`. A token names a ticket and is bound,
//! by an HMAC-SHA256 truncated to 80 bits, to the address it was sent to, with
//! a secret generated once and kept in the database. It cannot be guessed,
//! moved to another ticket or used by another recipient. Lower-case base32, so
//! mail systems that fold the case of local parts do not break it.

use data_encoding::BASE32_NOPAD;
use ring::hmac;

/// Bytes of MAC shown in a token (80 bits).
const MAC_BYTES: usize = 10;

/// The signing key for tokens.
#[derive(Clone)]
pub struct TokenKey(hmac::Key);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(***)")
    }
}

impl TokenKey {
    pub fn new(secret: &[u8]) -> Self {
        TokenKey(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    fn mac(&self, ticket: i64, recipient: &str) -> [u8; MAC_BYTES] {
        let msg = format!(
            "postdesk-token-v1:{ticket}:{}",
            recipient.trim().to_lowercase()
        );
        let tag = hmac::sign(&self.0, msg.as_bytes());
        let mut out = [0u8; MAC_BYTES];
        out.copy_from_slice(&tag.as_ref()[..MAC_BYTES]);
        out
    }

    /// The token for `recipient` on ticket `ticket`: `42-k3j5...` (16 MAC chars).
    pub fn issue(&self, ticket: i64, recipient: &str) -> String {
        let mac = BASE32_NOPAD
            .encode(&self.mac(ticket, recipient))
            .to_lowercase();
        format!("{ticket}-{mac}")
    }

    /// Which of `candidates` the token was issued to, if any (constant-time compare).
    pub fn verify<'a>(
        &self,
        token: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Option<&'a str> {
        let (ticket, mac) = split(token)?;
        let given = BASE32_NOPAD.decode(mac.to_uppercase().as_bytes()).ok()?;
        if given.len() != MAC_BYTES {
            return None;
        }
        candidates.into_iter().find(|c| {
            let expected = self.mac(ticket, c);
            // XOR-fold: no early exit on the first differing byte.
            expected
                .iter()
                .zip(&given)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
        })
    }
}

/// The ticket number a token claims (unverified).
pub fn claimed_ticket(token: &str) -> Option<i64> {
    split(token).map(|(t, _)| t)
}

fn split(token: &str) -> Option<(i64, &str)> {
    let (n, mac) = token.split_once('-')?;
    let n: i64 = n.parse().ok().filter(|n| *n > 0)?;
    (mac.len() == 16 && mac.bytes().all(|b| b.is_ascii_alphanumeric())).then_some((n, mac))
}

/// Tokens in addresses of the form `local+TOKEN@domain` (case-insensitive).
pub fn tokens_in<'a>(addresses: &'a [String], local: &str, domain: &str) -> Vec<&'a str> {
    let prefix = format!("{}+", local.to_lowercase());
    let suffix = format!("@{}", domain.to_lowercase());
    addresses
        .iter()
        .filter_map(|a| a.strip_prefix(&prefix)?.strip_suffix(&suffix))
        .filter(|t| split(t).is_some())
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
    fn finds_tokens_in_plus_addresses() {
        let k = TokenKey::new(b"s");
        let t = k.issue(7, "a@b.example");
        let addrs = vec![
            format!("support+{t}@example.com"),
            "support@example.com".to_string(),
            "support+nonsense@example.com".to_string(),
            format!("other+{t}@example.com"),
        ];
        assert_eq!(
            tokens_in(&addrs, "Support", "Example.com"),
            vec![t.as_str()]
        );
    }
}
