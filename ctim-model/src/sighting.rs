//! Sighting: a record that observables were seen, by what, when and where.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::validate::{Checker, LONG, MED, ProblemKind, Problems, SHORT};
use crate::{
    CTIM_SCHEMA_VERSION, ColumnType, Confidence, ExternalReference, Id, Observable,
    ObservedRelationType, ObservedTime, Resolution, Sensor, Severity, Text, Timestamp, Tlp,
};

type_tag!(SightingType, "sighting");

/// A sighting: observables seen by a source at a time, with what else is known.
///
/// ```
/// use ctim_model::{
///     Confidence, Id, Observable, ObservableType, ObservedTime, Severity, Sighting, Timestamp, Tlp,
/// };
///
/// let mut sighting = Sighting::new(
///     Id::transient("sighting"),
///     1,
///     Confidence::High,
///     ObservedTime::at(Timestamp::now()),
/// );
/// sighting.description = Some("Found on blocklist".into());
/// sighting.observables = vec![Observable::new(ObservableType::Ip, "192.0.2.1")];
/// sighting.source = Some("Fail2Ban and Blocklist.de services".into());
/// sighting.source_uri = Some("http://www.blocklist.de".into());
/// sighting.tlp = Some(Tlp::White);
/// sighting.severity = Some(Severity::High);
///
/// assert!(sighting.validate().is_ok());
/// let json = serde_json::to_value(&sighting).unwrap();
/// assert_eq!(json["count"], 1);
/// assert_eq!(json["observed_time"]["start_time"], json["observed_time"]["end_time"]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Sighting")]
#[non_exhaustive]
pub struct Sighting {
    /// Globally unique URI identifying this sighting.
    pub id: Id,
    #[serde(rename = "type")]
    r#type: SightingType,
    /// CTIM schema version of this entity; [`CTIM_SCHEMA_VERSION`] by default.
    pub schema_version: Cow<'static, str>,
    /// How many times the observables were seen in `observed_time`.
    pub count: u64,
    /// Confidence in the sighting.
    pub confidence: Confidence,
    /// When the observables were seen.
    pub observed_time: ObservedTime,
    /// When the malicious activity took place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_interval: Option<ObservedTime>,
    /// Events that give context (CTIM's `Context` object, kept as raw JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
    /// An embedded data table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<SightingDataTable>,
    /// A description (Markdown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 5000))]
    pub description: Option<Text>,
    /// When the source detected the activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection_interval: Option<ObservedTime>,
    /// External identifiers to correlate with other systems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_ids: Vec<Text>,
    /// References to non-CTIM information.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_references: Vec<ExternalReference>,
    /// Whether the sighting comes from the organisation's own sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal: Option<bool>,
    /// The primary language of the affected system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub language: Option<Text>,
    /// When the record was created or last updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modification_interval: Option<ObservedTime>,
    /// The observables of interest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observables: Vec<Observable>,
    /// How observables relate to one another.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relations: Vec<ObservedRelation>,
    /// What was done about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    /// Revision, incremented each time the entity changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    /// The kind of device that made the sighting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor: Option<Sensor>,
    /// The device that made the sighting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor_coordinates: Option<SensorCoordinates>,
    /// Severity of the threat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
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
    /// The targets that saw the observables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<IdentitySpecification>,
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

impl Sighting {
    /// CTIM's `type` of a sighting.
    pub const TYPE: &'static str = "sighting";

    /// A sighting with every required field; `schema_version` is [`CTIM_SCHEMA_VERSION`].
    #[must_use]
    pub fn new(
        id: Id,
        count: u64,
        confidence: Confidence,
        observed_time: ObservedTime,
    ) -> Sighting {
        Sighting {
            id,
            r#type: SightingType,
            schema_version: Cow::Borrowed(CTIM_SCHEMA_VERSION),
            count,
            confidence,
            observed_time,
            activity_interval: None,
            context: None,
            data: None,
            description: None,
            detection_interval: None,
            external_ids: Vec::new(),
            external_references: Vec::new(),
            internal: None,
            language: None,
            modification_interval: None,
            observables: Vec::new(),
            relations: Vec::new(),
            resolution: None,
            revision: None,
            sensor: None,
            sensor_coordinates: None,
            severity: None,
            short_description: None,
            source: None,
            source_uri: None,
            targets: Vec::new(),
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
        c.observed_time("observed_time", &self.observed_time);
        let intervals = [
            ("activity_interval", &self.activity_interval),
            ("detection_interval", &self.detection_interval),
            ("modification_interval", &self.modification_interval),
        ];
        for (field, interval) in intervals {
            if let Some(interval) = interval {
                c.observed_time(field, interval);
            }
        }
        if let Some(data) = &self.data {
            data.check(&mut c);
        }
        c.opt_text("description", self.description.as_deref(), LONG);
        c.external_references(&self.external_references);
        c.opt_text("language", self.language.as_deref(), SHORT);
        c.observables("observables", &self.observables);
        for (i, relation) in self.relations.iter().enumerate() {
            c.observable(&format!("relations[{i}].source"), &relation.source);
            c.observable(&format!("relations[{i}].related"), &relation.related);
        }
        if let Some(coordinates) = &self.sensor_coordinates {
            c.observables("sensor_coordinates.observables", &coordinates.observables);
        }
        c.opt_text("short_description", self.short_description.as_deref(), MED);
        c.opt_text("source", self.source.as_deref(), MED);
        for (i, target) in self.targets.iter().enumerate() {
            c.observables(&format!("targets[{i}].observables"), &target.observables);
            c.observed_time(
                &format!("targets[{i}].observed_time"),
                &target.observed_time,
            );
        }
        c.opt_text("title", self.title.as_deref(), SHORT);
        c.finish()
    }
}

/// The device that made a sighting, with observables that identify it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SensorCoordinates {
    /// The kind of device.
    #[serde(rename = "type")]
    pub kind: Sensor,
    /// Observables that identify the device.
    pub observables: Vec<Observable>,
    /// Its operating system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<Text>,
}

/// A target of a sighting (CTIM's `IdentitySpecification`): a device that saw the observables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentitySpecification {
    /// The kind of device.
    #[serde(rename = "type")]
    pub kind: Sensor,
    /// Observables that identify the target.
    pub observables: Vec<Observable>,
    /// When the target was seen.
    pub observed_time: ObservedTime,
    /// Its operating system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<Text>,
}

/// How two observables in a sighting relate, and who says so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObservedRelation {
    /// Who established the relation.
    pub origin: Text,
    /// A URI for the origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_uri: Option<Text>,
    /// The kind of relation.
    pub relation: ObservedRelationType,
    /// Free-form details about the relation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation_info: Option<Map<String, Value>>,
    /// The observable the relation starts from.
    pub source: Observable,
    /// The observable it leads to.
    pub related: Observable,
}

/// A data table embedded in a sighting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SightingDataTable {
    /// The columns, in order.
    pub columns: Vec<ColumnDefinition>,
    /// The rows, in order; each is a list of JSON values, one per column.
    pub rows: Vec<Vec<Value>>,
    /// The number of rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_count: Option<u64>,
}

impl SightingDataTable {
    fn check(&self, c: &mut Checker) {
        if let Some(row_count) = self.row_count
            && usize::try_from(row_count).ok() != Some(self.rows.len())
        {
            let rows = self.rows.len();
            c.report("data", ProblemKind::RowCountMismatch { row_count, rows });
        }
        for (i, column) in self.columns.iter().enumerate() {
            let description = column.description.as_deref();
            c.opt_text(&format!("data.columns[{i}].description"), description, LONG);
        }
    }
}

/// A column of a [`SightingDataTable`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnDefinition {
    /// The column's name.
    pub name: Text,
    /// The type of its values.
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// A description (Markdown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 5000))]
    pub description: Option<Text>,
    /// Whether entries may be null (CTIM's default is `true`: they may not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    /// A one-line summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_description: Option<Text>,
}
