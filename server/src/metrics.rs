//! Operators' metrics: `GET /metrics` in Prometheus text, on a listener of its own
//! (`PORTAL_METRICS_ADDR`, off by default) so the public port and the proxy never serve it.
//! Routes are labelled by their pattern (`/me/exports/{id}`), never by the path a client sent,
//! so no personal value and no made-up path becomes a label.

use std::{sync::OnceLock, time::Instant};

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::{Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use portal_core::{Portal, ops};

const REQUESTS: &str = "portal_http_requests_total";
const LATENCY: &str = "portal_http_request_duration_seconds";

/// The process's recorder, installed the first time a portal with metrics starts. `None` when
/// metrics are off (the layer then does nothing) or another recorder was installed first.
static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder for the process (once) and returns its handle.
pub(crate) fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(LATENCY.into()),
                    &[
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                        15.0,
                    ],
                )
                .and_then(|b| b.install_recorder());
            match built {
                Ok(handle) => {
                    metrics::describe_counter!(
                        REQUESTS,
                        "HTTP requests by route, method and status"
                    );
                    metrics::describe_histogram!(
                        LATENCY,
                        metrics::Unit::Seconds,
                        "Time to answer, by route and method"
                    );
                    Some(handle)
                }
                Err(e) => {
                    tracing::error!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .clone()
}

/// Counts and times every request, by route pattern, method and status. Does nothing while no
/// portal of the process serves metrics.
pub(crate) async fn track(req: Request, next: Next) -> Response {
    if HANDLE.get().is_none_or(Option::is_none) {
        return next.run(req).await;
    }
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    // A fixed set: a client inventing methods adds no series.
    let method = match *req.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        _ => "other",
    };
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::histogram!(LATENCY, "route" => route.clone(), "method" => method)
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(REQUESTS, "route" => route, "method" => method, "status" => status)
        .increment(1);
    resp
}

/// The metrics listener's routes: `GET /metrics` and nothing else.
pub(crate) fn router(portal: Portal, handle: PrometheusHandle) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state((portal, handle))
}

/// Reads the queues and the pool at scrape time, then renders everything.
async fn scrape(State((portal, handle)): State<(Portal, PrometheusHandle)>) -> Response {
    let now = chrono::Utc::now();
    match ops::queues(&portal, now).await {
        Ok(q) => {
            metrics::gauge!("portal_database_up").set(1.0);
            metrics::gauge!("portal_mail_outbox_depth").set(q.outbox_depth as f64);
            metrics::gauge!("portal_mail_outbox_oldest_age_seconds")
                .set(q.outbox_oldest_seconds as f64);
            metrics::gauge!("portal_fulfilment_queue_depth").set(q.fulfilment_depth as f64);
            metrics::gauge!("portal_fulfilment_queue_oldest_age_seconds")
                .set(q.fulfilment_oldest_seconds as f64);
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the queues could not be read");
            metrics::gauge!("portal_database_up").set(0.0);
        }
    }
    let pool = ops::pool(&portal);
    metrics::gauge!("portal_db_pool_connections", "state" => "open").set(f64::from(pool.open));
    metrics::gauge!("portal_db_pool_connections", "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!("portal_db_pool_connections", "state" => "max").set(f64::from(pool.max));
    metrics::gauge!("portal_draining").set(if portal.draining() { 1.0 } else { 0.0 });
    handle.run_upkeep();
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        handle.render(),
    )
        .into_response()
}
