//! A Cisco Threat Response / XDR relay for [urlscan.io](https://urlscan.io/), built on
//! [`xdr_relay_core`].
//!
//! **What it is:** a [`Provider`](xdr_relay_core::Provider) ([`Urlscan`]) that searches
//! urlscan.io's scans of IP and IPv6 addresses, domains and URLs with the caller's API key (the
//! token's `key`) and answers in CTIM as Cisco's urlscan.io relay (1.0.2) does: for each of the
//! newest `CTR_ENTITIES_LIMIT` scans a sighting (with the page's `Contains`, `Resolved_To` and
//! `Hosted_By` relations and its statistics as a data table), and for a scan urlscan.io judged
//! malicious a judgement, an indicator per category and the `indicates` relationships.
//! `/refer/observables` links to urlscan.io's browse and search pages, `/respond/observables`
//! offers "Make Scan in urlscan.io" for a URL and `/respond/trigger` submits it, and `/health`
//! proves the key with one search.
//!
//! Beyond Cisco's relay: observables are searched at once and the scans they found fetched at
//! once (bounded), each scan once per request; searches and scans are cached per API key
//! (a finished scan longer than a search), so repeated enrichments spend the quota once; a
//! scan that fails to load (one still running) leaves the others' entities in the answer with
//! the error beside them; a result missing fields, a time without milliseconds, an address
//! that is not one, a search urlscan.io refuses and an error page that is not JSON are
//! answered in the envelope, never as HTTP 500; the entity limit is the request's own; the
//! trigger submits only URLs, with the visibility urlscan.io's API names, and a URL urlscan.io
//! refuses is a `bad request` naming its reason. Every call is bounded in time and size, a
//! 429 is answered at once (never retried), and the API key is in no log line, error or
//! `Debug`.
//!
//! **What it is not:** a urlscan.io client library (it reads only what the relay maps), a
//! scanner that waits for its scans (the trigger submits; a later enrichment finds the scan),
//! or a source of verdicts (Cisco's relay gives none; `/deliberate/observables` answers none).
//!
//! The commands `urlscan-relay` (`xdr_relay_server::main_for`: serve, jwt, module-type,
//! healthcheck) and `urlscan-relay-lambda` (`xdr_relay_lambda::run_for`) ship [`app`].
//!
//! ```
//! use xdr_relay_urlscan::{UrlscanConfig, Visibility};
//!
//! // The settings an adapter reads from the environment (here, a table).
//! let settings = xdr_relay_core::Settings::new(|name| match name {
//!     "URLSCAN_API_URL" => Some("http://127.0.0.1:8080/api/v1/".to_owned()),
//!     "URLSCAN_VISIBILITY" => Some("unlisted".to_owned()),
//!     _ => None,
//! });
//! let config = UrlscanConfig::from_settings(&settings)?;
//! assert_eq!(config.web_url, "https://urlscan.io/");
//! assert_eq!(config.visibility, Visibility::Unlisted);
//! let provider = xdr_relay_urlscan::app().build(&settings)?;
//! # let _ = provider;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod answer;
mod client;
mod mapping;
mod provider;

use std::fmt;
use std::time::Duration;

use xdr_relay_core::{
    App, CredentialField, CredentialKind, EnvError, EnvVar, Settings, UPSTREAM_BREAKER_COOL_DOWN,
    UPSTREAM_BREAKER_FAILURES, UPSTREAM_MAX_IN_FLIGHT, UPSTREAM_STOP_MAX, UpstreamLimits,
    stop_max_from_settings,
};

pub use provider::{Urlscan, info};

/// The caller's urlscan.io API key, which the token carries as `key` (`custom_key` in the
/// module type).
pub const KEY: CredentialField =
    CredentialField::required("key", CredentialKind::ApiKey, "the urlscan.io API key")
        .label("API Key");

/// The `User-Agent` of every call: the relay and its version.
pub const USER_AGENT: &str = concat!(
    "urlscan-relay/",
    env!("CARGO_PKG_VERSION"),
    " (xdr-relay-urlscan; Cisco XDR relay)"
);

/// urlscan.io's API, whose `search`, `result` and `scan` the relay calls.
pub const API_URL: EnvVar = EnvVar::new(
    "URLSCAN_API_URL",
    "urlscan-api-url",
    "URL",
    "Base URL of urlscan.io's API v1 (the relay calls {URL}search, {URL}result/{id} and \
     {URL}scan). Default https://urlscan.io/api/v1/.",
);
/// urlscan.io's web site: the pages every link points to.
pub const WEB_URL: EnvVar = EnvVar::new(
    "URLSCAN_WEB_URL",
    "urlscan-web-url",
    "URL",
    "Base URL of urlscan.io's web site, under which the relay writes every link: \
     {URL}result/{id} for a scan, {URL}ip/..., {URL}domain/... and {URL}search/#... to browse \
     and search. Default https://urlscan.io/.",
);
/// Longest one call to urlscan.io may take.
pub const TIMEOUT: EnvVar = EnvVar::new(
    "URLSCAN_TIMEOUT",
    "urlscan-timeout",
    "SECONDS",
    "Longest one call to urlscan.io may take, answer read included, in whole seconds (at \
     least 1). Default 10.",
);
/// Most calls in flight for one request.
pub const CONCURRENCY: EnvVar = EnvVar::new(
    "URLSCAN_CONCURRENCY",
    "urlscan-concurrency",
    "N",
    "Most searches, then most scan results, of one request asked for at once, a positive \
     integer. Default 20.",
);
/// How long a search is reused.
pub const SEARCH_CACHE_TTL: EnvVar = EnvVar::new(
    "URLSCAN_SEARCH_CACHE_TTL",
    "urlscan-search-cache-ttl",
    "SECONDS",
    "How long urlscan.io's scans of an observable (a search) are reused for the same API key, \
     in whole seconds; 0 turns the search cache off. Default 600.",
);
/// How long a scan's result is reused.
pub const RESULT_CACHE_TTL: EnvVar = EnvVar::new(
    "URLSCAN_RESULT_CACHE_TTL",
    "urlscan-result-cache-ttl",
    "SECONDS",
    "How long a finished scan's result (its verdict) is reused for the same API key, in whole \
     seconds; a finished scan does not change. 0 turns the result cache off. Default 86400 \
     (a day).",
);
/// Most memory each lookup cache holds.
pub const CACHE_MIB: EnvVar = EnvVar::new(
    "URLSCAN_CACHE_MIB",
    "urlscan-cache-mib",
    "MIB",
    "Most memory each of the two lookup caches (searches, results) holds, in MiB (estimated \
     from what is kept), a positive integer; the least used entries go first. Default 64.",
);
/// The visibility of the scans the trigger submits.
pub const VISIBILITY: EnvVar = EnvVar::new(
    "URLSCAN_VISIBILITY",
    "urlscan-visibility",
    "VISIBILITY",
    "Visibility of the scans /respond/trigger submits: public, unlisted or private (urlscan.io's \
     names; a team's or plan's policy may lower it). Default public, what Cisco's relay \
     effectively requests.",
);

/// Every setting of the relay besides relay-core's, in `--help` order: its own, then the cap
/// on calls in flight and the circuit breaker every networked relay has ([`UpstreamLimits`]),
/// and how long a caller's rate limit is remembered ([`UPSTREAM_STOP_MAX`]).
pub const SETTINGS: [EnvVar; 12] = [
    API_URL,
    WEB_URL,
    TIMEOUT,
    CONCURRENCY,
    SEARCH_CACHE_TTL,
    RESULT_CACHE_TTL,
    CACHE_MIB,
    VISIBILITY,
    UPSTREAM_MAX_IN_FLIGHT,
    UPSTREAM_BREAKER_FAILURES,
    UPSTREAM_BREAKER_COOL_DOWN,
    UPSTREAM_STOP_MAX,
];

/// The names of the relay's own metrics (relay-core's are in `xdr_relay_core::telemetry`).
pub mod metrics {
    /// Counter: searches answered from the search cache (none of the search quota spent).
    pub const SEARCH_CACHE_HITS: &str = "urlscan_search_cache_hits_total";
    /// Counter: searches the cache did not have, each one search of urlscan.io.
    pub const SEARCH_CACHE_MISSES: &str = "urlscan_search_cache_misses_total";
    /// Counter: scan results answered from the result cache.
    pub const RESULT_CACHE_HITS: &str = "urlscan_result_cache_hits_total";
    /// Counter: scan results the cache did not have, each one result read of urlscan.io.
    pub const RESULT_CACHE_MISSES: &str = "urlscan_result_cache_misses_total";
    /// Counter: scans submitted by `/respond/trigger`, by `outcome`: `submitted` or `refused`
    /// (urlscan.io answered 400).
    pub const SCANS_SUBMITTED: &str = "urlscan_scans_submitted_total";
}

/// Describes the relay's metrics to the installed recorder (`# HELP` lines); the provider
/// does it when it is built.
pub fn describe_metrics() {
    use ::metrics::describe_counter;
    describe_counter!(
        metrics::SEARCH_CACHE_HITS,
        "urlscan.io searches answered from the search cache (no search of the quota spent)."
    );
    describe_counter!(
        metrics::SEARCH_CACHE_MISSES,
        "urlscan.io searches not in the search cache: one search of the quota each."
    );
    describe_counter!(
        metrics::RESULT_CACHE_HITS,
        "urlscan.io scan results answered from the result cache (no result read spent)."
    );
    describe_counter!(
        metrics::RESULT_CACHE_MISSES,
        "urlscan.io scan results not in the result cache: one result read each."
    );
    describe_counter!(
        metrics::SCANS_SUBMITTED,
        "Scans submitted to urlscan.io by /respond/trigger, by outcome: submitted or refused."
    );
}

/// Who may see a scan the trigger submits, in urlscan.io's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Visibility {
    /// Listed and searchable by everyone (Cisco's relay's `"public": "on"`).
    #[default]
    Public,
    /// Visible to urlscan.io's vetted security researchers, not listed publicly.
    Unlisted,
    /// Visible to the submitter (and their team) only.
    Private,
}

impl Visibility {
    /// Its name in urlscan.io's API: `public`, `unlisted` or `private`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Unlisted => "unlisted",
            Self::Private => "private",
        }
    }

    /// The visibility named `text` (any case, surrounding space ignored).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "public" => Some(Self::Public),
            "unlisted" => Some(Self::Unlisted),
            "private" => Some(Self::Private),
            _ => None,
        }
    }
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the relay is configured with: urlscan.io's URLs and the relay's bounds.
///
/// [`from_settings`](Self::from_settings) reads it from the settings ([`SETTINGS`]);
/// [`Default`] is every setting's default.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UrlscanConfig {
    /// urlscan.io's API, `URLSCAN_API_URL`.
    pub api_url: String,
    /// urlscan.io's web site, `URLSCAN_WEB_URL`.
    pub web_url: String,
    /// Longest one call may take, `URLSCAN_TIMEOUT`.
    pub timeout: Duration,
    /// Most calls in flight for one request, `URLSCAN_CONCURRENCY`.
    pub concurrency: usize,
    /// How long a search is reused (zero: no search cache), `URLSCAN_SEARCH_CACHE_TTL`.
    pub search_cache_ttl: Duration,
    /// How long a scan's result is reused (zero: no result cache), `URLSCAN_RESULT_CACHE_TTL`.
    pub result_cache_ttl: Duration,
    /// Most memory each lookup cache holds, in MiB, `URLSCAN_CACHE_MIB`.
    pub cache_mib: u64,
    /// The visibility of submitted scans, `URLSCAN_VISIBILITY`.
    pub visibility: Visibility,
    /// Longest a caller's rate limit is remembered, `RELAY_UPSTREAM_STOP_MAX`.
    pub stop_max: Duration,
    /// The cap on calls in flight to urlscan.io (over every request) and the circuit breaker,
    /// `RELAY_UPSTREAM_*`.
    pub upstream: UpstreamLimits,
}

impl Default for UrlscanConfig {
    fn default() -> Self {
        Self {
            api_url: "https://urlscan.io/api/v1/".into(),
            web_url: "https://urlscan.io/".into(),
            timeout: Duration::from_secs(10),
            concurrency: 20,
            search_cache_ttl: Duration::from_secs(600),
            result_cache_ttl: Duration::from_secs(86_400),
            cache_mib: 64,
            visibility: Visibility::Public,
            stop_max: Duration::from_secs(3_600),
            upstream: UpstreamLimits::default(),
        }
    }
}

impl UrlscanConfig {
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
        if let Some(ttl) = settings.seconds(&SEARCH_CACHE_TTL)? {
            config.search_cache_ttl = ttl;
        }
        if let Some(ttl) = settings.seconds(&RESULT_CACHE_TTL)? {
            config.result_cache_ttl = ttl;
        }
        if let Some(mib) = settings.count(&CACHE_MIB)? {
            config.cache_mib = u64::try_from(mib).unwrap_or(u64::MAX);
        }
        if let Some(text) = settings.value(&VISIBILITY) {
            config.visibility = Visibility::parse(&text).ok_or_else(|| {
                EnvError::invalid(&VISIBILITY, "public, unlisted or private", &text)
            })?;
        }
        config.upstream = UpstreamLimits::from_settings(settings)?;
        config.stop_max = stop_max_from_settings(settings)?;
        Ok(config)
    }
}

/// The relay as the adapters ship it: its info, its settings ([`SETTINGS`]) and the provider
/// they build.
#[must_use]
pub fn app() -> App<Urlscan> {
    App::new(info(), |settings| {
        let config = UrlscanConfig::from_settings(settings)?;
        Urlscan::new(&config)
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
        Settings::new(move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn settings_have_defaults_and_are_checked() {
        assert_eq!(
            UrlscanConfig::from_settings(&settings(&[])).unwrap(),
            UrlscanConfig::default()
        );
        let config = UrlscanConfig::from_settings(&settings(&[
            ("URLSCAN_API_URL", "http://127.0.0.1:9/api/v1"),
            ("URLSCAN_WEB_URL", "http://127.0.0.1:9/"),
            ("URLSCAN_TIMEOUT", "3"),
            ("URLSCAN_CONCURRENCY", "4"),
            ("URLSCAN_SEARCH_CACHE_TTL", "0"),
            ("URLSCAN_RESULT_CACHE_TTL", "60"),
            ("URLSCAN_CACHE_MIB", "8"),
            ("URLSCAN_VISIBILITY", " Private "),
            ("RELAY_UPSTREAM_STOP_MAX", "600"),
        ]))
        .unwrap();
        assert_eq!(config.api_url, "http://127.0.0.1:9/api/v1");
        assert_eq!(config.web_url, "http://127.0.0.1:9/");
        assert_eq!(config.timeout, Duration::from_secs(3));
        assert_eq!(config.concurrency, 4);
        assert!(config.search_cache_ttl.is_zero());
        assert_eq!(config.result_cache_ttl, Duration::from_secs(60));
        assert_eq!(config.cache_mib, 8);
        assert_eq!(config.visibility, Visibility::Private);
        assert_eq!(config.stop_max, Duration::from_secs(600));
        for (pairs, name) in [
            (&[("URLSCAN_TIMEOUT", "0")][..], "URLSCAN_TIMEOUT"),
            (&[("URLSCAN_CONCURRENCY", "0")][..], "URLSCAN_CONCURRENCY"),
            (&[("URLSCAN_CACHE_MIB", "-1")][..], "URLSCAN_CACHE_MIB"),
            (&[("URLSCAN_WEB_URL", "urlscan.io")][..], "URLSCAN_WEB_URL"),
            (
                &[("URLSCAN_RESULT_CACHE_TTL", "soon")][..],
                "URLSCAN_RESULT_CACHE_TTL",
            ),
            (&[("URLSCAN_VISIBILITY", "on")][..], "URLSCAN_VISIBILITY"),
        ] {
            let error = UrlscanConfig::from_settings(&settings(pairs)).unwrap_err();
            assert_eq!(error.name(), name, "{error}");
        }
    }

    #[test]
    fn visibilities_have_urlscans_names() {
        for visibility in [
            Visibility::Public,
            Visibility::Unlisted,
            Visibility::Private,
        ] {
            assert_eq!(Visibility::parse(visibility.as_str()), Some(visibility));
            assert_eq!(visibility.to_string(), visibility.as_str());
        }
        assert_eq!(Visibility::parse("on"), None);
        assert_eq!(Visibility::default(), Visibility::Public);
    }

    #[test]
    fn the_app_declares_its_settings_and_builds() {
        let app = app();
        let names: Vec<&str> = app.provider_settings().iter().map(|v| v.name).collect();
        assert_eq!(names.len(), 12);
        assert!(names[..8].iter().all(|n| n.starts_with("URLSCAN_")));
        assert!(names[8..].iter().all(|n| n.starts_with("RELAY_UPSTREAM_")));
        assert!(app.build(&settings(&[])).is_ok());
        let error = app
            .build(&settings(&[("URLSCAN_API_URL", "http://[::1")]))
            .unwrap_err();
        assert!(error.to_string().contains("URLSCAN_API_URL"), "{error}");
        let info = app.info();
        assert_eq!(info.name, "urlscan.io");
        assert!(info.refers && info.responds);
        assert!(USER_AGENT.starts_with("urlscan-relay/"));
    }
}
