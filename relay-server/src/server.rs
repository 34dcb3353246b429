//! `serve`: the relay's configuration and provider from the settings, the metrics listener,
//! the router on tokio behind the hardened connection loop ([`crate::http`]), and a graceful
//! shutdown on SIGINT or SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use xdr_relay_core::{App, Provider, Settings};

use crate::{http, metrics, settings};

/// Serves the relay `app` (the command `name`) with `settings` until a shutdown signal.
pub(crate) fn run<P: Provider>(
    name: &str,
    app: &App<P>,
    settings: &Settings<'_>,
) -> Result<(), String> {
    let listen = settings::listen(settings)?;
    let config = settings::relay_config(settings).map_err(|e| settings::explain(name, &e))?;
    let auth = if config.jwks.is_some() {
        "jwks"
    } else {
        "secret-key"
    };
    let metrics_listen = settings::metrics_listen(settings, listen)?;
    let limits = settings::limits(settings).map_err(|e| e.to_string())?;
    let info = app.info();
    // Before the router, so that what it records at start is kept.
    let metrics = metrics_listen.map(|_| metrics::install(info)).transpose()?;
    let provider = Arc::new(app.build(settings).map_err(|e| e.to_string())?);
    let router = xdr_relay_core::router_for(config, Arc::clone(&provider) as Arc<dyn Provider>)
        .map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let local = listener
            .local_addr()
            .map_err(|e| format!("cannot read the listening address: {e}"))?;
        tracing::info!(
            address = %local,
            relay = %info.name,
            auth,
            version = %info.version,
            "{name} listening"
        );
        if let (Some(address), Some(handle)) = (metrics_listen, metrics) {
            let listener = metrics::bind(address).await?;
            let local = listener
                .local_addr()
                .map_err(|e| format!("cannot read the metrics address: {e}"))?;
            tracing::info!(address = %local, "metrics at GET /metrics");
            tokio::spawn(async move { metrics::serve(listener, handle, &limits).await });
        }
        if let Some(task) = app.serve_task(provider) {
            tokio::spawn(task);
        }
        http::serve(listener, router, limits, shutdown_signal())
            .await
            .map_err(|e| format!("server error: {e}"))?;
        tracing::info!("{name} stopped");
        Ok::<(), String>(())
    })?;
    // In-flight requests have finished; background tasks get a moment, not forever.
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what orchestrators send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing requests in flight");
}
