//! `[smtp]` and a mailbox's `imap`: host, port, TLS mode, the login and
//! where its password (or its OAuth2 account) comes from.

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
    /// With `auth = "oauth2"`: the `[oauth.NAME]` account whose token logs in.
    pub oauth: Option<String>,
    /// Extra CA certificate (PEM) to trust, for private or self-signed servers.
    pub ca_file: Option<PathBuf>,
    /// Connect and command timeout.
    pub timeout: SignedDuration,
}

/// Where a secret is: `{base}_env = "VAR"` or `{base}_file = "/path"`.
enum SecretAt {
    Env(String),
    File(PathBuf),
}

impl SecretAt {
    /// The secret, or why it cannot be read.
    fn read(&self) -> Result<Secret, String> {
        match self {
            SecretAt::Env(var) => std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| Secret::from_env(v, var))
                .ok_or_else(|| format!("environment variable {var} is not set")),
            SecretAt::File(path) => std::fs::read_to_string(path)
                .map(|v| Secret::from_file(v.trim_end_matches(['\r', '\n']), path))
                .map_err(|e| format!("cannot read {}: {e}", path.display())),
        }
    }
}

/// Where the secret `base` of a table is, with the key that says so
/// (both keys given: a problem, and None).
fn secret_at(n: &Node<'_>, ctx: &Ctx<'_>, base: &str) -> Option<(String, SecretAt)> {
    let (env_key, file_key) = (format!("{base}_env"), format!("{base}_file"));
    match (n.opt_str(&env_key), n.opt_str(&file_key)) {
        (Some(_), Some(_)) => {
            n.problem(
                &env_key,
                format!("give either {env_key} or {file_key}, not both"),
            );
            None
        }
        (Some(var), None) => Some((env_key, SecretAt::Env(var))),
        (None, Some(path)) => Some((file_key, SecretAt::File(resolve_path(ctx.base, &path)))),
        (None, None) => None,
    }
}

/// The secret `base` of a table: `{base}_env = "VAR"` or `{base}_file =
/// "/path"` (a key `base` itself is refused: secrets stay out of the file).
pub(super) fn read_named_secret(n: &Node<'_>, ctx: &Ctx<'_>, base: &str) -> Option<Secret> {
    if n.has(base) {
        n.get(base);
        n.problem(
            base,
            format!(
                "secrets are not read from the config file: use {base}_env = \"VAR\" or {base}_file = \"/path\""
            ),
        );
        return None;
    }
    let (key, at) = secret_at(n, ctx, base)?;
    let wanted = match ctx.secrets {
        Secrets::Read => true,
        Secrets::Skip => false,
        Secrets::Accounts => base != "password",
    };
    if !wanted {
        return None;
    }
    at.read().map_err(|why| n.problem(&key, why)).ok()
}

/// As [`read_named_secret`], but a variable not set or a file not readable
/// is no problem: the secret is just not at hand.
pub(super) fn peek_named_secret(n: &Node<'_>, ctx: &Ctx<'_>, base: &str) -> Option<Secret> {
    secret_at(n, ctx, base)?.1.read().ok()
}

/// `ca_file`: an extra CA certificate (PEM) to trust, which must exist.
pub(super) fn read_ca_file(n: &Node<'_>, ctx: &Ctx<'_>) -> Option<PathBuf> {
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
    ca_file
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
    let oauth2 = n.opt_choice("auth", &["password", "oauth2"]) == Some("oauth2");
    let password = read_named_secret(n, ctx, "password");
    let has_password = n.has("password_env") || n.has("password_file");
    if has_password && username.is_none() {
        n.problem("username", "is required when a password is given");
    }
    let oauth = n.opt_str("oauth");
    if oauth2 {
        if has_password {
            n.problem(
                "auth",
                "is \"oauth2\": remove password_env/password_file (the token comes from `postdesk auth login`)",
            );
        }
        if username.is_none() {
            n.problem(
                "username",
                "is required with auth = \"oauth2\" (the mailbox's address)",
            );
        }
        if oauth.is_none() {
            n.problem(
                "oauth",
                "is required with auth = \"oauth2\": the name of an [oauth.NAME] account",
            );
        }
    } else if oauth.is_some() {
        n.problem("oauth", "is only used with auth = \"oauth2\"");
    }
    let ca_file = read_ca_file(n, ctx);
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
        oauth: if oauth2 { oauth } else { None },
        ca_file,
        timeout,
    })
}
