//! `postdesk check [--connect]`: every configuration problem and template
//! error at once; with `--connect`, also the database and a login to every
//! IMAP and SMTP server.

use super::{CliResult, Failure, exit, load};
use crate::config::{Config, MailboxConfig};
use crate::imap::{FetchError, Probe, probe};
use crate::oauth::{Authority, Login, OAuthError};
use crate::smtp::Mailer;
use crate::store::Store;
use std::path::Path;
use std::sync::Arc;

pub async fn run(path: &Path, connect_servers: bool) -> CliResult {
    let (config, _templates) = load(path, crate::config::Secrets::Read)?;
    // Quiet unless POSTDESK_LOG asks: the report on stdout is the answer.
    super::init_logging(config.log_format, "off");
    println!(
        "{}: configuration and templates are valid ({}, {}, {}, {})",
        path.display(),
        counted(config.mailboxes.len(), "mailbox", "mailboxes"),
        counted(config.agents.len(), "agent", "agents"),
        counted(config.sla.len(), "SLA policy", "SLA policies"),
        counted(config.calendars.len(), "calendar", "calendars")
    );
    if !connect_servers {
        return Ok(exit::OK);
    }
    let mut v = Verdict { worst: exit::OK };
    let store = check_database(&config, &mut v).await;
    // OAuth2 accounts: their tokens live in the database.
    let oauth = match store {
        Some(store) if !config.oauth.is_empty() => Some(check_oauth(&config, store, &mut v).await),
        _ => None,
    };
    for m in &config.mailboxes {
        check_mailbox(m, oauth.as_deref(), &mut v).await;
    }
    match Mailer::new(&config.smtp, std::time::Duration::from_secs(5), oauth) {
        Ok(mut mailer) => match mailer.test_connection().await {
            Ok(()) => println!("ok   smtp {}", mailer.server()),
            Err(t) => v.fail(
                if t.is_config() {
                    exit::CONFIG
                } else {
                    exit::TEMPFAIL
                },
                format!("smtp: {t}"),
            ),
        },
        Err(e) => v.fail(exit::CONFIG, format!("smtp: {e}")),
    }
    match v.worst {
        exit::OK => Ok(exit::OK),
        exit::CONFIG => Err(Failure::new(
            v.worst,
            "the settings marked FAIL need a change (each line says which)",
        )),
        worst => Err(Failure::new(
            worst,
            "some servers could not be reached (each FAIL line says why); try again when they are up",
        )),
    }
}

/// The exit code of `check --connect`: a setting to change outranks a
/// server that did not answer.
struct Verdict {
    worst: u8,
}

impl Verdict {
    fn fail(&mut self, code: u8, msg: String) {
        println!("FAIL {msg}");
        if self.worst == exit::OK || code == exit::CONFIG {
            self.worst = code;
        }
    }
}

/// Connects to the database and asks it something.
async fn check_database(config: &Config, v: &mut Verdict) -> Option<Store> {
    let url = redact_url(&config.database.url);
    match Store::connect(&config.database).await {
        Ok(store) => match store.ping().await {
            Ok(()) => {
                println!("ok   database {url} ({:?})", store.backend());
                Some(store)
            }
            Err(e) => {
                v.fail(exit::TEMPFAIL, format!("database: {e}"));
                None
            }
        },
        Err(e) => {
            v.fail(exit::TEMPFAIL, format!("database {url}: {e}"));
            None
        }
    }
}

/// Every OAuth2 account has a token at hand (refreshed when due).
async fn check_oauth(config: &Config, store: Store, v: &mut Verdict) -> Arc<Authority> {
    let migrated = store.migrate().await;
    let authority = Arc::new(super::auth::authority(config, store));
    if let Err(e) = migrated {
        v.fail(exit::TEMPFAIL, format!("database migrations: {e}"));
    }
    for name in config.oauth.keys() {
        match authority.access_token(name).await {
            Ok(_) => println!("ok   oauth {name}: signed in, a token is at hand"),
            Err(e) => v.fail(oauth_code(&e), e.to_string()),
        }
    }
    if !authority.seals() {
        println!(
            "WARN oauth: tokens are kept unsealed in the database; set [database] secret_key_env or secret_key_file to seal them"
        );
    }
    authority
}

/// Logs in to a mailbox's IMAP server and reads what its settings need.
async fn check_mailbox(m: &MailboxConfig, oauth: Option<&Authority>, v: &mut Verdict) {
    let Some(imap) = &m.imap else {
        println!(
            "ok   mailbox {} has no IMAP server (fed by `postdesk ingest`)",
            m.name
        );
        return;
    };
    let login = match oauth {
        Some(a) => a.login(imap).await,
        None if imap.oauth.is_some() => {
            v.fail(
                exit::TEMPFAIL,
                format!(
                    "mailbox {}: not tried: its OAuth2 token is in the database, which did not answer",
                    m.name
                ),
            );
            return;
        }
        None => Ok(Login::Password(
            imap.password
                .as_ref()
                .map(|p| p.expose().to_string())
                .unwrap_or_default(),
        )),
    };
    let login = match login {
        Ok(l) => l,
        Err(e) => return v.fail(oauth_code(&e), format!("mailbox {}: {e}", m.name)),
    };
    match probe(m, &login).await {
        Ok(p) => report_probe(m, &p, v),
        Err(FetchError::Server(t)) => v.fail(
            if t.is_config() {
                exit::CONFIG
            } else {
                exit::TEMPFAIL
            },
            format!("mailbox {}: {t}", m.name),
        ),
        Err(e @ FetchError::Folder { .. }) => {
            v.fail(exit::CONFIG, format!("mailbox {}: {e}", m.name))
        }
        Err(e) => v.fail(
            exit::TEMPFAIL,
            format!("mailbox {}: {}", m.name, crate::error_chain(&e)),
        ),
    }
}

/// What a mailbox's server told us: its folder, the after-ingest action
/// and its target, whether 8-bit header bytes survive.
fn report_probe(m: &MailboxConfig, p: &Probe, v: &mut Verdict) {
    let imap = m.imap.as_ref().expect("probed over IMAP");
    println!(
        "ok   mailbox {}: {}:{} folder {} ({} messages)",
        m.name, imap.host, imap.port, p.folder, p.messages
    );
    match &p.target {
        Some((t, None)) => println!(
            "ok   mailbox {}: after_ingest: {} (folder {t} exists)",
            m.name,
            p.action.describe()
        ),
        Some((t, Some(why))) => v.fail(
            exit::CONFIG,
            format!(
                "mailbox {}: after_ingest folder {t} cannot be used: {why} \
                 (name it in full, e.g. \"move:INBOX.Processed\", or create it on the server)",
                m.name
            ),
        ),
        None => println!(
            "ok   mailbox {}: after_ingest: {}",
            m.name,
            p.action.describe()
        ),
    }
    if let Some(caveat) = p.action.caveat() {
        println!("WARN mailbox {}: {caveat}", m.name);
    }
    match (p.keeps_8bit, &p.probe_error) {
        (Some(true), _) => {
            println!("ok   mailbox {}: 8-bit header bytes are kept", m.name)
        }
        (Some(false), _) => println!(
            "WARN mailbox {}: the server rewrites 8-bit header bytes (Greek, Polish, any \
             UTF-8 subject or name arrives as XXXX); on Cyrus set munge8bit: no in imapd.conf",
            m.name
        ),
        (None, Some(why)) => println!(
            "WARN mailbox {}: could not check whether 8-bit headers are kept: {why}",
            m.name
        ),
        (None, None) => {}
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// `1 mailbox`, `2 mailboxes`.
pub(super) fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// 78 when an admin has to act on an account (sign in), 75 when waiting helps.
fn oauth_code(e: &OAuthError) -> u8 {
    if e.needs_admin() {
        exit::CONFIG
    } else {
        exit::TEMPFAIL
    }
}
