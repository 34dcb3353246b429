//! HS256 tokens as Threat Response sends them: any claims, signed with a relay's `SECRET_KEY`.

use serde_json::Value;

/// `claims` signed with HS256 and `secret`.
pub fn hs256(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("JSON claims always encode")
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
}
