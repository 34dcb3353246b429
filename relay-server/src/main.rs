//! `relay-server`: the self-hosted Threat Response relay for Auth0 Signals.
//!
//! A thin adapter: it reads configuration from the environment and the command line, sets up
//! logging, and serves `xdr_relay_core::router` with axum on tokio until SIGINT or SIGTERM, letting
//! requests in flight finish. All relay logic lives in `relay-core`.
#![forbid(unsafe_code)]

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use xdr_relay_core::{JwksConfig, RelayConfig, SecretKey};

mod jwt;

/// Under load, glibc malloc's arena locks (threads free what other threads allocated) took
/// about a seventh of a warm request's CPU; with mimalloc the server answered 37–46% more
/// requests per second. Built without transparent huge pages (`no_thp`), which added 15 MiB
/// of RSS at 256 connections. `--no-default-features` builds with the system allocator.
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
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "RELAY_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// How tokens are verified: `secret-key` (HS256 with SECRET_KEY) or `jwks` (Cisco XDR
    /// configuration tokens: RS256 with the keys of the region named in the token).
    #[arg(long, env = "AUTH_TYPE", value_enum, default_value_t = AuthType::SecretKey)]
    auth_type: AuthType,
    /// The HS256 key Threat Response's JWTs are signed with (required with AUTH_TYPE=secret-key).
    #[arg(long, env = "SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// The relay's public URL, which configuration tokens name as their audience (required
    /// with AUTH_TYPE=jwks).
    #[arg(long, env = "RELAY_URL")]
    relay_url: Option<String>,
    /// Key servers a configuration token may name, comma-separated [default: the XDR regions'
    /// visibility hosts].
    #[arg(long, env = "JWKS_ALLOWED_HOSTS", value_delimiter = ',')]
    jwks_allowed_hosts: Vec<String>,
    /// Fetch keys over plain HTTP instead of HTTPS (local testing only).
    #[arg(long, env = "JWKS_ALLOW_HTTP", default_value_t = false, action = clap::ArgAction::Set, value_name = "BOOL")]
    jwks_allow_http: bool,
    /// Base URL of the Auth0 Signals API.
    #[arg(long, env = "SIGNALS_API_URL", default_value = xdr_relay_core::DEFAULT_SIGNALS_API_URL)]
    signals_api_url: String,
    /// Most sightings per observable (a token's own CTR_ENTITIES_LIMIT wins).
    #[arg(long, env = "CTR_ENTITIES_LIMIT", default_value_t = RelayConfig::default().entities_limit)]
    ctr_entities_limit: usize,
    /// Serve the OpenAPI document at GET /openapi.json (off by default).
    #[arg(long, env = "RELAY_OPENAPI", default_value_t = false, action = clap::ArgAction::Set, value_name = "BOOL")]
    openapi: bool,
}

/// The two ways the relay verifies tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AuthType {
    /// HS256 tokens signed with SECRET_KEY (`relay-server jwt` makes both).
    SecretKey,
    /// RS256 Cisco XDR configuration tokens, verified with the region's published keys.
    Jwks,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(args)) => args,
        None => cli.serve,
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
    init_logging();
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// Human-readable logs on stderr; `RUST_LOG` filters (default `info`).
fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn config(args: &ServeArgs) -> Result<RelayConfig, String> {
    let mut config = RelayConfig::default();
    match args.auth_type {
        AuthType::SecretKey => {
            let secret_key = args
                .secret_key
                .as_deref()
                .and_then(SecretKey::new)
                .ok_or("SECRET_KEY is not set: the relay cannot verify Threat Response's JWTs without it (make one with `relay-server jwt`)")?;
            config.secret_key = Some(secret_key);
        }
        AuthType::Jwks => config.jwks = Some(jwks_config(args)?),
    }
    if args.ctr_entities_limit == 0 {
        return Err("CTR_ENTITIES_LIMIT must be a positive integer".into());
    }
    config.signals.base_url.clone_from(&args.signals_api_url);
    config.entities_limit = args.ctr_entities_limit;
    config.openapi = args.openapi;
    Ok(config)
}

fn jwks_config(args: &ServeArgs) -> Result<JwksConfig, String> {
    let relay_url = args
        .relay_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or("RELAY_URL is not set: with AUTH_TYPE=jwks the relay accepts only tokens whose audience is its own public URL")?;
    let mut jwks = JwksConfig::new(relay_url);
    let hosts: Vec<String> = args
        .jwks_allowed_hosts
        .iter()
        .map(|h| h.trim())
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect();
    if !hosts.is_empty() {
        jwks.allowed_hosts = hosts;
    }
    jwks.allow_http = args.jwks_allow_http;
    Ok(jwks)
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let config = config(&args)?;
    let router = xdr_relay_core::router(config).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let local = listener
            .local_addr()
            .map_err(|e| format!("cannot read the listening address: {e}"))?;
        tracing::info!(
            address = %local,
            signals = %args.signals_api_url,
            auth = ?args.auth_type,
            version = xdr_relay_core::VERSION,
            "relay-server listening"
        );
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
