//! The API key: a secret that can be sent but never printed.

use std::fmt;

use reqwest::header::HeaderValue;

use crate::error::Error;

/// An Auth0 Signals API key.
///
/// It is kept as a ready-to-send header value (validated once, marked sensitive so the HTTP
/// stack never logs it) and its `Debug` and `Display` print `[redacted]`. There is
/// deliberately no way to read it back: the client only ever sends it.
///
/// `ApiKey` is `Eq + Hash`, so a caller can key a per-credential cache on it without handling
/// the secret itself. Cloning is cheap (a reference-counted buffer).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ApiKey(HeaderValue);

impl ApiKey {
    /// Wraps a key.
    ///
    /// # Errors
    /// [`Error::InvalidApiKey`] when the key is empty or holds characters that cannot be sent
    /// in an HTTP header (control characters such as a newline).
    pub fn new(key: impl Into<String>) -> Result<Self, Error> {
        let key = key.into();
        if key.is_empty() {
            return Err(Error::InvalidApiKey);
        }
        let mut value = HeaderValue::try_from(key).map_err(|_| Error::InvalidApiKey)?;
        value.set_sensitive(true);
        Ok(Self(value))
    }

    pub(crate) fn header_value(&self) -> &HeaderValue {
        &self.0
    }

    /// The raw bytes, only to scrub them out of upstream text before it goes into an error.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, valid: bool) {
        assert_eq!(ApiKey::new(input).is_ok(), valid, "{input:?}");
    }

    #[test]
    fn accepts_header_safe_keys_only() {
        check("6b4e1f3a-0000-4000-8000-000000000000", true);
        check("any visible ascii ~!@#", true);
        check("", false);
        check("line\nbreak", false);
        check("carriage\rreturn", false);
        check("nul\0byte", false);
    }

    #[test]
    fn debug_and_display_redact() {
        let key = ApiKey::new("super-secret-value").unwrap();
        assert_eq!(format!("{key:?}"), "ApiKey([redacted])");
        assert_eq!(key.to_string(), "[redacted]");
        assert!(key.header_value().is_sensitive());
    }
}
