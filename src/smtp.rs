//! Sending over SMTP with lettre: one pooled transport per daemon, TLS,
//! STARTTLS or plain as configured, and every failure sorted into "try
//! again later" or "will never work".

use crate::config::{Security, ServerConfig};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::{AsyncSmtpTransport, PoolConfig};
use lettre::{AsyncTransport, Tokio1Executor};

/// The outcome of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Sent,
    /// 4xx, or the server could not be reached: retry later.
    Temporary(String),
    /// 5xx or an unusable address: retrying will not help.
    Permanent(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SmtpSetupError {
    #[error("cannot set up SMTP TLS: {0}")]
    Tls(String),
    #[error("cannot read smtp.ca_file: {0}")]
    Ca(#[from] crate::tls::TlsError),
}

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    server: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .finish()
    }
}

impl Mailer {
    pub fn new(
        cfg: &ServerConfig,
        idle_timeout: std::time::Duration,
    ) -> Result<Mailer, SmtpSetupError> {
        crate::tls::install_crypto_provider();
        let tls_params = || -> Result<TlsParameters, SmtpSetupError> {
            let mut b = TlsParameters::builder(cfg.host.clone());
            if let Some(ca) = &cfg.ca_file {
                let pem = std::fs::read(ca)
                    .map_err(|e| SmtpSetupError::Tls(format!("{}: {e}", ca.display())))?;
                crate::tls::read_ca_file(ca)?;
                b = b.add_root_certificate(
                    Certificate::from_pem(&pem).map_err(|e| SmtpSetupError::Tls(e.to_string()))?,
                );
            }
            b.build_rustls()
                .map_err(|e| SmtpSetupError::Tls(e.to_string()))
        };
        let tls = match cfg.security {
            Security::Tls => Tls::Wrapper(tls_params()?),
            Security::StartTls => Tls::Required(tls_params()?),
            Security::None => Tls::None,
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(cfg.host.as_str())
            .port(cfg.port)
            .tls(tls)
            .timeout(Some(cfg.timeout.unsigned_abs()))
            .pool_config(PoolConfig::new().max_size(4).idle_timeout(idle_timeout));
        if let (Some(user), Some(pass)) = (&cfg.username, &cfg.password) {
            b = b.credentials(Credentials::new(user.clone(), pass.expose().to_string()));
        }
        Ok(Mailer {
            transport: b.build(),
            server: format!("{}:{}", cfg.host, cfg.port),
        })
    }

    /// Sends `raw` from `from` to `to` (the envelope; headers are in `raw`).
    pub async fn send(&self, from: &str, to: &[String], raw: &[u8]) -> SendOutcome {
        let parse = |a: &str| {
            a.parse::<lettre::Address>()
                .map_err(|e| format!("invalid address {a:?}: {e}"))
        };
        let envelope = (|| -> Result<Envelope, String> {
            let to: Vec<_> = to.iter().map(|a| parse(a)).collect::<Result<_, _>>()?;
            Envelope::new(Some(parse(from)?), to).map_err(|e| e.to_string())
        })();
        let envelope = match envelope {
            Ok(e) => e,
            Err(e) => return SendOutcome::Permanent(e),
        };
        match self.transport.send_raw(&envelope, raw).await {
            Ok(_) => SendOutcome::Sent,
            Err(e) if e.is_permanent() => SendOutcome::Permanent(crate::error_chain(&e)),
            Err(e) => SendOutcome::Temporary(crate::error_chain(&e)),
        }
    }

    /// Opens a connection and says hello (for `postdesk check --connect`).
    pub async fn test_connection(&self) -> Result<(), String> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!("{} did not accept the connection", self.server)),
            Err(e) => Err(format!("{}: {}", self.server, crate::error_chain(&e))),
        }
    }

    pub fn server(&self) -> &str {
        &self.server
    }
}
