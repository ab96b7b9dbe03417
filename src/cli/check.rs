//! `postdesk check [--connect]`: every configuration problem and template
//! error at once; with `--connect`, also the database and a login to every
//! IMAP and SMTP server.

use super::{CliResult, Failure, exit, load};
use crate::imap::{FetchError, connect};
use crate::smtp::Mailer;
use crate::store::Store;
use std::path::Path;

pub async fn run(path: &Path, connect_servers: bool) -> CliResult {
    let (config, _templates) = load(path, crate::config::Secrets::Read)?;
    println!(
        "{}: configuration and templates are valid ({} mailbox(es), {} agent(s), {} SLA polic(ies), {} calendar(s))",
        path.display(),
        config.mailboxes.len(),
        config.agents.len(),
        config.sla.len(),
        config.calendars.len()
    );
    if !connect_servers {
        return Ok(exit::OK);
    }
    let mut worst = exit::OK;
    let mut fail = |code: u8, msg: String| {
        println!("FAIL {msg}");
        if worst == exit::OK || code == exit::CONFIG {
            worst = code;
        }
    };
    match Store::connect(&config.database).await {
        Ok(store) => match store.ping().await {
            Ok(()) => println!(
                "ok   database {} ({:?})",
                redact_url(&config.database.url),
                store.backend()
            ),
            Err(e) => fail(exit::TEMPFAIL, format!("database: {e}")),
        },
        Err(e) => fail(
            exit::TEMPFAIL,
            format!("database {}: {e}", redact_url(&config.database.url)),
        ),
    }
    for m in &config.mailboxes {
        let Some(imap) = &m.imap else {
            println!(
                "ok   mailbox {} has no IMAP server (fed by `postdesk ingest`)",
                m.name
            );
            continue;
        };
        match connect(imap).await {
            Ok(mut s) => match s.select(&m.folder).await {
                Ok(mb) => {
                    println!(
                        "ok   mailbox {}: {}:{} folder {} ({} messages)",
                        m.name, imap.host, imap.port, m.folder, mb.exists
                    );
                    let _ = s.logout().await;
                }
                Err(e) => fail(
                    exit::CONFIG,
                    format!("mailbox {}: folder {}: {e}", m.name, m.folder),
                ),
            },
            Err(e @ FetchError::Login { .. }) => {
                fail(exit::CONFIG, format!("mailbox {}: {e}", m.name))
            }
            Err(e) => fail(
                exit::TEMPFAIL,
                format!("mailbox {}: {}", m.name, crate::error_chain(&e)),
            ),
        }
    }
    match Mailer::new(&config.smtp, std::time::Duration::from_secs(5)) {
        Ok(mut mailer) => match mailer.test_connection().await {
            Ok(()) => println!("ok   smtp {}", mailer.server()),
            Err(e) => fail(exit::TEMPFAIL, format!("smtp {e}")),
        },
        Err(e) => fail(exit::CONFIG, format!("smtp: {e}")),
    }
    if worst == exit::OK {
        Ok(exit::OK)
    } else {
        Err(Failure::new(worst, "some servers could not be reached"))
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
