//! JWT verification: the `Authorization: Bearer <JWT>` of every authenticated route.
//!
//! Two modes, chosen by [`RelayConfig::jwks`]: HS256 tokens signed with the relay's
//! `SECRET_KEY` (here), or RS256 Cisco XDR configuration tokens checked against the region's
//! published keys ([`crate::jwks`]). Either way the token's payload carries the caller's Auth0
//! Signals API key as `key` and may carry `CTR_ENTITIES_LIMIT`; `exp` and `nbf` are enforced
//! when present.

use std::fmt;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
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
    /// assert!(relay_core::SecretKey::new("s3cr3t").is_some());
    /// assert!(relay_core::SecretKey::new("").is_none());
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
/// use relay_core::SecretKey;
/// let secret = SecretKey::new("0123456789abcdef").unwrap();
/// let token = relay_core::encode_token(&secret, "my-api-key", None).unwrap();
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
#[derive(Debug)]
pub(crate) enum Verifier {
    /// HS256 with `SECRET_KEY`; without one every token is refused as not configured.
    SecretKey(Option<SecretKey>),
    /// RS256 Cisco XDR configuration tokens.
    Jwks(Box<JwksVerifier>),
}

impl Verifier {
    pub(crate) fn new(config: &RelayConfig) -> Result<Self, ConfigError> {
        Ok(match &config.jwks {
            Some(jwks) => Self::Jwks(Box::new(JwksVerifier::new(jwks)?)),
            None => Self::SecretKey(config.secret_key.clone()),
        })
    }

    /// Checks the `Authorization` header and returns the credentials inside the token.
    pub(crate) async fn verify(&self, headers: &HeaderMap) -> Result<Credentials, AuthFailure> {
        match self {
            Self::SecretKey(secret) => verify(headers, secret.as_ref()),
            Self::Jwks(jwks) => jwks.verify(bearer_token(headers)?).await,
        }
    }
}

/// Checks the `Authorization` header against `SECRET_KEY` and returns the credentials inside
/// the token.
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
    // The header is read first, so that a payload error below can only be the payload's.
    header(token, AuthFailure::BadSignature)?;
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &secret.decoding, &validation())
        .map_err(|e| decode_error(&e, AuthFailure::BadSignature))?;
    credentials(&data.claims)
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
}
