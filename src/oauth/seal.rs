//! Tokens at rest. With `[database] secret_key_env`/`secret_key_file` set,
//! a token is sealed with AES-256-GCM under a key derived (HKDF-SHA256)
//! from that secret, bound to its account and field (a sealed refresh
//! token copied into another row does not open), and stored as `v1:` and
//! base64 of nonce and ciphertext. Without a key it is stored as `plain:`
//! and the token: readable by whoever reads the database, as `auth status`
//! and `check` say.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf::{HKDF_SHA256, Salt};
use ring::rand::{SecureRandom, SystemRandom};

const SALT: &[u8] = b"postdesk sealed tokens v1";
const SEALED: &str = "v1:";
const PLAIN: &str = "plain:";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error(
        "the stored tokens are sealed, and no key to open them is configured: set [database] secret_key_env or secret_key_file as the daemon has it"
    )]
    NoKey,
    #[error(
        "the stored tokens do not open with the configured key: it is not the key they were sealed with (sign in again with `postdesk auth login {0}` to seal new ones)"
    )]
    WrongKey(String),
    #[error("a stored token is damaged ({0})")]
    Damaged(&'static str),
}

/// The key tokens are sealed with, or none.
pub struct Sealer {
    key: Option<LessSafeKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("sealed", &self.key.is_some())
            .finish()
    }
}

impl Sealer {
    /// From the configured secret (any text; it is stretched into a key).
    pub fn new(secret: Option<&str>) -> Sealer {
        let key = secret.map(|s| {
            let prk = Salt::new(HKDF_SHA256, SALT).extract(s.as_bytes());
            let mut bytes = [0u8; 32];
            prk.expand(&[b"aes-256-gcm"], &AES_256_GCM)
                .and_then(|okm| okm.fill(&mut bytes))
                .expect("32 bytes from HKDF-SHA256");
            LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &bytes).expect("a 32-byte key"))
        });
        Sealer { key }
    }

    pub fn seals(&self) -> bool {
        self.key.is_some()
    }

    /// `token` as stored, for `account`'s `field` (`access`, `refresh`).
    pub fn seal(&self, account: &str, field: &str, token: &str) -> String {
        let Some(key) = &self.key else {
            return format!("{PLAIN}{token}");
        };
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("the system's random numbers");
        let mut data = token.as_bytes().to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(account, field)),
            &mut data,
        )
        .expect("sealing fits in memory");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        format!("{SEALED}{}", data_encoding::BASE64.encode(&out))
    }

    /// The token stored as `stored`.
    pub fn open(&self, account: &str, field: &str, stored: &str) -> Result<String, SealError> {
        if let Some(plain) = stored.strip_prefix(PLAIN) {
            return Ok(plain.to_string());
        }
        let Some(b64) = stored.strip_prefix(SEALED) else {
            return Err(SealError::Damaged("unknown format"));
        };
        let key = self.key.as_ref().ok_or(SealError::NoKey)?;
        let bytes = data_encoding::BASE64
            .decode(b64.as_bytes())
            .map_err(|_| SealError::Damaged("not base64"))?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::Damaged("too short"));
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Damaged("nonce"))?;
        let mut data = sealed.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(aad(account, field)), &mut data)
            .map_err(|_| SealError::WrongKey(account.to_string()))?;
        String::from_utf8(plain.to_vec()).map_err(|_| SealError::Damaged("not text"))
    }
}

fn aad(account: &str, field: &str) -> Vec<u8> {
    format!("postdesk oauth {account} {field}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_tokens_open_with_the_key_only() {
        let s = Sealer::new(Some("correct horse"));
        let stored = s.seal("acme", "refresh", "1//0refresh-token");
        assert!(stored.starts_with("v1:"));
        assert!(!stored.contains("refresh-token"));
        assert_eq!(
            s.open("acme", "refresh", &stored).unwrap(),
            "1//0refresh-token"
        );
        // Two seals of one token differ (a fresh nonce each time).
        assert_ne!(stored, s.seal("acme", "refresh", "1//0refresh-token"));
        let other = Sealer::new(Some("battery staple"));
        assert_eq!(
            other.open("acme", "refresh", &stored),
            Err(SealError::WrongKey("acme".into()))
        );
        assert_eq!(
            Sealer::new(None).open("acme", "refresh", &stored),
            Err(SealError::NoKey)
        );
    }

    #[test]
    fn a_sealed_token_is_bound_to_its_account_and_field() {
        let s = Sealer::new(Some("k"));
        let stored = s.seal("acme", "refresh", "tok");
        assert!(s.open("globex", "refresh", &stored).is_err());
        assert!(s.open("acme", "access", &stored).is_err());
        let mut damaged = stored.clone();
        damaged.pop();
        damaged.push(if stored.ends_with('A') { 'B' } else { 'A' });
        assert!(s.open("acme", "refresh", &damaged).is_err());
    }

    #[test]
    fn without_a_key_tokens_are_stored_as_given_and_still_read_with_one() {
        let plain = Sealer::new(None).seal("acme", "access", "tok");
        assert_eq!(plain, "plain:tok");
        assert_eq!(
            Sealer::new(Some("k"))
                .open("acme", "access", &plain)
                .unwrap(),
            "tok"
        );
    }
}
