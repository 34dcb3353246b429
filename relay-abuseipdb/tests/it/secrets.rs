//! The API key never reaches a log line (every target at TRACE: the relay, relay-core,
//! reqwest, hyper) or an answer, even when AbuseIPDB echoes it back in its errors.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn no_log_line_or_answer_holds_the_api_key() {
    let logs = Logs::trace();
    let log_facade = logs.with_log_facade();

    let relay = Relay::start().await;
    let echo = format!("The key {API_KEY} is not valid.");
    relay.standin.set("192.0.2.2", Scenario::error(401, &echo));
    relay.standin.set(
        "192.0.2.3",
        Scenario::Error {
            status: 429,
            detail: Some(echo.clone()),
            retry_after: Some(API_KEY.to_owned()),
        },
    );
    relay.standin.set("192.0.2.4", Scenario::error(400, &echo));
    relay.standin.set("192.0.2.5", Scenario::Hang);
    relay.standin.data(
        "192.0.2.1",
        data(
            100,
            Some(API_KEY),
            vec![report("2024-01-01T00:00:00Z", json!("c"), json!([18]))],
        ),
    );
    relay.standin.refuse_key("refused-key-0123456789");

    let body = ips(&["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]);
    let refused = token_with("refused-key-0123456789", None);
    let mut answers = Vec::new();
    for token in [token(), refused.clone()] {
        for route in [
            "/health",
            "/deliberate/observables",
            "/observe/observables",
            "/refer/observables",
            "/respond/observables",
            "/respond/trigger",
        ] {
            answers.push(relay.post(route, Some(&token), &body).await.1);
        }
    }
    drop(log_facade);

    let text = logs.text();
    // The capture saw every layer, or this test would prove nothing.
    for expected in ["relay::request", "/observe/observables", "reqwest", "hyper"] {
        assert!(
            text.contains(expected),
            "{expected:?} was not logged:\n{text}"
        );
    }
    for secret in [API_KEY, &API_KEY[..16], "refused-key-0123456789"] {
        for line in text.lines() {
            assert!(!line.contains(secret), "the key leaked: {line}");
        }
        for answer in &answers {
            // The one place it may be: the domain AbuseIPDB gave (data, not an error).
            let mut answer = answer.clone();
            answer.as_object_mut().unwrap().remove("data");
            assert!(
                !answer.to_string().contains(secret),
                "the key leaked: {answer}"
            );
        }
    }
    // The echoing errors were answered, redacted.
    let all: Vec<String> = answers.iter().flat_map(errors).map(|(_, m)| m).collect();
    assert!(
        all.iter()
            .any(|m| m.contains("The key <redacted> is not valid.")),
        "{all:?}"
    );
}
