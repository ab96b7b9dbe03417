//! What `postdesk check --connect` learns from a mailbox's IMAP server:
//! the folder names as the server spells them (and whether the target of
//! `move:` exists or can be made), what the after-ingest action will be on
//! this server, and whether it keeps 8-bit header bytes (Cyrus's default
//! `munge8bit` turns every one into an `X`: Greek and Polish subjects would
//! arrive as `XXXX`, and nothing postdesk does afterwards can undo that).

use super::FetchError;
use super::actions::{Action, Caps, ensure_folder, refusal};
use super::stream::{connect, personal_namespace, within};
use crate::config::{AfterIngest, MailboxConfig};
use crate::domain::folders;
use crate::oauth::Login;
use futures::TryStreamExt;

/// What the server told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The folder read, as the server names it, and how many messages it holds.
    pub folder: String,
    pub messages: u32,
    /// The target of `move:`, as the server names it, and what went wrong
    /// with it (None when it exists or was created).
    pub target: Option<(String, Option<String>)>,
    pub action: Action,
    /// Whether 8-bit header bytes come back as they went in (None: could not check).
    pub keeps_8bit: Option<bool>,
    /// Why the 8-bit check could not be made.
    pub probe_error: Option<String>,
}

/// A subject no server should change: UTF-8 Greek and Polish.
const PROBE_SUBJECT: &str = "postdesk 8-bit check: Ταχυδρομείο zażółć";

/// Logs in and looks: folders, action, 8-bit headers. Side effects: the
/// target folder is created when missing (the daemon would create it), and
/// a scratch folder holds the probe message for a moment.
pub async fn probe(m: &MailboxConfig, login: &Login) -> Result<Probe, FetchError> {
    let cfg = m.imap.as_ref().expect("an IMAP mailbox");
    let timeout = cfg.timeout.unsigned_abs();
    let mut s = connect(cfg, login).await?;
    let c = within(timeout, s.capabilities()).await?;
    let caps = Caps {
        idle: c.has_str("IDLE"),
        mv: c.has_str("MOVE"),
        uidplus: c.has_str("UIDPLUS"),
        namespace: c.has_str("NAMESPACE"),
    };
    let personal = personal_namespace(&mut s, caps.namespace, timeout).await?;
    let folder = folders::resolve(&m.folder, &personal);
    let target = match &m.after_ingest {
        AfterIngest::Move(f) => {
            let t = folders::resolve(f, &personal);
            let problem = match ensure_folder(&mut s, &t, timeout).await {
                Ok(()) => None,
                Err(e) => match refusal(&e) {
                    Some(words) => Some(words),
                    None => return Err(e),
                },
            };
            Some((t, problem))
        }
        _ => None,
    };
    let action = Action::choose(
        &m.after_ingest,
        target.as_ref().map(|t| t.0.as_str()),
        &caps,
    );

    // 8-bit headers: append a probe to a scratch folder and read it back.
    let scratch = folders::resolve(&format!("postdesk-check-{}", std::process::id()), &personal);
    let (keeps_8bit, probe_error) = match eight_bit_kept(&mut s, &scratch, timeout).await {
        Ok(kept) => (Some(kept), None),
        Err(e) => (None, Some(crate::error_chain(&e))),
    };
    let _ = within(timeout, s.delete(&scratch)).await;

    let selected = within(timeout, s.select(&folder))
        .await
        .map_err(|e| FetchError::Folder {
            folder: folder.clone(),
            message: e.to_string(),
        })?;
    let _ = s.logout().await;
    Ok(Probe {
        folder,
        messages: selected.exists,
        target,
        action,
        keeps_8bit,
        probe_error,
    })
}

async fn eight_bit_kept(
    s: &mut super::ImapSession,
    scratch: &str,
    timeout: std::time::Duration,
) -> Result<bool, FetchError> {
    within(timeout, s.create(scratch)).await?;
    let message = format!(
        "From: postdesk <check@postdesk.invalid>\r\nSubject: {PROBE_SUBJECT}\r\n\
         Message-ID: <check-{}@postdesk.invalid>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nA check by postdesk; this folder is deleted at once.\r\n",
        std::process::id()
    );
    within(timeout, s.append(scratch, None, None, message.as_bytes())).await?;
    within(timeout, s.select(scratch)).await?;
    let headers: Vec<Vec<u8>> = within(timeout, async {
        s.fetch("1", "BODY.PEEK[HEADER]")
            .await?
            .try_filter_map(|f| async move { Ok(f.header().map(<[u8]>::to_vec)) })
            .try_collect()
            .await
    })
    .await?;
    within(timeout, s.close()).await?;
    let got = headers.concat();
    Ok(String::from_utf8_lossy(&got).contains(PROBE_SUBJECT))
}
