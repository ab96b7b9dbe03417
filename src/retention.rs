//! Retention as a service: for every mailbox with a `retention` setting,
//! the cut-off times of now and a sweep (or, dry, a count) in the store.
//! The daemon's scheduler runs it once a day (one instance claims the day);
//! `postdesk retention run [--dry-run]` runs it at once.

use crate::config::Config;
use crate::domain::erasure::cutoff;
use crate::store::{Store, StoreError, Swept};
use jiff::Timestamp;

/// Sweeps (or with `dry`, counts) every mailbox that has a retention
/// setting, as of `now`.
pub async fn run(
    store: &Store,
    config: &Config,
    now: Timestamp,
    dry: bool,
) -> Result<Vec<Swept>, StoreError> {
    let key = store.token_key().await?;
    let pseudonym = move |email: &str| key.pseudonym(email);
    let mut out = Vec::new();
    for m in config.mailboxes.iter().filter(|m| m.retention.is_set()) {
        let raw = m.retention.raw.and_then(|a| cutoff(now, a));
        let text = m.retention.text.and_then(|a| cutoff(now, a));
        let swept = if dry {
            store.retention_counts(&m.name, raw, text).await?
        } else {
            store.sweep(&m.name, raw, text, &pseudonym).await?
        };
        out.push(swept);
    }
    Ok(out)
}

/// Whether any mailbox has a retention setting (else nothing ever runs).
pub fn configured(config: &Config) -> bool {
    config.mailboxes.iter().any(|m| m.retention.is_set())
}

/// The daemon's daily run: when no instance has run it for 23 hours, this
/// one claims the day and runs it. Returns what it did, or None when it
/// was not due here. Only called when [`configured`].
pub async fn run_if_due(
    store: &Store,
    config: &Config,
    now: Timestamp,
) -> Result<Option<Vec<Swept>>, StoreError> {
    if let Some(last) = store.retention_last_run().await?
        && now.duration_since(last) < jiff::SignedDuration::from_hours(23)
    {
        return Ok(None);
    }
    if !store.claim_retention(now).await? {
        return Ok(None);
    }
    run(store, config, now, false).await.map(Some)
}
