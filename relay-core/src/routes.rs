//! The HTTP routes: one `axum::Router` for a [`Provider`], served unchanged by every adapter.
//!
//! A handler reads the body ([`crate::request`]), checks the token ([`crate::auth`]), asks the
//! provider ([`crate::provider`]) by the request's deadline and answers in the envelope
//! ([`crate::error`]); every request passes the layers of [`crate::layers`]. Handlers return `Result<Response, RelayError>`; an error
//! becomes its envelope through `IntoResponse`.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use ctim_model::ObserveBundle;
use futures::StreamExt as _;
use serde::Serialize;
use serde_json::json;

use crate::auth::Verifier;
use crate::config::RelayConfig;
use crate::credentials::{self, Credentials};
use crate::error::{ConfigError, Envelope, RelayError};
use crate::layers;
use crate::openapi;
use crate::provider::{Context, Outcome, Provider, ProviderInfo};
use crate::request::{self, ParsedObservable};
use crate::settings::Settings;
use crate::stats::RequestStats;
use crate::tiles;

/// What every handler shares: the configuration, the provider and the token verifier.
pub(crate) struct Relay {
    config: RelayConfig,
    provider: Arc<dyn Provider>,
    /// The provider's [`Provider::info`], asked once.
    info: ProviderInfo,
    verifier: Verifier,
}

impl fmt::Debug for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relay")
            .field("config", &self.config)
            .field("provider", &self.info.name)
            .field("verifier", &self.verifier)
            .finish()
    }
}

impl Relay {
    /// The context of the request `stats` counts, whose token carried `credentials`: to be
    /// answered within the relay's request timeout of its arrival.
    fn context(&self, credentials: Credentials, stats: Arc<RequestStats>) -> Context {
        let limit = credentials
            .entities_limit()
            .unwrap_or(self.config.entities_limit);
        // Clamped: a timeout set in code may be too large to add to an instant.
        let deadline = stats.arrived + self.config.request_timeout.min(LONGEST_WAIT);
        Context::counted(credentials, limit, stats).with_deadline(deadline)
    }
}

/// The longest request timeout used (what the settings accept at most): a larger one would
/// overflow the instant of the deadline.
const LONGEST_WAIT: Duration = Duration::from_secs(Settings::MAX_SECONDS);

/// How long after the request's deadline a provider still gets before the route answers its
/// timeout: calls through [`crate::Upstream`] give up at the deadline itself, so a provider
/// that makes them answers its partial data within this margin.
const DEADLINE_GRACE: Duration = Duration::from_secs(1);

/// The provider's answer `future`, or the error that it did not come in time: a provider that
/// ignores the request's deadline is cut off a second after it.
async fn by_deadline<T>(
    context: &Context,
    future: impl Future<Output = Result<T, RelayError>>,
) -> Result<T, RelayError> {
    let Some(deadline) = context.deadline() else {
        return future.await;
    };
    tokio::time::timeout_at(deadline + DEADLINE_GRACE, future)
        .await
        .unwrap_or_else(|_| {
            Err(RelayError::ServiceUnavailable(
                "The relay could not answer in time: its source did not answer before the \
                 request's deadline."
                    .to_owned(),
            ))
        })
}

/// Builds the router of a relay backed by `provider`: every route of the Threat Response relay
/// API, with relay-core's token checks (both modes), body limits, envelope, entity limits,
/// request ids, logs and metrics around the provider's answers.
///
/// It runs on tokio with timers enabled (`enable_all` or `enable_time`, as `axum::serve`,
/// `lambda_http` and the adapters' runtimes have): every request has a deadline
/// ([`RelayConfig::request_timeout`]).
///
/// Fails when the configuration cannot work (a JWKS mode without an audience or with an
/// unusable allow-list) or the provider's [credential fields](ProviderInfo::credentials) are
/// unusable (an empty or repeated name, or `CTR_ENTITIES_LIMIT`, which relay-core reads
/// itself); a missing `SECRET_KEY` is not an error here, see
/// [`RelayConfig::secret_key`]. The [`Provider`] docs have an example.
///
/// # Errors
///
/// [`ConfigError`] saying what cannot work.
pub fn router_for(config: RelayConfig, provider: Arc<dyn Provider>) -> Result<Router, ConfigError> {
    relay_router(config, provider, None)
}

/// The router of [`router_for`], its requests answered in the scope of the relay mounted as
/// `mount` when there is one ([`crate::telemetry::current_relay`]).
pub(crate) fn relay_router(
    config: RelayConfig,
    provider: Arc<dyn Provider>,
    mount: Option<Arc<str>>,
) -> Result<Router, ConfigError> {
    let info = provider.info();
    if let Some(problem) = credentials::check_fields(&info.credentials) {
        return Err(ConfigError(format!("provider {}: {problem}", info.name)));
    }
    if let Some(problem) = tiles::check(&info.tiles) {
        return Err(ConfigError(format!("provider {}: {problem}", info.name)));
    }
    let fields = Arc::from(info.credentials.as_slice());
    let verifier = Verifier::new(config.secret_key.as_ref(), config.jwks.as_ref(), fields)?;
    let document = config
        .openapi
        .then(|| Bytes::from(openapi::openapi_for(&info).to_string()));
    let relay = Arc::new(Relay {
        config,
        provider,
        info,
        verifier,
    });
    let mut routes = vec![
        ("/health", post(health)),
        ("/deliberate/observables", post(deliberate)),
        ("/observe/observables", post(observe)),
        ("/refer/observables", post(refer)),
        ("/respond/observables", post(respond_observables)),
        ("/respond/trigger", post(respond_trigger)),
        ("/tiles", post(tiles_list)),
        ("/tiles/tile", post(tiles_tile)),
        ("/tiles/tile-data", post(tiles_tile_data)),
        ("/version", post(version).get(version)),
        ("/watchdog", get(watchdog).post(watchdog)),
    ];
    if let Some(document) = document {
        routes.push(("/openapi.json", get(move || openapi_document(document))));
    }
    let mut router = Router::new();
    for (path, method_router) in routes {
        router = with_trailing_slash(router, path, method_router);
    }
    let router = router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let router = match mount {
        Some(name) => layers::around_mount(router, name),
        None => layers::around(router),
    };
    Ok(router.with_state(relay))
}

/// Every route of a relay, as the `route` label names it: what a suite counts from zero.
pub(crate) const ROUTES: &[&str] = &[
    "/health",
    "/deliberate/observables",
    "/observe/observables",
    "/refer/observables",
    "/respond/observables",
    "/respond/trigger",
    "/tiles",
    "/tiles/tile",
    "/tiles/tile-data",
    "/version",
    "/watchdog",
];

/// Serves `path` and `path/` alike: Threat Response and people both send either.
pub(crate) fn with_trailing_slash<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    path: &str,
    method_router: MethodRouter<S>,
) -> Router<S> {
    router
        .route(path, method_router.clone())
        .route(&format!("{path}/"), method_router)
}

/// Reads the body within the configured limit, parses the observables, then checks the JWT:
/// bad input is reported before authentication, as modern relays do. Returns the request's
/// context, the observables of the provider's types, and how many observables were sent.
async fn authorised_observables(
    relay: &Relay,
    stats: Arc<RequestStats>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Context, Vec<ParsedObservable>, usize), RelayError> {
    let invalid = |error: RelayError| match (error, relay.info.invalid_payload_code) {
        (RelayError::InvalidArgument(message), Some(code)) => RelayError::custom(code, message),
        (error, _) => error,
    };
    let bytes = read_body(body, relay.config.max_body_bytes)
        .await
        .map_err(invalid)?;
    let observables = request::parse(&bytes, relay.config.max_observables).map_err(invalid)?;
    let credentials = relay.verifier.verify(headers).await?;
    let requested = observables.len();
    let supported = request::supported(
        observables,
        &relay.info.observable_types,
        relay.info.types_in_any_case,
    );
    Ok((relay.context(credentials, stats), supported, requested))
}

/// The body, at most `limit` bytes, gathered into one buffer as its frames arrive: a frame is
/// copied and dropped at once, so what a body holds while it arrives is proportional to its
/// bytes whatever its framing (`to_bytes` keeps every frame until the end, and a chunk flood
/// of one-byte chunks is one frame, and one pinned piece of the server's read buffer, per
/// byte). The buffer grows with the bytes received, never with what `Content-Length` claims.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, RelayError> {
    let unreadable = || {
        RelayError::InvalidArgument(format!(
            "Invalid JSON payload received. {}",
            json!({ "_schema": [format!("Request body too large or unreadable (at most {limit} bytes).")] })
        ))
    };
    let mut frames = body.into_data_stream();
    // A body of one frame (the usual case) is not copied: the first frame is kept until a
    // second one comes.
    let mut first: Option<Bytes> = None;
    let mut gathered = Vec::new();
    while let Some(data) = frames.next().await {
        let data = data.map_err(|_| unreadable())?;
        let held = first.as_ref().map_or(gathered.len(), Bytes::len);
        if data.len() > limit.saturating_sub(held) {
            return Err(unreadable());
        }
        if data.is_empty() {
            continue;
        }
        match first.take() {
            None if gathered.is_empty() => first = Some(data),
            Some(first) => {
                gathered.extend_from_slice(&first);
                gathered.extend_from_slice(&data);
            }
            None => gathered.extend_from_slice(&data),
        }
    }
    Ok(first.unwrap_or_else(|| Bytes::from(gathered)))
}

/// A handler's answer: a response, or the error whose envelope is the response.
type Answer = Result<Response, RelayError>;

/// The request's [`RequestStats`], which the relay's layers put in its extensions.
type Stats = Extension<Arc<RequestStats>>;

async fn health(State(relay): State<Arc<Relay>>, stats: Stats, headers: HeaderMap) -> Answer {
    let credentials = relay.verifier.verify(&headers).await?;
    let context = relay.context(credentials, stats.0);
    let outcome = match by_deadline(&context, relay.provider.health(&context)).await {
        Ok(()) => Ok(Outcome::new(json!({"status": "ok"}))),
        Err(error) => Err(error),
    };
    Ok(answer(&context, outcome, 0, |_| false))
}

async fn deliberate(
    State(relay): State<Arc<Relay>>,
    stats: Stats,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let (context, observables, requested) =
        authorised_observables(&relay, stats.0, &headers, body).await?;
    let outcome = by_deadline(&context, relay.provider.deliberate(&context, &observables)).await;
    let outcome = outcome.map(|o| {
        let mut bundle = ObserveBundle::default();
        bundle.verdicts = o.data.into();
        Outcome::with_errors(bundle, o.errors)
    });
    Ok(answer(
        &context,
        outcome,
        requested,
        ObserveBundle::is_empty,
    ))
}

async fn observe(
    State(relay): State<Arc<Relay>>,
    stats: Stats,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let (context, observables, requested) =
        authorised_observables(&relay, stats.0, &headers, body).await?;
    let outcome = by_deadline(&context, relay.provider.observe(&context, &observables)).await;
    Ok(answer(
        &context,
        outcome,
        requested,
        ObserveBundle::is_empty,
    ))
}

/// `[]` unless the provider offers links.
async fn refer(
    State(relay): State<Arc<Relay>>,
    stats: Stats,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let (context, observables, requested) =
        authorised_observables(&relay, stats.0, &headers, body).await?;
    if !relay.info.refers {
        return Ok(Envelope::partial(Some(json!([])), &[]).into_response());
    }
    let outcome = by_deadline(&context, relay.provider.refer(&context, &observables)).await;
    Ok(answer(&context, outcome, requested, Vec::is_empty))
}

/// `[]` unless the provider offers response actions.
async fn respond_observables(
    State(relay): State<Arc<Relay>>,
    stats: Stats,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let (context, observables, requested) =
        authorised_observables(&relay, stats.0, &headers, body).await?;
    if !relay.info.responds {
        return Ok(Envelope::partial(Some(json!([])), &[]).into_response());
    }
    let outcome = by_deadline(
        &context,
        relay.provider.respond_observables(&context, &observables),
    )
    .await;
    Ok(answer(&context, outcome, requested, Vec::is_empty))
}

/// A provider without response actions fails every trigger, without reading the body.
async fn respond_trigger(
    State(relay): State<Arc<Relay>>,
    stats: Stats,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    if !relay.info.responds {
        relay.verifier.verify(&headers).await?;
        return Ok(Envelope::partial(Some(json!({"status": "failure"})), &[]).into_response());
    }
    let bytes = read_body(body, relay.config.max_body_bytes).await?;
    let trigger = request::parse_trigger(&bytes)?;
    let context = relay.context(relay.verifier.verify(&headers).await?, stats.0);
    let outcome = by_deadline(&context, relay.provider.respond_trigger(&context, &trigger))
        .await
        .map(|status| Outcome::new(json!({ "status": status })));
    Ok(answer(&context, outcome, 0, |_| false))
}

/// `/tiles`: the provider's tiles (`[]` without a dashboard). The body is read within the
/// limit, and otherwise ignored, as Cisco's relays do.
async fn tiles_list(State(relay): State<Arc<Relay>>, headers: HeaderMap, body: Body) -> Answer {
    read_body(body, relay.config.max_body_bytes).await?;
    relay.verifier.verify(&headers).await?;
    Ok(Envelope::partial(Some(&relay.info.tiles), &[]).into_response())
}

/// `/tiles/tile`: one tile's description (`{}` without a dashboard, as Cisco's template).
async fn tiles_tile(State(relay): State<Arc<Relay>>, headers: HeaderMap, body: Body) -> Answer {
    let bytes = read_body(body, relay.config.max_body_bytes).await?;
    let id = tiles::parse_tile(&bytes)?;
    relay.verifier.verify(&headers).await?;
    if relay.info.tiles.is_empty() {
        return Ok(Envelope::partial(Some(json!({})), &[]).into_response());
    }
    let tile = tiles::find(&relay.info.tiles, &id)?;
    Ok(Envelope::partial(Some(tile), &[]).into_response())
}

/// `/tiles/tile-data`: the provider's data for a tile it offers, for a period the tile offers
/// (`{}` without a dashboard, as Cisco's template).
async fn tiles_tile_data(
    State(relay): State<Arc<Relay>>,
    stats: Stats,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let bytes = read_body(body, relay.config.max_body_bytes).await?;
    let (id, period) = tiles::parse_tile_data(&bytes)?;
    let credentials = relay.verifier.verify(&headers).await?;
    if relay.info.tiles.is_empty() {
        return Ok(Envelope::partial(Some(json!({})), &[]).into_response());
    }
    let tile = tiles::select(&relay.info.tiles, &id, period)?;
    let context = relay.context(credentials, stats.0);
    let data = by_deadline(&context, relay.provider.tile_data(&context, tile, period)).await;
    let outcome = data
        .and_then(|data| tiles::fitting(tile, data))
        .map(Outcome::new);
    Ok(answer(&context, outcome, 0, |_| false))
}

#[derive(Serialize)]
struct Version<'a> {
    version: &'a str,
}

async fn version(State(relay): State<Arc<Relay>>) -> Response {
    axum::Json(Version {
        version: &relay.info.version,
    })
    .into_response()
}

pub(crate) async fn watchdog(headers: HeaderMap) -> Answer {
    let value = headers
        .get("Health-Check")
        .and_then(|v| v.to_str().ok())
        .ok_or(RelayError::HealthCheckFailed)?;
    Ok(Envelope::partial(Some(value.to_owned()), &[]).into_response())
}

async fn openapi_document(document: Bytes) -> Response {
    ([(CONTENT_TYPE, "application/json")], document).into_response()
}

pub(crate) async fn not_found() -> RelayError {
    RelayError::NotFound
}

pub(crate) async fn method_not_allowed() -> RelayError {
    RelayError::MethodNotAllowed
}

/// The envelope of what the provider answered, its observables and errors recorded for the
/// request's log line. Data is answered when there is some, or when nothing went wrong (then `{}` or `[]`
/// says "nothing known"); errors with nothing gathered answer `errors` alone, and a failed
/// call its one error.
fn answer<T: Serialize>(
    context: &Context,
    outcome: Result<Outcome<T>, RelayError>,
    requested: usize,
    is_empty: impl FnOnce(&T) -> bool,
) -> Response {
    let (data, errors) = match outcome {
        Ok(Outcome { data, errors }) => {
            let keep = !is_empty(&data) || errors.is_empty();
            (keep.then_some(data), errors)
        }
        Err(error) => (None, vec![error]),
    };
    context.answered(requested, errors.len());
    Envelope::partial(data, &errors).into_response()
}

#[cfg(test)]
mod tests {
    use ctim_model::{ObservableType, Verdict};
    use serde_json::Value;

    use super::*;
    use crate::auth::{SecretKey, encode_token};

    const SECRET: &str = "a-routes-test-secret";

    /// A provider whose every lookup panics, with a message quoting a secret.
    struct Panics;

    #[async_trait::async_trait]
    impl Provider for Panics {
        fn info(&self) -> ProviderInfo {
            ProviderInfo::new("Panics", "9.9.9", [ObservableType::Ip])
        }

        async fn deliberate(
            &self,
            _: &Context,
            _: &[ParsedObservable],
        ) -> Result<Outcome<Vec<Verdict>>, RelayError> {
            let secret = "a-secret-the-panic-message-quotes";
            panic!("cannot go on with {secret}");
        }

        async fn observe(
            &self,
            _: &Context,
            _: &[ParsedObservable],
        ) -> Result<Outcome<ObserveBundle>, RelayError> {
            Ok(Outcome::new(ObserveBundle::default()))
        }

        /// Never called: the info does not say it refers.
        async fn refer(
            &self,
            _: &Context,
            _: &[ParsedObservable],
        ) -> Result<Outcome<Vec<crate::provider::ReferLink>>, RelayError> {
            panic!("refer was called although the provider does not refer");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_request_is_answered_500_and_the_server_goes_on() {
        let config = RelayConfig {
            secret_key: SecretKey::new(SECRET),
            ..RelayConfig::default()
        };
        let router = router_for(config, Arc::new(Panics)).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, router).await });
        let client = reqwest::Client::new();
        let token = encode_token(&SecretKey::new(SECRET).unwrap(), "k", None).unwrap();
        let panic = |client: &reqwest::Client| {
            client
                .post(format!("{url}/deliberate/observables"))
                .bearer_auth(&token)
                .header("X-Request-Id", "panic-1")
                .body(r#"[{"type": "ip", "value": "192.0.2.1"}]"#)
                .send()
        };

        // A request in flight while another panics is answered as usual.
        let slow = client
            .post(format!("{url}/observe/observables"))
            .body(vec![b' '; 1 << 20])
            .send();
        let (slow, panicked) = tokio::join!(slow, panic(&client));
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
            assert_eq!(version.text().await.unwrap(), r#"{"version":"9.9.9"}"#);
            let again = panic(&reqwest::Client::new()).await.unwrap();
            assert_eq!(again.status(), 500);
        }
        // A provider that does not refer is not asked: `[]`.
        let refer = client
            .post(format!("{url}/refer/observables"))
            .bearer_auth(&token)
            .body(r#"[{"type": "ip", "value": "192.0.2.1"}]"#)
            .send()
            .await
            .unwrap();
        assert_eq!(refer.status(), 200);
        assert_eq!(refer.text().await.unwrap(), r#"{"data":[]}"#);

        assert!(!server.is_finished());
        server.abort();
    }

    /// Many tiny frames (a chunk flood: hyper gives each chunk as a frame of its own, which
    /// pins its read buffer) are copied into one buffer as they arrive, not kept until the
    /// body ends: what the body holds is proportional to its bytes, whatever the framing.
    #[tokio::test]
    async fn a_body_of_tiny_frames_is_gathered_without_keeping_the_frames() {
        struct One {
            _alive: Arc<()>,
        }
        impl AsRef<[u8]> for One {
            fn as_ref(&self) -> &[u8] {
                b"x"
            }
        }
        let alive = Arc::new(());
        let frames = (0..10_000).map({
            let alive = Arc::clone(&alive);
            move |_| {
                Ok::<_, std::io::Error>(Bytes::from_owner(One {
                    _alive: Arc::clone(&alive),
                }))
            }
        });
        // No end: the flood goes on.
        let flood = futures::stream::iter(frames).chain(futures::stream::pending());
        let mut reading = std::pin::pin!(read_body(Body::from_stream(flood), 1 << 20));
        for _ in 0..10 {
            assert!(futures::poll!(reading.as_mut()).is_pending());
        }
        assert!(
            Arc::strong_count(&alive) <= 2,
            "{} frames kept",
            Arc::strong_count(&alive) - 1
        );

        let frames = (0..10_000).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(b"y")));
        let body = Body::from_stream(futures::stream::iter(frames));
        assert_eq!(read_body(body, 1 << 20).await.unwrap().len(), 10_000);
        let frames = (0..10_000).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(b"y")));
        let body = Body::from_stream(futures::stream::iter(frames));
        assert!(read_body(body, 9_999).await.is_err());
    }

    /// A request timeout too large to add to an instant (a config built in code, past what
    /// the settings accept) is clamped, not a panic answered 500.
    #[tokio::test]
    async fn a_request_timeout_too_large_for_an_instant_is_clamped() {
        use tower::ServiceExt as _;
        let config = RelayConfig {
            secret_key: SecretKey::new(SECRET),
            request_timeout: Duration::MAX,
            ..RelayConfig::default()
        };
        let router = router_for(config, Arc::new(Panics)).unwrap();
        let token = encode_token(&SecretKey::new(SECRET).unwrap(), "k", None).unwrap();
        let request = axum::http::Request::post("/observe/observables")
            .header("Authorization", format!("Bearer {token}"))
            .body(Body::from(r#"[{"type": "ip", "value": "192.0.2.1"}]"#))
            .unwrap();
        let answer = router.oneshot(request).await.unwrap();
        assert_eq!(answer.status(), 200);
    }

    #[test]
    fn the_openapi_route_is_served_when_configured() {
        let config = RelayConfig {
            openapi: true,
            ..RelayConfig::default()
        };
        assert!(router_for(config, Arc::new(Panics)).is_ok());
    }
}
