//! The connection to an IMAP server: TCP, TLS or STARTTLS, the login, and
//! what async-imap cannot ask for itself. Its parser knows no `NAMESPACE`
//! response (RFC 2342), and a line it cannot parse would end the session;
//! so while a NAMESPACE command is out, [`ImapStream`] takes that line out
//! of the byte stream and keeps it, and async-imap sees only the tagged
//! answer.

use super::FetchError;
use crate::advice::{Protocol, ServerTrouble, Stage, Trouble};
use crate::config::{Security, ServerConfig};
use crate::domain::folders::{Personal, parse_namespace};
use crate::oauth::Login;
use crate::oauth::sasl::{Bearer, Mechanism};
use async_imap::{Client, Session};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A plain or TLS connection, one type for async-imap.
#[derive(Debug)]
enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// The connection async-imap reads and writes.
#[derive(Debug)]
pub struct ImapStream {
    io: Transport,
    /// Set while a NAMESPACE command is out.
    tap: Option<Tap>,
}

/// Lines read while tapping: lines that start with `prefix` (`* NAMESPACE `)
/// are kept, the rest is passed on unchanged.
#[derive(Debug, Default)]
struct Tap {
    prefix: &'static [u8],
    /// Bytes read but not yet a whole line.
    partial: Vec<u8>,
    /// Bytes ready for async-imap.
    ready: Vec<u8>,
    taken: Vec<String>,
}

impl Tap {
    fn feed(&mut self, bytes: &[u8]) {
        self.partial.extend_from_slice(bytes);
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            if line.starts_with(self.prefix) {
                self.taken.push(String::from_utf8_lossy(&line).into_owned());
            } else {
                self.ready.extend_from_slice(&line);
            }
        }
    }
}

impl ImapStream {
    fn new(io: Transport) -> ImapStream {
        ImapStream { io, tap: None }
    }

    fn io(self: Pin<&mut Self>) -> Pin<&mut (dyn AsyncReadWrite + Unpin)> {
        match &mut self.get_mut().io {
            Transport::Plain(s) => Pin::new(s),
            Transport::Tls(s) => Pin::new(s.as_mut()),
        }
    }
}

trait AsyncReadWrite: AsyncRead + AsyncWrite {}
impl<T: AsyncRead + AsyncWrite> AsyncReadWrite for T {}

impl AsyncRead for ImapStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.tap.is_none() {
            return self.io().poll_read(cx, buf);
        }
        loop {
            let tap = self.tap.as_mut().expect("tapping");
            if !tap.ready.is_empty() {
                let n = tap.ready.len().min(buf.remaining());
                buf.put_slice(&tap.ready[..n]);
                tap.ready.drain(..n);
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; 4096];
            let mut read = ReadBuf::new(&mut chunk);
            match self.as_mut().io().poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) if read.filled().is_empty() => {
                    // End of stream: pass on what is left of a line.
                    let tap = self.tap.as_mut().expect("tapping");
                    let rest = std::mem::take(&mut tap.partial);
                    let n = rest.len().min(buf.remaining());
                    buf.put_slice(&rest[..n]);
                    return Poll::Ready(Ok(()));
                }
                Poll::Ready(Ok(())) => {
                    let filled = read.filled().to_vec();
                    self.tap.as_mut().expect("tapping").feed(&filled);
                }
                other => return other,
            }
        }
    }
}

impl AsyncWrite for ImapStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.io().poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.io().poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.io().poll_shutdown(cx)
    }
}

pub type ImapSession = Session<ImapStream>;

pub(super) async fn within<T, E>(
    d: Duration,
    f: impl Future<Output = Result<T, E>>,
) -> Result<T, FetchError>
where
    FetchError: From<E>,
{
    match tokio::time::timeout(d, f).await {
        Ok(r) => r.map_err(FetchError::from),
        Err(_) => Err(FetchError::Timeout(d)),
    }
}

async fn tls_wrap(tcp: TcpStream, cfg: &ServerConfig) -> Result<Transport, FetchError> {
    let config = crate::net::tls_config(Protocol::Imap, cfg)?;
    let tls = crate::net::tls(Protocol::Imap, cfg, config, tcp).await?;
    Ok(Transport::Tls(Box::new(tls)))
}

/// A failure at `stage`, sorted and worded for the admin.
fn at(cfg: &ServerConfig, stage: Stage, e: &(dyn std::error::Error + 'static)) -> FetchError {
    FetchError::Server(ServerTrouble::new(Protocol::Imap, cfg, stage, e))
}

fn trouble(cfg: &ServerConfig, t: Trouble) -> FetchError {
    FetchError::Server(ServerTrouble::of(Protocol::Imap, cfg, t))
}

/// The server's greeting (or its answer to STARTTLS) within the timeout.
async fn expect<T, E: std::error::Error + 'static>(
    cfg: &ServerConfig,
    stage: Stage,
    f: impl Future<Output = Result<T, E>>,
) -> Result<T, FetchError> {
    let timeout = cfg.timeout.unsigned_abs();
    match tokio::time::timeout(timeout, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(at(cfg, stage, &e)),
        Err(_) if stage == Stage::Greeting && cfg.security != Security::Tls => {
            Err(trouble(cfg, Trouble::NoGreeting(timeout)))
        }
        Err(_) => Err(trouble(cfg, Trouble::TimedOut(timeout))),
    }
}

/// The server's first line; a connection closed before it is a trouble too.
async fn greeting(cfg: &ServerConfig, c: &mut Client<ImapStream>) -> Result<(), FetchError> {
    match expect(cfg, Stage::Greeting, c.read_response()).await? {
        Some(_) => Ok(()),
        None => Err(trouble(
            cfg,
            Trouble::Other("the server closed the connection without a greeting".into()),
        )),
    }
}

/// Connects and logs in with `login` (the password, or an OAuth2 token
/// from [`crate::oauth::Authority::login`]). Every failure on the way says
/// what to change.
pub async fn connect(cfg: &ServerConfig, login: &Login) -> Result<ImapSession, FetchError> {
    let timeout = cfg.timeout.unsigned_abs();
    let tcp = crate::net::tcp(Protocol::Imap, cfg).await?;
    let client = match cfg.security {
        Security::Tls => {
            let mut c = Client::new(ImapStream::new(tls_wrap(tcp, cfg).await?));
            greeting(cfg, &mut c).await?;
            c
        }
        Security::None => {
            let mut c = Client::new(ImapStream::new(Transport::Plain(tcp)));
            greeting(cfg, &mut c).await?;
            c
        }
        Security::StartTls => {
            let mut c = Client::new(ImapStream::new(Transport::Plain(tcp)));
            greeting(cfg, &mut c).await?;
            expect(
                cfg,
                Stage::Tls,
                c.run_command_and_check_ok("STARTTLS", None),
            )
            .await?;
            let ImapStream {
                io: Transport::Plain(tcp),
                ..
            } = c.into_inner()
            else {
                unreachable!("STARTTLS starts from a plain connection")
            };
            Client::new(ImapStream::new(tls_wrap(tcp, cfg).await?))
        }
    };
    let user = cfg.username.clone().unwrap_or_default();
    let password = match login {
        Login::Bearer(token) => return bearer(cfg, client, &user, token).await,
        Login::Password(p) => p.as_str(),
        Login::None => "",
    };
    match tokio::time::timeout(timeout, client.login(&user, password)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err((e, _))) => Err(at(cfg, Stage::Login, &e)),
        Err(_) => Err(trouble(cfg, Trouble::TimedOut(timeout))),
    }
}

/// `AUTHENTICATE` with an OAuth2 token, by the mechanism the server offers
/// (asked with CAPABILITY: a greeting need not list them, and after
/// STARTTLS they may change).
async fn bearer(
    cfg: &ServerConfig,
    mut client: Client<ImapStream>,
    user: &str,
    token: &str,
) -> Result<ImapSession, FetchError> {
    let timeout = cfg.timeout.unsigned_abs();
    client.get_mut().tap = Some(Tap {
        prefix: b"* CAPABILITY ",
        ..Tap::default()
    });
    let asked = expect(
        cfg,
        Stage::Login,
        client.run_command_and_check_ok("CAPABILITY", None),
    )
    .await;
    let lines = client
        .get_mut()
        .tap
        .take()
        .map(|t| t.taken)
        .unwrap_or_default();
    asked?;
    let offered: Vec<&str> = lines
        .iter()
        .flat_map(|l| l.trim_end().split_ascii_whitespace().skip(2))
        .collect();
    let Some(mechanism) = Mechanism::choose(offered.iter().copied()) else {
        return Err(trouble(cfg, Trouble::NoLoginOffered));
    };
    let answer = Bearer::new(mechanism, user, token, &cfg.host, cfg.port);
    let refusal = answer.refusal.clone();
    match tokio::time::timeout(timeout, client.authenticate(mechanism.name(), answer)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err((e, _))) => {
            let t = ServerTrouble::new(Protocol::Imap, cfg, Stage::Login, &e);
            // The server's error challenge says more than its tagged NO.
            let said = refusal.lock().expect("refusal lock").take();
            Err(FetchError::Server(match (t.trouble, said) {
                (Trouble::LoginRefused(no), Some(json)) => ServerTrouble::of(
                    Protocol::Imap,
                    cfg,
                    Trouble::LoginRefused(format!("{no} {}", json.trim())),
                ),
                (trouble, _) => ServerTrouble::of(Protocol::Imap, cfg, trouble),
            }))
        }
        Err(_) => Err(trouble(cfg, Trouble::TimedOut(timeout))),
    }
}

/// The personal namespace, asked with NAMESPACE (RFC 2342) when the server
/// offers it, else from the separator `LIST "" ""` names (no prefix).
pub async fn personal_namespace(
    s: &mut ImapSession,
    has_namespace: bool,
    timeout: Duration,
) -> Result<Personal, FetchError> {
    if has_namespace {
        s.get_mut().tap = Some(Tap {
            prefix: b"* NAMESPACE ",
            ..Tap::default()
        });
        let asked = within(timeout, s.run_command_and_check_ok("NAMESPACE")).await;
        let taken = s.get_mut().tap.take().map(|t| t.taken).unwrap_or_default();
        asked?;
        if let Some(p) = taken.iter().find_map(|l| parse_namespace(l)) {
            return Ok(p);
        }
    }
    let delimiter = within(timeout, async {
        use futures::TryStreamExt;
        let names: Vec<_> = s.list(Some(""), Some("")).await?.try_collect().await?;
        Ok::<_, async_imap::error::Error>(
            names
                .first()
                .and_then(|n| n.delimiter())
                .and_then(|d| d.chars().next()),
        )
    })
    .await?;
    Ok(Personal {
        prefix: String::new(),
        delimiter,
    })
}
