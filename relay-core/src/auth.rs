//! JWT verification: the `Authorization: Bearer <JWT>` of every authenticated route.
//!
//! Two modes, chosen by [`RelayConfig::jwks`]: HS256 tokens signed with the relay's
//! `SECRET_KEY` (here), or RS256 Cisco XDR configuration tokens checked against the region's
//! published keys ([`crate::jwks`]). Either way the token's payload carries the caller's Auth0
//! Signals API key as `key` and may carry `CTR_ENTITIES_LIMIT`; `exp` and `nbf` are enforced
//! when present.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use moka::future::Cache;
use serde::Serialize;
use serde_json::{Map, Value};
use signals_client::ApiKey;

use crate::error::AuthFailure;
use crate::jwks::JwksVerifier;
use crate::{ConfigError, RelayConfig};

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub(crate) const LEEWAY_SECONDS: u64 = 30;

/// The relay's `SECRET_KEY`: the HS256 key every JWT is verified with.
///
/// Its `Debug` output is redacted.
#[derive(Clone)]
pub struct SecretKey {
    decoding: DecodingKey,
    encoding: EncodingKey,
}

impl SecretKey {
    /// Wraps a secret; `None` when it is empty (a relay must not accept tokens signed with "").
    ///
    /// ```
    /// assert!(xdr_relay_core::SecretKey::new("s3cr3t").is_some());
    /// assert!(xdr_relay_core::SecretKey::new("").is_none());
    /// ```
    pub fn new(secret: &str) -> Option<Self> {
        if secret.is_empty() {
            return None;
        }
        Some(Self {
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            encoding: EncodingKey::from_secret(secret.as_bytes()),
        })
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// What a verified token tells the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    /// The caller's Auth0 Signals API key (its `Debug` redacts).
    pub(crate) key: ApiKey,
    /// The caller's `CTR_ENTITIES_LIMIT`, when the token carries a positive integer.
    pub(crate) entities_limit: Option<usize>,
}

/// Signs an Auth0 Signals API key (and optionally a `CTR_ENTITIES_LIMIT`) into the HS256 JWT
/// the relay accepts. This is what `relay-server jwt` prints for Threat Response.
///
/// ```
/// use xdr_relay_core::SecretKey;
/// let secret = SecretKey::new("0123456789abcdef").unwrap();
/// let token = xdr_relay_core::encode_token(&secret, "my-api-key", None).unwrap();
/// assert_eq!(token.split('.').count(), 3);
/// ```
pub fn encode_token(
    secret: &SecretKey,
    api_key: &str,
    entities_limit: Option<usize>,
) -> Result<String, jsonwebtoken::errors::Error> {
    #[derive(Serialize)]
    struct Claims<'a> {
        key: &'a str,
        #[serde(rename = "CTR_ENTITIES_LIMIT", skip_serializing_if = "Option::is_none")]
        entities_limit: Option<usize>,
    }
    let claims = Claims {
        key: api_key,
        entities_limit,
    };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &secret.encoding)
}

/// The relay's way of checking tokens, built once from its configuration.
pub(crate) enum Verifier {
    /// HS256 with `SECRET_KEY`; without one every token is refused as not configured.
    SecretKey(Option<Box<HsVerifier>>),
    /// RS256 Cisco XDR configuration tokens.
    Jwks(Box<JwksVerifier>),
}

impl fmt::Debug for Verifier {
    /// Names the mode only: the verified-token cache holds tokens, which are secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SecretKey(Some(_)) => f.write_str("Verifier::SecretKey(<redacted>)"),
            Self::SecretKey(None) => f.write_str("Verifier::SecretKey(None)"),
            Self::Jwks(jwks) => f.debug_tuple("Verifier::Jwks").field(jwks).finish(),
        }
    }
}

impl Verifier {
    pub(crate) fn new(config: &RelayConfig) -> Result<Self, ConfigError> {
        Ok(match &config.jwks {
            Some(jwks) => Self::Jwks(Box::new(JwksVerifier::new(jwks)?)),
            None => Self::SecretKey(
                config
                    .secret_key
                    .clone()
                    .map(|s| Box::new(HsVerifier::new(s))),
            ),
        })
    }

    /// Checks the `Authorization` header and returns the credentials inside the token.
    pub(crate) async fn verify(&self, headers: &HeaderMap) -> Result<Credentials, AuthFailure> {
        match self {
            Self::SecretKey(Some(hs)) => hs.verify(bearer_token(headers)?).await,
            Self::SecretKey(None) => verify(headers, None),
            Self::Jwks(jwks) => jwks.verify(bearer_token(headers)?).await,
        }
    }
}

/// Most verified tokens remembered. Threat Response sends one token per module instance, so
/// a relay sees few distinct tokens; the bound only stops a flood of valid tokens from growing
/// memory.
const VERIFIED_TOKENS: u64 = 4096;
/// How long a verified token is remembered before it is checked in full again.
const VERIFIED_TOKEN_TTL: Duration = Duration::from_secs(600);

/// HS256 verification with a memory of the tokens that passed.
///
/// Threat Response sends the same token with every call, and a full check (two base64
/// decodes, two JSON parses, an HMAC with a fresh key schedule) cost more than the rest of an
/// `observe` request's own work. A token that verified is remembered with its credentials and
/// its `exp`/`nbf`, which are checked again on every use, so an expired token is refused the
/// moment it expires, cached or not. Only tokens that verified are remembered (the key is the
/// whole token, so only a holder of `SECRET_KEY` can add one); a changed `SECRET_KEY` means a
/// restarted relay and so an empty memory.
pub(crate) struct HsVerifier {
    secret: SecretKey,
    validation: Validation,
    verified: Cache<Token, Arc<Verified>>,
}

/// A token as a cache key; never printed. It borrows as `str` (with the same `Hash` and `Eq`),
/// so a lookup needs no allocation.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Token(Arc<str>);

impl Borrow<str> for Token {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// What a verified token granted, and until when.
#[derive(Debug)]
struct Verified {
    credentials: Credentials,
    exp: Option<u64>,
    nbf: Option<u64>,
}

impl Verified {
    /// The time checks of a full verification, as jsonwebtoken makes them (same leeway).
    fn check_time(&self, now: u64) -> Result<(), AuthFailure> {
        if self
            .exp
            .is_some_and(|exp| exp < now.saturating_sub(LEEWAY_SECONDS))
        {
            return Err(AuthFailure::Expired);
        }
        if self
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(LEEWAY_SECONDS))
        {
            return Err(AuthFailure::NotYetValid);
        }
        Ok(())
    }
}

impl HsVerifier {
    fn new(secret: SecretKey) -> Self {
        Self {
            secret,
            validation: validation(),
            verified: Cache::builder()
                .max_capacity(VERIFIED_TOKENS)
                .time_to_live(VERIFIED_TOKEN_TTL)
                .build(),
        }
    }

    async fn verify(&self, token: &str) -> Result<Credentials, AuthFailure> {
        self.verify_at(token, unix_now()).await
    }

    /// [`HsVerifier::verify`] with the clock read by the caller (`now` in epoch seconds).
    async fn verify_at(&self, token: &str, now: u64) -> Result<Credentials, AuthFailure> {
        if let Some(hit) = self.verified.get(token).await {
            hit.check_time(now)?;
            return Ok(hit.credentials.clone());
        }
        let claims = decode_claims(token, &self.secret, &self.validation)?;
        let credentials = credentials(&claims)?;
        // jsonwebtoken has already refused an `exp` or `nbf` that is not a u64; should one
        // slip through, the token is just not remembered.
        if let (Ok(exp), Ok(nbf)) = (time_claim(&claims, "exp"), time_claim(&claims, "nbf")) {
            let verified = Verified {
                credentials: credentials.clone(),
                exp,
                nbf,
            };
            self.verified
                .insert(Token(Arc::from(token)), Arc::new(verified))
                .await;
        }
        Ok(credentials)
    }
}

/// A time claim: absent, or whole seconds since the epoch; `Err` for anything else.
fn time_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, ()> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value.as_u64().map(Some).ok_or(()),
    }
}

/// Seconds since the epoch, as jsonwebtoken reads the clock (0 on a clock before 1970).
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Checks the `Authorization` header against `SECRET_KEY` and returns the credentials inside
/// the token (a full check, no memory of earlier tokens).
pub(crate) fn verify(
    headers: &HeaderMap,
    secret: Option<&SecretKey>,
) -> Result<Credentials, AuthFailure> {
    let token = bearer_token(headers)?;
    let secret = secret.ok_or(AuthFailure::NotConfigured)?;
    decode(token, secret)
}

/// `Bearer <token>`, scheme case-insensitive, exactly one token.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthFailure> {
    let value = headers
        .get(AUTHORIZATION)
        .ok_or(AuthFailure::MissingHeader)?
        .to_str()
        .map_err(|_| AuthFailure::WrongType)?;
    let mut parts = value.split_whitespace();
    let scheme = parts.next().ok_or(AuthFailure::WrongType)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthFailure::WrongType);
    }
    match (parts.next(), parts.next()) {
        (Some(token), None) => Ok(token),
        _ => Err(AuthFailure::WrongStructure),
    }
}

fn validation() -> Validation {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = false;
    validation.leeway = LEEWAY_SECONDS;
    validation
}

fn decode(token: &str, secret: &SecretKey) -> Result<Credentials, AuthFailure> {
    credentials(&decode_claims(token, secret, &validation())?)
}

/// The verified claims of an HS256 token.
fn decode_claims(
    token: &str,
    secret: &SecretKey,
    validation: &Validation,
) -> Result<Map<String, Value>, AuthFailure> {
    // The header is read first, so that a payload error below can only be the payload's.
    header(token, AuthFailure::BadSignature)?;
    jsonwebtoken::decode::<Map<String, Value>>(token, &secret.decoding, validation)
        .map(|data| data.claims)
        .map_err(|e| decode_error(&e, AuthFailure::BadSignature))
}

/// The token's header, read before anything is verified. `bad_key` is the mode's failure for
/// a readable header naming an algorithm jsonwebtoken does not know.
pub(crate) fn header(token: &str, bad_key: AuthFailure) -> Result<Header, AuthFailure> {
    if token.split('.').count() != 3 {
        return Err(AuthFailure::WrongStructure);
    }
    jsonwebtoken::decode_header(token).map_err(|_| {
        // `alg: none` (or any name jsonwebtoken does not know) is a readable header with an
        // algorithm the mode does not accept: the same failure as any other wrong algorithm.
        if names_an_algorithm(token) {
            bad_key
        } else {
            AuthFailure::WrongStructure
        }
    })
}

/// A jsonwebtoken failure as the caller sees it; `bad_key` is the mode's signature failure.
pub(crate) fn decode_error(e: &jsonwebtoken::errors::Error, bad_key: AuthFailure) -> AuthFailure {
    match e.kind() {
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::InvalidKeyFormat
        | ErrorKind::InvalidRsaKey(_) => bad_key,
        ErrorKind::ExpiredSignature => AuthFailure::Expired,
        ErrorKind::ImmatureSignature => AuthFailure::NotYetValid,
        ErrorKind::InvalidAudience => AuthFailure::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => AuthFailure::WrongAudience,
        ErrorKind::Json(_) | ErrorKind::InvalidClaimFormat(_) | ErrorKind::Utf8(_) => {
            AuthFailure::WrongPayload
        }
        _ => AuthFailure::WrongStructure,
    }
}

/// The credentials in a verified payload: a usable string `key`, and `CTR_ENTITIES_LIMIT`
/// when it is a positive integer.
pub(crate) fn credentials(claims: &Map<String, Value>) -> Result<Credentials, AuthFailure> {
    let key = match claims.get("key") {
        // An empty key, or one that cannot travel in a header, is not a key.
        Some(Value::String(key)) => {
            ApiKey::new(key.as_str()).map_err(|_| AuthFailure::WrongPayload)?
        }
        _ => return Err(AuthFailure::WrongPayload),
    };
    let entities_limit = claims
        .get("CTR_ENTITIES_LIMIT")
        .and_then(Value::as_u64)
        .filter(|&n| n > 0)
        .and_then(|n| usize::try_from(n).ok());
    Ok(Credentials {
        key,
        entities_limit,
    })
}

/// Whether the token's header is a JSON object with a string `alg`.
fn names_an_algorithm(token: &str) -> bool {
    token
        .split('.')
        .next()
        .and_then(|header| URL_SAFE_NO_PAD.decode(header).ok())
        .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())
        .is_some_and(|header| header.get("alg").is_some_and(Value::is_string))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde_json::json;

    const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn secret() -> SecretKey {
        SecretKey::new(SECRET).unwrap()
    }

    fn sign(alg: Algorithm, secret: &str, claims: &Value) -> String {
        jsonwebtoken::encode(
            &Header::new(alg),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    fn headers(authorization: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn check(authorization: Option<&str>, expected: Result<(&str, Option<usize>), AuthFailure>) {
        let got = verify(&headers(authorization), Some(&secret()));
        let got = got.map(|c| (c.key, c.entities_limit));
        let expected = expected.map(|(k, l)| (ApiKey::new(k).unwrap(), l));
        assert_eq!(got, expected, "{authorization:?}");
    }

    fn bearer(token: &str) -> String {
        format!("Bearer {token}")
    }

    #[test]
    fn valid_tokens() {
        let t = sign(Algorithm::HS256, SECRET, &json!({"key": "k1"}));
        check(Some(&bearer(&t)), Ok(("k1", None)));
        check(Some(&format!("bearer {t}")), Ok(("k1", None)));
        let t = sign(
            Algorithm::HS256,
            SECRET,
            &json!({"key": "k2", "CTR_ENTITIES_LIMIT": 5, "exp": now() + 60}),
        );
        check(Some(&bearer(&t)), Ok(("k2", Some(5))));
        // A limit that is not a positive integer is ignored, not an error.
        for limit in [json!(0), json!(-3), json!("7"), json!(2.5)] {
            let t = sign(
                Algorithm::HS256,
                SECRET,
                &json!({"key": "k", "CTR_ENTITIES_LIMIT": limit}),
            );
            check(Some(&bearer(&t)), Ok(("k", None)));
        }
    }

    #[test]
    fn header_failures() {
        check(None, Err(AuthFailure::MissingHeader));
        check(Some("Basic abc"), Err(AuthFailure::WrongType));
        check(Some(""), Err(AuthFailure::WrongType));
        check(Some("Bearer"), Err(AuthFailure::WrongStructure));
        check(Some("Bearer a b"), Err(AuthFailure::WrongStructure));
        check(Some("Bearer abc"), Err(AuthFailure::WrongStructure));
        check(Some("Bearer a.b.c.d"), Err(AuthFailure::WrongStructure));
        check(Some("Bearer ...."), Err(AuthFailure::WrongStructure));
        check(Some("Bearer !!.@@.##"), Err(AuthFailure::WrongStructure));
    }

    #[test]
    fn other_keys_and_algorithms_are_rejected() {
        let claims = json!({"key": "k"});
        let t = sign(Algorithm::HS256, "another secret", &claims);
        check(Some(&bearer(&t)), Err(AuthFailure::BadSignature));
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            let t = sign(alg, SECRET, &claims);
            check(Some(&bearer(&t)), Err(AuthFailure::BadSignature));
        }
        // alg "none", unsigned.
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(br#"{"key":"k"}"#);
        let t = format!("{header}.{payload}.");
        check(Some(&bearer(&t)), Err(AuthFailure::BadSignature));
        // A header that is not JSON, or names no algorithm, is a structural failure.
        for header in [&b"not json"[..], br#"{"typ":"JWT"}"#, br#"{"alg":7}"#] {
            let t = format!("{}.{payload}.sig", URL_SAFE_NO_PAD.encode(header));
            check(Some(&bearer(&t)), Err(AuthFailure::WrongStructure));
        }
    }

    #[test]
    fn tampered_payload_fails_the_signature() {
        let t = sign(Algorithm::HS256, SECRET, &json!({"key": "k"}));
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"key":"stolen"}"#);
        parts[1] = &forged;
        check(
            Some(&bearer(&parts.join("."))),
            Err(AuthFailure::BadSignature),
        );
    }

    #[test]
    fn payload_failures() {
        for claims in [
            json!({}),
            json!({"key": 42}),
            json!({"key": ""}),
            json!({"key": null}),
            json!({"key": "line\nbreak"}),
            json!({"api_key": "k"}),
        ] {
            let t = sign(Algorithm::HS256, SECRET, &claims);
            check(Some(&bearer(&t)), Err(AuthFailure::WrongPayload));
        }
    }

    #[test]
    fn time_claims() {
        let t = sign(
            Algorithm::HS256,
            SECRET,
            &json!({"key": "k", "exp": now() - 3600}),
        );
        check(Some(&bearer(&t)), Err(AuthFailure::Expired));
        let t = sign(
            Algorithm::HS256,
            SECRET,
            &json!({"key": "k", "nbf": now() + 3600}),
        );
        check(Some(&bearer(&t)), Err(AuthFailure::NotYetValid));
        // Within the leeway.
        let t = sign(
            Algorithm::HS256,
            SECRET,
            &json!({"key": "k", "exp": now() - 5}),
        );
        check(Some(&bearer(&t)), Ok(("k", None)));
    }

    #[test]
    fn unconfigured_relay_rejects_everything() {
        let t = sign(Algorithm::HS256, SECRET, &json!({"key": "k"}));
        assert_eq!(
            verify(&headers(Some(&bearer(&t))), None),
            Err(AuthFailure::NotConfigured)
        );
    }

    #[test]
    fn encode_token_round_trips() {
        let t = encode_token(&secret(), "k3", Some(7)).unwrap();
        check(Some(&bearer(&t)), Ok(("k3", Some(7))));
        let t = encode_token(&secret(), "k4", None).unwrap();
        check(Some(&bearer(&t)), Ok(("k4", None)));
    }

    #[test]
    fn debug_output_is_redacted() {
        let t = encode_token(&secret(), "super-secret-key", None).unwrap();
        let credentials = verify(&headers(Some(&bearer(&t))), Some(&secret())).unwrap();
        assert!(!format!("{credentials:?}").contains("super-secret-key"));
        assert!(!format!("{:?}", secret()).contains(SECRET));
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn remembered_tokens_still_expire_and_mature() {
        let hs = HsVerifier::new(secret());
        let now = u64::try_from(now()).unwrap();
        let token = sign(
            Algorithm::HS256,
            SECRET,
            &json!({"key": "k", "exp": now + 60, "nbf": now - 10}),
        );
        runtime().block_on(async {
            let first = hs.verify_at(&token, now).await.unwrap();
            assert_eq!(first.key, ApiKey::new("k").unwrap());
            hs.verified.run_pending_tasks().await;
            assert_eq!(hs.verified.entry_count(), 1);
            // The same token later: answered from memory, with the time checks made again.
            assert_eq!(
                hs.verify_at(&token, now + 60 + LEEWAY_SECONDS).await,
                Ok(first)
            );
            assert_eq!(
                hs.verify_at(&token, now + 61 + LEEWAY_SECONDS).await,
                Err(AuthFailure::Expired)
            );
            assert_eq!(
                hs.verify_at(&token, now - 11 - LEEWAY_SECONDS).await,
                Err(AuthFailure::NotYetValid)
            );
        });
    }

    #[test]
    fn only_tokens_that_verify_are_remembered() {
        let hs = HsVerifier::new(secret());
        let now = u64::try_from(now()).unwrap();
        let forged = sign(Algorithm::HS256, "another secret", &json!({"key": "k"}));
        let keyless = sign(Algorithm::HS256, SECRET, &json!({"nokey": "k"}));
        let expired = sign(
            Algorithm::HS256,
            SECRET,
            &json!({"key": "k", "exp": now - 3600}),
        );
        runtime().block_on(async {
            for _ in 0..2 {
                assert_eq!(
                    hs.verify_at(&forged, now).await,
                    Err(AuthFailure::BadSignature)
                );
                assert_eq!(
                    hs.verify_at(&keyless, now).await,
                    Err(AuthFailure::WrongPayload)
                );
                assert_eq!(hs.verify_at(&expired, now).await, Err(AuthFailure::Expired));
            }
            hs.verified.run_pending_tasks().await;
            assert_eq!(hs.verified.entry_count(), 0);
        });
        assert_eq!(
            format!("{:?}", Verifier::SecretKey(Some(Box::new(hs)))),
            "Verifier::SecretKey(<redacted>)"
        );
    }
}
