//! A typed, resilient client for the [Auth0 Signals](https://auth0.com/signals) IP reputation
//! API.
//!
//! **What it is:** the only code of the relay that talks to Auth0 Signals: the IP report
//! (`GET /v2.0/ip/<ip>`), the key check (`GET /v2.0/ip`) and blocklist metadata
//! (`GET /metadata/<badip|baddomain>/lists/<id>`), decoded into typed structs, with typed
//! errors, bounded retries of transient failures and `tracing` spans per call.
//!
//! **What it is not:** it knows nothing of CTIM or Threat Response, caches nothing and does
//! not decide what a score means; that is the caller's business (the relay's `relay-core`).
//!
//! # Example
//!
//! One [`SignalsClient`] per process (clones share its connection pool); the [`ApiKey`] is
//! passed to each call, so one client serves any number of credentials.
//!
//! ```
//! use std::net::IpAddr;
//! use signals_client::{ApiKey, ClientConfig, Error, ErrorKind, SignalsClient};
//!
//! async fn blocklist_names(client: &SignalsClient, key: &ApiKey, ip: IpAddr) -> Result<Vec<String>, Error> {
//!     let Some(report) = client.ip_report(key, ip).await? else {
//!         return Ok(Vec::new()); // Signals knows nothing about this address.
//!     };
//!     let mut names = Vec::new();
//!     for (kind, list_id) in report.blocklists() {
//!         names.push(client.list_metadata(key, kind, list_id).await?.name);
//!     }
//!     Ok(names)
//! }
//!
//! # fn main() -> Result<(), Error> {
//! let client = SignalsClient::new(ClientConfig::default())?;
//! let key = ApiKey::new("00000000-0000-4000-8000-000000000000")?;
//! assert_eq!(format!("{key:?}"), "ApiKey([redacted])"); // secrets never print
//! # let _ = (client, blocklist_names);
//! # assert_eq!(Error::RateLimited { retry_after: None }.kind(), ErrorKind::TooManyRequests);
//! # Ok(())
//! # }
//! ```
//!
//! # Errors and retries
//!
//! Every failure is an [`Error`]; [`Error::kind`] sorts it into an [`ErrorKind`]
//! (authorization, permission denied, too many requests, service unavailable, unknown). HTTP
//! 429, 502, 503, 504 and connection resets are retried as [`RetryPolicy`] says; everything
//! else fails at once. No error, log line or `Debug` output contains the API key.
//!
//! # Metrics
//!
//! Calls and retries are counted through the [`metrics`](https://docs.rs/metrics) facade
//! (names and labels in [`metric`]); a program that installs no recorder pays nothing more.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod config;
mod decode;
mod error;
mod key;
pub mod metric;
mod model;

pub use client::SignalsClient;
pub use config::{ClientConfig, DEFAULT_BASE_URL, DEFAULT_USER_AGENT, RetryPolicy};
pub use error::{Error, ErrorKind};
pub use key::ApiKey;
pub use model::{BadDomain, BadIp, DomainLists, Geo, History, IpReport, ListKind, ListMetadata};

/// Compiles the README's example as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
