//! Running postdesk as a service: the mailboxes' health, the Prometheus
//! metrics, and the HTTP listener that serves both.

pub mod health;
pub mod http;
pub mod metrics;
pub mod systemd;
