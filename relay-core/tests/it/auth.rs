//! JWT attacks through the router: each is an `authorization error` with its exact reason,
//! and nothing reaches the upstream.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::common::*;

const WRONG_KEY: &str = "Failed to decode JWT with provided key";
const WRONG_STRUCTURE: &str = "Wrong JWT structure";
const WRONG_PAYLOAD: &str = "Wrong JWT payload structure";
const WRONG_TYPE: &str = "Wrong authorization type";

fn sign(alg: Algorithm, claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign")
}

fn b64(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Sends `authorization` to every authenticated route with a valid body and expects
/// `reason`, with no upstream request at all.
async fn check(authorization: Option<&str>, reason: &str) {
    let relay = Relay::start().await;
    relay.report("192.0.2.1", clean()).await;
    let routes = [
        "/health",
        "/observe/observables",
        "/deliberate/observables",
        "/refer/observables",
        "/respond/observables",
        "/respond/trigger",
    ];
    for route in routes {
        let (status, body) = relay
            .raw("POST", route, authorization, &[], &ips(&["192.0.2.1"]))
            .await;
        assert_eq!(status, 200, "{route}");
        assert_auth_error(&body, reason);
    }
    assert!(
        relay.upstream_paths().await.is_empty(),
        "{authorization:?} reached the upstream"
    );
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn a_valid_token_is_accepted() {
    // The positive control of this module: the same harness lets a good token through.
    let relay = Relay::start().await;
    relay.report("192.0.2.1", clean()).await;
    let token = sign(
        Algorithm::HS256,
        &json!({"key": API_KEY, "exp": now() + 60}),
    );
    let (_, body) = relay
        .raw(
            "POST",
            "/deliberate/observables",
            Some(&bearer(&token)),
            &[],
            &ips(&["192.0.2.1"]),
        )
        .await;
    assert_eq!(docs(&body, "verdicts").len(), 1, "{body}");
}

#[tokio::test]
async fn header_missing() {
    check(None, "Authorization header is missing").await;
}

#[tokio::test]
async fn wrong_scheme() {
    let token = token();
    check(Some(&format!("Basic {token}")), WRONG_TYPE).await;
    check(Some(&format!("Token {token}")), WRONG_TYPE).await;
    check(Some(""), WRONG_TYPE).await;
}

#[tokio::test]
async fn malformed_headers() {
    check(Some("Bearer"), WRONG_STRUCTURE).await;
    check(Some("Bearer "), WRONG_STRUCTURE).await;
    check(Some(&format!("Bearer {} extra", token())), WRONG_STRUCTURE).await;
    check(Some("Bearer not-a-jwt"), WRONG_STRUCTURE).await;
    check(Some("Bearer a.b"), WRONG_STRUCTURE).await;
    check(Some("Bearer a.b.c.d"), WRONG_STRUCTURE).await;
    check(Some("Bearer %%%.%%%.%%%"), WRONG_STRUCTURE).await;
}

#[tokio::test]
async fn other_algorithms_are_rejected() {
    let claims = json!({"key": API_KEY});
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        check(Some(&bearer(&sign(alg, &claims))), WRONG_KEY).await;
    }
    // An HS256 signature under a header claiming RS256 or ES256 (key confusion).
    let hs256 = sign(Algorithm::HS256, &claims);
    let (_, rest) = hs256.split_once('.').expect("three parts");
    for alg in ["RS256", "ES256"] {
        let forged = format!("{}.{rest}", b64(&json!({"alg": alg, "typ": "JWT"})));
        check(Some(&bearer(&forged)), WRONG_KEY).await;
    }
}

#[tokio::test]
async fn alg_none_is_rejected() {
    let header = b64(&json!({"alg": "none", "typ": "JWT"}));
    let payload = b64(&json!({"key": API_KEY}));
    check(Some(&bearer(&format!("{header}.{payload}."))), WRONG_KEY).await;
    // With the valid HS256 signature kept.
    let hs256 = sign(Algorithm::HS256, &json!({"key": API_KEY}));
    let (_, rest) = hs256.split_once('.').expect("three parts");
    check(Some(&bearer(&format!("{header}.{rest}"))), WRONG_KEY).await;
}

#[tokio::test]
async fn tampered_payload() {
    let token = sign(Algorithm::HS256, &json!({"key": API_KEY}));
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(&json!({"key": "someone-else"})),
        parts[2]
    );
    check(Some(&bearer(&forged)), WRONG_KEY).await;
}

#[tokio::test]
async fn another_secret() {
    let other = xdr_relay_core::SecretKey::new("a different secret").expect("secret");
    let token = xdr_relay_core::encode_token(&other, API_KEY, None).expect("token");
    check(Some(&bearer(&token)), WRONG_KEY).await;
}

#[tokio::test]
async fn time_claims_are_enforced() {
    let expired = sign(
        Algorithm::HS256,
        &json!({"key": API_KEY, "exp": now() - 3600}),
    );
    check(Some(&bearer(&expired)), "JWT has expired").await;
    let early = sign(
        Algorithm::HS256,
        &json!({"key": API_KEY, "nbf": now() + 3600}),
    );
    check(Some(&bearer(&early)), "JWT is not yet valid").await;
}

#[tokio::test]
async fn payload_without_a_string_key() {
    for claims in [
        json!({}),
        json!({"api_key": API_KEY}),
        json!({"key": 42}),
        json!({"key": null}),
        json!({"key": ["k"]}),
        json!({"key": ""}),
    ] {
        check(
            Some(&bearer(&sign(Algorithm::HS256, &claims))),
            WRONG_PAYLOAD,
        )
        .await;
    }
}

#[tokio::test]
async fn a_relay_without_secret_key_says_it_is_not_configured() {
    let relay = Relay::start_with(|c| c.secret_key = None).await;
    let (status, body) = relay
        .post("/observe/observables", &ips(&["192.0.2.1"]))
        .await;
    assert_eq!(status, 200);
    assert_auth_error(
        &body,
        "the relay is not configured: <SECRET_KEY> is missing",
    );
    assert!(relay.upstream_paths().await.is_empty());
    // Routes without authentication still answer.
    let (_, body) = relay.send("POST", "/version", None, "").await;
    assert_eq!(body, json!({"version": xdr_relay_core::VERSION}));
}
