//! `serve`: the relay's configuration and provider from the settings, the metrics listener,
//! the router on tokio behind the hardened connection loop ([`crate::http`]), and a graceful
//! shutdown on SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use xdr_relay_core::{App, Provider, ProviderInfo, RelayConfig, Settings, Suite, telemetry};

use crate::{http, metrics, settings};

/// Serves the relay `app` (the command `name`) with `settings` until a shutdown signal.
pub(crate) fn run<P: Provider>(
    name: &str,
    app: &App<P>,
    settings: &Settings<'_>,
) -> Result<(), String> {
    let common = Common::read(name, settings)?;
    let info = app.info();
    // Before the router, so that what it records at start is kept.
    let metrics = common
        .metrics_listen
        .map(|_| metrics::install(info))
        .transpose()?;
    let provider = Arc::new(app.build(settings).map_err(|e| e.to_string())?);
    let router = xdr_relay_core::router_for(
        common.config.clone(),
        Arc::clone(&provider) as Arc<dyn Provider>,
    )
    .map_err(|e| e.to_string())?;
    let task = app.serve_task(provider);
    let announce = |local: std::net::SocketAddr, auth: &str| {
        tracing::info!(
            address = %local,
            relay = %info.name,
            auth,
            version = %info.version,
            "{name} listening"
        );
    };
    common.serve(name, metrics, router, task.into_iter().collect(), announce)
}

/// Serves the relays of `suite` (the command `name`) with `settings` until a shutdown signal.
pub(crate) fn run_suite(name: &str, suite: &Suite, settings: &Settings<'_>) -> Result<(), String> {
    let common = Common::read(name, settings)?;
    let info = ProviderInfo::new(name.to_owned(), suite.version().to_owned(), []);
    let metrics = common
        .metrics_listen
        .map(|_| metrics::install(&info))
        .transpose()?;
    let mut served = suite
        .build(&common.config, settings)
        .map_err(|e| e.to_string())?;
    for (relay, why) in served.skipped() {
        tracing::info!(relay = %relay, "{relay} not served: {why}");
    }
    for relay in served.relays() {
        if let Some(member) = suite.member(relay) {
            let version = member.info().version.to_string();
            telemetry::in_relay_sync(Arc::from(relay.as_str()), || {
                ::metrics::gauge!(telemetry::BUILD_INFO, "version" => version).set(1.0);
            });
        }
    }
    let relays = served.relays().join(",");
    let tasks = served.take_tasks();
    let announce = |local: std::net::SocketAddr, auth: &str| {
        tracing::info!(
            address = %local,
            relays = %relays,
            auth,
            version = %suite.version(),
            "{name} listening"
        );
    };
    common.serve(name, metrics, served.into_router(), tasks, announce)
}

/// A task beside the server (a relay's [`App::on_serve`]).
type Task = std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// What serving one relay or a suite shares: the settings of the server and of the relays.
struct Common {
    listen: SocketAddr,
    config: RelayConfig,
    metrics_listen: Option<SocketAddr>,
    limits: http::Limits,
}

impl Common {
    fn read(name: &str, settings: &Settings<'_>) -> Result<Self, String> {
        let listen = settings::listen(settings)?;
        let config = settings::relay_config(settings).map_err(|e| settings::explain(name, &e))?;
        let metrics_listen = settings::metrics_listen(settings, listen)?;
        let limits = settings::limits(settings).map_err(|e| e.to_string())?;
        Ok(Self {
            listen,
            config,
            metrics_listen,
            limits,
        })
    }

    /// Serves `router` with the `tasks` beside it, `announce` logging the address.
    fn serve(
        self,
        name: &str,
        metrics: Option<PrometheusHandle>,
        router: axum::Router,
        tasks: Vec<Task>,
        announce: impl FnOnce(SocketAddr, &str),
    ) -> Result<(), String> {
        let Self {
            listen,
            config,
            metrics_listen,
            limits,
        } = self;
        let auth = if config.jwks.is_some() {
            "jwks"
        } else {
            "secret-key"
        };
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
            announce(local, auth);
            if let (Some(address), Some(handle)) = (metrics_listen, metrics) {
                let listener = metrics::bind(address).await?;
                let local = listener
                    .local_addr()
                    .map_err(|e| format!("cannot read the metrics address: {e}"))?;
                tracing::info!(address = %local, "metrics at GET /metrics");
                tokio::spawn(async move { metrics::serve(listener, handle, &limits).await });
            }
            for task in tasks {
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
