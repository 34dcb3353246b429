//! The routes around the enrich ones: health, refer, respond, version, watchdog, routing
//! errors, trailing slashes, and the request log line.

use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use crate::common::*;

#[tokio::test]
async fn health_checks_the_key_upstream() {
    let relay = Relay::start().await;
    relay
        .answer(
            "/v2.0/ip",
            ResponseTemplate::new(200).set_body_json(json!({"fullip": {}})),
        )
        .await;
    let (status, body) = relay.post("/health", "").await;
    assert_eq!(
        (status.as_u16(), body),
        (200, json!({"data": {"status": "ok"}}))
    );
    let requests = relay.upstream.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].url.path(), "/v2.0/ip");
    assert_eq!(
        requests[0]
            .headers
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok()),
        Some(API_KEY)
    );
}

#[tokio::test]
async fn refer_links_every_supported_ip() {
    let relay = Relay::start().await;
    let body = observables(&[
        ("ip", "192.0.2.1"),
        ("domain", "example.com"),
        ("ip", "2001:db8::1"),
    ]);
    let (_, answer) = relay.post("/refer/observables", &body).await;
    let link = |ip: &str| {
        json!({
            "id": format!("ref-auth0-signals-search-ip-{ip}"),
            "title": "Search for this IP",
            "description": "Lookup this IP on Auth0 Signals",
            "url": format!("https://auth0.com/signals/ip/{ip}-report"),
            "categories": ["Search", "Auth0 Signals"],
        })
    };
    assert_eq!(
        answer,
        json!({"data": [link("192.0.2.1"), link("2001:db8::1")]})
    );
    assert!(relay.upstream_paths().await.is_empty());
}

#[tokio::test]
async fn respond_routes_have_nothing_to_offer() {
    let relay = Relay::start().await;
    let (_, body) = relay
        .post("/respond/observables", &ips(&["192.0.2.1"]))
        .await;
    assert_eq!(body, json!({"data": []}));
    let trigger = r#"{"action-id":"x","observable_type":"ip","observable_value":"192.0.2.1"}"#;
    let (_, body) = relay.post("/respond/trigger", trigger).await;
    assert_eq!(body, json!({"data": {"status": "failure"}}));
    assert!(relay.upstream_paths().await.is_empty());
}

#[tokio::test]
async fn version_needs_no_token() {
    let relay = Relay::start().await;
    for method in ["GET", "POST"] {
        let (status, body) = relay.send(method, "/version", None, "").await;
        assert_eq!(status, 200);
        assert_eq!(body, json!({"version": env!("CARGO_PKG_VERSION")}));
    }
}

#[tokio::test]
async fn watchdog_echoes_its_header() {
    let relay = Relay::start().await;
    for method in ["GET", "POST"] {
        let (status, body) = relay
            .raw(
                method,
                "/watchdog",
                None,
                &[("Health-Check", "ping-42")],
                "",
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(body, json!({"data": "ping-42"}));
        let (status, body) = relay.raw(method, "/watchdog", None, &[], "").await;
        assert_eq!(status, 200);
        assert_error(&body, "health check failed", "Invalid Health-Check");
    }
    assert!(relay.upstream_paths().await.is_empty());
}

#[tokio::test]
async fn unknown_paths_and_methods_are_json() {
    let relay = Relay::start().await;
    let not_found = "The requested URL was not found on the server.";
    for (method, uri) in [
        ("POST", "/nope"),
        ("GET", "/"),
        ("POST", "/observe"),
        ("POST", "/observe/observables//"),
    ] {
        let (status, body) = relay.send(method, uri, Some(&token()), "[]").await;
        assert_eq!(status, 404, "{method} {uri}");
        assert_error(&body, "not found", not_found);
    }
    let not_allowed = "The method is not allowed for the requested URL.";
    for (method, uri) in [
        ("GET", "/observe/observables"),
        ("PUT", "/health"),
        ("DELETE", "/watchdog/"),
    ] {
        let (status, body) = relay.send(method, uri, Some(&token()), "").await;
        assert_eq!(status, 405, "{method} {uri}");
        assert_error(&body, "method not allowed", not_allowed);
    }
}

#[tokio::test]
async fn trailing_slashes_are_tolerated() {
    let relay = Relay::start().await;
    relay.report("192.0.2.1", clean()).await;
    relay
        .answer(
            "/v2.0/ip",
            ResponseTemplate::new(200).set_body_json(json!({"fullip": {}})),
        )
        .await;
    let body = ips(&["192.0.2.1"]);
    let (_, answer) = relay.post("/observe/observables/", &body).await;
    assert_eq!(docs(&answer, "verdicts").len(), 1);
    let (_, answer) = relay.post("/deliberate/observables/", &body).await;
    assert_eq!(docs(&answer, "verdicts").len(), 1);
    let (_, answer) = relay.post("/refer/observables/", &body).await;
    assert_eq!(answer["data"].as_array().map(Vec::len), Some(1));
    let (_, answer) = relay.post("/health/", "").await;
    assert_eq!(answer, json!({"data": {"status": "ok"}}));
    let (_, answer) = relay.post("/respond/observables/", &body).await;
    assert_eq!(answer, json!({"data": []}));
    let (_, answer) = relay.post("/respond/trigger/", "{}").await;
    assert_eq!(answer, json!({"data": {"status": "failure"}}));
    let (_, answer) = relay.send("POST", "/version/", None, "").await;
    assert_eq!(answer["version"], xdr_relay_core::VERSION);
    let (_, answer) = relay
        .raw("GET", "/watchdog/", None, &[("Health-Check", "x")], "")
        .await;
    assert_eq!(answer, json!({"data": "x"}));
}

/// The request log lines among what `capture` holds (JSON lines).
fn request_lines(capture: &Capture) -> Vec<Value> {
    capture
        .json_lines()
        .into_iter()
        .filter(|line| line["target"] == "relay::request")
        .collect()
}

#[tokio::test]
async fn one_log_line_per_request_with_its_costs() {
    // The test runtime is single-threaded, so the router runs under this subscriber.
    let logs = testkit::logs::Logs::json();
    let captured = logs.capture();
    let relay = Relay::start().await;

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
        .answer("/v2.0/ip/192.0.2.2", ResponseTemplate::new(500))
        .await;
    let body = ips(&["192.0.2.1", "192.0.2.2"]);
    relay.post("/observe/observables", &body).await;
    relay
        .post("/observe/observables", &ips(&["192.0.2.1"]))
        .await;
    relay
        .send("POST", "/observe/observables", None, &body)
        .await;
    relay.post("/observe/observables", "not json").await;
    relay.send("GET", "/nowhere", None, "").await;

    let lines = request_lines(captured);
    let summary: Vec<Value> = lines
        .iter()
        .map(|l| {
            json!([
                l["path"],
                l["status"],
                l["observables"],
                l["upstream_calls"],
                l["cache_hits"],
                l["errors"]
            ])
        })
        .collect();
    assert_eq!(
        summary,
        [
            // Two IP lookups (one failing) and one metadata call.
            json!(["/observe/observables", 200, 2, 3, 0, 1]),
            // The list's metadata now comes from the cache.
            json!(["/observe/observables", 200, 1, 1, 1, 0]),
            // Error answers count as errors.
            json!(["/observe/observables", 200, 0, 0, 0, 1]),
            json!(["/observe/observables", 200, 0, 0, 0, 1]),
            json!(["/nowhere", 404, 0, 0, 0, 1]),
        ]
    );
    assert!(lines.iter().all(|l| l["duration_ms"].is_number()));
}
