//! `[smtp]` and a mailbox's `imap`: host, port, TLS mode, the login and
//! where its password comes from.

use super::*;

/// A secret read from the environment or a file. Never printed.
/// It remembers where it came from (`$VAR` or a file's path), so an error
/// can say which password to check.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    value: String,
    origin: String,
}

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret {
            value: s.into(),
            origin: "the configuration".into(),
        }
    }
    /// A secret read from the environment variable `var`.
    pub fn from_env(s: impl Into<String>, var: &str) -> Self {
        Secret {
            value: s.into(),
            origin: format!("${var}"),
        }
    }
    /// A secret read from the file `path`.
    pub fn from_file(s: impl Into<String>, path: &Path) -> Self {
        Secret {
            value: s.into(),
            origin: path.display().to_string(),
        }
    }
    pub fn expose(&self) -> &str {
        &self.value
    }
    /// Where it was read from: `$POSTDESK_IMAP_PASSWORD`, `/run/secrets/imap`.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Tls,
    StartTls,
    None,
}

/// An IMAP or SMTP server and how to log in to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Extra CA certificate (PEM) to trust, for private or self-signed servers.
    pub ca_file: Option<PathBuf>,
    /// Connect and command timeout.
    pub timeout: SignedDuration,
}

pub(super) fn read_secret(n: &Node<'_>, ctx: &Ctx<'_>) -> Option<Secret> {
    if n.has("password") {
        n.get("password");
        n.problem(
            "password",
            "secrets are not read from the config file: use password_env = \"VAR\" or password_file = \"/path\"",
        );
        return None;
    }
    let env = n.opt_str("password_env");
    let file = n.opt_str("password_file");
    match (env, file) {
        (Some(_), Some(_)) => {
            n.problem(
                "password_env",
                "give either password_env or password_file, not both",
            );
            None
        }
        _ if ctx.secrets == Secrets::Skip => None,
        (Some(var), None) => match std::env::var(&var) {
            Ok(v) if !v.is_empty() => Some(Secret::from_env(v, &var)),
            _ => {
                n.problem(
                    "password_env",
                    format!("environment variable {var} is not set"),
                );
                None
            }
        },
        (None, Some(path)) => {
            let path = resolve_path(ctx.base, &path);
            match std::fs::read_to_string(&path) {
                Ok(v) => Some(Secret::from_file(v.trim_end_matches(['\r', '\n']), &path)),
                Err(e) => {
                    n.problem(
                        "password_file",
                        format!("cannot read {}: {e}", path.display()),
                    );
                    None
                }
            }
        }
        (None, None) => None,
    }
}

pub(super) fn read_server(n: &Node<'_>, ctx: &Ctx<'_>, default_port: i64) -> Option<ServerConfig> {
    let host = n.req_str("host");
    let security = match n.opt_choice("security", &["tls", "starttls", "none"]) {
        Some("tls") => Security::Tls,
        Some("none") => Security::None,
        _ => Security::StartTls,
    };
    let port_default = match (security, default_port) {
        (Security::Tls, 587) => 465,
        (Security::Tls, 143) => 993,
        _ => default_port,
    };
    let port = n.opt_int("port", 1, 65535).unwrap_or(port_default) as u16;
    let username = n.opt_str("username");
    let password = read_secret(n, ctx);
    if (n.has("password_env") || n.has("password_file")) && username.is_none() {
        n.problem("username", "is required when a password is given");
    }
    let ca_file = n.opt_str("ca_file").map(|p| resolve_path(ctx.base, &p));
    if let Some(p) = &ca_file
        && !p.is_file()
    {
        n.problem(
            "ca_file",
            format!(
                "expected a readable PEM file, {} does not exist",
                p.display()
            ),
        );
    }
    let timeout = n
        .opt_duration("timeout")
        .unwrap_or(SignedDuration::from_secs(30));
    n.finish();
    Some(ServerConfig {
        host: host?,
        port,
        security,
        username,
        password,
        ca_file,
        timeout,
    })
}
