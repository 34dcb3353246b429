//! The urlscan.io relay through relay-core's router and as a process, against a local
//! urlscan.io stand-in on 127.0.0.1 (`testkit::urlscan`). One test binary, so the machine
//! links once.

// Helpers outside #[test] functions fail their test by panicking, as tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cache;
mod concurrency;
mod errors;
mod mapping;
mod process;
mod respond;
mod secrets;
mod support;
