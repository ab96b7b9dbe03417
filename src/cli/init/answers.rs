//! The answers `postdesk init` settles: from the flags, from the provider's
//! preset, and (in a terminal) from the user.

use super::InitArgs;
use crate::cli::{Failure, exit};
use std::io::{BufRead, Write};

struct Preset {
    name: &'static str,
    imap: (&'static str, u16, &'static str),
    smtp: (&'static str, u16, &'static str),
    /// The OAuth2 provider it signs in with, if it takes no passwords.
    oauth: Option<&'static str>,
    /// What to know about signing in there.
    note: &'static str,
}

const PRESETS: &[Preset] = &[
    Preset {
        name: "microsoft365",
        imap: ("outlook.office365.com", 993, "tls"),
        smtp: ("smtp.office365.com", 587, "starttls"),
        oauth: Some("microsoft"),
        note: "Microsoft 365 signs in with OAuth2: register an app in Microsoft Entra \
               (README, \"Microsoft 365 and Google Workspace\"), allow public client flows, \
               and turn SMTP AUTH on for the mailbox",
    },
    Preset {
        name: "google",
        imap: ("imap.gmail.com", 993, "tls"),
        smtp: ("smtp.gmail.com", 587, "starttls"),
        oauth: Some("google"),
        note: "Google Workspace signs in with OAuth2: create a Desktop app client in Google \
               Cloud (README, \"Microsoft 365 and Google Workspace\"); its secret goes in \
               the client secret variable",
    },
    Preset {
        name: "fastmail",
        imap: ("imap.fastmail.com", 993, "tls"),
        smtp: ("smtp.fastmail.com", 465, "tls"),
        oauth: None,
        note: "Fastmail needs an app password (Settings > Privacy & Security > App passwords) \
               with IMAP and SMTP access",
    },
];

/// Every answer, settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers {
    pub name: String,
    pub address: String,
    pub display_name: String,
    pub imap: (String, u16, String),
    pub smtp: (String, u16, String),
    pub username: String,
    pub password_env: String,
    pub ca_file: Option<String>,
    pub database: String,
    pub agents: Vec<String>,
    pub note: Option<&'static str>,
    /// Signing in with OAuth2 instead of a password.
    pub oauth: Option<OAuthAnswers>,
}

/// The `[oauth.NAME]` account `init` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthAnswers {
    pub provider: &'static str,
    pub client_id: String,
    pub tenant: Option<String>,
    pub client_secret_env: Option<String>,
}

/// Asks for what the flags left out, when a person is there to answer.
pub(super) struct Asker {
    pub(super) terminal: bool,
}

impl Asker {
    fn ask(&self, flag: &str, question: &str, default: Option<&str>) -> Result<String, Failure> {
        if !self.terminal {
            return default.map(str::to_string).ok_or_else(|| {
                Failure::new(
                    exit::USAGE,
                    format!(
                        "init: --{flag} is required (or run `postdesk init` in a terminal to be asked)"
                    ),
                )
            });
        }
        loop {
            match default {
                Some(d) => eprint!("{question} [{d}]: "),
                None => eprint!("{question}: "),
            }
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            let n = std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| Failure::new(exit::USAGE, format!("init: {e}")))?;
            if n == 0 {
                return Err(Failure::new(exit::USAGE, "init: no answer (end of input)"));
            }
            let line = line.trim();
            match (line.is_empty(), default) {
                (false, _) => return Ok(line.to_string()),
                (true, Some(d)) => return Ok(d.to_string()),
                (true, None) => eprintln!("  (an answer is needed)"),
            }
        }
    }
}

fn security(flag: &str, s: &str) -> Result<String, Failure> {
    match s {
        "tls" | "starttls" | "none" => Ok(s.to_string()),
        other => Err(Failure::new(
            exit::USAGE,
            format!("init: --{flag}: expected tls, starttls or none, got {other:?}"),
        )),
    }
}

/// Settles every answer from the flags and, where missing, the terminal.
pub(super) fn settle(a: &InitArgs, asker: &Asker) -> Result<Answers, Failure> {
    let address = settle_address(a, asker)?;
    let (local, domain) = address.split_once('@').expect("checked by settle_address");
    let preset = settle_preset(a, asker)?;
    let imap = settle_imap(a, asker, preset, domain)?;
    let smtp = settle_smtp(a, preset, &imap.0)?;
    let name: String = local
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let display_name = a
        .display_name
        .clone()
        .unwrap_or_else(|| default_display_name(domain));
    Ok(Answers {
        oauth: settle_oauth(a, asker, preset)?,
        name,
        address: address.clone(),
        display_name,
        imap,
        smtp,
        username: a.username.clone().unwrap_or_else(|| address.clone()),
        password_env: a.password_env.clone(),
        ca_file: a.ca_file.clone(),
        database: a
            .database
            .clone()
            .unwrap_or_else(|| "sqlite://postdesk.db".into()),
        agents: a
            .agents
            .iter()
            .map(|x| x.trim().to_ascii_lowercase())
            .collect(),
        note: preset.map(|p| p.note),
    })
}

/// The support address, lower-cased: `local@domain`, with a dot in the
/// domain (or `localhost`).
fn settle_address(a: &InitArgs, asker: &Asker) -> Result<String, Failure> {
    let address = match &a.address {
        Some(x) => x.clone(),
        None => asker.ask("address", "Support address customers write to", None)?,
    }
    .trim()
    .to_ascii_lowercase();
    let valid = address
        .split_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') || d == "localhost");
    if !valid {
        return Err(Failure::new(
            exit::USAGE,
            format!(
                "init: --address: expected an address like support@example.com, got {address:?}"
            ),
        ));
    }
    Ok(address)
}

/// The provider's preset, or none for `generic`.
fn settle_preset(a: &InitArgs, asker: &Asker) -> Result<Option<&'static Preset>, Failure> {
    let names: Vec<&str> = PRESETS.iter().map(|p| p.name).chain(["generic"]).collect();
    let provider = match &a.provider {
        Some(p) => p.clone(),
        None if a.imap_host.is_some() => "generic".into(),
        // Without a terminal nothing is guessed: the flag is named.
        None => asker.ask(
            "provider",
            &format!("Mail provider ({})", names.join(", ")),
            asker.terminal.then_some("generic"),
        )?,
    };
    let preset = PRESETS.iter().find(|p| p.name == provider);
    if preset.is_none() && provider != "generic" {
        return Err(Failure::new(
            exit::USAGE,
            format!(
                "init: --provider: expected one of {}, got {provider:?}",
                names.join(", ")
            ),
        ));
    }
    Ok(preset)
}

/// The IMAP server: host, port, security.
fn settle_imap(
    a: &InitArgs,
    asker: &Asker,
    preset: Option<&Preset>,
    domain: &str,
) -> Result<(String, u16, String), Failure> {
    let host = match (&a.imap_host, preset) {
        (Some(h), _) => h.clone(),
        (None, Some(p)) => p.imap.0.to_string(),
        (None, None) => {
            let guess = format!("imap.{domain}");
            asker.ask(
                "imap-host",
                "IMAP server host name",
                asker.terminal.then_some(guess.as_str()),
            )?
        }
    };
    let (port, security) = port_and_security(
        "imap-security",
        (a.imap_port, a.imap_security.as_deref()),
        preset.map(|p| p.imap),
        "tls",
        |security| if security == "tls" { 993 } else { 143 },
    )?;
    Ok((host, port, security))
}

/// The SMTP server: host (the IMAP host unless told), port, security.
fn settle_smtp(
    a: &InitArgs,
    preset: Option<&Preset>,
    imap_host: &str,
) -> Result<(String, u16, String), Failure> {
    let host = match (&a.smtp_host, preset) {
        (Some(h), _) => h.clone(),
        (None, Some(p)) => p.smtp.0.to_string(),
        (None, None) => imap_host.to_string(),
    };
    let (port, security) = port_and_security(
        "smtp-security",
        (a.smtp_port, a.smtp_security.as_deref()),
        preset.map(|p| p.smtp),
        "starttls",
        |security| match security {
            "tls" => 465,
            "none" => 25,
            _ => 587,
        },
    )?;
    Ok((host, port, security))
}

/// A server's port and security: as given; else the preset's (its port
/// only with its own security); else `default_security` and the port
/// `port_for` names for the security chosen.
fn port_and_security(
    key: &str,
    (port, given): (Option<u16>, Option<&str>),
    preset: Option<(&str, u16, &str)>,
    default_security: &str,
    port_for: fn(&str) -> u16,
) -> Result<(u16, String), Failure> {
    let security = security(
        key,
        given.unwrap_or(preset.map_or(default_security, |p| p.2)),
    )?;
    let port = port.unwrap_or(match preset {
        Some(p) if given.is_none() => p.1,
        _ => port_for(&security),
    });
    Ok((port, security))
}

/// "Example Support" for support@example.com.
fn default_display_name(domain: &str) -> String {
    let org = domain.split('.').next().unwrap_or(domain);
    let mut org_chars = org.chars();
    let org = org_chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + org_chars.as_str())
        .unwrap_or_default();
    format!("{org} Support")
}

/// The OAuth2 account, for a provider that takes no passwords.
fn settle_oauth(
    a: &InitArgs,
    asker: &Asker,
    preset: Option<&Preset>,
) -> Result<Option<OAuthAnswers>, Failure> {
    let Some(provider) = preset.and_then(|p| p.oauth) else {
        return Ok(None);
    };
    Ok(Some(OAuthAnswers {
        provider,
        client_id: match &a.client_id {
            Some(c) => c.clone(),
            None => asker.ask(
                "client-id",
                "Client (application) id of the app registered for postdesk",
                None,
            )?,
        },
        tenant: a.tenant.clone().filter(|_| provider == "microsoft"),
        client_secret_env: (provider == "google").then(|| a.client_secret_env.clone()),
    }))
}
