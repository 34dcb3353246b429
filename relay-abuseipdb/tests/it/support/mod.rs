//! The harness: the relay's router (relay-core's `router_for` with the AbuseIPDB provider) in
//! front of the stand-in, tokens, requests.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use serde_json::{Map, Value, json};
use xdr_relay_abuseipdb::{AbuseIpdb, AbuseIpdbConfig, info};
use xdr_relay_core::{RelayConfig, SecretKey};

pub(crate) use testkit::abuseipdb::{Page, Scenario, StandIn, categories_page, data, report};
pub(crate) use testkit::logs::Logs;
pub(crate) use testkit::metrics::Recorded;

pub(crate) const SECRET: &str = "an-abuseipdb-relay-test-secret-0123456789abcdef0123456789abcdef";
/// An API key in AbuseIPDB's shape (80 hex digits), distinctive enough to search logs for.
pub(crate) const API_KEY: &str =
    "5ec7e7a1b0d1e5ca1ab1ebadc0ffee5ec7e7a1b0d1e5ca1ab1ebadc0ffee5ec7e7a1b0d1e5ca1ab1e0";

pub(crate) fn secret() -> SecretKey {
    SecretKey::new(SECRET).expect("a non-empty secret")
}

/// An HS256 token with `key` and, when given, `CTR_ENTITIES_LIMIT`, signed as the relay's `jwt`
/// command signs it (exactly the provider's fields).
pub(crate) fn token_with(key: &str, limit: Option<u64>) -> String {
    let mut claims = Map::new();
    claims.insert("key".into(), json!(key));
    if let Some(limit) = limit {
        claims.insert("CTR_ENTITIES_LIMIT".into(), json!(limit));
    }
    xdr_relay_core::encode_claims(&secret(), &info().credentials, &claims).expect("a token")
}

pub(crate) fn token() -> String {
    token_with(API_KEY, None)
}

/// `[{"type": "ip", "value": …}, …]`.
pub(crate) fn ips(values: &[&str]) -> String {
    let observables: Vec<Value> = values
        .iter()
        .map(|v| json!({"type": "ip", "value": v}))
        .collect();
    json!(observables).to_string()
}

/// The provider's configuration for a test against `standin`: its URLs, a 2 s timeout
/// (generous on a loaded 2-core machine; timeout tests shorten it).
pub(crate) fn config(standin: &StandIn) -> AbuseIpdbConfig {
    let mut config = AbuseIpdbConfig::default();
    config.api_url = standin.api_url();
    config.web_url = standin.web_url();
    config.timeout = Duration::from_secs(2);
    config
}

/// The relay under test and its stand-in.
pub(crate) struct Relay {
    pub(crate) standin: StandIn,
    pub(crate) router: Router,
}

impl Relay {
    /// A relay (HS256 with [`SECRET`]) in front of a new stand-in.
    pub(crate) async fn start() -> Self {
        Self::start_with(|_, _| {}).await
    }

    /// The same, with `adjust` applied to the relay's and the provider's configuration.
    pub(crate) async fn start_with(
        adjust: impl FnOnce(&mut RelayConfig, &mut AbuseIpdbConfig),
    ) -> Self {
        Self::start_on(StandIn::start().await, adjust)
    }

    /// A relay in front of `standin`, with `adjust` applied.
    pub(crate) fn start_on(
        standin: StandIn,
        adjust: impl FnOnce(&mut RelayConfig, &mut AbuseIpdbConfig),
    ) -> Self {
        let mut relay = RelayConfig::default();
        relay.secret_key = Some(secret());
        let mut provider = config(&standin);
        adjust(&mut relay, &mut provider);
        let provider = AbuseIpdb::new(&provider).expect("the provider");
        let router = xdr_relay_core::router_for(relay, Arc::new(provider)).expect("the router");
        Self { standin, router }
    }

    /// `POST path` with `token` (when given) and `body`: the HTTP status and the JSON answer.
    pub(crate) async fn post(&self, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
        testkit::http::post_to(&self.router, path, token, body).await
    }

    /// `/observe/observables` with the test token: the answer, which must be HTTP 200.
    pub(crate) async fn observe(&self, body: &str) -> Value {
        self.ok("/observe/observables", &token(), body).await
    }

    /// `/deliberate/observables` with the test token.
    pub(crate) async fn deliberate(&self, body: &str) -> Value {
        self.ok("/deliberate/observables", &token(), body).await
    }

    /// `POST path` with the test token and `body`: the answer, which must be HTTP 200.
    pub(crate) async fn observe_at(&self, path: &str, body: &str) -> Value {
        self.ok(path, &token(), body).await
    }

    /// `POST path` with `token`: the answer, which must be HTTP 200.
    pub(crate) async fn ok(&self, path: &str, token: &str, body: &str) -> Value {
        let (status, answer) = self.post(path, Some(token), body).await;
        assert_eq!(status, 200, "{path}: {answer}");
        answer
    }
}

/// The `errors` of an answer as (code, message) pairs; the `docs` of one kind in its data.
pub(crate) use testkit::json::{docs, errors};

/// The observable values of an answer's verdicts.
pub(crate) fn verdict_values(answer: &Value) -> Vec<String> {
    docs(answer, "verdicts")
        .iter()
        .map(|v| v["observable"]["value"].as_str().unwrap().to_owned())
        .collect()
}
