//! The relay's configuration: an explicit value, built by the adapters from env and CLI.

use std::time::Duration;

use crate::auth::SecretKey;
use crate::jwks::JwksConfig;

/// Everything the relay needs to answer requests.
///
/// Start from [`RelayConfig::default`] (which points at the real Auth0 Signals API and has no
/// `SECRET_KEY`) and set what the deployment provides:
///
/// ```
/// let mut config = xdr_relay_core::RelayConfig::default();
/// config.secret_key = xdr_relay_core::SecretKey::new("from the environment");
/// config.signals.base_url = "http://127.0.0.1:9999/".into();
/// assert_eq!(config.entities_limit, 100);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RelayConfig {
    /// The HS256 key tokens are verified with. Without one every authenticated route answers
    /// an authorization error saying the relay is not configured. Unused when
    /// [`jwks`](Self::jwks) is set.
    pub secret_key: Option<SecretKey>,
    /// Verify Cisco XDR configuration tokens (RS256, keys from the region's JWKS) instead of
    /// HS256 tokens signed with `secret_key` (`AUTH_TYPE=jwks`). Default `None`.
    pub jwks: Option<JwksConfig>,
    /// How the relay reaches Auth0 Signals (base URL, timeouts, retries).
    pub signals: signals_client::ClientConfig,
    /// Most sightings (and so indicators and relationships) per observable, unless the token
    /// carries its own `CTR_ENTITIES_LIMIT`. Default 100.
    pub entities_limit: usize,
    /// Largest request body accepted, in bytes. Default 1 MiB.
    pub max_body_bytes: usize,
    /// Most observables in one request. Default 1000.
    pub max_observables: usize,
    /// Most upstream calls in flight for one request. Default 50: a typical Threat Response
    /// investigation (up to 50 IPs) then costs two upstream round trips, not one per ten IPs;
    /// the observable limit bounds the rest.
    pub upstream_concurrency: usize,
    /// Most blocklist metadata entries kept across requests. Default 10 000.
    pub metadata_cache_capacity: u64,
    /// How long a blocklist's metadata is reused. Default one hour.
    pub metadata_cache_ttl: Duration,
    /// Serve the OpenAPI document at `GET /openapi.json`. Default off: a production relay
    /// need not describe itself to the internet.
    pub openapi: bool,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            secret_key: None,
            jwks: None,
            signals: signals_client::ClientConfig::default(),
            entities_limit: 100,
            max_body_bytes: 1024 * 1024,
            max_observables: 1000,
            upstream_concurrency: 50,
            metadata_cache_capacity: 10_000,
            metadata_cache_ttl: Duration::from_secs(3600),
            openapi: false,
        }
    }
}
