//! Secrets never reach a log line: every route, at TRACE level for every target (the relay,
//! signals-client, reqwest, hyper, h2), with upstream answers that echo the key back.

use serde_json::json;
use wiremock::ResponseTemplate;

use crate::common::*;

/// Every route, with good and bad tokens, against an upstream that knows one IP, refuses one
/// key while echoing it, rate-limits and fails.
async fn every_route(relay: &Relay, good: &str, bad: &[&str]) {
    let body = ips(&["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]);
    for route in [
        "/health",
        "/deliberate/observables",
        "/observe/observables",
        "/refer/observables",
        "/respond/observables",
        "/respond/trigger",
    ] {
        relay.send("POST", route, Some(good), &body).await;
        for token in bad {
            relay.send("POST", route, Some(token), &body).await;
        }
    }
    relay.send("POST", "/version", Some(good), "").await;
    relay
        .raw(
            "GET",
            "/watchdog",
            Some(&format!("Bearer {good}")),
            &[("Health-Check", "x")],
            "",
        )
        .await;
    relay.send("GET", "/openapi.json", Some(good), "").await;
    relay.send("POST", "/nowhere", Some(good), &body).await;
    relay.send("DELETE", "/health", Some(good), "").await;
}

#[tokio::test]
async fn no_log_line_holds_the_api_key_secret_key_or_jwt() {
    // Tokio's test runtime is single-threaded: the router, the client and hyper's connection
    // tasks all run on this thread, under this subscriber.
    let logs = testkit::logs::Logs::trace();
    let capture = logs.capture().clone();
    let log_facade = logs.with_log_facade();

    let relay = Relay::start_with(|c| c.openapi = true).await;
    let echo = format!("key {API_KEY} is not valid");
    relay
        .report(
            "192.0.2.1",
            Report {
                score: -1,
                badip: (-1, &["L"]),
                baddomain: (0, [&[], &[], &[]]),
                history: 0,
            }
            .json(),
        )
        .await;
    relay.list("badip", "L", metadata("L", "Public", "1")).await;
    relay
        .answer(
            "/v2.0/ip/192.0.2.2",
            ResponseTemplate::new(401).set_body_string(&echo),
        )
        .await;
    relay
        .answer(
            "/v2.0/ip/192.0.2.3",
            ResponseTemplate::new(429).set_body_string(&echo),
        )
        .await;
    relay
        .answer(
            "/v2.0/ip/192.0.2.4",
            ResponseTemplate::new(500).set_body_string(&echo),
        )
        .await;
    relay
        .answer(
            "/v2.0/ip",
            ResponseTemplate::new(200).set_body_json(json!({"fullip": {}})),
        )
        .await;

    let good = token();
    let other_secret = xdr_relay_core::SecretKey::new("an attacker's secret").expect("secret");
    let forged = xdr_relay_core::encode_token(&other_secret, API_KEY, None).expect("token");
    let expired = testkit::token::hs256(SECRET, &json!({"key": API_KEY, "exp": 1}));
    let bad = [forged.as_str(), expired.as_str(), "not.a.jwt"];

    // Once to register every callsite, then again with interest recomputed for this
    // subscriber (other tests' threads may have registered callsites no one wanted).
    every_route(&relay, &good, &bad).await;
    tracing::callsite::rebuild_interest_cache();
    capture.clear();
    every_route(&relay, &good, &bad).await;
    drop(log_facade);

    let logs = capture.text();
    // The capture really saw every layer, or this test would prove nothing.
    for expected in [
        "relay::request",
        "signals_request",
        "/observe/observables",
        "/respond/trigger",
        "/openapi.json",
        "retrying",
        "reqwest",
    ] {
        assert!(
            logs.contains(expected),
            "{expected:?} was not logged:\n{logs}"
        );
    }
    let mut secrets = vec![
        ("the API key", API_KEY.to_owned()),
        ("the API key's first block", API_KEY[..8].to_owned()),
        ("SECRET_KEY", SECRET.to_owned()),
        ("SECRET_KEY's first half", SECRET[..32].to_owned()),
    ];
    for token in [good.as_str(), forged.as_str(), expired.as_str()] {
        secrets.push(("a JWT", token.to_owned()));
        for part in token.split('.').skip(1) {
            secrets.push(("a JWT's payload or signature", part.to_owned()));
        }
    }
    for line in logs.lines() {
        for (what, secret) in &secrets {
            assert!(!line.contains(secret.as_str()), "{what} leaked: {line}");
        }
    }
}
