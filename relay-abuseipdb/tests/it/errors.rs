//! AbuseIPDB's failures as the relay answers them: Cisco's codes in relay-core's envelope
//! (HTTP 200), partial data beside per-address errors, bounded waits, no retries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types::CertificateDer, pki_types::PrivateKeyDer};

use crate::support::*;
use testkit::abuseipdb::{RATE_LIMIT_DETAIL, UNAUTHORIZED_DETAIL};

const IP: &str = "192.0.2.44";

/// The errors a deliberate of [`IP`] answers when the stand-in answers `scenario`.
async fn errors_for(scenario: Scenario) -> Vec<(String, String)> {
    let relay = Relay::start().await;
    relay.standin.set(IP, scenario);
    let answer = relay.deliberate(&ips(&[IP])).await;
    assert!(answer.get("data").is_none(), "{answer}");
    errors(&answer)
}

fn one(code: &str, message: &str) -> Vec<(String, String)> {
    vec![(code.to_owned(), message.to_owned())]
}

#[tokio::test]
async fn upstream_statuses_are_ciscos_codes_in_a_200_envelope() {
    let cases = [
        (
            Scenario::Error {
                status: 429,
                detail: Some(RATE_LIMIT_DETAIL.into()),
                retry_after: Some("3600".into()),
            },
            one(
                "too many requests",
                &format!("{RATE_LIMIT_DETAIL} Retry after 3600 seconds."),
            ),
        ),
        (
            Scenario::error(429, RATE_LIMIT_DETAIL),
            one("too many requests", RATE_LIMIT_DETAIL),
        ),
        (
            Scenario::error(404, "Not found."),
            one(
                "not found",
                "AbuseIPDB answered 404 Not Found: no such endpoint (check ABUSEIPDB_API_URL).",
            ),
        ),
        (
            Scenario::error(500, "oops"),
            one(
                "internal error",
                "AbuseIPDB failed with an internal error (HTTP 500).",
            ),
        ),
        (
            Scenario::error(521, "down"),
            one(
                "web server is down",
                "AbuseIPDB's web server is down (HTTP 521).",
            ),
        ),
        (
            Scenario::error(400, "The max age in days must be between 1 and 365."),
            one(
                "unknown",
                "AbuseIPDB answered HTTP 400: The max age in days must be between 1 and 365.",
            ),
        ),
        (
            Scenario::error(403, "Your account may not do this."),
            one("permission denied", "Your account may not do this."),
        ),
        (
            Scenario::Raw {
                status: 200,
                content_type: "text/html",
                body: "<!DOCTYPE html><html>maintenance</html>".into(),
            },
            vec![],
        ),
    ];
    for (scenario, expected) in cases {
        let got = errors_for(scenario.clone()).await;
        if expected.is_empty() {
            assert_eq!(got.len(), 1, "{scenario:?}");
            assert_eq!(got[0].0, "unknown", "{scenario:?}");
            assert!(
                got[0]
                    .1
                    .starts_with("AbuseIPDB sent an answer that could not be read"),
                "{got:?}"
            );
        } else {
            assert_eq!(got, expected, "{scenario:?}");
        }
    }
    for status in [502, 503, 504] {
        assert_eq!(
            errors_for(Scenario::error(status, "gateway")).await,
            one(
                "service unavailable",
                &format!("AbuseIPDB is unavailable (HTTP {status}); try again later.")
            )
        );
    }
}

#[tokio::test]
async fn a_refused_key_is_an_authorization_error_with_abuseipdbs_words() {
    let relay = Relay::start().await;
    relay.standin.refuse_key(API_KEY);
    for route in ["/deliberate/observables", "/observe/observables", "/health"] {
        let answer = relay.ok(route, &token(), &ips(&[IP])).await;
        assert_eq!(
            errors(&answer),
            one(
                "authorization error",
                &format!("Authorization failed: {UNAUTHORIZED_DETAIL}")
            ),
            "{route}"
        );
    }
}

#[tokio::test]
async fn an_unprocessable_address_is_no_entity_and_no_error() {
    let relay = Relay::start().await;
    relay.standin.set(
        IP,
        Scenario::error(422, "The ip address must be a valid IP address."),
    );
    relay.standin.data("192.0.2.45", data(100, None, vec![]));
    let answer = relay.observe(&ips(&[IP, "192.0.2.45"])).await;
    assert_eq!(verdict_values(&answer), ["192.0.2.45"]);
    assert!(answer.get("errors").is_none(), "{answer}");
    let answer = relay.observe(&ips(&[IP])).await;
    assert_eq!(answer, json!({"data": {}}));
}

#[tokio::test]
async fn one_addresss_failure_does_not_hide_the_others() {
    let relay = Relay::start().await;
    let reports = vec![report("2024-01-01T00:00:00Z", json!("r"), json!([18]))];
    relay
        .standin
        .data("192.0.2.1", data(100, None, reports.clone()));
    relay.standin.set("192.0.2.2", Scenario::error(503, "busy"));
    relay.standin.data("192.0.2.3", data(10, None, reports));
    let answer = relay
        .observe(&ips(&["192.0.2.1", "192.0.2.2", "192.0.2.3"]))
        .await;
    assert_eq!(verdict_values(&answer), ["192.0.2.1", "192.0.2.3"]);
    assert_eq!(docs(&answer, "sightings").len(), 2);
    assert_eq!(
        errors(&answer),
        one(
            "service unavailable",
            "AbuseIPDB is unavailable (HTTP 503); try again later."
        )
    );
}

#[tokio::test]
async fn a_429_is_answered_at_once_never_retried_and_stops_the_lookups_not_started() {
    let relay = Relay::start_with(|_, c| c.concurrency = 1).await;
    relay.standin.set(
        "192.0.2.1",
        Scenario::Error {
            status: 429,
            detail: Some(RATE_LIMIT_DETAIL.into()),
            retry_after: Some("60".into()),
        },
    );
    let started = Instant::now();
    let answer = relay
        .deliberate(&ips(&["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]))
        .await;
    assert!(started.elapsed() < Duration::from_secs(2));
    // Every address answers the same error, reported once; one check was made.
    assert_eq!(
        errors(&answer),
        one(
            "too many requests",
            &format!("{RATE_LIMIT_DETAIL} Retry after 60 seconds.")
        )
    );
    assert!(answer.get("data").is_none(), "{answer}");
    assert_eq!(relay.standin.checks().len(), 1);
    // The next request of this key, within Retry-After, is answered the same without a check.
    let again = relay.deliberate(&ips(&["192.0.2.1"])).await;
    assert_eq!(errors(&again)[0].0, "too many requests");
    assert_eq!(relay.standin.checks().len(), 1);
}

#[tokio::test]
async fn slow_answers_within_the_timeout_are_read_and_a_hung_upstream_is_bounded() {
    let relay = Relay::start_with(|_, c| c.timeout = Duration::from_millis(800)).await;
    relay.standin.set(
        "192.0.2.1",
        Scenario::Slow(
            Duration::from_millis(100),
            Box::new(Scenario::Data(data(100, None, vec![]))),
        ),
    );
    relay.standin.set("192.0.2.2", Scenario::Hang);
    let started = Instant::now();
    let answer = relay.deliberate(&ips(&["192.0.2.1", "192.0.2.2"])).await;
    let took = started.elapsed();
    assert_eq!(verdict_values(&answer), ["192.0.2.1"]);
    assert_eq!(
        errors(&answer),
        one("service unavailable", "AbuseIPDB did not answer in time")
    );
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test]
async fn oversized_and_unreachable_upstreams_are_errors_not_crashes() {
    let relay = Relay::start().await;
    relay.standin.set(
        "192.0.2.1",
        Scenario::Raw {
            status: 200,
            content_type: "application/json",
            body: " ".repeat(17 << 20),
        },
    );
    let answer = relay.deliberate(&ips(&["192.0.2.1"])).await;
    assert_eq!(
        errors(&answer),
        one("unknown", "AbuseIPDB's answer is larger than 16384 KiB")
    );

    // Nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let relay = Relay::start_with(|_, c| c.api_url = format!("http://{address}/api/v2/")).await;
    let answer = relay.deliberate(&ips(&["192.0.2.1"])).await;
    let errors = errors(&answer);
    assert_eq!(errors[0].0, "service unavailable");
    assert!(
        errors[0].1.starts_with("AbuseIPDB is unreachable"),
        "{errors:?}"
    );
    assert!(!errors[0].1.contains(&address.to_string()), "{errors:?}");
}

fn data_file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[tokio::test]
async fn a_certificate_that_does_not_verify_is_unknown_naming_the_problem() {
    let cert = CertificateDer::from(data_file("self-signed-cert.der"));
    let key = PrivateKeyDer::try_from(data_file("self-signed-key.der")).unwrap();
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _handshake_fails = acceptor.accept(stream).await;
        }
    });
    let relay = Relay::start_with(|_, c| c.api_url = format!("https://{address}/api/v2/")).await;
    for route in ["/deliberate/observables", "/health"] {
        let answer = relay.ok(route, &token(), &ips(&["192.0.2.1"])).await;
        assert_eq!(
            errors(&answer),
            one(
                "unknown",
                "Unable to verify SSL certificate: self signed certificate or unknown certificate authority"
            ),
            "{route}"
        );
    }
    server.abort();
}

#[tokio::test]
async fn health_checks_the_key_with_one_check_of_a_private_address() {
    let relay = Relay::start().await;
    let answer = relay.ok("/health", &token(), "").await;
    assert_eq!(answer, json!({"data": {"status": "ok"}}));
    let checks = relay.standin.checks();
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].ip, "127.0.0.1");
    assert_eq!(checks[0].key.as_deref(), Some(API_KEY));
    // An address AbuseIPDB cannot process still proves the key.
    relay.standin.set("127.0.0.1", Scenario::error(422, "nope"));
    assert_eq!(
        relay.ok("/health", &token(), "").await,
        json!({"data": {"status": "ok"}})
    );
    relay.standin.set("127.0.0.1", Scenario::error(500, "nope"));
    let answer = relay.ok("/health", &token(), "").await;
    assert_eq!(errors(&answer)[0].0, "internal error");
    assert!(answer.get("data").is_none());
}
