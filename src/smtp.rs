//! Sending over SMTP: one connection kept open and reused (TLS, STARTTLS or
//! plain as configured), every failure sorted into "try again later" or
//! "will never work".
//!
//! The SMTP conversation is driven step by step (lettre's connection API)
//! rather than through a transport, for one reason: the caller is told the
//! moment the whole message has been written and only the final dot is left
//! to send. From then until the server answers, a crash leaves the mail in
//! doubt; before it, the mail surely was not accepted. The outbox uses this
//! to never send a mail twice after a crash (see `outbox`).

use crate::advice::{Protocol, ServerTrouble, Stage, Trouble};
use crate::config::{Security, ServerConfig};
use crate::oauth::Authority;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters,
};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The outcome of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Sent,
    /// 4xx, or the server could not be reached: retry later.
    Temporary(String),
    /// No login is possible until an admin acts (the OAuth2 account needs
    /// a new sign-in): retry later, and never give the mail up for it.
    Blocked(String),
    /// 5xx or an unusable address: retrying will not help.
    Permanent(String),
    /// The message and its final dot went out but no answer came back: the
    /// server may have accepted it.
    InDoubt(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SmtpSetupError {
    #[error("cannot set up SMTP TLS: {0}")]
    Tls(String),
    #[error("cannot read smtp.ca_file: {0}")]
    Ca(#[from] crate::tls::TlsError),
}

/// RFC 5321 §4.5.3.2.6: wait this long for the answer to the final dot.
const DATA_END_TIMEOUT: Duration = Duration::from_secs(600);
/// A kept connection unused this long is checked with NOOP before reuse.
const RECHECK_AFTER: Duration = Duration::from_secs(5);

pub struct Mailer {
    cfg: ServerConfig,
    /// Tokens, when the server logs in with OAuth2.
    oauth: Option<Arc<Authority>>,
    /// lettre's TLS settings for the upgrade after STARTTLS.
    starttls: Option<TlsParameters>,
    /// The TLS settings of implicit TLS, set up by `crate::net` as for IMAP.
    implicit_tls: Option<Arc<rustls::ClientConfig>>,
    hello: ClientId,
    idle_timeout: Duration,
    conn: Option<(AsyncSmtpConnection, Instant)>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server())
            .finish()
    }
}

/// An error from lettre, sorted.
fn sort(e: &lettre::transport::smtp::Error) -> SendOutcome {
    if e.is_permanent() {
        SendOutcome::Permanent(crate::error_chain(e))
    } else {
        SendOutcome::Temporary(crate::error_chain(e))
    }
}

impl Mailer {
    pub fn new(
        cfg: &ServerConfig,
        idle_timeout: Duration,
        oauth: Option<Arc<Authority>>,
    ) -> Result<Mailer, SmtpSetupError> {
        crate::tls::install_crypto_provider();
        let implicit_tls = match cfg.security {
            Security::Tls => Some(crate::tls::client_config(cfg.ca_file.as_deref())?),
            _ => None,
        };
        let starttls = match cfg.security {
            Security::None | Security::Tls => None,
            Security::StartTls => {
                let mut b = TlsParameters::builder(cfg.host.clone());
                if let Some(ca) = &cfg.ca_file {
                    crate::tls::read_ca_file(ca)?;
                    let pem = std::fs::read(ca)
                        .map_err(|e| SmtpSetupError::Tls(format!("{}: {e}", ca.display())))?;
                    let cert = Certificate::from_pem(&pem)
                        .map_err(|e| SmtpSetupError::Tls(e.to_string()))?;
                    b = b.add_root_certificate(cert);
                }
                Some(
                    b.build_rustls()
                        .map_err(|e| SmtpSetupError::Tls(e.to_string()))?,
                )
            }
        };
        Ok(Mailer {
            cfg: cfg.clone(),
            oauth,
            starttls,
            implicit_tls,
            hello: ClientId::default(),
            idle_timeout,
            conn: None,
        })
    }

    pub fn server(&self) -> String {
        format!("{}:{}", self.cfg.host, self.cfg.port)
    }

    /// Connects, says hello, upgrades to TLS and logs in as configured.
    /// Every failure on the way is worded as what to change.
    async fn connect(&self) -> Result<AsyncSmtpConnection, ServerTrouble> {
        let cfg = &self.cfg;
        let at = |stage: Stage| {
            move |e: lettre::transport::smtp::Error| {
                ServerTrouble::new(Protocol::Smtp, cfg, stage, &e)
            }
        };
        // The connection is ours (see `crate::net`), lettre speaks on it.
        let tcp = crate::net::tcp(Protocol::Smtp, cfg).await?;
        let stream: Box<dyn AsyncTokioStream> = match &self.implicit_tls {
            Some(config) => {
                let tls = crate::net::tls(Protocol::Smtp, cfg, config.clone(), tcp).await?;
                Box::new(Tls(tls))
            }
            None => Box::new(tcp),
        };
        // lettre reads the greeting without a timeout of its own.
        let timeout = cfg.timeout.unsigned_abs();
        let greeted = tokio::time::timeout(
            timeout,
            AsyncSmtpConnection::connect_with_transport(stream, &self.hello),
        )
        .await;
        let mut conn = match greeted {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(at(Stage::Greeting)(e)),
            Err(_) => {
                let silent = match cfg.security {
                    Security::Tls => Trouble::TimedOut(timeout),
                    _ => Trouble::NoGreeting(timeout),
                };
                return Err(ServerTrouble::of(Protocol::Smtp, cfg, silent));
            }
        };
        if cfg.security == Security::StartTls {
            if !conn.can_starttls() {
                return Err(ServerTrouble::of(Protocol::Smtp, cfg, Trouble::NoStartTls));
            }
            let params = self.starttls.clone().expect("TLS parameters for STARTTLS");
            conn.starttls(params, &self.hello)
                .await
                .map_err(at(Stage::Tls))?;
        }
        if let (Some(user), Some(account)) = (&cfg.username, &cfg.oauth) {
            let token = match &self.oauth {
                Some(a) => a.access_token(account).await,
                None => Err(crate::oauth::OAuthError::Unknown(account.clone())),
            }
            .map_err(|e| ServerTrouble::no_token(Protocol::Smtp, cfg, &e))?;
            if !conn
                .server_info()
                .supports_auth_mechanism(Mechanism::Xoauth2)
            {
                conn.abort().await;
                return Err(ServerTrouble::of(
                    Protocol::Smtp,
                    cfg,
                    Trouble::NoLoginOffered,
                ));
            }
            let creds = Credentials::new(user.clone(), token);
            conn.auth(&[Mechanism::Xoauth2], &creds)
                .await
                .map_err(at(Stage::Login))?;
        } else if let (Some(user), Some(pass)) = (&cfg.username, &cfg.password) {
            let creds = Credentials::new(user.clone(), pass.expose().to_string());
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds)
                .await
                .map_err(at(Stage::Login))?;
        }
        Ok(conn)
    }

    /// The kept connection if it is still good, else a new one.
    async fn connection(&mut self) -> Result<AsyncSmtpConnection, ServerTrouble> {
        if let Some((mut c, used)) = self.conn.take() {
            let idle = used.elapsed();
            if idle < self.idle_timeout
                && (idle < RECHECK_AFTER || c.test_connected().await)
                && !c.has_broken()
            {
                return Ok(c);
            }
            c.abort().await;
        }
        self.connect().await
    }

    /// Closes the kept connection if it has been idle too long.
    pub async fn close_if_idle(&mut self) {
        if let Some((_, used)) = &self.conn
            && used.elapsed() >= self.idle_timeout
            && let Some((mut c, _)) = self.conn.take()
        {
            let _ = c.quit().await;
        }
    }

    /// Sends `raw` from `from` to `to` (the envelope; headers are in `raw`).
    /// `at_dot` runs once the message has been written, just before the
    /// final dot: from then on the server may have accepted it.
    pub async fn send(
        &mut self,
        from: &str,
        to: &[String],
        raw: &[u8],
        at_dot: impl FnOnce(),
    ) -> SendOutcome {
        let parse = |a: &str| {
            a.parse::<lettre::Address>()
                .map_err(|e| format!("invalid address {a:?}: {e}"))
        };
        let (from, to) = match (
            parse(from),
            to.iter().map(|a| parse(a)).collect::<Result<Vec<_>, _>>(),
        ) {
            (Ok(f), Ok(t)) if !t.is_empty() => (f, t),
            (Err(e), _) | (_, Err(e)) => return SendOutcome::Permanent(e),
            _ => return SendOutcome::Permanent("no recipients".into()),
        };
        let mut conn = match tokio::time::timeout(
            self.cfg.timeout.unsigned_abs() * 2,
            self.connection(),
        )
        .await
        {
            Ok(Ok(c)) => c,
            Ok(Err(t)) if matches!(t.trouble, Trouble::NoToken(_, true)) => {
                return SendOutcome::Blocked(t.message);
            }
            Ok(Err(t)) => return SendOutcome::Temporary(t.message),
            Err(_) => {
                return SendOutcome::Temporary(format!(
                    "cannot connect to {}: timed out",
                    self.server()
                ));
            }
        };
        let step = self.cfg.timeout.unsigned_abs();
        let envelope = async {
            let mut params = Vec::new();
            if !raw.is_ascii() && conn.server_info().supports_feature(Extension::EightBitMime) {
                params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
            }
            conn.command(Mail::new(Some(from), params)).await?;
            for r in to {
                conn.command(Rcpt::new(r, vec![])).await?;
            }
            conn.command(Data).await
        };
        match tokio::time::timeout(step * 4, envelope).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                conn.abort().await;
                return sort(&e);
            }
            Err(_) => {
                conn.abort().await;
                return SendOutcome::Temporary("the SMTP server stopped answering".into());
            }
        }
        // The body goes out as one part; when the iterator is asked for the
        // next part, the whole body has been written and only the dot is left.
        let mut at_dot = Some(at_dot);
        let parts = std::iter::once(raw).chain(std::iter::from_fn(|| {
            if let Some(f) = at_dot.take() {
                f();
            }
            None
        }));
        let answer = tokio::time::timeout(DATA_END_TIMEOUT, conn.message_iter(parts)).await;
        let dot_sent = at_dot.is_none();
        match answer {
            Ok(Ok(_)) => {
                self.conn = Some((conn, Instant::now()));
                SendOutcome::Sent
            }
            // The server answered with a refusal.
            Ok(Err(e)) if e.is_transient() || e.is_permanent() => {
                conn.abort().await;
                sort(&e)
            }
            Ok(Err(e)) => {
                conn.abort().await;
                let msg = crate::error_chain(&e);
                if dot_sent {
                    SendOutcome::InDoubt(msg)
                } else {
                    SendOutcome::Temporary(msg)
                }
            }
            Err(_) => {
                conn.abort().await;
                SendOutcome::InDoubt(format!(
                    "no answer to the end of the message within {DATA_END_TIMEOUT:?}"
                ))
            }
        }
    }

    /// Opens a connection and logs in (for `postdesk check --connect`).
    pub async fn test_connection(&mut self) -> Result<(), ServerTrouble> {
        let mut c = self.connect().await?;
        let _ = c.quit().await;
        Ok(())
    }
}

/// A TLS connection as lettre takes one (its own TLS is only reached by
/// connecting through lettre, which leaves Nagle on).
#[derive(Debug)]
struct Tls(tokio_rustls::client::TlsStream<tokio::net::TcpStream>);

impl AsyncTokioStream for Tls {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl tokio::io::AsyncRead for Tls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Tls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
