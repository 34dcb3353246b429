//! The Cisco Threat Response relay for Auth0 Signals.
//!
//! **What it is:** JWT verification, request parsing, the Signals → CTIM mapping and the HTTP
//! routes as one `axum::Router`.
//! **What it is not:** it never reads environment variables and never binds a socket; the
//! adapters (`relay-server`, `relay-lambda`) do that.
//!
//! ```
//! assert!(!relay_core::VERSION.is_empty());
//! ```
#![forbid(unsafe_code)]

/// This crate's version, answered by `/version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod tests {
    #[test]
    fn version_is_the_package_version() {
        assert_eq!(super::VERSION, "0.1.0");
    }
}
