//! The harness: the relay's router (relay-core's `router_for` with the OTX provider) in front
//! of the stand-in, tokens, requests.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use serde_json::{Map, Value, json};
use xdr_relay_core::{RelayConfig, SecretKey};
use xdr_relay_otx::{Otx, OtxConfig, info};

pub(crate) use testkit::logs::Logs;
pub(crate) use testkit::metrics::Recorded;
pub(crate) use testkit::otx::{Pulse, StandIn};
pub(crate) use testkit::standin::Reply;

pub(crate) const SECRET: &str = "an-otx-relay-test-secret-0123456789abcdef0123456789abcdef01";
/// An API key in OTX's shape (64 hex digits), distinctive enough to search logs for.
pub(crate) const API_KEY: &str = "0f7e1c2b3a4d5e6f0f7e1c2b3a4d5e6f0f7e1c2b3a4d5e6f0f7e1c2b3a4d5e6f";

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

/// `[{"type": …, "value": …}, …]`.
pub(crate) fn observables(pairs: &[(&str, &str)]) -> String {
    let list: Vec<Value> = pairs
        .iter()
        .map(|(kind, value)| json!({"type": kind, "value": value}))
        .collect();
    json!(list).to_string()
}

/// The provider's configuration for a test against `standin`: its URLs, a 2 s timeout
/// (generous on a loaded 2-core machine; timeout tests shorten it).
pub(crate) fn config(standin: &StandIn) -> OtxConfig {
    let mut config = OtxConfig::default();
    config.api_url = standin.api_url();
    config.web_url = standin.web_url();
    config.timeout = Duration::from_secs(2);
    config.pulse_timeout = Duration::from_secs(4);
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
    pub(crate) async fn start_with(adjust: impl FnOnce(&mut RelayConfig, &mut OtxConfig)) -> Self {
        Self::start_on(StandIn::start().await, adjust)
    }

    /// A relay in front of `standin`, with `adjust` applied.
    pub(crate) fn start_on(
        standin: StandIn,
        adjust: impl FnOnce(&mut RelayConfig, &mut OtxConfig),
    ) -> Self {
        let mut relay = RelayConfig::default();
        relay.secret_key = Some(secret());
        let mut provider = config(&standin);
        adjust(&mut relay, &mut provider);
        let provider = Otx::new(&provider).expect("the provider");
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

    /// `POST path` with `token`: the answer, which must be HTTP 200.
    pub(crate) async fn ok(&self, path: &str, token: &str, body: &str) -> Value {
        let (status, answer) = self.post(path, Some(token), body).await;
        assert_eq!(status, 200, "{path}: {answer}");
        answer
    }
}

/// The `errors` of an answer as (code, message) pairs; the `docs` of one kind in its data.
pub(crate) use testkit::json::{docs, errors};

/// The pulse ids of an answer's sightings, in order.
pub(crate) fn sighted(answer: &Value) -> Vec<String> {
    docs(answer, "sightings")
        .iter()
        .map(|s| s["external_ids"][0].as_str().unwrap().to_owned())
        .collect()
}

/// The observable values of an answer's sightings, in order.
pub(crate) fn sighted_values(answer: &Value) -> Vec<String> {
    docs(answer, "sightings")
        .iter()
        .map(|s| s["observables"][0]["value"].as_str().unwrap().to_owned())
        .collect()
}
