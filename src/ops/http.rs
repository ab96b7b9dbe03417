//! The optional HTTP listener (`[http] listen`): `/metrics` in Prometheus
//! text format and `/healthz` as JSON, 200 when healthy and 503 otherwise.
//! Every answer is bounded: a database that does not answer within
//! [`DB_TIMEOUT`] is reported, not waited for.

use super::health::{Health, assess};
use super::metrics;
use crate::clock::Clock;
use crate::store::Store;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How long a scrape or a health check waits for the database.
pub const DB_TIMEOUT: Duration = Duration::from_secs(2);

pub struct HttpState {
    pub store: Store,
    pub health: Arc<Health>,
    pub clock: Arc<dyn Clock>,
    pub metrics: PrometheusHandle,
}

/// Serves until `shutdown`.
pub async fn serve(listener: TcpListener, state: Arc<HttpState>, shutdown: CancellationToken) {
    let app = Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(healthz))
        .with_state(state);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
    {
        tracing::error!(error = %e, "HTTP listener stopped");
    }
}

async fn scrape(State(s): State<Arc<HttpState>>) -> Response {
    let now = s.clock.now();
    let gauges = match tokio::time::timeout(DB_TIMEOUT, s.store.gauges(now)).await {
        Ok(Ok(g)) => Some(g),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: the database did not answer");
            None
        }
        Err(_) => {
            tracing::warn!("metrics: the database did not answer within {DB_TIMEOUT:?}");
            None
        }
    };
    metrics::set_gauges(gauges.as_ref(), &s.health);
    s.metrics.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response()
}

async fn healthz(State(s): State<Arc<HttpState>>) -> Response {
    let database = match tokio::time::timeout(DB_TIMEOUT, s.store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {DB_TIMEOUT:?}")),
    };
    let verdict = assess(s.health.snapshot(), s.clock.now(), database);
    let code = if verdict.healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(verdict)).into_response()
}
