//! The relay's errors and the envelope every answer travels in: every failure a caller can
//! see, with its Threat Response code, and the configuration error of
//! [`router_for`](crate::router_for).

use axum::Json;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::settings::EnvError;
use crate::stats::ErrorAnswer;

/// The configuration cannot work (for example an upstream's base URL does not parse, a
/// setting is invalid, or a provider declares a credential field twice).
///
/// ```
/// use xdr_relay_core::{ConfigError, EnvError};
/// let error = ConfigError::new("cannot read /etc/lists/a.netset: no such file");
/// assert_eq!(error.to_string(), "invalid relay configuration: cannot read /etc/lists/a.netset: no such file");
/// let missing = EnvError::Missing { name: "EXAMPLE_API_URL", reason: "the relay needs it" };
/// assert!(ConfigError::from(missing).to_string().contains("EXAMPLE_API_URL"));
/// ```
#[derive(Debug, thiserror::Error)]
#[error("invalid relay configuration: {0}")]
pub struct ConfigError(pub(crate) String);

impl ConfigError {
    /// The configuration cannot work, for the reason given (which must not quote a secret).
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

impl From<EnvError> for ConfigError {
    /// The setting's error, which names the variable (and never quotes a secret).
    fn from(error: EnvError) -> Self {
        Self(error.to_string())
    }
}

/// A networked provider cannot be built from its configuration: what every such relay checks
/// when it is built (its URLs, its bounds, its HTTP client). It converts into the
/// [`ConfigError`] an [`App`](crate::App)'s build function returns.
///
/// ```
/// use xdr_relay_core::{BaseUrl, BuildError};
///
/// let (timeout, concurrency) = (std::time::Duration::from_secs(10), 0);
/// let bounds = [("EXAMPLE_TIMEOUT", !timeout.is_zero()), ("EXAMPLE_CONCURRENCY", concurrency > 0)];
/// let error = BuildError::positive(bounds).unwrap_err();
/// assert_eq!(error.to_string(), "EXAMPLE_CONCURRENCY must be positive");
/// let error = BaseUrl::setting("intel.example", "EXAMPLE_API_URL").unwrap_err();
/// assert!(error.to_string().starts_with("EXAMPLE_API_URL is not a usable URL"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A URL setting is not an `http://` or `https://` URL that paths can be joined to.
    #[error("{setting} is not a usable URL: {reason}")]
    Url {
        /// The setting, e.g. `EXAMPLE_API_URL`.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A bound is zero where it must not be (a timeout, a concurrency, a size).
    #[error("{setting} must be positive")]
    Zero {
        /// The setting, e.g. `EXAMPLE_TIMEOUT`.
        setting: &'static str,
    },
    /// The HTTP client cannot be made (its TLS configuration failed to load).
    #[error("cannot make the HTTP client: {0}")]
    Client(String),
}

impl BuildError {
    /// `Ok` when every bound of `bounds` (a setting, and whether its value is positive) is,
    /// else [`BuildError::Zero`] naming the first that is not.
    ///
    /// # Errors
    ///
    /// [`BuildError::Zero`].
    pub fn positive(bounds: impl IntoIterator<Item = (&'static str, bool)>) -> Result<(), Self> {
        match bounds.into_iter().find(|(_, positive)| !positive) {
            Some((setting, _)) => Err(Self::Zero { setting }),
            None => Ok(()),
        }
    }
}

impl From<BuildError> for ConfigError {
    fn from(error: BuildError) -> Self {
        Self(error.to_string())
    }
}

/// Why a request was not authorised. The `Display` text is the reason Threat Response shows
/// after `Authorization failed: `; none of them contains the token or a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthFailure {
    /// No `Authorization` header.
    #[error("Authorization header is missing")]
    MissingHeader,
    /// The scheme is not `Bearer`, or the header is not text.
    #[error("Wrong authorization type")]
    WrongType,
    /// The token is not `header.payload.signature` with a readable header.
    #[error("Wrong JWT structure")]
    WrongStructure,
    /// The signature does not verify with `SECRET_KEY`, or the algorithm is not HS256.
    #[error("Failed to decode JWT with provided key")]
    BadSignature,
    /// The payload has no string `key`, or its claims are malformed.
    #[error("Wrong JWT payload structure")]
    WrongPayload,
    /// `exp` is in the past.
    #[error("JWT has expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("JWT is not yet valid")]
    NotYetValid,
    /// The relay has no `SECRET_KEY`, so it cannot verify anything.
    #[error("the relay is not configured: <SECRET_KEY> is missing")]
    NotConfigured,
    /// The provider's upstream refused the credentials carried by the token (Auth0 Signals
    /// refused the API key); the text is the upstream's own.
    #[error("{0}")]
    Upstream(String),
    /// JWKS mode: the token's payload has no `jwks_host`.
    #[error(
        "jwks_host is missing in JWT payload. Make sure custom_jwks_host field is present in module_type"
    )]
    JwksHostMissing,
    /// JWKS mode: `jwks_host` is not on the allow-list, or its keys cannot be fetched.
    #[error(
        "Wrong jwks_host in JWT payload. Make sure domain follows the visibility.<region>.cisco.com structure"
    )]
    WrongJwksHost,
    /// JWKS mode: `aud` is missing or is not the relay's `RELAY_URL`.
    #[error("Wrong configuration-token-audience")]
    WrongAudience,
    /// JWKS mode: the header has no `kid`, or the key server has no such key.
    #[error("kid from JWT header not found in API response")]
    KidNotFound,
    /// JWKS mode: the algorithm is not RS256, or the signature does not verify with the key.
    #[error(
        "Failed to decode JWT with provided key. Make sure domain in custom_jwks_host corresponds to your SecureX instance region."
    )]
    BadJwksSignature,
}

/// Every error the relay reports. Each maps to a Threat Response error `code`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// `authorization error`.
    #[error("Authorization failed: {0}")]
    Authorization(#[from] AuthFailure),
    /// `invalid argument`: the request body is not what the route takes.
    #[error("{0}")]
    InvalidArgument(String),
    /// `permission denied`: the upstream answered 403.
    #[error("{0}")]
    PermissionDenied(String),
    /// `too many requests`: the upstream kept answering 429.
    #[error("{0}")]
    TooManyRequests(String),
    /// `service unavailable`: the upstream is down, slow or unreachable.
    #[error("{0}")]
    ServiceUnavailable(String),
    /// `unknown`: anything else, such as an undecodable answer or a TLS failure.
    #[error("{0}")]
    Unknown(String),
    /// `health check failed`: `/watchdog` without its header.
    #[error("Invalid Health-Check")]
    HealthCheckFailed,
    /// `not found`: no such route.
    #[error("The requested URL was not found on the server.")]
    NotFound,
    /// `method not allowed`: the route exists with other methods.
    #[error("The method is not allowed for the requested URL.")]
    MethodNotAllowed,
    /// A code of the provider's own, for failures relay-core has no code for (Cisco's relays
    /// answer `internal error` for an upstream 500 and `web server is down` for a 521):
    /// answered like the others, `type` fatal in an HTTP 200. Build it with
    /// [`RelayError::custom`].
    #[error("{message}")]
    Custom {
        /// The code, e.g. `web server is down`.
        code: &'static str,
        /// The message, which must not quote a credential.
        message: String,
    },
}

impl RelayError {
    /// The Threat Response error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Authorization(_) => "authorization error",
            Self::InvalidArgument(_) => "invalid argument",
            Self::PermissionDenied(_) => "permission denied",
            Self::TooManyRequests(_) => "too many requests",
            Self::ServiceUnavailable(_) => "service unavailable",
            Self::Unknown(_) => "unknown",
            Self::HealthCheckFailed => "health check failed",
            Self::NotFound => "not found",
            Self::MethodNotAllowed => "method not allowed",
            Self::Custom { code, .. } => code,
        }
    }

    /// An error with the provider's own `code` (see [`RelayError::Custom`]).
    ///
    /// ```
    /// let error = xdr_relay_core::RelayError::custom("web server is down", "AbuseIPDB answered 521");
    /// assert_eq!(error.code(), "web server is down");
    /// ```
    pub fn custom(code: &'static str, message: impl Into<String>) -> Self {
        Self::Custom {
            code,
            message: message.into(),
        }
    }

    /// Threat Response expects relay errors in a 200 answer; only routing errors use 4xx.
    fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            _ => StatusCode::OK,
        }
    }

    /// The error for an upstream failure of `kind`, with the upstream's `message` (which must
    /// not quote a credential): the one mapping every provider shares, so that a 401 is an
    /// authorization error and a 429 a rate limit whatever the source.
    ///
    /// ```
    /// use xdr_relay_core::{RelayError, UpstreamFailure};
    ///
    /// let error = RelayError::upstream(UpstreamFailure::from_status(429), "Example Intel: slow down");
    /// assert_eq!(error.code(), "too many requests");
    /// let error = RelayError::upstream(UpstreamFailure::from_status(401), "bad key");
    /// assert_eq!(error.to_string(), "Authorization failed: bad key");
    /// let error = RelayError::upstream(UpstreamFailure::Timeout, "no answer within 5 s");
    /// assert_eq!(error.code(), "service unavailable");
    /// ```
    pub fn upstream(kind: UpstreamFailure, message: impl Into<String>) -> Self {
        let message = message.into();
        match kind {
            UpstreamFailure::Unauthorized => AuthFailure::Upstream(message).into(),
            UpstreamFailure::Forbidden => Self::PermissionDenied(message),
            UpstreamFailure::RateLimited => Self::TooManyRequests(message),
            UpstreamFailure::Unavailable | UpstreamFailure::Timeout => {
                Self::ServiceUnavailable(message)
            }
            UpstreamFailure::Tls => {
                Self::Unknown(format!("Unable to verify SSL certificate: {message}"))
            }
            UpstreamFailure::Other => Self::Unknown(message),
        }
    }

    pub(crate) fn entry(&self) -> ErrorEntry {
        ErrorEntry {
            kind: "fatal",
            code: self.code(),
            message: self.to_string(),
        }
    }
}

/// What went wrong when a provider asked its upstream, for [`RelayError::upstream`].
///
/// | failure | code |
/// |---|---|
/// | `Unauthorized` (HTTP 401) | `authorization error` |
/// | `Forbidden` (403) | `permission denied` |
/// | `RateLimited` (429, after any retries) | `too many requests` |
/// | `Unavailable` (500, 502, 503, 504; refused or reset connections), `Timeout` | `service unavailable` |
/// | `Tls` (the certificate does not verify) | `unknown`, "Unable to verify SSL certificate: …" |
/// | `Other` (any other status, an undecodable answer) | `unknown` |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UpstreamFailure {
    /// The upstream refused the caller's credentials.
    Unauthorized,
    /// The credentials may not do this.
    Forbidden,
    /// Rate limited.
    RateLimited,
    /// Down, overloaded or unreachable.
    Unavailable,
    /// No answer in time.
    Timeout,
    /// The TLS handshake failed (the certificate does not verify).
    Tls,
    /// Anything else.
    Other,
}

impl UpstreamFailure {
    /// Its name in metrics: `unauthorized`, `forbidden`, `rate_limited`, `unavailable`,
    /// `timeout`, `tls` or `other`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::Tls => "tls",
            Self::Other => "other",
        }
    }

    /// The failure an HTTP status of the upstream means (statuses that are not failures, such
    /// as 200 or 404, are [`Other`](Self::Other): the provider decides what they mean).
    ///
    /// ```
    /// use xdr_relay_core::UpstreamFailure;
    /// assert_eq!(UpstreamFailure::from_status(503), UpstreamFailure::Unavailable);
    /// assert_eq!(UpstreamFailure::from_status(418), UpstreamFailure::Other);
    /// ```
    #[must_use]
    pub fn from_status(status: u16) -> Self {
        match status {
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            429 => Self::RateLimited,
            500 | 502 | 503 | 504 => Self::Unavailable,
            _ => Self::Other,
        }
    }
}

/// One element of `errors` in the envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ErrorEntry {
    #[serde(rename = "type")]
    kind: &'static str,
    code: &'static str,
    message: String,
}

/// `{"data": …, "errors": […]}` with empty parts left out.
#[derive(Debug, Serialize)]
pub(crate) struct Envelope<T> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) data: Option<T>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) errors: Vec<ErrorEntry>,
}

impl<T: Serialize> Envelope<T> {
    /// Data and the errors met while gathering it, each distinct error once.
    pub(crate) fn partial(data: Option<T>, errors: &[RelayError]) -> Self {
        let mut entries: Vec<ErrorEntry> = Vec::with_capacity(errors.len());
        for error in errors {
            let entry = error.entry();
            if !entries.contains(&entry) {
                entries.push(entry);
            }
        }
        Self {
            data,
            errors: entries,
        }
    }
}

impl<T: Serialize> Envelope<T> {
    /// The JSON body, written into one buffer sized for a typical answer rather than grown
    /// from `axum::Json`'s small start through repeated reallocations.
    fn write(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut body = Vec::with_capacity(4096);
        serde_json::to_writer(&mut body, self)?;
        Ok(body)
    }

    /// The JSON body (empty should serialisation fail, which none of the relay's types do).
    #[cfg(feature = "bench")]
    pub(crate) fn to_json(&self) -> Vec<u8> {
        self.write().unwrap_or_default()
    }
}

impl<T: Serialize> IntoResponse for Envelope<T> {
    fn into_response(self) -> Response {
        match self.write() {
            Ok(body) => ([(CONTENT_TYPE, "application/json")], body).into_response(),
            // Only a `Serialize` impl that fails can get here; none of the relay's does.
            Err(e) => RelayError::Unknown(format!("cannot write the answer: {e}")).into_response(),
        }
    }
}

impl IntoResponse for RelayError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = Envelope::<()> {
            data: None,
            errors: vec![self.entry()],
        };
        let mut response = (status, Json(body)).into_response();
        // Counted as one error in the request's log line, unless a handler recorded more.
        response.extensions_mut().insert(ErrorAnswer);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(error: RelayError, code: &str, message: &str) {
        let entry = serde_json::to_value(error.entry()).unwrap();
        assert_eq!(
            entry,
            serde_json::json!({"type": "fatal", "code": code, "message": message})
        );
    }

    #[test]
    fn codes_and_messages() {
        check(
            AuthFailure::MissingHeader.into(),
            "authorization error",
            "Authorization failed: Authorization header is missing",
        );
        check(
            AuthFailure::BadSignature.into(),
            "authorization error",
            "Authorization failed: Failed to decode JWT with provided key",
        );
        check(
            AuthFailure::Upstream("Unauthorized. API Key not found.".into()).into(),
            "authorization error",
            "Authorization failed: Unauthorized. API Key not found.",
        );
        check(
            RelayError::InvalidArgument("bad".into()),
            "invalid argument",
            "bad",
        );
        check(
            RelayError::HealthCheckFailed,
            "health check failed",
            "Invalid Health-Check",
        );
        check(
            RelayError::Unknown("Unable to verify SSL certificate: self signed certificate".into()),
            "unknown",
            "Unable to verify SSL certificate: self signed certificate",
        );
    }

    #[test]
    fn upstream_failures_map_to_codes() {
        for (status, code) in [
            (401, "authorization error"),
            (403, "permission denied"),
            (429, "too many requests"),
            (500, "service unavailable"),
            (502, "service unavailable"),
            (503, "service unavailable"),
            (504, "service unavailable"),
            (400, "unknown"),
            (404, "unknown"),
            (501, "unknown"),
        ] {
            let error = RelayError::upstream(UpstreamFailure::from_status(status), "m");
            assert_eq!(error.code(), code, "{status}");
        }
        check(
            RelayError::upstream(UpstreamFailure::Unauthorized, "no such key"),
            "authorization error",
            "Authorization failed: no such key",
        );
        check(
            RelayError::upstream(UpstreamFailure::Tls, "self signed certificate"),
            "unknown",
            "Unable to verify SSL certificate: self signed certificate",
        );
        check(
            RelayError::upstream(UpstreamFailure::Timeout, "slow"),
            "service unavailable",
            "slow",
        );
    }

    #[test]
    fn identical_errors_are_reported_once() {
        let errors = [
            RelayError::ServiceUnavailable("down".into()),
            RelayError::ServiceUnavailable("down".into()),
            RelayError::TooManyRequests("slow down".into()),
        ];
        let envelope = Envelope::<()>::partial(None, &errors);
        assert_eq!(envelope.errors.len(), 2);
        let json = serde_json::to_value(&envelope).unwrap();
        assert!(json.get("data").is_none());
    }
}
