//! The crate's error type.

use crate::Problems;

/// What can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// JSON that is not a CTIM entity of the expected type (malformed, a missing or unknown
    /// field, a value outside a closed vocabulary, ...).
    #[error("invalid CTIM JSON: {message}")]
    Decode {
        /// What serde reported, with the line and column when reading text.
        message: String,
    },
    /// A timestamp that is not RFC 3339.
    #[error("invalid timestamp {text:?}: {reason}")]
    Timestamp {
        /// The text given.
        text: String,
        /// Why it was rejected.
        reason: String,
    },
    /// An entity that reads but breaks CTIM's rules.
    #[error(transparent)]
    Invalid(#[from] Problems),
}

impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Self {
        Error::Decode {
            message: error.to_string(),
        }
    }
}
