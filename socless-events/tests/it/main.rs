//! Integration tests: one behavioural suite against moto (DynamoDB + Step Functions through the
//! real SDK clients) and against the embedded SQLite store, plus the CLI and the webhook.

// Test helpers live outside #[test] functions, where clippy's allow-*-in-tests does not reach.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod dynamo_types;
mod fixture;
mod moto;
mod scenarios;
mod webhook;

mod aws {
    crate::scenarios::behaviour_suite!(crate::fixture::AwsFixture::new());
}

mod local {
    crate::scenarios::behaviour_suite!(crate::fixture::LocalFixture::new());
}
