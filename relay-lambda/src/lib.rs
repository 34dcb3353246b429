//! The Threat Response relay for Auth0 Signals on AWS Lambda.
//!
//! **What it is:** a thin adapter that builds [`xdr_relay_core::RelayConfig`] from the Lambda's
//! environment and serves [`xdr_relay_core::router`] through `lambda_http` (API Gateway REST and
//! HTTP APIs, Function URLs, ALB). It is the only crate that knows Lambda events.
//! **What it is not:** relay logic; every route, rule and error lives in `relay-core`.
//!
//! The variables are those of [`xdr_relay_core::RelayConfig::ENV_VARS`]; the function's
//! `main` passes the process environment:
//!
//! ```
//! let config = xdr_relay_lambda::config_from_env(|name| match name {
//!     "SECRET_KEY" => Some("from the function's environment".to_owned()),
//!     "CTR_ENTITIES_LIMIT" => Some("25".to_owned()),
//!     _ => None,
//! })?;
//! assert!(config.secret_key.is_some());
//! assert_eq!(config.entities_limit, 25);
//! let _app = xdr_relay_lambda::app(config)?;
//!
//! // A bad value stops the function at start, naming the variable.
//! let error = xdr_relay_lambda::config_from_env(|name| {
//!     (name == "RELAY_OPENAPI").then(|| "maybe".to_owned())
//! })
//! .unwrap_err();
//! assert_eq!(error.name(), "RELAY_OPENAPI");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderValue;
use lambda_http::RequestExt as _;
use lambda_http::request::RequestContext;
use tower::Layer as _;
use xdr_relay_core::{EnvError, RelayConfig};

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

/// The relay's router, with the API Gateway REST stage removed from paths.
///
/// `lambda_http` prefixes an API Gateway path with its stage (`/prod/health`); the relay's
/// routes are stage-agnostic, so the prefix is taken off here, before routing: a
/// `Router::layer` middleware would run after the route was already chosen.
///
/// The request's id (`X-Request-Id`, in the relay's logs and its answer) is the invocation's:
/// the one Lambda's own log lines and CloudWatch carry.
pub fn app(config: RelayConfig) -> Result<Router, xdr_relay_core::ConfigError> {
    let relay = xdr_relay_core::router(config)?;
    let prepared = axum::middleware::map_request(prepare).layer(relay);
    Ok(Router::new().fallback_service(prepared))
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
