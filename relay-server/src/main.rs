//! `relay-server`: the self-hosted Threat Response relay for Auth0 Signals.
//!
//! A thin adapter: it reads configuration from the environment and the command line, sets up
//! logging (text or JSON), metrics (Prometheus, on a listener of their own) and the panic
//! hook, and serves `xdr_relay_core::router` with axum on tokio until SIGINT or SIGTERM,
//! letting requests in flight finish. All relay logic lives in `relay-core`.
#![forbid(unsafe_code)]

// A panicking request is answered 500 and the server goes on (relay-core's router catches the
// unwind); with `panic = "abort"` one panic would end every request in flight.
#[cfg(not(panic = "unwind"))]
compile_error!(
    "relay-server must be built with panic = \"unwind\" (the release profile's default)"
);

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

mod healthcheck;
mod jwt;
mod metrics;
mod settings;

use settings::{LogFormat, ServeArgs};

/// The process allocates with mimalloc. A request's memory is often freed by another thread
/// than the one that allocated it; under concurrent load glibc malloc's arena locks then cost
/// more than the relay's own JSON work, which mimalloc's per-thread heaps avoid (`cargo xtask
/// bench` measures the difference). It is built without transparent huge pages (`no_thp`),
/// which raise resident memory with many connections open. `--no-default-features` builds
/// with the system allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The Threat Response relay for Auth0 Signals.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the relay over HTTP (the default).
    Serve(ServeArgs),
    /// Make a SECRET_KEY and the JWT Threat Response sends, from your Auth0 Signals API key.
    Jwt(jwt::JwtArgs),
    /// Exit 0 when the relay on --listen / RELAY_LISTEN answers /watchdog (a container's health check).
    Healthcheck(healthcheck::HealthcheckArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(args)) => args,
        None => cli.serve,
        Some(Command::Healthcheck(args)) => return healthcheck::exit(&args),
        Some(Command::Jwt(args)) => {
            return match jwt::run(&args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => {
                    #[allow(clippy::print_stderr)]
                    {
                        eprintln!("relay-server jwt: {message}");
                    }
                    ExitCode::from(2)
                }
            };
        }
    };
    let env = |name: &str| std::env::var(name).ok();
    let format = match settings::log_format(&args, env, std::io::stderr().is_terminal()) {
        Ok(format) => format,
        Err(message) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("relay-server: {message}");
            }
            return ExitCode::from(2);
        }
    };
    init_logging(format);
    xdr_relay_core::telemetry::log_panics();
    match serve(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// Logs on stderr, text or one JSON object per line; `RUST_LOG` filters (default `info`).
fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        // timestamp, level, target, the event's fields (message included) at the top, and the
        // request's span (`request_id`) under `span`.
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

fn serve(args: &ServeArgs) -> Result<(), String> {
    let env = |name: &str| std::env::var(name).ok();
    let listen = settings::listen(args, env)?;
    let config = settings::relay_config(args, env).map_err(|e| settings::explain(&e))?;
    let auth = if config.jwks.is_some() {
        "jwks"
    } else {
        "secret-key"
    };
    let signals = config.signals.base_url.clone();
    let metrics_listen = settings::metrics_listen(args, env, listen)?;
    // Before the router, so that what it records at start is kept.
    let metrics = metrics_listen.map(|_| metrics::install()).transpose()?;
    let router = xdr_relay_core::router(config).map_err(|e| e.to_string())?;
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
            signals = %signals,
            auth,
            version = xdr_relay_core::VERSION,
            "relay-server listening"
        );
        if let (Some(address), Some(handle)) = (metrics_listen, metrics) {
            let listener = metrics::bind(address).await?;
            let local = listener
                .local_addr()
                .map_err(|e| format!("cannot read the metrics address: {e}"))?;
            tracing::info!(address = %local, "metrics at GET /metrics");
            tokio::spawn(metrics::serve(listener, handle));
        }
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| format!("server error: {e}"))?;
        tracing::info!("relay-server stopped");
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
