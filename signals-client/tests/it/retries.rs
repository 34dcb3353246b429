//! Transient statuses are retried with backoff, within bounded attempts and total time.

use std::time::{Duration, Instant};

use signals_client::{Error, ErrorKind, SignalsClient};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{client_for, config, key, received};

const REPORT: &str = r#"{"fullip": {"score": -1}}"#;

/// Answers `first` for the first `times` requests, then `then` forever.
async fn stub(first: ResponseTemplate, times: u64, then: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(first)
        .up_to_n_times(times)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(then)
        .mount(&server)
        .await;
    server
}

fn ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(REPORT, "application/json")
}

async fn report(client: &SignalsClient) -> Result<Option<signals_client::IpReport>, Error> {
    client.ip_report(&key(), "1.1.1.1".parse().unwrap()).await
}

#[tokio::test]
async fn transient_statuses_are_retried_then_succeed() {
    for status in [429, 502, 503, 504] {
        let server = stub(ResponseTemplate::new(status), 2, ok()).await;
        let found = report(&client_for(&server)).await.unwrap().unwrap();
        assert_eq!(found.score, Some(-1), "{status}");
        assert_eq!(
            received(&server).await.len(),
            3,
            "{status}: two failures, then the success"
        );
    }
}

#[tokio::test]
async fn retries_stop_after_the_attempt_limit() {
    let server = stub(
        ResponseTemplate::new(503).set_body_string("down"),
        100,
        ok(),
    )
    .await;
    let error = report(&client_for(&server)).await.unwrap_err();
    assert!(
        matches!(&error, Error::Status { status: 503, body } if body == "down"),
        "{error:?}"
    );
    assert_eq!(error.kind(), ErrorKind::ServiceUnavailable);
    assert_eq!(
        received(&server).await.len(),
        3,
        "the default policy makes 3 attempts"
    );

    let server = stub(ResponseTemplate::new(503), 100, ok()).await;
    let mut config = config(&server.uri());
    config.retry.max_attempts = 5;
    let error = report(&SignalsClient::new(config).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Status { status: 503, .. }));
    assert_eq!(received(&server).await.len(), 5);
}

#[tokio::test]
async fn rate_limit_exhausted_reports_the_last_retry_after() {
    let server = stub(
        ResponseTemplate::new(429).insert_header("retry-after", "0"),
        100,
        ok(),
    )
    .await;
    let error = report(&client_for(&server)).await.unwrap_err();
    assert!(
        matches!(error, Error::RateLimited { retry_after: Some(d) } if d.is_zero()),
        "{error:?}"
    );
    assert_eq!(error.kind(), ErrorKind::TooManyRequests);
    assert_eq!(received(&server).await.len(), 3);
}

#[tokio::test]
async fn retry_after_is_waited_before_the_next_attempt() {
    // The test backoff is a few milliseconds, so only honouring Retry-After explains a wait
    // of a whole second (a lower bound, which a sleep cannot undercut).
    let server = stub(
        ResponseTemplate::new(429).insert_header("retry-after", "1"),
        1,
        ok(),
    )
    .await;
    let started = Instant::now();
    report(&client_for(&server)).await.unwrap().unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(received(&server).await.len(), 2);
}

#[tokio::test]
async fn retry_after_beyond_the_cap_fails_at_once() {
    let server = stub(
        ResponseTemplate::new(429).insert_header("retry-after", "3600"),
        1,
        ok(),
    )
    .await;
    let error = report(&client_for(&server)).await.unwrap_err();
    assert!(
        matches!(error, Error::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(3600)),
        "{error:?}"
    );
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn a_wait_past_the_total_timeout_is_not_started() {
    let server = stub(ResponseTemplate::new(502), 100, ok()).await;
    let mut config = config(&server.uri());
    config.retry.max_attempts = 10;
    config.retry.initial_backoff = Duration::from_secs(60);
    config.retry.max_backoff = Duration::from_secs(60);
    config.total_timeout = Duration::from_secs(30);
    let error = report(&SignalsClient::new(config).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Status { status: 502, .. }),
        "{error:?}"
    );
    assert_eq!(
        received(&server).await.len(),
        1,
        "a 30-60 s backoff cannot fit in 30 s"
    );
}

#[tokio::test]
async fn other_client_errors_are_not_retried() {
    for status in [401, 403, 400, 404, 500, 501] {
        let server = stub(ResponseTemplate::new(status), 100, ok()).await;
        let _ = report(&client_for(&server)).await;
        assert_eq!(received(&server).await.len(), 1, "{status}");
    }
}
