//! The Auth0 Signals provider: the relay this project started as, one [`Provider`] among
//! others, behind the `signals` cargo feature. It asks the Signals API about every IP
//! ([`enrich`]), maps the reports to CTIM ([`mapping`]) and links to Signals' report pages
//! ([`refer`]). Its settings ([`SignalsConfig`]) are its own: the shared half of the crate
//! never reads them.

mod enrich;
pub(crate) mod mapping;
mod refer;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use ctim_model::{ObservableType, ObserveBundle, Verdict};
use serde_json::Value;
use signals_client::ApiKey;

use crate::app::App;
use crate::config::RelayConfig;
use crate::credentials::{CredentialField, CredentialKind};
use crate::error::{AuthFailure, ConfigError, RelayError};
use crate::provider::{Context, Outcome, Provider, ProviderInfo, ReferLink};
use crate::request::{Observable, ParsedObservable};
use crate::settings::{EnvVar, Settings};
use crate::upstream::UpstreamLimits;

use enrich::Enricher;

/// The Auth0 Signals API the relay calls unless configured otherwise.
pub const DEFAULT_SIGNALS_API_URL: &str = signals_client::DEFAULT_BASE_URL;

/// The token payload fields the Signals provider reads: the caller's API key.
pub(crate) const CREDENTIALS: [CredentialField; 1] =
    [
        CredentialField::required("key", CredentialKind::ApiKey, "the Auth0 Signals API key")
            .label("Auth0 Signals API Key"),
    ];

/// What the Signals provider is: `ip` observables, an API key, refer links.
#[must_use]
pub fn signals_info() -> ProviderInfo {
    let mut info = ProviderInfo::new("Auth0 Signals", crate::VERSION, [ObservableType::Ip])
        .refers()
        .description(
            "Looks IP addresses up in Auth0 Signals and answers verdicts, judgements, \
             sightings and indicators for the blocklists that list them.",
        );
    info.credentials = CREDENTIALS.to_vec();
    info
}

/// The Auth0 Signals API's base URL.
pub const SIGNALS_API_URL: EnvVar = EnvVar::new(
    "SIGNALS_API_URL",
    "signals-api-url",
    "URL",
    "Base URL of the Auth0 Signals API. Default https://signals.api.auth0.com/.",
);

/// The Signals provider's own settings: how it reaches Auth0 Signals, how many calls a request
/// may have in flight, and its blocklist metadata cache.
///
/// ```
/// let mut signals = xdr_relay_core::SignalsConfig::default();
/// signals.client.base_url = "http://127.0.0.1:9999/".into();
/// let provider = xdr_relay_core::Auth0Signals::new(&signals).unwrap();
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SignalsConfig {
    /// How the provider reaches Auth0 Signals (base URL, timeouts, retries).
    pub client: signals_client::ClientConfig,
    /// Most upstream calls in flight for one request. Default 50: a typical Threat Response
    /// investigation (up to 50 IPs) then costs two upstream round trips (reports, then list
    /// metadata); the observable limit bounds the rest.
    pub upstream_concurrency: usize,
    /// Most blocklist metadata entries kept across requests. Default 10 000.
    pub metadata_cache_capacity: u64,
    /// How long a blocklist's metadata is reused. Default one hour.
    pub metadata_cache_ttl: Duration,
    /// The cap on calls to Signals in flight and the circuit breaker
    /// (`RELAY_UPSTREAM_MAX_IN_FLIGHT`, `RELAY_UPSTREAM_BREAKER_FAILURES`,
    /// `RELAY_UPSTREAM_BREAKER_COOL_DOWN`).
    pub upstream: UpstreamLimits,
}

impl Default for SignalsConfig {
    fn default() -> Self {
        Self {
            client: signals_client::ClientConfig::default(),
            upstream_concurrency: 50,
            metadata_cache_capacity: 10_000,
            metadata_cache_ttl: Duration::from_secs(3600),
            upstream: UpstreamLimits::default(),
        }
    }
}

impl SignalsConfig {
    /// The variables [`from_settings`](Self::from_settings) reads.
    pub const ENV_VARS: &'static [EnvVar] = &[
        SIGNALS_API_URL,
        crate::upstream::UPSTREAM_MAX_IN_FLIGHT,
        crate::upstream::UPSTREAM_BREAKER_FAILURES,
        crate::upstream::UPSTREAM_BREAKER_COOL_DOWN,
    ];

    /// The configuration described by `SIGNALS_API_URL` (an `http(s)://` URL; default the
    /// public API's) and the [`UpstreamLimits`] variables, the rest defaults.
    ///
    /// # Errors
    ///
    /// [`EnvError`](crate::EnvError) naming `SIGNALS_API_URL` when it is not a URL.
    pub fn from_settings(settings: &Settings<'_>) -> Result<Self, crate::EnvError> {
        let mut config = Self::default();
        if let Some(url) = settings.url(&SIGNALS_API_URL)? {
            config.client.base_url = url;
        }
        config.upstream = UpstreamLimits::from_settings(settings)?;
        Ok(config)
    }
}

/// The Auth0 Signals provider, which [`router`](crate::router) serves.
///
/// For `ip` observables (IPv4 and IPv6) it answers verdicts from Signals' full IP score,
/// judgements for the parts of the report that are on blocklists, a sighting, an indicator
/// and their `member-of` relationship per blocklist, and links to Signals' report pages. The
/// token carries the caller's API key as `key`.
///
/// ```
/// use std::sync::Arc;
/// let signals = xdr_relay_core::Auth0Signals::new(&xdr_relay_core::SignalsConfig::default()).unwrap();
/// let app = xdr_relay_core::router_for(xdr_relay_core::RelayConfig::default(), Arc::new(signals)).unwrap();
/// ```
#[derive(Debug)]
pub struct Auth0Signals {
    enricher: Enricher,
}

impl Auth0Signals {
    /// The provider, with the Signals client, the metadata cache and the concurrency of
    /// `config`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the Signals client cannot be built (an unparsable base URL).
    pub fn new(config: &SignalsConfig) -> Result<Self, ConfigError> {
        // Exported from the start, at zero: series that come and go confuse Prometheus.
        metrics::counter!(crate::telemetry::METADATA_CACHE_HITS).increment(0);
        metrics::counter!(crate::telemetry::METADATA_CACHE_MISSES).increment(0);
        Ok(Self {
            enricher: Enricher::new(config)?,
        })
    }

    /// The Auth0 Signals relay as the adapters ship it (`relay-server`, `relay-lambda`): its
    /// info, its setting `SIGNALS_API_URL`, and the catalog's module type ids.
    #[must_use]
    pub fn app() -> App<Self> {
        App::new(signals_info(), |settings| {
            Self::new(&SignalsConfig::from_settings(settings)?)
        })
        .settings(SignalsConfig::ENV_VARS.iter().copied())
        .catalog_module("us", "c6311f9b-33a6-4935-9c31-24b9b755e5cc")
        .catalog_module("eu", "9be60d7a-92bf-476c-92cc-e9144650745a")
        .catalog_module("apjc", "f73afdc1-c3b2-4c2c-a12a-c76093b79c19")
    }
}

/// Builds the Auth0 Signals relay's router with the default [`SignalsConfig`] (the public
/// API's URL): [`router_for`](crate::router_for) with [`Auth0Signals`]. To point it elsewhere,
/// build the provider with [`Auth0Signals::new`].
///
/// Fails only when the configuration cannot work (for example a JWKS mode without an
/// audience or with an unusable allow-list); a missing `SECRET_KEY` is not an error here,
/// see [`RelayConfig::secret_key`].
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
///
/// # Errors
///
/// [`ConfigError`] as [`router_for`](crate::router_for).
pub fn router(config: RelayConfig) -> Result<Router, ConfigError> {
    let signals = Auth0Signals::new(&SignalsConfig::default())?;
    crate::routes::router_for(config, Arc::new(signals))
}

/// The OpenAPI 3.1 document of the Auth0 Signals relay, the one checked in as `openapi.json`.
#[must_use]
pub fn openapi() -> Value {
    crate::openapi::openapi_for(&signals_info())
}

/// An `ip` observable as the Auth0 Signals provider looks it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IpObservable {
    /// The request's own observable, echoed in the answer unchanged.
    pub(crate) observable: Observable,
    /// The parsed address: the only thing ever sent upstream.
    pub(crate) ip: IpAddr,
}

impl IpObservable {
    /// The `ip` view of `o`, when it has an address.
    pub(crate) fn from_parsed(o: &ParsedObservable) -> Option<Self> {
        Some(Self {
            observable: Observable {
                kind: o.kind().as_str().to_owned(),
                value: o.value().to_owned(),
            },
            ip: o.ip()?,
        })
    }
}

/// The caller's API key. relay-core has checked it is a usable key, so the failure is only a
/// safety net.
fn api_key(context: &Context) -> Result<ApiKey, RelayError> {
    let key = context.credentials().require_str("key")?;
    ApiKey::new(key).map_err(|_| AuthFailure::WrongPayload.into())
}

/// The observables as Signals looks them up: `ip` with its address.
fn ips(observables: &[ParsedObservable]) -> Vec<IpObservable> {
    observables
        .iter()
        .filter_map(IpObservable::from_parsed)
        .collect()
}

#[async_trait]
impl Provider for Auth0Signals {
    fn info(&self) -> ProviderInfo {
        signals_info()
    }

    /// One real call to Signals proves the key works.
    async fn health(&self, context: &Context) -> Result<(), RelayError> {
        let key = api_key(context)?;
        self.enricher.check_key(context, &key).await
    }

    async fn deliberate(
        &self,
        context: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<Vec<Verdict>>, RelayError> {
        let key = api_key(context)?;
        Ok(self
            .enricher
            .deliberate(context, &key, &ips(observables))
            .await)
    }

    async fn observe(
        &self,
        context: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<ObserveBundle>, RelayError> {
        let key = api_key(context)?;
        Ok(self
            .enricher
            .observe(context, &key, &ips(observables))
            .await)
    }

    async fn refer(
        &self,
        _: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<Vec<ReferLink>>, RelayError> {
        let links = ips(observables).iter().map(refer::link).collect();
        Ok(Outcome::new(links))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(value: Option<&'static str>) -> Result<SignalsConfig, crate::EnvError> {
        SignalsConfig::from_settings(&Settings::new(move |name| {
            (name == "SIGNALS_API_URL")
                .then(|| value.map(str::to_owned))
                .flatten()
        }))
    }

    #[test]
    fn signals_api_url_is_trimmed_and_checked_and_empty_keeps_the_default() {
        let url = |value| from(value).map(|c| c.client.base_url);
        assert_eq!(url(None).unwrap(), DEFAULT_SIGNALS_API_URL);
        assert_eq!(url(Some("")).unwrap(), DEFAULT_SIGNALS_API_URL);
        assert_eq!(
            url(Some(" http://127.0.0.1:1/ ")).unwrap(),
            "http://127.0.0.1:1/"
        );
        assert_eq!(
            url(Some("HTTPS://signals.example/")).unwrap(),
            "HTTPS://signals.example/"
        );
        let error = url(Some("signals.api.auth0.com")).unwrap_err();
        assert_eq!(error.name(), "SIGNALS_API_URL");
        // An unusable URL is refused when the provider is built, naming the variable's value.
        let app = Auth0Signals::app();
        let bad =
            Settings::new(|name| (name == "SIGNALS_API_URL").then(|| "http://[::1".to_owned()));
        assert!(app.build(&bad).is_err());
    }
}
