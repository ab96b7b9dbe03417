//! The Prometheus metrics. Every name is here. Counters and the latency
//! histogram are recorded where things happen (through the `metrics`
//! facade, a no-op in commands that install no recorder); the gauges are
//! read at scrape time from the database and the mailboxes' health, so they
//! are true across instances and restarts.

use super::health::{Health, ImapState};
use crate::domain::model::{Action, Kind};
use crate::store::Gauges;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

const INGESTED: &str = "postdesk_messages_ingested_total";
const DUPLICATES: &str = "postdesk_messages_duplicate_total";
const TICKETS_CREATED: &str = "postdesk_tickets_created_total";
const INGEST_SECONDS: &str = "postdesk_ingest_duration_seconds";
const SENT: &str = "postdesk_outbox_sent_total";
const DEFERRED: &str = "postdesk_outbox_deferred_total";
const FAILED: &str = "postdesk_outbox_failed_total";
const BOUNCED: &str = "postdesk_outbox_bounced_total";
const SLA_NOTICES: &str = "postdesk_sla_notices_total";
const HELD: &str = "postdesk_automatic_mail_held_total";
const DIGESTS: &str = "postdesk_digests_sent_total";
const QUEUED: &str = "postdesk_outbox_queued";
const AT_RISK: &str = "postdesk_tickets_at_risk";
const BREACHED: &str = "postdesk_tickets_breached";
const DATABASE_UP: &str = "postdesk_database_up";
const IMAP_CONNECTED: &str = "postdesk_imap_connected";
const IMAP_STANDBY: &str = "postdesk_imap_standby";
const LAST_FETCH: &str = "postdesk_imap_last_fetch_timestamp_seconds";
const AFTER_INGEST_FAILING: &str = "postdesk_imap_after_ingest_failing";
const AFTER_INGEST_REFUSED: &str = "postdesk_imap_after_ingest_refused_total";
const OAUTH_EXPIRES: &str = "postdesk_oauth_token_expires_timestamp_seconds";
const OAUTH_REFRESH_FAILURES: &str = "postdesk_oauth_refresh_failures_total";

/// Ingest takes milliseconds; a slow disk or a locked database shows in the upper buckets.
const INGEST_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder (once) and returns the handle that renders it.
pub fn install() -> Result<PrometheusHandle, String> {
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(INGEST_SECONDS.into()), INGEST_BUCKETS)
        .map_err(|e| e.to_string())?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|e| e.to_string())?;
    describe();
    Ok(HANDLE.get_or_init(|| handle).clone())
}

fn describe() {
    describe_gauge!(
        OAUTH_EXPIRES,
        "When the OAuth2 account's access token expires (Unix seconds); it is refreshed before."
    );
    describe_counter!(
        OAUTH_REFRESH_FAILURES,
        "Refreshes of an OAuth2 account's token that failed (refused, or the provider not reached)."
    );
    describe_counter!(
        INGESTED,
        "Messages stored, by mailbox and kind (customer, autoreply, bounce, ...); duplicates not counted."
    );
    describe_counter!(
        DUPLICATES,
        "Messages seen again and recognised by Message-ID."
    );
    describe_counter!(TICKETS_CREATED, "Tickets opened, by mailbox.");
    describe_histogram!(
        INGEST_SECONDS,
        metrics::Unit::Seconds,
        "From the raw bytes to the committed transaction, per message."
    );
    describe_counter!(SENT, "Mails the SMTP server accepted, by kind.");
    describe_counter!(
        DEFERRED,
        "Attempt attempts refused for now (4xx, no connection), by kind."
    );
    describe_counter!(FAILED, "Mails given up on (5xx or too old), by kind.");
    describe_counter!(BOUNCED, "Sent mails that came back as a bounce.");
    describe_counter!(
        SLA_NOTICES,
        "SLA notices sent, by notice (warning, escalation)."
    );
    describe_counter!(
        HELD,
        "Automatic mails a limit held back, by mailbox, kind (ack, agent_notify) and limit (acks_per_hour, per_recipient, per_ticket, per_mailbox)."
    );
    describe_counter!(
        DIGESTS,
        "Digests of held-back notifications sent, by mailbox."
    );
    describe_gauge!(QUEUED, "Outbox rows waiting to be sent (all instances).");
    describe_gauge!(
        AT_RISK,
        "Tickets warned about whose running SLA clock is not due yet."
    );
    describe_gauge!(BREACHED, "Tickets whose running SLA clock is past due.");
    describe_gauge!(DATABASE_UP, "1 when the database answered this scrape.");
    describe_gauge!(
        IMAP_CONNECTED,
        "1 while this instance is connected to the mailbox's IMAP server."
    );
    describe_gauge!(IMAP_STANDBY, "1 while another instance holds the mailbox.");
    describe_gauge!(
        AFTER_INGEST_FAILING,
        "1 while the server refuses the mailbox's after_ingest action (new mail is still fetched)."
    );
    describe_counter!(
        AFTER_INGEST_REFUSED,
        "Times the server refused the after_ingest action, by mailbox."
    );
    describe_gauge!(
        LAST_FETCH,
        "When this instance last fetched the mailbox successfully (Unix time)."
    );
}

/// One message through ingest.
pub fn ingested(mailbox: &str, action: Action, kind: Kind, took: Duration) {
    if action == Action::Duplicate {
        counter!(DUPLICATES, "mailbox" => mailbox.to_string()).increment(1);
        return;
    }
    counter!(INGESTED, "mailbox" => mailbox.to_string(), "kind" => kind.as_str()).increment(1);
    if action == Action::Created {
        counter!(TICKETS_CREATED, "mailbox" => mailbox.to_string()).increment(1);
    }
    histogram!(INGEST_SECONDS).record(took.as_secs_f64());
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, Copy)]
pub enum Attempt {
    Sent,
    Deferred,
    Failed,
}

pub fn delivery(outcome: Attempt, kind: &str) {
    let name = match outcome {
        Attempt::Sent => SENT,
        Attempt::Deferred => DEFERRED,
        Attempt::Failed => FAILED,
    };
    counter!(name, "kind" => kind.to_string()).increment(1);
}

pub fn bounced(n: usize) {
    counter!(BOUNCED).increment(n as u64);
}

/// An automatic mail a limit held back.
pub fn held(mailbox: &str, kind: &'static str, limit: &'static str) {
    counter!(HELD, "mailbox" => mailbox.to_string(), "kind" => kind, "limit" => limit).increment(1);
}

pub fn digest_sent(mailbox: &str) {
    counter!(DIGESTS, "mailbox" => mailbox.to_string()).increment(1);
}

pub fn after_ingest_refused(mailbox: &str) {
    counter!(AFTER_INGEST_REFUSED, "mailbox" => mailbox.to_string()).increment(1);
}

pub fn sla_notice(notice: &'static str) {
    counter!(SLA_NOTICES, "notice" => notice).increment(1);
}

/// Sets the gauges read at scrape time: `gauges` is None when the database did not answer.
pub fn set_gauges(gauges: Option<&Gauges>, health: &Health) {
    gauge!(DATABASE_UP).set(if gauges.is_some() { 1.0 } else { 0.0 });
    if let Some(g) = gauges {
        gauge!(QUEUED).set(g.outbox_queued as f64);
        gauge!(AT_RISK).set(g.tickets_at_risk as f64);
        gauge!(BREACHED).set(g.tickets_breached as f64);
    }
    for (name, h) in health.snapshot() {
        let connected = h.state == ImapState::Connected;
        gauge!(IMAP_CONNECTED, "mailbox" => name.clone()).set(f64::from(u8::from(connected)));
        let failing = h.after_ingest_error.is_some();
        gauge!(AFTER_INGEST_FAILING, "mailbox" => name.clone()).set(f64::from(u8::from(failing)));
        let standby = h.state == ImapState::Standby;
        gauge!(IMAP_STANDBY, "mailbox" => name.clone()).set(f64::from(u8::from(standby)));
        if let Some(t) = h.last_fetch {
            gauge!(LAST_FETCH, "mailbox" => name).set(t.as_millisecond() as f64 / 1000.0);
        }
    }
}

/// When an OAuth2 account's access token expires (after each refresh).
pub fn oauth_expires(account: &str, at: jiff::Timestamp) {
    gauge!(OAUTH_EXPIRES, "account" => account.to_string())
        .set(at.as_millisecond() as f64 / 1000.0);
}

/// A refresh of an OAuth2 account's token that failed (refused or not reached).
pub fn oauth_refresh_failed(account: &str) {
    counter!(OAUTH_REFRESH_FAILURES, "account" => account.to_string()).increment(1);
}
