//! Relationship: a typed link from one entity to another.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::validate::{Checker, LONG, MED, Problems, SHORT};
use crate::{CTIM_SCHEMA_VERSION, ExternalReference, Id, RelationshipType, Text, Timestamp, Tlp};

type_tag!(RelationshipTypeTag, "relationship");

/// A relationship: `source_ref` is `relationship_type` of `target_ref`, e.g. a sighting is a
/// `member-of` an indicator.
///
/// ```
/// use ctim_model::{Id, Relationship, RelationshipType};
///
/// let sighting = Id::transient("sighting");
/// let indicator = Id::transient_from_name("indicator", "FAIL2BAN-SSH Blocklist.de");
/// let link = Relationship::new(
///     Id::transient("relationship"),
///     RelationshipType::MemberOf,
///     sighting.clone(),
///     indicator,
/// );
/// assert!(link.validate().is_ok());
/// let json = serde_json::to_value(&link).unwrap();
/// assert_eq!(json["relationship_type"], "member-of");
/// assert_eq!(json["source_ref"], sighting.as_str());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Relationship")]
#[non_exhaustive]
pub struct Relationship {
    /// Globally unique URI identifying this relationship.
    pub id: Id,
    #[serde(rename = "type")]
    r#type: RelationshipTypeTag,
    /// CTIM schema version of this entity; [`CTIM_SCHEMA_VERSION`] by default.
    pub schema_version: Cow<'static, str>,
    /// The kind of link.
    pub relationship_type: RelationshipType,
    /// The entity the link starts from.
    pub source_ref: Id,
    /// The entity the link leads to.
    pub target_ref: Id,
    /// A description (Markdown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 5000))]
    pub description: Option<Text>,
    /// External identifiers to correlate with other systems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_ids: Vec<Text>,
    /// References to non-CTIM information.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_references: Vec<ExternalReference>,
    /// The primary language of the affected system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub language: Option<Text>,
    /// Revision, incremented each time the entity changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    /// A one-line summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub short_description: Option<Text>,
    /// The source of the intelligence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub source: Option<Text>,
    /// URI of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_uri: Option<Text>,
    /// When the entity was created or last modified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// A short title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub title: Option<Text>,
    /// How widely the entity may be shared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlp: Option<Tlp>,
}

impl Relationship {
    /// CTIM's `type` of a relationship.
    pub const TYPE: &'static str = "relationship";

    /// A relationship with every required field; `schema_version` is [`CTIM_SCHEMA_VERSION`].
    #[must_use]
    pub fn new(
        id: Id,
        relationship_type: RelationshipType,
        source_ref: Id,
        target_ref: Id,
    ) -> Relationship {
        Relationship {
            id,
            r#type: RelationshipTypeTag,
            schema_version: Cow::Borrowed(CTIM_SCHEMA_VERSION),
            relationship_type,
            source_ref,
            target_ref,
            description: None,
            external_ids: Vec::new(),
            external_references: Vec::new(),
            language: None,
            revision: None,
            short_description: None,
            source: None,
            source_uri: None,
            timestamp: None,
            title: None,
            tlp: None,
        }
    }

    /// Checks what serde cannot (see [`Problems`]); reports every problem found.
    ///
    /// # Errors
    /// [`Problems`] listing each problem.
    pub fn validate(&self) -> Result<(), Problems> {
        let mut c = Checker::default();
        c.own_id(&self.id, Self::TYPE);
        c.reference("source_ref", &self.source_ref);
        c.reference("target_ref", &self.target_ref);
        c.opt_text("description", self.description.as_deref(), LONG);
        c.external_references(&self.external_references);
        c.opt_text("language", self.language.as_deref(), SHORT);
        c.opt_text("short_description", self.short_description.as_deref(), MED);
        c.opt_text("source", self.source.as_deref(), MED);
        c.opt_text("title", self.title.as_deref(), SHORT);
        c.finish()
    }
}
