//! A Cisco Threat Response / XDR relay for [AlienVault OTX](https://otx.alienvault.com/),
//! built on [`xdr_relay_core`].
//!
//! **What it is:** a [`Provider`](xdr_relay_core::Provider) ([`Otx`]) that looks IP and IPv6
//! addresses, domains, URLs and MD5, SHA1 and SHA256 hashes up in OTX's community pulses with
//! the caller's API key (the token's `key`) and answers in CTIM as Cisco's OTX relay (2.0.5)
//! does: for each of the newest `CTR_ENTITIES_LIMIT` pulses that list the observable, a
//! sighting, the pulse's indicator (the id Cisco's relay gives it) and a `member-of`
//! relationship between them. `/refer/observables` links each observable (and email address)
//! to its OTX page, `/health` proves the key with one `user/me`, and `/deliberate` answers no
//! verdicts (OTX gives none).
//!
//! Beyond Cisco's relay: observables are looked up concurrently and each pulse's indicator
//! pages searched without waiting on the others (both bounded); the paging of a pulse is
//! bounded in pages and time; OTX's answers are cached per API key and observable for a
//! bounded time and memory; one pulse's failure never hides the others'; every upstream
//! status, a missing base indicator and an unreachable OTX are answered in the envelope; times
//! in any offset are read as the instant they name; texts are cut to CTIM's bounds; and the API
//! key is in no log line, error or `Debug`.
//!
//! **What it is not:** an OTX client library (it reads only what the relay maps), a pulse
//! search, or a source of verdicts.
//!
//! The commands `otx-relay` (`xdr_relay_server::main_for`: serve, jwt, module-type,
//! healthcheck) and `otx-relay-lambda` (`xdr_relay_lambda::run_for`) ship [`app`].
//!
//! ```
//! use xdr_relay_otx::{Otx, OtxConfig};
//!
//! // The settings an adapter reads from the environment (here, a table).
//! let settings = xdr_relay_core::Settings::new(|name| match name {
//!     "OTX_API_URL" => Some("http://127.0.0.1:8080/api/v1/".to_owned()),
//!     "OTX_CACHE_TTL" => Some("0".to_owned()), // no lookup cache
//!     _ => None,
//! });
//! let config = OtxConfig::from_settings(&settings)?;
//! assert_eq!(config.web_url, "https://otx.alienvault.com/");
//! assert!(config.cache_ttl.is_zero());
//! let provider: Otx = xdr_relay_otx::app().build(&settings)?;
//! # let _ = provider;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod answer;
mod client;
mod kind;
mod mapping;
mod provider;

use std::time::Duration;

use xdr_relay_core::{
    App, CredentialField, CredentialKind, EnvError, EnvVar, Settings, UPSTREAM_BREAKER_COOL_DOWN,
    UPSTREAM_BREAKER_FAILURES, UPSTREAM_MAX_IN_FLIGHT, UPSTREAM_STOP_MAX, UpstreamLimits,
    stop_max_from_settings,
};

pub use provider::{Otx, info};
/// Why the provider cannot be built (relay-core's, shared by every networked relay).
pub use xdr_relay_core::BuildError;

/// The caller's OTX API key, which the token carries as `key` (`custom_key` in the module
/// type).
pub const KEY: CredentialField =
    CredentialField::required("key", CredentialKind::ApiKey, "the AlienVault OTX API key")
        .label("OTX API Key");

/// The `User-Agent` of every call: the relay and its version.
pub const USER_AGENT: &str = concat!(
    "otx-relay/",
    env!("CARGO_PKG_VERSION"),
    " (xdr-relay-otx; Cisco XDR relay)"
);

/// OTX's API.
pub const API_URL: EnvVar = EnvVar::new(
    "OTX_API_URL",
    "otx-api-url",
    "URL",
    "Base URL of OTX's API v1 (the relay calls {URL}indicators/…, {URL}pulses/… and \
     {URL}user/me). Default https://otx.alienvault.com/api/v1/.",
);
/// OTX's web site, where every link points.
pub const WEB_URL: EnvVar = EnvVar::new(
    "OTX_WEB_URL",
    "otx-web-url",
    "URL",
    "Base URL of OTX's web site: pulses link to {URL}pulse/{id}, observables to \
     {URL}indicator/{kind}/{value}. Default https://otx.alienvault.com/.",
);
/// Longest one call to OTX may take.
pub const TIMEOUT: EnvVar = EnvVar::new(
    "OTX_TIMEOUT",
    "otx-timeout",
    "SECONDS",
    "Longest one call to OTX may take, answer read included, in whole seconds (at least 1). \
     Default 10.",
);
/// Most observables of one request looked up at once.
pub const CONCURRENCY: EnvVar = EnvVar::new(
    "OTX_CONCURRENCY",
    "otx-concurrency",
    "N",
    "Most observables of one request looked up at once, a positive integer. Default 20.",
);
/// Most pulses of one observable searched at once.
pub const PULSE_CONCURRENCY: EnvVar = EnvVar::new(
    "OTX_PULSE_CONCURRENCY",
    "otx-pulse-concurrency",
    "N",
    "Most pulses of one observable whose indicator pages are read at once, a positive \
     integer. Default 10.",
);
/// Most pulses of an observable searched.
pub const MAX_PULSES: EnvVar = EnvVar::new(
    "OTX_MAX_PULSES",
    "otx-max-pulses",
    "N",
    "Most pulses of one observable searched for its entry (the first OTX lists), a positive \
     integer. Default 100.",
);
/// Most indicator pages of one pulse read.
pub const MAX_PAGES: EnvVar = EnvVar::new(
    "OTX_MAX_PAGES",
    "otx-max-pages",
    "N",
    "Most indicator pages of one pulse read looking for the observable (each of up to 10,000 \
     indicators); a pulse whose first pages do not name it is left out. A positive integer. \
     Default 20.",
);
/// Longest the search of one pulse may take.
pub const PULSE_TIMEOUT: EnvVar = EnvVar::new(
    "OTX_PULSE_TIMEOUT",
    "otx-pulse-timeout",
    "SECONDS",
    "Longest the search of one pulse's indicator pages may take, in whole seconds (at least \
     1); a pulse not searched in time is answered as an error beside the others. Default 15.",
);
/// How long an answer of OTX is reused.
pub const CACHE_TTL: EnvVar = EnvVar::new(
    "OTX_CACHE_TTL",
    "otx-cache-ttl",
    "SECONDS",
    "How long OTX's answers about an observable (its pulses, its entry in each) are reused \
     for the same API key, in whole seconds; 0 turns the lookup cache off. Default 3600.",
);
/// Most memory the lookup cache holds.
pub const CACHE_MIB: EnvVar = EnvVar::new(
    "OTX_CACHE_MIB",
    "otx-cache-mib",
    "MIB",
    "Most memory the lookup cache holds, in MiB (estimated from the answers' size), a \
     positive integer; the least used answers go first. Default 64.",
);

/// Every setting of the relay besides relay-core's, in `--help` order: its own, then the cap
/// on calls in flight and the circuit breaker every networked relay has ([`UpstreamLimits`]),
/// and how long a caller's rate limit is remembered ([`UPSTREAM_STOP_MAX`]).
pub const SETTINGS: [EnvVar; 14] = [
    API_URL,
    WEB_URL,
    TIMEOUT,
    CONCURRENCY,
    PULSE_CONCURRENCY,
    MAX_PULSES,
    MAX_PAGES,
    PULSE_TIMEOUT,
    CACHE_TTL,
    CACHE_MIB,
    UPSTREAM_MAX_IN_FLIGHT,
    UPSTREAM_BREAKER_FAILURES,
    UPSTREAM_BREAKER_COOL_DOWN,
    UPSTREAM_STOP_MAX,
];

/// The names of the relay's own metrics (relay-core's are in `xdr_relay_core::telemetry`).
pub mod metrics {
    /// Counter: lookups answered from the lookup cache (an observable's pulses, or its entry
    /// in one pulse), no call spent.
    pub const LOOKUP_CACHE_HITS: &str = "otx_lookup_cache_hits_total";
    /// Counter: lookups the cache did not have, each one or more calls to OTX.
    pub const LOOKUP_CACHE_MISSES: &str = "otx_lookup_cache_misses_total";
    /// Counter: pulses left out because their first `OTX_MAX_PAGES` pages did not name the
    /// observable.
    pub const PAGING_BOUND_REACHED: &str = "otx_paging_bound_reached_total";
}

/// Describes the relay's metrics to the installed recorder (`# HELP` lines); the provider
/// does it when it is built.
pub fn describe_metrics() {
    ::metrics::describe_counter!(
        metrics::LOOKUP_CACHE_HITS,
        "OTX lookups (an observable's pulses, or its entry in one pulse) answered from the lookup cache."
    );
    ::metrics::describe_counter!(
        metrics::LOOKUP_CACHE_MISSES,
        "OTX lookups not in the lookup cache: one or more calls to OTX each."
    );
    ::metrics::describe_counter!(
        metrics::PAGING_BOUND_REACHED,
        "Pulses left out because their first OTX_MAX_PAGES indicator pages did not name the observable."
    );
}

/// What the relay is configured with: OTX's URLs and the relay's bounds.
///
/// [`from_settings`](Self::from_settings) reads it from the settings ([`SETTINGS`]);
/// [`Default`] is every setting's default.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OtxConfig {
    /// OTX's API, `OTX_API_URL`.
    pub api_url: String,
    /// OTX's web site, `OTX_WEB_URL`.
    pub web_url: String,
    /// Longest one call may take, `OTX_TIMEOUT`.
    pub timeout: Duration,
    /// Most observables of one request looked up at once, `OTX_CONCURRENCY`.
    pub concurrency: usize,
    /// Most pulses of one observable searched at once, `OTX_PULSE_CONCURRENCY`.
    pub pulse_concurrency: usize,
    /// Most pulses of one observable searched, `OTX_MAX_PULSES`.
    pub max_pulses: usize,
    /// Most indicator pages of one pulse read, `OTX_MAX_PAGES`.
    pub max_pages: usize,
    /// Longest the search of one pulse may take, `OTX_PULSE_TIMEOUT`.
    pub pulse_timeout: Duration,
    /// How long an answer is reused (zero: no lookup cache), `OTX_CACHE_TTL`.
    pub cache_ttl: Duration,
    /// Most memory the lookup cache holds, in MiB, `OTX_CACHE_MIB`.
    pub cache_mib: u64,
    /// Longest a caller's rate limit is remembered, `RELAY_UPSTREAM_STOP_MAX`.
    pub stop_max: Duration,
    /// The cap on calls in flight to OTX (over every request) and the circuit breaker,
    /// `RELAY_UPSTREAM_*`.
    pub upstream: UpstreamLimits,
}

impl Default for OtxConfig {
    fn default() -> Self {
        Self {
            api_url: "https://otx.alienvault.com/api/v1/".into(),
            web_url: "https://otx.alienvault.com/".into(),
            timeout: Duration::from_secs(10),
            concurrency: 20,
            pulse_concurrency: 10,
            max_pulses: 100,
            max_pages: 20,
            pulse_timeout: Duration::from_secs(15),
            cache_ttl: Duration::from_secs(3_600),
            cache_mib: 64,
            stop_max: Duration::from_secs(3_600),
            upstream: UpstreamLimits::default(),
        }
    }
}

impl OtxConfig {
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
        for (var, field) in [
            (&CONCURRENCY, &mut config.concurrency),
            (&PULSE_CONCURRENCY, &mut config.pulse_concurrency),
            (&MAX_PULSES, &mut config.max_pulses),
            (&MAX_PAGES, &mut config.max_pages),
        ] {
            if let Some(n) = settings.count(var)? {
                *field = n;
            }
        }
        if let Some(timeout) = settings.positive_seconds(&PULSE_TIMEOUT)? {
            config.pulse_timeout = timeout;
        }
        if let Some(ttl) = settings.seconds(&CACHE_TTL)? {
            config.cache_ttl = ttl;
        }
        if let Some(mib) = settings.count(&CACHE_MIB)? {
            config.cache_mib = u64::try_from(mib).unwrap_or(u64::MAX);
        }
        config.upstream = UpstreamLimits::from_settings(settings)?;
        config.stop_max = stop_max_from_settings(settings)?;
        Ok(config)
    }
}

/// The relay as the adapters ship it: its info, its settings ([`SETTINGS`]) and the provider
/// they build.
#[must_use]
pub fn app() -> App<Otx> {
    App::new(info(), |settings| {
        let config = OtxConfig::from_settings(settings)?;
        Ok(Otx::new(&config)?)
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
            OtxConfig::from_settings(&settings(&[])).unwrap(),
            OtxConfig::default()
        );
        let config = OtxConfig::from_settings(&settings(&[
            ("OTX_API_URL", "http://127.0.0.1:9/api/v1"),
            ("OTX_TIMEOUT", "3"),
            ("OTX_CONCURRENCY", "4"),
            ("OTX_PULSE_CONCURRENCY", "2"),
            ("OTX_MAX_PULSES", "7"),
            ("OTX_MAX_PAGES", "5"),
            ("OTX_PULSE_TIMEOUT", "6"),
            ("OTX_CACHE_TTL", "0"),
            ("OTX_CACHE_MIB", "8"),
            ("RELAY_UPSTREAM_STOP_MAX", "600"),
        ]))
        .unwrap();
        assert_eq!(config.api_url, "http://127.0.0.1:9/api/v1");
        assert_eq!(config.timeout, Duration::from_secs(3));
        assert_eq!((config.concurrency, config.pulse_concurrency), (4, 2));
        assert_eq!((config.max_pulses, config.max_pages), (7, 5));
        assert_eq!(config.pulse_timeout, Duration::from_secs(6));
        assert!(config.cache_ttl.is_zero());
        assert_eq!(config.cache_mib, 8);
        assert_eq!(config.stop_max, Duration::from_secs(600));
        for (pairs, name) in [
            (&[("OTX_TIMEOUT", "0")][..], "OTX_TIMEOUT"),
            (&[("OTX_PULSE_TIMEOUT", "0")][..], "OTX_PULSE_TIMEOUT"),
            (&[("OTX_CONCURRENCY", "0")][..], "OTX_CONCURRENCY"),
            (&[("OTX_MAX_PAGES", "-1")][..], "OTX_MAX_PAGES"),
            (&[("OTX_CACHE_MIB", "-1")][..], "OTX_CACHE_MIB"),
            (&[("OTX_WEB_URL", "otx.alienvault.com")][..], "OTX_WEB_URL"),
            (&[("OTX_CACHE_TTL", "soon")][..], "OTX_CACHE_TTL"),
        ] {
            let error = OtxConfig::from_settings(&settings(pairs)).unwrap_err();
            assert_eq!(error.name(), name, "{error}");
        }
    }

    #[test]
    fn the_app_declares_its_settings_and_builds() {
        let app = app();
        let names: Vec<&str> = app.provider_settings().iter().map(|v| v.name).collect();
        assert_eq!(names.len(), SETTINGS.len());
        assert!(names[..10].iter().all(|n| n.starts_with("OTX_")));
        assert!(
            names[10..14]
                .iter()
                .all(|n| n.starts_with("RELAY_UPSTREAM_"))
        );
        assert!(app.build(&settings(&[])).is_ok());
        let error = app
            .build(&settings(&[("OTX_API_URL", "http://[::1")]))
            .unwrap_err();
        assert!(error.to_string().contains("OTX_API_URL"), "{error}");
        assert_eq!(app.info().name, "AlienVault OTX");
        assert!(app.info().refers);
        assert!(USER_AGENT.starts_with("otx-relay/"));
    }
}
