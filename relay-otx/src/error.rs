//! The relay's own errors: what can stop it from being built. Failures of a request are
//! relay-core's [`RelayError`](xdr_relay_core::RelayError)s, answered in the envelope.

/// The OTX provider cannot be built from its configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A URL setting is not an `http://` or `https://` URL that paths can be joined to.
    #[error("{setting} is not a usable URL: {reason}")]
    Url {
        /// The setting, e.g. `OTX_API_URL`.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A bound is zero where it must not be (a timeout, a concurrency, a page bound).
    #[error("{setting} must be positive")]
    Zero {
        /// The setting, e.g. `OTX_TIMEOUT`.
        setting: &'static str,
    },
    /// The HTTP client cannot be made (its TLS configuration failed to load).
    #[error("cannot make the HTTP client: {0}")]
    Client(String),
}

impl From<BuildError> for xdr_relay_core::ConfigError {
    fn from(error: BuildError) -> Self {
        Self::new(error.to_string())
    }
}
