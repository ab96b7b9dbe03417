//! One refresh of an OAuth2 account, owned by a task of its own (see
//! [`super::Authority`]): the provider's call, then the write of its
//! answer on the token generation that was claimed, retried while the
//! database is away; or the refusal, kept only for a dead grant.

use super::OAuthError;
use super::provider::{self, Granted, ProviderError};
use super::seal::Sealer;
use crate::clock::Clock;
use crate::config::OAuthAccount;
use crate::store::{NewTokens, Store};
use std::sync::Arc;
use std::time::Duration;

/// Tokens sealed for storing: (access, refresh).
pub(super) fn sealed(sealer: &Sealer, account: &str, g: &Granted) -> (String, Option<String>) {
    (
        sealer.seal(account, "access", &g.access_token),
        g.refresh_token
            .as_ref()
            .map(|r| sealer.seal(account, "refresh", r)),
    )
}

/// One refresh, owned by its task.
pub(super) struct Spend {
    pub(super) store: Store,
    pub(super) sealer: Arc<Sealer>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) owner: String,
    pub(super) account: OAuthAccount,
    pub(super) refresh_token: String,
    /// The token generation the claim was made on.
    pub(super) generation: i64,
}

impl Spend {
    pub(super) async fn run(self) -> Result<Granted, OAuthError> {
        let name = self.account.name.clone();
        let now = self.clock.now();
        match provider::refresh(&self.account, &self.refresh_token, now).await {
            Ok(mut g) => {
                // A provider that does not rotate keeps the token just spent;
                // it is stored again (sealed, if it was not before).
                if g.refresh_token.is_none() {
                    g.refresh_token = Some(self.refresh_token.clone());
                }
                self.store_result(&g).await?;
                Ok(g)
            }
            Err(e) => {
                crate::ops::metrics::oauth_refresh_failed(&name);
                match &e {
                    // A dead grant is kept for every instance to see.
                    ProviderError::Refused(error) => {
                        self.store
                            .oauth_refresh_failed(&name, self.generation, error, self.clock.now())
                            .await?
                    }
                    _ => self.store.oauth_release(&name, &self.owner).await?,
                }
                Err(OAuthError::from_provider(name, e))
            }
        }
    }

    /// Writes the new tokens, trying again while the database is away: the
    /// old refresh token may be spent already, so these are the only ones.
    async fn store_result(&self, g: &Granted) -> Result<(), OAuthError> {
        let name = &self.account.name;
        let (access, refresh) = sealed(&self.sealer, name, g);
        let tokens = NewTokens {
            access_token: &access,
            access_expires_at: g.expires_at,
            refresh_token: refresh.as_deref(),
            scope: g.scope.as_deref(),
        };
        let mut attempt = 0u32;
        loop {
            match self
                .store
                .oauth_refreshed(name, self.generation, &tokens, self.clock.now())
                .await
            {
                Ok(true) => return Ok(()),
                Ok(false) => {
                    tracing::info!(account = %name, "a new sign-in replaced the account's tokens while they were refreshed; the sign-in's stay");
                    return Ok(());
                }
                Err(e) if attempt < 8 => {
                    attempt += 1;
                    let wait = crate::backoff(
                        attempt,
                        Duration::from_millis(250),
                        Duration::from_secs(10),
                    );
                    tracing::warn!(account = %name, error = %e, retry_in = ?wait, "cannot store the refreshed OAuth2 tokens yet");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    tracing::error!(account = %name, error = %e, "the refreshed OAuth2 tokens could not be stored: the next refresh may be refused, and the account need a new sign-in");
                    return Err(e.into());
                }
            }
        }
    }
}
