//! The Threat Response relay for Auth0 Signals on AWS Lambda.
//!
//! **What it is:** a thin adapter that builds [`xdr_relay_core::RelayConfig`] from the Lambda's
//! environment and serves [`xdr_relay_core::router`] through `lambda_http` (API Gateway REST and
//! HTTP APIs, Function URLs, ALB). It is the only crate that knows Lambda events.
//! **What it is not:** relay logic; every route, rule and error lives in `relay-core`.
//!
//! ```
//! let config = xdr_relay_lambda::config_from_env(|name| match name {
//!     "SECRET_KEY" => Some("from the function's environment".to_owned()),
//!     _ => None,
//! })
//! .unwrap();
//! assert!(config.secret_key.is_some());
//! let _app = xdr_relay_lambda::app(config).unwrap();
//! ```
#![forbid(unsafe_code)]

use axum::Router;
use axum::extract::Request;
use lambda_http::RequestExt as _;
use lambda_http::request::RequestContext;
use tower::Layer as _;
use xdr_relay_core::{JwksConfig, RelayConfig, SecretKey};

/// Reads the relay's configuration from environment variables (`AUTH_TYPE`, `SECRET_KEY`,
/// `RELAY_URL`, `JWKS_ALLOWED_HOSTS`, `SIGNALS_API_URL`, `CTR_ENTITIES_LIMIT`,
/// `RELAY_OPENAPI`), through `get` so tests need no process env.
///
/// `AUTH_TYPE` is `secret-key` (the default: HS256 tokens signed with `SECRET_KEY`) or `jwks`
/// (Cisco XDR configuration tokens, RS256, whose audience must be `RELAY_URL`; key servers
/// from the comma-separated `JWKS_ALLOWED_HOSTS`, by default the XDR regions').
///
/// A missing or empty `SECRET_KEY` is not an error: the function still starts and answers
/// every authenticated route with an authorization error saying it is not configured, which
/// is what an operator sees in Threat Response right after deploying. A missing `RELAY_URL`
/// in `jwks` mode is an error: there is no audience to check tokens against.
pub fn config_from_env(get: impl Fn(&str) -> Option<String>) -> Result<RelayConfig, String> {
    let mut config = RelayConfig::default();
    let auth_type = get("AUTH_TYPE").unwrap_or_default();
    match auth_type.trim().to_ascii_lowercase().as_str() {
        "" | "secret-key" => {
            config.secret_key = get("SECRET_KEY").as_deref().and_then(SecretKey::new);
        }
        "jwks" => config.jwks = Some(jwks_from_env(&get)?),
        _ => {
            return Err(format!(
                "AUTH_TYPE must be secret-key or jwks, got {auth_type:?}"
            ));
        }
    }
    if let Some(url) = get("SIGNALS_API_URL").filter(|u| !u.is_empty()) {
        config.signals.base_url = url;
    }
    if let Some(limit) = get("CTR_ENTITIES_LIMIT").filter(|l| !l.is_empty()) {
        config.entities_limit = limit
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                format!("CTR_ENTITIES_LIMIT must be a positive integer, got {limit:?}")
            })?;
    }
    if let Some(flag) = get("RELAY_OPENAPI").filter(|f| !f.is_empty()) {
        config.openapi = match flag.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(format!("RELAY_OPENAPI must be true or false, got {flag:?}")),
        };
    }
    Ok(config)
}

fn jwks_from_env(get: &impl Fn(&str) -> Option<String>) -> Result<JwksConfig, String> {
    let relay_url = get("RELAY_URL")
        .filter(|u| !u.trim().is_empty())
        .ok_or("RELAY_URL is not set: with AUTH_TYPE=jwks the relay accepts only tokens whose audience is its own public URL")?;
    let mut jwks = JwksConfig::new(relay_url.trim());
    if let Some(hosts) = get("JWKS_ALLOWED_HOSTS") {
        let hosts: Vec<String> = hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
            .collect();
        if !hosts.is_empty() {
            jwks.allowed_hosts = hosts;
        }
    }
    Ok(jwks)
}

/// The relay's router, with the API Gateway REST stage removed from paths.
///
/// `lambda_http` prefixes an API Gateway path with its stage (`/prod/health`); the relay's
/// routes are stage-agnostic, so the prefix is taken off here, before routing: a
/// `Router::layer` middleware would run after the route was already chosen.
pub fn app(config: RelayConfig) -> Result<Router, xdr_relay_core::ConfigError> {
    let relay = xdr_relay_core::router(config)?;
    let stage_stripped = axum::middleware::map_request(strip_stage).layer(relay);
    Ok(Router::new().fallback_service(stage_stripped))
}

async fn strip_stage(mut request: Request) -> Request {
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
