//! The relay the router targets share: one router (its verified-token memory lives across
//! runs, as in a server), and one request at a time on a current-thread runtime.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use http::{HeaderValue, Request, StatusCode};
use tower::ServiceExt as _;
use xdr_relay_core::{Auth0Signals, RelayConfig, SecretKey, SignalsConfig};

const SECRET: &str = "a fuzzing secret, never a real one";

fn secret() -> SecretKey {
    SecretKey::new(SECRET).expect("non-empty")
}

/// A token the relay accepts.
pub fn token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| xdr_relay_core::encode_token(&secret(), "fuzz-key", None).expect("token"))
}

fn relay() -> Router {
    static RELAY: OnceLock<Router> = OnceLock::new();
    RELAY
        .get_or_init(|| {
            let mut config = RelayConfig::default();
            config.secret_key = Some(secret());
            // The targets' routes never call upstream; should one, it fails fast.
            let mut signals = SignalsConfig::default();
            signals.client.base_url = "http://127.0.0.1:9/".into();
            let provider = Arc::new(Auth0Signals::new(&signals).expect("provider"));
            xdr_relay_core::router_for(config, provider).expect("router")
        })
        .clone()
}

/// `POST path` through the router with `authorization` (when it is a valid header value) and
/// `body`; the answer must be 200 and JSON.
pub fn post(path: &str, authorization: Option<&[u8]>, body: &[u8]) -> serde_json::Value {
    let mut request = Request::post(path);
    if let Some(value) = authorization.and_then(|v| HeaderValue::from_bytes(v).ok()) {
        request = request.header(http::header::AUTHORIZATION, value);
    }
    let request = request.body(Body::from(body.to_vec())).expect("request");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let response = relay().oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        serde_json::from_slice(&bytes).expect("JSON")
    })
}
