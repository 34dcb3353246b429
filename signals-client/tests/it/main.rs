//! Integration tests: the real client against local stub servers on 127.0.0.1.

// A failed unwrap is how a test helper fails its test (clippy.toml allows it in #[test]
// functions only).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod endpoints;
mod errors;
mod paths;
mod retries;
mod secrets;
mod support;
mod transport;
