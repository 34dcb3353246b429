//! `relay-lambda`: the Threat Response relay for Auth0 Signals on AWS Lambda (`bootstrap`).
#![forbid(unsafe_code)]

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_logging();
    xdr_relay_core::telemetry::log_panics();
    let config = xdr_relay_lambda::config_from_env(|name| std::env::var(name).ok())?;
    // Deliberately not fatal here (unlike relay-server): the function starts and answers
    // "not configured", which is what an operator sees in Threat Response after deploying.
    if let Err(missing) = config.require_credentials() {
        tracing::warn!("{missing}; every authenticated route will answer an authorization error");
    }
    let app = xdr_relay_lambda::app(config)?;
    lambda_http::run(app).await
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
