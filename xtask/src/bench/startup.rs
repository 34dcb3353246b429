//! Start-up: `relay-server` exec → listening, `relay-lambda` exec → first invocation answered.
//!
//! The Lambda side runs against a minimal Lambda Runtime API emulator on 127.0.0.1 (the
//! Runtime API is plain HTTP): `GET /2018-06-01/runtime/invocation/next` hands out one API
//! Gateway v2 event, `POST /2018-06-01/runtime/invocation/{id}/response` takes the answer and
//! stops the clock. Later `next` calls wait forever, as on Lambda between invocations.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::procs::Server;

/// How long one start-up may take before it counts as a failure.
const PATIENCE: Duration = Duration::from_secs(10);

/// Times `runs` starts of relay-server, from spawn to its "listening" log line.
pub(crate) fn relay_server(
    bin: &Path,
    secret: &str,
    upstream: &str,
    runs: usize,
) -> Result<Vec<Duration>, String> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let server = Server::spawn(&mut relay_server_command(bin, secret, upstream))?;
        times.push(started.elapsed());
        drop(server);
    }
    Ok(times)
}

/// The relay-server command every benchmark runs: production defaults (RUST_LOG unset, so
/// `info` and one log line per request), on an ephemeral port.
pub(crate) fn relay_server_command(bin: &Path, secret: &str, upstream: &str) -> Command {
    let mut command = Command::new(bin);
    command
        .args(["--listen", "127.0.0.1:0"])
        .env("SECRET_KEY", secret)
        .env("SIGNALS_API_URL", upstream)
        .env_remove("RUST_LOG");
    command
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
    for i in 0..runs {
        times.push(lambda_once(bin, secret, jwt, i).await?);
    }
    Ok(times)
}

async fn lambda_once(bin: &Path, secret: &str, jwt: &str, run: usize) -> Result<Duration, String> {
    let request_id = format!("bench-{run}");
    let (emulator, answered) = Emulator::start(event(jwt, &request_id), request_id).await?;
    let started = Instant::now();
    let mut child = Command::new(bin)
        .env("AWS_LAMBDA_RUNTIME_API", emulator.to_string())
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
        return Err(format!(
            "relay-lambda's first answer is not a 200: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    Ok(at.saturating_duration_since(started))
}

/// An API Gateway HTTP API (payload 2.0) event: `POST /refer/observables` for one IP.
fn event(jwt: &str, request_id: &str) -> Value {
    let body = super::scenario::observables(&[super::scenario::ONE_LIST_IP.into()]);
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/refer/observables",
        "rawQueryString": "",
        "headers": {
            "authorization": format!("Bearer {jwt}"),
            "content-type": "application/json",
            "host": "bench.execute-api.us-east-1.amazonaws.com",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "bench",
            "http": {
                "method": "POST",
                "path": "/refer/observables",
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "xtask-bench",
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2025:00:00:00 +0000",
            "timeEpoch": 1_735_689_600_000u64,
        },
        "body": body,
        "isBase64Encoded": false,
    })
}

type Answer = (Instant, Bytes);

/// The Runtime API of one cold start.
struct Emulator {
    event: Mutex<Option<Value>>,
    request_id: String,
    answered: Mutex<Option<oneshot::Sender<Answer>>>,
}

impl Emulator {
    /// Serves the Runtime API on 127.0.0.1 until the runtime is dropped; returns its address
    /// and the receiver of the first answer.
    async fn start(
        event: Value,
        request_id: String,
    ) -> Result<(SocketAddr, oneshot::Receiver<Answer>), String> {
        let (tx, rx) = oneshot::channel();
        let state = Arc::new(Emulator {
            event: Mutex::new(Some(event)),
            request_id,
            answered: Mutex::new(Some(tx)),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(answer))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(answer))
            .route("/2018-06-01/runtime/init/error", post(answer))
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
        Ok((address, rx))
    }
}

async fn next(State(emulator): State<Arc<Emulator>>) -> Response {
    let event = emulator
        .event
        .lock()
        .map(|mut e| e.take())
        .unwrap_or_default();
    let Some(event) = event else {
        // One invocation per cold start: the runtime waits here until it is killed.
        std::future::pending::<()>().await;
        return StatusCode::GONE.into_response();
    };
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() + 30_000)
        .unwrap_or_default();
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("lambda-runtime-aws-request-id", emulator.request_id.clone()),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:auth0-signals-relay".to_owned(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000".to_owned(),
        ),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    (headers, axum::Json(event)).into_response()
}

async fn answer(State(emulator): State<Arc<Emulator>>, body: Bytes) -> StatusCode {
    let at = Instant::now();
    if let Some(tx) = emulator.answered.lock().ok().and_then(|mut a| a.take()) {
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
    use super::*;

    #[test]
    fn medians() {
        let ms = Duration::from_millis;
        assert_eq!(median(&[]), Duration::ZERO);
        assert_eq!(median(&[ms(3)]), ms(3));
        assert_eq!(median(&[ms(9), ms(1), ms(5)]), ms(5));
        assert_eq!(median(&[ms(4), ms(1), ms(3), ms(2)]), ms(3));
    }
}
