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
    let handle = builder
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    telemetry::describe_metrics(info);
    Ok(handle)
}

/// Serves `GET /metrics` on `listener` until the process ends, and keeps the recorder's
/// histograms drained.
pub(crate) async fn serve(listener: tokio::net::TcpListener, handle: PrometheusHandle) {
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
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!("metrics server error: {e}");
    }
}

/// Binds the metrics listener, or says why not.
pub(crate) async fn bind(address: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen for metrics on {address}: {e}"))
}
