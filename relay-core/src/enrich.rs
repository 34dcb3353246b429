//! The Auth0 Signals side of a request: concurrent IP lookups, deduplicated and cached
//! blocklist metadata, and the mapping of Signals' errors to the relay's codes (through the
//! helper every provider shares, [`RelayError::upstream`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use ctim_model::Verdict;
use futures::StreamExt as _;
use moka::future::Cache;
use signals_client::{ApiKey, ErrorKind, IpReport, ListKind, ListMetadata, SignalsClient};

use crate::config::RelayConfig;
use crate::error::{ConfigError, RelayError, UpstreamFailure};
use crate::mapping::{self, ObserveData, QueryTime};
use crate::request::IpObservable;
use crate::stats::Stats;
use crate::telemetry;

/// Counters shared by the concurrent lookups of one request.
#[derive(Debug, Default)]
struct Counters {
    upstream_calls: AtomicU32,
    cache_hits: AtomicU32,
}

impl Counters {
    fn call(&self) {
        self.upstream_calls.fetch_add(1, Ordering::Relaxed);
    }

    fn stats(&self, errors: usize) -> Stats {
        Stats {
            observables: 0,
            upstream_calls: self.upstream_calls.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            errors: u32::try_from(errors).unwrap_or(u32::MAX),
        }
    }
}

/// Data gathered for a route, the errors met on the way, and what it cost.
#[derive(Debug)]
pub(crate) struct Gathered<T> {
    /// What was gathered (possibly nothing).
    pub(crate) data: T,
    /// Every failure met, in the order met.
    pub(crate) errors: Vec<RelayError>,
    /// What the request cost upstream.
    pub(crate) stats: Stats,
}

/// A cached blocklist: whose key fetched it, which kind, which id. Keying on the credential
/// means one caller's cache never answers for another's key.
type MetadataKey = (ApiKey, ListKind, Arc<str>);

/// The upstream machinery every request shares: one connection pool, one metadata cache.
#[derive(Debug)]
pub(crate) struct Enricher {
    client: SignalsClient,
    metadata: Cache<MetadataKey, Arc<ListMetadata>>,
    concurrency: usize,
}

impl Enricher {
    pub(crate) fn new(config: &RelayConfig) -> Result<Self, ConfigError> {
        let client =
            SignalsClient::new(config.signals.clone()).map_err(|e| ConfigError(e.to_string()))?;
        let metadata = Cache::builder()
            .max_capacity(config.metadata_cache_capacity)
            .time_to_live(config.metadata_cache_ttl)
            .build();
        Ok(Self {
            client,
            metadata,
            concurrency: config.upstream_concurrency.max(1),
        })
    }

    /// `/health`: proves the caller's key works with one real upstream call.
    pub(crate) async fn check_key(&self, key: &ApiKey) -> Gathered<()> {
        let counters = Counters::default();
        counters.call();
        let errors = match self.client.check_key(key).await {
            Ok(()) => Vec::new(),
            Err(e) => vec![upstream_error(e)],
        };
        Gathered {
            data: (),
            stats: counters.stats(errors.len()),
            errors,
        }
    }

    /// `/deliberate/observables`: a verdict per IP, no metadata calls.
    pub(crate) async fn deliberate(
        &self,
        key: &ApiKey,
        ips: &[IpObservable],
    ) -> Gathered<Vec<Verdict>> {
        let counters = Counters::default();
        let now = QueryTime::now();
        let (reports, errors) = self.reports(key, ips, &counters).await;
        let verdicts = reports
            .iter()
            .map(|(o, report)| mapping::verdict(o, report, &now))
            .collect();
        Gathered {
            stats: counters.stats(errors.len()),
            data: verdicts,
            errors,
        }
    }

    /// `/observe/observables`: verdicts, judgements and, per blocklist (at most `limit` per
    /// IP), a sighting, an indicator and their relationship.
    pub(crate) async fn observe(
        &self,
        key: &ApiKey,
        ips: &[IpObservable],
        limit: usize,
    ) -> Gathered<ObserveData> {
        let counters = Counters::default();
        let now = QueryTime::now();
        let (reports, mut errors) = self.reports(key, ips, &counters).await;

        // Every distinct list once, however many IPs are on it: the second round trip.
        let mut wanted = Vec::new();
        let mut seen = HashSet::new();
        for (_, report) in &reports {
            for (kind, id) in report.blocklists().take(limit) {
                if seen.insert((kind, id)) {
                    wanted.push((kind, id));
                }
            }
        }
        // Streams run over indices: closures over borrowed items trip the compiler's
        // higher-ranked lifetime inference in a `Send` handler.
        let counters_ref = &counters;
        let wanted_ref = &wanted;
        let found: Vec<(usize, Result<Arc<ListMetadata>, RelayError>)> =
            futures::stream::iter(0..wanted.len())
                .map(|i| async move {
                    let (kind, id) = wanted_ref[i];
                    (i, self.list(key, kind, id, counters_ref).await)
                })
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
        let mut lists: HashMap<(ListKind, &str), Arc<ListMetadata>> = HashMap::new();
        for (i, result) in found {
            match result {
                Ok(metadata) => {
                    lists.insert(wanted[i], metadata);
                }
                Err(e) => errors.push(e),
            }
        }

        let mut data = ObserveData::default();
        for (observable, report) in &reports {
            mapping::observe(&mut data, observable, report, &now, limit, |kind, id| {
                lists.get(&(kind, id)).map(Arc::clone)
            });
        }
        Gathered {
            stats: counters.stats(errors.len()),
            data,
            errors,
        }
    }

    /// The reports of every IP, in request order, at most `concurrency` in flight. IPs with
    /// no data are left out; failures become errors and the other IPs still count.
    async fn reports<'a>(
        &self,
        key: &ApiKey,
        ips: &'a [IpObservable],
        counters: &Counters,
    ) -> (Vec<(&'a IpObservable, IpReport)>, Vec<RelayError>) {
        let results: Vec<_> = futures::stream::iter(0..ips.len())
            .map(|i| async move {
                let o = &ips[i];
                counters.call();
                (o, self.client.ip_report(key, o.ip).await)
            })
            .buffered(self.concurrency)
            .collect()
            .await;
        let mut reports = Vec::with_capacity(results.len());
        let mut errors = Vec::new();
        for (o, result) in results {
            match result {
                Ok(Some(report)) => reports.push((o, report)),
                Ok(None) => {}
                Err(e) => errors.push(upstream_error(e)),
            }
        }
        (reports, errors)
    }

    /// One list's metadata, from the cache or (once, however many ask at the same time)
    /// from upstream. Failures are not cached.
    async fn list(
        &self,
        key: &ApiKey,
        kind: ListKind,
        id: &str,
        counters: &Counters,
    ) -> Result<Arc<ListMetadata>, RelayError> {
        let cache_key = (key.clone(), kind, Arc::<str>::from(id));
        if let Some(hit) = self.metadata.get(&cache_key).await {
            counters.cache_hits.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(telemetry::METADATA_CACHE_HITS).increment(1);
            return Ok(hit);
        }
        metrics::counter!(telemetry::METADATA_CACHE_MISSES).increment(1);
        self.metadata
            .try_get_with(cache_key, async {
                counters.call();
                self.client.list_metadata(key, kind, id).await.map(Arc::new)
            })
            .await
            .map_err(|e: Arc<signals_client::Error>| upstream_error_ref(&e))
    }
}

fn upstream_error(e: signals_client::Error) -> RelayError {
    upstream_error_ref(&e)
}

/// Maps a Signals failure to the relay's code, through the mapping every provider shares.
/// Messages are the client's, which never hold the key; a 401 carries Signals' own text.
fn upstream_error_ref(e: &signals_client::Error) -> RelayError {
    use signals_client::Error;
    match e {
        Error::Unauthorized { message } => {
            RelayError::upstream(UpstreamFailure::Unauthorized, message.clone())
        }
        Error::Tls { message } => RelayError::upstream(UpstreamFailure::Tls, message.clone()),
        _ => {
            let failure = match e.kind() {
                ErrorKind::Authorization => UpstreamFailure::Unauthorized,
                ErrorKind::PermissionDenied => UpstreamFailure::Forbidden,
                ErrorKind::TooManyRequests => UpstreamFailure::RateLimited,
                ErrorKind::ServiceUnavailable => UpstreamFailure::Unavailable,
                _ => UpstreamFailure::Other,
            };
            RelayError::upstream(failure, e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use signals_client::Error;

    use super::*;

    fn check(error: Error, code: &str, message: &str) {
        let mapped = upstream_error(error);
        assert_eq!(
            (mapped.code(), mapped.to_string().as_str()),
            (code, message)
        );
    }

    #[test]
    fn upstream_errors_map_to_relay_codes() {
        let unauthorized = Error::Unauthorized {
            message: "Unauthorized. API Key not found.".into(),
        };
        check(
            unauthorized,
            "authorization error",
            "Authorization failed: Unauthorized. API Key not found.",
        );
        check(
            Error::Tls {
                message: "self signed certificate".into(),
            },
            "unknown",
            "Unable to verify SSL certificate: self signed certificate",
        );
        check(
            Error::Forbidden {
                message: "no".into(),
            },
            "permission denied",
            "Auth0 Signals denied access: no",
        );
        check(
            Error::RateLimited { retry_after: None },
            "too many requests",
            "Auth0 Signals rate limit reached",
        );
        check(
            Error::Timeout {
                after: Duration::from_secs(1),
            },
            "service unavailable",
            "Auth0 Signals did not answer within 1000 ms",
        );
        check(
            Error::Status {
                status: 418,
                body: "teapot".into(),
            },
            "unknown",
            "Auth0 Signals answered HTTP 418: teapot",
        );
    }
}
