//! Shared helpers: fixtures, keys and clients tuned for fast tests.

use std::time::Duration;

use signals_client::{ApiKey, ClientConfig, RetryPolicy, SignalsClient};
use wiremock::MockServer;

/// A key shaped like a real one; tests check it never leaks.
pub(crate) const KEY: &str = "5f1c2a9e-7b3d-4e8f-9a60-1d2b3c4d5e6f";

pub(crate) fn key() -> ApiKey {
    ApiKey::new(KEY).unwrap()
}

/// A fixture of the original relay, from the repository's `testdata/auth0-signals` folder, as
/// text; fails naming the file when it is missing.
pub(crate) fn fixture(name: &str) -> String {
    testkit::testdata::text(&format!("auth0-signals/{name}"))
}

pub(crate) fn fixture_json(name: &str) -> serde_json::Value {
    testkit::testdata::json(&format!("auth0-signals/{name}"))
}

/// Test data of this crate (`tests/it/data`).
pub(crate) fn data(name: &str) -> Vec<u8> {
    testkit::testdata::file(format!(
        "{}/tests/it/data/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
}

/// Retries with near-zero backoff so tests stay fast.
pub(crate) fn fast_retry() -> RetryPolicy {
    let mut retry = RetryPolicy::default();
    retry.initial_backoff = Duration::from_millis(1);
    retry.max_backoff = Duration::from_millis(5);
    retry.max_retry_after = Duration::from_secs(2);
    retry
}

pub(crate) fn config(base_url: &str) -> ClientConfig {
    let mut config = ClientConfig::default();
    config.base_url = base_url.to_owned();
    config.retry = fast_retry();
    config
}

pub(crate) fn client_for(server: &MockServer) -> SignalsClient {
    SignalsClient::new(config(&server.uri())).unwrap()
}

pub(crate) async fn received(server: &MockServer) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .expect("request recording is on by default")
}
