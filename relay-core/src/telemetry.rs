//! What the relay tells its operators besides its answers: request ids, metrics, and panics
//! that end one request instead of the process.
//!
//! relay-core records metrics through the [`metrics`](https://docs.rs/metrics) facade and
//! logs through [`tracing`]; it never installs a recorder, a subscriber or a panic hook, and
//! never binds a socket. The adapter does: `relay-server` serves the Prometheus text format
//! on its own listener (`--metrics-listen`), `relay-lambda` writes CloudWatch's embedded
//! metric format to the log after each invocation, and both call [`describe_metrics`] and
//! [`log_panics`] at start.
//!
//! # Metrics
//!
//! | name | type | labels |
//! |---|---|---|
//! | `relay_requests_total` | counter | `route`, `status` (`2xx`, `4xx`, `5xx`, ...) |
//! | `relay_request_duration_seconds` | histogram ([`DURATION_BUCKETS`]) | `route` |
//! | `relay_observables_per_request` | histogram ([`OBSERVABLE_BUCKETS`]) | `route` |
//! | `relay_requests_in_flight` | gauge | |
//! | `relay_metadata_cache_hits_total` | counter | |
//! | `relay_metadata_cache_misses_total` | counter | |
//! | `relay_jwks_fetches_total` | counter | `outcome` (`ok`, `transport`, `status`, `too_large`, `invalid`) |
//! | `relay_upstream_requests_total` | counter | `upstream` (the provider's name for it), `outcome` (`ok`, an [`UpstreamFailure`](crate::UpstreamFailure)'s [`as_str`](crate::UpstreamFailure::as_str), `circuit_open`, `deadline`) |
//! | `relay_upstream_in_flight` | gauge | `upstream` |
//! | `relay_upstream_circuit_open` | gauge (0 or 1) | `upstream` |
//! | `relay_build_info` | gauge, always 1 | `version` (the relay's, [`ProviderInfo::version`](crate::ProviderInfo::version)) |
//! | `signals_client_requests_total` | counter | `endpoint`, `outcome` (the Auth0 Signals provider's own) |
//! | `signals_client_retries_total` | counter | `endpoint` (the Auth0 Signals provider's own) |
//!
//! `route` is the route's path without a trailing slash (`/observe/observables`), or
//! `unmatched` for a path the relay does not serve: never the path a caller sent, so the
//! number of series stays bounded. `relay_observables_per_request` is recorded for the routes
//! that take observables.
//!
//! # Several relays in one process
//!
//! A relay mounted in a suite ([`crate::Suite`]) answers each request, and runs the tasks its
//! requests start, inside its relay's scope ([`current_relay`]): its request span carries a
//! `relay` field, and an adapter's recorder adds the label [`RELAY_LABEL`] with the relay's
//! mount name to every metric recorded there (relay-server's does), so one scrape tells the
//! relays apart. A relay served alone has no scope and records exactly as above.

use std::future::Future;
use std::panic::PanicHookInfo;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::RelayError;
use crate::provider::ProviderInfo;
use crate::stats::ErrorAnswer;

/// The header that carries a request's id, both ways: taken from the caller when it is
/// usable ([`MAX_REQUEST_ID_LEN`] printable ASCII characters at most), otherwise made, and
/// always returned.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest request id taken from a caller.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Counter: requests answered, by `route` and `status` class.
pub const REQUESTS: &str = "relay_requests_total";
/// Histogram: seconds from the request's arrival to its answer, by `route`.
pub const REQUEST_DURATION: &str = "relay_request_duration_seconds";
/// Histogram: observables in a request body (supported or not), by `route`.
pub const OBSERVABLES: &str = "relay_observables_per_request";
/// Gauge: requests being answered now.
pub const IN_FLIGHT: &str = "relay_requests_in_flight";
/// Counter: blocklist metadata answered from the cache.
pub const METADATA_CACHE_HITS: &str = "relay_metadata_cache_hits_total";
/// Counter: blocklist metadata not in the cache (fetched, or joined a fetch in progress).
pub const METADATA_CACHE_MISSES: &str = "relay_metadata_cache_misses_total";
/// Counter: lookups answered from a provider's lookup cache
/// ([`LookupCache`](crate::LookupCache)), or from a lookup in progress, by `upstream`.
pub const LOOKUP_CACHE_HITS: &str = "relay_lookup_cache_hits_total";
/// Counter: lookups a provider's lookup cache did not have (each one upstream call), by
/// `upstream`.
pub const LOOKUP_CACHE_MISSES: &str = "relay_lookup_cache_misses_total";
/// Counter: key set fetches of Cisco XDR key servers, by `outcome`.
pub const JWKS_FETCHES: &str = "relay_jwks_fetches_total";
/// Counter: a provider's calls to its upstream services ([`Upstream`](crate::Upstream)), by
/// `upstream` and `outcome`.
pub const UPSTREAM_REQUESTS: &str = "relay_upstream_requests_total";
/// Gauge: calls to an upstream in flight now, by `upstream`.
pub const UPSTREAM_IN_FLIGHT: &str = "relay_upstream_in_flight";
/// Gauge: 1 while an upstream's circuit is open (calls fail at once), else 0, by `upstream`.
pub const UPSTREAM_CIRCUIT_OPEN: &str = "relay_upstream_circuit_open";
/// Gauge: 1, with the relay's `version` as a label.
pub const BUILD_INFO: &str = "relay_build_info";

/// The label naming the relay (its mount name, e.g. `abuseipdb`) that an adapter serving
/// several relays adds to every metric recorded in a relay's scope ([`current_relay`]).
pub const RELAY_LABEL: &str = "relay";

tokio::task_local! {
    /// The mount name of the relay whose request (or task) is running.
    static RELAY: Arc<str>;
}

/// The mount name of the relay whose request or task is running now, in a suite; `None` for
/// a relay served alone (and outside any request).
///
/// ```
/// use std::sync::Arc;
/// use xdr_relay_core::telemetry::{current_relay, in_relay_sync};
///
/// assert_eq!(current_relay(), None);
/// let inside = in_relay_sync(Arc::from("abuseipdb"), current_relay);
/// assert_eq!(inside.as_deref(), Some("abuseipdb"));
/// ```
#[must_use]
pub fn current_relay() -> Option<Arc<str>> {
    RELAY.try_with(Arc::clone).ok()
}

/// Runs `future` in the scope of the relay `relay` (see [`current_relay`]).
pub async fn in_relay<F: Future>(relay: Arc<str>, future: F) -> F::Output {
    RELAY.scope(relay, future).await
}

/// Runs `work` in the scope of the relay `relay` (see [`current_relay`]): what a suite does
/// while it builds a relay's provider, so what the provider records at start is its relay's.
pub fn in_relay_sync<R>(relay: Arc<str>, work: impl FnOnce() -> R) -> R {
    RELAY.sync_scope(relay, work)
}

/// `tokio::spawn` of `future` in the relay scope of its caller, if any: a task a request
/// starts (a shared lookup, a refresh) records as its relay.
pub(crate) fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match current_relay() {
        Some(relay) => tokio::spawn(RELAY.scope(relay, future)),
        None => tokio::spawn(future),
    }
}

/// Buckets of [`REQUEST_DURATION`], in seconds: a cached answer takes a millisecond or less,
/// an upstream round trip tens to hundreds, a retry up to seconds.
pub const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Buckets of [`OBSERVABLES`].
pub const OBSERVABLE_BUCKETS: &[f64] =
    &[0.0, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0];

/// Describes every metric of the relay (and, with the `signals` feature, of `signals-client`)
/// to the installed recorder, so that an exporter can print help texts and units, and sets
/// [`BUILD_INFO`] for the relay `info` describes.
///
/// Call it once, after installing the recorder; without one it does nothing.
pub fn describe_metrics(info: &ProviderInfo) {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(REQUESTS, "Requests answered, by route and status class.");
    describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "Time from a request's arrival to its answer."
    );
    describe_histogram!(OBSERVABLES, "Observables in a request body.");
    describe_gauge!(IN_FLIGHT, "Requests being answered now.");
    describe_counter!(
        METADATA_CACHE_HITS,
        "Blocklist metadata answered from the cache."
    );
    describe_counter!(
        METADATA_CACHE_MISSES,
        "Blocklist metadata not found in the cache."
    );
    describe_counter!(
        LOOKUP_CACHE_HITS,
        "Lookups answered from a provider's lookup cache (or a lookup in progress), by upstream."
    );
    describe_counter!(
        LOOKUP_CACHE_MISSES,
        "Lookups not in a provider's lookup cache: one upstream call each, by upstream."
    );
    describe_counter!(
        JWKS_FETCHES,
        "Key set fetches from Cisco XDR key servers, by outcome."
    );
    describe_counter!(
        UPSTREAM_REQUESTS,
        "Calls to the provider's upstream services, by upstream and outcome."
    );
    describe_gauge!(UPSTREAM_IN_FLIGHT, "Calls to an upstream in flight now.");
    describe_gauge!(
        UPSTREAM_CIRCUIT_OPEN,
        "1 while an upstream's circuit is open and its calls fail at once."
    );
    describe_gauge!(BUILD_INFO, "Always 1; the relay's version is a label.");
    #[cfg(feature = "signals")]
    {
        describe_counter!(
            signals_client::metric::REQUESTS,
            "Calls to Auth0 Signals, by endpoint and outcome; retries not counted."
        );
        describe_counter!(
            signals_client::metric::RETRIES,
            "Attempts repeated after a transient Auth0 Signals failure."
        );
    }
    metrics::gauge!(BUILD_INFO, "version" => info.version.clone()).set(1.0);
}

/// Replaces the process's panic hook with one that logs a panic as one `ERROR` event
/// (target `relay::panic`) with its source location, inside the span that was current, so a
/// request's panic carries the request's id.
///
/// The panic's message is left out: it may quote a value a request carried, a key or a
/// token among them. The relay's router answers a panicking request with HTTP 500 and the
/// envelope's `unknown` code when the binary unwinds (`panic = "unwind"`, Rust's default).
///
/// The hook is the process's: an adapter (a binary) calls this once at start; a library never
/// should.
pub fn log_panics() {
    std::panic::set_hook(Box::new(log_panic));
}

fn log_panic(info: &PanicHookInfo<'_>) {
    let location = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()));
    tracing::error!(
        target: "relay::panic",
        location = location.as_deref().unwrap_or("unknown"),
        "panicked; the message is not logged, as it may quote a secret"
    );
}

/// The id of a request: the caller's `X-Request-Id` when it is 1 to [`MAX_REQUEST_ID_LEN`]
/// printable ASCII characters without spaces, else a new UUID.
pub(crate) fn request_id(headers: &HeaderMap) -> HeaderValue {
    let given = headers.get(REQUEST_ID_HEADER).filter(|value| {
        let bytes = value.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= MAX_REQUEST_ID_LEN
            && bytes.iter().all(|b| b.is_ascii_graphic())
    });
    match given {
        Some(value) => value.clone(),
        None => {
            let id = uuid::Uuid::new_v4();
            HeaderValue::from_str(&id.to_string())
                .unwrap_or_else(|_| HeaderValue::from_static("invalid"))
        }
    }
}

/// The answer to a request whose handler panicked: the envelope with code `unknown`, HTTP
/// 500.
pub(crate) fn panic_response() -> Response {
    let error = RelayError::Unknown(
        "The relay failed while answering this request; its log has the details under this \
         request's id."
            .to_owned(),
    );
    let mut response = error.into_response();
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.extensions_mut().insert(ErrorAnswer);
    response
}

/// The `status` label: the status class.
pub(crate) fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Keeps [`IN_FLIGHT`] right when a request ends, however it ends (answered, panicked, or
/// dropped by a client that went away).
pub(crate) struct InFlight(());

impl InFlight {
    pub(crate) fn start() -> Self {
        metrics::gauge!(IN_FLIGHT).increment(1.0);
        Self(())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!(IN_FLIGHT).decrement(1.0);
    }
}

/// A recorder that adds the label `relay` ([`RELAY_LABEL`], the mount name) to every metric
/// recorded in a relay's scope ([`current_relay`]): what tells the relays of a suite apart,
/// on any exporter. A relay served alone has no scope: its metrics are unchanged. The
/// adapters wrap their recorder in it (relay-server's Prometheus, relay-lambda's EMF).
///
/// ```
/// use std::sync::Arc;
/// use xdr_relay_core::telemetry::{RelayLabel, in_relay_sync};
///
/// // Any recorder; here one that keeps nothing.
/// let recorder = RelayLabel::new(metrics::NoopRecorder);
/// metrics::with_local_recorder(&recorder, || {
///     in_relay_sync(Arc::from("otx"), || metrics::counter!("relay_requests_total").increment(1));
/// });
/// ```
#[derive(Debug, Clone)]
pub struct RelayLabel<R>(R);

impl<R> RelayLabel<R> {
    /// `recorder`, with the `relay` label added in a relay's scope.
    pub fn new(recorder: R) -> Self {
        Self(recorder)
    }

    fn key(key: &metrics::Key) -> metrics::Key {
        match current_relay() {
            Some(relay) => {
                key.with_extra_labels(vec![metrics::Label::new(RELAY_LABEL, relay.to_string())])
            }
            None => key.clone(),
        }
    }
}

impl<R: metrics::Recorder> metrics::Recorder for RelayLabel<R> {
    fn describe_counter(
        &self,
        key: metrics::KeyName,
        unit: Option<metrics::Unit>,
        description: metrics::SharedString,
    ) {
        self.0.describe_counter(key, unit, description);
    }
    fn describe_gauge(
        &self,
        key: metrics::KeyName,
        unit: Option<metrics::Unit>,
        description: metrics::SharedString,
    ) {
        self.0.describe_gauge(key, unit, description);
    }
    fn describe_histogram(
        &self,
        key: metrics::KeyName,
        unit: Option<metrics::Unit>,
        description: metrics::SharedString,
    ) {
        self.0.describe_histogram(key, unit, description);
    }
    fn register_counter(
        &self,
        key: &metrics::Key,
        metadata: &metrics::Metadata<'_>,
    ) -> metrics::Counter {
        self.0.register_counter(&Self::key(key), metadata)
    }
    fn register_gauge(
        &self,
        key: &metrics::Key,
        metadata: &metrics::Metadata<'_>,
    ) -> metrics::Gauge {
        self.0.register_gauge(&Self::key(key), metadata)
    }
    fn register_histogram(
        &self,
        key: &metrics::Key,
        metadata: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        self.0.register_histogram(&Self::key(key), metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_for(value: &[u8]) -> HeaderValue {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.insert(REQUEST_ID_HEADER, value);
        }
        request_id(&headers)
    }

    #[test]
    fn a_usable_request_id_is_kept_and_any_other_replaced() {
        assert_eq!(id_for(b"abc-123_XYZ:/.~"), "abc-123_XYZ:/.~");
        let longest = "a".repeat(MAX_REQUEST_ID_LEN);
        assert_eq!(id_for(longest.as_bytes()), longest.as_str());
        for bad in [
            "a".repeat(MAX_REQUEST_ID_LEN + 1).into_bytes(),
            b"has space".to_vec(),
            b"tab\there".to_vec(),
            "caf\u{e9}".as_bytes().to_vec(),
            b"".to_vec(),
        ] {
            let made = id_for(&bad);
            assert_ne!(made.as_bytes(), bad.as_slice());
            let text = made.to_str().unwrap_or_default();
            assert!(uuid::Uuid::parse_str(text).is_ok(), "{text:?}");
        }
        // Without the header, each request gets its own.
        assert_ne!(id_for(b"\x01"), id_for(b"\x01"));
    }

    #[test]
    fn describing_the_metrics_without_a_recorder_does_nothing_and_fails_nothing() {
        let info = crate::ProviderInfo::new("Test", "1.2.3", []);
        describe_metrics(&info);
        describe_metrics(&info);
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(StatusCode::OK), "2xx");
        assert_eq!(status_class(StatusCode::NOT_FOUND), "4xx");
        assert_eq!(status_class(StatusCode::INTERNAL_SERVER_ERROR), "5xx");
        assert_eq!(status_class(StatusCode::PERMANENT_REDIRECT), "3xx");
        assert_eq!(status_class(StatusCode::CONTINUE), "1xx");
    }
}
