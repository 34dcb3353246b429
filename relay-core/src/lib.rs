//! The SDK for Cisco XDR / Threat Response relay modules, and the relay for Auth0 Signals.
//!
//! **What it is:** everything a relay module needs besides its source of intelligence, as one
//! [`axum::Router`] ([`router_for`]): JWT verification (HS256 with a shared secret, or Cisco
//! XDR's RS256 configuration tokens against the region's published keys: [`JwksConfig`]), the
//! caller's credentials checked and typed ([`Credentials`]), request parsing, limits and
//! observable filtering, the error envelope with partial data, the entity limit, a deadline
//! per request, `/version`, `/watchdog`, the `/respond/*` and `/tiles*` defaults and the
//! OpenAPI document. A provider may add response actions ([`ResponseAction`]) and dashboard
//! tiles ([`tiles`]: [`ProviderInfo::tile`], [`Provider::tile_data`]).
//! The source is a [`Provider`], described for the adapters by an [`App`] (its
//! [`ProviderInfo`], its [settings](EnvVar), how it is built); a networked provider calls its
//! upstream through an [`Upstream`] (a cap on calls in flight, a circuit breaker, metrics) and
//! looks many observables up at once with [`lookup_all`]; the lookup toolkit serves the rest of
//! what a networked relay needs: a cache per caller and query that shares calls
//! ([`LookupCache`], [`Credentials::digest`]), rate limits remembered per caller
//! ([`Upstream::call_as`]), a JSON API in one call per request ([`JsonApi`]: timeouts bounded
//! by the deadline, a bounded body, status mapping, "nothing known" statuses, a keyless health
//! probe), HTTP helpers ([`http_client`], [`read_body`], [`StatusErrors`],
//! [`RetryAfter`], [`BaseUrl`]), reference data refreshed in the background ([`Refreshed`])
//! and [`Outcome::gather`]. [`module_type`] derives the XDR
//! module type and [`encode_claims`] signs tokens. Every request gets an id (`X-Request-Id`), a
//! tracing span, a log line and metrics, and a handler that panics answers HTTP 500 alone:
//! [`telemetry`]. With the `signals` feature (on by default), the first provider:
//! `Auth0Signals` (the mapping from Auth0 Signals reports to CTIM, and refer links).
//! **What it is not:** it never reads environment variables, never binds a socket and never
//! installs a metrics recorder, a subscriber or a panic hook: `xdr-relay-server`'s `main_for`
//! and `xdr-relay-lambda`'s `run_for` read the settings, install those and serve the router.
//! The [`Provider`] docs show a minimal provider; `relay-blocklist` in the repository is a
//! complete relay, and the README walks a new one from `cargo new` to shipping it.
//!
//! ```
//! # use xdr_relay_core::ctim_model::{ObservableType, ObserveBundle, Verdict};
//! # use xdr_relay_core::{Context, Outcome, ParsedObservable, Provider, RelayError};
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # struct Nothing;
//! # #[xdr_relay_core::async_trait]
//! # impl Provider for Nothing {
//! #     fn info(&self) -> ProviderInfo { info() }
//! #     async fn deliberate(&self, _: &Context, _: &[ParsedObservable]) -> Result<Outcome<Vec<Verdict>>, RelayError> { Ok(Outcome::new(Vec::new())) }
//! #     async fn observe(&self, _: &Context, _: &[ParsedObservable]) -> Result<Outcome<ObserveBundle>, RelayError> { Ok(Outcome::new(ObserveBundle::default())) }
//! # }
//! use std::sync::Arc;
//! use tower::ServiceExt as _;
//! use xdr_relay_core::{App, ProviderInfo, RelayConfig, Settings};
//!
//! fn info() -> ProviderInfo {
//!     ProviderInfo::new("Nothing", "1.0.0", [ObservableType::Ip])
//! }
//! let app = App::new(info(), |_settings| Ok(Nothing));
//!
//! // What the adapters do with the process environment (here, a table).
//! let env = Settings::new(|name| (name == "SECRET_KEY").then(|| "a 64-character secret".to_owned()));
//! let config = RelayConfig::from_settings(&env)?;
//! let router = xdr_relay_core::router_for(config, Arc::new(app.build(&env)?))?;
//!
//! // `/watchdog` needs no token and makes no upstream call.
//! let request = axum::http::Request::get("/watchdog")
//!     .header("Health-Check", "ping")
//!     .body(axum::body::Body::empty())?;
//! let response = router.oneshot(request).await?;
//! let body = axum::body::to_bytes(response.into_body(), 1024).await?;
//! assert_eq!(&body[..], br#"{"data":"ping"}"#);
//! # Ok(()) }
//! ```
//!
//! # Cargo features
//!
//! - `signals` (on by default): the Auth0 Signals provider (`Auth0Signals`,
//!   `SignalsConfig`, `router`, `openapi`) on `signals-client`. Without it the crate is the SDK
//!   alone and links no Signals client.
//! - `bench` (off by default): the module `xdr_relay_core::bench`, entry points for the crate's
//!   own benchmarks and fuzz targets. **Unstable:** not part of the API, may change or disappear in any release.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// Invariants of the module graph (ARCHITECTURE.md draws it): the `use crate::` lines form no
// cycle; the shared half never imports `signals`, which imports the shared half; `settings`
// and `stats` import nothing from the crate.
mod api;
mod app;
mod auth;
mod caller;
mod config;
mod credentials;
mod error;
mod fetch;
mod jwks;
mod layers;
mod lookup;
mod module_type;
mod openapi;
mod provider;
mod refresh;
mod request;
mod routes;
mod settings;
#[cfg(feature = "signals")]
mod signals;
mod stats;
mod stops;
mod suite;
pub mod telemetry;
pub mod tiles;
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
/// The HTTP client relay-core's helpers take and give ([`JsonApi::get`], [`http_client`],
/// [`UpstreamError::from_reqwest`]), re-exported so that a provider's crate builds requests
/// with exactly relay-core's version (0.13, rustls) and needs no dependency of its own.
pub use reqwest;
/// Dates and durations (CTIM's [`Timestamp`](ctim_model::Timestamp) wraps
/// `time::OffsetDateTime`), re-exported so that a provider computes times with relay-core's
/// version.
pub use time;

pub use api::JsonApi;

pub use app::App;
pub use auth::{SecretKey, SigningError, encode_claims, encode_token};
pub use config::RelayConfig;
pub use credentials::{CallerDigest, CredentialField, CredentialKind, Credentials};
pub use error::{AuthFailure, BuildError, ConfigError, RelayError, UpstreamFailure};
pub use fetch::{
    BaseUrl, RetryAfter, StatusErrors, http_client, quote, read_body, sensitive_header,
};
pub use jwks::{DEFAULT_JWKS_HOSTS, JwksConfig};
pub use lookup::{LookupCache, LookupLimits, Weigh, lookup_distinct};
pub use module_type::{
    CONFIGURATION_PREFIX, Capability, ConfigurationField, ModuleAuth, ModuleProperties, ModuleType,
    SECRET_KEY_PLACEHOLDER, configuration_key, module_type,
};
pub use openapi::openapi_for;
pub use provider::{
    Context, EntityKind, Outcome, Provider, ProviderInfo, ReferLink, ResponseAction, TriggerStatus,
};
pub use refresh::Refreshed;
pub use request::{ParsedObservable, Trigger};
pub use routes::router_for;
pub use settings::{EnvError, EnvVar, Settings};
#[cfg(feature = "signals")]
pub use signals::{
    Auth0Signals, DEFAULT_SIGNALS_API_URL, SIGNALS_API_URL, SignalsConfig, openapi, router,
    signals_info,
};
pub use stops::{UPSTREAM_STOP_MAX, stop_max_from_settings};
pub use suite::{Member, RELAYS, Served, Suite};
pub use tiles::{Period, Tile, TileData, TileType};
pub use upstream::{
    UPSTREAM_BREAKER_COOL_DOWN, UPSTREAM_BREAKER_FAILURES, UPSTREAM_MAX_IN_FLIGHT,
    UPSTREAM_SETTINGS, Upstream, UpstreamError, UpstreamLimits, lookup_all,
};

/// The code of README.md, compiled (and run, unless marked `no_run`) with the doctests (its
/// last examples serve the Auth0 Signals relay).
#[cfg(all(doctest, feature = "signals"))]
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
