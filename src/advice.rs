//! What to tell an admin when a mail server cannot be reached or refuses
//! us: the failure sorted into a [`Trouble`] (from the stage it happened at
//! and the io, TLS or server error behind it) and worded as what to change,
//! with the setting's name (`security = "starttls"`, `ca_file`, the
//! password's variable). Used by `check --connect`, the mailbox tasks' logs
//! and the outbox's errors, so every place says the same thing.

use crate::config::{Security, ServerConfig};
use std::error::Error;
use std::time::Duration;

/// The two protocols we speak to mail servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Imap,
    Smtp,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Imap => "IMAP",
            Protocol::Smtp => "SMTP",
        }
    }
    /// The port that speaks TLS from the first byte.
    fn tls_port(self) -> u16 {
        match self {
            Protocol::Imap => 993,
            Protocol::Smtp => 465,
        }
    }
    /// The port that starts in plain text and upgrades with STARTTLS.
    fn starttls_port(self) -> u16 {
        match self {
            Protocol::Imap => 143,
            Protocol::Smtp => 587,
        }
    }
}

/// Where in the conversation a failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Opening the TCP connection.
    Connect,
    /// Waiting for the server's first words.
    Greeting,
    /// Asking for STARTTLS, or the TLS handshake.
    Tls,
    /// Logging in.
    Login,
}

/// What went wrong, in the terms of what fixes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trouble {
    /// Nothing listens there.
    Refused,
    /// No answer to the connection, or no greeting, within the timeout.
    TimedOut(Duration),
    /// The host name does not resolve.
    NoSuchHost,
    /// The network has no route there.
    Unreachable,
    /// We spoke TLS and the server answered in plain text.
    NotTls,
    /// A plain connection got no greeting: the port may expect TLS first.
    NoGreeting(Duration),
    /// The server does not offer STARTTLS.
    NoStartTls,
    /// The certificate does not name the host we connected to.
    CertificateName,
    /// The certificate is signed by an authority we do not trust.
    UnknownAuthority,
    /// The certificate has expired (or our clock is wrong).
    CertificateExpired,
    /// Another TLS failure, worded by rustls.
    Tls(String),
    /// The server refused the user name and password.
    LoginRefused(String),
    /// The server refuses passwords over an unencrypted connection.
    PlaintextRefused(String),
    /// The server offers no login mechanism we can use here.
    NoLoginOffered,
    /// The OAuth2 account gives no token; true when an admin has to act
    /// (sign in again) rather than wait for the provider.
    NoToken(String, bool),
    /// Anything else, worded by the library.
    Other(String),
}

impl Trouble {
    /// Whether the fix is in the configuration (exit 78) rather than in
    /// waiting for the server or the network (exit 75).
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            Trouble::NotTls
                | Trouble::NoStartTls
                | Trouble::CertificateName
                | Trouble::UnknownAuthority
                | Trouble::LoginRefused(_)
                | Trouble::PlaintextRefused(_)
                | Trouble::NoLoginOffered
                | Trouble::NoToken(_, true)
        )
    }
}

/// A failure to reach or log in to a mail server, worded for the admin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ServerTrouble {
    pub trouble: Trouble,
    pub message: String,
}

impl ServerTrouble {
    /// The OAuth2 account of `cfg` gave no token.
    pub fn no_token(protocol: Protocol, cfg: &ServerConfig, e: &crate::oauth::OAuthError) -> Self {
        Self::of(
            protocol,
            cfg,
            Trouble::NoToken(e.to_string(), e.needs_admin()),
        )
    }

    /// Sorts `error`, met at `stage` with the server `cfg`, and words it.
    pub fn new(
        protocol: Protocol,
        cfg: &ServerConfig,
        stage: Stage,
        error: &(dyn Error + 'static),
    ) -> Self {
        Self::of(protocol, cfg, sort(protocol, cfg, stage, error))
    }

    /// Words a trouble already known.
    pub fn of(protocol: Protocol, cfg: &ServerConfig, trouble: Trouble) -> Self {
        let message = advise(protocol, cfg, &trouble);
        ServerTrouble { trouble, message }
    }

    pub fn is_config(&self) -> bool {
        self.trouble.is_config()
    }
}

/// Every error in a chain, including the one an `io::Error` wraps (whose
/// `source()` skips it).
fn chain<'a>(e: &'a (dyn Error + 'static)) -> Vec<&'a (dyn Error + 'static)> {
    let mut out = Vec::new();
    let mut next = Some(e);
    while let Some(e) = next {
        out.push(e);
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn Error + 'static)),
            None => e.source(),
        };
    }
    out
}

fn sort(
    protocol: Protocol,
    cfg: &ServerConfig,
    stage: Stage,
    e: &(dyn Error + 'static),
) -> Trouble {
    let timeout = cfg.timeout.unsigned_abs();
    let errors = chain(e);
    for e in &errors {
        if let Some(t) = e.downcast_ref::<rustls::Error>() {
            return from_rustls(t);
        }
    }
    for e in &errors {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            match io.kind() {
                K::ConnectionRefused => return Trouble::Refused,
                K::TimedOut if stage == Stage::Connect => return Trouble::TimedOut(timeout),
                K::TimedOut | K::WouldBlock if plain_first(cfg) => {
                    return Trouble::NoGreeting(timeout);
                }
                K::TimedOut => return Trouble::TimedOut(timeout),
                K::HostUnreachable | K::NetworkUnreachable => return Trouble::Unreachable,
                _ if io.to_string().contains("failed to lookup address") => {
                    return Trouble::NoSuchHost;
                }
                _ => {}
            }
        }
    }
    let words = crate::error_chain(e);
    let lower = words.to_ascii_lowercase();
    match stage {
        Stage::Login
            if protocol == Protocol::Smtp && lower.contains("no compatible authentication") =>
        {
            Trouble::NoLoginOffered
        }
        Stage::Login
            if lower.contains("privacyrequired")
                || lower.contains("logindisabled")
                || lower.contains("plaintext authentication") =>
        {
            Trouble::PlaintextRefused(server_said(&words))
        }
        Stage::Login => Trouble::LoginRefused(server_said(&words)),
        Stage::Tls
            if lower.contains("starttls")
                || lower.contains("no response")
                || lower.contains("bad response") =>
        {
            Trouble::NoStartTls
        }
        Stage::Greeting if lower.contains("timed out") || lower.contains("did not answer") => {
            if plain_first(cfg) {
                Trouble::NoGreeting(timeout)
            } else {
                Trouble::TimedOut(timeout)
            }
        }
        _ => Trouble::Other(words),
    }
}

/// Whether the connection starts in plain text.
fn plain_first(cfg: &ServerConfig) -> bool {
    cfg.security != Security::Tls
}

fn from_rustls(e: &rustls::Error) -> Trouble {
    use rustls::{CertificateError as C, Error as R, InvalidMessage as M};
    match e {
        R::InvalidMessage(M::InvalidContentType | M::UnknownProtocolVersion) => Trouble::NotTls,
        R::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            Trouble::CertificateName
        }
        R::InvalidCertificate(C::UnknownIssuer) => Trouble::UnknownAuthority,
        R::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => Trouble::CertificateExpired,
        other => Trouble::Tls(other.to_string()),
    }
}

/// The server's own words from a refusal: the text of an IMAP `NO`
/// (`info: Some("[AUTHENTICATIONFAILED] Authentication failed.")`) or of an
/// SMTP reply (`535 5.7.8 Error: authentication failed: …`).
fn server_said(words: &str) -> String {
    if let Some(start) = words.find("info: Some(\"") {
        let rest = &words[start + 12..];
        let text = rest.split("\")").next().unwrap_or(rest);
        let text = match text.strip_prefix('[') {
            Some(t) => t.split_once("] ").map_or(text, |(_, after)| after),
            None => text,
        };
        return text.trim().to_string();
    }
    // lettre: `permanent error (535): 5.7.8 Error: …` → `535 5.7.8 Error: …`.
    for kind in ["permanent error (", "transient error ("] {
        if let Some(start) = words.find(kind) {
            let rest = &words[start + kind.len()..];
            if let Some((code, text)) = rest.split_once("): ") {
                return format!("{code} {}", text.trim());
            }
        }
    }
    words.trim().to_string()
}

/// The sentence an admin reads.
fn advise(protocol: Protocol, cfg: &ServerConfig, trouble: &Trouble) -> String {
    let server = format!("{}:{}", cfg.host, cfg.port);
    let p = protocol.name();
    let (tls_port, plain_port) = (protocol.tls_port(), protocol.starttls_port());
    let user = cfg.username.as_deref().unwrap_or("(no user name)");
    let secret = match (&cfg.oauth, &cfg.password) {
        (Some(account), _) => format!(
            "that the OAuth2 account {account} was signed in as {user} and may use {p} (`postdesk auth login {account}`)"
        ),
        (None, Some(s)) => format!("the password in {}", s.origin()),
        (None, None) => "the configured password".to_string(),
    };
    match trouble {
        Trouble::Refused => format!(
            "{server} refused the connection: is the {p} server running there, and is {} its {p} port?",
            cfg.port
        ),
        Trouble::TimedOut(t) => format!(
            "{server} did not answer within {}: check the host name and port, and that no firewall drops the connection",
            seconds(*t)
        ),
        Trouble::NoSuchHost => format!(
            "cannot find the host {}: check the host name (no DNS record for it here)",
            cfg.host
        ),
        Trouble::Unreachable => {
            format!("{server} cannot be reached from here (no route to the host or network)")
        }
        Trouble::NotTls => format!(
            "{server} does not speak TLS from the first byte: use security = \"starttls\" (or port {tls_port} with security = \"tls\")"
        ),
        Trouble::NoGreeting(t) => format!(
            "{server} sent no greeting within {}: if this port expects TLS from the first byte (as {tls_port} does), use security = \"tls\"",
            seconds(*t)
        ),
        Trouble::NoStartTls => format!(
            "{server} does not offer STARTTLS: use port {tls_port} with security = \"tls\" if it has one, or security = \"none\" only on a trusted network"
        ),
        Trouble::CertificateName => format!(
            "the TLS certificate of {server} is not valid for the name {:?}: set host to a name the certificate holds (the provider's documented host name, not an IP address or an alias)",
            cfg.host
        ),
        Trouble::UnknownAuthority => format!(
            "the TLS certificate of {server} is signed by an authority postdesk does not trust: for a private or self-signed server set ca_file = \"/path/to/ca.pem\" beside host"
        ),
        Trouble::CertificateExpired => format!(
            "the TLS certificate of {server} has expired (or this machine's clock is wrong): renew it on the server"
        ),
        Trouble::Tls(why) => format!("TLS with {server} failed: {why}"),
        Trouble::LoginRefused(said) => format!(
            "login refused for {user} at {server}: check the user name and {secret} (the server said: {said})"
        ),
        Trouble::PlaintextRefused(said) => format!(
            "{server} refuses a password over an unencrypted connection: use security = \"starttls\" (port {plain_port}) or \"tls\" (port {tls_port}) (the server said: {said})"
        ),
        Trouble::NoLoginOffered if cfg.security == Security::None => {
            format!("{server} offers no login before STARTTLS: use security = \"starttls\"")
        }
        Trouble::NoLoginOffered if cfg.oauth.is_some() => format!(
            "{server} offers no OAuth2 login (AUTH XOAUTH2 or OAUTHBEARER) for {user}: check host and port, or use auth = \"password\""
        ),
        Trouble::NoLoginOffered => format!(
            "{server} offers no password login postdesk can use (AUTH PLAIN or LOGIN) for {user}"
        ),
        Trouble::NoToken(why, _) => why.clone(),
        Trouble::Other(words) => format!("{p} {server}: {words}"),
    }
}

fn seconds(t: Duration) -> String {
    format!("{} s", t.as_secs_f64().round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn cfg(security: Security, port: u16) -> ServerConfig {
        ServerConfig {
            host: "mail.example.com".into(),
            port,
            security,
            username: Some("support@example.com".into()),
            password: Some(Secret::from_env("secret", "POSTDESK_IMAP_PASSWORD")),
            oauth: None,
            ca_file: None,
            timeout: jiff::SignedDuration::from_secs(10),
        }
    }

    fn io_wrapping(e: rustls::Error) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }

    #[test]
    fn tls_to_a_plain_port_says_use_starttls() {
        let e = io_wrapping(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType,
        ));
        let t = ServerTrouble::new(Protocol::Imap, &cfg(Security::Tls, 143), Stage::Tls, &e);
        assert_eq!(t.trouble, Trouble::NotTls);
        assert!(t.is_config());
        assert_eq!(
            t.message,
            "mail.example.com:143 does not speak TLS from the first byte: use security = \"starttls\" (or port 993 with security = \"tls\")"
        );
    }

    #[test]
    fn certificate_failures_name_the_fix() {
        let c = cfg(Security::Tls, 993);
        let name = io_wrapping(rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidForName,
        ));
        let t = ServerTrouble::new(Protocol::Imap, &c, Stage::Tls, &name);
        assert_eq!(t.trouble, Trouble::CertificateName);
        assert!(
            t.message
                .contains("not valid for the name \"mail.example.com\""),
            "{}",
            t.message
        );
        let ca = io_wrapping(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        let t = ServerTrouble::new(Protocol::Smtp, &c, Stage::Tls, &ca);
        assert_eq!(t.trouble, Trouble::UnknownAuthority);
        assert!(t.message.contains("ca_file"), "{}", t.message);
    }

    #[test]
    fn a_refused_connection_is_temporary() {
        let e = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let t = ServerTrouble::new(
            Protocol::Smtp,
            &cfg(Security::StartTls, 587),
            Stage::Connect,
            &e,
        );
        assert_eq!(t.trouble, Trouble::Refused);
        assert!(!t.is_config());
        assert!(
            t.message.contains("is the SMTP server running there"),
            "{}",
            t.message
        );
    }

    #[test]
    fn a_refused_login_names_the_password_source_and_the_servers_words() {
        let e = std::io::Error::other(
            "no response: code: None, info: Some(\"[AUTHENTICATIONFAILED] Authentication failed.\")",
        );
        let t = ServerTrouble::new(Protocol::Imap, &cfg(Security::Tls, 993), Stage::Login, &e);
        assert_eq!(
            t.message,
            "login refused for support@example.com at mail.example.com:993: check the user name and the password in $POSTDESK_IMAP_PASSWORD (the server said: Authentication failed.)"
        );
    }

    #[test]
    fn an_smtp_refusal_keeps_its_code() {
        let e = std::io::Error::other(
            "permanent error (535): 5.7.8 Error: authentication failed: (reason unavailable)",
        );
        let t = ServerTrouble::new(
            Protocol::Smtp,
            &cfg(Security::StartTls, 587),
            Stage::Login,
            &e,
        );
        assert!(
            t.message.ends_with(
                "(the server said: 535 5.7.8 Error: authentication failed: (reason unavailable))"
            ),
            "{}",
            t.message
        );
    }

    #[test]
    fn no_greeting_on_a_plain_connection_suggests_tls() {
        let e = std::io::Error::from(std::io::ErrorKind::TimedOut);
        let t = ServerTrouble::new(
            Protocol::Imap,
            &cfg(Security::StartTls, 993),
            Stage::Greeting,
            &e,
        );
        assert_eq!(t.trouble, Trouble::NoGreeting(Duration::from_secs(10)));
        assert!(
            t.message.contains("use security = \"tls\""),
            "{}",
            t.message
        );
        // With TLS configured, silence is only silence.
        let t = ServerTrouble::new(
            Protocol::Imap,
            &cfg(Security::Tls, 993),
            Stage::Greeting,
            &e,
        );
        assert_eq!(t.trouble, Trouble::TimedOut(Duration::from_secs(10)));
    }

    #[test]
    fn no_login_before_starttls() {
        let e =
            std::io::Error::other("Client error: No compatible authentication mechanism was found");
        let t = ServerTrouble::new(Protocol::Smtp, &cfg(Security::None, 25), Stage::Login, &e);
        assert_eq!(t.trouble, Trouble::NoLoginOffered);
        assert_eq!(
            t.message,
            "mail.example.com:25 offers no login before STARTTLS: use security = \"starttls\""
        );
    }
}
