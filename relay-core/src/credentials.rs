//! The caller's credentials: the token payload fields a provider declares it reads (as a Threat
//! Response module type's `configuration_spec` does), checked by relay-core when the token
//! verifies, and handed to the provider typed. Their `Debug` names fields, never values.

use std::borrow::Cow;
use std::fmt;

use axum::http::HeaderValue;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{AuthFailure, RelayError};

/// The payload field every relay reads itself: the caller's most sightings per observable.
pub(crate) const ENTITIES_LIMIT: &str = "CTR_ENTITIES_LIMIT";

/// What a [`CredentialField`] holds, as the `type` of a `configuration_spec` entry says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialKind {
    /// A non-empty string that can be sent in an HTTP header (no control character such as a
    /// newline): an API key, a token, a password. `configuration_spec` type `api_key`.
    ApiKey,
    /// A non-empty string. `configuration_spec` type `string`.
    Text,
    /// A whole number above zero. `configuration_spec` type `integer`.
    PositiveInteger,
    /// `true` or `false` (JSON booleans). `configuration_spec` type `boolean`.
    Boolean,
}

impl CredentialKind {
    /// The `type` of a module type's `configuration_spec` entry for this kind.
    #[must_use]
    pub fn spec_type(self) -> &'static str {
        match self {
            Self::ApiKey => "api_key",
            Self::Text => "string",
            Self::PositiveInteger => "integer",
            Self::Boolean => "boolean",
        }
    }

    /// What a value of this kind is, for messages: `a non-empty string`.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::ApiKey => "a non-empty string without control characters",
            Self::Text => "a non-empty string",
            Self::PositiveInteger => "a positive integer",
            Self::Boolean => "true or false",
        }
    }

    /// Whether `value` is a value of this kind.
    pub(crate) fn accepts(self, value: &Value) -> bool {
        match (self, value) {
            (Self::ApiKey, Value::String(s)) => !s.is_empty() && HeaderValue::from_str(s).is_ok(),
            (Self::Text, Value::String(s)) => !s.is_empty(),
            (Self::PositiveInteger, value) => value.as_u64().is_some_and(|n| n > 0),
            (Self::Boolean, value) => value.is_boolean(),
            _ => false,
        }
    }
}

/// One field a provider reads from the token payload, as it would appear in its module type's
/// `configuration_spec`.
///
/// When a token verifies, relay-core checks every declared field: a required field that is
/// missing or of the wrong kind fails the request with `Authorization failed: Wrong JWT
/// payload structure` (as a token without a key always has), an optional one of the wrong kind
/// is left out. Fields not declared never reach the provider. `CTR_ENTITIES_LIMIT` is not a
/// provider's field: relay-core reads it for every provider ([`Context::entities_limit`](crate::Context::entities_limit)).
///
/// ```
/// use xdr_relay_core::{CredentialField, CredentialKind};
/// const KEY: CredentialField =
///     CredentialField::required("key", CredentialKind::ApiKey, "the Example Intel API key");
/// assert!(KEY.required);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CredentialField {
    /// The payload key, e.g. `key`.
    pub name: Cow<'static, str>,
    /// What it holds.
    pub kind: CredentialKind,
    /// Whether a token without it is refused.
    pub required: bool,
    /// What it is, as a noun phrase that fits "the payload carries `description` as `name`",
    /// e.g. `the Auth0 Signals API key`. Used in the OpenAPI document, the module type's
    /// tooltip and the `jwt` command's prompt.
    pub description: Cow<'static, str>,
    /// A short label for forms, e.g. `API Key`: the module type's `label`. Default `None`:
    /// the name ([`form_label`](Self::form_label)).
    pub label: Option<&'static str>,
}

impl CredentialField {
    /// A field every token must carry.
    #[must_use]
    pub const fn required(
        name: &'static str,
        kind: CredentialKind,
        description: &'static str,
    ) -> Self {
        Self {
            name: Cow::Borrowed(name),
            kind,
            required: true,
            description: Cow::Borrowed(description),
            label: None,
        }
    }

    /// A field a token may carry.
    #[must_use]
    pub const fn optional(
        name: &'static str,
        kind: CredentialKind,
        description: &'static str,
    ) -> Self {
        Self {
            name: Cow::Borrowed(name),
            kind,
            required: false,
            description: Cow::Borrowed(description),
            label: None,
        }
    }

    /// The same field with a form `label` (the module type's), e.g. `API Key`.
    #[must_use]
    pub const fn label(mut self, label: &'static str) -> Self {
        self.label = Some(label);
        self
    }

    /// Its form label: [`label`](Self::label), else its name.
    #[must_use]
    pub fn form_label(&self) -> &str {
        self.label.unwrap_or(&self.name)
    }
}

/// The credentials of a verified token: the fields its provider declared, each checked against
/// its [`CredentialKind`], and the caller's `CTR_ENTITIES_LIMIT`.
///
/// Read them with the typed getters, or all at once into a struct of the provider's with
/// [`deserialize`](Self::deserialize). Values are secrets: `Debug` prints field names only,
/// and no error of this type quotes a value.
///
/// ```
/// use serde_json::json;
/// use xdr_relay_core::{CredentialField, CredentialKind, Credentials};
///
/// let fields = [CredentialField::required("key", CredentialKind::ApiKey, "the API key")];
/// let payload = json!({"key": "s3cr3t", "exp": 2_000_000_000, "CTR_ENTITIES_LIMIT": 5});
/// let credentials = Credentials::from_payload(payload.as_object().unwrap(), &fields).unwrap();
/// assert_eq!(credentials.str("key"), Some("s3cr3t"));
/// assert_eq!(credentials.str("exp"), None); // not declared
/// assert_eq!(credentials.entities_limit(), Some(5));
/// assert!(!format!("{credentials:?}").contains("s3cr3t"));
///
/// #[derive(serde::Deserialize)]
/// struct Mine { key: String }
/// let mine: Mine = credentials.deserialize().unwrap();
/// assert_eq!(mine.key, "s3cr3t");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    fields: Map<String, Value>,
    entities_limit: Option<usize>,
}

impl Credentials {
    /// The credentials in a verified token `payload`, for a provider that declared `fields`.
    ///
    /// relay-core calls it once per token; providers call it in their tests.
    ///
    /// # Errors
    ///
    /// [`AuthFailure::WrongPayload`] when a required field is missing or not of its kind.
    pub fn from_payload(
        payload: &Map<String, Value>,
        fields: &[CredentialField],
    ) -> Result<Self, AuthFailure> {
        let mut kept = Map::new();
        for field in fields {
            match payload.get(field.name.as_ref()) {
                Some(value) if field.kind.accepts(value) => {
                    kept.insert(field.name.clone().into_owned(), value.clone());
                }
                _ if field.required => return Err(AuthFailure::WrongPayload),
                _ => {}
            }
        }
        let entities_limit = payload
            .get(ENTITIES_LIMIT)
            .and_then(Value::as_u64)
            .filter(|&n| n > 0)
            .and_then(|n| usize::try_from(n).ok());
        Ok(Self {
            fields: kept,
            entities_limit,
        })
    }

    /// The string field `name` (an [`ApiKey`](CredentialKind::ApiKey) or a
    /// [`Text`](CredentialKind::Text)), when the token carries it.
    #[must_use]
    pub fn str(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }

    /// The [`PositiveInteger`](CredentialKind::PositiveInteger) field `name`, when the token
    /// carries it.
    #[must_use]
    pub fn integer(&self, name: &str) -> Option<u64> {
        self.fields.get(name).and_then(Value::as_u64)
    }

    /// The [`Boolean`](CredentialKind::Boolean) field `name`, when the token carries it.
    #[must_use]
    pub fn boolean(&self, name: &str) -> Option<bool> {
        self.fields.get(name).and_then(Value::as_bool)
    }

    /// The string field `name`, or the error a missing credential is: for the rare provider
    /// that declares a field optional yet cannot work without it.
    ///
    /// # Errors
    ///
    /// [`AuthFailure::WrongPayload`] (as a [`RelayError`]) when the field is absent.
    pub fn require_str(&self, name: &str) -> Result<&str, RelayError> {
        self.str(name)
            .ok_or(RelayError::Authorization(AuthFailure::WrongPayload))
    }

    /// The token's `CTR_ENTITIES_LIMIT`, when it is a positive integer.
    #[must_use]
    pub fn entities_limit(&self) -> Option<usize> {
        self.entities_limit
    }

    /// Every declared field as one value of the provider's type (serde), e.g. a struct with
    /// a field per credential.
    ///
    /// # Errors
    ///
    /// [`AuthFailure::WrongPayload`] (as a [`RelayError`]) when the fields do not fit `T`; the
    /// error never quotes a value.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, RelayError> {
        T::deserialize(&Value::Object(self.fields.clone()))
            .map_err(|_| RelayError::Authorization(AuthFailure::WrongPayload))
    }
}

impl Credentials {
    /// Who the caller is, without their secrets: the SHA-256 of every declared field (names
    /// and values), for keying what is kept per caller (a lookup cache, a rate limit). Two
    /// tokens with the same credentials have the same digest; `CTR_ENTITIES_LIMIT` is not
    /// part of it.
    ///
    /// ```
    /// use serde_json::json;
    /// use xdr_relay_core::{CredentialField, CredentialKind, Credentials};
    ///
    /// let fields = [CredentialField::required("key", CredentialKind::ApiKey, "the API key")];
    /// let of = |payload: serde_json::Value| {
    ///     Credentials::from_payload(payload.as_object().unwrap(), &fields).unwrap().digest()
    /// };
    /// assert_eq!(of(json!({"key": "a"})), of(json!({"key": "a", "CTR_ENTITIES_LIMIT": 3})));
    /// assert_ne!(of(json!({"key": "a"})), of(json!({"key": "b"})));
    /// assert_eq!(format!("{:?}", of(json!({"key": "a"}))), "CallerDigest(..)");
    /// ```
    #[must_use]
    pub fn digest(&self) -> CallerDigest {
        use sha2::Digest as _;
        let mut hasher = sha2::Sha256::new();
        // A map of declared fields in name order (serde_json's map is ordered): each name and
        // value, length-prefixed so that no two different maps hash the same bytes.
        for (name, value) in &self.fields {
            let value = value.to_string();
            for part in [name.as_bytes(), value.as_bytes()] {
                hasher.update((part.len() as u64).to_be_bytes());
                hasher.update(part);
            }
        }
        CallerDigest(hasher.finalize().into())
    }
}

/// The SHA-256 of a caller's credentials ([`Credentials::digest`]): tells callers apart
/// without holding a secret. `Debug` prints nothing of it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallerDigest([u8; 32]);

impl CallerDigest {
    /// The digest of one secret alone (a provider whose caller is one API key it was given
    /// outside a token, or a test).
    #[must_use]
    pub fn of_secret(secret: &str) -> Self {
        use sha2::Digest as _;
        Self(sha2::Sha256::digest(secret.as_bytes()).into())
    }
}

impl fmt::Debug for CallerDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallerDigest(..)")
    }
}

impl fmt::Debug for Credentials {
    /// Field names only: the values are secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .field("entities_limit", &self.entities_limit)
            .finish()
    }
}

/// Why a provider's declared fields cannot work, or `None`: names must be non-empty and
/// distinct, and `CTR_ENTITIES_LIMIT` is relay-core's own.
pub(crate) fn check_fields(fields: &[CredentialField]) -> Option<String> {
    for (i, field) in fields.iter().enumerate() {
        if field.name.is_empty() {
            return Some("a credential field has an empty name".into());
        }
        if field.name == ENTITIES_LIMIT {
            return Some(format!(
                "{ENTITIES_LIMIT} is read by relay-core for every provider; do not declare it"
            ));
        }
        if fields[..i].iter().any(|f| f.name == field.name) {
            return Some(format!(
                "the credential field {} is declared twice",
                field.name
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const FIELDS: [CredentialField; 4] = [
        CredentialField::required("key", CredentialKind::ApiKey, "the key"),
        CredentialField::optional("region", CredentialKind::Text, "the region"),
        CredentialField::optional("max", CredentialKind::PositiveInteger, "a bound"),
        CredentialField::optional("strict", CredentialKind::Boolean, "a switch"),
    ];

    fn check(payload: Value, expected: Result<Value, AuthFailure>) {
        let got = Credentials::from_payload(payload.as_object().unwrap(), &FIELDS)
            .map(|c| Value::Object(c.fields));
        assert_eq!(got, expected, "{payload}");
    }

    #[test]
    fn declared_fields_are_checked_and_kept() {
        check(
            json!({"key": "k", "region": "eu", "max": 3, "strict": true, "other": 1}),
            Ok(json!({"key": "k", "region": "eu", "max": 3, "strict": true})),
        );
        // Optional fields of the wrong kind are left out, not errors.
        check(
            json!({"key": "k", "region": "", "max": 0, "strict": "yes"}),
            Ok(json!({"key": "k"})),
        );
        check(json!({"key": "k", "max": -1}), Ok(json!({"key": "k"})));
        check(json!({"key": "k", "max": 2.5}), Ok(json!({"key": "k"})));
        // A required field missing or not an API key fails the token.
        for key in [
            json!(null),
            json!(""),
            json!(7),
            json!("a\nb"),
            json!("\u{7f}"),
        ] {
            check(json!({"key": key}), Err(AuthFailure::WrongPayload));
        }
        check(json!({}), Err(AuthFailure::WrongPayload));
        // A tab and non-ASCII text can be sent in a header.
        check(json!({"key": "a\tb"}), Ok(json!({"key": "a\tb"})));
    }

    #[test]
    fn getters_are_typed_and_debug_is_redacted() {
        let payload = json!({"key": "hunter2", "max": 9, "strict": false, "CTR_ENTITIES_LIMIT": 4});
        let credentials = Credentials::from_payload(payload.as_object().unwrap(), &FIELDS).unwrap();
        assert_eq!(credentials.str("key"), Some("hunter2"));
        assert_eq!(credentials.require_str("key"), Ok("hunter2"));
        assert_eq!(
            credentials.require_str("region"),
            Err(RelayError::Authorization(AuthFailure::WrongPayload))
        );
        assert_eq!(credentials.integer("max"), Some(9));
        assert_eq!(credentials.integer("key"), None);
        assert_eq!(credentials.boolean("strict"), Some(false));
        assert_eq!(credentials.entities_limit(), Some(4));
        let debug = format!("{credentials:?}");
        assert!(
            !debug.contains("hunter2") && debug.contains("key"),
            "{debug}"
        );

        #[derive(serde::Deserialize, Debug)]
        struct Wrong {
            #[allow(dead_code)]
            max: String,
        }
        let error = credentials.deserialize::<Wrong>().unwrap_err();
        assert!(!error.to_string().contains('9'), "{error}");
    }

    #[test]
    fn field_lists_are_checked() {
        assert_eq!(check_fields(&FIELDS), None);
        let twice = [FIELDS[0].clone(), FIELDS[0].clone()];
        assert!(check_fields(&twice).unwrap().contains("twice"));
        let reserved = [CredentialField::optional(
            "CTR_ENTITIES_LIMIT",
            CredentialKind::PositiveInteger,
            "a limit",
        )];
        assert!(check_fields(&reserved).is_some());
        let empty = [CredentialField::optional("", CredentialKind::Text, "x")];
        assert!(check_fields(&empty).is_some());
    }
}
