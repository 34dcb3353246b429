//! Any Cisco Threat Response / XDR relay built on [`xdr_relay_core`], on AWS Lambda.
//!
//! **What it is:** the Lambda adapter of a relay: [`run_for`] of an [`App`] reads the
//! relay's and the provider's settings from the function's environment, logs as Lambda's
//! logging controls say, installs the panic hook, builds the provider and serves the relay's
//! router through `lambda_http` (API Gateway REST and HTTP APIs, Function URLs, ALB), each
//! request carrying the invocation's id. [`app_for`] is the router it serves, for tests and
//! for wrapping. After each invocation it writes the relay's metrics (the names and labels of
//! `relay-server`'s `/metrics`) to the function's log in CloudWatch's embedded metric format
//! ([`emf`]), from which CloudWatch makes metrics without an agent or an API call. It is the
//! only crate that knows Lambda events. The `relay-lambda` bootstrap is `run_for` of the Auth0
//! Signals relay.
//! **What it is not:** relay logic; every route, rule and error lives in `relay-core` and the
//! provider's crate.
//!
//! A relay's whole Lambda `main`:
//!
//! ```no_run
//! # use xdr_relay_core::{App, Auth0Signals};
//! # fn my_relay() -> App<Auth0Signals> { Auth0Signals::app() }
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_http::Error> {
//!     xdr_relay_lambda::run_for(my_relay()).await
//! }
//! ```
//!
//! The relay's variables are those of [`xdr_relay_core::RelayConfig::ENV_VARS`]:
//!
//! ```
//! let config = xdr_relay_lambda::config_from_env(|name| match name {
//!     "SECRET_KEY" => Some("from the function's environment".to_owned()),
//!     "CTR_ENTITIES_LIMIT" => Some("25".to_owned()),
//!     _ => None,
//! })?;
//! assert!(config.secret_key.is_some());
//! assert_eq!(config.entities_limit, 25);
//!
//! // A bad value stops the function at start, naming the variable.
//! let error = xdr_relay_lambda::config_from_env(|name| {
//!     (name == "RELAY_OPENAPI").then(|| "maybe".to_owned())
//! })
//! .unwrap_err();
//! assert_eq!(error.name(), "RELAY_OPENAPI");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! and its own, [`LAMBDA_VARS`]: [`RELAY_EMF`](emf::RELAY_EMF) (`false` turns the metrics
//! off) and [`RELAY_METRICS_NAMESPACE`](emf::RELAY_METRICS_NAMESPACE) (default `XdrRelay`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod emf;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderValue;
use lambda_http::RequestExt as _;
use lambda_http::request::RequestContext;
use tower::Layer as _;
use tracing_subscriber::EnvFilter;
use xdr_relay_core::{
    App, ConfigError, EnvError, EnvVar, Provider, ProviderInfo, RelayConfig, Settings, Suite,
};

pub use emf::{EmfConfig, EmfLayer, EmfRecorder, EmfService};

/// The settings only the Lambda adapter reads (the relay's are
/// [`RelayConfig::ENV_VARS`], the provider's its [`App`]'s): its metrics'.
pub const LAMBDA_VARS: &[EnvVar] = &[emf::RELAY_EMF, emf::RELAY_METRICS_NAMESPACE];

/// Reads the relay's configuration through `get` (in production `std::env::var`; tests pass
/// a table, so they need no process env).
///
/// A thin call to [`RelayConfig::from_lookup`], which owns the variables
/// ([`RelayConfig::ENV_VARS`]), how each is parsed and the errors.
///
/// A missing or empty `SECRET_KEY` is not an error: the function still starts and answers
/// every authenticated route with an authorization error saying it is not configured, which
/// is what an operator sees in Threat Response right after deploying
/// ([`RelayConfig::require_credentials`] says whether that is the case). An invalid value, or
/// `AUTH_TYPE=jwks` without `RELAY_URL`, is an error: the function stops at start.
pub fn config_from_env(get: impl Fn(&str) -> Option<String>) -> Result<RelayConfig, EnvError> {
    RelayConfig::from_lookup(get)
}

/// The router of the relay backed by `provider`, with the API Gateway REST stage removed
/// from paths and the invocation's id as each request's id.
///
/// `lambda_http` prefixes an API Gateway path with its stage (`/prod/health`); the relay's
/// routes are stage-agnostic, so the prefix is taken off here, before routing: a
/// `Router::layer` middleware would run after the route was already chosen. (`lambda_http`'s
/// own `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` would do the same only where the deployment sets
/// it; this works whatever the function's environment says.)
///
/// The request's id (`X-Request-Id`, in the relay's logs and its answer) is the invocation's:
/// the one Lambda's own log lines and CloudWatch carry.
///
/// # Errors
///
/// [`ConfigError`] as [`xdr_relay_core::router_for`].
pub fn app_for(config: RelayConfig, provider: Arc<dyn Provider>) -> Result<Router, ConfigError> {
    Ok(prepared(xdr_relay_core::router_for(config, provider)?))
}

/// Runs the relay `app` as the function's handler: its settings from the process environment
/// (the relay's, the provider's, then [`LAMBDA_VARS`]: an invalid value stops the function at
/// start, naming the variable), logging as Lambda's controls say, the panic hook, the
/// metrics recorder, then `lambda_http::run`, writing the metrics to the log after each
/// invocation ([`emf`]) unless `RELAY_EMF=false`.
///
/// Unlike the self-hosted server, it starts without `SECRET_KEY`: it logs a warning and
/// answers every authenticated route with an authorization error saying it is not configured,
/// which is what an operator sees in Threat Response right after deploying. The provider's
/// [`on_serve`](App::on_serve) task does not run on Lambda.
///
/// # Errors
///
/// A setting the relay or the provider refuses, or what `lambda_http::run` returns.
pub async fn run_for<P: Provider>(app: App<P>) -> Result<(), lambda_http::Error> {
    init_logging();
    xdr_relay_core::telemetry::log_panics();
    let env = |name: &str| std::env::var(name).ok();
    let router = router_from_env(&app, env)?;
    run_router(router, app.info()).await
}

/// `lambda_http::run` of `router`, with the metrics of [`emf`] (for the relay `info`) unless
/// `RELAY_EMF=false`: what [`run_for`] and [`run_for_suite`] serve.
async fn run_router(router: Router, info: &ProviderInfo) -> Result<(), lambda_http::Error> {
    let env = |name: &str| std::env::var(name).ok();
    let metrics = EmfConfig::from_settings(&Settings::new(env))?;
    let Some(emf) = metrics.install(info) else {
        return lambda_http::run(router).await;
    };
    let format = env("AWS_LAMBDA_LOG_FORMAT");
    let level = env("AWS_LAMBDA_LOG_LEVEL");
    if emf::level_drops_metrics(format.as_deref(), level.as_deref()) {
        tracing::warn!(
            "with the JSON log format, Lambda files the metrics lines as INFO and its \
             application log level drops them: set it to INFO (or lower) to have the metrics, \
             or RELAY_EMF=false"
        );
    }
    let result = lambda_http::run(emf.layer(router)).await;
    // The runtime's loop ended (the process exits next): the last invocation's lines first.
    let _ = emf.wait_written(emf::EXIT_WAIT);
    result
}

/// What [`run_for`] serves: the relay `app` configured from the variables `env` gives (the
/// relay's, then the provider's), as [`app_for`]'s router. A missing `SECRET_KEY` is logged as
/// a warning, not an error.
///
/// # Errors
///
/// [`ConfigError`] naming the first variable the relay or the provider refuses.
pub fn router_from_env<P: Provider>(
    app: &App<P>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Router, ConfigError> {
    let settings = Settings::new(env);
    let config = RelayConfig::from_settings(&settings)?;
    if let Err(missing) = config.require_credentials() {
        tracing::warn!("{missing}; every authenticated route will answer an authorization error");
    }
    let provider = Arc::new(app.build(&settings)?);
    app_for(config, provider)
}

/// Runs the relay suite `suite` as the function's handler, as [`run_for`] runs one relay:
/// each relay under `/{name}/` (API Gateway routes `/{name}/{proxy+}` to the one function),
/// the relays `RELAYS` names or every relay whose settings are complete. The relays'
/// [`on_serve`](App::on_serve) tasks do not run on Lambda.
///
/// # Errors
///
/// A setting the suite or a relay refuses (naming the relay and the setting), or what
/// `lambda_http::run` returns.
pub async fn run_for_suite(suite: Suite) -> Result<(), lambda_http::Error> {
    init_logging();
    xdr_relay_core::telemetry::log_panics();
    let router = suite_router_from_env(&suite, |name| std::env::var(name).ok())?;
    let info = ProviderInfo::new("xdr-relays", suite.version().to_owned(), []);
    run_router(router, &info).await
}

/// What [`run_for_suite`] serves: the relays of `suite` configured from the variables `env`
/// gives, with [`app_for`]'s stage stripping and request ids.
///
/// # Errors
///
/// [`ConfigError`] naming the relay and the setting it refuses or lacks.
pub fn suite_router_from_env(
    suite: &Suite,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Router, ConfigError> {
    let settings = Settings::new(env);
    let config = RelayConfig::from_settings(&settings)?;
    if let Err(missing) = config.require_credentials() {
        tracing::warn!("{missing}; every authenticated route will answer an authorization error");
    }
    let served = suite.build(&config, &settings)?;
    for (relay, why) in served.skipped() {
        tracing::info!(relay = %relay, "{relay} not served: {why}");
    }
    Ok(prepared(served.into_router()))
}

/// `router` behind the stage stripping and the invocation's request id.
fn prepared(router: Router) -> Router {
    let prepared = axum::middleware::map_request(prepare).layer(router);
    Router::new().fallback_service(prepared)
}

/// Logs as Lambda's advanced logging controls say, with the precedence the Rust runtime
/// documents: the level is `AWS_LAMBDA_LOG_LEVEL` when set, else `RUST_LOG`, else info; the
/// format is JSON when `AWS_LAMBDA_LOG_FORMAT` is `JSON`, else text.
///
/// Unlike the runtime's own default subscriber, JSON lines carry an RFC 3339 `timestamp`:
/// without one Lambda files every line as INFO, and an ApplicationLogLevel of WARN would drop
/// the relay's warnings and errors. They also carry the request's span (its `request_id`, the
/// invocation's). In the text format CloudWatch's own time is enough.
fn init_logging() {
    let filter = match std::env::var("AWS_LAMBDA_LOG_LEVEL") {
        Ok(level) => EnvFilter::new(lambda_level(Some(&level))),
        Err(_) => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT")
        .is_ok_and(|format| format.trim().eq_ignore_ascii_case("JSON"));
    if json {
        logs.json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        logs.without_time().with_ansi(false).init();
    }
}

/// The `tracing` level of one of Lambda's application log levels (`AWS_LAMBDA_LOG_LEVEL`:
/// TRACE, DEBUG, INFO, WARN, ERROR, FATAL); `tracing` has no FATAL, so ERROR stands in.
/// Anything else, or nothing, is `info`.
fn lambda_level(level: Option<&str>) -> &'static str {
    match level.map(|l| l.trim().to_ascii_uppercase()).as_deref() {
        Some("TRACE") => "trace",
        Some("DEBUG") => "debug",
        Some("WARN") => "warn",
        Some("ERROR" | "FATAL") => "error",
        _ => "info",
    }
}

async fn prepare(mut request: Request) -> Request {
    let invocation = request
        .lambda_context_ref()
        .and_then(|context| HeaderValue::from_str(&context.request_id).ok());
    if let Some(id) = invocation {
        request
            .headers_mut()
            .insert(xdr_relay_core::telemetry::REQUEST_ID_HEADER, id);
    }
    strip_stage(request)
}

fn strip_stage(mut request: Request) -> Request {
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.stage.clone(),
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.clone(),
        _ => None,
    };
    let Some(stage) = stage.filter(|s| s != "$default") else {
        return request;
    };
    let uri = request.uri();
    let prefix = format!("/{stage}");
    let Some(rest) = uri.path().strip_prefix(&prefix) else {
        return request;
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return request;
    }
    let rest = if rest.is_empty() { "/" } else { rest };
    let path_and_query = match uri.query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_owned(),
    };
    if let Ok(new_uri) = path_and_query.parse() {
        *request.uri_mut() = new_uri;
    }
    request
}

#[cfg(test)]
mod tests {
    use super::lambda_level;

    #[test]
    fn lambdas_log_levels_map_to_tracing_levels() {
        for (lambda, tracing) in [
            ("TRACE", "trace"),
            ("DEBUG", "debug"),
            ("INFO", "info"),
            ("WARN", "warn"),
            ("ERROR", "error"),
            ("FATAL", "error"),
            (" warn ", "warn"),
            ("verbose", "info"),
        ] {
            assert_eq!(lambda_level(Some(lambda)), tracing, "{lambda}");
        }
        assert_eq!(lambda_level(None), "info");
    }
}
