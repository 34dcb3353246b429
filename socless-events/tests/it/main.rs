//! Integration tests: one behavioural suite against moto (DynamoDB + Step Functions through the
//! real SDK clients), against an in-memory AWS stand-in and against the embedded SQLite store, plus the CLI, the webhook, faults,
//! hostile input, load, concurrency within a batch (on moto also behind a latency-injecting
//! proxy) and endpoint authentication.
//!
//! Each part needs the features of what it tests: `aws` (moto), `local` (SQLite, the webhook),
//! `cli` (the binary); the authentication tests need none.

// Test helpers live outside #[test] functions, where clippy's allow-*-in-tests does not reach.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
#[cfg(feature = "aws")]
mod aws_faults;
#[cfg(feature = "cli")]
mod cli;
#[cfg(any(feature = "aws", feature = "local"))]
mod concurrency;
mod deploy;
#[cfg(feature = "aws")]
mod dynamo_types;
#[cfg(any(feature = "aws", feature = "local"))]
mod faults;
#[cfg(any(feature = "aws", feature = "local"))]
mod fixture;
#[cfg(any(feature = "aws", feature = "local"))]
mod hostile;
#[cfg(any(feature = "aws", feature = "local"))]
mod inspect;
#[cfg(feature = "lambda")]
mod lambda;
#[cfg(any(feature = "aws", feature = "local"))]
mod load;
#[cfg(feature = "aws")]
mod moto;
#[cfg(any(feature = "aws", feature = "local"))]
mod scenarios;
#[cfg(feature = "local")]
mod webhook;
#[cfg(any(feature = "aws", feature = "local"))]
mod wrappers;

#[cfg(feature = "aws")]
mod aws {
    crate::scenarios::behaviour_suite!(crate::fixture::AwsFixture::new());
}

/// The same suite on the in-memory AWS stand-in the concurrency tests and benches use at
/// scale: it answers every call the client makes as moto does.
#[cfg(feature = "aws")]
mod aws_stand_in {
    crate::scenarios::behaviour_suite!(crate::fixture::AwsFixture::stand_in());
}

#[cfg(feature = "local")]
mod local {
    crate::scenarios::behaviour_suite!(crate::fixture::LocalFixture::new());
}
