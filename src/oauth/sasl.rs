//! The two SASL mechanisms that carry a bearer token: Google's and
//! Microsoft's `XOAUTH2`, and the standard `OAUTHBEARER` (RFC 7628). Each
//! sends the token in its first response; a server that refuses answers
//! with a challenge holding a JSON error, to which the client sends an
//! empty response (RFC 7628 §3.2.3; the same for XOAUTH2) and then gets
//! the tagged failure.

/// A mechanism the server offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    XOAuth2,
    OAuthBearer,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The one to use among the server's `AUTH=` capabilities: the
    /// standard OAUTHBEARER when offered, else XOAUTH2 (all Microsoft
    /// offers); None when it offers neither.
    pub fn choose<'a>(offered: impl IntoIterator<Item = &'a str>) -> Option<Mechanism> {
        let offered: Vec<String> = offered.into_iter().map(str::to_ascii_uppercase).collect();
        let has = |m: &str| offered.iter().any(|o| o == m);
        if has("AUTH=OAUTHBEARER") {
            Some(Mechanism::OAuthBearer)
        } else if has("AUTH=XOAUTH2") {
            Some(Mechanism::XOAuth2)
        } else {
            None
        }
    }

    /// The first response (before base64).
    pub fn initial_response(self, user: &str, token: &str, host: &str, port: u16) -> String {
        match self {
            Mechanism::XOAuth2 => format!("user={user}\x01auth=Bearer {token}\x01\x01"),
            Mechanism::OAuthBearer => {
                // gs2 header: no channel binding, the authorization identity
                // with ',' and '=' escaped (RFC 5801 §4).
                let authzid = user.replace('=', "=3D").replace(',', "=2C");
                format!(
                    "n,a={authzid},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01"
                )
            }
        }
    }
}

/// Answers an IMAP AUTHENTICATE exchange: the token first; to anything
/// after it (the server's error challenge), the empty response that ends
/// the exchange, and the server's JSON is kept to explain the refusal.
pub struct Bearer {
    first: Option<String>,
    /// The server's error challenge, decoded, if it sent one.
    pub refusal: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl Bearer {
    pub fn new(mechanism: Mechanism, user: &str, token: &str, host: &str, port: u16) -> Bearer {
        Bearer {
            first: Some(mechanism.initial_response(user, token, host, port)),
            refusal: Default::default(),
        }
    }
}

impl async_imap::Authenticator for Bearer {
    type Response = Vec<u8>;
    fn process(&mut self, challenge: &[u8]) -> Vec<u8> {
        match self.first.take() {
            Some(first) => first.into_bytes(),
            None => {
                *self.refusal.lock().expect("refusal lock") =
                    Some(String::from_utf8_lossy(challenge).into_owned());
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_mechanism_wins_when_both_are_offered() {
        assert_eq!(
            Mechanism::choose([
                "IMAP4rev1",
                "AUTH=PLAIN",
                "AUTH=XOAUTH2",
                "AUTH=OAUTHBEARER"
            ]),
            Some(Mechanism::OAuthBearer)
        );
        assert_eq!(
            Mechanism::choose(["AUTH=XOAUTH2"]),
            Some(Mechanism::XOAuth2)
        );
        assert_eq!(
            Mechanism::choose(["auth=xoauth2"]),
            Some(Mechanism::XOAuth2)
        );
        assert_eq!(Mechanism::choose(["AUTH=PLAIN", "AUTH=LOGIN"]), None);
    }

    #[test]
    fn initial_responses_follow_the_specifications() {
        assert_eq!(
            Mechanism::XOAuth2.initial_response("support@example.com", "tok", "h", 993),
            "user=support@example.com\x01auth=Bearer tok\x01\x01"
        );
        // RFC 7628 §4.1's example, with our values.
        assert_eq!(
            Mechanism::OAuthBearer.initial_response(
                "user@example.com",
                "vF9dft4qmT",
                "server.example.com",
                143
            ),
            "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmT\x01\x01"
        );
        assert!(
            Mechanism::OAuthBearer
                .initial_response("a,b=c", "t", "h", 1)
                .starts_with("n,a=a=2Cb=3Dc,\x01")
        );
    }

    #[test]
    fn an_error_challenge_is_answered_empty_and_kept() {
        use async_imap::Authenticator;
        let mut b = Bearer::new(Mechanism::XOAuth2, "u", "t", "h", 1);
        assert_eq!(b.process(b""), b"user=u\x01auth=Bearer t\x01\x01".to_vec());
        assert_eq!(b.process(br#"{"status":"401"}"#), Vec::<u8>::new());
        assert_eq!(
            b.refusal.lock().unwrap().as_deref(),
            Some(r#"{"status":"401"}"#)
        );
    }
}
