//! The Cisco Threat Response / XDR relay for Auth0 Signals, and the SDK for relays of any source.
//!
//! **What it is:** everything a Threat Response relay module needs besides its source of
//! intelligence, as one [`axum::Router`]: JWT verification (HS256 with a shared secret, or Cisco
//! XDR's RS256 configuration tokens against the region's published keys: [`JwksConfig`]), the
//! caller's credentials checked and typed ([`Credentials`]), request parsing, limits and
//! observable filtering, the error envelope with partial data, the entity limit, `/version`,
//! `/watchdog`, the `/respond/*` defaults and the OpenAPI document. The source is a
//! [`Provider`]: [`router_for`] serves any provider, and [`router`] the first one,
//! [`Auth0Signals`] (the mapping from Auth0 Signals reports to CTIM, and refer links).
//! Every request gets an id (`X-Request-Id`), a tracing span, a log line and metrics, and a
//! handler that panics answers HTTP 500 alone: [`telemetry`].
//! **What it is not:** it never reads environment variables, never binds a socket and never
//! installs a metrics recorder, a subscriber or a panic hook; the adapters (`relay-server`,
//! `relay-lambda`, or a relay's own `main`) build the config, install those and serve the
//! router. The [`Provider`] docs show a minimal provider; `examples/blocklist_relay` in the
//! repository is a complete one.
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
//!
//! # Cargo features
//!
//! - `bench` (off by default): the module `xdr_relay_core::bench`, entry points for the crate's
//!   own benchmarks and fuzz targets. **Unstable:** not part of the API, may change or disappear in any release.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// The modules import each other top-down only (`use crate::` lines form no cycle); the shared
// half never imports `signals`, which imports the shared half. ARCHITECTURE.md draws the graph.
mod app;
mod auth;
mod config;
mod credentials;
mod error;
mod jwks;
mod module_type;
mod openapi;
mod provider;
mod request;
mod routes;
mod settings;
#[cfg(feature = "signals")]
mod signals;
mod stats;
pub mod telemetry;
mod token;
mod upstream;

#[cfg(feature = "bench")]
pub mod bench;

/// The attribute a [`Provider`] implementation carries (`#[async_trait]`), re-exported so that
/// a provider's crate needs no dependency of its own and always uses relay-core's version.
pub use async_trait::async_trait;
/// The CTIM entities providers return, re-exported so that a provider's crate uses exactly
/// relay-core's version.
pub use ctim_model;
/// Dates and durations (CTIM's [`Timestamp`](ctim_model::Timestamp) wraps
/// `time::OffsetDateTime`), re-exported so that a provider computes times with relay-core's
/// version.
pub use time;

pub use app::App;
pub use auth::{SecretKey, SigningError, encode_claims, encode_token};
pub use config::RelayConfig;
pub use credentials::{CredentialField, CredentialKind, Credentials};
pub use error::{AuthFailure, ConfigError, RelayError, UpstreamFailure};
pub use jwks::{DEFAULT_JWKS_HOSTS, JwksConfig};
pub use module_type::{
    CONFIGURATION_PREFIX, ModuleAuth, SECRET_KEY_PLACEHOLDER, configuration_key, module_type,
};
pub use openapi::openapi_for;
pub use provider::{
    Context, Outcome, Provider, ProviderInfo, ReferLink, ResponseAction, TriggerStatus,
};
pub use request::{ParsedObservable, Trigger};
pub use routes::router_for;
pub use settings::{EnvError, EnvVar, Settings};
#[cfg(feature = "signals")]
pub use signals::{
    Auth0Signals, DEFAULT_SIGNALS_API_URL, SIGNALS_API_URL, SignalsConfig, openapi, router,
    signals_info,
};
pub use upstream::{
    UPSTREAM_BREAKER_COOL_DOWN, UPSTREAM_BREAKER_FAILURES, UPSTREAM_MAX_IN_FLIGHT, Upstream,
    UpstreamError, UpstreamLimits, lookup_all,
};

/// The code of README.md, compiled (and run, unless marked `no_run`) with the doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// This crate's version (the Auth0 Signals provider's; every provider gives its own in
/// [`ProviderInfo::version`]).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod tests {
    #[test]
    fn version_is_the_package_version() {
        assert_eq!(super::VERSION, env!("CARGO_PKG_VERSION"));
        assert!(!super::VERSION.is_empty());
    }
}
