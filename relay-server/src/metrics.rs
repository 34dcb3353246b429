//! Prometheus metrics on a listener of their own (`--metrics-listen`).
//!
//! relay-core records through the `metrics` facade; here the Prometheus recorder is installed
//! and `GET /metrics` renders it. Only when metrics are asked for: otherwise no recorder is
//! installed and recording costs a branch.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use xdr_relay_core::{ProviderInfo, telemetry};

use crate::http::{self, Limits};

/// The content type of the Prometheus text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Installs the process's Prometheus recorder, with the relay's histogram buckets, and
/// describes the relay's metrics to it (`relay_build_info` naming the relay `info`).
pub(crate) fn install(info: &ProviderInfo) -> Result<PrometheusHandle, String> {
    let mut builder = PrometheusBuilder::new();
    for (name, buckets) in [
        (telemetry::REQUEST_DURATION, telemetry::DURATION_BUCKETS),
        (telemetry::OBSERVABLES, telemetry::OBSERVABLE_BUCKETS),
    ] {
        builder = builder
            .set_buckets_for_metric(Matcher::Full(name.to_owned()), buckets)
            .map_err(|e| format!("cannot set the buckets of {name}: {e}"))?;
    }
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    ::metrics::set_global_recorder(telemetry::RelayLabel::new(recorder))
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    telemetry::describe_metrics(info);
    Ok(handle)
}

/// Serves `GET /metrics` on `listener` until the process ends, through the same hardened
/// loop as the relay ([`http::serve_on`]) with the [`limits`] derived from the relay's, and
/// keeps the recorder's histograms drained.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    handle: PrometheusHandle,
    relay: &Limits,
) {
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let text = handle.render();
            async move { ([(CONTENT_TYPE, TEXT_FORMAT)], text).into_response() }
        }),
    );
    let limits = limits(relay);
    let forever = std::future::pending::<()>();
    if let Err(e) = http::serve_on(listener, app, limits, forever, http::Listener::Metrics).await {
        tracing::error!("metrics server error: {e}");
    }
}

/// The metrics listener's limits: a scraper sends a bodiless `GET` and reads a page, so a few
/// connections, short timeouts (the relay's when shorter), small heads, and no grace.
pub(crate) fn limits(relay: &Limits) -> Limits {
    let short = Duration::from_secs(5);
    Limits {
        header_read_timeout: relay.header_read_timeout.min(short),
        body_read_timeout: relay.body_read_timeout.min(short),
        body_timeout: relay.body_timeout.min(short),
        max_header_bytes: 8 << 10,
        idle_timeout: relay.idle_timeout.min(Duration::from_secs(15)),
        max_connections: METRICS_MAX_CONNECTIONS,
        linger_time: relay.linger_time.min(Duration::from_secs(1)),
        linger_bytes: 64 << 10,
        shutdown_grace: Duration::ZERO,
    }
}

/// Most connections open at once to the metrics listener: a few scrapers.
const METRICS_MAX_CONNECTIONS: usize = 16;

/// Binds the metrics listener, or says why not.
pub(crate) async fn bind(address: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen for metrics on {address}: {e}"))
}
