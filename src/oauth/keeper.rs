//! The daemon's task that keeps every OAuth2 account's token fresh ahead
//! of need (so IMAP and SMTP rarely wait on a refresh), notices a sign-in
//! made by `postdesk auth login` while the daemon runs, and raises the
//! alarm when an account stops working: `/healthz` and the metrics follow
//! every attempt ([`Authority`]); the admins' mail goes out once per
//! incident, claimed in the database so that several instances send one.

use super::{Authority, OAuthError};
use crate::domain::model::OutKind;
use crate::ingest::{IngestError, Pipeline};
use crate::templates::{AlertVars, Vars};
use jiff::Timestamp;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often accounts are looked at when nothing is due sooner: a new
/// sign-in or a failure seen by another instance shows within this.
const LOOK_EVERY: Duration = Duration::from_secs(15);

pub struct Keeper {
    pub authority: Arc<Authority>,
    pub pipelines: tokio::sync::watch::Receiver<Arc<Pipeline>>,
}

impl Keeper {
    pub async fn run(self, stop: CancellationToken) {
        let mut warned_no_admins = false;
        loop {
            let pipeline = self.pipelines.borrow().clone();
            let mut wait = LOOK_EVERY;
            for name in self.authority.accounts().into_keys() {
                match self.authority.fresh(&name).await {
                    Ok(fresh) => {
                        if let Some(due) = fresh.due {
                            let now = pipeline.clock.now();
                            let until =
                                Duration::try_from(due.duration_since(now)).unwrap_or_default();
                            wait = wait.min(until.max(Duration::from_millis(500)));
                        }
                    }
                    Err(OAuthError::Refused { error, .. }) => {
                        if let Err(e) = self
                            .alert(&pipeline, &name, &error, &mut warned_no_admins)
                            .await
                        {
                            tracing::error!(account = %name, error = %e, "cannot queue the admins' alert");
                        }
                    }
                    // Logged, counted and shown by the authority; tried
                    // again at the next look, not at once.
                    Err(_) => {}
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Mails the admins about `account`'s failure, once per incident.
    async fn alert(
        &self,
        p: &Pipeline,
        account: &str,
        error: &str,
        warned_no_admins: &mut bool,
    ) -> Result<(), IngestError> {
        let now = p.clock.now();
        let Some(row) = p.store.oauth_account(account).await? else {
            return Ok(());
        };
        if row.alerted_at.is_some() {
            return Ok(());
        }
        let Some(mailbox) = p.config.mailboxes.first() else {
            return Ok(());
        };
        if p.config.admins.is_empty() {
            if !*warned_no_admins {
                tracing::warn!(
                    account,
                    "no [alerts] admins are configured: nobody is mailed about the failed account"
                );
                *warned_no_admins = true;
            }
            return Ok(());
        }
        let mut tx = p.store.begin().await?;
        if !tx.oauth_claim_alert(account, now).await? {
            return Ok(tx.commit().await?);
        }
        let vars = alert_vars(p, account, error, row.failed_at.unwrap_or(now), mailbox);
        p.queue_admin_mail(&mut tx, mailbox, OutKind::OAuthFailed, &vars, now)
            .await?;
        tx.commit().await?;
        p.outbox_wake.notify_one();
        tracing::info!(account, admins = ?p.config.admins, "the admins are told the account stopped working");
        Ok(())
    }
}

fn alert_vars(
    p: &Pipeline,
    account: &str,
    error: &str,
    since: Timestamp,
    mailbox: &crate::config::MailboxConfig,
) -> Vars {
    let c = &p.config;
    let mut v = Vars {
        event: OutKind::OAuthFailed.as_str().into(),
        alert: AlertVars {
            account: account.into(),
            provider: c
                .oauth
                .get(account)
                .map(|a| a.provider.as_str().to_string())
                .unwrap_or_default(),
            error: error.into(),
            since: since.to_string(),
            command: format!("postdesk auth login {account}"),
            imap_mailboxes: c
                .mailboxes
                .iter()
                .filter(|m| m.imap.as_ref().and_then(|i| i.oauth.as_deref()) == Some(account))
                .map(|m| m.name.clone())
                .collect(),
            smtp: c.smtp.oauth.as_deref() == Some(account),
        },
        ..Vars::default()
    };
    v.mailbox = crate::templates::MailboxVars {
        name: mailbox.name.clone(),
        address: mailbox.address.clone(),
        display_name: mailbox.display_name.clone(),
    };
    v.raw.alert_since = Some(since);
    v.raw.zone = Some(c.mailbox_tz(mailbox));
    v
}
