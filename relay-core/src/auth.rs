//! JWT verification: the `Authorization: Bearer <JWT>` of every authenticated route.
//!
//! Two modes, chosen by [`RelayConfig::jwks`](crate::RelayConfig::jwks): HS256 tokens signed
//! with the relay's `SECRET_KEY` (here), or RS256 Cisco XDR configuration tokens checked
//! against the region's published keys ([`crate::jwks`]). Either way the token's payload
//! carries the fields the provider declared (for Auth0 Signals, the caller's API key as `key`)
//! and may carry `CTR_ENTITIES_LIMIT`; `exp` and `nbf` are enforced when present. What both
//! modes share is in [`crate::token`].

use std::fmt;
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::credentials::{CredentialField, CredentialKind, Credentials, ENTITIES_LIMIT};
use crate::error::{AuthFailure, ConfigError};
use crate::jwks::{JwksConfig, JwksVerifier};
use crate::token::{self, LEEWAY_SECONDS, VerifiedTokens};

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
    #[must_use]
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

/// [`encode_token`] or [`encode_claims`] could not sign the token: a claim the relay would
/// refuse, or the signing library's reason. The text never contains the secret or a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot sign the token: {reason}")]
pub struct SigningError {
    reason: String,
}

/// Signs an API key as the claim `key` (and optionally a `CTR_ENTITIES_LIMIT`) into the HS256
/// JWT the relay accepts: the shortcut for a provider whose one credential is `key` (Auth0
/// Signals, AbuseIPDB). [`encode_claims`] signs any provider's fields, checked.
///
/// ```
/// use xdr_relay_core::SecretKey;
/// let secret = SecretKey::new("0123456789abcdef").unwrap();
/// let token = xdr_relay_core::encode_token(&secret, "my-api-key", None).unwrap();
/// assert_eq!(token.split('.').count(), 3);
/// ```
///
/// # Errors
///
/// [`SigningError`] when the signing library fails, which HS256 with a non-empty key does not
/// do in practice.
pub fn encode_token(
    secret: &SecretKey,
    api_key: &str,
    entities_limit: Option<usize>,
) -> Result<String, SigningError> {
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
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &secret.encoding).map_err(|e| {
        SigningError {
            reason: e.to_string(),
        }
    })
}

/// Signs `claims` into the HS256 JWT a relay whose provider reads `fields` accepts, after
/// checking them as the relay will: every claim is one of `fields` (or `CTR_ENTITIES_LIMIT`,
/// which every relay reads), every required field is there, and every value is of its
/// field's [kind](crate::CredentialKind). This is what the adapters' `jwt` command signs.
///
/// ```
/// use serde_json::json;
/// use xdr_relay_core::{CredentialField, CredentialKind, SecretKey, encode_claims};
///
/// let fields = [
///     CredentialField::required("key", CredentialKind::ApiKey, "the API key"),
///     CredentialField::optional("max_age_days", CredentialKind::PositiveInteger, "the report age"),
/// ];
/// let secret = SecretKey::new("0123456789abcdef").unwrap();
/// let claims = json!({"key": "my-api-key", "max_age_days": 30, "CTR_ENTITIES_LIMIT": 50});
/// let token = encode_claims(&secret, &fields, claims.as_object().unwrap()).unwrap();
/// assert_eq!(token.split('.').count(), 3);
///
/// // Never a field dropped silently: an unknown one is refused, naming it.
/// let typo = json!({"key": "my-api-key", "max_age_day": 30});
/// let error = encode_claims(&secret, &fields, typo.as_object().unwrap()).unwrap_err();
/// assert!(error.to_string().contains("max_age_day"));
/// ```
///
/// # Errors
///
/// [`SigningError`] naming the claim that is unknown, missing or not of its kind (never
/// quoting a value), or when the signing library fails.
pub fn encode_claims(
    secret: &SecretKey,
    fields: &[CredentialField],
    claims: &Map<String, Value>,
) -> Result<String, SigningError> {
    let refuse = |reason: String| Err(SigningError { reason });
    let declared = |name: &str| fields.iter().find(|f| f.name == name);
    for (name, value) in claims {
        if name == ENTITIES_LIMIT {
            if !CredentialKind::PositiveInteger.accepts(value) {
                return refuse(format!("{ENTITIES_LIMIT} must be a positive integer"));
            }
            continue;
        }
        let Some(field) = declared(name) else {
            let known: Vec<&str> = fields.iter().map(|f| f.name.as_ref()).collect();
            return refuse(format!(
                "the relay reads no field {name:?} (its fields: {}, and {ENTITIES_LIMIT})",
                known.join(", ")
            ));
        };
        if !field.kind.accepts(value) {
            return refuse(format!(
                "{name} must be {} ({})",
                field.kind.describe(),
                field.description
            ));
        }
    }
    if let Some(missing) = fields
        .iter()
        .find(|f| f.required && !claims.contains_key(f.name.as_ref()))
    {
        return refuse(format!(
            "{} ({}) is required",
            missing.name, missing.description
        ));
    }
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &secret.encoding).map_err(|e| {
        SigningError {
            reason: e.to_string(),
        }
    })
}

/// The relay's way of checking tokens, built once from its configuration.
pub(crate) enum Verifier {
    /// HS256 with `SECRET_KEY`; without one every token is refused as not configured.
    SecretKey(Option<Box<HsVerifier>>),
    /// RS256 Cisco XDR configuration tokens.
    Jwks(Box<JwksVerifier>),
}

impl fmt::Debug for Verifier {
    /// Names the mode only: the verified-token memory holds tokens, which are secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SecretKey(Some(_)) => f.write_str("Verifier::SecretKey(<redacted>)"),
            Self::SecretKey(None) => f.write_str("Verifier::SecretKey(None)"),
            Self::Jwks(jwks) => f.debug_tuple("Verifier::Jwks").field(jwks).finish(),
        }
    }
}

impl Verifier {
    /// The JWKS mode when `jwks` is set, else HS256 with `secret_key` (if any); tokens must
    /// carry the provider's required `fields`.
    pub(crate) fn new(
        secret_key: Option<&SecretKey>,
        jwks: Option<&JwksConfig>,
        fields: Arc<[CredentialField]>,
    ) -> Result<Self, ConfigError> {
        Ok(match jwks {
            Some(jwks) => Self::Jwks(Box::new(JwksVerifier::new(jwks)?.with_fields(fields))),
            None => Self::SecretKey(
                secret_key.map(|s| Box::new(HsVerifier::new(s.clone(), Arc::clone(&fields)))),
            ),
        })
    }

    /// Checks the `Authorization` header and returns the credentials inside the token.
    pub(crate) async fn verify(&self, headers: &HeaderMap) -> Result<Credentials, AuthFailure> {
        let token = bearer_token(headers)?;
        match self {
            Self::SecretKey(Some(hs)) => hs.verify(token).await,
            Self::SecretKey(None) => Err(AuthFailure::NotConfigured),
            Self::Jwks(jwks) => jwks.verify(token).await,
        }
    }
}

/// HS256 verification with a memory of the tokens that passed ([`VerifiedTokens`]): Threat
/// Response sends the same token with every call. A changed `SECRET_KEY` means a restarted
/// relay and so an empty memory.
pub(crate) struct HsVerifier {
    secret: SecretKey,
    validation: Validation,
    verified: VerifiedTokens,
    fields: Arc<[CredentialField]>,
}

impl HsVerifier {
    fn new(secret: SecretKey, fields: Arc<[CredentialField]>) -> Self {
        Self {
            secret,
            validation: validation(),
            verified: VerifiedTokens::default(),
            fields,
        }
    }

    async fn verify(&self, token: &str) -> Result<Credentials, AuthFailure> {
        self.verify_at(token, token::unix_now()).await
    }

    /// [`HsVerifier::verify`] with the clock read by the caller (`now` in epoch seconds).
    async fn verify_at(&self, token: &str, now: u64) -> Result<Credentials, AuthFailure> {
        if let Some(remembered) = self.verified.get(token, now).await {
            return remembered;
        }
        let claims = decode_claims(token, &self.secret, &self.validation)?;
        let credentials = token::credentials(&claims, &self.fields)?;
        self.verified.remember(token, &claims, &credentials).await;
        Ok(credentials)
    }
}

/// `Bearer <token>`, scheme case-insensitive, exactly one token.
fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthFailure> {
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

/// The verified claims of an HS256 token.
fn decode_claims(
    token: &str,
    secret: &SecretKey,
    validation: &Validation,
) -> Result<Map<String, Value>, AuthFailure> {
    // The header is read first, so that a payload error below can only be the payload's.
    token::header(token, AuthFailure::BadSignature)?;
    jsonwebtoken::decode::<Map<String, Value>>(token, &secret.decoding, validation)
        .map(|data| data.claims)
        .map_err(|e| token::decode_error(&e, AuthFailure::BadSignature))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_claims_refuses_what_the_relay_would_refuse_and_quotes_no_value() {
        let fields = [
            CredentialField::required("key", CredentialKind::ApiKey, "the API key"),
            CredentialField::optional("strict", CredentialKind::Boolean, "a switch"),
        ];
        let secret = SecretKey::new("0123456789abcdef").unwrap();
        let sign = |claims: Value| {
            encode_claims(&secret, &fields, claims.as_object().unwrap()).map_err(|e| e.to_string())
        };
        let token = sign(json!({"key": "hunter2", "strict": true, "CTR_ENTITIES_LIMIT": 3}));
        let token = token.unwrap();
        let claims = decode_claims(&token, &secret, &validation()).unwrap();
        let credentials = token::credentials(&claims, &fields).unwrap();
        assert_eq!(credentials.str("key"), Some("hunter2"));
        assert_eq!(credentials.boolean("strict"), Some(true));
        assert_eq!(credentials.entities_limit(), Some(3));
        for (claims, says) in [
            (json!({"strict": true}), "key (the API key) is required"),
            (
                json!({"key": "hunter2", "strict": "yes"}),
                "strict must be true or false",
            ),
            (json!({"key": ""}), "key must be a non-empty string"),
            (
                json!({"key": "hunter2", "CTR_ENTITIES_LIMIT": 0}),
                "CTR_ENTITIES_LIMIT must be a positive integer",
            ),
            (
                json!({"key": "hunter2", "other": 1}),
                r#"no field "other" (its fields: key, strict, and CTR_ENTITIES_LIMIT)"#,
            ),
        ] {
            let error = sign(claims.clone()).unwrap_err();
            assert!(error.contains(says), "{claims}: {error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
    }
    use axum::http::HeaderValue;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    /// The fields of a provider that reads an API key, as Auth0 Signals and AbuseIPDB do.
    fn fields() -> Arc<[CredentialField]> {
        Arc::from([CredentialField::required(
            "key",
            CredentialKind::ApiKey,
            "the API key",
        )])
    }

    /// The API key in `credentials`, as the provider reads it.
    fn key(credentials: &Credentials) -> String {
        credentials.str("key").unwrap().to_owned()
    }

    /// A full check of the header against `secret`, with no memory of earlier tokens.
    fn verify(headers: &HeaderMap, secret: &SecretKey) -> Result<Credentials, AuthFailure> {
        let claims = decode_claims(bearer_token(headers)?, secret, &validation())?;
        token::credentials(&claims, &fields())
    }

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
        let got = verify(&headers(authorization), &secret());
        let got = got.map(|c| (key(&c), c.entities_limit()));
        let expected = expected.map(|(k, l)| (k.to_owned(), l));
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
        let unconfigured = Verifier::new(None, None, fields()).unwrap();
        runtime().block_on(async {
            assert_eq!(
                unconfigured.verify(&headers(Some(&bearer(&t)))).await,
                Err(AuthFailure::NotConfigured)
            );
            // The header is still checked first.
            assert_eq!(
                unconfigured.verify(&headers(None)).await,
                Err(AuthFailure::MissingHeader)
            );
        });
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
        let credentials = verify(&headers(Some(&bearer(&t))), &secret()).unwrap();
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
        let hs = HsVerifier::new(secret(), fields());
        let now = u64::try_from(now()).unwrap();
        let token = sign(
            Algorithm::HS256,
            SECRET,
            &json!({"key": "k", "exp": now + 60, "nbf": now - 10}),
        );
        runtime().block_on(async {
            let first = hs.verify_at(&token, now).await.unwrap();
            assert_eq!(key(&first), "k");
            assert_eq!(hs.verified.len().await, 1);
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
        let hs = HsVerifier::new(secret(), fields());
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
            assert_eq!(hs.verified.len().await, 0);
        });
        assert_eq!(
            format!("{:?}", Verifier::SecretKey(Some(Box::new(hs)))),
            "Verifier::SecretKey(<redacted>)"
        );
    }
}
