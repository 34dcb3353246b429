//! A typed client for the Auth0 Signals IP reputation API.
//!
//! **What it is:** the only code that talks to Auth0 Signals.
//! **What it is not:** it knows nothing of CTIM or Threat Response.
//!
//! ```
//! assert_eq!(signals_client::DEFAULT_BASE_URL, "https://signals.api.auth0.com/");
//! ```
#![forbid(unsafe_code)]

/// The public Auth0 Signals API.
pub const DEFAULT_BASE_URL: &str = "https://signals.api.auth0.com/";

#[cfg(test)]
mod tests {
    #[test]
    fn default_base_url_is_https_and_ends_with_slash() {
        assert!(super::DEFAULT_BASE_URL.starts_with("https://"));
        assert!(super::DEFAULT_BASE_URL.ends_with('/'));
    }
}
