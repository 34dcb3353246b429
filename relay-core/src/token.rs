//! What both token modes share: reading a token's parts, mapping jsonwebtoken's failures to the
//! caller's reasons, the credentials in a verified payload, and the memory of verified tokens.
//!
//! [`crate::auth`] (HS256) and [`crate::jwks`] (RS256) both build on it.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Header;
use jsonwebtoken::errors::ErrorKind;
use moka::future::Cache;
use serde_json::{Map, Value};

use crate::credentials::{CredentialField, Credentials};
use crate::error::AuthFailure;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub(crate) const LEEWAY_SECONDS: u64 = 30;

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

/// The credentials in a verified payload: the provider's declared `fields`, each of its kind
/// (a required one missing fails the token), and `CTR_ENTITIES_LIMIT` when it is a positive
/// integer.
pub(crate) fn credentials(
    claims: &Map<String, Value>,
    fields: &[CredentialField],
) -> Result<Credentials, AuthFailure> {
    Credentials::from_payload(claims, fields)
}

/// Part `index` of a token (0 the header, 1 the payload) as a JSON object, read without
/// checking the signature.
pub(crate) fn unverified_part(token: &str, index: usize) -> Option<Map<String, Value>> {
    let part = token.split('.').nth(index)?;
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Whether the token's header is a JSON object with a string `alg`.
fn names_an_algorithm(token: &str) -> bool {
    unverified_part(token, 0).is_some_and(|header| header.get("alg").is_some_and(Value::is_string))
}

/// Seconds since the epoch, as jsonwebtoken reads the clock (0 on a clock before 1970).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Most verified tokens remembered. Threat Response sends one token per module instance, so
/// a relay sees few distinct tokens; the bound only stops a flood of valid tokens from growing
/// memory.
const VERIFIED_TOKENS: u64 = 4096;
/// How long a verified token is remembered before it is checked in full again.
const VERIFIED_TOKEN_TTL: Duration = Duration::from_secs(600);

/// The tokens that passed a full verification, with their credentials and time claims.
///
/// Threat Response sends the same token with every call, and a full check (two base64
/// decodes, two JSON parses, a signature) is a large part of a request's own work. `exp` and `nbf` are checked again on every use, so a remembered token is refused
/// the moment it expires. Only tokens that verified may be remembered, and the key is the whole
/// token, so only a holder of the signing key can add an entry.
pub(crate) struct VerifiedTokens {
    cache: Cache<Token, Arc<Verified>>,
}

impl fmt::Debug for VerifiedTokens {
    /// The count only: the entries are tokens, which are secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedTokens")
            .field("entries", &self.cache.entry_count())
            .finish()
    }
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(VERIFIED_TOKENS)
                .time_to_live(VERIFIED_TOKEN_TTL)
                .build(),
        }
    }
}

impl VerifiedTokens {
    /// What `token` granted when it verified, its time claims checked again at `now` (epoch
    /// seconds); `None` when it is not remembered.
    pub(crate) async fn get(
        &self,
        token: &str,
        now: u64,
    ) -> Option<Result<Credentials, AuthFailure>> {
        let hit = self.cache.get(token).await?;
        Some(hit.check_time(now).map(|()| hit.credentials.clone()))
    }

    /// Remembers `token`, which has just verified with these `claims` and `credentials`.
    pub(crate) async fn remember(
        &self,
        token: &str,
        claims: &Map<String, Value>,
        credentials: &Credentials,
    ) {
        // jsonwebtoken has already refused an `exp` or `nbf` that is not a u64; should one
        // slip through, the token is just not remembered.
        if let (Ok(exp), Ok(nbf)) = (time_claim(claims, "exp"), time_claim(claims, "nbf")) {
            let verified = Verified {
                credentials: credentials.clone(),
                exp,
                nbf,
            };
            self.cache
                .insert(Token(Arc::from(token)), Arc::new(verified))
                .await;
        }
    }

    /// How many tokens are remembered, once pending inserts have landed.
    #[cfg(test)]
    pub(crate) async fn len(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.entry_count()
    }
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

/// A time claim: absent, or whole seconds since the epoch; `Err` for anything else.
fn time_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, ()> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value.as_u64().map(Some).ok_or(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unverified_parts_are_json_objects() {
        let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
        let token = format!(
            "{}.{}.s",
            b64(r#"{"alg":"none"}"#),
            b64(r#"{"jwks_host":"x"}"#)
        );
        assert_eq!(unverified_part(&token, 1).unwrap()["jwks_host"], "x");
        assert!(names_an_algorithm(&token));
        for token in ["h", "h.!!.s", &format!("h.{}.s", b64("[1]"))] {
            assert_eq!(unverified_part(token, 1), None, "{token}");
        }
    }
}
