//! The connection loop every relay's server runs ([`xdr_relay_server::serve`]), as hostile and
//! careless clients meet it: lingering close after an early answer, header, body and idle
//! timeouts that never cut a request in flight, the connection cap, accept errors that do not
//! spin, graceful shutdown. 127.0.0.1 only, with test-sized limits.

// Helpers outside #[test] functions fail their test by panicking, as tests do.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod accept_errors;
mod app;
mod cap;
mod common;
mod hostile;
mod linger;
mod shutdown;
mod timeouts;
