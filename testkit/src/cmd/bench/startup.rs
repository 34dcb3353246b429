//! Start-up: `relay-server` exec → listening, `relay-lambda` exec → first invocation answered.
//!
//! The Lambda side runs against a minimal Lambda Runtime API emulator on 127.0.0.1 (the
//! Runtime API is plain HTTP): `GET /2018-06-01/runtime/invocation/next` hands out one API
//! Gateway v2 event, `POST /2018-06-01/runtime/invocation/{id}/response` takes the answer and
//! stops the clock. Later `next` calls wait forever, as on Lambda between invocations.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use testkit::relay::{self, Server};

use crate::cmd::message;

/// How long one start-up may take before it counts as a failure.
const PATIENCE: Duration = Duration::from_secs(10);

/// Times `runs` starts of relay-server, from spawn to its "listening" log line.
pub(crate) fn relay_server(bin: &Path, secret: &str, runs: usize) -> Result<Vec<Duration>, String> {
    // The upstream is never called: an unroutable address keeps it that way.
    let mut command = relay::relay_command(bin, secret, "http://127.0.0.1:9/", None);
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            Server::spawn(&mut command, false)
                .map(|_server| started.elapsed())
                .map_err(message)
        })
        .collect()
}

/// Times `runs` cold starts of relay-lambda, from spawn to the answer of its first invocation
/// (`POST /refer/observables` with a JWT: parsing, JWT verification and serialisation, no
/// upstream call, so the figure is the binary's own).
pub(crate) async fn relay_lambda(
    bin: &Path,
    secret: &str,
    jwt: &str,
    runs: usize,
) -> Result<Vec<Duration>, String> {
    let mut times = Vec::with_capacity(runs);
    for run in 0..runs {
        times.push(lambda_once(bin, secret, jwt, &format!("bench-{run}")).await?);
    }
    Ok(times)
}

async fn lambda_once(
    bin: &Path,
    secret: &str,
    jwt: &str,
    request_id: &str,
) -> Result<Duration, String> {
    let (emulator, answered) = emulator(event(jwt, request_id), request_id.to_owned()).await?;
    let started = Instant::now();
    let mut child = Command::new(bin.join("relay-lambda"))
        .env("AWS_LAMBDA_RUNTIME_API", emulator)
        .env("AWS_LAMBDA_FUNCTION_NAME", "auth0-signals-relay")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "/aws/lambda/auth0-signals-relay",
        )
        .env("SECRET_KEY", secret)
        // Never called by /refer; an unroutable address keeps it that way.
        .env("SIGNALS_API_URL", "http://127.0.0.1:9/")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start relay-lambda: {e}"))?;
    let outcome = tokio::time::timeout(PATIENCE, answered).await;
    let _ = child.kill();
    let _ = child.wait();
    let (at, body) = match outcome {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => return Err("the Runtime API emulator stopped".into()),
        Err(_) => return Err(format!("relay-lambda answered nothing within {PATIENCE:?}")),
    };
    let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if answer["statusCode"] != 200 {
        let body = String::from_utf8_lossy(&body);
        return Err(format!("relay-lambda's first answer is not a 200: {body}"));
    }
    Ok(at.saturating_duration_since(started))
}

/// An API Gateway HTTP API (payload 2.0) event: `POST /refer/observables` for one IP.
fn event(jwt: &str, request_id: &str) -> Value {
    let host = "bench.execute-api.us-east-1.amazonaws.com";
    let headers = json!({"authorization": format!("Bearer {jwt}"), "content-type": "application/json", "host": host});
    let http = json!({
        "method": "POST", "path": "/refer/observables", "protocol": "HTTP/1.1",
        "sourceIp": "192.0.2.1", "userAgent": "xtask-bench",
    });
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/refer/observables", "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench", "domainName": host, "domainPrefix": "bench",
            "http": http, "requestId": request_id, "routeKey": "$default", "stage": "$default",
            "time": "01/Jan/2025:00:00:00 +0000", "timeEpoch": 1_735_689_600_000u64,
        },
        "body": super::scenario::observables(&[super::scenario::ONE_LIST_IP.into()]),
        "isBase64Encoded": false,
    })
}

type Answer = (Instant, Bytes);

/// The Runtime API of one cold start: the event (handed out once), its request id, and where
/// the first answer goes.
type Emulator = Arc<(
    Mutex<Option<Value>>,
    String,
    Mutex<Option<oneshot::Sender<Answer>>>,
)>;

/// Serves the Runtime API on 127.0.0.1 until the runtime is dropped; returns its address and
/// the receiver of the first answer.
async fn emulator(
    event: Value,
    request_id: String,
) -> Result<(String, oneshot::Receiver<Answer>), String> {
    let (tx, rx) = oneshot::channel();
    let state: Emulator = Arc::new((Mutex::new(Some(event)), request_id, Mutex::new(Some(tx))));
    let api = "/2018-06-01/runtime";
    let app = axum::Router::new()
        .route(&format!("{api}/invocation/next"), get(next))
        .route(&format!("{api}/invocation/{{id}}/response"), post(answer))
        .route(&format!("{api}/invocation/{{id}}/error"), post(answer))
        .route(&format!("{api}/init/error"), post(answer))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| format!("Runtime API emulator: cannot listen: {e}"))?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("Runtime API emulator: no address: {e}"))?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((address.to_string(), rx))
}

async fn next(State(emulator): State<Emulator>) -> Response {
    let Some(event) = emulator.0.lock().ok().and_then(|mut e| e.take()) else {
        // One invocation per cold start: the runtime waits here until it is killed.
        return std::future::pending().await;
    };
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() + 30_000)
        .unwrap_or_default();
    let headers = [
        ("lambda-runtime-aws-request-id", emulator.1.clone()),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:auth0-signals-relay".into(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000".into(),
        ),
    ];
    (headers, axum::Json(event)).into_response()
}

async fn answer(State(emulator): State<Emulator>, body: Bytes) -> StatusCode {
    let at = Instant::now();
    if let Some(tx) = emulator.2.lock().ok().and_then(|mut a| a.take()) {
        let _ = tx.send((at, body));
    }
    StatusCode::ACCEPTED
}

/// The median of some durations (the upper one of an even count); zero when there are none.
pub(crate) fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn medians() {
        let ms = std::time::Duration::from_millis;
        assert_eq!(super::median(&[]), ms(0));
        assert_eq!(super::median(&[ms(3)]), ms(3));
        assert_eq!(super::median(&[ms(9), ms(1), ms(5)]), ms(5));
        assert_eq!(super::median(&[ms(4), ms(1), ms(3), ms(2)]), ms(3));
    }
}
