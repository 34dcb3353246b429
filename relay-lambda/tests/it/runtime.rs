//! The `relay-lambda` binary itself, against a Lambda Runtime API served on 127.0.0.1: what
//! AWS runs is `bootstrap` polling `/runtime/invocation/next` and posting each answer back.
//! These tests start the built binary, hand it API Gateway events and read its answers and its
//! log lines, so the process's start-up (configuration, JSON logging, `lambda_http::run`) is
//! tested as deployed.

use std::collections::{BTreeSet, VecDeque};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{SECRET, Source};

/// How long the binary gets to answer one event; only a broken binary takes this long.
const PATIENCE: Duration = Duration::from_secs(30);

/// The Runtime API: hands out queued events in order, then keeps the runtime waiting; every
/// answer (response or error) goes to a channel with the request id it belongs to.
struct Runtime {
    events: Mutex<VecDeque<(String, String)>>,
    answers: mpsc::UnboundedSender<(String, Value)>,
}

async fn next(State(runtime): State<Arc<Runtime>>) -> Response {
    let event = runtime.events.lock().ok().and_then(|mut q| q.pop_front());
    let Some((id, event)) = event else {
        // No more work: a request id that is not text is an error the runtime cannot answer,
        // so its loop ends and the process exits on its own, as a killed one would not (and
        // an instrumented build writes its profile).
        let mut headers = HeaderMap::new();
        let id = HeaderValue::from_bytes(b"\xff").expect("obs-text is a valid header value");
        headers.insert("lambda-runtime-aws-request-id", id);
        return (headers, "{}").into_response();
    };
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("lambda-runtime-aws-request-id", id.as_str()),
        ("lambda-runtime-deadline-ms", "4102444800000"),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:relay",
        ),
    ] {
        headers.insert(name, HeaderValue::from_str(value).expect("header"));
    }
    (headers, event).into_response()
}

async fn answer(
    State(runtime): State<Arc<Runtime>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let _ = runtime.answers.send((id, body));
    StatusCode::ACCEPTED
}

/// Serves the Runtime API on 127.0.0.1 with these events; returns its address and the answers.
async fn serve(
    events: Vec<(String, String)>,
) -> (String, mpsc::UnboundedReceiver<(String, Value)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let runtime = Arc::new(Runtime {
        events: Mutex::new(events.into()),
        answers: tx,
    });
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(answer))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(answer))
        .with_state(runtime);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("the Runtime API cannot listen on 127.0.0.1");
    let address = listener.local_addr().expect("address").to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, rx)
}

/// The built `relay-lambda`, as the Lambda service starts it.
fn start(runtime_api: &str, env: &[(&str, &str)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_relay-lambda"));
    command
        .env_clear()
        // Under `cargo llvm-cov` the binary writes its coverage where the run collects it.
        .envs(std::env::vars_os().filter(|(name, _)| name == "LLVM_PROFILE_FILE"))
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "relay")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/relay")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.spawn().expect("cannot start relay-lambda")
}

/// Waits for the binary to end (it does once the events run out) and returns everything it
/// logged (stdout and stderr).
async fn stop(mut child: Child) -> String {
    let deadline = std::time::Instant::now() + PATIENCE;
    while child.try_wait().expect("relay-lambda status").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("relay-lambda kept running after the Runtime API ran out of events");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let output = child.wait_with_output().expect("relay-lambda output");
    let mut logs = String::from_utf8_lossy(&output.stdout).into_owned();
    logs.push_str(&String::from_utf8_lossy(&output.stderr));
    logs
}

async fn next_answer(answers: &mut mpsc::UnboundedReceiver<(String, Value)>) -> (String, Value) {
    tokio::time::timeout(PATIENCE, answers.recv())
        .await
        .expect("relay-lambda answered nothing")
        .expect("the Runtime API stopped")
}

/// The answer's status and its JSON body (API Gateway HTTP API responses carry the body as text).
fn status_and_body(answer: &Value) -> (u64, Value) {
    let status = answer["statusCode"].as_u64().unwrap_or_default();
    let body = answer["body"].as_str().unwrap_or_default();
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {answer}"));
    (status, body)
}

/// Whether `line` is one of the metrics lines (CloudWatch's embedded metric format).
fn is_emf(line: &str) -> bool {
    serde_json::from_str::<Value>(line).is_ok_and(|v| v.get("_aws").is_some())
}

/// The metrics lines of `logs`, parsed.
fn emf_lines(logs: &str) -> Vec<Value> {
    logs.lines()
        .filter(|l| is_emf(l))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[tokio::test]
async fn the_binary_answers_invocations_in_order_and_logs_without_the_secret() {
    let events = vec![
        (
            "req-version".to_owned(),
            Source::HttpApi.event("POST", "/version", &[], ""),
        ),
        (
            "req-no-token".to_owned(),
            Source::HttpApi.event("POST", "/deliberate/observables", &[], "[]"),
        ),
    ];
    let (runtime_api, mut answers) = serve(events).await;
    let child = start(
        &runtime_api,
        &[("SECRET_KEY", SECRET), ("RUST_LOG", "info")],
    );

    let (id, answer) = next_answer(&mut answers).await;
    assert_eq!(id, "req-version");
    assert_eq!(
        status_and_body(&answer),
        (200, json!({"version": xdr_relay_core::VERSION}))
    );

    let (id, answer) = next_answer(&mut answers).await;
    assert_eq!(id, "req-no-token");
    let (status, body) = status_and_body(&answer);
    // Threat Response reads errors from the envelope: an authorization error is a 200.
    assert_eq!(status, 200, "{answer}");
    assert_eq!(body["errors"][0]["code"], "authorization error", "{body}");

    // The request's id is the invocation's.
    assert_eq!(
        answer["headers"]["x-request-id"], "req-no-token",
        "{answer}"
    );

    let logs = stop(child).await;
    assert!(!logs.contains(SECRET), "the secret reached the logs");
    // Lambda's text log format (no AWS_LAMBDA_LOG_FORMAT): text lines, timed by CloudWatch.
    let request = logs
        .lines()
        .find(|l| l.contains("relay::request") && l.contains("/deliberate/observables"))
        .unwrap_or_else(|| panic!("no request line: {logs}"));
    assert!(request.contains("request_id=\"req-no-token\""), "{request}");
    assert!(request.trim_start().starts_with("INFO"), "{request}");
    // The log lines are text; the metrics lines are JSON, as CloudWatch reads them.
    assert!(
        logs.lines()
            .filter(|l| !is_emf(l))
            .all(|l| !l.starts_with('{')),
        "{logs}"
    );

    // One metrics line per invocation, each counting its own request (a counter is a delta),
    // with the invocation's id, in the default namespace.
    let metrics = emf_lines(&logs);
    assert_eq!(metrics.len(), 2, "{logs}");
    for (line, (route, id)) in metrics.iter().zip([
        ("/version", "req-version"),
        ("/deliberate/observables", "req-no-token"),
    ]) {
        assert_eq!(line["relay_requests_total"], 1, "{line}");
        assert_eq!(line["route"], route, "{line}");
        assert_eq!(line["status"], "2xx", "{line}");
        assert_eq!(line["request_id"], id, "{line}");
        assert_eq!(line["relay_build_info"], 1.0, "{line}");
        assert_eq!(line["version"], xdr_relay_core::VERSION, "{line}");
        let directives = line["_aws"]["CloudWatchMetrics"]
            .as_array()
            .expect("directives");
        assert!(
            directives.iter().all(|d| d["Namespace"] == "XdrRelay"),
            "{line}"
        );
    }
    // The observables route records how many it was sent.
    assert_eq!(metrics[1]["relay_observables_per_request"], json!([0.0]));
}

/// The JSON log lines of one run with Lambda's logging configuration set as the template
/// sets it (`LogFormat: JSON`, `ApplicationLogLevel: <level>`), without a SECRET_KEY, so
/// that the run logs a WARN line at start and an INFO line for its one request.
async fn logs_at_lambda_level(level: &str) -> Vec<Value> {
    let events = vec![(
        "req-version".to_owned(),
        Source::HttpApi.event("POST", "/version", &[], ""),
    )];
    let (runtime_api, mut answers) = serve(events).await;
    let child = start(
        &runtime_api,
        &[
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", level),
        ],
    );
    let (_, answer) = next_answer(&mut answers).await;
    assert_eq!(status_and_body(&answer).0, 200, "{answer}");
    let logs = stop(child).await;
    let metrics = emf_lines(&logs);
    assert_eq!(metrics.len(), 1, "one invocation, one metrics line: {logs}");
    assert_eq!(metrics[0]["relay_requests_total"], 1, "{logs}");
    logs.lines()
        // The metrics line has neither a level nor a timestamp: Lambda files it as INFO.
        .filter(|l| !l.trim().is_empty() && !l.starts_with("Error: ") && !is_emf(l))
        .map(|line| {
            let entry: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
            // Lambda reads `level` only next to an RFC 3339 `timestamp`.
            let time = entry["timestamp"]
                .as_str()
                .unwrap_or_else(|| panic!("{line}"));
            assert!(
                time.len() >= 20 && time.as_bytes()[10] == b'T' && time.ends_with('Z'),
                "{line}"
            );
            entry
        })
        .collect()
}

#[tokio::test]
async fn lambdas_log_level_filters_and_its_json_format_timestamps_the_lines() {
    let levels = |entries: &[Value]| -> BTreeSet<String> {
        entries
            .iter()
            .map(|e| e["level"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let entries = logs_at_lambda_level("INFO").await;
    let request = entries
        .iter()
        .find(|e| e["target"] == "relay::request")
        .unwrap_or_else(|| panic!("no request line: {entries:?}"));
    assert_eq!(request["span"]["request_id"], "req-version", "{request}");
    let info = levels(&entries);
    assert!(info.contains("INFO") && info.contains("WARN"), "{info:?}");
    let warn_entries = logs_at_lambda_level("WARN").await;
    let warn = levels(&warn_entries);
    assert!(warn.contains("WARN"), "{warn:?}");
    assert!(warn.iter().all(|l| l == "WARN" || l == "ERROR"), "{warn:?}");
    // Lambda drops what it files as INFO, the metrics lines among them: the relay says so.
    assert!(
        warn_entries.iter().any(|e| e["message"]
            .as_str()
            .is_some_and(|m| m.contains("metrics") && m.contains("RELAY_EMF=false"))),
        "{warn_entries:?}"
    );
    assert!(
        entries.iter().all(|e| !e["message"]
            .as_str()
            .is_some_and(|m| m.contains("RELAY_EMF=false"))),
        "no such warning at INFO: {entries:?}"
    );
}

/// The logs of one run of the binary answering one `/version` invocation, with `env`.
async fn logs_of_one_invocation(env: &[(&str, &str)]) -> String {
    let events = vec![(
        "req-version".to_owned(),
        Source::HttpApi.event("POST", "/version", &[], ""),
    )];
    let (runtime_api, mut answers) = serve(events).await;
    let child = start(&runtime_api, env);
    let (_, answer) = next_answer(&mut answers).await;
    assert_eq!(status_and_body(&answer).0, 200, "{answer}");
    stop(child).await
}

#[tokio::test]
async fn the_metrics_namespace_is_a_setting_and_relay_emf_false_turns_them_off() {
    let logs = logs_of_one_invocation(&[
        ("SECRET_KEY", SECRET),
        ("RELAY_METRICS_NAMESPACE", "Relays/Test"),
    ])
    .await;
    let metrics = emf_lines(&logs);
    assert_eq!(metrics.len(), 1, "{logs}");
    let directives = metrics[0]["_aws"]["CloudWatchMetrics"]
        .as_array()
        .expect("directives");
    assert!(
        directives.iter().all(|d| d["Namespace"] == "Relays/Test"),
        "{logs}"
    );

    for off in ["false", "0", "FALSE"] {
        let logs = logs_of_one_invocation(&[("SECRET_KEY", SECRET), ("RELAY_EMF", off)]).await;
        assert!(logs.contains("relay::request"), "{logs}");
        assert!(emf_lines(&logs).is_empty(), "RELAY_EMF={off}: {logs}");
    }
}

#[tokio::test]
async fn without_a_secret_key_the_binary_starts_and_says_it_is_not_configured() {
    let events = vec![(
        "req-health".to_owned(),
        Source::HttpApi.event("POST", "/health", &[("authorization", "Bearer a.b.c")], ""),
    )];
    let (runtime_api, mut answers) = serve(events).await;
    let child = start(&runtime_api, &[]);
    let (_, answer) = next_answer(&mut answers).await;
    let (status, body) = status_and_body(&answer);
    // Threat Response reads errors from the envelope: an authorization error is a 200.
    assert_eq!(status, 200, "{answer}");
    assert_eq!(body["errors"][0]["code"], "authorization error", "{body}");
    let logs = stop(child).await;
    assert!(
        logs.contains("SECRET_KEY"),
        "no warning names SECRET_KEY: {logs}"
    );
}

#[test]
fn an_invalid_setting_stops_the_binary_with_a_message_naming_it() {
    for (name, value) in [
        ("AUTH_TYPE", "password"),
        ("RELAY_EMF", "maybe"),
        ("RELAY_METRICS_NAMESPACE", "AWS/Lambda"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_relay-lambda"))
            .env_clear()
            // Under `cargo llvm-cov` the binary writes its coverage where the run collects it.
            .envs(std::env::vars_os().filter(|(name, _)| name == "LLVM_PROFILE_FILE"))
            .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
            .env(name, value)
            .env("SECRET_KEY", SECRET)
            .stdin(Stdio::null())
            .output()
            .expect("cannot start relay-lambda");
        assert!(!output.status.success(), "{name}");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(text.contains(name), "{text}");
        assert!(
            !text.contains(SECRET),
            "the secret reached the error: {text}"
        );
    }
}
