//! Entity ids: the long CTIA form, the transient form, and ways to make them.

use std::borrow::Cow;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const TRANSIENT: &str = "transient:";

/// The id of a CTIM entity, or a reference to one.
///
/// Two forms are valid:
/// - long: `https://<host>/ctia/<type>/<type>-<uuid>` (also `http://`), given by CTIA;
/// - transient: `transient:<name>`, given by a producer such as a relay for entities that
///   are not stored; [`Id::transient`] makes `transient:<type>-<uuid v4>`.
///
/// Reading accepts any string (producers in the wild send other shapes); use
/// [`Id::is_valid`] or an entity's `validate()` to check.
///
/// ```
/// use ctim_model::Id;
///
/// let fresh = Id::transient("sighting");
/// assert!(fresh.as_str().starts_with("transient:sighting-"));
/// assert!(fresh.is_valid());
/// assert_eq!(fresh.kind(), Some("sighting"));
///
/// // The same name always gives the same id (uuid v5 in the X.500 namespace).
/// let feed = Id::transient_from_name("indicator", "FAIL2BAN-SSH Blocklist.de");
/// assert_eq!(feed, Id::transient_from_name("indicator", "FAIL2BAN-SSH Blocklist.de"));
///
/// let stored = Id::new("https://private.intel.amp.cisco.com/ctia/judgement/judgement-494d13ae-e914-43f0-883b-085062a8d9a1");
/// assert_eq!(stored.kind(), Some("judgement"));
/// assert!(!Id::new("judgement-1").is_valid());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Id(String);

impl Id {
    /// Wraps any string as an id, unchecked.
    pub fn new(id: impl Into<String>) -> Id {
        Id(id.into())
    }

    /// A fresh transient id, `transient:<kind>-<uuid v4>`, e.g. `Id::transient("judgement")`.
    #[must_use]
    pub fn transient(kind: &str) -> Id {
        Id::with_uuid(kind, Uuid::new_v4())
    }

    /// A deterministic transient id, `transient:<kind>-<uuid v5>`, where the uuid is the
    /// version 5 uuid of `name` in [`Uuid::NAMESPACE_X500`]. The same name always gives the
    /// same id, so an entity such as a feed indicator keeps one id across answers.
    #[must_use]
    pub fn transient_from_name(kind: &str, name: &str) -> Id {
        Id::with_uuid(kind, Uuid::new_v5(&Uuid::NAMESPACE_X500, name.as_bytes()))
    }

    fn with_uuid(kind: &str, uuid: Uuid) -> Id {
        let mut id = String::with_capacity(TRANSIENT.len() + kind.len() + 1 + 36);
        id.push_str(TRANSIENT);
        id.push_str(kind);
        id.push('-');
        id.push_str(uuid.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
        Id(id)
    }

    /// The id as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a transient id (`transient:...`).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        self.0.starts_with(TRANSIENT)
    }

    /// Whether the id has one of the two valid forms (see the type's documentation).
    #[must_use]
    pub fn is_valid(&self) -> bool {
        match self.0.strip_prefix(TRANSIENT) {
            Some(rest) => !rest.is_empty() && rest.chars().all(is_transient_char),
            None => long_form_kind(&self.0).is_some(),
        }
    }

    /// The entity type the id names, when it can be read from it: `judgement` in both
    /// `https://…/ctia/judgement/judgement-<uuid>` and `transient:judgement-<uuid>`.
    #[must_use]
    pub fn kind(&self) -> Option<&str> {
        match self.0.strip_prefix(TRANSIENT) {
            Some(rest) => kind_before_uuid(rest),
            None => long_form_kind(&self.0),
        }
    }
}

fn is_transient_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')
}

/// `<kind>-<uuid>` → `kind`, when the tail is a hyphenated uuid and the kind is a lowercase word.
fn kind_before_uuid(text: &str) -> Option<&str> {
    let split = text.len().checked_sub(37)?;
    let (kind, tail) = (text.get(..split)?, text.get(split..)?);
    let uuid = tail.strip_prefix('-')?;
    let is_kind = !kind.is_empty()
        && kind
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    (is_kind && Uuid::try_parse(uuid).is_ok()).then_some(kind)
}

/// `http(s)://<host>[/prefix]/ctia/<kind>/<kind>-<uuid>` → `kind`.
fn long_form_kind(text: &str) -> Option<&str> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    let mut segments = path.rsplit('/');
    let (last, kind, ctia) = (segments.next()?, segments.next()?, segments.next()?);
    let last_kind = kind_before_uuid(last)?;
    (ctia == "ctia" && last_kind == kind).then_some(kind)
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Id {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl JsonSchema for Id {
    fn schema_name() -> Cow<'static, str> {
        "Id".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string" })
    }
}

#[cfg(test)]
mod tests {
    use super::Id;

    fn check(id: &str, valid: bool, kind: Option<&str>) {
        let id = Id::new(id);
        assert_eq!(id.is_valid(), valid, "validity of {id}");
        assert_eq!(id.kind(), kind, "kind of {id}");
    }

    #[test]
    fn long_and_transient_forms() {
        let uuid = "494d13ae-e914-43f0-883b-085062a8d9a1";
        check(
            &format!("http://ex.tld/ctia/judgement/judgement-{uuid}"),
            true,
            Some("judgement"),
        );
        check(
            &format!("https://h:443/ctia/sighting/sighting-{uuid}"),
            true,
            Some("sighting"),
        );
        check(
            &format!("https://h/prefix/ctia/attack-pattern/attack-pattern-{uuid}"),
            true,
            Some("attack-pattern"),
        );
        check(
            &format!("https://h/ctia/judgement/sighting-{uuid}"),
            false,
            None,
        );
        check(
            &format!("https://h/api/judgement/judgement-{uuid}"),
            false,
            None,
        );
        check(
            &format!("ftp://h/ctia/judgement/judgement-{uuid}"),
            false,
            None,
        );
        check(
            &format!("https:///ctia/judgement/judgement-{uuid}"),
            false,
            None,
        );
        check(
            "https://h/ctia/judgement/judgement-not-a-uuid-at-all-0000000000000",
            false,
            None,
        );
        check(
            &format!("transient:judgement-{uuid}"),
            true,
            Some("judgement"),
        );
        check(
            "transient:ctim-tutorial-indicator-5206f31d14f7b1965dc97c1e",
            true,
            None,
        );
        check("transient:", false, None);
        check("transient:has space", false, None);
        check("string", false, None);
        check("", false, None);
        check("é", false, None);
    }

    #[test]
    fn made_ids_are_valid_and_named() {
        let fresh = Id::transient("relationship");
        assert!(fresh.is_valid());
        assert_eq!(fresh.kind(), Some("relationship"));
        assert_ne!(fresh, Id::transient("relationship"));

        let named = Id::transient_from_name("indicator", "Some Feed");
        let expected = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_X500, b"Some Feed");
        assert_eq!(named.as_str(), format!("transient:indicator-{expected}"));
        assert_ne!(named, Id::transient_from_name("indicator", "Other Feed"));
    }
}
