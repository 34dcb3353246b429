//! What every request passes through around its handler, as tower layers, outermost first:
//!
//! 1. its id: the caller's `X-Request-Id` when usable, else a new one ([`with_request_id`]),
//!    returned on the answer (tower-http's `PropagateRequestIdLayer`);
//! 2. its span, `request{request_id=…}`, in which every line logged while it is answered
//!    (upstream retries included) is written (tower-http's `TraceLayer`);
//! 3. its accounting ([`account`]): the gauge of requests in flight, the [`RequestStats`] the
//!    handler and the provider count into, then one `relay::request` log line (route, status,
//!    duration, what it cost; never a header, a body or a secret) and the request metrics,
//!    labelled by the matched route;
//! 4. a panic in its handler answered 500 alone (tower-http's `CatchPanicLayer`; the hook
//!    [`log_panics`](crate::telemetry::log_panics) has logged it, in the request's span).

use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::time::Instant;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::PropagateRequestIdLayer;
use tower_http::trace::TraceLayer;
use tracing::field;

use crate::stats::{ErrorAnswer, RequestStats};
use crate::telemetry::{self, InFlight};

/// `router` with the layers every request passes through.
pub(crate) fn around<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    layered(router, None)
}

/// `router` with the layers of [`around`], the whole request answered in the scope of the
/// relay mounted as `relay` ([`telemetry::current_relay`]): its span says `relay`, its
/// metrics (and those of the tasks it starts) are its relay's.
pub(crate) fn around_mount<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    relay: Arc<str>,
) -> Router<S> {
    layered(router, Some(relay))
}

fn layered<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    relay: Option<Arc<str>>,
) -> Router<S> {
    let request_id = HeaderName::from_static(telemetry::REQUEST_ID_HEADER);
    let scope = relay.map(|relay| {
        middleware::from_fn(move |request: Request, next: Next| {
            telemetry::in_relay(Arc::clone(&relay), next.run(request))
        })
    });
    router.layer(
        ServiceBuilder::new()
            .option_layer(scope)
            .layer(middleware::map_request(with_request_id))
            .layer(PropagateRequestIdLayer::new(request_id))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(request_span)
                    // The request's one log line is `account`'s; the layer's own are off.
                    .on_request(())
                    .on_response(())
                    .on_body_chunk(())
                    .on_eos(())
                    .on_failure(()),
            )
            .layer(middleware::from_fn(account))
            .layer(CatchPanicLayer::custom(|_| telemetry::panic_response())),
    )
}

/// The request with a usable id ([`telemetry::request_id`]: the caller's when it is 1 to 128
/// printable ASCII characters, else a new UUID) in its `X-Request-Id`.
async fn with_request_id(mut request: Request) -> Request {
    let id = telemetry::request_id(request.headers());
    request
        .headers_mut()
        .insert(telemetry::REQUEST_ID_HEADER, id);
    request
}

/// The span of a request, named by its id.
fn request_span(request: &Request) -> tracing::Span {
    let span = tracing::info_span!("request", request_id = field::Empty, relay = field::Empty);
    let id = request.headers().get(telemetry::REQUEST_ID_HEADER);
    if let Some(id) = id.and_then(|id| id.to_str().ok()) {
        span.record("request_id", id);
    }
    if let Some(relay) = telemetry::current_relay() {
        span.record("relay", &*relay);
    }
    span
}

/// The request's accounting: in flight while it runs, its [`RequestStats`] for the handler,
/// then its log line and metrics.
async fn account(mut request: Request, next: Next) -> Response {
    let _in_flight = InFlight::start();
    let stats = Arc::new(RequestStats::default());
    request.extensions_mut().insert(Arc::clone(&stats));
    let route = mount_relative(
        route_label(request.extensions().get::<MatchedPath>()),
        telemetry::current_relay().as_deref(),
    );
    let method = request.method().clone();
    let path = truncate(request.uri().path(), 64).to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status: StatusCode = response.status();
    // A handler that answered records its errors; an answer of one error made before any
    // handler knew more (a bad token, an unknown route, a panic) says so itself.
    let errors = stats
        .errors()
        .unwrap_or_else(|| u32::from(response.extensions().get::<ErrorAnswer>().is_some()));
    tracing::info!(
        target: "relay::request",
        %method,
        path = %path,
        status = status.as_u16(),
        // Milliseconds to two decimals: readable, and enough for a request log.
        duration_ms = (elapsed.as_secs_f64() * 100_000.0).round() / 100.0,
        observables = stats.observables(),
        upstream_calls = stats.upstream_calls(),
        cache_hits = stats.cache_hits(),
        errors,
        "request"
    );
    let class = telemetry::status_class(status);
    metrics::counter!(telemetry::REQUESTS, "route" => route.clone(), "status" => class)
        .increment(1);
    metrics::histogram!(telemetry::REQUEST_DURATION, "route" => route.clone()).record(elapsed);
    if route.ends_with("/observables") {
        #[allow(clippy::cast_precision_loss)] // a count below the body limit
        let observables = stats.observables() as f64;
        metrics::histogram!(telemetry::OBSERVABLES, "route" => route).record(observables);
    }
    response
}

/// The `route` label: the matched route's template without its trailing slash (one of the
/// relay's routes, so the series stay bounded), or `unmatched`: never the path a caller sent.
fn route_label(matched: Option<&MatchedPath>) -> String {
    match matched.map(MatchedPath::as_str) {
        Some(path) => path.strip_suffix('/').unwrap_or(path).to_owned(),
        None => "unmatched".to_owned(),
    }
}

/// The `route` label of a mounted relay's request: its route as the relay alone names it
/// (`/observe/observables`, not `/abuseipdb/observe/observables`); the `relay` label says
/// which relay.
fn mount_relative(route: String, relay: Option<&str>) -> String {
    let Some(relay) = relay else {
        return route;
    };
    match route
        .strip_prefix('/')
        .and_then(|rest| rest.strip_prefix(relay))
    {
        Some(rest) if rest.starts_with('/') => rest.to_owned(),
        Some("") => "/".to_owned(),
        _ => route,
    }
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
    use super::*;

    #[test]
    fn paths_are_cut_on_a_character_boundary() {
        assert_eq!(truncate("/observe/observables", 64), "/observe/observables");
        assert_eq!(truncate("/ééé", 2), "/é");
        assert_eq!(route_label(None), "unmatched");
        let route = || "/abuseipdb/observe/observables".to_owned();
        assert_eq!(
            mount_relative(route(), Some("abuseipdb")),
            "/observe/observables"
        );
        assert_eq!(mount_relative(route(), None), route());
        assert_eq!(mount_relative(route(), Some("abuse")), route());
        assert_eq!(mount_relative("unmatched".into(), Some("otx")), "unmatched");
    }
}
