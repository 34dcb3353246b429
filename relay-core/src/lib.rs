//! The Cisco Threat Response relay for Auth0 Signals.
//!
//! **What it is:** JWT verification (HS256 with a shared secret, or Cisco XDR's RS256
//! configuration tokens against the region's published keys: [`JwksConfig`]), request parsing
//! and observable filtering, the mapping from Auth0 Signals reports to CTIM, refer links, the
//! error envelope, and every HTTP route as one [`axum::Router`] built by [`router`] from a
//! [`RelayConfig`].
//! **What it is not:** it never reads environment variables and never binds a socket; the
//! adapters (`relay-server`, `relay-lambda`) build the config and serve the router.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use xdr_relay_core::{RelayConfig, SecretKey};
//! use tower::ServiceExt as _;
//!
//! let mut config = RelayConfig::default();
//! config.secret_key = SecretKey::new("a 64-character secret in real deployments");
//! let app = xdr_relay_core::router(config).unwrap();
//!
//! // `/watchdog` needs no token and makes no upstream call.
//! let request = axum::http::Request::get("/watchdog")
//!     .header("Health-Check", "ping")
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! let response = app.oneshot(request).await.unwrap();
//! let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
//! assert_eq!(&body[..], br#"{"data":"ping"}"#);
//! # }
//! ```
#![forbid(unsafe_code)]

mod auth;
mod config;
mod enrich;
mod error;
mod jwks;
mod mapping;
mod openapi;
mod refer;
mod request;
mod routes;

pub use auth::{SecretKey, encode_token};
pub use config::{EnvError, EnvVar, RelayConfig};
pub use error::{AuthFailure, RelayError};
pub use jwks::{DEFAULT_JWKS_HOSTS, JwksConfig};
pub use openapi::openapi;
pub use routes::router;

/// The Auth0 Signals API the relay calls unless configured otherwise.
pub const DEFAULT_SIGNALS_API_URL: &str = signals_client::DEFAULT_BASE_URL;

/// This crate's version, answered by `/version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The configuration cannot work (for example the Signals base URL does not parse).
#[derive(Debug, thiserror::Error)]
#[error("invalid relay configuration: {0}")]
pub struct ConfigError(String);

/// Entry points for `benches/` (criterion) into the crate's private hot paths. Not part of
/// the API: it may change in any release.
#[doc(hidden)]
pub mod bench_support {
    use std::sync::Arc;

    use signals_client::{IpReport, ListKind, ListMetadata};

    /// Parses a request body and keeps the supported observables, as every route does.
    pub fn parse(body: &[u8]) -> Result<usize, crate::RelayError> {
        let observables = crate::request::parse(body, usize::MAX)?;
        Ok(crate::request::supported(observables).len())
    }

    /// Checks an `Authorization` header as every authenticated route does.
    pub fn verify(
        headers: &axum::http::HeaderMap,
        secret: &crate::SecretKey,
    ) -> Result<(), crate::AuthFailure> {
        crate::auth::verify(headers, Some(secret)).map(drop)
    }

    /// The `/observe/observables` data for `(ip, report)` pairs; `metadata` finds the lists.
    pub fn observe(
        reports: &[(String, IpReport)],
        limit: usize,
        metadata: impl Fn(ListKind, &str) -> Option<Arc<ListMetadata>>,
    ) -> ctim_model::ObserveBundle {
        let time = crate::mapping::QueryTime::now();
        let mut data = ctim_model::ObserveBundle::default();
        for (value, report) in reports {
            let Ok(ip) = value.parse() else { continue };
            let observable = crate::request::Observable {
                kind: "ip".into(),
                value: value.clone(),
            };
            let o = crate::request::IpObservable { observable, ip };
            crate::mapping::observe(&mut data, &o, report, &time, limit, &metadata);
        }
        data
    }

    /// The response body the routes send for `data`.
    pub fn envelope_json(data: ctim_model::ObserveBundle) -> Vec<u8> {
        let envelope = crate::error::Envelope::partial(Some(data), &[]);
        serde_json::to_vec(&envelope).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_is_the_package_version() {
        assert_eq!(super::VERSION, env!("CARGO_PKG_VERSION"));
        assert!(!super::VERSION.is_empty());
    }
}
