//! The one error type of this crate, and the coarse classification callers map to their codes.

use std::time::Duration;

/// Everything that can go wrong talking to Auth0 Signals.
///
/// No variant ever holds the API key: upstream text is cut to a short excerpt and scrubbed
/// of the key before it is stored. Use [`Error::kind`] to map an error to a coarse class.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The upstream rejected the API key (HTTP 401, or a 400/404 saying the token must be a
    /// valid RFC 4122 UUID). `message` is the upstream's own explanation.
    #[error("Auth0 Signals rejected the API key: {message}")]
    Unauthorized {
        /// The upstream's message, e.g. `Unauthorized. API Key not found.`
        message: String,
    },
    /// The key is valid but may not do this (HTTP 403).
    #[error("Auth0 Signals denied access: {message}")]
    Forbidden {
        /// The upstream's message.
        message: String,
    },
    /// The upstream kept answering HTTP 429 until the retries ran out.
    #[error("Auth0 Signals rate limit reached{}", RetryAfter(*retry_after))]
    RateLimited {
        /// The wait the upstream asked for in its last `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// Any other unexpected HTTP status (after retries, for 502/503/504).
    #[error("Auth0 Signals answered HTTP {status}: {body}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The start of the body (at most 200 characters), for diagnosis.
        body: String,
    },
    /// No complete answer arrived within the configured time.
    #[error("Auth0 Signals did not answer within {}", Millis(*after))]
    Timeout {
        /// The limit that ran out.
        after: Duration,
    },
    /// The connection could not be opened or broke (after retries, for resets).
    #[error("could not reach Auth0 Signals: {message}")]
    Connection {
        /// The underlying cause, e.g. `Connection refused (os error 111)`.
        message: String,
    },
    /// The TLS handshake failed, typically because the certificate could not be verified.
    #[error("TLS handshake with Auth0 Signals failed: {message}")]
    Tls {
        /// The verification message, e.g. `self signed certificate or unknown issuer`,
        /// ready for `Unable to verify SSL certificate: {message}`.
        message: String,
    },
    /// A successful answer whose body is not what the API documents.
    #[error("could not decode the {what} sent by Auth0 Signals: {message}")]
    Decode {
        /// What was being decoded, e.g. `IP report`.
        what: &'static str,
        /// Why it failed (position and expectation).
        message: String,
    },
    /// An API key that cannot be sent (empty, or with control characters).
    #[error("the API key is empty or holds characters that cannot be sent in an HTTP header")]
    InvalidApiKey,
    /// A list id that cannot name a path segment (empty, `.` or `..`); nothing was sent.
    #[error("the list id {id:?} cannot be used in a request path")]
    InvalidListId {
        /// The offending id.
        id: String,
    },
    /// The [`ClientConfig`](crate::ClientConfig) cannot be used.
    #[error("invalid Auth0 Signals client configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
}

/// A coarse class of [`Error`], for callers that map errors to their own codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The key is missing, malformed or rejected.
    Authorization,
    /// The key may not do this.
    PermissionDenied,
    /// Rate limited even after retries.
    TooManyRequests,
    /// The upstream is down, overloaded, slow or unreachable (5xx, timeouts, connections).
    ServiceUnavailable,
    /// Anything else: TLS failures, undecodable bodies, unexpected statuses, bad config.
    Unknown,
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Unauthorized { .. } | Self::InvalidApiKey => ErrorKind::Authorization,
            Self::Forbidden { .. } => ErrorKind::PermissionDenied,
            Self::RateLimited { .. } => ErrorKind::TooManyRequests,
            Self::Status {
                status: 500 | 502 | 503 | 504,
                ..
            }
            | Self::Timeout { .. }
            | Self::Connection { .. } => ErrorKind::ServiceUnavailable,
            Self::Status { .. }
            | Self::Tls { .. }
            | Self::Decode { .. }
            | Self::InvalidListId { .. }
            | Self::Config { .. } => ErrorKind::Unknown,
        }
    }
}

/// Formats `Some(d)` as ` (retry after 1.5 s)` and `None` as nothing.
struct RetryAfter(Option<Duration>);

impl std::fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(d) => write!(f, " (retry after {} s)", d.as_secs_f64()),
            None => Ok(()),
        }
    }
}

/// Formats a duration as whole milliseconds.
struct Millis(Duration);

impl std::fmt::Display for Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ms", self.0.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(error: Error, kind: ErrorKind, display: &str) {
        assert_eq!(error.kind(), kind, "{error:?}");
        assert_eq!(error.to_string(), display);
    }

    #[test]
    fn kinds_and_messages() {
        check(
            Error::Unauthorized {
                message: "Unauthorized. API Key not found.".into(),
            },
            ErrorKind::Authorization,
            "Auth0 Signals rejected the API key: Unauthorized. API Key not found.",
        );
        check(
            Error::InvalidApiKey,
            ErrorKind::Authorization,
            "the API key is empty or holds characters that cannot be sent in an HTTP header",
        );
        check(
            Error::Forbidden {
                message: "Forbidden".into(),
            },
            ErrorKind::PermissionDenied,
            "Auth0 Signals denied access: Forbidden",
        );
        check(
            Error::RateLimited {
                retry_after: Some(Duration::from_millis(1500)),
            },
            ErrorKind::TooManyRequests,
            "Auth0 Signals rate limit reached (retry after 1.5 s)",
        );
        check(
            Error::RateLimited { retry_after: None },
            ErrorKind::TooManyRequests,
            "Auth0 Signals rate limit reached",
        );
        for status in [500, 502, 503, 504] {
            check(
                Error::Status {
                    status,
                    body: "x".into(),
                },
                ErrorKind::ServiceUnavailable,
                &format!("Auth0 Signals answered HTTP {status}: x"),
            );
        }
        check(
            Error::Status {
                status: 418,
                body: "teapot".into(),
            },
            ErrorKind::Unknown,
            "Auth0 Signals answered HTTP 418: teapot",
        );
        check(
            Error::Timeout {
                after: Duration::from_secs(2),
            },
            ErrorKind::ServiceUnavailable,
            "Auth0 Signals did not answer within 2000 ms",
        );
        check(
            Error::Connection {
                message: "reset".into(),
            },
            ErrorKind::ServiceUnavailable,
            "could not reach Auth0 Signals: reset",
        );
        check(
            Error::Tls {
                message: "self signed certificate".into(),
            },
            ErrorKind::Unknown,
            "TLS handshake with Auth0 Signals failed: self signed certificate",
        );
        check(
            Error::Decode {
                what: "IP report",
                message: "EOF".into(),
            },
            ErrorKind::Unknown,
            "could not decode the IP report sent by Auth0 Signals: EOF",
        );
    }
}
