//! The AbuseIPDB relay as a relay-core [`Provider`]: the lookups (concurrent, bounded, cached
//! per API key and address), the categories (cached for every request), and the answers of
//! each route.

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use sha2::{Digest as _, Sha256};
use xdr_relay_core::ctim_model::{ObservableType, ObserveBundle, Verdict};
use xdr_relay_core::{
    Context, Outcome, ParsedObservable, Provider, ProviderInfo, ReferLink, RelayError, lookup_all,
};

use crate::answer::CheckData;
use crate::categories::CategoryTable;
use crate::client::Client;
use crate::error::BuildError;
use crate::mapping::{self, Links, Mapper};
use crate::{AbuseIpdbConfig, KEY, metrics as names};

/// How long the built-in categories stand in for a categories page that could not be read
/// before the page is asked for again (or the categories TTL, when shorter).
const CATEGORIES_RETRY: Duration = Duration::from_secs(300);

/// What a lookup found: AbuseIPDB's answer, or `None` when it could not process the address.
type Lookup = Option<Arc<CheckData>>;

/// The relay's provider: AbuseIPDB's `check` for IP and IPv6 addresses.
///
/// Build it from an [`AbuseIpdbConfig`]; the adapters build it from the settings through
/// [`app`](crate::app).
pub struct AbuseIpdb {
    client: Client,
    links: Links,
    categories: CategoryCache,
    lookups: Option<Cache<LookupKey, Lookup>>,
    concurrency: usize,
}

impl fmt::Debug for AbuseIpdb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbuseIpdb")
            .field("client", &self.client)
            .field("links", &self.links)
            .field(
                "lookup_cache",
                &self.lookups.as_ref().map(Cache::entry_count),
            )
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl AbuseIpdb {
    /// The provider `config` describes.
    ///
    /// # Errors
    ///
    /// [`BuildError`] when a URL is unusable, a bound is zero, or the HTTP client cannot be
    /// made.
    pub fn new(config: &AbuseIpdbConfig) -> Result<Self, BuildError> {
        for (setting, zero) in [
            ("ABUSEIPDB_TIMEOUT", config.timeout.is_zero()),
            ("ABUSEIPDB_CONCURRENCY", config.concurrency == 0),
            ("ABUSEIPDB_CATEGORIES_TTL", config.categories_ttl.is_zero()),
            ("ABUSEIPDB_CACHE_MIB", config.cache_mib == 0),
        ] {
            if zero {
                return Err(BuildError::Zero { setting });
            }
        }
        crate::describe_metrics();
        let lookups = (!config.cache_ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(config.cache_mib.saturating_mul(1024))
                .weigher(|_: &LookupKey, lookup: &Lookup| {
                    lookup.as_ref().map_or(1, |data| data.weight_kib().max(1))
                })
                .time_to_live(config.cache_ttl)
                .build()
        });
        Ok(Self {
            client: Client::new(
                &config.api_url,
                &config.web_url,
                config.timeout,
                config.upstream,
            )?,
            links: Links::new(&config.web_url),
            categories: CategoryCache::new(config.categories_ttl),
            lookups,
            concurrency: config.concurrency,
        })
    }

    /// What AbuseIPDB says of each of `observables`, in order, at most `concurrency` asked at
    /// once; the first rate limit met stops the lookups not yet started (each answers it).
    async fn check_all(
        &self,
        context: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Vec<Result<Lookup, RelayError>>, RelayError> {
        let key = context.credentials().require_str(KEY.name.as_ref())?;
        let digest = KeyDigest::of(key);
        let stop = OnceLock::new();
        let lookups = lookup_all(observables, self.concurrency, |o| {
            self.lookup(context, key, digest, o, &stop)
        });
        Ok(lookups.await)
    }

    /// What AbuseIPDB says of `observable`: from the cache when it answered for this key and
    /// address within the TTL (or is answering now), else from one `check`.
    async fn lookup(
        &self,
        context: &Context,
        key: &str,
        digest: KeyDigest,
        observable: &ParsedObservable,
        stop: &OnceLock<RelayError>,
    ) -> Result<Lookup, RelayError> {
        if let Some(error) = stop.get() {
            return Err(error.clone());
        }
        let Some(ip) = observable.ip() else {
            return Ok(None);
        };
        let check = async {
            let answer = self.client.check(context, key, ip).await?;
            Ok::<_, RelayError>(answer.map(Arc::new))
        };
        let result = match &self.lookups {
            None => check.await,
            Some(cache) => {
                let miss = async {
                    metrics::counter!(names::LOOKUP_CACHE_MISSES).increment(1);
                    check.await
                };
                let key = LookupKey { key: digest, ip };
                match cache.entry(key).or_try_insert_with(miss).await {
                    Ok(entry) => {
                        if !entry.is_fresh() {
                            metrics::counter!(names::LOOKUP_CACHE_HITS).increment(1);
                            context.record_cache_hits(1);
                        }
                        Ok(entry.into_value())
                    }
                    Err(error) => Err(RelayError::clone(&error)),
                }
            }
        };
        if let Err(error @ RelayError::TooManyRequests(_)) = &result {
            let _ = stop.set(error.clone());
        }
        result
    }
}

/// What the relay is: AbuseIPDB's reputation of IP and IPv6 addresses, with the caller's API
/// key, and links to its pages.
#[must_use]
pub fn info() -> ProviderInfo {
    ProviderInfo::new(
        "AbuseIPDB",
        env!("CARGO_PKG_VERSION"),
        [ObservableType::Ip, ObservableType::Ipv6],
    )
    .credential(KEY)
    .refers()
    .types_in_any_case()
    .description(
        "Checks IP and IPv6 addresses against AbuseIPDB, the database of abusive addresses \
         reported by system administrators and webmasters: a verdict from its confidence \
         score, and for each recent report a judgement, a sighting and the indicators of its \
         attack categories. Links to each address's AbuseIPDB page.",
    )
}

#[xdr_relay_core::async_trait]
impl Provider for AbuseIpdb {
    fn info(&self) -> ProviderInfo {
        info()
    }

    /// One check of 127.0.0.1 with the caller's key.
    async fn health(&self, context: &Context) -> Result<(), RelayError> {
        let key = context.credentials().require_str(KEY.name.as_ref())?;
        self.client.health(context, key).await
    }

    /// A verdict for each address AbuseIPDB scores.
    async fn deliberate(
        &self,
        context: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<Vec<Verdict>>, RelayError> {
        let answers = self.check_all(context, observables).await?;
        let now = mapping::now();
        let mut outcome = Outcome::new(Vec::new());
        for (observable, answer) in observables.iter().zip(answers) {
            match answer {
                Ok(Some(data)) => {
                    let verdict = mapping::verdict(observable.observable(), &data, now);
                    outcome.data.extend(verdict);
                }
                Ok(None) => {}
                Err(error) => outcome.errors.push(error),
            }
        }
        Ok(outcome)
    }

    /// Verdicts, and for the newest `CTR_ENTITIES_LIMIT` reports of each address judgements,
    /// sightings, the indicators of their categories and the relationships between them. The
    /// categories page is read (or taken from its cache) while the addresses are checked.
    async fn observe(
        &self,
        context: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<ObserveBundle>, RelayError> {
        if observables.is_empty() {
            return Ok(Outcome::new(ObserveBundle::default()));
        }
        let lookups = self.check_all(context, observables);
        let categories = self.categories.get(&self.client, context);
        let (answers, categories) = futures::join!(lookups, categories);
        let answers = answers?;
        let mut mapper = Mapper::new(&self.links, &categories, mapping::now());
        let mut bundle = ObserveBundle::default();
        let mut errors = Vec::new();
        for (observable, answer) in observables.iter().zip(answers) {
            match answer {
                Ok(Some(data)) => mapper.observe(
                    &mut bundle,
                    observable.observable(),
                    &data,
                    context.entities_limit(),
                ),
                Ok(None) => {}
                Err(error) => errors.push(error),
            }
        }
        Ok(Outcome::with_errors(bundle, errors))
    }

    /// A link to each address's AbuseIPDB page (no call to AbuseIPDB).
    async fn refer(
        &self,
        _: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<Vec<ReferLink>>, RelayError> {
        let links = observables
            .iter()
            .map(|o| {
                let (kind, title) = match o.kind() {
                    ObservableType::Ipv6 => ("ipv6", "Search for this IPv6"),
                    _ => ("ip", "Search for this IP"),
                };
                ReferLink::new(
                    format!("ref-abuseipdb-detail-{kind}-{}", o.value()),
                    title,
                    "Check this address's reports on AbuseIPDB",
                    self.links.check(o.value()),
                    ["Search", mapping::SOURCE],
                )
            })
            .collect();
        Ok(Outcome::new(links))
    }
}

/// The lookup cache's key: whose key asked (its SHA-256, never the key) and about which
/// address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct LookupKey {
    key: KeyDigest,
    ip: IpAddr,
}

/// The SHA-256 of an API key: tells keys apart without holding one.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct KeyDigest([u8; 32]);

impl KeyDigest {
    fn of(key: &str) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }
}

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyDigest(..)")
    }
}

/// The categories, shared by every request: read from the page once per TTL (concurrent
/// requests with none cached wait for one read), the built-in ones for a short while when the
/// page cannot be read.
struct CategoryCache {
    cache: Cache<(), Arc<Categories>>,
    ttl: Duration,
}

/// The categories in use, and whether they came from the page.
#[derive(Debug)]
struct Categories {
    table: Arc<CategoryTable>,
    from_page: bool,
}

/// How long each kind of categories is kept.
struct Lifetimes {
    page: Duration,
    fallback: Duration,
}

impl Expiry<(), Arc<Categories>> for Lifetimes {
    fn expire_after_create(
        &self,
        _: &(),
        categories: &Arc<Categories>,
        _: Instant,
    ) -> Option<Duration> {
        Some(if categories.from_page {
            self.page
        } else {
            self.fallback
        })
    }
}

impl CategoryCache {
    fn new(ttl: Duration) -> Self {
        let lifetimes = Lifetimes {
            page: ttl,
            fallback: ttl.min(CATEGORIES_RETRY),
        };
        Self {
            cache: Cache::builder()
                .max_capacity(1)
                .expire_after(lifetimes)
                .build(),
            ttl,
        }
    }

    /// The categories: cached, or read from the page now (with `context` counting the call).
    /// Never an error: a page that cannot be read is a warning in the log and the built-in
    /// categories.
    async fn get(&self, client: &Client, context: &Context) -> Arc<CategoryTable> {
        let read = async {
            match client.categories(context).await {
                Ok(table) => {
                    metrics::counter!(names::CATEGORIES_READS, "outcome" => "page").increment(1);
                    tracing::info!(
                        categories = table.len(),
                        ttl_seconds = self.ttl.as_secs(),
                        "AbuseIPDB categories read from its categories page"
                    );
                    Arc::new(Categories {
                        table: Arc::new(table),
                        from_page: true,
                    })
                }
                Err(error) => {
                    metrics::counter!(names::CATEGORIES_READS, "outcome" => "fallback")
                        .increment(1);
                    tracing::warn!(
                        %error,
                        retry_seconds = self.ttl.min(CATEGORIES_RETRY).as_secs(),
                        "AbuseIPDB's categories page cannot be read: the built-in categories are used"
                    );
                    Arc::new(Categories {
                        table: Arc::new(CategoryTable::builtin()),
                        from_page: false,
                    })
                }
            }
        };
        Arc::clone(&self.cache.get_with((), read).await.table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_digested_and_never_printed() {
        let digest = KeyDigest::of("s3cr3t");
        assert_eq!(digest, KeyDigest::of("s3cr3t"));
        assert_ne!(digest, KeyDigest::of("s3cr3t "));
        let key = LookupKey {
            key: digest,
            ip: "192.0.2.1".parse().unwrap(),
        };
        let debug = format!("{key:?}");
        assert!(
            !debug.contains("s3cr3t") && debug.contains("192.0.2.1"),
            "{debug}"
        );
    }

    #[tokio::test]
    async fn the_lookup_cache_keeps_to_its_memory_bound() {
        let config = AbuseIpdbConfig {
            cache_mib: 1,
            ..AbuseIpdbConfig::default()
        };
        let provider = AbuseIpdb::new(&config).unwrap();
        let cache = provider.lookups.as_ref().unwrap();
        let at = xdr_relay_core::ctim_model::Timestamp::now();
        let report = crate::answer::Report {
            reported_at: at,
            comment: Some("x".repeat(1000)),
            categories: vec![18],
        };
        // About 300 KiB each: four fit in 1 MiB, not ten.
        let big = Arc::new(CheckData {
            score: Some(100.0),
            domain: None,
            reports: vec![report; 280],
        });
        assert!(
            (250..350).contains(&big.weight_kib()),
            "{}",
            big.weight_kib()
        );
        for n in 0..10_u8 {
            let key = LookupKey {
                key: KeyDigest::of("k"),
                ip: IpAddr::from([192, 0, 2, n]),
            };
            cache.insert(key, Some(Arc::clone(&big))).await;
        }
        cache.run_pending_tasks().await;
        assert!(cache.weighted_size() <= 1024, "{}", cache.weighted_size());
        assert!(cache.entry_count() <= 4, "{}", cache.entry_count());
        // An address AbuseIPDB cannot process weighs 1 KiB.
        let none = LookupKey {
            key: KeyDigest::of("k"),
            ip: IpAddr::from([192, 0, 2, 99]),
        };
        cache.insert(none, None).await;
        cache.run_pending_tasks().await;
        assert!(cache.contains_key(&none));
    }

    #[test]
    fn zero_bounds_are_refused() {
        let config = AbuseIpdbConfig {
            concurrency: 0,
            ..AbuseIpdbConfig::default()
        };
        assert_eq!(
            AbuseIpdb::new(&config).unwrap_err(),
            BuildError::Zero {
                setting: "ABUSEIPDB_CONCURRENCY"
            }
        );
        let config = AbuseIpdbConfig {
            cache_ttl: Duration::ZERO,
            ..AbuseIpdbConfig::default()
        };
        let provider = AbuseIpdb::new(&config).unwrap();
        assert!(provider.lookups.is_none());
        assert!(format!("{provider:?}").contains("lookup_cache: None"));
    }
}
