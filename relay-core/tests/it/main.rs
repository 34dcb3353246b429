//! The Auth0 Signals relay end to end (the `signals` feature): `router_for` with the Signals
//! provider through `tower::ServiceExt::oneshot` against a wiremock upstream on 127.0.0.1. What
//! every provider gets is tested in `tests/sdk.rs`, with and without the feature.

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
mod routes;
mod secrets;
mod upstream;
