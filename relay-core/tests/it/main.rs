//! The relay end to end: `xdr_relay_core::router` through `tower::ServiceExt::oneshot` against a
//! wiremock upstream on 127.0.0.1.

// Test helpers live outside #[test] functions, where clippy's allow-*-in-tests does not reach:
// a failed expect is how a helper fails its test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod body;
mod common;
mod faults;
mod hostile;
mod jwks;
mod mapping;
mod openapi;
mod oracle;
mod original;
mod props;
mod protection;
mod provider;
mod routes;
mod secrets;
mod upstream;
