//! The harness: the relay's router in front of a wiremock upstream on 127.0.0.1, tokens,
//! upstream fixtures and the CTIM oracle.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt as _;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use xdr_relay_core::{Auth0Signals, RelayConfig, SecretKey, SignalsConfig};

pub(crate) const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
pub(crate) const API_KEY: &str = "3b1f0f2e-9d6f-4b9a-8a55-2b1f6f2d9e10";

pub(crate) fn secret() -> SecretKey {
    SecretKey::new(SECRET).expect("non-empty secret")
}

/// A valid token for `key`, optionally with a `CTR_ENTITIES_LIMIT`.
pub(crate) fn token_for(key: &str, limit: Option<usize>) -> String {
    xdr_relay_core::encode_token(&secret(), key, limit).expect("token")
}

pub(crate) fn token() -> String {
    token_for(API_KEY, None)
}

/// The relay's configuration and the Signals provider's, as a test adjusts them: the relay's
/// fields through `Deref` (`c.max_body_bytes`), the provider's as `c.signals`.
pub(crate) struct Config {
    pub(crate) relay: RelayConfig,
    pub(crate) signals: SignalsConfig,
}

impl Deref for Config {
    type Target = RelayConfig;
    fn deref(&self) -> &RelayConfig {
        &self.relay
    }
}

impl DerefMut for Config {
    fn deref_mut(&mut self) -> &mut RelayConfig {
        &mut self.relay
    }
}

impl Config {
    /// The Auth0 Signals relay's router with this configuration.
    pub(crate) fn router(self) -> Router {
        let signals = Auth0Signals::new(&self.signals).expect("the Signals provider");
        xdr_relay_core::router_for(self.relay, Arc::new(signals)).expect("router")
    }
}

/// The configuration of every test: short timeouts and fast retries, so error tests stay quick.
pub(crate) fn test_config(base_url: &str) -> Config {
    let mut relay = RelayConfig::default();
    relay.secret_key = Some(secret());
    let mut signals = SignalsConfig::default();
    signals.client.base_url = base_url.to_owned();
    // Generous for a loaded 2-core machine; the timeout test shortens its own.
    signals.client.connect_timeout = Duration::from_secs(2);
    signals.client.attempt_timeout = Duration::from_secs(3);
    signals.client.total_timeout = Duration::from_secs(5);
    signals.client.retry.max_attempts = 2;
    signals.client.retry.initial_backoff = Duration::from_millis(1);
    signals.client.retry.max_backoff = Duration::from_millis(5);
    Config { relay, signals }
}

/// The relay under test and its stub upstream.
pub(crate) struct Relay {
    pub(crate) upstream: MockServer,
    app: Router,
}

impl Relay {
    pub(crate) async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub(crate) async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let upstream = MockServer::start().await;
        let uri = upstream.uri();
        Self::build(upstream, &uri, adjust)
    }

    /// A relay whose upstream is `base_url` rather than its wiremock server (which then
    /// receives nothing).
    pub(crate) async fn start_at(base_url: &str, adjust: impl FnOnce(&mut Config)) -> Self {
        Self::build(MockServer::start().await, base_url, adjust)
    }

    fn build(upstream: MockServer, base_url: &str, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = test_config(base_url);
        adjust(&mut config);
        let app = config.router();
        Self { upstream, app }
    }

    /// `POST path` with the test token.
    pub(crate) async fn post(&self, path: &str, body: &str) -> (StatusCode, Value) {
        self.send("POST", path, Some(&token()), body).await
    }

    /// One request through the router; `authorization` is the token, sent as `Bearer <token>`.
    pub(crate) async fn send(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: &str,
    ) -> (StatusCode, Value) {
        let header = token.map(|t| format!("Bearer {t}"));
        self.raw(method, uri, header.as_deref(), &[], body).await
    }

    /// One request with a raw `Authorization` header and extra headers.
    pub(crate) async fn raw(
        &self,
        method: &str,
        uri: &str,
        authorization: Option<&str>,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json");
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Body::from(body.to_owned())).expect("request");
        let response = self.app.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 16 << 20)
            .await
            .expect("body");
        let json = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{method} {uri}: not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, json)
    }

    /// Any request through the router: its status and raw body.
    pub(crate) async fn call(&self, request: Request<Body>) -> (StatusCode, Vec<u8>) {
        let response = self.app.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 16 << 20)
            .await
            .expect("body");
        (status, bytes.to_vec())
    }

    /// The status of one request (whatever its body).
    pub(crate) async fn raw_status(
        &self,
        method: &str,
        uri: &str,
        authorization: Option<&str>,
        body: &str,
    ) -> u16 {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let request = request.body(Body::from(body.to_owned())).expect("request");
        self.call(request).await.0.as_u16()
    }

    /// The paths the upstream received, in order.
    pub(crate) async fn upstream_paths(&self) -> Vec<String> {
        self.upstream
            .received_requests()
            .await
            .expect("request recording is on")
            .iter()
            .map(|r| r.url.path().to_owned())
            .collect()
    }

    /// How many requests the upstream received for `p`.
    pub(crate) async fn calls_to(&self, p: &str) -> usize {
        self.upstream_paths()
            .await
            .iter()
            .filter(|x| *x == p)
            .count()
    }

    /// Answers `GET /v2.0/ip/<ip>` with `{"fullip": report}`.
    pub(crate) async fn report(&self, ip: &str, report: Value) {
        Mock::given(method("GET"))
            .and(path(format!("/v2.0/ip/{ip}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "fullip": report })))
            .mount(&self.upstream)
            .await;
    }

    /// Answers `GET /metadata/<kind>/lists/<id>` with `metadata`.
    pub(crate) async fn list(&self, kind: &str, id: &str, metadata: Value) {
        Mock::given(method("GET"))
            .and(path(format!("/metadata/{kind}/lists/{id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(metadata))
            .mount(&self.upstream)
            .await;
    }

    /// Answers every request to `p` with `response`.
    pub(crate) async fn answer(&self, p: &str, response: ResponseTemplate) {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(response)
            .mount(&self.upstream)
            .await;
    }
}

/// A JSON array of observables from `(type, value)` pairs.
pub(crate) fn observables(pairs: &[(&str, &str)]) -> String {
    let items: Vec<Value> = pairs
        .iter()
        .map(|(t, v)| json!({"type": t, "value": v}))
        .collect();
    Value::Array(items).to_string()
}

pub(crate) fn ips(values: &[&str]) -> String {
    let pairs: Vec<(&str, &str)> = values.iter().map(|v| ("ip", *v)).collect();
    observables(&pairs)
}

/// A `fullip` report: overall score, badip (score, lists), baddomain score and its
/// domain lists (blacklist, blacklist_mx, blacklist_ns), history score.
pub(crate) struct Report<'a> {
    pub(crate) score: i64,
    pub(crate) badip: (i64, &'a [&'a str]),
    pub(crate) baddomain: (i64, [&'a [&'a str]; 3]),
    pub(crate) history: i64,
}

impl Report<'_> {
    pub(crate) fn json(&self) -> Value {
        let [blacklist, mx, ns] = self.baddomain.1;
        json!({
            "score": self.score,
            "badip": {"score": self.badip.0, "blacklists": self.badip.1},
            "baddomain": {
                "score": self.baddomain.0,
                "domain": {"blacklist": blacklist, "blacklist_mx": mx, "blacklist_ns": ns, "score": 0},
            },
            "history": {"score": self.history},
        })
    }
}

/// A clean report: nothing known.
pub(crate) fn clean() -> Value {
    Report {
        score: 0,
        badip: (0, &[]),
        baddomain: (0, [&[], &[], &[]]),
        history: 0,
    }
    .json()
}

/// Blocklist metadata with the given name, visibility and sensitivity.
pub(crate) fn metadata(name: &str, visibility: &str, sensitivity: &str) -> Value {
    json!({
        "name": name,
        "source": format!("{name} publisher"),
        "site": format!("https://{}.example", name.to_lowercase()),
        "visibility": visibility,
        "sensitivity": sensitivity,
        "description": format!("The {name} list."),
        "tags": "spam, ,abuse,",
    })
}

pub(crate) use testkit::logs::Capture;

pub(crate) fn fixture(name: &str) -> Value {
    testkit::testdata::json(&format!("auth0-signals/{name}"))
}

/// Asserts a single-error envelope with no data.
#[track_caller]
pub(crate) fn assert_error(body: &Value, code: &str, message: &str) {
    assert_eq!(
        body,
        &json!({"errors": [{"type": "fatal", "code": code, "message": message}]}),
    );
}

/// Asserts an authorization error with `reason`.
#[track_caller]
pub(crate) fn assert_auth_error(body: &Value, reason: &str) {
    assert_error(
        body,
        "authorization error",
        &format!("Authorization failed: {reason}"),
    );
}

/// The docs of one group of `data`, empty when the group is left out.
pub(crate) fn docs<'a>(body: &'a Value, group: &str) -> &'a [Value] {
    body["data"][group]["docs"]
        .as_array()
        .map_or(&[], Vec::as_slice)
}
