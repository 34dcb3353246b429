//! The envelopes a Threat Response module answers with.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize};

use crate::{Indicator, Judgement, Relationship, Sighting, Verdict};

/// A group of entities as CTIM bundles carry them: `{"count": n, "docs": [...]}`.
///
/// `count` is not stored: it is written as the number of docs, so it cannot be wrong, and
/// reading rejects a `count` that differs from the number of docs.
///
/// ```
/// use ctim_model::Docs;
///
/// let docs: Docs<u8> = vec![1, 2, 3].into();
/// assert_eq!(serde_json::to_string(&docs).unwrap(), r#"{"count":3,"docs":[1,2,3]}"#);
/// assert!(serde_json::from_str::<Docs<u8>>(r#"{"count":2,"docs":[1,2,3]}"#).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Docs<T> {
    docs: Vec<T>,
}

impl<T> Docs<T> {
    /// An empty group.
    #[must_use]
    pub const fn new() -> Docs<T> {
        Docs { docs: Vec::new() }
    }

    /// Adds a doc.
    pub fn push(&mut self, doc: T) {
        self.docs.push(doc);
    }

    /// The number of docs (the `count` written).
    #[must_use]
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether there are no docs.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// The docs.
    #[must_use]
    pub fn as_slice(&self) -> &[T] {
        &self.docs
    }

    /// The docs, owned.
    #[must_use]
    pub fn into_vec(self) -> Vec<T> {
        self.docs
    }
}

impl<T> Default for Docs<T> {
    fn default() -> Self {
        Docs::new()
    }
}

impl<T> From<Vec<T>> for Docs<T> {
    fn from(docs: Vec<T>) -> Self {
        Docs { docs }
    }
}

impl<T> FromIterator<T> for Docs<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Docs {
            docs: iter.into_iter().collect(),
        }
    }
}

impl<T> Extend<T> for Docs<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        self.docs.extend(iter);
    }
}

impl<'a, T> IntoIterator for &'a Docs<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.docs.iter()
    }
}

impl<T> IntoIterator for Docs<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.docs.into_iter()
    }
}

impl<T: Serialize> Serialize for Docs<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("Docs", 2)?;
        out.serialize_field("count", &self.docs.len())?;
        out.serialize_field("docs", &self.docs)?;
        out.end()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocsIn<T> {
    count: u64,
    docs: Vec<T>,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Docs<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let DocsIn { count, docs } = DocsIn::deserialize(deserializer)?;
        if usize::try_from(count).ok() == Some(docs.len()) {
            Ok(Docs { docs })
        } else {
            Err(serde::de::Error::custom(format_args!(
                "count is {count} but there are {} docs",
                docs.len()
            )))
        }
    }
}

impl<T: JsonSchema> JsonSchema for Docs<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("Docs_for_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "properties": {
                "count": { "type": "integer", "minimum": 0 },
                "docs": { "type": "array", "items": generator.subschema_for::<T>() },
            },
            "required": ["count", "docs"],
            "additionalProperties": false,
        })
    }
}

/// The `data` of an observe answer: each kind of entity in its own [`Docs`] group, and empty
/// groups left out. With only verdicts filled it is also the `data` of a deliberate answer.
///
/// ```
/// use ctim_model::{Disposition, Observable, ObservableType, ObserveBundle, ValidTime, Verdict};
///
/// let mut bundle = ObserveBundle::default();
/// let ip = Observable::new(ObservableType::Ip, "192.0.2.1");
/// bundle.verdicts.push(Verdict::new(Disposition::Unknown, ip, ValidTime::default()));
///
/// let json = serde_json::to_value(&bundle).unwrap();
/// assert_eq!(json["verdicts"]["count"], 1);
/// assert!(json.get("sightings").is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "ObserveBundle")]
#[non_exhaustive]
pub struct ObserveBundle {
    /// Verdicts.
    #[serde(default, skip_serializing_if = "Docs::is_empty")]
    pub verdicts: Docs<Verdict>,
    /// Judgements.
    #[serde(default, skip_serializing_if = "Docs::is_empty")]
    pub judgements: Docs<Judgement>,
    /// Indicators.
    #[serde(default, skip_serializing_if = "Docs::is_empty")]
    pub indicators: Docs<Indicator>,
    /// Sightings.
    #[serde(default, skip_serializing_if = "Docs::is_empty")]
    pub sightings: Docs<Sighting>,
    /// Relationships.
    #[serde(default, skip_serializing_if = "Docs::is_empty")]
    pub relationships: Docs<Relationship>,
}

impl ObserveBundle {
    /// Whether every group is empty (the bundle writes `{}`).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.verdicts.is_empty()
            && self.judgements.is_empty()
            && self.indicators.is_empty()
            && self.sightings.is_empty()
            && self.relationships.is_empty()
    }
}
