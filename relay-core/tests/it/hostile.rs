//! Hostile tokens and bodies beyond `auth.rs` and `body.rs`: confused algorithms, key-locating
//! headers, oversized and malformed tokens; huge, deep, non-UTF-8 and path-smuggling bodies.
//! Each is a clear error or skipped, and nothing but `/v2.0/ip/<parsed address>` goes upstream.

use std::io::ErrorKind;
use std::net::TcpListener;

use axum::body::Body;
use axum::http::Request;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::common::*;

const AUTH_ERROR: &str = "authorization error";

fn b64(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// An HS256 token whose header carries `extra` fields, signed with `secret`.
fn hs256_with_header(extra: &Value, secret: &str) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = extra["kid"].as_str().map(str::to_owned);
    header.jku = extra["jku"].as_str().map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        &json!({"key": API_KEY}),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

/// `authorization` on an observable route: its error code (or "none"), and what went upstream.
async fn try_token(relay: &Relay, authorization: &str) -> (String, Value) {
    let (status, body) = relay
        .raw(
            "POST",
            "/deliberate/observables",
            Some(authorization),
            &[],
            &ips(&["192.0.2.1"]),
        )
        .await;
    assert_eq!(status, 200);
    let code = body["errors"][0]["code"]
        .as_str()
        .unwrap_or("none")
        .to_owned();
    (code, body)
}

/// Every token in `tokens` is an authorization error, and the upstream hears nothing.
async fn all_rejected(tokens: &[String]) {
    let relay = Relay::start().await;
    relay.report("192.0.2.1", clean()).await;
    for token in tokens {
        let (code, body) = try_token(&relay, &format!("Bearer {token}")).await;
        let shown: String = token.chars().take(80).collect();
        assert_eq!(code, AUTH_ERROR, "{shown}…: {body}");
        assert!(body.get("data").is_none());
    }
    assert!(relay.upstream_paths().await.is_empty());
}

#[tokio::test]
async fn rs256_signed_with_the_secret_as_a_public_key() {
    // Key confusion: the attacker signs with what a verifier would take as its public key,
    // naming an asymmetric algorithm. The relay knows HS256 alone.
    let claims = b64(&json!({"key": API_KEY}));
    let mut tokens = Vec::new();
    for alg in ["RS256", "RS512", "PS256", "ES256", "EdDSA"] {
        let header = b64(&json!({"alg": alg, "typ": "JWT"}));
        let input = format!("{header}.{claims}");
        let mac = hmac_sha256(SECRET.as_bytes(), input.as_bytes());
        tokens.push(format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac)));
    }
    all_rejected(&tokens).await;
}

/// HMAC-SHA256 through jsonwebtoken itself (its signature part, decoded).
fn hmac_sha256(secret: &[u8], input: &[u8]) -> Vec<u8> {
    let signature =
        jsonwebtoken::crypto::sign(input, &EncodingKey::from_secret(secret), Algorithm::HS256)
            .expect("sign");
    URL_SAFE_NO_PAD.decode(signature).expect("base64")
}

#[tokio::test]
async fn kid_and_jku_are_ignored_and_never_fetched() {
    // A listener the jku points at: the relay must never connect to it.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    listener.set_nonblocking(true).expect("nonblocking");
    let jku = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().expect("addr")
    );
    let headers = json!({"kid": "../../../../etc/passwd", "jku": jku});

    let relay = Relay::start().await;
    relay.report("192.0.2.1", clean()).await;
    // Signed with SECRET_KEY: still verified as HS256 and accepted, the headers ignored.
    let good = hs256_with_header(&headers, SECRET);
    let (code, body) = try_token(&relay, &format!("Bearer {good}")).await;
    assert_eq!(code, "none", "{body}");
    assert_eq!(docs(&body, "verdicts").len(), 1);
    // Signed with anything else: rejected, whatever key the headers point at.
    let bad = hs256_with_header(&headers, "the attacker's key");
    let (code, _) = try_token(&relay, &format!("Bearer {bad}")).await;
    assert_eq!(code, AUTH_ERROR);

    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Ok((_, peer)) => panic!("the relay fetched the jku (connection from {peer})"),
        Err(e) => panic!("listener failed: {e}"),
    }
    assert_eq!(relay.upstream_paths().await, ["/v2.0/ip/192.0.2.1"]);
}

#[tokio::test]
async fn a_one_mebibyte_token() {
    let part = "A".repeat(1 << 20);
    let valid = token();
    let (header, rest) = valid.split_once('.').expect("three parts");
    all_rejected(&[
        format!("{part}.{part}.{part}"),
        // A real header, then a megabyte of payload.
        format!("{header}.{part}.sig"),
        // A valid token padded with a megabyte of signature.
        format!("{header}.{rest}{part}"),
    ])
    .await;
}

#[tokio::test]
async fn many_dots() {
    all_rejected(&[
        ".".repeat(100_000),
        format!("{}{}", token(), ".".repeat(1000)),
        "a.".repeat(50_000),
        "..".to_owned(),
    ])
    .await;
}

#[tokio::test]
async fn bad_base64() {
    let valid = token();
    let parts: Vec<&str> = valid.split('.').collect();
    let padded = |s: &str| format!("{s}==");
    let standard_alphabet = STANDARD.encode(json!({"key": API_KEY, "x": "??>>"}).to_string());
    all_rejected(&[
        format!("{}.{}.{}", padded(parts[0]), parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], padded(parts[1]), parts[2]),
        format!("{}.{}.{}", parts[0], parts[1], padded(parts[2])),
        format!("{}.{standard_alphabet}.{}", parts[0], parts[2]),
        format!("{}.{}.{}", parts[0], "é€", parts[2]),
        format!("{}.{}.{}", parts[0], parts[1], "%00%ff"),
        format!("{}.{}.", parts[0], parts[1]),
        format!("{}..{}", parts[0], parts[2]),
    ])
    .await;
}

#[tokio::test]
async fn header_values_that_are_not_text() {
    let relay = Relay::start().await;
    let token = token();
    for value in [
        [b"Bearer ".as_slice(), &[0xff, 0xfe], token.as_bytes()].concat(),
        [b"Bearer ".as_slice(), token.as_bytes(), &[0x80]].concat(),
    ] {
        let request = Request::post("/observe/observables")
            .header("authorization", value.as_slice())
            .body(Body::from(ips(&["192.0.2.1"])))
            .expect("request");
        let (status, body) = relay.call(request).await;
        let body: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(status, 200);
        assert_auth_error(&body, "Wrong authorization type");
    }
    assert!(relay.upstream_paths().await.is_empty());
}

// ---- bodies ----

/// Sends raw bytes with a content type to an observable route; the error code or "none".
async fn post_bytes(relay: &Relay, content_type: Option<&str>, body: Vec<u8>) -> (String, Value) {
    let mut request = Request::post("/observe/observables")
        .header("authorization", format!("Bearer {}", token()));
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let (status, bytes) = relay
        .call(request.body(Body::from(body)).expect("request"))
        .await;
    assert_eq!(status, 200);
    let body: Value = serde_json::from_slice(&bytes).expect("JSON answer");
    let code = body["errors"][0]["code"]
        .as_str()
        .unwrap_or("none")
        .to_owned();
    (code, body)
}

#[tokio::test]
async fn a_ten_mebibyte_body_is_refused() {
    let relay = Relay::start().await;
    let mut body = ips(&["192.0.2.1"]).into_bytes();
    body.pop();
    body.extend(std::iter::repeat_n(b' ', 10 << 20));
    body.push(b']');
    let (code, answer) = post_bytes(&relay, Some("application/json"), body).await;
    assert_eq!(code, "invalid argument");
    let message = answer["errors"][0]["message"].as_str().unwrap_or("");
    assert!(message.contains("at most 1048576 bytes"), "{message}");
    assert!(relay.upstream_paths().await.is_empty());
}

#[tokio::test]
async fn a_hundred_thousand_observables_are_refused() {
    // A body limit large enough that the count limit is the one that speaks.
    let relay = Relay::start_with(|c| c.max_body_bytes = 16 << 20).await;
    let values: Vec<String> = (0..100_000u32)
        .map(|i| std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string())
        .collect();
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    let (code, answer) = post_bytes(&relay, None, ips(&refs).into_bytes()).await;
    assert_eq!(code, "invalid argument");
    assert_error(
        &answer,
        "invalid argument",
        r#"Invalid JSON payload received. {"_schema":["Too many observables: 100000 (at most 1000)."]}"#,
    );
    assert!(relay.upstream_paths().await.is_empty());
}

#[tokio::test]
async fn deep_nesting_is_an_invalid_argument() {
    let relay = Relay::start().await;
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let inside_an_observable = format!(
        r#"[{{"type":"ip","value":"192.0.2.1","extra":{}}}]"#,
        deep(10_000)
    );
    let objects = format!("{}{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    for body in [
        deep(100_000),
        "[".repeat(1_000_000),
        inside_an_observable,
        objects,
    ] {
        let (code, answer) = post_bytes(&relay, None, body.into_bytes()).await;
        assert_eq!(code, "invalid argument", "{answer}");
    }
    assert!(relay.upstream_paths().await.is_empty());
}

#[tokio::test]
async fn invalid_utf8_is_an_invalid_argument() {
    let relay = Relay::start().await;
    for body in [
        b"[{\"type\":\"ip\",\"value\":\"192.0.2.1\xff\"}]".to_vec(),
        b"\xef\xbb\xbf[]".to_vec(), // a byte-order mark is not JSON either
        b"[{\"type\":\"\xc0\xaf\",\"value\":\"x\"}]".to_vec(),
        vec![0xff; 64],
        vec![0; 64],
    ] {
        let (code, answer) = post_bytes(&relay, Some("application/json"), body).await;
        assert_eq!(code, "invalid argument", "{answer}");
        // The message is itself valid JSON text after its prefix.
        let message = answer["errors"][0]["message"].as_str().expect("message");
        let rest = message
            .strip_prefix("Invalid JSON payload received. ")
            .expect("prefix");
        serde_json::from_str::<Value>(rest).expect("the problems are JSON");
    }
    assert!(relay.upstream_paths().await.is_empty());
}

#[tokio::test]
async fn the_content_type_is_not_trusted_the_body_is_judged() {
    // Threat Response sends application/json; the relay judges the bytes, whatever the label.
    let relay = Relay::start().await;
    relay.report("192.0.2.1", clean()).await;
    let json_body = ips(&["192.0.2.1"]).into_bytes();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/json; charset=utf-16"),
        Some("\u{0}nonsense"),
    ] {
        let Ok(_) = axum::http::HeaderValue::from_str(content_type.unwrap_or("")) else {
            continue;
        };
        let (code, answer) = post_bytes(&relay, content_type, json_body.clone()).await;
        assert_eq!(code, "none", "{content_type:?}: {answer}");
        assert_eq!(docs(&answer, "verdicts").len(), 1);
    }
    for (content_type, body) in [
        (
            "application/x-www-form-urlencoded",
            &b"type=ip&value=192.0.2.1"[..],
        ),
        ("multipart/form-data; boundary=x", b"--x\r\n\r\n[]\r\n--x--"),
        ("application/xml", b"<observables/>"),
    ] {
        let (code, _) = post_bytes(&relay, Some(content_type), body.to_vec()).await;
        assert_eq!(code, "invalid argument", "{content_type}");
    }
    assert!(
        relay
            .upstream_paths()
            .await
            .iter()
            .all(|p| p == "/v2.0/ip/192.0.2.1")
    );
}

#[tokio::test]
async fn path_smuggling_values_never_change_the_upstream_path() {
    let relay = Relay::start().await;
    relay.report("192.0.2.1", clean()).await;
    relay.report("2001:db8::1", clean()).await;
    let hostile = [
        "192.0.2.1/",
        "/192.0.2.1",
        "192.0.2.1/../../metadata/badip/lists/X",
        "..",
        "../",
        "192.0.2.1%2F..%2F..",
        "%2e%2e%2f",
        "192.0.2.1?key=stolen",
        "192.0.2.1#frag",
        "#",
        "?",
        "192.0.2.1\r\nX-Auth-Token: other",
        "192.0.2.1\n",
        "\r\n\r\nGET / HTTP/1.1",
        "192.0.2.1 ",
        " 192.0.2.1",
        "192.0.2 .1",
        "192.0.2.1\t",
        "192.0.2.1\u{0}",
        "1\u{ff0e}1\u{ff0e}1\u{ff0e}1", // full-width dots
        "fe80::1%eth0",
        "[2001:db8::1]",
        "2001:db8::1/64",
        "0x7f.0.0.1",
        "017700000001",
        "2130706433",
        "127.1",
        "192.0.2.1:80",
        "http://192.0.2.1/",
    ];
    let mut pairs: Vec<(&str, &str)> = hostile.iter().map(|v| ("ip", *v)).collect();
    // Other types with the same values are skipped too, whatever they hold.
    pairs.extend(hostile.iter().map(|v| ("domain", *v)));
    pairs.extend([("ip", "192.0.2.1"), ("ip", "2001:DB8::1")]);
    let (status, answer) = relay
        .post("/observe/observables", &observables(&pairs))
        .await;
    assert_eq!(status, 200);
    assert!(answer.get("errors").is_none(), "{answer:#}");
    assert_eq!(docs(&answer, "verdicts").len(), 2);
    let requests = relay.upstream.received_requests().await.expect("recorded");
    let mut seen: Vec<String> = requests
        .iter()
        .map(|r| {
            assert_eq!(r.url.query(), None, "{}", r.url);
            assert_eq!(r.url.fragment(), None, "{}", r.url);
            r.url.path().to_owned()
        })
        .collect();
    seen.sort();
    assert_eq!(seen, ["/v2.0/ip/192.0.2.1", "/v2.0/ip/2001:db8::1"]);
}
