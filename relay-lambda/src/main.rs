//! `relay-lambda`: the Threat Response relay for Auth0 Signals on AWS Lambda (`bootstrap`).
#![forbid(unsafe_code)]

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // JSON logs for CloudWatch, filtered by RUST_LOG, else by the level of the function's
    // logging configuration (AWS_LAMBDA_LOG_LEVEL), else info.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").ok();
        EnvFilter::new(lambda_level(level.as_deref()))
    });
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false);
    // With the JSON log format Lambda reads each line's `level` only next to an RFC 3339
    // `timestamp`; without one it files the line as INFO, and an ApplicationLogLevel of WARN
    // would then drop the relay's warnings and errors. In the text format CloudWatch's own
    // time is enough.
    let json_format =
        std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.trim().eq_ignore_ascii_case("JSON"));
    if json_format {
        subscriber.init();
    } else {
        subscriber.without_time().init();
    }
    let config = xdr_relay_lambda::config_from_env(|name| std::env::var(name).ok())?;
    // Deliberately not fatal here (unlike relay-server): the function starts and answers
    // "not configured", which is what an operator sees in Threat Response after deploying.
    if let Err(missing) = config.require_credentials() {
        tracing::warn!("{missing}; every authenticated route will answer an authorization error");
    }
    let app = xdr_relay_lambda::app(config)?;
    lambda_http::run(app).await
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
