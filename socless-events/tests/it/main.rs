//! Integration tests: one behavioural suite against moto (DynamoDB + Step Functions through the
//! real SDK clients) and against the embedded SQLite store, plus the CLI, the webhook, faults,
//! hostile input, load and endpoint authentication.

// Test helpers live outside #[test] functions, where clippy's allow-*-in-tests does not reach.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod aws_faults;
mod cli;
mod dynamo_types;
mod faults;
mod fixture;
mod hostile;
mod load;
// Shared with the benches, which use a subset of it.
#[allow(dead_code)]
#[path = "../support/local_aws.rs"]
mod local_aws;
mod moto;
mod scenarios;
mod webhook;
mod wrappers;

mod aws {
    crate::scenarios::behaviour_suite!(crate::fixture::AwsFixture::new());
}

mod local {
    crate::scenarios::behaviour_suite!(crate::fixture::LocalFixture::new());
}
