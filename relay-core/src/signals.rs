//! The Auth0 Signals provider: the relay this project started as, one [`Provider`] among
//! others. It asks the Signals API about every IP ([`crate::enrich`]), maps the reports to CTIM
//! ([`crate::mapping`]) and links to Signals' report pages ([`crate::refer`]).

use async_trait::async_trait;
use ctim_model::{ObservableType, ObserveBundle, Verdict};
use signals_client::ApiKey;

use crate::config::RelayConfig;
use crate::credentials::{CredentialField, CredentialKind};
use crate::enrich::{Enricher, Gathered};
use crate::error::{AuthFailure, ConfigError, RelayError};
use crate::provider::{Context, Outcome, Provider, ProviderInfo, ReferLink};
use crate::refer;
use crate::request::{IpObservable, ParsedObservable};

/// The token payload fields the Signals provider reads: the caller's API key.
pub(crate) const CREDENTIALS: [CredentialField; 1] = [CredentialField::required(
    "key",
    CredentialKind::ApiKey,
    "the Auth0 Signals API key",
)];

/// What the Signals provider is: `ip` observables, an API key.
pub(crate) fn info() -> ProviderInfo {
    let mut info = ProviderInfo::new("Auth0 Signals", [ObservableType::Ip]);
    info.credentials = CREDENTIALS.to_vec();
    info
}

/// The Auth0 Signals provider, which [`router`](crate::router) serves.
///
/// For `ip` observables (IPv4 and IPv6) it answers verdicts from Signals' full IP score,
/// judgements for the parts of the report that are on blocklists, a sighting, an indicator
/// and their `member-of` relationship per blocklist, and links to Signals' report pages. The
/// token carries the caller's API key as `key`. Build it to wrap or compose it; to serve it
/// alone, [`router`](crate::router) is the shorter way.
///
/// ```
/// use std::sync::Arc;
/// let config = xdr_relay_core::RelayConfig::default();
/// let signals = xdr_relay_core::Auth0Signals::new(&config).unwrap();
/// let app = xdr_relay_core::router_for(config, Arc::new(signals)).unwrap();
/// ```
#[derive(Debug)]
pub struct Auth0Signals {
    enricher: Enricher,
}

impl Auth0Signals {
    /// The provider, with the Signals client, the metadata cache and the concurrency of
    /// `config` ([`signals`](RelayConfig::signals),
    /// [`metadata_cache_capacity`](RelayConfig::metadata_cache_capacity),
    /// [`metadata_cache_ttl`](RelayConfig::metadata_cache_ttl),
    /// [`upstream_concurrency`](RelayConfig::upstream_concurrency)).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the Signals client cannot be built (an unparsable base URL).
    pub fn new(config: &RelayConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            enricher: Enricher::new(config)?,
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

/// `gathered` as an outcome, its cost recorded for the request's log line.
fn outcome<T>(context: &Context, gathered: Gathered<T>) -> Outcome<T> {
    context.record_upstream_calls(gathered.stats.upstream_calls);
    context.record_cache_hits(gathered.stats.cache_hits);
    Outcome::with_errors(gathered.data, gathered.errors)
}

#[async_trait]
impl Provider for Auth0Signals {
    fn info(&self) -> ProviderInfo {
        info()
    }

    /// One real call to Signals proves the key works.
    async fn health(&self, context: &Context) -> Result<(), RelayError> {
        let key = api_key(context)?;
        let checked = outcome(context, self.enricher.check_key(&key).await);
        match checked.errors.into_iter().next() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    async fn deliberate(
        &self,
        context: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<Vec<Verdict>>, RelayError> {
        let key = api_key(context)?;
        let gathered = self.enricher.deliberate(&key, &ips(observables)).await;
        Ok(outcome(context, gathered))
    }

    async fn observe(
        &self,
        context: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<ObserveBundle>, RelayError> {
        let key = api_key(context)?;
        let limit = context.entities_limit();
        let gathered = self.enricher.observe(&key, &ips(observables), limit).await;
        Ok(outcome(context, gathered))
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
