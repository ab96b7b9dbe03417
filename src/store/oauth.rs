//! OAuth2 accounts' rows: the tokens (sealed by the caller, stored as
//! given), the refresh lease that lets one instance at a time spend a
//! rotating refresh token, a refresh failure kept for every instance to
//! see, and the once-per-incident alert claim. Every write of new tokens
//! raises `generation`, so a waiting instance knows another one refreshed.

use super::{Result, Store, Tx, col, ms, opt_from_ms};
use jiff::Timestamp;

/// One account's row as stored (tokens still sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub name: String,
    pub access_token: Option<String>,
    pub access_expires_at: Option<Timestamp>,
    pub refresh_token: Option<String>,
    pub generation: i64,
    pub last_refresh_at: Option<Timestamp>,
    pub refreshing_by: Option<String>,
    pub refreshing_until: Option<Timestamp>,
    pub failed_at: Option<Timestamp>,
    pub error: Option<String>,
    pub alerted_at: Option<Timestamp>,
}

/// Tokens to store, sealed.
#[derive(Debug, Clone)]
pub struct NewTokens<'a> {
    pub access_token: &'a str,
    pub access_expires_at: Timestamp,
    /// None keeps the refresh token stored (a provider that does not rotate).
    pub refresh_token: Option<&'a str>,
    pub scope: Option<&'a str>,
}

const COLUMNS: &str = "name, access_token, access_expires_at, refresh_token, generation, \
     last_refresh_at, refreshing_by, refreshing_until, failed_at, error, alerted_at";

fn row(r: &sqlx::any::AnyRow) -> Result<AccountRow> {
    Ok(AccountRow {
        name: col(r, "name")?,
        access_token: col(r, "access_token")?,
        access_expires_at: opt_from_ms(col(r, "access_expires_at")?)?,
        refresh_token: col(r, "refresh_token")?,
        generation: col(r, "generation")?,
        last_refresh_at: opt_from_ms(col(r, "last_refresh_at")?)?,
        refreshing_by: col(r, "refreshing_by")?,
        refreshing_until: opt_from_ms(col(r, "refreshing_until")?)?,
        failed_at: opt_from_ms(col(r, "failed_at")?)?,
        error: col(r, "error")?,
        alerted_at: opt_from_ms(col(r, "alerted_at")?)?,
    })
}

impl Store {
    pub async fn oauth_account(&self, name: &str) -> Result<Option<AccountRow>> {
        let sql = format!("SELECT {COLUMNS} FROM oauth_accounts WHERE name = $1");
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name.to_string())
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(row).transpose()
    }

    pub async fn oauth_accounts(&self) -> Result<Vec<AccountRow>> {
        let sql = format!("SELECT {COLUMNS} FROM oauth_accounts ORDER BY name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(row).collect()
    }

    /// Tokens from a sign-in: they replace whatever was there, and end any
    /// failure (a new incident may alert again).
    pub async fn oauth_signed_in(
        &self,
        name: &str,
        t: &NewTokens<'_>,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO oauth_accounts (name, access_token, access_expires_at, refresh_token, scope, \
                 generation, last_refresh_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $6) \
             ON CONFLICT (name) DO UPDATE SET access_token = $2, access_expires_at = $3, \
                 refresh_token = $4, scope = $5, generation = oauth_accounts.generation + 1, \
                 last_refresh_at = $6, updated_at = $6, refreshing_by = NULL, refreshing_until = NULL, \
                 failed_at = NULL, error = NULL, alerted_at = NULL",
        )
        .bind(name.to_string())
        .bind(t.access_token.to_string())
        .bind(ms(t.access_expires_at))
        .bind(t.refresh_token.map(str::to_string))
        .bind(t.scope.map(str::to_string))
        .bind(ms(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Claims the right to refresh `name` until `until`: true for one
    /// caller while the claim runs, across every instance on this database.
    /// Only a row still at `generation` can be claimed, so nobody spends a
    /// refresh token another instance has just replaced.
    pub async fn oauth_claim_refresh(
        &self,
        name: &str,
        generation: i64,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE oauth_accounts SET refreshing_by = $1, refreshing_until = $2 \
             WHERE name = $3 AND generation = $4 \
               AND (refreshing_until IS NULL OR refreshing_until < $5)",
        )
        .bind(owner.to_string())
        .bind(ms(until))
        .bind(name.to_string())
        .bind(generation)
        .bind(ms(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The result of a refresh: new tokens, the claim released, a failure
    /// ended. Written whatever became of the claim (once the provider has
    /// rotated the refresh token, the new one is the only one that works),
    /// unless a sign-in wrote newer tokens meanwhile (false then).
    pub async fn oauth_refreshed(
        &self,
        name: &str,
        generation: i64,
        t: &NewTokens<'_>,
        now: Timestamp,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE oauth_accounts SET access_token = $1, access_expires_at = $2, \
                 refresh_token = COALESCE($3, refresh_token), scope = COALESCE($4, scope), \
                 generation = generation + 1, last_refresh_at = $5, updated_at = $5, \
                 refreshing_by = NULL, refreshing_until = NULL, \
                 failed_at = NULL, error = NULL, alerted_at = NULL \
             WHERE name = $6 AND generation = $7",
        )
        .bind(t.access_token.to_string())
        .bind(ms(t.access_expires_at))
        .bind(t.refresh_token.map(str::to_string))
        .bind(t.scope.map(str::to_string))
        .bind(ms(now))
        .bind(name.to_string())
        .bind(generation)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A refresh the provider refused: the claim released, the failure
    /// kept (its first time kept too: an incident starts once) — unless
    /// the tokens changed since the claim (a sign-in, or another
    /// instance's refresh): the refusal was of a token no longer used.
    pub async fn oauth_refresh_failed(
        &self,
        name: &str,
        generation: i64,
        error: &str,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE oauth_accounts SET refreshing_by = NULL, refreshing_until = NULL, \
                 failed_at = COALESCE(failed_at, $1), error = $2, updated_at = $1 \
             WHERE name = $3 AND generation = $4",
        )
        .bind(ms(now))
        .bind(error.to_string())
        .bind(name.to_string())
        .bind(generation)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Releases a claim without a result (the provider could not be reached).
    pub async fn oauth_release(&self, name: &str, owner: &str) -> Result<()> {
        sqlx::query(
            "UPDATE oauth_accounts SET refreshing_by = NULL, refreshing_until = NULL \
             WHERE name = $1 AND refreshing_by = $2",
        )
        .bind(name.to_string())
        .bind(owner.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

impl Tx {
    /// Claims the alert of the account's current incident: true once per
    /// incident, across every instance.
    pub async fn oauth_claim_alert(&mut self, name: &str, now: Timestamp) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE oauth_accounts SET alerted_at = $1 \
             WHERE name = $2 AND failed_at IS NOT NULL AND alerted_at IS NULL",
        )
        .bind(ms(now))
        .bind(name.to_string())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
