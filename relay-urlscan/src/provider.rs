//! The urlscan.io relay as a relay-core [`Provider`]: an observe answer in two bounded rounds
//! (the observables' searches at once, then the results of the scans they kept at once, each
//! scan once per request), both through relay-core's [`LookupCache`] per caller (a search for
//! a while, a finished scan's result longer), and the refer links and the response action.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use xdr_relay_core::ctim_model::{ObservableType, ObserveBundle, Verdict};
use xdr_relay_core::{
    BaseUrl, BuildError, CallerDigest, ConfigError, Context, EntityKind, LookupCache, LookupLimits,
    Outcome, ParsedObservable, Provider, ProviderInfo, ReferLink, RelayError, ResponseAction,
    Trigger, TriggerStatus, lookup_all, lookup_distinct,
};

use crate::answer::{ScanResult, Search};
use crate::client::Client;
use crate::mapping::{self, Links, Mapper, Results};
use crate::{KEY, UrlscanConfig, Visibility, metrics as names};

/// How much longer than `URLSCAN_TIMEOUT` a shared call may run before it is given up (the
/// HTTP client gives up first, with its own words).
const SHARED_CALL_GRACE: Duration = Duration::from_millis(500);

/// The relay's provider: urlscan.io's scans of IP and IPv6 addresses, domains and URLs.
///
/// Build it from a [`UrlscanConfig`]; the adapters build it from the settings through
/// [`app`](crate::app).
pub struct Urlscan {
    client: Arc<Client>,
    links: Links,
    searches: LookupCache<String, Arc<Search>>,
    results: LookupCache<String, Arc<ScanResult>>,
    concurrency: usize,
    visibility: Visibility,
}

impl fmt::Debug for Urlscan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Urlscan")
            .field("client", &self.client)
            .field("links", &self.links)
            .field("search_cache", &self.searches)
            .field("result_cache", &self.results)
            .field("concurrency", &self.concurrency)
            .field("visibility", &self.visibility)
            .finish()
    }
}

impl Urlscan {
    /// The provider `config` describes.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the setting when a URL is unusable or a bound is zero, or when
    /// the HTTP client cannot be made.
    pub fn new(config: &UrlscanConfig) -> Result<Self, ConfigError> {
        BuildError::positive([
            ("URLSCAN_TIMEOUT", !config.timeout.is_zero()),
            ("URLSCAN_CONCURRENCY", config.concurrency != 0),
            ("URLSCAN_CACHE_MIB", config.cache_mib != 0),
        ])?;
        let api = BaseUrl::setting(&config.api_url, "URLSCAN_API_URL")?;
        let web = BaseUrl::setting(&config.web_url, "URLSCAN_WEB_URL")?;
        crate::describe_metrics();
        let client = Client::new(&api, config.timeout, config.upstream, config.stop_max)?;
        let limits = |ttl| {
            LookupLimits::new(
                ttl,
                config.cache_mib.saturating_mul(1 << 20),
                config.timeout + SHARED_CALL_GRACE,
            )
        };
        let searches = LookupCache::new(Arc::clone(client.api()), limits(config.search_cache_ttl))
            .metric_names(names::SEARCH_CACHE_HITS, names::SEARCH_CACHE_MISSES);
        let results = LookupCache::new(Arc::clone(client.api()), limits(config.result_cache_ttl))
            .metric_names(names::RESULT_CACHE_HITS, names::RESULT_CACHE_MISSES);
        Ok(Self {
            client: Arc::new(client),
            links: Links::new(web),
            searches,
            results,
            concurrency: config.concurrency,
            visibility: config.visibility,
        })
    }

    /// Each observable's search (none for a type urlscan.io is not searched for), in order:
    /// each distinct query once, at most `concurrency` at once.
    async fn search_all(
        &self,
        context: &Context,
        caller: CallerDigest,
        key: &str,
        observables: &[ParsedObservable],
    ) -> Vec<Result<Option<Arc<Search>>, RelayError>> {
        lookup_distinct(observables, mapping::query, self.concurrency, |o| {
            self.search(context, caller, key, mapping::query(o))
        })
        .await
    }

    /// The scans `query` finds: from the search cache when it answered for this caller within
    /// the TTL (or is answering now), else from one search.
    async fn search(
        &self,
        context: &Context,
        caller: CallerDigest,
        key: &str,
        query: Option<String>,
    ) -> Result<Option<Arc<Search>>, RelayError> {
        let Some(query) = query else {
            return Ok(None);
        };
        let client = Arc::clone(&self.client);
        let (key, asked) = (key.to_owned(), query.clone());
        let search = move |call: Context| async move {
            let found = client.search(&call, caller, &key, &asked).await?;
            Ok(Arc::new(found))
        };
        let found = self.searches.get_or_fetch(context, caller, query, search);
        found.await.map(Some)
    }

    /// The results of the scans `ids` name, each once, at most `concurrency` at once, from
    /// the result cache or one read each.
    ///
    /// urlscan.io counts result reads apart from searches: the reads are made as a caller of
    /// their own ([`reader`]), so that a 429 of the read quota stops the key's next reads, not
    /// its searches (and the reverse).
    async fn results(&self, context: &Context, key: &str, ids: Vec<String>) -> Results {
        let caller = reader(key);
        let read = lookup_all(&ids, self.concurrency, |id| {
            let client = Arc::clone(&self.client);
            let (key, asked) = (key.to_owned(), id.clone());
            let read = move |call: Context| async move {
                let result = client.result(&call, caller, &key, &asked).await?;
                Ok(Arc::new(result))
            };
            self.results.get_or_fetch(context, caller, id.clone(), read)
        });
        ids.iter().cloned().zip(read.await).collect()
    }
}

/// The caller of `key`'s result reads: the digest of the key and the quota's name, apart from
/// the caller of its searches (the digest of the token's credentials).
fn reader(key: &str) -> CallerDigest {
    CallerDigest::of_secret(&format!("urlscan.io result reads\u{0}{key}"))
}

/// What the relay is: urlscan.io's scans of addresses, domains and URLs, with the caller's API
/// key, links to its pages, and a URL submitted for scanning.
#[must_use]
pub fn info() -> ProviderInfo {
    ProviderInfo::new(
        "urlscan.io",
        env!("CARGO_PKG_VERSION"),
        [
            ObservableType::Ip,
            ObservableType::Ipv6,
            ObservableType::Domain,
            ObservableType::Url,
        ],
    )
    .credential(KEY)
    .refers()
    .responds()
    .types_in_any_case()
    // No verdicts: the module type lists health, observe, refer and respond, as Cisco's.
    .returns([
        EntityKind::Judgement,
        EntityKind::Sighting,
        EntityKind::Indicator,
        EntityKind::Relationship,
    ])
    .capability_text(
        "health",
        "Performs a health check against urlscan.io's API.",
    )
    .capability_text("refer", "Pivot on IP, Domain, and URL to urlscan.io UI.")
    .capability_text("respond", "Submit URL to urlscan.io to be scanned.")
    .description(
        "urlscan.io is a service to scan and analyse websites: an automated browser loads a \
         submitted URL and records the domains and IPs contacted, the resources requested and \
         the page itself, and urlscan.io gives the scan a verdict. The relay searches \
         urlscan.io's scans of IP addresses, domains and URLs: a sighting per scan, and for a \
         scan judged malicious a judgement and the indicators of its categories. Links to \
         urlscan.io's pages, and a response action that submits a URL for scanning.",
    )
}

#[xdr_relay_core::async_trait]
impl Provider for Urlscan {
    fn info(&self) -> ProviderInfo {
        info()
    }

    /// One search with the caller's key, Cisco's (`page.ip:"1.1.1.1"`).
    async fn health(&self, context: &Context) -> Result<(), RelayError> {
        let key = context.credentials().require_str(KEY.name.as_ref())?;
        self.client.health(context, key).await
    }

    /// None: urlscan.io gives scans verdicts, not observables (Cisco's relay has no
    /// `deliberate`). No call is made.
    async fn deliberate(
        &self,
        _: &Context,
        _: &[ParsedObservable],
    ) -> Result<Outcome<Vec<Verdict>>, RelayError> {
        Ok(Outcome::new(Vec::new()))
    }

    /// Sightings of each observable's newest `CTR_ENTITIES_LIMIT` scans, and the judgements,
    /// indicators and relationships of the malicious ones: every search at once, then every
    /// kept scan's result at once. A search that fails is that observable's error; a result
    /// that fails is an error beside the sightings, which are still answered.
    async fn observe(
        &self,
        context: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<ObserveBundle>, RelayError> {
        if observables.is_empty() {
            return Ok(Outcome::new(ObserveBundle::default()));
        }
        let key = context.credentials().require_str(KEY.name.as_ref())?;
        let caller = context.credentials().digest();
        let searches = self.search_all(context, caller, key, observables).await;
        let limit = context.entities_limit();
        let kept = |search: &Search| search.hits.len().min(limit);
        // Each scan kept under any observable, once, in the order first met.
        let mut seen = HashSet::new();
        let ids: Vec<String> = searches
            .iter()
            .filter_map(|s| s.as_ref().ok().and_then(Option::as_ref))
            .flat_map(|search| search.hits[..kept(search)].iter())
            .filter_map(|hit| hit.id.clone())
            .filter(|id| seen.insert(id.clone()))
            .collect();
        let results = self.results(context, key, ids).await;
        let mapper = Mapper::new(&self.links);
        let mut outcome = Outcome::gather(
            ObserveBundle::default(),
            searches
                .into_iter()
                .zip(observables)
                .map(|(search, observable)| search.map(|s| (s, observable))),
            |bundle, (search, observable)| {
                if let Some(search) = search {
                    let hits = &search.hits[..kept(&search)];
                    mapper.observe(bundle, observable.observable(), hits, &results);
                }
            },
        );
        // Each failed result once, beside the data (the envelope says each distinct error once).
        let mut failed: Vec<(&String, &RelayError)> = results
            .iter()
            .filter_map(|(id, result)| result.as_ref().err().map(|e| (id, e)))
            .collect();
        failed.sort_by_key(|(id, _)| *id);
        outcome
            .errors
            .extend(failed.into_iter().map(|(_, e)| e.clone()));
        Ok(outcome)
    }

    /// Browse and search links for each observable urlscan.io has scans of (one search each,
    /// from the search cache when it has it; no result is read).
    async fn refer(
        &self,
        context: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<Vec<ReferLink>>, RelayError> {
        if observables.is_empty() {
            return Ok(Outcome::new(Vec::new()));
        }
        let key = context.credentials().require_str(KEY.name.as_ref())?;
        let caller = context.credentials().digest();
        let searches = self.search_all(context, caller, key, observables).await;
        let mapper = Mapper::new(&self.links);
        Ok(Outcome::gather(
            Vec::new(),
            searches
                .into_iter()
                .zip(observables)
                .map(|(search, observable)| search.map(|s| (s, observable))),
            |links, (search, observable)| {
                if search.is_some_and(|s| !s.hits.is_empty()) {
                    links.extend(mapper.refer(observable));
                }
            },
        ))
    }

    /// "Make Scan in urlscan.io" for each URL (no call is made).
    async fn respond_observables(
        &self,
        _: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<Vec<ResponseAction>>, RelayError> {
        let actions = observables.iter().filter_map(mapping::scan_action);
        Ok(Outcome::new(actions.collect()))
    }

    /// Submits the trigger's URL for scanning (`POST scan`, with `URLSCAN_VISIBILITY`):
    /// `success` once urlscan.io accepts it. Only a `url` is submitted (any action id, as
    /// Cisco's relay, which has one action); another type is an `invalid argument`.
    async fn respond_trigger(
        &self,
        context: &Context,
        trigger: &Trigger,
    ) -> Result<TriggerStatus, RelayError> {
        let observable = &trigger.observable;
        let kind = observable.kind.as_str();
        if !kind.eq_ignore_ascii_case(ObservableType::Url.as_str()) {
            return Err(RelayError::InvalidArgument(format!(
                "urlscan.io scans URLs: a {kind} observable is not submitted."
            )));
        }
        let key = context.credentials().require_str(KEY.name.as_ref())?;
        let url: &str = &observable.value;
        match self.client.scan(context, key, url, self.visibility).await {
            Ok(uuid) => {
                metrics::counter!(names::SCANS_SUBMITTED, "outcome" => "submitted").increment(1);
                tracing::info!(
                    scan = uuid.as_deref().unwrap_or("unnamed"),
                    visibility = %self.visibility,
                    "URL submitted to urlscan.io for scanning"
                );
                Ok(TriggerStatus::Success)
            }
            Err(error) => {
                if error.code() == "bad request" {
                    metrics::counter!(names::SCANS_SUBMITTED, "outcome" => "refused").increment(1);
                }
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_bounds_and_bad_urls_are_refused() {
        for (config, setting) in [
            (
                UrlscanConfig {
                    concurrency: 0,
                    ..UrlscanConfig::default()
                },
                "URLSCAN_CONCURRENCY",
            ),
            (
                UrlscanConfig {
                    timeout: Duration::ZERO,
                    ..UrlscanConfig::default()
                },
                "URLSCAN_TIMEOUT",
            ),
            (
                UrlscanConfig {
                    web_url: "urlscan.io".into(),
                    ..UrlscanConfig::default()
                },
                "URLSCAN_WEB_URL",
            ),
        ] {
            let error = Urlscan::new(&config).unwrap_err();
            assert!(error.to_string().contains(setting), "{error}");
        }
        let config = UrlscanConfig {
            search_cache_ttl: Duration::ZERO,
            ..UrlscanConfig::default()
        };
        let provider = Urlscan::new(&config).unwrap();
        let text = format!("{provider:?}");
        assert!(text.contains("entries: None"), "{text}");
        assert!(text.contains("visibility: Public"), "{text}");
    }
}
