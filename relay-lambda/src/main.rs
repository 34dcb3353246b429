//! `relay-lambda`: the Threat Response relay for Auth0 Signals on AWS Lambda (`bootstrap`).
#![forbid(unsafe_code)]

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // JSON logs for CloudWatch; RUST_LOG filters (default info).
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time()
        .init();
    let config = xdr_relay_lambda::config_from_env(|name| std::env::var(name).ok())?;
    // Deliberately not fatal here (unlike relay-server): the function starts and answers
    // "not configured", which is what an operator sees in Threat Response after deploying.
    if let Err(missing) = config.require_credentials() {
        tracing::warn!("{missing}; every authenticated route will answer an authorization error");
    }
    let app = xdr_relay_lambda::app(config)?;
    lambda_http::run(app).await
}
