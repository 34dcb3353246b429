//! Hostile requests and hostile answers: the relay answers relay-core's errors for bad input
//! (before any call), ignores what it does not look up, and turns an upstream's garbage into
//! one address's error, never a crash.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

fn code(answer: &serde_json::Value) -> String {
    errors(answer)
        .first()
        .map(|(code, _)| code.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn bad_requests_are_invalid_arguments_and_cost_no_call() {
    let relay = Relay::start().await;
    let huge = format!(
        "[{}]",
        vec![r#"{"type":"ip","value":"192.0.2.1"}"#; 40_000].join(",")
    );
    let too_many: Vec<String> = (0..1001)
        .map(|n| format!("10.0.{}.{}", n / 256, n % 256))
        .collect();
    let too_many: Vec<&str> = too_many.iter().map(String::as_str).collect();
    for body in [
        huge,
        ips(&too_many),
        "not json".to_owned(),
        r#"{"type":"ip","value":"192.0.2.1"}"#.to_owned(),
        r#"[{"type":"ip"}]"#.to_owned(),
        r#"[{"type":"ip","value":""}]"#.to_owned(),
        r#"[{"type":7,"value":"192.0.2.1"}]"#.to_owned(),
        "[".repeat(100_000),
    ] {
        for route in [
            "/observe/observables",
            "/deliberate/observables",
            "/refer/observables",
        ] {
            let answer = relay.observe_at(route, &body).await;
            assert_eq!(code(&answer), "invalid argument", "{route}");
        }
    }
    assert!(relay.standin.checks().is_empty());
    assert_eq!(relay.standin.page_reads(), 0);
}

#[tokio::test]
async fn values_that_are_not_addresses_never_reach_abuseipdb() {
    let relay = Relay::start().await;
    let body = json!([
        {"type": "ip", "value": "192.0.2.1\r\nKey: stolen"},
        {"type": "ip", "value": "192.0.2.1&ipAddress=8.8.8.8"},
        {"type": "ip", "value": "../../categories"},
        {"type": "ip", "value": "192.0.2.0/24"},
        {"type": "ip", "value": " 192.0.2.1"},
        {"type": "ipv6", "value": "192.0.2.1"},
        {"type": "IP", "value": "192.0.2.1/32"},
        {"type": "ip", "value": "１９２.0.2.1"},
    ])
    .to_string();
    assert_eq!(relay.observe(&body).await, json!({"data": {}}));
    assert!(relay.standin.checks().is_empty());
}

#[tokio::test]
async fn garbage_from_abuseipdb_is_that_addresss_error() {
    let relay = Relay::start().await;
    let garbage = [
        ("192.0.2.1", "[".repeat(50_000)),
        ("192.0.2.2", r#"{"data": null}"#.to_owned()),
        ("192.0.2.3", r#"{"nodata": {}}"#.to_owned()),
        ("192.0.2.4", "\u{feff}{\"data\": {}}".to_owned()),
        (
            "192.0.2.5",
            String::from_utf8_lossy(&[0xff, 0xfe, 0x00]).into_owned(),
        ),
    ];
    for (ip, body) in &garbage {
        relay.standin.set(
            ip,
            Scenario::Raw {
                status: 200,
                content_type: "application/json",
                body: body.clone(),
            },
        );
    }
    // Fields of the wrong type are read as absent: an answer, not an error.
    relay.standin.data(
        "192.0.2.6",
        json!({"abuseConfidenceScore": "high", "domain": 7, "reports": "many"}),
    );
    relay.standin.data("192.0.2.7", data(100, None, vec![]));
    let all: Vec<&str> = garbage
        .iter()
        .map(|(ip, _)| *ip)
        .chain(["192.0.2.6", "192.0.2.7"])
        .collect();
    let answer = relay.observe(&ips(&all)).await;
    assert_eq!(verdict_values(&answer), ["192.0.2.7"]);
    let errors = errors(&answer);
    assert!(!errors.is_empty());
    for (code, message) in &errors {
        assert_eq!(code, "unknown");
        assert!(
            message.starts_with("AbuseIPDB sent an answer that could not be read"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn the_most_observables_a_request_may_hold_are_checked_at_the_bound() {
    let relay = Relay::start_with(|_, c| c.concurrency = 16).await;
    relay.standin.delay(Duration::from_millis(5));
    let many: Vec<String> = (0..1000)
        .map(|n| format!("10.1.{}.{}", n / 256, n % 256))
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let answer = relay.deliberate(&ips(&many)).await;
    assert_eq!(docs(&answer, "verdicts").len(), 1000);
    assert_eq!(relay.standin.checks().len(), 1000);
    assert_eq!(relay.standin.most_in_flight(), 16);
}
