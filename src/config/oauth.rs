//! `[oauth.NAME]`: an OAuth2 account a server logs in with
//! (`auth = "oauth2"`, `oauth = "NAME"`): its provider's endpoints (known
//! for `microsoft` and `google`, given for `custom`), the client, and the
//! scopes; and `[alerts]`, who hears when an account stops working.

use super::server::{read_ca_file, read_named_secret};
use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Microsoft,
    Google,
    Custom,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Microsoft => "microsoft",
            Provider::Google => "google",
            Provider::Custom => "custom",
        }
    }
}

/// How `postdesk auth login` obtains the first tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// RFC 8628: a code to enter at the provider's page, on any device.
    Device,
    /// The authorization code grant with PKCE (RFC 7636) and a loopback
    /// redirect (RFC 8252): Google allows no other for mail scopes.
    Browser,
}

/// One OAuth2 account, endpoints resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthAccount {
    pub name: String,
    pub provider: Provider,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub flow: Flow,
    /// RFC 8628 device authorization endpoint (the device flow).
    pub device_authorization_url: Option<String>,
    /// The authorization endpoint (the browser flow).
    pub authorization_url: Option<String>,
    pub token_url: String,
    pub scopes: Vec<String>,
    /// Extra CA certificate (PEM) to trust for the provider's endpoints.
    pub ca_file: Option<PathBuf>,
}

/// Scopes for IMAP and SMTP at Microsoft 365 (Exchange Online), with a
/// refresh token (`offline_access`).
pub const MICROSOFT_SCOPES: [&str; 3] = [
    "https://outlook.office.com/IMAP.AccessAsUser.All",
    "https://outlook.office.com/SMTP.Send",
    "offline_access",
];
/// Google's one scope for IMAP and SMTP.
pub const GOOGLE_SCOPES: [&str; 1] = ["https://mail.google.com/"];

/// An endpoint must be https; plain http only to this machine (a local
/// test server or proxy), never across a network with a client secret in
/// it. Parsed, not matched as text: `http://localhost:@evil.example/`
/// goes to evil.example.
fn check_url(n: &Node<'_>, key: &str, url: &str) {
    let why = match url::Url::parse(url) {
        Err(e) => Some(format!("expected a URL, got {url:?} ({e})")),
        Ok(u) if !u.username().is_empty() || u.password().is_some() => Some(format!(
            "expected a URL without a user name or password, got {url:?}"
        )),
        Ok(u) if u.scheme() == "https" && u.host().is_some() => None,
        Ok(u) if u.scheme() == "http" => match u.host() {
            Some(url::Host::Domain("localhost")) => None,
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => None,
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => None,
            _ => Some(format!(
                "expected an https:// URL (http:// only to 127.0.0.1 or localhost), got {url:?}"
            )),
        },
        Ok(_) => Some(format!("expected an https:// URL, got {url:?}")),
    };
    if let Some(why) = why {
        n.problem(key, why);
    }
}

pub(super) fn read_oauth(name: &str, n: &Node<'_>, ctx: &Ctx<'_>) -> Option<OAuthAccount> {
    let provider = match n.opt_choice("provider", &["microsoft", "google", "custom"]) {
        Some("microsoft") => Some(Provider::Microsoft),
        Some("google") => Some(Provider::Google),
        Some(_) => Some(Provider::Custom),
        None => {
            if !n.has("provider") {
                n.problem("provider", "is required: microsoft, google or custom");
            }
            None
        }
    };
    let client_id = n.req_str("client_id");
    let client_secret = read_named_secret(n, ctx, "client_secret");
    let tenant = n.opt_str("tenant");
    let token_url = n.opt_str("token_url");
    let device_url = n.opt_str("device_authorization_url");
    let auth_url = n.opt_str("authorization_url");
    let flow = n
        .opt_choice("flow", &["device", "browser"])
        .map(|f| match f {
            "browser" => Flow::Browser,
            _ => Flow::Device,
        });
    let scopes = n.opt_str_list("scopes");
    let ca_file = read_ca_file(n, ctx);
    let provider = provider?;
    if provider != Provider::Microsoft && tenant.is_some() {
        n.problem("tenant", "is only used with provider = \"microsoft\"");
    }
    // Google refuses the device flow for mail scopes ("invalid_scope").
    let flow = flow.unwrap_or(if provider == Provider::Google {
        Flow::Browser
    } else {
        Flow::Device
    });
    let written = Urls {
        device: device_url,
        auth: auth_url,
        token: token_url,
    };
    let (urls, default_scopes) = match provider {
        Provider::Microsoft => microsoft(n, tenant),
        Provider::Google => {
            let secret = client_secret.is_some()
                || n.has("client_secret_env")
                || n.has("client_secret_file");
            google(n, secret)
        }
        Provider::Custom => custom(n, flow, scopes.is_some(), written.clone()),
    };
    if provider != Provider::Custom {
        for (key, v) in written.keyed() {
            if v.is_some() {
                n.problem(
                    key,
                    format!(
                        "is known for provider = \"{}\"; set it only with provider = \"custom\"",
                        provider.as_str()
                    ),
                );
            }
        }
    }
    if let Some(s) = &scopes
        && s.is_empty()
    {
        n.problem("scopes", "expected at least one scope");
    }
    for (key, v) in urls.keyed() {
        if let Some(u) = v {
            check_url(n, key, u);
        }
    }
    n.finish();
    Some(OAuthAccount {
        name: name.to_string(),
        provider,
        client_id: client_id?,
        client_secret,
        flow,
        device_authorization_url: urls.device,
        authorization_url: urls.auth,
        token_url: urls.token?,
        scopes: scopes.unwrap_or(default_scopes),
        ca_file,
    })
}

/// An account's endpoints: device sign-in, browser sign-in, tokens.
#[derive(Clone)]
struct Urls {
    device: Option<String>,
    auth: Option<String>,
    token: Option<String>,
}

impl Urls {
    /// Each with the key that configures it.
    fn keyed(&self) -> [(&'static str, &Option<String>); 3] {
        [
            ("token_url", &self.token),
            ("device_authorization_url", &self.device),
            ("authorization_url", &self.auth),
        ]
    }
}

/// Microsoft's endpoints for `tenant` ("organizations": any work or
/// school account; a tenant, its domain or id, pins the sign-in to one
/// directory), and the scopes mail needs there.
fn microsoft(n: &Node<'_>, tenant: Option<String>) -> (Urls, Vec<String>) {
    let t = tenant.unwrap_or_else(|| "organizations".into());
    if t.is_empty()
        || !t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
    {
        n.problem(
            "tenant",
            format!(
                "expected a directory name like \"contoso.onmicrosoft.com\" or its id, got {t:?}"
            ),
        );
    }
    let base = format!("https://login.microsoftonline.com/{t}/oauth2/v2.0");
    let urls = Urls {
        device: Some(format!("{base}/devicecode")),
        auth: Some(format!("{base}/authorize")),
        token: Some(format!("{base}/token")),
    };
    (
        urls,
        MICROSOFT_SCOPES.iter().map(|s| s.to_string()).collect(),
    )
}

/// Google's endpoints and mail scopes; its token endpoint wants the
/// client's secret (`secret`: one is configured).
fn google(n: &Node<'_>, secret: bool) -> (Urls, Vec<String>) {
    if !secret {
        n.problem(
            "client_secret_env",
            "is required with provider = \"google\": Google's token endpoint asks a desktop client for its secret too",
        );
    }
    let urls = Urls {
        device: Some("https://oauth2.googleapis.com/device/code".into()),
        auth: Some("https://accounts.google.com/o/oauth2/v2/auth".into()),
        token: Some("https://oauth2.googleapis.com/token".into()),
    };
    (urls, GOOGLE_SCOPES.iter().map(|s| s.to_string()).collect())
}

/// A custom provider: the endpoints `written` for `flow`, and scopes
/// (`scopes`: written too) are required.
fn custom(n: &Node<'_>, flow: Flow, scopes: bool, written: Urls) -> (Urls, Vec<String>) {
    if written.token.is_none() {
        n.problem("token_url", "is required with provider = \"custom\"");
    }
    match flow {
        Flow::Device if written.device.is_none() => n.problem(
            "device_authorization_url",
            "is required with provider = \"custom\" (or set flow = \"browser\" and authorization_url)",
        ),
        Flow::Browser if written.auth.is_none() => n.problem(
            "authorization_url",
            "is required with provider = \"custom\" and flow = \"browser\"",
        ),
        _ => {}
    }
    if !scopes {
        n.problem(
            "scopes",
            "is required with provider = \"custom\" (the scopes IMAP and SMTP need)",
        );
    }
    (written, Vec::new())
}

/// `[alerts] admins = [...]`: who is mailed when something needs an admin
/// (an OAuth2 account that stopped working).
pub(super) fn read_alerts(n: Option<&Node<'_>>) -> Vec<String> {
    let Some(n) = n else {
        return Vec::new();
    };
    let admins = n.opt_str_list("admins").unwrap_or_default();
    for (i, a) in admins.iter().enumerate() {
        if a.parse::<lettre::Address>().is_err() {
            n.problem("admins", format!("item {i}: {a:?} is not an email address"));
        }
    }
    n.finish();
    admins
}

/// Every `oauth = "NAME"` names a configured account.
/// (`names`: the `[oauth.NAME]` tables written, read without mistakes or not.)
pub(super) fn check_accounts(
    root: &Node<'_>,
    servers: &[(String, &ServerConfig)],
    names: &[String],
) {
    for (path, s) in servers {
        let Some(name) = &s.oauth else { continue };
        if !names.contains(name) {
            let known: Vec<&str> = names.iter().map(String::as_str).collect();
            let hint = if known.is_empty() {
                format!("add an [oauth.{name}] table")
            } else {
                format!("configured: {}", known.join(", "))
            };
            root.problems().add(
                format!("{path}.oauth"),
                format!("no [oauth.{name}] account ({hint})"),
            );
        }
    }
}
