//! Opening a connection to a mail server, IMAP and SMTP alike: TCP without
//! Nagle's algorithm, then TLS (from the first byte, or after STARTTLS)
//! trusting what `crate::tls` trusts; every failure sorted and worded for
//! the admin (`crate::advice`).
//!
//! Nagle is off because both protocols write a command in more than one
//! piece and then wait for the answer: lettre sends a message's final dot
//! apart from its body, and with Nagle that dot would wait for the server's
//! delayed ACK of the body, some 40 ms a mail.

use crate::advice::{Protocol, ServerTrouble, Stage, Trouble};
use crate::config::ServerConfig;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A TCP connection to the configured server, within its timeout.
pub async fn tcp(protocol: Protocol, cfg: &ServerConfig) -> Result<TcpStream, ServerTrouble> {
    let timeout = cfg.timeout.unsigned_abs();
    let connect = TcpStream::connect((cfg.host.as_str(), cfg.port));
    let tcp = match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(ServerTrouble::new(protocol, cfg, Stage::Connect, &e)),
        Err(_) => return Err(ServerTrouble::of(protocol, cfg, Trouble::TimedOut(timeout))),
    };
    // Only a hint: a socket that refuses it still works, only slower.
    tcp.set_nodelay(true).ok();
    Ok(tcp)
}

/// The TLS client settings for `cfg`: the web PKI and its `ca_file`.
pub fn tls_config(
    protocol: Protocol,
    cfg: &ServerConfig,
) -> Result<Arc<rustls::ClientConfig>, ServerTrouble> {
    crate::tls::client_config(cfg.ca_file.as_deref())
        .map_err(|e| ServerTrouble::of(protocol, cfg, Trouble::Tls(e.to_string())))
}

/// The TLS handshake on `tcp` with `config` (see [`tls_config`]), within
/// the timeout.
pub async fn tls(
    protocol: Protocol,
    cfg: &ServerConfig,
    config: Arc<rustls::ClientConfig>,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>, ServerTrouble> {
    let trouble = |t: Trouble| ServerTrouble::of(protocol, cfg, t);
    let name = rustls::pki_types::ServerName::try_from(cfg.host.clone())
        .map_err(|e| trouble(Trouble::Tls(e.to_string())))?;
    let handshake = tokio_rustls::TlsConnector::from(config).connect(name, tcp);
    let timeout = cfg.timeout.unsigned_abs();
    match tokio::time::timeout(timeout, handshake).await {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(e)) => Err(ServerTrouble::new(protocol, cfg, Stage::Tls, &e)),
        Err(_) => Err(trouble(Trouble::TimedOut(timeout))),
    }
}
