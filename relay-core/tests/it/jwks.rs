//! The JWKS mode (`AUTH_TYPE=jwks`) through the router: RS256 Cisco XDR configuration tokens
//! signed with a key pair made at run time, verified against a key server stub on 127.0.0.1.
//! Every attack is an `authorization error` with the modern relays' reason, and the stub's
//! request log says when the relay went to the key server.

use std::sync::LazyLock;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{self, KeyPair as _, RsaEncoding};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use xdr_relay_core::JwksConfig;

use crate::common::*;

const AUDIENCE: &str = "https://relay.example.com";
const KID: &str = "xdr-key-1";

const WRONG_KEY: &str = "Failed to decode JWT with provided key. Make sure domain in custom_jwks_host corresponds to your SecureX instance region.";
const WRONG_HOST: &str = "Wrong jwks_host in JWT payload. Make sure domain follows the visibility.<region>.cisco.com structure";
const HOST_MISSING: &str = "jwks_host is missing in JWT payload. Make sure custom_jwks_host field is present in module_type";
const WRONG_AUDIENCE: &str = "Wrong configuration-token-audience";
const KID_NOT_FOUND: &str = "kid from JWT header not found in API response";

/// The platform's signing key, and a key nobody published. RSA key generation is slow in a
/// debug build, so each is made once per test run.
static PLATFORM: LazyLock<KeyPair> = LazyLock::new(generate);
static STRANGER: LazyLock<KeyPair> = LazyLock::new(generate);

fn generate() -> KeyPair {
    KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation")
}

/// `key` as a JWK with `kid`, the way a key server publishes it.
fn jwk(key: &KeyPair, kid: &str) -> Value {
    let public = PublicKeyComponents::<Vec<u8>>::from(key.public_key());
    json!({
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(&public.n),
        "e": URL_SAFE_NO_PAD.encode(&public.e),
    })
}

fn b64(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// A JWT with `header` and `claims`, signed by `key` with `padding` (RS256, RS384, PS256...).
fn sign_with(
    key: &KeyPair,
    padding: &'static dyn RsaEncoding,
    header: &Value,
    claims: &Value,
) -> String {
    let message = format!("{}.{}", b64(header), b64(claims));
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(
        padding,
        &SystemRandom::new(),
        message.as_bytes(),
        &mut signature,
    )
    .expect("sign");
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// An RS256 token with `kid`, signed by `key`.
fn rs256(key: &KeyPair, kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
    sign_with(key, &signature::RSA_PKCS1_SHA256, &header, claims)
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The claims XDR sends: the module's configuration, the key server, the audience, a lifetime.
fn claims(jwks_host: &str) -> Value {
    json!({
        "key": API_KEY,
        "jwks_host": jwks_host,
        "aud": AUDIENCE,
        "iat": now(),
        "exp": now() + 300,
    })
}

/// `claims(host)` with `changes` applied (`null` removes a claim).
fn claims_with(jwks_host: &str, changes: &Value) -> Value {
    let mut claims = claims(jwks_host);
    for (name, value) in changes.as_object().expect("an object of changes") {
        let object = claims.as_object_mut().expect("claims are an object");
        if value.is_null() {
            object.remove(name);
        } else {
            object.insert(name.clone(), value.clone());
        }
    }
    claims
}

/// A key server on 127.0.0.1 answering `GET /.well-known/jwks` with `keys`.
async fn key_server(keys: &[Value]) -> MockServer {
    let server = MockServer::start().await;
    publish(&server, keys).await;
    server
}

async fn publish(server: &MockServer, keys: &[Value]) {
    answer_jwks(
        server,
        ResponseTemplate::new(200).set_body_json(json!({ "keys": keys })),
    )
    .await;
}

async fn answer_jwks(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/.well-known/jwks"))
        .respond_with(response)
        .mount(server)
        .await;
}

/// How many requests the key server has received.
async fn fetches(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .expect("request recording is on")
        .len()
}

/// The stub's `host:port`, what a token names in `jwks_host`.
fn host(server: &MockServer) -> String {
    server.address().to_string()
}

/// A relay in JWKS mode that trusts `server` over plain HTTP (the test setting), with
/// `adjust` applied, in front of a Signals stub that knows 192.0.2.1.
async fn relay(server: &MockServer, adjust: impl FnOnce(&mut JwksConfig)) -> Relay {
    let mut jwks = JwksConfig::new(AUDIENCE);
    jwks.allowed_hosts = vec![host(server)];
    jwks.allow_http = true;
    adjust(&mut jwks);
    let relay = Relay::start_with(|config| config.jwks = Some(jwks)).await;
    relay.report("192.0.2.1", clean()).await;
    relay
}

/// `/deliberate/observables` for 192.0.2.1 with `token`: the answer's body.
async fn deliberate(relay: &Relay, token: &str) -> Value {
    let (status, body) = relay
        .send(
            "POST",
            "/deliberate/observables",
            Some(token),
            &ips(&["192.0.2.1"]),
        )
        .await;
    assert_eq!(status, 200);
    body
}

/// Asserts that `token` is refused with `reason` and that Signals was not asked.
async fn assert_refused(relay: &Relay, token: &str, reason: &str) {
    let before = relay.upstream_paths().await.len();
    let body = deliberate(relay, token).await;
    assert_auth_error(&body, reason);
    assert_eq!(
        relay.upstream_paths().await.len(),
        before,
        "a refused token reached Signals"
    );
}

/// Asserts that `token` is accepted: Signals is asked with the token's `key`.
async fn assert_accepted(relay: &Relay, token: &str) {
    let body = deliberate(relay, token).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["verdicts"]["count"], 1, "{body}");
    let requests = relay.upstream.received_requests().await.expect("recording");
    let last = requests.last().expect("Signals was asked");
    assert_eq!(last.headers["x-auth-token"], API_KEY);
}

#[tokio::test]
async fn a_configuration_token_is_accepted() {
    let server = key_server(&[jwk(&STRANGER, "other"), jwk(&PLATFORM, KID)]).await;
    let relay = relay(&server, |_| {}).await;
    let host = host(&server);
    assert_accepted(&relay, &rs256(&PLATFORM, KID, &claims(&host))).await;
    // The audience with a trailing slash is the same relay.
    let slash = claims_with(&host, &json!({"aud": format!("{AUDIENCE}/")}));
    assert_accepted(&relay, &rs256(&PLATFORM, KID, &slash)).await;
    // The keys were fetched once and then reused.
    assert_eq!(fetches(&server).await, 1);
}

#[tokio::test]
async fn the_token_limit_reaches_observe() {
    // Same claim extraction as the HS256 mode: CTR_ENTITIES_LIMIT bounds the sightings.
    let server = key_server(&[jwk(&PLATFORM, KID)]).await;
    let relay = relay(&server, |_| {}).await;
    let lists = ["1", "2", "3"];
    relay
        .report(
            "192.0.2.9",
            Report {
                score: -3,
                badip: (-1, &lists),
                baddomain: (0, [&[], &[], &[]]),
                history: 0,
            }
            .json(),
        )
        .await;
    for id in lists {
        relay
            .list("badip", id, metadata(&format!("List{id}"), "Public", "1"))
            .await;
    }
    let limited = claims_with(&host(&server), &json!({"CTR_ENTITIES_LIMIT": 2}));
    let token = rs256(&PLATFORM, KID, &limited);
    let (_, body) = relay
        .send(
            "POST",
            "/observe/observables",
            Some(&token),
            &ips(&["192.0.2.9"]),
        )
        .await;
    assert_eq!(docs(&body, "sightings").len(), 2, "{body}");
}

#[tokio::test]
async fn the_audience_must_be_the_relay() {
    let server = key_server(&[jwk(&PLATFORM, KID)]).await;
    let relay = relay(&server, |_| {}).await;
    let host = host(&server);
    for aud in [
        json!("https://other-relay.example.com"),
        json!("https://relay.example.com.evil.example"),
        json!(format!("{AUDIENCE}//")),
        json!(""),
        json!(null),
    ] {
        let token = rs256(&PLATFORM, KID, &claims_with(&host, &json!({ "aud": aud })));
        assert_refused(&relay, &token, WRONG_AUDIENCE).await;
    }
}

#[tokio::test]
async fn expired_and_future_tokens_are_refused() {
    let server = key_server(&[jwk(&PLATFORM, KID)]).await;
    let relay = relay(&server, |_| {}).await;
    let host = host(&server);
    let expired = claims_with(&host, &json!({"exp": now() - 3600}));
    assert_refused(&relay, &rs256(&PLATFORM, KID, &expired), "JWT has expired").await;
    let future = claims_with(&host, &json!({"nbf": now() + 3600}));
    assert_refused(
        &relay,
        &rs256(&PLATFORM, KID, &future),
        "JWT is not yet valid",
    )
    .await;
}

#[tokio::test]
async fn payload_and_structure_failures_keep_their_messages() {
    let server = key_server(&[jwk(&PLATFORM, KID)]).await;
    let relay = relay(&server, |_| {}).await;
    let host = host(&server);
    for changes in [json!({"key": null}), json!({"key": 42}), json!({"key": ""})] {
        let token = rs256(&PLATFORM, KID, &claims_with(&host, &changes));
        assert_refused(&relay, &token, "Wrong JWT payload structure").await;
    }
    for token in ["abc", "a.b.c.d", "!!.@@.##"] {
        assert_refused(&relay, token, "Wrong JWT structure").await;
    }
    let (_, body) = relay
        .raw(
            "POST",
            "/deliberate/observables",
            None,
            &[],
            &ips(&["192.0.2.1"]),
        )
        .await;
    assert_auth_error(&body, "Authorization header is missing");
}

#[tokio::test]
async fn a_missing_jwks_host_is_named() {
    let server = key_server(&[jwk(&PLATFORM, KID)]).await;
    let relay = relay(&server, |_| {}).await;
    for jwks_host in [json!(null), json!(42), json!(""), json!(["x"])] {
        let changes = json!({ "jwks_host": jwks_host });
        let token = rs256(&PLATFORM, KID, &claims_with(&host(&server), &changes));
        assert_refused(&relay, &token, HOST_MISSING).await;
    }
    assert_eq!(fetches(&server).await, 0);
}

#[tokio::test]
async fn hosts_off_the_allow_list_are_never_contacted() {
    let server = key_server(&[jwk(&PLATFORM, KID)]).await;
    // A second key server the token may name but the relay does not trust.
    let rogue = key_server(&[jwk(&STRANGER, KID)]).await;
    let relay = relay(&server, |_| {}).await;
    let port = server.address().port();
    for jwks_host in [
        host(&rogue),
        "visibility.amp.cisco.com".to_owned(), // a default, but not on this relay's list
        "169.254.169.254".to_owned(),
        "localhost".to_owned(),
        format!("127.0.0.1:{port}/.well-known/jwks?"),
        format!("127.0.0.1:{port}@evil.example"),
        format!("evil.example#127.0.0.1:{port}"),
        format!("http://127.0.0.1:{port}"),
    ] {
        let token = rs256(&STRANGER, KID, &claims(&jwks_host));
        assert_refused(&relay, &token, WRONG_HOST).await;
    }
    assert_eq!(fetches(&rogue).await, 0);
    assert_eq!(fetches(&server).await, 0);
}

#[tokio::test]
async fn unknown_kids_are_refused_and_do_not_hammer_the_key_server() {
    let server = key_server(&[jwk(&PLATFORM, KID)]).await;
    let relay = relay(&server, |jwks| {
        jwks.refresh_interval = std::time::Duration::from_secs(3600);
    })
    .await;
    let host = host(&server);
    // A concurrent flood of tokens with kids the server does not have, on a cold cache.
    let tokens: Vec<String> = (0..40)
        .map(|i| rs256(&STRANGER, &format!("forged-{i}"), &claims(&host)))
        .collect();
    let bodies = futures::future::join_all(tokens.iter().map(|t| deliberate(&relay, t))).await;
    for body in &bodies {
        assert_auth_error(body, KID_NOT_FOUND);
    }
    // One fetch, shared by the whole flood.
    assert_eq!(fetches(&server).await, 1);
    // A header without any kid.
    let header = json!({"alg": "RS256", "typ": "JWT"});
    let no_kid = sign_with(
        &PLATFORM,
        &signature::RSA_PKCS1_SHA256,
        &header,
        &claims(&host),
    );
    assert_refused(&relay, &no_kid, KID_NOT_FOUND).await;
    // The published key still works, from the cache.
    assert_accepted(&relay, &rs256(&PLATFORM, KID, &claims(&host))).await;
    assert_eq!(fetches(&server).await, 1);
}

#[tokio::test]
async fn a_rotated_key_waits_for_the_refresh_interval() {
    let server = key_server(&[jwk(&PLATFORM, KID)]).await;
    let relay = relay(&server, |jwks| {
        jwks.refresh_interval = std::time::Duration::from_secs(3600);
    })
    .await;
    let host = host(&server);
    assert_accepted(&relay, &rs256(&PLATFORM, KID, &claims(&host))).await;
    // The server starts publishing a second key (this also clears its request log).
    server.reset().await;
    publish(&server, &[jwk(&PLATFORM, KID), jwk(&STRANGER, "rotated")]).await;
    // Within the interval, an unknown kid is not a reason to ask again, however often.
    let token = rs256(&STRANGER, "rotated", &claims(&host));
    for _ in 0..5 {
        assert_refused(&relay, &token, KID_NOT_FOUND).await;
    }
    assert_eq!(fetches(&server).await, 0);
}

#[tokio::test]
async fn an_unknown_kid_refreshes_the_keys_after_the_interval() {
    let server = key_server(&[jwk(&PLATFORM, KID)]).await;
    // A zero interval: every unknown kid may refresh (the interval has always passed).
    let relay = relay(&server, |jwks| {
        jwks.refresh_interval = std::time::Duration::ZERO;
    })
    .await;
    let host = host(&server);
    assert_accepted(&relay, &rs256(&PLATFORM, KID, &claims(&host))).await;
    server.reset().await;
    publish(&server, &[jwk(&PLATFORM, KID), jwk(&STRANGER, "rotated")]).await;
    assert_accepted(&relay, &rs256(&STRANGER, "rotated", &claims(&host))).await;
    assert_eq!(fetches(&server).await, 1);
    // Known kids never refresh.
    assert_accepted(&relay, &rs256(&PLATFORM, KID, &claims(&host))).await;
    assert_eq!(fetches(&server).await, 1);
}

#[tokio::test]
async fn an_hs256_token_is_refused_in_jwks_mode() {
    let server = key_server(&[jwk(&PLATFORM, KID)]).await;
    let relay = relay(&server, |_| {}).await;
    // What the HS256 mode accepts (relay-server jwt), and the same with XDR's claims.
    let hs256 = xdr_relay_core::encode_token(&secret(), API_KEY, None).expect("token");
    assert_refused(&relay, &hs256, WRONG_KEY).await;
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(KID.into());
    let secret = EncodingKey::from_secret(SECRET.as_bytes());
    let token = jsonwebtoken::encode(&header, &claims(&host(&server)), &secret).expect("sign");
    assert_refused(&relay, &token, WRONG_KEY).await;
    assert_eq!(fetches(&server).await, 0);
}

#[tokio::test]
async fn algorithm_swaps_are_refused_before_any_fetch() {
    let server = key_server(&[jwk(&PLATFORM, KID)]).await;
    let relay = relay(&server, |_| {}).await;
    let claims = claims(&host(&server));

    // HS256 keyed with what an attacker can read: the public key (DER RSAPublicKey) and the
    // JWK the key server publishes.
    let jwk_text = jwk(&PLATFORM, KID).to_string();
    for secret in [PLATFORM.public_key().as_ref(), jwk_text.as_bytes()] {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut header = Header::new(alg);
            header.kid = Some(KID.into());
            let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret))
                .expect("sign");
            assert_refused(&relay, &token, WRONG_KEY).await;
        }
    }

    // alg none (and its spellings), unsigned or with a signature left on.
    for alg in ["none", "None", "NONE"] {
        let header = b64(&json!({"alg": alg, "typ": "JWT", "kid": KID}));
        assert_refused(&relay, &format!("{header}.{}.", b64(&claims)), WRONG_KEY).await;
        let signed = rs256(&PLATFORM, KID, &claims);
        let signature = signed.rsplit('.').next().expect("signature");
        let token = format!("{header}.{}.{signature}", b64(&claims));
        assert_refused(&relay, &token, WRONG_KEY).await;
    }

    // The right key with other RSA algorithms: a verifier that trusts the header's alg would
    // accept these.
    let others: [(&str, &'static dyn RsaEncoding); 5] = [
        ("RS384", &signature::RSA_PKCS1_SHA384),
        ("RS512", &signature::RSA_PKCS1_SHA512),
        ("PS256", &signature::RSA_PSS_SHA256),
        ("PS384", &signature::RSA_PSS_SHA384),
        ("PS512", &signature::RSA_PSS_SHA512),
    ];
    for (alg, padding) in others {
        let header = json!({"alg": alg, "typ": "JWT", "kid": KID});
        let token = sign_with(&PLATFORM, padding, &header, &claims);
        assert_refused(&relay, &token, WRONG_KEY).await;
    }
    // An RS256 header over a PS256 signature: the alg the header names is checked, not taken
    // on trust.
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": KID});
    let token = sign_with(&PLATFORM, &signature::RSA_PSS_SHA256, &header, &claims);
    let before = fetches(&server).await;
    assert_eq!(before, 0, "a non-RS256 token made the relay fetch keys");
    assert_refused(&relay, &token, WRONG_KEY).await;
}

#[tokio::test]
async fn forged_signatures_are_refused() {
    let server = key_server(&[jwk(&PLATFORM, KID)]).await;
    let relay = relay(&server, |_| {}).await;
    let host = host(&server);
    // Signed by another key under the published kid.
    assert_refused(&relay, &rs256(&STRANGER, KID, &claims(&host)), WRONG_KEY).await;
    // A genuine signature over another payload.
    let genuine = rs256(&PLATFORM, KID, &claims(&host));
    let mut parts: Vec<&str> = genuine.split('.').collect();
    let forged = b64(&claims_with(&host, &json!({"key": "stolen"})));
    parts[1] = &forged;
    assert_refused(&relay, &parts.join("."), WRONG_KEY).await;
    // No signature at all.
    let unsigned = format!("{}.{}.", parts[0], b64(&claims(&host)));
    assert_refused(&relay, &unsigned, WRONG_KEY).await;
}

#[tokio::test]
async fn keys_are_fetched_over_https_by_default() {
    let server = key_server(&[jwk(&PLATFORM, KID)]).await;
    let relay = relay(&server, |jwks| jwks.allow_http = false).await;
    let token = rs256(&PLATFORM, KID, &claims(&host(&server)));
    assert_refused(&relay, &token, WRONG_HOST).await;
    // The relay opened a TLS connection: the plain HTTP stub saw no request it could read.
    assert_eq!(fetches(&server).await, 0);
}

#[tokio::test]
async fn redirects_from_the_key_server_are_not_followed() {
    let elsewhere = key_server(&[jwk(&PLATFORM, KID)]).await;
    let server = MockServer::start().await;
    let location = format!("{}/.well-known/jwks", elsewhere.uri());
    answer_jwks(
        &server,
        ResponseTemplate::new(302).insert_header("location", location.as_str()),
    )
    .await;
    let relay = relay(&server, |_| {}).await;
    let token = rs256(&PLATFORM, KID, &claims(&host(&server)));
    assert_refused(&relay, &token, WRONG_HOST).await;
    assert_eq!(fetches(&server).await, 1);
    assert_eq!(fetches(&elsewhere).await, 0);
}

#[tokio::test]
async fn key_server_failures_are_bounded_and_not_retried_in_a_flood() {
    let padding = "x".repeat(300 * 1024);
    let oversized = json!({"keys": [jwk(&PLATFORM, KID)], "padding": padding});
    for response in [
        ResponseTemplate::new(500),
        ResponseTemplate::new(200).set_body_string("<html>not a key set</html>"),
        ResponseTemplate::new(200).set_body_json(oversized),
    ] {
        let server = MockServer::start().await;
        answer_jwks(&server, response).await;
        let relay = relay(&server, |jwks| {
            jwks.refresh_interval = std::time::Duration::from_secs(3600);
        })
        .await;
        let token = rs256(&PLATFORM, KID, &claims(&host(&server)));
        for _ in 0..5 {
            assert_refused(&relay, &token, WRONG_HOST).await;
        }
        // The failure is remembered for the refresh interval.
        assert_eq!(fetches(&server).await, 1);
    }
}

#[tokio::test]
async fn a_jwks_relay_needs_an_audience_and_a_usable_allow_list() {
    let check = |adjust: fn(&mut JwksConfig)| {
        let mut jwks = JwksConfig::new(AUDIENCE);
        adjust(&mut jwks);
        let mut config = xdr_relay_core::RelayConfig::default();
        config.jwks = Some(jwks);
        xdr_relay_core::router(config).is_ok()
    };
    assert!(check(|_| {}));
    assert!(!check(|j| j.audience = String::new()));
    assert!(!check(|j| j.allowed_hosts.clear()));
    assert!(!check(
        |j| j.allowed_hosts = vec!["https://x.example/".into()]
    ));
}
