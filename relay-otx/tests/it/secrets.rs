//! The API key never reaches a log line (every target at TRACE: the relay, relay-core,
//! reqwest, hyper) or an answer's errors.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn no_log_line_or_error_holds_the_api_key() {
    let logs = Logs::trace();
    let log_facade = logs.with_log_facade();

    let relay = Relay::start().await;
    relay
        .standin
        .pulse(Pulse::new("p").with("domain", "a.example", "2020-01-01T00:00:00"));
    relay
        .standin
        .general("b.example", Reply::json(500, &json!({"detail": API_KEY})));
    relay.standin.general("c.example", Reply::Hang);
    relay.standin.refuse_key("refused-key-0123456789");
    let body = observables(&[("domain", "a.example"), ("domain", "b.example")]);
    let refused = token_with("refused-key-0123456789", None);
    let mut answers = Vec::new();
    for token in [token(), refused] {
        for route in [
            "/health",
            "/deliberate/observables",
            "/observe/observables",
            "/refer/observables",
        ] {
            answers.push(relay.post(route, Some(&token), &body).await.1);
        }
    }
    drop(log_facade);

    let text = logs.text();
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
            assert!(
                !answer.to_string().contains(secret),
                "the key leaked: {answer}"
            );
        }
    }
}
