//! The harness: the relay's router (relay-core's `router_for` with the urlscan.io provider)
//! in front of the stand-in, tokens, requests.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use serde_json::{Map, Value, json};
use xdr_relay_core::{RelayConfig, SecretKey};
use xdr_relay_urlscan::{Urlscan, UrlscanConfig, info};

pub(crate) use testkit::json::{docs, errors};
pub(crate) use testkit::logs::Logs;
pub(crate) use testkit::metrics::Recorded;
pub(crate) use testkit::standin::Reply;
pub(crate) use testkit::urlscan::{StandIn, error, hit, page, rate_limited};

pub(crate) const SECRET: &str = "a-urlscan-relay-test-secret-0123456789abcdef0123456789abcdef0123";
/// An API key in urlscan.io's shape (a uuid), distinctive enough to search logs for.
pub(crate) const API_KEY: &str = "5ec7e7a1-b0d1-4e5c-a1ab-1ebadc0ffee5";

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

/// `[{"type": kind, "value": …}, …]`.
pub(crate) fn observables(kind: &str, values: &[&str]) -> String {
    let observables: Vec<Value> = values
        .iter()
        .map(|v| json!({"type": kind, "value": v}))
        .collect();
    json!(observables).to_string()
}

/// The search the relay makes for an address.
pub(crate) fn ip_query(ip: &str) -> String {
    format!("page.ip:\"{ip}\"")
}

/// The search the relay makes for a domain.
pub(crate) fn domain_query(domain: &str) -> String {
    format!("page.domain:\"{domain}\"")
}

/// The search the relay makes for a URL.
pub(crate) fn url_query(url: &str) -> String {
    format!("page.url.keyword:\"{url}\"")
}

/// The provider's configuration for a test against `standin`: its URLs, a 2 s timeout
/// (generous on a loaded 2-core machine; timeout tests shorten it).
pub(crate) fn config(standin: &StandIn) -> UrlscanConfig {
    let mut config = UrlscanConfig::default();
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
        adjust: impl FnOnce(&mut RelayConfig, &mut UrlscanConfig),
    ) -> Self {
        let standin = StandIn::start().await;
        let mut relay = RelayConfig::default();
        relay.secret_key = Some(secret());
        let mut provider = config(&standin);
        adjust(&mut relay, &mut provider);
        let provider = Urlscan::new(&provider).expect("the provider");
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

    /// A scan `id` of `url` at `time` found by `query`, whose result is malicious with
    /// `categories` (its tags the same).
    pub(crate) fn malicious(&self, query: &str, id: &str, time: &str, categories: &[&str]) {
        let url = "https://evil.example/login.php";
        let found = hit(id, time, page("evil.example", url, "192.0.2.66"));
        self.standin.search(query, vec![found]);
        let body = self
            .standin
            .result_body(id, time, url, true, categories, categories);
        self.standin.result(id, &body);
    }
}
