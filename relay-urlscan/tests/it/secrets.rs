//! The API key never reaches a log line (every target at TRACE: the relay, relay-core,
//! reqwest, hyper) or an answer, even when urlscan.io echoes it back in its errors.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn no_log_line_or_answer_holds_the_api_key() {
    let logs = Logs::trace();
    let log_facade = logs.with_log_facade();

    let relay = Relay::start().await;
    let echo = format!("The key {API_KEY} is not valid.");
    relay
        .standin
        .search_reply(&ip_query("192.0.2.2"), error(401, &echo, None));
    relay.standin.search_reply(
        &ip_query("192.0.2.3"),
        error(429, &echo, Some(&echo)).with_header("retry-after", API_KEY),
    );
    relay
        .standin
        .search_reply(&ip_query("192.0.2.4"), error(400, &echo, None));
    relay.malicious(
        &ip_query("192.0.2.1"),
        "k1",
        "2024-01-01T00:00:00.000Z",
        &["phishing"],
    );
    relay.standin.result_reply("k1", error(404, &echo, None));
    relay
        .standin
        .scan_reply("https://x.example/", error(400, &echo, None));
    relay.standin.refuse_key("refused-key-0123456789");

    let body = observables("ip", &["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]);
    let trigger = json!({"action-id": "a", "observable_type": "url", "observable_value": "https://x.example/"}).to_string();
    let refused = token_with("refused-key-0123456789", None);
    let mut answers = Vec::new();
    for token in [token(), refused.clone()] {
        for route in [
            "/health",
            "/observe/observables",
            "/refer/observables",
            "/respond/observables",
        ] {
            answers.push(relay.post(route, Some(&token), &body).await.1);
        }
        answers.push(
            relay
                .post("/respond/trigger", Some(&token), &trigger)
                .await
                .1,
        );
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
    let all: Vec<String> = answers.iter().flat_map(errors).map(|(_, m)| m).collect();
    assert!(
        all.iter()
            .any(|m| m.contains("The key <redacted> is not valid.")),
        "{all:?}"
    );
    // Nor in the provider's Debug.
    let provider = xdr_relay_urlscan::Urlscan::new(&config(&relay.standin)).unwrap();
    assert!(!format!("{provider:?}").contains(API_KEY));
}
