//! Request bodies: validated before the token, bounded, filtered and deduplicated.

use serde_json::json;

use crate::common::*;

const ROUTES: [&str; 4] = [
    "/observe/observables",
    "/deliberate/observables",
    "/refer/observables",
    "/respond/observables",
];

/// `body` is an `invalid argument` with `message` on every observable route, with a token
/// and without one (the body is checked first), and nothing reaches the upstream.
async fn check(relay: &Relay, body: &str, message: &str) {
    for route in ROUTES {
        for token in [Some(token()), None] {
            let (status, answer) = relay.send("POST", route, token.as_deref(), body).await;
            assert_eq!(status, 200, "{route}");
            assert_error(&answer, "invalid argument", message);
        }
    }
    assert!(relay.upstream_paths().await.is_empty());
}

fn invalid(problems: &str) -> String {
    format!("Invalid JSON payload received. {problems}")
}

#[tokio::test]
async fn not_a_list() {
    let relay = Relay::start().await;
    let message = invalid(r#"{"_schema":["Invalid input type: expected a list of observables."]}"#);
    check(&relay, r#"{"type":"ip","value":"1.1.1.1"}"#, &message).await;
    check(&relay, "42", &message).await;
    check(&relay, "null", &message).await;
}

#[tokio::test]
async fn fields_missing_empty_or_not_strings() {
    let relay = Relay::start().await;
    check(
        &relay,
        r#"[{"type":"ip","value":"1.1.1.1"},{"type":"ip"}]"#,
        &invalid(r#"{"1":{"value":["Missing data for required field."]}}"#),
    )
    .await;
    check(
        &relay,
        r#"[{"type":"ip","value":""}]"#,
        &invalid(r#"{"0":{"value":["Field may not be empty."]}}"#),
    )
    .await;
    check(
        &relay,
        r#"[{"value":"1.1.1.1"},{"type":["ip"],"value":7}]"#,
        &invalid(
            r#"{"0":{"type":["Missing data for required field."]},"1":{"type":["Not a valid string."],"value":["Not a valid string."]}}"#,
        ),
    )
    .await;
    check(
        &relay,
        r#"["1.1.1.1"]"#,
        &invalid(r#"{"0":{"_schema":["Invalid input type: expected an object."]}}"#),
    )
    .await;
}

#[tokio::test]
async fn invalid_json() {
    let relay = Relay::start().await;
    for body in ["", "not json", "[", r#"[{"type":"ip",}]"#] {
        for route in ROUTES {
            let (_, answer) = relay.send("POST", route, None, body).await;
            assert_eq!(answer["errors"][0]["code"], "invalid argument", "{body:?}");
            let message = answer["errors"][0]["message"].as_str().unwrap_or("");
            let problems = message
                .strip_prefix("Invalid JSON payload received. ")
                .unwrap_or_else(|| panic!("{message}"));
            let problems: serde_json::Value =
                serde_json::from_str(problems).expect("the problems are JSON");
            assert!(
                problems["_json"][0]
                    .as_str()
                    .is_some_and(|m| m.starts_with("Invalid JSON"))
            );
        }
    }
    assert!(relay.upstream_paths().await.is_empty());
}

#[tokio::test]
async fn too_many_observables() {
    let relay = Relay::start_with(|c| c.max_observables = 3).await;
    let four = ips(&["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]);
    check(
        &relay,
        &four,
        &invalid(r#"{"_schema":["Too many observables: 4 (at most 3)."]}"#),
    )
    .await;
    // Exactly the limit is fine.
    let (_, body) = relay
        .post(
            "/refer/observables",
            &ips(&["192.0.2.1", "192.0.2.2", "192.0.2.3"]),
        )
        .await;
    assert_eq!(body["data"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn body_over_the_limit() {
    let relay = Relay::start_with(|c| c.max_body_bytes = 64).await;
    let big = ips(&["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]);
    assert!(big.len() > 64);
    check(
        &relay,
        &big,
        &invalid(r#"{"_schema":["Request body too large or unreadable (at most 64 bytes)."]}"#),
    )
    .await;
}

#[tokio::test]
async fn only_parsable_ips_reach_the_upstream() {
    let relay = Relay::start().await;
    for ip in ["192.0.2.1", "2001:db8::1", "::ffff:192.0.2.9"] {
        relay.report(ip, clean()).await;
    }
    let body = observables(&[
        ("domain", "example.com"),
        (
            "sha256",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        ("url", "http://192.0.2.1/"),
        ("ipv6", "2001:db8::1"),
        ("IP", "192.0.2.1"),
        ("ip", "999.1.1.1"),
        ("ip", "192.0.2.0/24"),
        ("ip", "../../metadata/badip/lists/x"),
        ("ip", "192.0.2.1/../../v2.0/ip"),
        ("ip", " 192.0.2.1"),
        ("ip", "192.0.2.1?x=1"),
        ("ip", "192.0.2.1%2F"),
        ("ip", "192.0.2.1"),
        ("ip", "2001:DB8:0::1"),
        ("ip", "::ffff:192.0.2.9"),
        ("brand-new-ctim-type", "whatever"),
    ]);
    let (status, answer) = relay.post("/observe/observables", &body).await;
    assert_eq!(status, 200);
    assert!(answer.get("errors").is_none(), "{answer:#}");
    let mut paths = relay.upstream_paths().await;
    paths.sort();
    // The parsed address is what is sent: `2001:DB8:0::1` becomes `2001:db8::1`.
    assert_eq!(
        paths,
        [
            "/v2.0/ip/192.0.2.1",
            "/v2.0/ip/2001:db8::1",
            "/v2.0/ip/::ffff:192.0.2.9"
        ]
    );
    // The verdict echoes the observable as the request sent it.
    let values: Vec<&str> = docs(&answer, "verdicts")
        .iter()
        .map(|v| v["observable"]["value"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(values, ["192.0.2.1", "2001:DB8:0::1", "::ffff:192.0.2.9"]);
}

#[tokio::test]
async fn duplicates_are_answered_once() {
    let relay = Relay::start().await;
    relay.report("192.0.2.1", clean()).await;
    let body = ips(&["192.0.2.1", "192.0.2.1", "192.0.2.1"]);
    let (_, answer) = relay.post("/deliberate/observables", &body).await;
    assert_eq!(docs(&answer, "verdicts").len(), 1);
    assert_eq!(relay.upstream_paths().await, ["/v2.0/ip/192.0.2.1"]);
    let (_, answer) = relay.post("/refer/observables", &body).await;
    assert_eq!(answer["data"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn nothing_supported_is_empty_data_without_upstream_calls() {
    let relay = Relay::start().await;
    let body = observables(&[("domain", "example.com"), ("ip", "not-an-ip")]);
    for (route, expected) in [
        ("/observe/observables", json!({"data": {}})),
        ("/deliberate/observables", json!({"data": {}})),
        ("/refer/observables", json!({"data": []})),
    ] {
        let (_, answer) = relay.post(route, &body).await;
        assert_eq!(answer, expected, "{route}");
    }
    let (_, answer) = relay.post("/observe/observables", "[]").await;
    assert_eq!(answer, json!({"data": {}}));
    assert!(relay.upstream_paths().await.is_empty());
}
