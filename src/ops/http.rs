//! The optional HTTP listener (`[http] listen`): `/metrics` in Prometheus
//! text format, `/healthz` as JSON (200 when healthy, 503 otherwise), and
//! the survey's rating links `/rate/TOKEN/N`: a GET only shows a button
//! (mail scanners open every link in a message), the POST it sends records
//! the rating; the last one counts.
//! Every answer is bounded: a database that does not answer within
//! [`DB_TIMEOUT`] is reported, not waited for.

use super::health::{Health, assess};
use super::metrics;
use crate::clock::Clock;
use crate::store::Store;
use axum::Router;
use axum::extract::{Path, State};
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
    /// Signs and checks the customers' tokens in rating links.
    pub key: crate::domain::token::TokenKey,
}

/// Serves until `shutdown`.
pub async fn serve(listener: TcpListener, state: Arc<HttpState>, shutdown: CancellationToken) {
    let app = Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(healthz))
        .route("/rate/{token}/{rating}", get(rate_page).post(rate_submit))
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
    let verdict = assess(
        s.health.snapshot(),
        s.health.oauth_snapshot(),
        s.clock.now(),
        database,
    );
    let code = if verdict.healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(verdict)).into_response()
}

fn page(code: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         button{{font-size:1.1rem;padding:.5rem 1.2rem}}</style></head><body><h1>{title}</h1>{body}</body></html>"
    );
    // The page carries the customer's rating token in its address: it is
    // never framed (clickjacking a one-click rating), never cached, never
    // sent on as a Referer, and runs nothing.
    (
        code,
        [
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'",
            ),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        axum::response::Html(html),
    )
        .into_response()
}

fn not_valid() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "This link does not work",
        "<p>It may be incomplete, or the survey is no longer open. You can still answer by replying to our email with a number from 1 to 5.</p>",
    )
}

/// Shows the chosen rating with a button; nothing is recorded yet.
async fn rate_page(Path((token, rating)): Path<(String, u8)>) -> Response {
    let Some(ticket) =
        crate::domain::token::claimed_ticket(&token).filter(|_| (1..=5).contains(&rating))
    else {
        return not_valid();
    };
    let stars = "★".repeat(rating.into()) + &"☆".repeat(5 - usize::from(rating));
    page(
        StatusCode::OK,
        "How did we do?",
        &format!(
            "<p>Your rating for request #{ticket}: <strong>{rating} of 5</strong> {stars}</p>\
             <form method=\"post\"><button type=\"submit\">Send my rating</button></form>"
        ),
    )
}

async fn rate_submit(
    State(s): State<Arc<HttpState>>,
    Path((token, rating)): Path<(String, u8)>,
) -> Response {
    let now = s.clock.now();
    match crate::ratings::rate_by_link(&s.store, &s.key, &token, rating, now).await {
        Ok(Some(_)) => page(
            StatusCode::OK,
            "Thank you",
            &format!(
                "<p>We have your rating: <strong>{rating} of 5</strong>. You can change it with another link from the same email.</p>"
            ),
        ),
        Ok(None) => not_valid(),
        Err(e) => {
            tracing::error!(error = %e, "a rating could not be stored");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Please try again in a moment",
                "<p>We could not store your rating just now.</p>",
            )
        }
    }
}
