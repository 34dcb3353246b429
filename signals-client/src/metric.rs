//! The metrics the client records through the [`metrics`](https://docs.rs/metrics) facade.
//!
//! Nothing is recorded until the program installs a recorder (an exporter); without one each
//! call costs a branch. Labels are bounded: `endpoint` is the path template, never a real
//! path, and `outcome` is one of [`OUTCOMES`].

use crate::error::Error;

/// Counter: calls to Auth0 Signals, by `endpoint` (`/v2.0/ip/{ip}`, `/v2.0/ip`,
/// `/metadata/{kind}/lists/{id}`) and `outcome` (one of [`OUTCOMES`]); a call counts once
/// however many attempts it took.
pub const REQUESTS: &str = "signals_client_requests_total";

/// Counter: attempts repeated after a transient failure, by `endpoint`.
pub const RETRIES: &str = "signals_client_retries_total";

/// Every value of the `outcome` label of [`REQUESTS`].
///
/// `not_found`: a 400 or 404 that is not about the key (for an IP, "no data"); `auth`: the
/// key is refused (401, 403); `throttled`: still 429 after retries; `unavailable`: a 5xx;
/// `timeout`; `transport`: connection, reset or TLS failures; `error`: anything else (an
/// undecodable answer, an unexpected status).
pub const OUTCOMES: &[&str] = &[
    "ok",
    "not_found",
    "auth",
    "throttled",
    "unavailable",
    "timeout",
    "transport",
    "error",
];

/// The `outcome` label of a finished call.
pub(crate) fn outcome<T>(result: &Result<T, Error>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(Error::Status {
            status: 400 | 404, ..
        }) => "not_found",
        Err(Error::Unauthorized { .. } | Error::InvalidApiKey | Error::Forbidden { .. }) => "auth",
        Err(Error::RateLimited { .. }) => "throttled",
        Err(Error::Status { status, .. }) if *status >= 500 => "unavailable",
        Err(Error::Timeout { .. }) => "timeout",
        Err(Error::Connection { .. } | Error::Tls { .. }) => "transport",
        Err(_) => "error",
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn every_outcome_is_listed_and_each_error_has_one() {
        let cases: Vec<(Result<(), Error>, &str)> = vec![
            (Ok(()), "ok"),
            (
                Err(Error::Status {
                    status: 404,
                    body: String::new(),
                }),
                "not_found",
            ),
            (
                Err(Error::Status {
                    status: 400,
                    body: String::new(),
                }),
                "not_found",
            ),
            (
                Err(Error::Unauthorized {
                    message: String::new(),
                }),
                "auth",
            ),
            (Err(Error::InvalidApiKey), "auth"),
            (
                Err(Error::Forbidden {
                    message: String::new(),
                }),
                "auth",
            ),
            (Err(Error::RateLimited { retry_after: None }), "throttled"),
            (
                Err(Error::Status {
                    status: 503,
                    body: String::new(),
                }),
                "unavailable",
            ),
            (
                Err(Error::Timeout {
                    after: Duration::from_secs(1),
                }),
                "timeout",
            ),
            (
                Err(Error::Connection {
                    message: String::new(),
                }),
                "transport",
            ),
            (
                Err(Error::Tls {
                    message: String::new(),
                }),
                "transport",
            ),
            (
                Err(Error::Status {
                    status: 418,
                    body: String::new(),
                }),
                "error",
            ),
        ];
        for (result, expected) in &cases {
            assert_eq!(outcome(result), *expected, "{result:?}");
        }
        let seen: std::collections::BTreeSet<_> = cases.iter().map(|(_, o)| *o).collect();
        let listed: std::collections::BTreeSet<_> = OUTCOMES.iter().copied().collect();
        assert_eq!(seen, listed);
    }
}
