//! The HTTP routes: one `axum::Router`, served unchanged by every adapter.
//!
//! The top of the module order: a handler reads the body ([`crate::request`]), checks the
//! token ([`crate::auth`]), asks upstream ([`crate::enrich`], which maps with
//! [`crate::mapping`]) and answers in the envelope ([`crate::error`]). Handlers return
//! `Result<Response, RelayError>`; an error becomes its envelope through `IntoResponse`.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use futures::FutureExt as _;
use serde::Serialize;
use serde_json::json;
use tracing::{Instrument as _, field};

use crate::auth::Verifier;
use crate::config::RelayConfig;
use crate::enrich::{Enricher, Outcome};
use crate::error::{ConfigError, Envelope, RelayError};
use crate::openapi::{self, VERSION};
use crate::refer::{self, ReferLink};
use crate::request::{self, IpObservable};
use crate::stats::Stats;
use crate::telemetry::{self, InFlight};
use crate::token::Credentials;

/// What every handler shares: the configuration and the upstream machinery.
#[derive(Debug)]
pub(crate) struct Relay {
    config: RelayConfig,
    enricher: Enricher,
    verifier: Verifier,
}

/// Builds the relay's router from its configuration.
///
/// Fails only when the configuration cannot work at all (for example an unparsable Signals
/// base URL, or a JWKS mode without an audience or with an unusable allow-list); a missing
/// `SECRET_KEY` is not an error here, see [`RelayConfig::secret_key`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tower::ServiceExt as _;
/// let router = xdr_relay_core::router(xdr_relay_core::RelayConfig::default()).unwrap();
/// let request = axum::http::Request::post("/version").body(axum::body::Body::empty()).unwrap();
/// let response = router.oneshot(request).await.unwrap();
/// assert_eq!(response.status(), 200);
/// # }
/// ```
pub fn router(config: RelayConfig) -> Result<Router, ConfigError> {
    router_with(config, |routes| routes)
}

/// The paths the relay serves, each also with a trailing slash. [`observe_request`] labels
/// metrics with them (`/openapi.json` only exists when configured).
const ROUTES: &[&str] = &[
    "/health",
    "/deliberate/observables",
    "/observe/observables",
    "/refer/observables",
    "/respond/observables",
    "/respond/trigger",
    "/version",
    "/watchdog",
    "/openapi.json",
];

/// [`router`], with `extra` routes under the same middleware: the seam through which tests add
/// a route users cannot reach (a handler that panics).
fn router_with(
    config: RelayConfig,
    extra: impl FnOnce(Router<Arc<Relay>>) -> Router<Arc<Relay>>,
) -> Result<Router, ConfigError> {
    let enricher = Enricher::new(&config)?;
    let verifier = Verifier::new(config.secret_key.as_ref(), config.jwks.as_ref())?;
    let relay = Arc::new(Relay {
        config,
        enricher,
        verifier,
    });
    let mut routes = vec![
        ("/health", post(health)),
        ("/deliberate/observables", post(deliberate)),
        ("/observe/observables", post(observe)),
        ("/refer/observables", post(refer)),
        ("/respond/observables", post(respond_observables)),
        ("/respond/trigger", post(respond_trigger)),
        ("/version", post(version).get(version)),
        ("/watchdog", get(watchdog).post(watchdog)),
    ];
    if relay.config.openapi {
        let document = Bytes::from(openapi::openapi().to_string());
        routes.push(("/openapi.json", get(move || openapi_document(document))));
    }
    let mut router = Router::new();
    for (path, method_router) in routes {
        debug_assert!(ROUTES.contains(&path), "{path} is missing from ROUTES");
        router = with_trailing_slash(router, path, method_router);
    }
    Ok(extra(router)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(observe_request))
        .with_state(relay))
}

/// Serves `path` and `path/` alike: Threat Response and people both send either.
fn with_trailing_slash(
    router: Router<Arc<Relay>>,
    path: &str,
    method_router: MethodRouter<Arc<Relay>>,
) -> Router<Arc<Relay>> {
    router
        .route(path, method_router.clone())
        .route(&format!("{path}/"), method_router)
}

/// Reads the body within the configured limit, parses the observables, then checks the JWT:
/// bad input is reported before authentication, as modern relays do.
async fn authorised_observables(
    relay: &Relay,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Credentials, Vec<IpObservable>, usize), RelayError> {
    let bytes = read_body(body, relay.config.max_body_bytes).await?;
    let observables = request::parse(&bytes, relay.config.max_observables)?;
    let credentials = relay.verifier.verify(headers).await?;
    let requested = observables.len();
    Ok((credentials, request::supported(observables), requested))
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, RelayError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        RelayError::InvalidArgument(format!(
            "Invalid JSON payload received. {}",
            json!({ "_schema": [format!("Request body too large or unreadable (at most {limit} bytes).")] })
        ))
    })
}

/// A handler's answer: a response, or the error whose envelope is the response.
type Answer = Result<Response, RelayError>;

async fn health(State(relay): State<Arc<Relay>>, headers: HeaderMap) -> Answer {
    let credentials = relay.verifier.verify(&headers).await?;
    let outcome = relay.enricher.check_key(&credentials).await;
    Ok(answer(outcome, 0, |()| json!({"status": "ok"})))
}

async fn deliberate(State(relay): State<Arc<Relay>>, headers: HeaderMap, body: Body) -> Answer {
    let (credentials, ips, requested) = authorised_observables(&relay, &headers, body).await?;
    let outcome = relay.enricher.deliberate(&credentials, &ips).await;
    Ok(answer(outcome, requested, |data| data))
}

async fn observe(State(relay): State<Arc<Relay>>, headers: HeaderMap, body: Body) -> Answer {
    let (credentials, ips, requested) = authorised_observables(&relay, &headers, body).await?;
    let limit = credentials
        .entities_limit
        .unwrap_or(relay.config.entities_limit);
    let outcome = relay.enricher.observe(&credentials, &ips, limit).await;
    Ok(answer(outcome, requested, |data| data))
}

async fn refer(State(relay): State<Arc<Relay>>, headers: HeaderMap, body: Body) -> Answer {
    let (_, ips, requested) = authorised_observables(&relay, &headers, body).await?;
    let links: Vec<ReferLink> = ips.iter().map(refer::link).collect();
    let stats = Stats::default().with_observables(requested);
    Ok(with_stats(
        Envelope::partial(Some(links), &[]).into_response(),
        stats,
    ))
}

async fn respond_observables(
    State(relay): State<Arc<Relay>>,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    authorised_observables(&relay, &headers, body).await?;
    Ok(Envelope::partial(Some(json!([])), &[]).into_response())
}

/// This module has no response actions, so every trigger fails (without reading the body).
async fn respond_trigger(State(relay): State<Arc<Relay>>, headers: HeaderMap) -> Answer {
    relay.verifier.verify(&headers).await?;
    Ok(Envelope::partial(Some(json!({"status": "failure"})), &[]).into_response())
}

#[derive(Serialize)]
struct Version {
    version: &'static str,
}

async fn version() -> Response {
    axum::Json(Version { version: VERSION }).into_response()
}

async fn watchdog(headers: HeaderMap) -> Answer {
    let value = headers
        .get("Health-Check")
        .and_then(|v| v.to_str().ok())
        .ok_or(RelayError::HealthCheckFailed)?;
    Ok(Envelope::partial(Some(value.to_owned()), &[]).into_response())
}

async fn openapi_document(document: Bytes) -> Response {
    ([(CONTENT_TYPE, "application/json")], document).into_response()
}

async fn not_found() -> RelayError {
    RelayError::NotFound
}

async fn method_not_allowed() -> RelayError {
    RelayError::MethodNotAllowed
}

/// The envelope of what an upstream route gathered (its data through `data`), carrying what
/// it cost for the log line.
fn answer<T, U: Serialize>(
    outcome: Outcome<T>,
    requested: usize,
    data: impl FnOnce(T) -> U,
) -> Response {
    let stats = outcome.stats.with_observables(requested);
    let envelope = Envelope::partial(outcome.data.map(data), &outcome.errors);
    with_stats(envelope.into_response(), stats)
}

/// The response, with `stats` (rather than what the envelope assumed) for the log line.
fn with_stats(mut response: Response, stats: Stats) -> Response {
    response.extensions_mut().insert(stats);
    response
}

/// The request's id, span, metrics and log line, and the answer when its handler panics.
///
/// Every line logged while the request is answered (upstream retries included) is inside the
/// span `request{request_id=…}`; the id is returned as `X-Request-Id`. One `relay::request`
/// line per request gives route, status, duration and what it cost upstream: never a header,
/// a body or a secret.
async fn observe_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let _in_flight = InFlight::start();
    let id = telemetry::request_id(request.headers());
    let route = route_label(request.extensions().get::<MatchedPath>());
    let method: Method = request.method().clone();
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!("request", request_id = field::Empty);
    if let Ok(id) = id.to_str() {
        span.record("request_id", id);
    }
    // A panic unwinds to here (the hook `telemetry::log_panics` has logged it, in this span)
    // and this request alone is answered 500; the connection and the process go on.
    let mut response = AssertUnwindSafe(next.run(request))
        .catch_unwind()
        .instrument(span.clone())
        .await
        .unwrap_or_else(|_| telemetry::panic_response());
    let elapsed = started.elapsed();
    let status: StatusCode = response.status();
    let stats = response
        .extensions()
        .get::<Stats>()
        .copied()
        .unwrap_or_default();
    span.in_scope(|| {
        tracing::info!(
            target: "relay::request",
            %method,
            path = %truncate(&path, 64),
            status = status.as_u16(),
            // Milliseconds to two decimals: readable, and enough for a request log.
            duration_ms = (elapsed.as_secs_f64() * 100_000.0).round() / 100.0,
            observables = stats.observables,
            upstream_calls = stats.upstream_calls,
            cache_hits = stats.cache_hits,
            errors = stats.errors,
            "request"
        );
    });
    let class = telemetry::status_class(status);
    metrics::counter!(telemetry::REQUESTS, "route" => route, "status" => class).increment(1);
    metrics::histogram!(telemetry::REQUEST_DURATION, "route" => route).record(elapsed);
    if route.ends_with("/observables") {
        #[allow(clippy::cast_precision_loss)] // a count below the body limit
        let observables = stats.observables as f64;
        metrics::histogram!(telemetry::OBSERVABLES, "route" => route).record(observables);
    }
    response
        .headers_mut()
        .insert(telemetry::REQUEST_ID_HEADER, id);
    response
}

/// The `route` label: the matched route without its trailing slash, from a fixed list.
fn route_label(matched: Option<&MatchedPath>) -> &'static str {
    let Some(matched) = matched else {
        return "unmatched";
    };
    let path = matched.as_str();
    let path = path.strip_suffix('/').unwrap_or(path);
    ROUTES
        .iter()
        .copied()
        .find(|route| *route == path)
        .unwrap_or("unmatched")
}

/// A path is caller input: log a bounded prefix of it.
fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use serde_json::Value;

    use super::*;

    /// A handler that panics, added through [`router_with`]: no user can reach such a route.
    async fn panics() -> &'static str {
        let secret = "a-secret-the-panic-message-quotes";
        if !secret.is_empty() {
            panic!("cannot go on with {secret}");
        }
        secret
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_request_is_answered_500_and_the_server_goes_on() {
        let router = router_with(RelayConfig::default(), |routes| {
            routes.route("/test-only/panic", get(panics))
        })
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, router).await });
        let client = reqwest::Client::new();

        // A request in flight while another panics is answered as usual.
        let slow = client
            .post(format!("{url}/deliberate/observables"))
            .body(vec![b' '; 1 << 20])
            .send();
        let panicking = client
            .get(format!("{url}/test-only/panic"))
            .header("X-Request-Id", "panic-1")
            .send();
        let (slow, panicked) = tokio::join!(slow, panicking);
        let panicked = panicked.unwrap();
        assert_eq!(panicked.status(), 500);
        assert_eq!(panicked.headers()["x-request-id"], "panic-1");
        let body: Value = panicked.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], "unknown", "{body}");
        assert_eq!(body["errors"][0]["type"], "fatal", "{body}");
        assert!(!body.to_string().contains("a-secret"), "{body}");
        // The body was 1 MiB of spaces: an invalid-argument answer, not a dropped connection.
        assert_eq!(slow.unwrap().status(), 200);

        // The server goes on: on the connections it keeps and on new ones.
        for _ in 0..3 {
            let version = client.get(format!("{url}/version")).send().await.unwrap();
            assert_eq!(version.status(), 200);
            let fresh = reqwest::Client::new();
            let again = fresh
                .get(format!("{url}/test-only/panic"))
                .send()
                .await
                .unwrap();
            assert_eq!(again.status(), 500);
        }
        assert!(!server.is_finished());
        server.abort();
    }

    #[test]
    fn every_route_has_its_metrics_label() {
        for path in ROUTES {
            assert!(path.starts_with('/') && !path.ends_with('/'), "{path}");
        }
        let router = router(RelayConfig {
            openapi: true,
            ..RelayConfig::default()
        });
        assert!(router.is_ok());
    }
}
