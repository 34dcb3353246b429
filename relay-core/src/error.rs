//! The relay's errors and the envelope every answer travels in: every failure a caller can
//! see, with its Threat Response code, and the configuration error of [`crate::router`].
//!
//! Near the bottom of the module order: it imports only [`crate::stats`].

use axum::Json;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::stats::Stats;

/// The configuration cannot work (for example the Signals base URL does not parse).
#[derive(Debug, thiserror::Error)]
#[error("invalid relay configuration: {0}")]
pub struct ConfigError(pub(crate) String);

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
    /// Auth0 Signals refused the API key carried by the token; the text is Signals' own.
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
    /// `permission denied`: Signals answered 403.
    #[error("{0}")]
    PermissionDenied(String),
    /// `too many requests`: Signals kept answering 429.
    #[error("{0}")]
    TooManyRequests(String),
    /// `service unavailable`: Signals is down, slow or unreachable.
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

    pub(crate) fn entry(&self) -> ErrorEntry {
        ErrorEntry {
            kind: "fatal",
            code: self.code(),
            message: self.to_string(),
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
        // Counted in the request log line; a handler that knows more replaces these stats.
        response.extensions_mut().insert(Stats::one_error());
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
