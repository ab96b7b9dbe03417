//! What happens on the server to a message once it is committed
//! (`after_ingest`), chosen from what the server offers: MOVE; else
//! UID COPY + UID STORE \Deleted + UID EXPUNGE (UIDPLUS); without UIDPLUS
//! the message is only flagged \Deleted (and copied), never expunged with a
//! plain EXPUNGE, which would also remove every other client's \Deleted mail.
//!
//! A server that refuses an action (`NO`, `BAD`: a folder it will not
//! create, a name it does not take) does not make a lost connection: the
//! message is a ticket already, so the mailbox is marked degraded with the
//! server's words, the action is retried later on its own backoff, and new
//! mail keeps being fetched meanwhile.

use super::FetchError;
use super::stream::{ImapSession, within};
use crate::config::AfterIngest;
use futures::TryStreamExt;
use std::time::{Duration, Instant};

/// What the server can do, from its CAPABILITY.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caps {
    pub idle: bool,
    pub mv: bool,
    pub uidplus: bool,
    pub namespace: bool,
}

/// How the configured action is carried out on this server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Seen,
    /// MOVE to the folder (its server name).
    Move(String),
    /// UID COPY to the folder, \Deleted, UID EXPUNGE.
    CopyExpunge(String),
    /// UID COPY to the folder and \Deleted, left for the owner to expunge.
    CopyFlag(String),
    /// \Deleted, UID EXPUNGE.
    DeleteExpunge,
    /// \Deleted only.
    DeleteFlag,
}

impl Action {
    /// The action for `after_ingest` on a server with `caps`, with the
    /// folder as the server names it.
    pub fn choose(after: &AfterIngest, folder: Option<&str>, caps: &Caps) -> Action {
        match (after, folder) {
            (AfterIngest::Seen, _) => Action::Seen,
            (AfterIngest::Move(_), Some(f)) if caps.mv => Action::Move(f.to_string()),
            (AfterIngest::Move(_), Some(f)) if caps.uidplus => Action::CopyExpunge(f.to_string()),
            (AfterIngest::Move(_), Some(f)) => Action::CopyFlag(f.to_string()),
            (AfterIngest::Move(f), None) => Action::CopyFlag(f.clone()),
            (AfterIngest::Delete, _) if caps.uidplus => Action::DeleteExpunge,
            (AfterIngest::Delete, _) => Action::DeleteFlag,
        }
    }

    /// In words, for logs and `check --connect`.
    pub fn describe(&self) -> String {
        match self {
            Action::Seen => "flag \\Seen".into(),
            Action::Move(f) => format!("MOVE to {f}"),
            Action::CopyExpunge(f) => format!("COPY to {f}, flag \\Deleted, UID EXPUNGE (no MOVE)"),
            Action::CopyFlag(f) => format!("COPY to {f}, flag \\Deleted (no MOVE, no UIDPLUS)"),
            Action::DeleteExpunge => "flag \\Deleted, UID EXPUNGE".into(),
            Action::DeleteFlag => "flag \\Deleted (no UIDPLUS)".into(),
        }
    }

    /// What an admin should know about this choice, once.
    pub fn caveat(&self) -> Option<&'static str> {
        matches!(self, Action::CopyFlag(_) | Action::DeleteFlag).then_some(
            "the server offers neither MOVE nor UIDPLUS: processed messages are flagged \\Deleted \
             and left for their owner to expunge (a plain EXPUNGE would also remove other clients' \\Deleted mail)",
        )
    }

    /// Carries it out on `set` (a UID set).
    pub async fn apply(
        &self,
        s: &mut ImapSession,
        set: &str,
        timeout: Duration,
    ) -> Result<(), FetchError> {
        match self {
            Action::Seen => {
                within(timeout, store_flags(s, set, "+FLAGS.SILENT (\\Seen)")).await?;
            }
            Action::Move(folder) => {
                within(timeout, s.uid_mv(set, folder)).await?;
            }
            Action::CopyExpunge(folder) | Action::CopyFlag(folder) => {
                within(timeout, s.uid_copy(set, folder)).await?;
                within(timeout, store_flags(s, set, DELETED)).await?;
                if matches!(self, Action::CopyExpunge(_)) {
                    within(timeout, async {
                        s.uid_expunge(set).await?.try_collect::<Vec<_>>().await
                    })
                    .await?;
                }
            }
            Action::DeleteExpunge | Action::DeleteFlag => {
                within(timeout, store_flags(s, set, DELETED)).await?;
                if *self == Action::DeleteExpunge {
                    within(timeout, async {
                        s.uid_expunge(set).await?.try_collect::<Vec<_>>().await
                    })
                    .await?;
                }
            }
        }
        Ok(())
    }
}

const DELETED: &str = "+FLAGS.SILENT (\\Seen \\Deleted)";

async fn store_flags(
    s: &mut ImapSession,
    set: &str,
    flags: &str,
) -> Result<(), async_imap::error::Error> {
    s.uid_store(set, flags)
        .await?
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

/// The server refused a command (NO or BAD), as opposed to a lost or
/// stalled connection: its words.
pub fn refusal(e: &FetchError) -> Option<String> {
    match e {
        FetchError::Imap(async_imap::error::Error::No(m))
        | FetchError::Imap(async_imap::error::Error::Bad(m)) => Some(m.trim().to_string()),
        FetchError::Folder { message, .. } => Some(message.clone()),
        _ => None,
    }
}

/// When a refused action may be tried again: its own backoff, from the
/// poll interval doubling up to an hour.
#[derive(Debug, Default)]
pub struct Retry {
    failures: u32,
    next: Option<Instant>,
}

impl Retry {
    pub fn due(&self) -> bool {
        self.next.is_none_or(|t| Instant::now() >= t)
    }

    /// A refusal: the next try waits longer.
    pub fn refused(&mut self, base: Duration) -> Duration {
        self.failures += 1;
        let wait = base
            .saturating_mul(1 << (self.failures - 1).min(16))
            .min(Duration::from_secs(3600));
        self.next = Some(Instant::now() + wait);
        wait
    }

    /// It worked: back to normal. True when it had been failing.
    pub fn succeeded(&mut self) -> bool {
        let was = self.failures > 0;
        *self = Retry::default();
        was
    }
}

/// Makes sure `folder` exists: LIST it, CREATE it when missing. A refusal
/// comes back as the server's words.
pub async fn ensure_folder(
    s: &mut ImapSession,
    folder: &str,
    timeout: Duration,
) -> Result<(), FetchError> {
    let found = within(timeout, async {
        let names: Vec<_> = s.list(Some(""), Some(folder)).await?.try_collect().await?;
        Ok::<_, async_imap::error::Error>(!names.is_empty())
    })
    .await?;
    if found {
        return Ok(());
    }
    within(timeout, s.create(folder))
        .await
        .map_err(|e| match refusal(&e) {
            Some(m) => FetchError::Folder {
                folder: folder.to_string(),
                message: format!("cannot create it: {m}"),
            },
            None => e,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_action_follows_the_capabilities() {
        let mv = AfterIngest::Move("Processed".into());
        let all = Caps {
            mv: true,
            uidplus: true,
            ..Caps::default()
        };
        let uidplus = Caps {
            uidplus: true,
            ..Caps::default()
        };
        let none = Caps::default();
        let f = Some("INBOX.Processed");
        assert_eq!(
            Action::choose(&mv, f, &all),
            Action::Move("INBOX.Processed".into())
        );
        assert_eq!(
            Action::choose(&mv, f, &uidplus),
            Action::CopyExpunge("INBOX.Processed".into())
        );
        assert_eq!(
            Action::choose(&mv, f, &none),
            Action::CopyFlag("INBOX.Processed".into())
        );
        assert!(Action::choose(&mv, f, &none).caveat().is_some());
        assert_eq!(
            Action::choose(&AfterIngest::Delete, None, &uidplus),
            Action::DeleteExpunge
        );
        assert_eq!(
            Action::choose(&AfterIngest::Delete, None, &none),
            Action::DeleteFlag
        );
        assert_eq!(
            Action::choose(&AfterIngest::Seen, None, &none),
            Action::Seen
        );
    }

    #[test]
    fn refused_actions_back_off_on_their_own() {
        let mut r = Retry::default();
        assert!(r.due());
        let base = Duration::from_secs(2);
        assert_eq!(r.refused(base), Duration::from_secs(2));
        assert!(!r.due());
        assert_eq!(r.refused(base), Duration::from_secs(4));
        for _ in 0..20 {
            r.refused(base);
        }
        assert_eq!(r.refused(base), Duration::from_secs(3600));
        assert!(r.succeeded());
        assert!(r.due() && !r.succeeded());
    }
}
