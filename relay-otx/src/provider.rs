//! The OTX relay as a relay-core [`Provider`]: each distinct observable looked up once
//! (concurrently, bounded), its pulses searched concurrently (bounded), both OTX answers (an
//! observable's pulses, its entry in each pulse) cached per caller in relay-core's
//! [`LookupCache`]s, and the answers of each route.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use xdr_relay_core::ctim_model::{ObserveBundle, Verdict};
use xdr_relay_core::{
    BaseUrl, BuildError, CallerDigest, Context, EntityKind, LookupCache, LookupLimits, Outcome,
    ParsedObservable, Provider, ProviderInfo, ReferLink, RelayError, Weigh, lookup_all,
    lookup_distinct,
};

use crate::answer::{Entry, General};
use crate::client::{self, Client, Search};
use crate::kind::{self, Kind, Query};
use crate::mapping::{self, Links};
use crate::{KEY, OtxConfig, metrics as names};

/// How much longer than `OTX_TIMEOUT` a shared `general` call may run before it is given up
/// (the HTTP client gives up first, with its own words).
const SHARED_CALL_GRACE: Duration = Duration::from_millis(500);

/// What OTX says of one observable: the pulses that can hold it, the entries found in them
/// (by the pulse's index), and the pulses whose search failed.
#[derive(Debug, Clone, Default)]
struct Lookup {
    general: Option<Arc<General>>,
    found: Vec<(usize, Entry)>,
    errors: Vec<RelayError>,
}

impl Weigh for Search {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

/// The relay's provider: AlienVault OTX's pulses for addresses, domains, URLs and file
/// hashes, and links to OTX's pages.
///
/// Build it from an [`OtxConfig`]; the adapters build it from the settings through
/// [`app`](crate::app).
pub struct Otx {
    client: Arc<Client>,
    links: Links,
    generals: LookupCache<Query, Arc<General>>,
    searches: LookupCache<(Query, String), Search>,
    concurrency: usize,
    pulse_concurrency: usize,
    max_pulses: usize,
}

impl fmt::Debug for Otx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Otx")
            .field("client", &self.client)
            .field("links", &self.links)
            .field("generals", &self.generals)
            .field("searches", &self.searches)
            .field("concurrency", &self.concurrency)
            .field("pulse_concurrency", &self.pulse_concurrency)
            .field("max_pulses", &self.max_pulses)
            .finish()
    }
}

impl Otx {
    /// The provider `config` describes.
    ///
    /// # Errors
    ///
    /// [`BuildError`] when a URL is unusable, a bound is zero, or the HTTP client cannot be
    /// made.
    pub fn new(config: &OtxConfig) -> Result<Self, BuildError> {
        BuildError::positive([
            ("OTX_TIMEOUT", !config.timeout.is_zero()),
            ("OTX_CONCURRENCY", config.concurrency > 0),
            ("OTX_PULSE_CONCURRENCY", config.pulse_concurrency > 0),
            ("OTX_MAX_PULSES", config.max_pulses > 0),
            ("OTX_MAX_PAGES", config.max_pages > 0),
            ("OTX_PULSE_TIMEOUT", !config.pulse_timeout.is_zero()),
            ("OTX_CACHE_MIB", config.cache_mib > 0),
        ])?;
        let api = BaseUrl::setting(&config.api_url, "OTX_API_URL")?;
        let web = BaseUrl::setting(&config.web_url, "OTX_WEB_URL")?;
        crate::describe_metrics();
        let client = Client::new(
            api,
            config.timeout,
            config.upstream,
            config.stop_max,
            config.max_pages,
        )?;
        // Half the memory each: the pulses of the observables, and their entries.
        let bytes = config.cache_mib.saturating_mul(1 << 20) / 2;
        let generals = cache(&client, config, bytes, config.timeout + SHARED_CALL_GRACE);
        let searches = cache(&client, config, bytes, config.pulse_timeout);
        Ok(Self {
            client: Arc::new(client),
            links: Links::new(web),
            generals,
            searches,
            concurrency: config.concurrency,
            pulse_concurrency: config.pulse_concurrency,
            max_pulses: config.max_pulses,
        })
    }

    /// The caller's key as a header, and who the caller is.
    fn caller(context: &Context) -> Result<(HeaderValue, CallerDigest), RelayError> {
        let key = context.credentials().require_str(KEY.name.as_ref())?;
        Ok((client::key_header(key)?, context.credentials().digest()))
    }

    /// What OTX says of `query` (none: nothing to look up): its pulses (cached, or one
    /// `general` call), then its entry in each pulse, at most `pulse_concurrency` pulses
    /// searched at once, each cached or searched in a call of its own.
    async fn lookup(
        &self,
        context: &Context,
        caller: CallerDigest,
        key: &HeaderValue,
        query: Option<Query>,
    ) -> Result<Lookup, RelayError> {
        let Some(query) = query else {
            return Ok(Lookup::default());
        };
        let general = {
            let (client, key, asked) = (Arc::clone(&self.client), key.clone(), query.clone());
            let max_pulses = self.max_pulses;
            let fetch = move |call: Context| async move {
                let general = client.general(&call, caller, &key, &asked, max_pulses);
                general.await.map(Arc::new)
            };
            self.generals
                .get_or_fetch(context, caller, query.clone(), fetch)
                .await?
        };
        let searches = lookup_all(&general.pulses, self.pulse_concurrency, |pulse| {
            let (client, key, query) = (Arc::clone(&self.client), key.clone(), query.clone());
            let id = pulse.id.clone();
            let search = self.searches.get_or_fetch(
                context,
                caller,
                (query.clone(), id.clone()),
                move |call: Context| async move {
                    client.search(&call, caller, &key, &id, &query).await
                },
            );
            async move { (search.await, pulse) }
        })
        .await;
        let mut lookup = Lookup::default();
        for (index, (search, pulse)) in searches.into_iter().enumerate() {
            match search {
                Ok(Search::Found(entry)) => lookup.found.push((index, entry)),
                Ok(Search::Absent) => {}
                Ok(Search::Bounded) => {
                    metrics::counter!(names::PAGING_BOUND_REACHED).increment(1);
                    tracing::debug!(
                        pulse = %pulse.id,
                        "an OTX pulse was left out: its first OTX_MAX_PAGES indicator pages do \
                         not name the observable"
                    );
                }
                Err(error) => lookup.errors.push(error),
            }
        }
        lookup.general = Some(general);
        Ok(lookup)
    }
}

/// A lookup cache of `client`'s upstream within `config`'s TTL and `bytes`, each call given
/// up after `call_timeout`, counted under the relay's metric names.
fn cache<Q, V>(
    client: &Client,
    config: &OtxConfig,
    bytes: u64,
    call_timeout: Duration,
) -> LookupCache<Q, V>
where
    Q: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Weigh + Clone + Send + Sync + 'static,
{
    let limits = LookupLimits::new(config.cache_ttl, bytes, call_timeout);
    LookupCache::new(Arc::clone(client.upstream()), limits)
        .metric_names(names::LOOKUP_CACHE_HITS, names::LOOKUP_CACHE_MISSES)
}

/// What the relay is: OTX's pulses for addresses, domains, URLs and file hashes, with the
/// caller's API key, and links to OTX's pages (email addresses too).
#[must_use]
pub fn info() -> ProviderInfo {
    ProviderInfo::new("AlienVault OTX", env!("CARGO_PKG_VERSION"), kind::TYPES)
        .credential(KEY)
        .refers()
        .types_in_any_case()
        .invalid_payload_code("invalid payload received")
        .returns([
            EntityKind::Sighting,
            EntityKind::Indicator,
            EntityKind::Relationship,
        ])
        // Cisco's module type's words.
        .capability_text("health", "Check the health of the AlienVault OTX API")
        .capability_text(
            "observe",
            "Query AlienVault OTX for IP, IPv6, Domain, URL, MD5, SHA1, and SHA256 return \
             Sighting, Indicator and Relationship",
        )
        .capability_text(
            "refer",
            "Pivot on IP, IPv6, Domain, URL, Email, MD5, SHA1, and SHA256 to AlienVault OTX UI",
        )
        .description(
            "Looks IP and IPv6 addresses, domains, URLs and MD5, SHA1 and SHA256 hashes up in \
             AlienVault Open Threat Exchange: for each community pulse that lists the \
             observable, a sighting, the pulse's indicator and the relationship between them. \
             Links to each observable's OTX page.",
        )
}

#[xdr_relay_core::async_trait]
impl Provider for Otx {
    fn info(&self) -> ProviderInfo {
        info()
    }

    /// One `user/me` with the caller's key.
    async fn health(&self, context: &Context) -> Result<(), RelayError> {
        let (key, _) = Self::caller(context)?;
        self.client.health(context, &key).await
    }

    /// None: OTX gives no verdicts (no call is made).
    async fn deliberate(
        &self,
        _: &Context,
        _: &[ParsedObservable],
    ) -> Result<Outcome<Vec<Verdict>>, RelayError> {
        Ok(Outcome::new(Vec::new()))
    }

    /// For the newest `CTR_ENTITIES_LIMIT` pulses of each observable, a sighting, an indicator
    /// and their relationship; one pulse's or one observable's failure answered beside the
    /// others' entities.
    async fn observe(
        &self,
        context: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<ObserveBundle>, RelayError> {
        let lookups: Vec<Option<Query>> = observables.iter().map(Query::of).collect();
        if lookups.iter().all(Option::is_none) {
            return Ok(Outcome::new(ObserveBundle::default()));
        }
        let (key, caller) = Self::caller(context)?;
        let indexed: Vec<(usize, &ParsedObservable)> = observables.iter().enumerate().collect();
        let answers = lookup_distinct(
            &indexed,
            |(i, _)| lookups[*i].clone(),
            self.concurrency,
            |(i, _)| self.lookup(context, caller, &key, lookups[*i].clone()),
        )
        .await;
        let mut outcome = Outcome::new(ObserveBundle::default());
        let limit = context.entities_limit();
        for (answer, observable) in answers.into_iter().zip(observables) {
            match answer {
                Ok(lookup) => {
                    if let Some(general) = &lookup.general {
                        let found = lookup
                            .found
                            .iter()
                            .filter_map(|&(i, entry)| Some((general.pulses.get(i)?, entry)))
                            .collect();
                        let observable = observable.observable();
                        mapping::observe(&mut outcome.data, &self.links, observable, found, limit);
                    }
                    outcome.errors.extend(lookup.errors);
                }
                Err(error) => outcome.errors.push(error),
            }
        }
        Ok(outcome)
    }

    /// A link to each observable's OTX page (no call to OTX).
    async fn refer(
        &self,
        _: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<Vec<ReferLink>>, RelayError> {
        let links = observables
            .iter()
            .filter_map(|o| {
                let kind = Kind::of(o.kind())?;
                Some(self.links.refer(kind, o.observable()))
            })
            .collect();
        Ok(Outcome::new(links))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_bounds_are_refused() {
        for (config, setting) in [
            (
                OtxConfig {
                    max_pages: 0,
                    ..OtxConfig::default()
                },
                "OTX_MAX_PAGES",
            ),
            (
                OtxConfig {
                    pulse_concurrency: 0,
                    ..OtxConfig::default()
                },
                "OTX_PULSE_CONCURRENCY",
            ),
        ] {
            assert_eq!(Otx::new(&config).unwrap_err(), BuildError::Zero { setting });
        }
        let config = OtxConfig {
            web_url: "otx.example".into(),
            ..OtxConfig::default()
        };
        assert!(matches!(
            Otx::new(&config).unwrap_err(),
            BuildError::Url {
                setting: "OTX_WEB_URL",
                ..
            }
        ));
    }
}
