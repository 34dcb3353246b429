//! The workspace's test kit (`publish = false`).
//!
//! **What it is:** what more than one crate's tests, benches and `cargo xtask` need, written
//! once: the repository's test data, canary secrets and the check that they never leak, HS256
//! tokens, child processes of relay binaries, and the local stand-ins for upstreams (Auth0
//! Signals, AbuseIPDB, AWS). Its binary, `testkit`, runs the stand-ins and the load, soak and
//! demo drivers for `cargo xtask`.
//! **What it is not:** a library for users of the relay crates; nothing here ships. It depends on
//! no crate of the workspace, so the crates' tests can depend on it without a cycle, and it
//! talks only to 127.0.0.1.
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
pub mod process;
pub mod relay;
pub mod signals;
pub mod testdata;
pub mod token;
