//! Tokens as Threat Response sends them: HS256, any claims signed with a relay's `SECRET_KEY`;
//! and RS256 configuration tokens signed by a platform key ([`Platform`]), whose public half a
//! stand-in's key server publishes.

use std::sync::LazyLock;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{self, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// `claims` signed with HS256 and `secret`.
pub fn hs256(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("JSON claims always encode")
}

/// Cisco XDR's signing key as a test has it: one RSA key per test process (made once: RSA
/// key generation is slow in a debug build), its public half as a JWK, and RS256 tokens.
#[derive(Debug, Clone, Copy)]
pub struct Platform;

/// The key id the platform's tokens and its JWK carry.
pub const PLATFORM_KID: &str = "xdr-key-1";

static PLATFORM_KEY: LazyLock<KeyPair> =
    LazyLock::new(|| KeyPair::generate(KeySize::Rsa2048).expect("an RSA key"));

impl Platform {
    /// An RS256 token of `claims`, signed by the platform's key as [`PLATFORM_KID`].
    pub fn token(claims: &Value) -> String {
        let b64 = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": PLATFORM_KID});
        let message = format!("{}.{}", b64(&header), b64(claims));
        let mut signature = vec![0; PLATFORM_KEY.public_modulus_len()];
        PLATFORM_KEY
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message.as_bytes(),
                &mut signature,
            )
            .expect("an RS256 signature");
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// The platform's public key as a JWK (what a key server publishes).
    pub fn jwk() -> Value {
        let public = PublicKeyComponents::<Vec<u8>>::from(PLATFORM_KEY.public_key());
        json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": PLATFORM_KID,
            "n": URL_SAFE_NO_PAD.encode(&public.n),
            "e": URL_SAFE_NO_PAD.encode(&public.e),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signs_with_the_secret() {
        let token = super::hs256("s3cret", &serde_json::json!({"key": "k"}));
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.required_spec_claims.clear();
        let decoded = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &jsonwebtoken::DecodingKey::from_secret(b"s3cret"),
            &validation,
        )
        .unwrap();
        assert_eq!(decoded.claims["key"], "k");
        assert!(
            jsonwebtoken::decode::<serde_json::Value>(
                &token,
                &jsonwebtoken::DecodingKey::from_secret(b"other"),
                &validation,
            )
            .is_err()
        );
    }

    #[test]
    fn the_platform_signs_what_its_jwk_verifies() {
        let token = super::Platform::token(&serde_json::json!({"key": "k"}));
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(super::Platform::jwk()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.required_spec_claims.clear();
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let decoded = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation).unwrap();
        assert_eq!(decoded.claims["key"], "k");
        assert_eq!(decoded.header.kid.as_deref(), Some(super::PLATFORM_KID));
    }
}
