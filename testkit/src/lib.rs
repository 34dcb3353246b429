//! The workspace's test kit (`publish = false`).
//!
//! **What it is:** what more than one crate's tests, benches and `cargo xtask` need, written
//! once: the repository's test data ([`testdata`]), captured logs and metrics ([`logs`],
//! [`metrics`]), HS256 tokens ([`token`]), relay binaries run as child processes
//! ([`process`] for tests, [`relay`] for the drivers) and their memory ([`rss`]), reading answers and deployment files
//! ([`http`], [`json`], [`deploy`]), and the local stand-ins for upstreams ([`signals`],
//! [`abuseipdb`], [`otx`], [`urlscan`], [`aws`]). Its binary, `testkit`, runs the stand-ins and the load, soak and
//! demo drivers for `cargo xtask`.
//! **What it is not:** a library for users of the relay crates; nothing here ships. It depends on
//! no crate of the workspace, so the crates' tests can depend on it without a cycle, and it
//! talks only to 127.0.0.1.
//!
//! ```
//! // A shared fixture, with a message naming the file if it is missing.
//! let health = testkit::testdata::json("auth0-signals/upstream_v2.0_ip_health_check.json");
//! assert!(health.is_object());
//! // The token Threat Response would send to a relay whose SECRET_KEY is "s3cret".
//! let token = testkit::token::hs256("s3cret", &serde_json::json!({"key": "an API key"}));
//! assert_eq!(token.split('.').count(), 3);
//! ```
//!
//! The binary's subcommands (`testkit --help`): `signals-standin`, `passthrough`, `load`,
//! `bench`, `bench-metrics`, `demo`, `soak`, `fuzz-api` and `check-image`, run in turn by
//! `cargo xtask bench stub`, `bench passthrough`, `bench load`, `bench`, `bench metrics`,
//! `demo`, `soak`, `fuzz-api` and `image --check` (and CI's image step).
#![forbid(unsafe_code)]
// Test support fails loudly: a panic with a clear message is how a helper reports misuse.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// The stand-ins hold servers and tasks; nothing here is printed with `{:?}`.
#![allow(missing_debug_implementations)]

pub mod abuseipdb;
pub mod aws;
pub mod deploy;
pub mod http;
pub mod json;
pub mod logs;
pub mod metrics;
pub mod otx;
pub mod process;
pub mod relay;
pub mod rss;
pub mod signals;
pub mod standin;
pub mod testdata;
pub mod token;
pub mod urlscan;
