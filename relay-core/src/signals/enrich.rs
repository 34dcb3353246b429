//! The Auth0 Signals side of a request: concurrent IP lookups, deduplicated and cached
//! blocklist metadata, and the mapping of Signals' errors to the relay's codes (through the
//! helper every provider shares, [`RelayError::upstream`]). What a request costs is counted
//! on its [`Context`] where the cost happens.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ctim_model::Verdict;
use moka::future::Cache;
use signals_client::{ApiKey, ErrorKind, IpReport, ListKind, ListMetadata, SignalsClient};

use super::mapping::{self, ObserveData, QueryTime};
use super::{IpObservable, SignalsConfig};
use crate::error::{ConfigError, RelayError, UpstreamFailure};
use crate::provider::{Context, Outcome};
use crate::telemetry;
use crate::upstream::{Upstream, UpstreamError, lookup_all};

/// A cached blocklist: whose key fetched it, which kind, which id. Keying on the credential
/// means one caller's cache never answers for another's key.
type MetadataKey = (ApiKey, ListKind, Arc<str>);

/// The upstream machinery every request shares: one connection pool, one metadata cache.
#[derive(Debug)]
pub(crate) struct Enricher {
    client: SignalsClient,
    /// Every call to Signals goes through it: the cap on calls in flight, the circuit breaker,
    /// the request's deadline, the metric by outcome.
    upstream: Upstream,
    metadata: Cache<MetadataKey, Arc<ListMetadata>>,
    concurrency: usize,
}

impl Enricher {
    pub(crate) fn new(config: &SignalsConfig) -> Result<Self, ConfigError> {
        let client =
            SignalsClient::new(config.client.clone()).map_err(|e| ConfigError(e.to_string()))?;
        let metadata = Cache::builder()
            .max_capacity(config.metadata_cache_capacity)
            .time_to_live(config.metadata_cache_ttl)
            .build();
        Ok(Self {
            client,
            upstream: Upstream::with_limits("auth0-signals", config.upstream),
            metadata,
            concurrency: config.upstream_concurrency.max(1),
        })
    }

    /// The client, its calls bounded by the time `context`'s request has left: called inside
    /// the future given to [`Upstream::call`], once the call has its slot, so that the
    /// client plans its retries and `Retry-After` waits against that time, not its own.
    fn client(&self, context: &Context) -> SignalsClient {
        match context.time_left() {
            Some(left) => self.client.within(left),
            None => self.client.clone(),
        }
    }

    /// `/health`: proves the caller's key works with one real upstream call.
    pub(crate) async fn check_key(
        &self,
        context: &Context,
        key: &ApiKey,
    ) -> Result<(), RelayError> {
        let check = async {
            let client = self.client(context);
            client.check_key(key).await.map_err(upstream_error)
        };
        self.upstream.call(context, check).await
    }

    /// `/deliberate/observables`: a verdict per IP, no metadata calls.
    pub(crate) async fn deliberate(
        &self,
        context: &Context,
        key: &ApiKey,
        ips: &[IpObservable],
    ) -> Outcome<Vec<Verdict>> {
        let now = QueryTime::now();
        let (reports, errors) = self.reports(context, key, ips).await;
        let verdicts = reports
            .iter()
            .map(|(o, report)| mapping::verdict(o, report, &now))
            .collect();
        Outcome::with_errors(verdicts, errors)
    }

    /// `/observe/observables`: verdicts, judgements and, per blocklist (at most the request's
    /// entity limit per IP), a sighting, an indicator and their relationship.
    pub(crate) async fn observe(
        &self,
        context: &Context,
        key: &ApiKey,
        ips: &[IpObservable],
    ) -> Outcome<ObserveData> {
        let limit = context.entities_limit();
        let now = QueryTime::now();
        let (reports, mut errors) = self.reports(context, key, ips).await;

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
        let found = lookup_all(&wanted, self.concurrency, |&(kind, id)| {
            self.list(context, key, kind, id)
        })
        .await;
        let mut lists: HashMap<(ListKind, &str), Arc<ListMetadata>> = HashMap::new();
        for (wanted, result) in wanted.iter().zip(found) {
            match result {
                Ok(metadata) => {
                    lists.insert(*wanted, metadata);
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
        Outcome::with_errors(data, errors)
    }

    /// The reports of every IP, in request order, at most `concurrency` in flight. IPs with
    /// no data are left out; failures become errors and the other IPs still count.
    async fn reports<'a>(
        &self,
        context: &Context,
        key: &ApiKey,
        ips: &'a [IpObservable],
    ) -> (Vec<(&'a IpObservable, IpReport)>, Vec<RelayError>) {
        let results = lookup_all(ips, self.concurrency, |o| async move {
            let report = async {
                let client = self.client(context);
                client.ip_report(key, o.ip).await.map_err(upstream_error)
            };
            (o, self.upstream.call(context, report).await)
        })
        .await;
        let mut reports = Vec::with_capacity(results.len());
        let mut errors = Vec::new();
        for (o, result) in results {
            match result {
                Ok(Some(report)) => reports.push((o, report)),
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        (reports, errors)
    }

    /// One list's metadata, from the cache or (once, however many ask at the same time)
    /// from upstream. Failures are not cached.
    async fn list(
        &self,
        context: &Context,
        key: &ApiKey,
        kind: ListKind,
        id: &str,
    ) -> Result<Arc<ListMetadata>, RelayError> {
        let cache_key = (key.clone(), kind, Arc::<str>::from(id));
        if let Some(hit) = self.metadata.get(&cache_key).await {
            context.record_cache_hits(1);
            metrics::counter!(telemetry::METADATA_CACHE_HITS).increment(1);
            return Ok(hit);
        }
        metrics::counter!(telemetry::METADATA_CACHE_MISSES).increment(1);
        self.metadata
            .try_get_with(cache_key, async {
                let fetch = async {
                    let client = self.client(context);
                    let metadata = client.list_metadata(key, kind, id).await;
                    metadata.map(Arc::new).map_err(upstream_error)
                };
                self.upstream.call(context, fetch).await
            })
            .await
            .map_err(|e: Arc<RelayError>| RelayError::clone(&e))
    }
}

/// Maps a Signals failure to the relay's code, through the mapping every provider shares.
/// Messages are the client's, which never hold the key; a 401 carries Signals' own text.
fn upstream_error(e: signals_client::Error) -> UpstreamError {
    use signals_client::Error;
    match &e {
        Error::Unauthorized { message } => {
            UpstreamError::new(UpstreamFailure::Unauthorized, message.clone())
        }
        Error::Tls { message } => UpstreamError::new(UpstreamFailure::Tls, message.clone()),
        // A timeout, not `unavailable`: the circuit breaker tells one at the request's
        // deadline (the time left ran out) from the client's own.
        Error::Timeout { .. } => UpstreamError::new(UpstreamFailure::Timeout, e.to_string()),
        _ => {
            let failure = match e.kind() {
                ErrorKind::Authorization => UpstreamFailure::Unauthorized,
                ErrorKind::PermissionDenied => UpstreamFailure::Forbidden,
                ErrorKind::TooManyRequests => UpstreamFailure::RateLimited,
                ErrorKind::ServiceUnavailable => UpstreamFailure::Unavailable,
                _ => UpstreamFailure::Other,
            };
            UpstreamError::new(failure, e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use signals_client::Error;

    use super::*;

    fn check(error: Error, code: &str, message: &str) {
        let mapped = upstream_error(error).error().clone();
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
