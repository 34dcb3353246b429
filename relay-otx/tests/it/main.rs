//! The OTX relay through relay-core's router and as a process, against a local OTX stand-in
//! on 127.0.0.1 (`testkit::otx`). One test binary, so the machine links once.

// Helpers outside #[test] functions fail their test by panicking, as tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod bounds;
mod cache;
mod errors;
mod mapping;
mod process;
mod secrets;
mod support;
