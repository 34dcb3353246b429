//! The relay's metrics through the Lambda adapter: events from `tests/data/` answered by the
//! router `relay-lambda` serves, wrapped in the `EmfLayer` `run_for` adds, with the recorder
//! installed for the test's thread (`#[tokio::test]` polls everything on it), and the lines
//! written to a buffer instead of stdout.

use std::time::Duration;

use lambda_http::RequestExt as _;
use serde_json::{Value, json};
use tower::{Layer as _, ServiceExt as _};
use xdr_relay_core::telemetry;
use xdr_relay_lambda::{EmfLayer, EmfRecorder};

use super::{SECRET, SOURCES, Source, app};

/// One invocation of `route` from `source`, as the runtime hands it over: with a Lambda
/// context carrying `request_id`.
fn invocation(source: Source, route: &str, request_id: &str) -> lambda_http::Request {
    let mut context = lambda_http::Context::default();
    context.request_id = request_id.to_owned();
    lambda_http::request::from_str(&source.event("POST", route, &[], ""))
        .unwrap_or_else(|e| panic!("{source:?}: lambda_http rejects the event: {e}"))
        .with_lambda_context(context)
}

/// The lines written since `seen` of them were read, each parsed.
fn new_lines(log: &testkit::logs::Capture, seen: &mut usize) -> Vec<Value> {
    let text = log.text();
    let lines: Vec<Value> = text
        .lines()
        .skip(*seen)
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    *seen += lines.len();
    lines
}

/// The dimension sets of the metric `name` in `line`.
fn dimensions_of<'a>(line: &'a Value, name: &str) -> Vec<&'a Value> {
    line["_aws"]["CloudWatchMetrics"]
        .as_array()
        .expect("directives")
        .iter()
        .filter(|d| {
            d["Metrics"]
                .as_array()
                .is_some_and(|m| m.iter().any(|m| m["Name"] == name))
        })
        .map(|d| &d["Dimensions"])
        .collect()
}

#[tokio::test]
async fn each_invocation_writes_one_emf_line_counting_its_request_by_route_and_status() {
    let recorder = EmfRecorder::new("XdrRelay");
    let _installed = metrics::set_default_local_recorder(&recorder);
    let log = testkit::logs::Capture::default();
    let layer = EmfLayer::new(recorder.clone(), log.clone()).expect("the writer thread starts");
    let service = layer.layer(app(&[("SECRET_KEY", SECRET)]));
    let mut seen = 0;
    for source in SOURCES {
        for (route, status, id) in [
            ("/version", "2xx", "req-version"),
            ("/no/such/route", "4xx", "req-unknown"),
        ] {
            let response = service
                .clone()
                .oneshot(invocation(source, route, id))
                .await
                .expect("infallible");
            assert_eq!(
                response.status().is_success(),
                status == "2xx",
                "{source:?}"
            );
            assert!(layer.wait_written(Duration::from_secs(5)), "not written");
            let lines = new_lines(&log, &mut seen);
            assert_eq!(lines.len(), 1, "{source:?} {route}: {lines:?}");
            let line = &lines[0];
            // The counter is this invocation's: 1, not the running total.
            assert_eq!(line[telemetry::REQUESTS], 1, "{source:?} {route}: {line}");
            let label = if status == "2xx" { route } else { "unmatched" };
            assert_eq!(line["route"], label, "{line}");
            assert_eq!(line["status"], status, "{line}");
            assert_eq!(line["request_id"], id, "{line}");
            assert_eq!(
                dimensions_of(line, telemetry::REQUESTS),
                [&json!([["route", "status"]])]
            );
            assert_eq!(
                dimensions_of(line, telemetry::REQUEST_DURATION),
                [&json!([["route"]])]
            );
            let durations = line[telemetry::REQUEST_DURATION]
                .as_array()
                .unwrap_or_else(|| panic!("{line}"));
            assert_eq!(durations.len(), 1, "{line}");
            assert!(durations[0].as_f64().is_some_and(|d| d >= 0.0), "{line}");
            assert_eq!(line[telemetry::IN_FLIGHT], 0.0, "{line}");
            for directive in line["_aws"]["CloudWatchMetrics"].as_array().expect("array") {
                assert_eq!(directive["Namespace"], "XdrRelay");
            }
            assert!(line["_aws"]["Timestamp"].as_u64().is_some_and(|t| t > 0));
        }
    }
}

#[tokio::test]
async fn the_lines_carry_no_secret_and_no_token() {
    let recorder = EmfRecorder::new("XdrRelay");
    let _installed = metrics::set_default_local_recorder(&recorder);
    let log = testkit::logs::Capture::default();
    let layer = EmfLayer::new(recorder.clone(), log.clone()).expect("the writer thread starts");
    let service = layer.layer(app(&[("SECRET_KEY", SECRET)]));
    let secret = xdr_relay_core::SecretKey::new(SECRET).expect("secret");
    let token = xdr_relay_core::encode_token(&secret, "api-key-in-the-token", None).expect("token");
    let authorization = format!("Bearer {token}");
    let event = Source::HttpApi.event(
        "POST",
        "/health",
        &[("Authorization", authorization.as_str())],
        "",
    );
    let request = lambda_http::request::from_str(&event).expect("event");
    let _ = service.oneshot(request).await.expect("infallible");
    assert!(layer.wait_written(Duration::from_secs(5)), "not written");
    let text = log.text();
    assert!(text.contains("\"route\":\"/health\""), "{text}");
    for secret in [SECRET, token.as_str(), "api-key-in-the-token"] {
        assert!(!text.contains(secret), "{text}");
    }
}
