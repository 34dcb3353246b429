//! A Cisco Threat Response / XDR relay for [AbuseIPDB](https://www.abuseipdb.com/), built on
//! [`xdr_relay_core`].
//!
//! **What it is:** a [`Provider`](xdr_relay_core::Provider) ([`AbuseIpdb`]) that checks IP and
//! IPv6 addresses against AbuseIPDB's `check` endpoint with the caller's API key (the token's
//! `key`) and answers in CTIM as Cisco's AbuseIPDB relay (2.0.7) does: a verdict from the
//! confidence score (up to 85 Suspicious, above Malicious), and for each of the newest
//! `CTR_ENTITIES_LIMIT` reports a judgement, a sighting (with a `Resolved_To` relation to the
//! address's domain) and an indicator per attack category, with their `sighting-of`
//! relationships. `/refer/observables` links each address to its AbuseIPDB page, and `/health`
//! proves the key with one check.
//!
//! Beyond Cisco's relay: addresses are checked concurrently (bounded); AbuseIPDB's answers are
//! cached per API key and address for a bounded time and memory, so repeated enrichments spend
//! one check of the daily quota; the categories page is read once per TTL for every request,
//! with a built-in table when it cannot be read; a category the page lacks, a `reportedAt` in
//! any offset, and one address's failure beside others' answers are handled, not crashes.
//! Every call is bounded in time and size, a 429 is answered at once (never retried), and the
//! API key is in no log line, error or `Debug`.
//!
//! **What it is not:** an AbuseIPDB client library (it reads only what the relay maps), a
//! reporter (it never calls `report`), or a source of blocklists.
//!
//! The commands `abuseipdb-relay` (`xdr_relay_server::main_for`: serve, jwt, module-type,
//! healthcheck) and `abuseipdb-relay-lambda` (`xdr_relay_lambda::run_for`) ship [`app`].
//!
//! ```
//! use xdr_relay_abuseipdb::{AbuseIpdb, AbuseIpdbConfig};
//!
//! // The settings an adapter reads from the environment (here, a table).
//! let settings = xdr_relay_core::Settings::new(|name| match name {
//!     "ABUSEIPDB_API_URL" => Some("http://127.0.0.1:8080/api/v2/".to_owned()),
//!     "ABUSEIPDB_CACHE_TTL" => Some("0".to_owned()), // no lookup cache
//!     _ => None,
//! });
//! let config = AbuseIpdbConfig::from_settings(&settings)?;
//! assert_eq!(config.web_url, "https://www.abuseipdb.com/");
//! assert!(config.cache_ttl.is_zero());
//! let provider: AbuseIpdb = xdr_relay_abuseipdb::app().build(&settings)?;
//! # let _ = provider;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod answer;
pub mod categories;
mod client;
mod mapping;
mod provider;

use std::time::Duration;

use xdr_relay_core::{
    App, CredentialField, CredentialKind, EnvError, EnvVar, Settings, UPSTREAM_BREAKER_COOL_DOWN,
    UPSTREAM_BREAKER_FAILURES, UPSTREAM_MAX_IN_FLIGHT, UPSTREAM_STOP_MAX, UpstreamLimits,
    stop_max_from_settings,
};

pub use provider::{AbuseIpdb, info};
/// Why the provider cannot be built (relay-core's, shared by every networked relay).
pub use xdr_relay_core::BuildError;

/// The caller's AbuseIPDB API key, which the token carries as `key` (`custom_key` in the
/// module type).
pub const KEY: CredentialField =
    CredentialField::required("key", CredentialKind::ApiKey, "the AbuseIPDB API key")
        .label("API Key");

/// The `User-Agent` of every call: the relay and its version.
pub const USER_AGENT: &str = concat!(
    "abuseipdb-relay/",
    env!("CARGO_PKG_VERSION"),
    " (xdr-relay-abuseipdb; Cisco XDR relay)"
);

/// AbuseIPDB's API, whose `check` the relay calls.
pub const API_URL: EnvVar = EnvVar::new(
    "ABUSEIPDB_API_URL",
    "abuseipdb-api-url",
    "URL",
    "Base URL of AbuseIPDB's API v2 (the relay calls {URL}check). Default \
     https://api.abuseipdb.com/api/v2/.",
);
/// AbuseIPDB's web site: the categories page and the pages links point to.
pub const WEB_URL: EnvVar = EnvVar::new(
    "ABUSEIPDB_WEB_URL",
    "abuseipdb-web-url",
    "URL",
    "Base URL of AbuseIPDB's web site: {URL}categories is read for the report categories, \
     {URL}check/{ip} is each address's link. Default https://www.abuseipdb.com/.",
);
/// Longest one call to AbuseIPDB may take.
pub const TIMEOUT: EnvVar = EnvVar::new(
    "ABUSEIPDB_TIMEOUT",
    "abuseipdb-timeout",
    "SECONDS",
    "Longest one call to AbuseIPDB may take, answer read included, in whole seconds (at \
     least 1). Default 10.",
);
/// Most checks in flight for one request.
pub const CONCURRENCY: EnvVar = EnvVar::new(
    "ABUSEIPDB_CONCURRENCY",
    "abuseipdb-concurrency",
    "N",
    "Most addresses of one request checked at once, a positive integer. Default 20.",
);
/// How long the categories page is reused.
pub const CATEGORIES_TTL: EnvVar = EnvVar::new(
    "ABUSEIPDB_CATEGORIES_TTL",
    "abuseipdb-categories-ttl",
    "SECONDS",
    "How long the categories read from AbuseIPDB's categories page are reused, in whole \
     seconds (at least 1); a page that cannot be read is asked for again after 5 minutes at \
     most. Default 86400 (a day).",
);
/// How long an answer of AbuseIPDB is reused.
pub const CACHE_TTL: EnvVar = EnvVar::new(
    "ABUSEIPDB_CACHE_TTL",
    "abuseipdb-cache-ttl",
    "SECONDS",
    "How long AbuseIPDB's answer about an address is reused for the same API key, in whole \
     seconds; 0 turns the lookup cache off. Default 3600.",
);
/// Most memory the lookup cache holds.
pub const CACHE_MIB: EnvVar = EnvVar::new(
    "ABUSEIPDB_CACHE_MIB",
    "abuseipdb-cache-mib",
    "MIB",
    "Most memory the lookup cache holds, in MiB (estimated from the answers' size), a \
     positive integer; the least used answers go first. Default 64.",
);

/// Most reports kept of an answer.
pub const MAX_REPORTS: EnvVar = EnvVar::new(
    "ABUSEIPDB_MAX_REPORTS",
    "abuseipdb-max-reports",
    "N",
    "Most reports of an address kept from AbuseIPDB's answer (the newest), the most sightings \
     a token's CTR_ENTITIES_LIMIT gets per address; a positive integer. Default 1000.",
);

/// Every setting of the relay besides relay-core's, in `--help` order: its own, then the cap
/// on calls in flight and the circuit breaker every networked relay has ([`UpstreamLimits`]),
/// and how long a caller's rate limit is remembered ([`UPSTREAM_STOP_MAX`]).
pub const SETTINGS: [EnvVar; 12] = [
    API_URL,
    WEB_URL,
    TIMEOUT,
    CONCURRENCY,
    CATEGORIES_TTL,
    CACHE_TTL,
    CACHE_MIB,
    MAX_REPORTS,
    UPSTREAM_MAX_IN_FLIGHT,
    UPSTREAM_BREAKER_FAILURES,
    UPSTREAM_BREAKER_COOL_DOWN,
    UPSTREAM_STOP_MAX,
];

/// The names of the relay's own metrics (relay-core's are in `xdr_relay_core::telemetry`).
pub mod metrics {
    /// Counter: lookups answered from the lookup cache (no check spent).
    pub const LOOKUP_CACHE_HITS: &str = "abuseipdb_lookup_cache_hits_total";
    /// Counter: lookups the cache did not have, each one check of AbuseIPDB.
    pub const LOOKUP_CACHE_MISSES: &str = "abuseipdb_lookup_cache_misses_total";
    /// Counter: reads of the categories page, by `outcome`: `page` (read) or `fallback` (it
    /// could not be read: the built-in categories are used).
    pub const CATEGORIES_READS: &str = "abuseipdb_categories_reads_total";
}

/// Describes the relay's metrics to the installed recorder (`# HELP` lines); the provider
/// does it when it is built.
pub fn describe_metrics() {
    ::metrics::describe_counter!(
        metrics::LOOKUP_CACHE_HITS,
        "AbuseIPDB lookups answered from the lookup cache (no check of the daily quota spent)."
    );
    ::metrics::describe_counter!(
        metrics::LOOKUP_CACHE_MISSES,
        "AbuseIPDB lookups not in the lookup cache: one check of the daily quota each."
    );
    ::metrics::describe_counter!(
        metrics::CATEGORIES_READS,
        "Reads of AbuseIPDB's categories page, by outcome: page, or fallback (built-in categories)."
    );
}

/// What the relay is configured with: AbuseIPDB's URLs and the relay's bounds.
///
/// [`from_settings`](Self::from_settings) reads it from the settings ([`SETTINGS`]);
/// [`Default`] is every setting's default.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AbuseIpdbConfig {
    /// AbuseIPDB's API, `ABUSEIPDB_API_URL`.
    pub api_url: String,
    /// AbuseIPDB's web site, `ABUSEIPDB_WEB_URL`.
    pub web_url: String,
    /// Longest one call may take, `ABUSEIPDB_TIMEOUT`.
    pub timeout: Duration,
    /// Most checks in flight for one request, `ABUSEIPDB_CONCURRENCY`.
    pub concurrency: usize,
    /// How long the categories page is reused, `ABUSEIPDB_CATEGORIES_TTL`.
    pub categories_ttl: Duration,
    /// How long an answer is reused (zero: no lookup cache), `ABUSEIPDB_CACHE_TTL`.
    pub cache_ttl: Duration,
    /// Most memory the lookup cache holds, in MiB, `ABUSEIPDB_CACHE_MIB`.
    pub cache_mib: u64,
    /// Most reports kept of an answer (the newest), `ABUSEIPDB_MAX_REPORTS`.
    pub max_reports: usize,
    /// Longest a caller's rate limit is remembered, `RELAY_UPSTREAM_STOP_MAX`.
    pub stop_max: Duration,
    /// The cap on calls in flight to AbuseIPDB (over every request) and the circuit breaker,
    /// `RELAY_UPSTREAM_*`.
    pub upstream: UpstreamLimits,
}

impl Default for AbuseIpdbConfig {
    fn default() -> Self {
        Self {
            api_url: "https://api.abuseipdb.com/api/v2/".into(),
            web_url: "https://www.abuseipdb.com/".into(),
            timeout: Duration::from_secs(10),
            concurrency: 20,
            categories_ttl: Duration::from_secs(86_400),
            cache_ttl: Duration::from_secs(3_600),
            cache_mib: 64,
            max_reports: 1_000,
            stop_max: Duration::from_secs(3_600),
            upstream: UpstreamLimits::default(),
        }
    }
}

impl AbuseIpdbConfig {
    /// The configuration in `settings`, each unset setting at its default.
    ///
    /// # Errors
    ///
    /// [`EnvError`] naming the setting whose value is not what it accepts.
    pub fn from_settings(settings: &Settings<'_>) -> Result<Self, EnvError> {
        let mut config = Self::default();
        if let Some(url) = settings.url(&API_URL)? {
            config.api_url = url;
        }
        if let Some(url) = settings.url(&WEB_URL)? {
            config.web_url = url;
        }
        if let Some(timeout) = settings.positive_seconds(&TIMEOUT)? {
            config.timeout = timeout;
        }
        if let Some(concurrency) = settings.count(&CONCURRENCY)? {
            config.concurrency = concurrency;
        }
        if let Some(ttl) = settings.positive_seconds(&CATEGORIES_TTL)? {
            config.categories_ttl = ttl;
        }
        if let Some(ttl) = settings.seconds(&CACHE_TTL)? {
            config.cache_ttl = ttl;
        }
        if let Some(mib) = settings.count(&CACHE_MIB)? {
            config.cache_mib = u64::try_from(mib).unwrap_or(u64::MAX);
        }
        if let Some(most) = settings.count(&MAX_REPORTS)? {
            config.max_reports = most;
        }
        config.upstream = UpstreamLimits::from_settings(settings)?;
        config.stop_max = stop_max_from_settings(settings)?;
        Ok(config)
    }
}

/// The relay as the adapters ship it: its info, its settings ([`SETTINGS`]) and the provider
/// they build.
#[must_use]
pub fn app() -> App<AbuseIpdb> {
    App::new(info(), |settings| {
        let config = AbuseIpdbConfig::from_settings(settings)?;
        Ok(AbuseIpdb::new(&config)?)
    })
    .settings(SETTINGS)
}

/// The code of README.md, compiled with the doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &'static [(&'static str, &'static str)]) -> Settings<'static> {
        Settings::from_pairs(pairs)
    }

    #[test]
    fn settings_have_defaults_and_are_checked() {
        assert_eq!(
            AbuseIpdbConfig::from_settings(&settings(&[])).unwrap(),
            AbuseIpdbConfig::default()
        );
        let config = AbuseIpdbConfig::from_settings(&settings(&[
            ("ABUSEIPDB_API_URL", "http://127.0.0.1:9/api/v2"),
            ("ABUSEIPDB_TIMEOUT", "3"),
            ("ABUSEIPDB_CONCURRENCY", "4"),
            ("ABUSEIPDB_CATEGORIES_TTL", "60"),
            ("ABUSEIPDB_CACHE_TTL", "0"),
            ("ABUSEIPDB_CACHE_MIB", "8"),
            ("ABUSEIPDB_MAX_REPORTS", "50"),
            ("RELAY_UPSTREAM_STOP_MAX", "600"),
        ]))
        .unwrap();
        assert_eq!(config.api_url, "http://127.0.0.1:9/api/v2");
        assert_eq!(config.timeout, Duration::from_secs(3));
        assert_eq!(config.concurrency, 4);
        assert_eq!(config.categories_ttl, Duration::from_secs(60));
        assert!(config.cache_ttl.is_zero());
        assert_eq!(config.cache_mib, 8);
        assert_eq!(config.max_reports, 50);
        assert_eq!(config.stop_max, Duration::from_secs(600));
        for (pairs, name) in [
            (&[("ABUSEIPDB_TIMEOUT", "0")][..], "ABUSEIPDB_TIMEOUT"),
            (
                &[("ABUSEIPDB_CATEGORIES_TTL", "0")][..],
                "ABUSEIPDB_CATEGORIES_TTL",
            ),
            (
                &[("ABUSEIPDB_CONCURRENCY", "0")][..],
                "ABUSEIPDB_CONCURRENCY",
            ),
            (&[("ABUSEIPDB_CACHE_MIB", "-1")][..], "ABUSEIPDB_CACHE_MIB"),
            (
                &[("ABUSEIPDB_WEB_URL", "www.abuseipdb.com")][..],
                "ABUSEIPDB_WEB_URL",
            ),
            (
                &[("ABUSEIPDB_CACHE_TTL", "soon")][..],
                "ABUSEIPDB_CACHE_TTL",
            ),
        ] {
            let error = AbuseIpdbConfig::from_settings(&settings(pairs)).unwrap_err();
            assert_eq!(error.name(), name, "{error}");
        }
    }

    #[test]
    fn the_app_declares_its_settings_and_builds() {
        let app = app();
        let names: Vec<&str> = app.provider_settings().iter().map(|v| v.name).collect();
        assert_eq!(names.len(), 12);
        assert!(names[..8].iter().all(|n| n.starts_with("ABUSEIPDB_")));
        assert!(names[8..].iter().all(|n| n.starts_with("RELAY_UPSTREAM_")));
        assert!(app.build(&settings(&[])).is_ok());
        let error = app
            .build(&settings(&[("ABUSEIPDB_API_URL", "http://[::1")]))
            .unwrap_err();
        assert!(error.to_string().contains("ABUSEIPDB_API_URL"), "{error}");
        assert_eq!(app.info().name, "AbuseIPDB");
        assert!(app.info().refers);
        assert!(USER_AGENT.starts_with("abuseipdb-relay/"));
    }
}
