//! `postdesk init`: a first configuration for one mailbox, from a few
//! answers (asked in a terminal, or given as flags for scripts), written
//! with comments, then checked against the servers, and the next command
//! printed. The answers and the presets of common providers are settled in
//! [`answers`].

mod answers;

use super::{CliResult, Failure, exit};
pub use answers::Answers;
use answers::{Asker, settle};
use std::io::IsTerminal;
use std::path::Path;

/// `postdesk init` flags; what is missing is asked in a terminal.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct InitArgs {
    /// The support address customers write to.
    #[arg(long)]
    pub address: Option<String>,
    /// Host settings of a provider: microsoft365, google, fastmail, or
    /// generic (give --imap-host).
    #[arg(long)]
    pub provider: Option<String>,
    #[arg(long)]
    pub imap_host: Option<String>,
    #[arg(long)]
    pub imap_port: Option<u16>,
    /// tls, starttls or none.
    #[arg(long)]
    pub imap_security: Option<String>,
    /// Default: the IMAP host.
    #[arg(long)]
    pub smtp_host: Option<String>,
    #[arg(long)]
    pub smtp_port: Option<u16>,
    /// tls, starttls or none.
    #[arg(long)]
    pub smtp_security: Option<String>,
    /// The login for both servers (default: the address).
    #[arg(long)]
    pub username: Option<String>,
    /// The environment variable holding the password (never written to the file).
    #[arg(long, default_value = "POSTDESK_PASSWORD")]
    pub password_env: String,
    /// microsoft365 and google sign in with OAuth2: the client (application)
    /// id of the app registered for postdesk (README says how).
    #[arg(long)]
    pub client_id: Option<String>,
    /// microsoft365: the directory (contoso.onmicrosoft.com or its id);
    /// default: any work or school account.
    #[arg(long)]
    pub tenant: Option<String>,
    /// google: the environment variable holding the client secret.
    #[arg(long, default_value = "POSTDESK_OAUTH_SECRET")]
    pub client_secret_env: String,
    /// An extra CA certificate (PEM) for a private server.
    #[arg(long)]
    pub ca_file: Option<String>,
    /// The name in From of the mail postdesk sends.
    #[arg(long)]
    pub display_name: Option<String>,
    /// The database URL (default: a SQLite file beside the configuration).
    #[arg(long)]
    pub database: Option<String>,
    /// An agent's address (repeat for several).
    #[arg(long = "agent")]
    pub agents: Vec<String>,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
    /// Write the file and check it, without logging in to the servers.
    #[arg(long)]
    pub no_connect: bool,
}

/// A TOML string, quoted and escaped.
fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The configuration file, with comments an admin can follow.
pub fn render(a: &Answers) -> String {
    let ca = a
        .ca_file
        .as_ref()
        .map(|c| format!(", ca_file = {}", q(c)))
        .unwrap_or_default();
    let mut out = format!(
        "# postdesk configuration, written by `postdesk init`.\n\
         # Every key and its default: config.example.toml in postdesk's sources.\n\
         # {secrets}\n\
         # Check it with `postdesk check --connect`.\n\n\
         [database]\n\
         # A SQLite file beside this one; \"postgres://USER@HOST/DB\" for several instances.\n\
         url = {db}\n\n\
         [smtp]\n\
         # Where every mail postdesk sends goes. security: \"tls\", \"starttls\" or \"none\".\n\
         host = {smtp_host}\n\
         port = {smtp_port}\n\
         security = {smtp_security}\n\
         username = {user}\n\
         {login}\n",
        secrets = match &a.oauth {
            Some(_) =>
                "No secret is written here: the OAuth2 tokens are kept in the database.".to_string(),
            None => format!(
                "Passwords are never written here: postdesk reads them from ${}.",
                a.password_env
            ),
        },
        login = match &a.oauth {
            Some(_) => format!("auth = \"oauth2\"\noauth = {}", q(&a.name)),
            None => format!("password_env = {}", q(&a.password_env)),
        },
        db = q(&a.database),
        smtp_host = q(&a.smtp.0),
        smtp_port = a.smtp.1,
        smtp_security = q(&a.smtp.2),
        user = q(&a.username),
    );
    if let Some(c) = &a.ca_file {
        out.push_str(&format!("ca_file = {}\n", q(c)));
    }
    if let Some(note) = a.note {
        out.push_str(&format!("# Note: {note}.\n"));
    }
    out.push_str(&format!(
        "\n[[mailbox]]\n\
         name = {name}\n\
         # Replies come back to {plus}: the server must deliver plus-addresses here.\n\
         address = {address}\n\
         display_name = {display}\n\
         # The mailbox postdesk reads. Each message becomes a ticket, then moves to Processed.\n\
         imap = {{ host = {imap_host}, port = {imap_port}, security = {imap_security}, username = {user}, {login}{ca} }}\n\
         after_ingest = \"move:Processed\"\n",
        name = q(&a.name),
        plus = plus_address(&a.address),
        address = q(&a.address),
        display = q(&a.display_name),
        imap_host = q(&a.imap.0),
        imap_port = a.imap.1,
        imap_security = q(&a.imap.2),
        user = q(&a.username),
        login = match &a.oauth {
            Some(_) => format!("auth = \"oauth2\", oauth = {}", q(&a.name)),
            None => format!("password_env = {}", q(&a.password_env)),
        },
    ));
    if let Some(o) = &a.oauth {
        out.push_str(&format!(
            "\n# The OAuth2 account both servers sign in with: `postdesk auth login {name}` signs\n\
             # it in once; the daemon renews its tokens. Scopes: the provider's defaults.\n\
             [oauth.{name}]\n\
             provider = {provider}\n\
             client_id = {client_id}\n",
            name = a.name,
            provider = q(o.provider),
            client_id = q(&o.client_id),
        ));
        if let Some(t) = &o.tenant {
            out.push_str(&format!("tenant = {}\n", q(t)));
        }
        if let Some(e) = &o.client_secret_env {
            out.push_str(&format!("client_secret_env = {}\n", q(e)));
        }
    }
    if !a.agents.is_empty() {
        let list: Vec<String> = a.agents.iter().map(|x| q(x)).collect();
        out.push_str(&format!(
            "# Agents are told of new tickets and answer from their own mail program.\nagents = [{}]\n",
            list.join(", ")
        ));
        for agent in &a.agents {
            out.push_str(&format!("\n[[agent]]\nemail = {}\n", q(agent)));
        }
    }
    out
}

/// `support+TOKEN@example.com` for `support@example.com`.
fn plus_address(address: &str) -> String {
    match address.split_once('@') {
        Some((l, d)) => format!("{l}+TOKEN@{d}"),
        None => address.to_string(),
    }
}

pub async fn run(path: &Path, args: &InitArgs) -> CliResult {
    if path.exists() && !args.force {
        return Err(Failure::new(
            exit::CANTCREAT,
            format!(
                "init: {} exists; use --force to replace it, or --config FILE to write another",
                path.display()
            ),
        ));
    }
    let asker = Asker {
        terminal: std::io::stdin().is_terminal(),
    };
    let answers = settle(args, &asker)?;
    let text = render(&answers);
    std::fs::write(path, &text).map_err(|e| {
        Failure::new(
            exit::CANTCREAT,
            format!("init: cannot write {}: {e}", path.display()),
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o640));
    }
    println!("wrote {}", path.display());
    if let Some(note) = answers.note {
        println!("note: {note}.");
    }
    let config = format!("--config {}", path.display());
    if answers.oauth.is_some() {
        println!(
            "next: sign the mailbox in with `postdesk {config} auth login {}`, then run `postdesk {config} check --connect`",
            answers.name
        );
        return Ok(exit::OK);
    }
    if std::env::var_os(&answers.password_env).is_none_or(|v| v.is_empty()) {
        println!(
            "next: put the mailbox's password in ${} (export {}=...), then run `postdesk {config} check --connect`",
            answers.password_env, answers.password_env
        );
        return Ok(exit::OK);
    }
    let checked = super::check::run(path, !args.no_connect).await;
    match &checked {
        Ok(_) => println!(
            "next: `postdesk {config} run` starts the daemon (scripts/systemd has a unit to keep it running); \
             write to {} to see the first ticket",
            answers.address
        ),
        Err(_) => println!(
            "next: fix what the FAIL lines say (in {} or on the server), then run `postdesk {config} check --connect` again",
            path.display()
        ),
    }
    checked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(address: &str) -> InitArgs {
        InitArgs {
            address: Some(address.into()),
            password_env: "POSTDESK_PASSWORD".into(),
            client_secret_env: "POSTDESK_OAUTH_SECRET".into(),
            ..InitArgs::default()
        }
    }

    #[test]
    fn a_preset_fills_the_hosts_and_the_file_parses() {
        let mut a = args("Help@Acme.example");
        a.provider = Some("fastmail".into());
        a.agents = vec!["Ann@Acme.example".into()];
        let answers = settle(&a, &Asker { terminal: false }).unwrap();
        assert_eq!(
            answers.imap,
            ("imap.fastmail.com".into(), 993, "tls".into())
        );
        assert_eq!(
            answers.smtp,
            ("smtp.fastmail.com".into(), 465, "tls".into())
        );
        assert_eq!(answers.name, "help");
        assert_eq!(answers.display_name, "Acme Support");
        let text = render(&answers);
        let doc: toml::Table = text.parse().expect("valid TOML");
        assert_eq!(
            doc["mailbox"][0]["address"].as_str(),
            Some("help@acme.example")
        );
        assert_eq!(doc["agent"][0]["email"].as_str(), Some("ann@acme.example"));
        assert!(!text.contains("password ="), "no secret in the file");
    }

    #[test]
    fn generic_needs_a_host_and_ports_follow_security() {
        let mut a = args("support@example.com");
        a.imap_host = Some("mail.example.com".into());
        a.imap_security = Some("starttls".into());
        let answers = settle(&a, &Asker { terminal: false }).unwrap();
        assert_eq!(
            answers.imap,
            ("mail.example.com".into(), 143, "starttls".into())
        );
        assert_eq!(
            answers.smtp,
            ("mail.example.com".into(), 587, "starttls".into())
        );
        let missing = settle(&args("support@example.com"), &Asker { terminal: false });
        assert!(
            missing
                .unwrap_err()
                .message
                .contains("--provider is required"),
            "no terminal, no provider, no host: say which flag"
        );
        let mut bad = args("support@example.com");
        bad.provider = Some("yahoo".into());
        assert_eq!(
            settle(&bad, &Asker { terminal: false }).unwrap_err().code,
            exit::USAGE
        );
        assert!(settle(&args("not-an-address"), &Asker { terminal: false }).is_err());
    }

    #[test]
    fn microsoft_and_google_sign_in_with_oauth2_and_the_file_loads() {
        let mut a = args("help@contoso.example");
        a.provider = Some("microsoft365".into());
        assert!(
            settle(&a, &Asker { terminal: false })
                .unwrap_err()
                .message
                .contains("--client-id is required")
        );
        a.client_id = Some("11111111-2222-3333-4444-555555555555".into());
        a.tenant = Some("contoso.onmicrosoft.com".into());
        let text = render(&settle(&a, &Asker { terminal: false }).unwrap());
        assert!(!text.contains("password_env"), "{text}");
        let config = crate::config::Config::parse_with(
            &text,
            std::path::Path::new("/tmp/postdesk.toml"),
            crate::config::Secrets::Skip,
        )
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(config.smtp.oauth.as_deref(), Some("help"));
        assert_eq!(
            config.mailboxes[0].imap.as_ref().unwrap().oauth.as_deref(),
            Some("help")
        );
        assert!(
            config.oauth["help"]
                .token_url
                .contains("contoso.onmicrosoft.com")
        );

        a.provider = Some("google".into());
        let text = render(&settle(&a, &Asker { terminal: false }).unwrap());
        assert!(
            text.contains("client_secret_env = \"POSTDESK_OAUTH_SECRET\""),
            "{text}"
        );
        assert!(!text.contains("tenant"), "{text}");
        let doc: toml::Table = text.parse().unwrap();
        assert_eq!(doc["oauth"]["help"]["provider"].as_str(), Some("google"));
    }
}
