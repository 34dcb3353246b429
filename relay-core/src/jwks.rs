//! Cisco XDR configuration tokens: RS256 JWTs verified with the keys the platform publishes at
//! `https://<jwks_host>/.well-known/jwks`.
//!
//! The token names its own key server in the `jwks_host` claim, so that claim is read before
//! the signature can be checked: it is attacker-controlled input pointing the relay at a URL.
//! Hence only allow-listed hosts are ever contacted (and the URL is built from the allow-list
//! entry, not from the token), over HTTPS unless configured otherwise, without following
//! redirects, with a short timeout and a bounded answer. Only RS256 is accepted, and any other
//! `alg` is refused before the network is touched.
//!
//! Keys are cached per host. An unknown `kid` fetches the host's keys again at most once per
//! refresh interval, so a flood of forged tokens cannot hammer the key server; callers that
//! need the same host's keys at the same time share one fetch.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use moka::future::Cache;
use moka::ops::compute::Op;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::credentials::{CredentialField, Credentials};
use crate::error::{AuthFailure, ConfigError};
use crate::telemetry;
use crate::token;

/// The XDR / SecureX key servers of the US, EU and APJC regions: the default allow-list.
pub const DEFAULT_JWKS_HOSTS: &[&str] = &[
    "visibility.amp.cisco.com",
    "visibility.eu.amp.cisco.com",
    "visibility.apjc.amp.cisco.com",
];

/// Where a key server publishes its keys.
const JWKS_PATH: &str = "/.well-known/jwks";

/// Largest key set read from a key server; a real one is a few kilobytes.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// How the relay verifies Cisco XDR configuration tokens (`AUTH_TYPE=jwks`).
///
/// Only [`audience`](Self::audience) has no default: it is the relay's public URL
/// (`RELAY_URL`), which XDR puts in the token's `aud`.
///
/// ```
/// let mut jwks = xdr_relay_core::JwksConfig::new("https://relay.example.com");
/// assert_eq!(jwks.allowed_hosts.len(), xdr_relay_core::DEFAULT_JWKS_HOSTS.len());
/// assert!(!jwks.allow_http);
/// let mut config = xdr_relay_core::RelayConfig::default();
/// config.jwks = Some(jwks); // what `AUTH_TYPE=jwks` and `RELAY_URL` set
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JwksConfig {
    /// The relay's public URL; a token's `aud` must be it, with or without a trailing slash.
    pub audience: String,
    /// The only `jwks_host` values accepted (host names, optionally `:port`; compared without
    /// regard to case). Default [`DEFAULT_JWKS_HOSTS`].
    pub allowed_hosts: Vec<String>,
    /// Fetch keys over plain HTTP instead of HTTPS. For tests on 127.0.0.1 only. Default false.
    pub allow_http: bool,
    /// Longest a key fetch may take, connection included. Default 5 s.
    pub fetch_timeout: Duration,
    /// How long a host's keys are reused before they are fetched again. Default one hour.
    pub keys_ttl: Duration,
    /// Shortest time between two fetches of one host's keys caused by an unknown `kid`.
    /// Default 60 s.
    pub refresh_interval: Duration,
}

impl JwksConfig {
    /// The defaults, for a relay reachable at `audience` (its `RELAY_URL`).
    pub fn new(audience: impl Into<String>) -> Self {
        Self {
            audience: audience.into(),
            allowed_hosts: DEFAULT_JWKS_HOSTS.iter().map(|&h| h.to_owned()).collect(),
            allow_http: false,
            fetch_timeout: Duration::from_secs(5),
            keys_ttl: Duration::from_secs(3600),
            refresh_interval: Duration::from_secs(60),
        }
    }
}

/// Verifies configuration tokens: the allow-list, the key server client and the key cache.
#[derive(Debug)]
pub(crate) struct JwksVerifier {
    /// Normalised allow-list entries; the cache is keyed by them, so it holds at most one
    /// entry per allowed host.
    hosts: Vec<String>,
    scheme: &'static str,
    client: reqwest::Client,
    keys: Cache<String, Arc<HostKeys>>,
    refresh_interval: Duration,
    validation: Validation,
    /// The provider's credential fields, which a token must carry.
    fields: Arc<[CredentialField]>,
}

impl JwksVerifier {
    pub(crate) fn new(config: &JwksConfig) -> Result<Self, ConfigError> {
        let audience = config.audience.trim().trim_end_matches('/');
        if audience.is_empty() {
            return Err(ConfigError(
                "the JWKS mode needs the relay's public URL (RELAY_URL) as the token audience"
                    .into(),
            ));
        }
        let hosts = config
            .allowed_hosts
            .iter()
            .map(|h| {
                normalise_host(h).ok_or_else(|| {
                    ConfigError(format!(
                        "JWKS allowed host {h:?} is not a host name with an optional port"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if hosts.is_empty() {
            return Err(ConfigError("the JWKS allow-list is empty".into()));
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!config.allow_http)
            .connect_timeout(config.fetch_timeout)
            .timeout(config.fetch_timeout)
            .build()
            .map_err(|e| ConfigError(format!("cannot build the JWKS client: {e}")))?;
        let keys = Cache::builder()
            .max_capacity(u64::try_from(hosts.len()).unwrap_or(u64::MAX))
            .time_to_live(config.keys_ttl)
            .build();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_required_spec_claims(&["aud"]);
        validation.set_audience(&[audience.to_owned(), format!("{audience}/")]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = token::LEEWAY_SECONDS;
        Ok(Self {
            hosts,
            scheme: if config.allow_http { "http" } else { "https" },
            client,
            keys,
            refresh_interval: config.refresh_interval,
            validation,
            fields: Arc::from([]),
        })
    }

    /// This verifier, for tokens that carry the provider's `fields`.
    pub(crate) fn with_fields(self, fields: Arc<[CredentialField]>) -> Self {
        Self { fields, ..self }
    }

    /// Verifies `token` and returns the credentials in it.
    pub(crate) async fn verify(&self, token: &str) -> Result<Credentials, AuthFailure> {
        let header = token::header(token, AuthFailure::BadJwksSignature)?;
        // Any other algorithm (HS256 keyed with the public key, `none`, RS384, PS256...) is
        // refused here, before a key server is contacted.
        if header.alg != Algorithm::RS256 {
            return Err(AuthFailure::BadJwksSignature);
        }
        let claims = unverified_claims(token)?;
        let host = match claims.get("jwks_host") {
            Some(Value::String(host)) if !host.is_empty() => host,
            _ => return Err(AuthFailure::JwksHostMissing),
        };
        let host = self.allowed(host).ok_or(AuthFailure::WrongJwksHost)?;
        let kid = header.kid.as_deref().ok_or(AuthFailure::KidNotFound)?;
        let key = self.key(host, kid).await?;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &self.validation)
            .map_err(|e| token::decode_error(&e, AuthFailure::BadJwksSignature))?;
        token::credentials(&data.claims, &self.fields)
    }

    /// The allow-list entry `host` names, if any.
    fn allowed(&self, host: &str) -> Option<&str> {
        self.hosts
            .iter()
            .find(|h| h.eq_ignore_ascii_case(host))
            .map(String::as_str)
    }

    /// The key `kid` of `host`: cached, or fetched when the host's keys are unknown or an
    /// unknown `kid` meets keys older than the refresh interval.
    async fn key(&self, host: &str, kid: &str) -> Result<DecodingKey, AuthFailure> {
        if let Some(known) = self.keys.get(host).await {
            if let Some(key) = known.keys.get(kid) {
                return Ok(key.clone());
            }
            if known.is_fresh(Instant::now(), self.refresh_interval) {
                return Err(known.miss());
            }
        }
        // Calls for one host run one at a time: whoever waited behind a fetch finds fresh
        // keys and does not fetch again.
        let interval = self.refresh_interval;
        let result = self
            .keys
            .entry_by_ref(host)
            .and_compute_with(|current| async move {
                let previous = current.map(moka::Entry::into_value);
                match previous {
                    Some(known) if known.is_fresh(Instant::now(), interval) => Op::Nop,
                    previous => Op::Put(Arc::new(self.fetch(host, previous.as_deref()).await)),
                }
            })
            .await;
        let known = result
            .into_entry()
            .map(moka::Entry::into_value)
            .ok_or(AuthFailure::WrongJwksHost)?;
        known.keys.get(kid).cloned().ok_or_else(|| known.miss())
    }

    /// Fetches `host`'s keys; on failure keeps what was known, so that a key server that is
    /// down is asked again only after the refresh interval.
    async fn fetch(&self, host: &str, previous: Option<&HostKeys>) -> HostKeys {
        let result = self.download(host).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(FetchError::Transport(_)) => "transport",
            Err(FetchError::Status(_)) => "status",
            Err(FetchError::TooLarge) => "too_large",
            Err(FetchError::NotAKeySet) => "invalid",
        };
        metrics::counter!(telemetry::JWKS_FETCHES, "outcome" => outcome).increment(1);
        match result {
            Ok(keys) => HostKeys {
                keys,
                checked_at: Instant::now(),
                reached: true,
            },
            Err(error) => {
                tracing::warn!(target: "relay::jwks", host, %error, "cannot fetch the key set");
                HostKeys {
                    keys: previous.map(|p| p.keys.clone()).unwrap_or_default(),
                    checked_at: Instant::now(),
                    reached: previous.is_some_and(|p| p.reached),
                }
            }
        }
    }

    async fn download(&self, host: &str) -> Result<HashMap<String, DecodingKey>, FetchError> {
        let url = format!("{}://{host}{JWKS_PATH}", self.scheme);
        let mut response = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(FetchError::Transport)?;
        let status = response.status();
        if !status.is_success() {
            // Redirects land here too: they are never followed.
            return Err(FetchError::Status(status.as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(FetchError::Transport)? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        parse_key_set(&body)
    }
}

/// One host's keys and when the relay last asked for them.
#[derive(Clone)]
struct HostKeys {
    keys: HashMap<String, DecodingKey>,
    checked_at: Instant,
    /// Whether the host ever answered with a key set.
    reached: bool,
}

impl HostKeys {
    fn is_fresh(&self, now: Instant, interval: Duration) -> bool {
        now.saturating_duration_since(self.checked_at) < interval
    }

    /// The failure for a `kid` these keys do not have.
    fn miss(&self) -> AuthFailure {
        if self.reached {
            AuthFailure::KidNotFound
        } else {
            AuthFailure::WrongJwksHost
        }
    }
}

impl fmt::Debug for HostKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostKeys")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .field("checked_at", &self.checked_at)
            .field("reached", &self.reached)
            .finish()
    }
}

/// Why a key set could not be fetched; logged, never shown to the caller.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("{0}")]
    Transport(reqwest::Error),
    #[error("the key server answered HTTP {0}")]
    Status(u16),
    #[error("the key set is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    #[error("the answer is not a JSON key set")]
    NotAKeySet,
}

/// The RS256 signing keys of a JWKS document, by `kid`. Keys of other types, uses or
/// algorithms, and keys without a `kid`, are skipped rather than failing the whole set.
fn parse_key_set(body: &[u8]) -> Result<HashMap<String, DecodingKey>, FetchError> {
    #[derive(Deserialize)]
    struct KeySet {
        keys: Vec<Value>,
    }
    let set: KeySet = serde_json::from_slice(body).map_err(|_| FetchError::NotAKeySet)?;
    Ok(set
        .keys
        .into_iter()
        .filter_map(|key| serde_json::from_value::<Jwk>(key).ok())
        .filter_map(rs256_key)
        .collect())
}

fn rs256_key(jwk: Jwk) -> Option<(String, DecodingKey)> {
    let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
        return None;
    };
    let common = &jwk.common;
    if common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
        || common
            .key_algorithm
            .is_some_and(|a| a != KeyAlgorithm::RS256)
    {
        return None;
    }
    let key = DecodingKey::from_rsa_components(&rsa.n, &rsa.e).ok()?;
    Some((common.key_id.clone()?, key))
}

/// The payload as JSON, before its signature is checked: only to find `jwks_host`.
fn unverified_claims(token: &str) -> Result<Map<String, Value>, AuthFailure> {
    token::unverified_part(token, 1).ok_or(AuthFailure::WrongStructure)
}

/// `host` lower-cased, when it is a bare host name or address with an optional port (no
/// scheme, user, path, query or fragment).
fn normalise_host(host: &str) -> Option<String> {
    let host = host.trim().to_ascii_lowercase();
    let url = reqwest::Url::parse(&format!("https://{host}/")).ok()?;
    let authority = match (url.host_str(), url.port()) {
        (Some(h), Some(port)) => format!("{h}:{port}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => return None,
    };
    let bare = url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    (bare && authority == host).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_host(input: &str, expected: Option<&str>) {
        assert_eq!(normalise_host(input).as_deref(), expected, "{input:?}");
    }

    #[test]
    fn allow_list_entries() {
        check_host("visibility.amp.cisco.com", Some("visibility.amp.cisco.com"));
        check_host(
            " Visibility.EU.amp.cisco.com ",
            Some("visibility.eu.amp.cisco.com"),
        );
        check_host("127.0.0.1:8080", Some("127.0.0.1:8080"));
        check_host("", None);
        check_host("https://visibility.amp.cisco.com", None);
        check_host("visibility.amp.cisco.com/path", None);
        check_host("user@visibility.amp.cisco.com", None);
        check_host("visibility.amp.cisco.com?x=1", None);
        check_host("visibility.amp.cisco.com#x", None);
        check_host("a b", None);
        // The default port is not the bare host: keep entries the way tokens spell them.
        check_host("visibility.amp.cisco.com:443", None);
    }

    fn config(hosts: &[&str]) -> JwksConfig {
        let mut config = JwksConfig::new("https://relay.example.com/");
        config.allowed_hosts = hosts.iter().map(|&h| h.to_owned()).collect();
        config
    }

    #[test]
    fn configuration_is_checked() {
        assert!(JwksVerifier::new(&config(DEFAULT_JWKS_HOSTS)).is_ok());
        assert!(JwksVerifier::new(&config(&[])).is_err());
        assert!(JwksVerifier::new(&config(&["https://evil.example"])).is_err());
        let mut no_audience = config(DEFAULT_JWKS_HOSTS);
        no_audience.audience = " / ".into();
        assert!(JwksVerifier::new(&no_audience).is_err());
    }

    #[test]
    fn hosts_match_the_allow_list_exactly() {
        let verifier = JwksVerifier::new(&config(DEFAULT_JWKS_HOSTS)).unwrap();
        let check = |host: &str, expected: Option<&str>| {
            assert_eq!(verifier.allowed(host), expected, "{host:?}");
        };
        check("visibility.amp.cisco.com", Some("visibility.amp.cisco.com"));
        check("VISIBILITY.amp.cisco.com", Some("visibility.amp.cisco.com"));
        check("visibility.amp.cisco.com.evil.example", None);
        check("evil.example/visibility.amp.cisco.com", None);
        check("visibility.amp.cisco.com@evil.example", None);
        check("visibility.amp.cisco.com:8443", None);
        check("169.254.169.254", None);
        check("localhost", None);
    }

    fn rsa_jwk(extra: Value) -> Value {
        // Parsing does not check the modulus: any base64url bytes will do.
        let mut jwk = json!({"kty": "RSA", "n": "AQIDBAUGBwg", "e": "AQAB"});
        if let (Some(jwk), Some(extra)) = (jwk.as_object_mut(), extra.as_object()) {
            jwk.extend(extra.clone());
        }
        jwk
    }

    fn check_kids(keys: Value, expected: &[&str]) {
        let body = json!({ "keys": keys }).to_string();
        let parsed = parse_key_set(body.as_bytes()).unwrap();
        let mut kids: Vec<&str> = parsed.keys().map(String::as_str).collect();
        kids.sort_unstable();
        assert_eq!(kids, expected, "{keys}");
    }

    #[test]
    fn key_sets_keep_rs256_signing_keys_only() {
        check_kids(json!([rsa_jwk(json!({"kid": "a"}))]), &["a"]);
        check_kids(
            json!([rsa_jwk(json!({"kid": "a", "use": "sig", "alg": "RS256"}))]),
            &["a"],
        );
        check_kids(json!([rsa_jwk(json!({}))]), &[]);
        check_kids(json!([rsa_jwk(json!({"kid": "a", "use": "enc"}))]), &[]);
        check_kids(json!([rsa_jwk(json!({"kid": "a", "alg": "RS512"}))]), &[]);
        check_kids(json!([rsa_jwk(json!({"kid": "a", "alg": "PS256"}))]), &[]);
        // A symmetric key in the set must never verify anything.
        check_kids(json!([{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]), &[]);
        check_kids(
            json!([{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "kid": "e"}]),
            &[],
        );
        // One unreadable key does not hide the others.
        check_kids(
            json!([{"kty": "what"}, 7, rsa_jwk(json!({"kid": "b"}))]),
            &["b"],
        );
        check_kids(json!([]), &[]);
    }

    #[test]
    fn answers_that_are_not_key_sets() {
        for body in [&b"not json"[..], b"{}", br#"{"keys": {}}"#, b"[]"] {
            assert!(
                matches!(parse_key_set(body), Err(FetchError::NotAKeySet)),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    fn keys(reached: bool, checked_at: Instant) -> HostKeys {
        HostKeys {
            keys: HashMap::new(),
            checked_at,
            reached,
        }
    }

    #[test]
    fn refresh_waits_for_the_interval() {
        let t0 = Instant::now();
        let minute = Duration::from_secs(60);
        let check = |elapsed: Duration, expected: bool| {
            assert_eq!(keys(true, t0).is_fresh(t0 + elapsed, minute), expected);
        };
        check(Duration::ZERO, true);
        check(Duration::from_secs(59), true);
        check(minute, false);
        check(Duration::from_secs(3600), false);
        // A clock that looks backwards is not a reason to fetch.
        assert!(keys(true, t0 + minute).is_fresh(t0, minute));
        // A zero interval refreshes on every unknown kid.
        assert!(!keys(true, t0).is_fresh(t0, Duration::ZERO));
    }

    #[test]
    fn misses_say_whether_the_host_ever_answered() {
        let now = Instant::now();
        assert_eq!(keys(true, now).miss(), AuthFailure::KidNotFound);
        assert_eq!(keys(false, now).miss(), AuthFailure::WrongJwksHost);
    }

    #[test]
    fn unverified_claims_need_a_json_payload() {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let token = format!("h.{}.s", b64(r#"{"jwks_host":"x"}"#));
        assert_eq!(unverified_claims(&token).unwrap()["jwks_host"], "x");
        for token in ["h", "h.!!.s", &format!("h.{}.s", b64("[1]"))] {
            assert_eq!(
                unverified_claims(token),
                Err(AuthFailure::WrongStructure),
                "{token}"
            );
        }
    }
}
