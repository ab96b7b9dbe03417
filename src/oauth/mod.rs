//! OAuth2 accounts (`[oauth.NAME]`): signing in (`postdesk auth login`,
//! the device grant), handing IMAP and SMTP a token that is good for a
//! while yet, and refreshing it before it runs out.
//!
//! Refreshing is where mail systems lose their accounts: Microsoft and
//! others rotate the refresh token on every use, so two processes that
//! refresh at once leave one of them with a token that is already spent.
//! Here a refresh is claimed in the database first (a compare-and-set on
//! the account's row, bound to the token generation it read): one
//! instance refreshes, writes the new tokens at once, and the others wait
//! for the row to change and use what it wrote. A refresh the provider
//! refuses (`invalid_grant`: consent revoked, token expired) is kept on
//! the row, so every instance and `auth status` see it until someone signs
//! in again; it is logged once, counted, shown on `/healthz`, and mailed
//! to `[alerts] admins` once per incident ([`keeper`]).

pub mod keeper;
pub mod provider;
pub mod sasl;
pub mod seal;
mod spend;

use crate::clock::Clock;
use crate::config::{OAuthAccount, ServerConfig};
use crate::ops::health::Health;
use crate::store::{AccountRow, NewTokens, Store, StoreError};
use jiff::{SignedDuration, Timestamp};
use provider::{Granted, ProviderError};
use seal::{SealError, Sealer};
use spend::{Spend, sealed};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// How long a claim to refresh lasts: longer than one request to the
/// provider, so a claim never runs out under a refresh that is still going.
const CLAIM: SignedDuration = SignedDuration::from_secs(90);
/// How long to wait for another instance's refresh before giving up.
const WAIT_FOR_OTHERS: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("no [oauth.{0}] account is configured")]
    Unknown(String),
    #[error("OAuth2 account {0} has no tokens yet: run `postdesk auth login {0}`")]
    NotSignedIn(String),
    #[error(
        "OAuth2 account {account}: the provider refused to refresh the token ({error}); sign in again with `postdesk auth login {account}`"
    )]
    Refused { account: String, error: String },
    #[error(
        "OAuth2 account {account}: the provider refused the client ({error}); check oauth.{account} (client_id, client secret, scopes) and the app's registration"
    )]
    Misconfigured { account: String, error: String },
    #[error("OAuth2 account {account}: cannot refresh the token now: {error}")]
    Unavailable { account: String, error: String },
    #[error("OAuth2 account {account}: {source}")]
    Seal {
        account: String,
        #[source]
        source: SealError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl OAuthError {
    /// The provider's refusal or silence, for `account`.
    pub fn from_provider(account: String, e: ProviderError) -> OAuthError {
        match e {
            ProviderError::Refused(error) => OAuthError::Refused { account, error },
            ProviderError::Misconfigured(error) => OAuthError::Misconfigured { account, error },
            ProviderError::Unavailable(error) => OAuthError::Unavailable { account, error },
        }
    }

    /// Whether an admin has to act (sign in again, fix the key), as
    /// opposed to waiting for the provider or the database.
    pub fn needs_admin(&self) -> bool {
        matches!(
            self,
            OAuthError::Unknown(_)
                | OAuthError::NotSignedIn(_)
                | OAuthError::Refused { .. }
                | OAuthError::Misconfigured { .. }
                | OAuthError::Seal { .. }
        )
    }
}

/// What a login to a server needs.
#[derive(Clone, PartialEq, Eq)]
pub enum Login {
    None,
    Password(String),
    /// An OAuth2 access token, for XOAUTH2 or OAUTHBEARER.
    Bearer(String),
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Login::None => "Login::None",
            Login::Password(_) => "Login::Password(***)",
            Login::Bearer(_) => "Login::Bearer(***)",
        })
    }
}

/// The refresh is due this long before the access token expires: a third
/// of its life, at most five minutes (an hour-long token is refreshed with
/// five minutes left, a one-minute token with twenty seconds).
pub fn margin(lifetime: SignedDuration) -> SignedDuration {
    (lifetime / 3)
        .min(SignedDuration::from_mins(5))
        .max(SignedDuration::ZERO)
}

/// When the account's token should be refreshed (None: no token).
pub fn refresh_due(row: &AccountRow) -> Option<Timestamp> {
    let expires = row.access_expires_at?;
    due_at(row.last_refresh_at.unwrap_or(expires), expires)
}

/// When a token issued at `issued` and expiring at `expires` is due for refresh.
fn due_at(issued: Timestamp, expires: Timestamp) -> Option<Timestamp> {
    expires
        .checked_sub(margin(expires.duration_since(issued)))
        .ok()
}

/// An access token to use, and when it falls due for refresh.
#[derive(Clone)]
pub struct Fresh {
    pub token: String,
    pub due: Option<Timestamp>,
}

/// The accounts, their tokens, and who to tell when one stops working.
pub struct Authority {
    store: Store,
    accounts: RwLock<BTreeMap<String, OAuthAccount>>,
    sealer: Arc<Sealer>,
    clock: Arc<dyn Clock>,
    /// Names this process in refresh claims.
    owner: String,
    /// One refresh at a time per account within this process.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    health: Option<Arc<Health>>,
    /// Accounts whose failure this process has logged (once per incident).
    logged: Mutex<HashSet<String>>,
    /// Counts the times a failed account worked again (a new sign-in).
    recovered: tokio::sync::watch::Sender<u64>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("owner", &self.owner)
            .finish()
    }
}

impl Authority {
    pub fn new(
        store: Store,
        accounts: BTreeMap<String, OAuthAccount>,
        secret_key: Option<&str>,
        clock: Arc<dyn Clock>,
        owner: String,
        health: Option<Arc<Health>>,
    ) -> Authority {
        Authority {
            store,
            accounts: RwLock::new(accounts),
            sealer: Arc::new(Sealer::new(secret_key)),
            clock,
            owner,
            locks: Mutex::default(),
            health,
            logged: Mutex::default(),
            recovered: tokio::sync::watch::Sender::new(0),
        }
    }

    /// The authority of `config`'s accounts, with its sealing key.
    pub fn of(
        config: &crate::config::Config,
        store: Store,
        clock: Arc<dyn Clock>,
        owner: String,
        health: Option<Arc<Health>>,
    ) -> Authority {
        Authority::new(
            store,
            config.oauth.clone(),
            config.database.secret_key.as_ref().map(|k| k.expose()),
            clock,
            owner,
            health,
        )
    }

    /// After a reload: the accounts as configured now.
    /// An account no longer configured no longer counts against `/healthz`.
    pub fn set_accounts(&self, accounts: BTreeMap<String, OAuthAccount>) {
        if let Some(h) = &self.health {
            for gone in h
                .oauth_snapshot()
                .into_keys()
                .filter(|n| !accounts.contains_key(n))
            {
                h.oauth_ok(&gone);
            }
        }
        *self.accounts.write().expect("accounts lock") = accounts;
    }

    pub fn accounts(&self) -> BTreeMap<String, OAuthAccount> {
        self.accounts.read().expect("accounts lock").clone()
    }

    fn account(&self, name: &str) -> Result<OAuthAccount, OAuthError> {
        self.accounts
            .read()
            .expect("accounts lock")
            .get(name)
            .cloned()
            .ok_or_else(|| OAuthError::Unknown(name.to_string()))
    }

    pub fn seals(&self) -> bool {
        self.sealer.seals()
    }

    /// What to log in to `server` with: its password, or a fresh token of its account.
    pub async fn login(&self, server: &ServerConfig) -> Result<Login, OAuthError> {
        match &server.oauth {
            Some(account) => Ok(Login::Bearer(self.access_token(account).await?)),
            None => Ok(match &server.password {
                Some(p) => Login::Password(p.expose().to_string()),
                None => Login::None,
            }),
        }
    }

    fn open(&self, account: &str, field: &str, stored: &str) -> Result<String, OAuthError> {
        self.sealer
            .open(account, field, stored)
            .map_err(|source| OAuthError::Seal {
                account: account.to_string(),
                source,
            })
    }

    /// Stores the tokens of a sign-in: they replace whatever was there,
    /// a refresh under way included.
    pub async fn signed_in(&self, account: &str, g: &Granted) -> Result<(), OAuthError> {
        let (access, refresh) = sealed(&self.sealer, account, g);
        let tokens = NewTokens {
            access_token: &access,
            access_expires_at: g.expires_at,
            refresh_token: refresh.as_deref(),
            scope: g.scope.as_deref(),
        };
        self.store
            .oauth_signed_in(account, &tokens, self.clock.now())
            .await?;
        self.works(account, g.expires_at);
        Ok(())
    }

    /// An access token good for a while yet, refreshed first when due.
    pub async fn access_token(&self, account: &str) -> Result<String, OAuthError> {
        self.fresh(account).await.map(|f| f.token)
    }

    /// As [`Authority::access_token`], with when the token falls due (the
    /// keeper sleeps until then).
    pub async fn fresh(&self, account: &str) -> Result<Fresh, OAuthError> {
        let result = self.fresh_token(account).await;
        if let Err(e) = &result {
            self.report_failure(account, e);
        }
        result
    }

    async fn fresh_token(&self, name: &str) -> Result<Fresh, OAuthError> {
        let account = self.account(name)?;
        let lock = self
            .locks
            .lock()
            .expect("locks")
            .entry(name.to_string())
            .or_default()
            .clone();
        let _one_at_a_time = lock.lock().await;
        let started = std::time::Instant::now();
        loop {
            let now = self.clock.now();
            let row = self
                .store
                .oauth_account(name)
                .await?
                .filter(|r| r.access_token.is_some() || r.refresh_token.is_some())
                .ok_or_else(|| OAuthError::NotSignedIn(name.to_string()))?;
            if let Some(error) = &row.error
                && row.failed_at.is_some()
            {
                return Err(OAuthError::Refused {
                    account: name.to_string(),
                    error: error.clone(),
                });
            }
            let due = refresh_due(&row);
            if let (Some(stored), Some(due)) = (&row.access_token, due)
                && now < due
            {
                let token = self.open(name, "access", stored)?;
                self.works(name, row.access_expires_at.unwrap_or(now));
                return Ok(Fresh {
                    token,
                    due: Some(due),
                });
            }
            let Some(stored_refresh) = &row.refresh_token else {
                return Err(OAuthError::NotSignedIn(name.to_string()));
            };
            // Opened before the claim: a key that does not fit holds nothing up.
            let refresh_token = self.open(name, "refresh", stored_refresh)?;
            let until = now.checked_add(CLAIM).unwrap_or(now);
            if self
                .store
                .oauth_claim_refresh(name, row.generation, &self.owner, now, until)
                .await?
            {
                return self.refresh(&account, refresh_token, row.generation).await;
            }
            // Another instance is refreshing: its token is the one to use.
            // Until it writes, the current token serves while it lasts.
            if let (Some(stored), Some(expires)) = (&row.access_token, row.access_expires_at)
                && expires.duration_since(now) > SignedDuration::from_secs(5)
            {
                return Ok(Fresh {
                    token: self.open(name, "access", stored)?,
                    due,
                });
            }
            if started.elapsed() > WAIT_FOR_OTHERS {
                return Err(OAuthError::Unavailable {
                    account: name.to_string(),
                    error: format!(
                        "{} has been refreshing it for over {}s",
                        row.refreshing_by.as_deref().unwrap_or("another instance"),
                        WAIT_FOR_OTHERS.as_secs()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Spends the refresh token (this instance holds the claim). The
    /// provider's call and the write of its answer run in a task of their
    /// own: a caller that gives up (a timeout, a shutdown) cannot stop the
    /// new tokens from being stored once the provider has rotated them.
    async fn refresh(
        &self,
        account: &OAuthAccount,
        refresh_token: String,
        generation: i64,
    ) -> Result<Fresh, OAuthError> {
        let spend = Spend {
            store: self.store.clone(),
            sealer: self.sealer.clone(),
            clock: self.clock.clone(),
            owner: self.owner.clone(),
            account: account.clone(),
            refresh_token,
            generation,
        };
        let g = match tokio::spawn(spend.run()).await {
            Ok(r) => r?,
            Err(e) => {
                return Err(OAuthError::Unavailable {
                    account: account.name.clone(),
                    error: e.to_string(),
                });
            }
        };
        tracing::info!(account = %account.name, expires_at = %g.expires_at, "OAuth2 token refreshed");
        self.works(&account.name, g.expires_at);
        Ok(Fresh {
            due: due_at(self.clock.now(), g.expires_at),
            token: g.access_token,
        })
    }

    /// The account works: health, metrics, and the next incident logs again.
    fn works(&self, account: &str, expires_at: Timestamp) {
        crate::ops::metrics::oauth_expires(account, expires_at);
        if let Some(h) = &self.health {
            h.oauth_ok(account);
        }
        if self.logged.lock().expect("logged").remove(account) {
            tracing::info!(account, "OAuth2 account works again");
            self.recovered.send_modify(|n| *n += 1);
        }
    }

    /// Changes when an account that failed works again: a task waiting to
    /// log in need not sit out its backoff after the admin signed in. Taken
    /// before an attempt, it also sees a recovery that came during it.
    pub fn recoveries(&self) -> tokio::sync::watch::Receiver<u64> {
        self.recovered.subscribe()
    }

    fn report_failure(&self, account: &str, e: &OAuthError) {
        if matches!(e, OAuthError::Store(_)) {
            return;
        }
        let message = e.to_string();
        if e.needs_admin() {
            if let Some(h) = &self.health {
                h.oauth_failed(account, message.clone());
            }
            if self
                .logged
                .lock()
                .expect("logged")
                .insert(account.to_string())
            {
                tracing::error!(account, "{message}");
            }
        } else {
            tracing::warn!(account, "{message}");
        }
    }

    /// Every configured account as `auth status` shows it.
    pub async fn status(&self) -> Result<Vec<Status>, OAuthError> {
        let rows: BTreeMap<String, AccountRow> = self
            .store
            .oauth_accounts()
            .await?
            .into_iter()
            .map(|r| (r.name.clone(), r))
            .collect();
        let now = self.clock.now();
        Ok(self
            .accounts()
            .keys()
            .map(|name| status_of(name, rows.get(name), now, &self.sealer))
            .collect())
    }
}

/// One account as `auth status` shows it (DESIGN §9's JSON).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    pub name: String,
    /// "ok", "expired", "failed" or "missing".
    pub state: &'static str,
    pub access_expires_at: Option<Timestamp>,
    pub last_refresh_at: Option<Timestamp>,
    pub error: Option<String>,
    /// Whether the stored tokens are sealed with the configured key.
    pub sealed: bool,
}

/// Pure: an account's state from its row.
pub fn status_of(name: &str, row: Option<&AccountRow>, now: Timestamp, sealer: &Sealer) -> Status {
    let Some(r) = row.filter(|r| r.access_token.is_some() || r.refresh_token.is_some()) else {
        return Status {
            name: name.to_string(),
            state: "missing",
            access_expires_at: None,
            last_refresh_at: None,
            error: Some(format!("no tokens: run `postdesk auth login {name}`")),
            sealed: false,
        };
    };
    let sealed = r
        .refresh_token
        .as_deref()
        .or(r.access_token.as_deref())
        .is_some_and(|t| t.starts_with("v1:"));
    let unreadable = r
        .refresh_token
        .as_deref()
        .and_then(|t| sealer.open(name, "refresh", t).err());
    let (state, error) = if r.failed_at.is_some() {
        ("failed", r.error.clone())
    } else if let Some(e) = unreadable {
        ("failed", Some(e.to_string()))
    } else if r.access_expires_at.is_none_or(|e| e <= now) {
        // A refresh token is still there: the daemon renews it on next use.
        ("expired", None)
    } else {
        ("ok", None)
    };
    Status {
        name: name.to_string(),
        state,
        access_expires_at: r.access_expires_at,
        last_refresh_at: r.last_refresh_at,
        error,
        sealed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn row(issued: &str, expires: &str) -> AccountRow {
        AccountRow {
            name: "acme".into(),
            access_token: Some("plain:a".into()),
            access_expires_at: Some(t(expires)),
            refresh_token: Some("plain:r".into()),
            generation: 1,
            last_refresh_at: Some(t(issued)),
            refreshing_by: None,
            refreshing_until: None,
            failed_at: None,
            error: None,
            alerted_at: None,
        }
    }

    #[test]
    fn a_token_is_refreshed_a_third_of_its_life_early_and_at_most_five_minutes() {
        let hour = row("2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z");
        assert_eq!(refresh_due(&hour), Some(t("2026-12-01T10:55:00Z")));
        let minute = row("2026-12-01T10:00:00Z", "2026-12-01T10:01:00Z");
        assert_eq!(refresh_due(&minute), Some(t("2026-12-01T10:00:40Z")));
    }

    #[test]
    fn status_follows_the_row() {
        let s = Sealer::new(None);
        let now = t("2026-12-01T10:30:00Z");
        assert_eq!(status_of("acme", None, now, &s).state, "missing");
        let ok = row("2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z");
        assert_eq!(status_of("acme", Some(&ok), now, &s).state, "ok");
        let old = row("2026-12-01T09:00:00Z", "2026-12-01T10:00:00Z");
        assert_eq!(status_of("acme", Some(&old), now, &s).state, "expired");
        let failed = AccountRow {
            failed_at: Some(now),
            error: Some("invalid_grant: revoked".into()),
            ..ok.clone()
        };
        let st = status_of("acme", Some(&failed), now, &s);
        assert_eq!(
            (st.state, st.error.as_deref()),
            ("failed", Some("invalid_grant: revoked"))
        );
        let sealed = AccountRow {
            refresh_token: Some(Sealer::new(Some("k")).seal("acme", "refresh", "r")),
            ..ok
        };
        let st = status_of("acme", Some(&sealed), now, &s);
        assert_eq!(st.state, "failed");
        assert!(st.sealed);
        assert_eq!(
            status_of("acme", Some(&sealed), now, &Sealer::new(Some("k"))).state,
            "ok"
        );
    }
}
