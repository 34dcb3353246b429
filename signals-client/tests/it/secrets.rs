//! The API key never appears in an error, in `Debug` output or in logs.

use std::time::Duration;

use signals_client::{Error, ListKind, SignalsClient};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{KEY, client_for, config, key};

/// Errors from upstreams that echo the key back in every way they can.
async fn errors_with_the_key_echoed() -> Vec<Error> {
    let echo = format!("key {KEY} is not valid");
    let mut errors = Vec::new();
    for (status, body) in [
        (401, echo.clone()),
        (401, format!(r#"{{"message":"{echo}"}}"#)),
        (
            400,
            format!("Token must be a valid RFC4122 UUID, got {KEY}"),
        ),
        (403, echo.clone()),
        (500, format!("{}{echo}", "x".repeat(190))), // the key straddles the excerpt's end
        (200, format!(r#"{{"fullip": {{"score": "{KEY}"}}}}"#)),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(status).set_body_string(body))
            .mount(&server)
            .await;
        let client = client_for(&server);
        errors.push(
            client
                .ip_report(&key(), "1.1.1.1".parse().unwrap())
                .await
                .unwrap_err(),
        );
        errors.push(
            client
                .list_metadata(&key(), ListKind::BadIp, KEY)
                .await
                .unwrap_err(),
        );
    }
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let mut slow = config(&server.uri());
    slow.attempt_timeout = Duration::from_millis(50);
    errors.push(
        SignalsClient::new(slow)
            .unwrap()
            .check_key(&key())
            .await
            .unwrap_err(),
    );
    errors
}

fn assert_no_key(text: &str) {
    assert!(!text.contains(KEY), "the key leaked: {text}");
    assert!(!text.contains(&KEY[..8]), "part of the key leaked: {text}");
}

#[tokio::test]
async fn no_error_shows_the_key() {
    let errors = errors_with_the_key_echoed().await;
    assert_eq!(errors.len(), 13);
    for error in &errors {
        assert_no_key(&format!("{error:?}"));
        assert_no_key(&error.to_string());
    }
    assert!(
        errors.iter().any(
            |e| matches!(e, Error::Unauthorized { message } if message.contains("[redacted]"))
        ),
        "echoed keys are replaced, not silently dropped: {errors:?}"
    );
}

#[tokio::test]
async fn debug_of_the_client_and_key_shows_no_key() {
    let server = MockServer::start().await;
    assert_no_key(&format!("{:?} {:?} {}", client_for(&server), key(), key()));
}

/// reqwest strips only the standard credential headers on a cross-host redirect, not
/// X-Auth-Token: a redirect must end the call, never carry the key to the other host.
#[tokio::test]
async fn a_redirect_is_not_followed_so_the_key_stays_home() {
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .mount(&elsewhere)
        .await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/v2.0/ip/1.1.1.1", elsewhere.uri())),
        )
        .mount(&server)
        .await;
    let error = client_for(&server)
        .ip_report(&key(), "1.1.1.1".parse().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Status { status: 302, .. }),
        "{error:?}"
    );
    assert_eq!(
        elsewhere.received_requests().await.unwrap().len(),
        0,
        "the redirect was followed"
    );
}

#[tokio::test]
async fn trace_logs_show_the_path_template_and_attempts_but_never_the_key() {
    let logs = testkit::logs::Logs::trace();

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"name":"n"}"#))
        .mount(&server)
        .await;
    client_for(&server)
        .list_metadata(&key(), ListKind::BadIp, "SOME-LIST")
        .await
        .unwrap();

    let logs = logs.text();
    assert!(logs.contains("signals_request"), "{logs}");
    assert!(
        logs.contains("path=\"/metadata/{kind}/lists/{id}\""),
        "{logs}"
    );
    assert!(logs.contains("attempts=2"), "{logs}");
    assert!(logs.contains("status=200"), "{logs}");
    assert!(logs.contains("retrying"), "{logs}");
    assert_no_key(&logs);
}
