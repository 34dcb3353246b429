//! The AbuseIPDB relay as a relay-core [`Provider`]: the lookups (concurrent, bounded, each
//! distinct address once, cached per caller and address in relay-core's [`LookupCache`]), the
//! categories (relay-core's [`Refreshed`]: served at once, read again in the background), and
//! the answers of each route.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use xdr_relay_core::ctim_model::{ObservableType, ObserveBundle, Verdict};
use xdr_relay_core::{
    BaseUrl, BuildError, CallerDigest, Context, LookupCache, LookupLimits, Outcome,
    ParsedObservable, Provider, ProviderInfo, ReferLink, Refreshed, RelayError, lookup_distinct,
};

use crate::answer::CheckData;
use crate::categories::CategoryTable;
use crate::client::{Client, ClientConfig};
use crate::mapping::{self, Links, Mapper};
use crate::{AbuseIpdbConfig, KEY, metrics as names};

/// How long the built-in categories stand in for a categories page that could not be read
/// before the page is asked for again (or the categories TTL, when shorter).
const CATEGORIES_RETRY: Duration = Duration::from_secs(300);

/// How much longer than `ABUSEIPDB_TIMEOUT` a shared check or a read of the categories page
/// may run before it is given up (the HTTP client gives up first, with its own words).
const SHARED_CALL_GRACE: Duration = Duration::from_millis(500);

/// An observable and AbuseIPDB's answer about it, when it could process the address.
type Found<'a> = Option<(&'a ParsedObservable, Arc<CheckData>)>;

/// What a lookup found: AbuseIPDB's answer, or `None` when it could not process the address
/// (what the lookup cache keeps, weighed by [`CheckData`]'s `Weigh`).
type Lookup = Option<Arc<CheckData>>;

/// The relay's provider: AbuseIPDB's `check` for IP and IPv6 addresses.
///
/// Build it from an [`AbuseIpdbConfig`]; the adapters build it from the settings through
/// [`app`](crate::app).
pub struct AbuseIpdb {
    client: Arc<Client>,
    links: Links,
    categories: Refreshed<CategoryTable>,
    categories_ttl: Duration,
    lookups: LookupCache<IpAddr, Lookup>,
    concurrency: usize,
}

impl fmt::Debug for AbuseIpdb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbuseIpdb")
            .field("client", &self.client)
            .field("links", &self.links)
            .field("lookup_cache", &self.lookups)
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
        BuildError::positive([
            ("ABUSEIPDB_TIMEOUT", !config.timeout.is_zero()),
            ("ABUSEIPDB_CONCURRENCY", config.concurrency > 0),
            ("ABUSEIPDB_CATEGORIES_TTL", !config.categories_ttl.is_zero()),
            ("ABUSEIPDB_CACHE_MIB", config.cache_mib > 0),
            ("ABUSEIPDB_MAX_REPORTS", config.max_reports > 0),
        ])?;
        let api = BaseUrl::setting(&config.api_url, "ABUSEIPDB_API_URL")?;
        let web = BaseUrl::setting(&config.web_url, "ABUSEIPDB_WEB_URL")?;
        crate::describe_metrics();
        let client = Client::new(&ClientConfig {
            api: &api,
            web: &web,
            timeout: config.timeout,
            limits: config.upstream,
            stop_max: config.stop_max,
            max_reports: config.max_reports,
        })?;
        // A shared check's own bound: the call's timeout, and a moment for the HTTP client's
        // own timeout to answer first (with its own words).
        let limits = LookupLimits::new(
            config.cache_ttl,
            config.cache_mib.saturating_mul(1 << 20),
            config.timeout + SHARED_CALL_GRACE,
        );
        let lookups = LookupCache::named(
            Arc::clone(client.api()),
            limits,
            names::LOOKUP_CACHE_HITS,
            names::LOOKUP_CACHE_MISSES,
        );
        Ok(Self {
            client: Arc::new(client),
            links: Links::new(web),
            categories: Refreshed::new(
                CategoryTable::builtin(),
                config.categories_ttl,
                CATEGORIES_RETRY,
                config.timeout + SHARED_CALL_GRACE,
            ),
            categories_ttl: config.categories_ttl,
            lookups,
            concurrency: config.concurrency,
        })
    }

    /// What AbuseIPDB says of each of `observables`, in order, beside the observable (none
    /// when it could not process the address): each distinct address once (`::ffff:192.0.2.1`
    /// is `192.0.2.1`), at most `concurrency` asked at once.
    async fn check_all<'a>(
        &self,
        context: &Context,
        observables: &'a [ParsedObservable],
    ) -> Result<Vec<Result<Found<'a>, RelayError>>, RelayError> {
        let key = context.credentials().require_str(KEY.name.as_ref())?;
        let caller = context.credentials().digest();
        let address = |o: &ParsedObservable| o.ip().map(|ip| ip.to_canonical());
        let lookups = lookup_distinct(observables, address, self.concurrency, |o| {
            self.lookup(context, caller, key, address(o))
        });
        let answers = lookups.await.into_iter().zip(observables);
        let found = answers.map(|(answer, o)| answer.map(|data| data.map(|d| (o, d))));
        Ok(found.collect())
    }

    /// What AbuseIPDB says of `ip`: from the lookup cache when it answered for this caller
    /// and address within the TTL (or is answering now), else from one `check`.
    async fn lookup(
        &self,
        context: &Context,
        caller: CallerDigest,
        key: &str,
        ip: Option<IpAddr>,
    ) -> Result<Lookup, RelayError> {
        let Some(ip) = ip else {
            return Ok(None);
        };
        let client = Arc::clone(&self.client);
        let key = key.to_owned();
        let check = move |call: Context| async move {
            let answer = client.check(&call, caller, &key, ip).await?;
            Ok(answer.map(Arc::new))
        };
        self.lookups.get_or_fetch(context, caller, ip, check).await
    }

    /// The categories in hand, a read of the page started in the background when they have
    /// expired (waited for, until the request's deadline, only before the first read ends).
    /// Never an error: a page that cannot be read is a warning in the log and the categories
    /// in hand (the built-in ones until the page is read).
    async fn categories(&self, context: &Context) -> Arc<CategoryTable> {
        let client = Arc::clone(&self.client);
        let ttl = self.categories_ttl;
        let read = move |call: Context| async move {
            match client.categories(&call).await {
                Ok(table) => {
                    metrics::counter!(names::CATEGORIES_READS, "outcome" => "page").increment(1);
                    tracing::info!(
                        categories = table.len(),
                        ttl_seconds = ttl.as_secs(),
                        "AbuseIPDB categories read from its categories page"
                    );
                    Ok(table)
                }
                Err(error) => {
                    metrics::counter!(names::CATEGORIES_READS, "outcome" => "fallback")
                        .increment(1);
                    tracing::warn!(
                        %error,
                        retry_seconds = ttl.min(CATEGORIES_RETRY).as_secs(),
                        "AbuseIPDB's categories page cannot be read: the built-in categories are \
                         used (or the page's last table, when one was read)"
                    );
                    Err(error)
                }
            }
        };
        self.categories.get(context, read).await
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
        Ok(Outcome::gather(Vec::new(), answers, |verdicts, found| {
            if let Some((observable, data)) = found {
                verdicts.extend(mapping::verdict(observable.observable(), &data, now));
            }
        }))
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
        let categories = self.categories(context);
        let (answers, categories) = futures::join!(lookups, categories);
        let answers = answers?;
        let mut mapper = Mapper::new(&self.links, &categories, mapping::now());
        let limit = context.entities_limit();
        Ok(Outcome::gather(
            ObserveBundle::default(),
            answers,
            |bundle, found| {
                if let Some((observable, data)) = found {
                    mapper.observe(bundle, observable.observable(), &data, limit);
                }
            },
        ))
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

#[cfg(test)]
mod tests {
    use xdr_relay_core::Weigh;

    use super::*;

    #[test]
    fn an_answer_weighs_what_it_holds() {
        let at = xdr_relay_core::ctim_model::Timestamp::now();
        let report = crate::answer::Report {
            reported_at: at,
            comment: Some("x".repeat(1000)),
            categories: vec![18],
        };
        let big: Lookup = Some(Arc::new(CheckData {
            score: Some(100.0),
            domain: None,
            reports: vec![report; 280],
        }));
        // The comments alone are 280,000 bytes; the reports' own size comes on top.
        let weight = big.weight();
        assert!((300_000..400_000).contains(&weight), "{weight}");
        assert!(None::<Arc<CheckData>>.weight() > 0);
    }

    #[test]
    fn zero_bounds_are_refused() {
        for (config, setting) in [
            (
                AbuseIpdbConfig {
                    concurrency: 0,
                    ..AbuseIpdbConfig::default()
                },
                "ABUSEIPDB_CONCURRENCY",
            ),
            (
                AbuseIpdbConfig {
                    max_reports: 0,
                    ..AbuseIpdbConfig::default()
                },
                "ABUSEIPDB_MAX_REPORTS",
            ),
        ] {
            assert_eq!(
                AbuseIpdb::new(&config).unwrap_err(),
                BuildError::Zero { setting }
            );
        }
        let config = AbuseIpdbConfig {
            cache_ttl: Duration::ZERO,
            ..AbuseIpdbConfig::default()
        };
        let provider = AbuseIpdb::new(&config).unwrap();
        assert!(
            format!("{provider:?}").contains("entries: None"),
            "{provider:?}"
        );
    }
}
