//! Sighting: a record that observables were seen, by what, when and where.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::validate::{Checker, LONG, MED, ProblemKind, Problems, SHORT};
use crate::{
    Bound, CTIM_SCHEMA_VERSION, ColumnType, Confidence, ExternalReference, Id, Observable,
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

    /// A builder of a sighting made at `observed_time`, that sets the other fields by name.
    /// Until set: a fresh `transient:sighting-<uuid v4>` id, `count` 1, confidence `Unknown`,
    /// `internal` false (a relay reports what an outside source saw), no observables.
    ///
    /// Every text it sets is clipped to its CTIM bound and a data table's `row_count` is its
    /// number of rows, so the sighting validates whatever an upstream sent; what stays yours
    /// to get right is what it takes as is: an [`Id`] you give (`id`), an observable type
    /// outside CTIM's list, and a time range that ends before it starts.
    ///
    /// ```
    /// use ctim_model::{
    ///     Confidence, Observable, ObservableType, ObservedRelation, ObservedRelationType,
    ///     ObservedTime, Sighting,
    /// };
    ///
    /// let ip = Observable::new(ObservableType::Ip, "192.0.2.1");
    /// let sighting = Sighting::builder(ObservedTime::now())
    ///     .observable(ip.clone())
    ///     .confidence(Confidence::High)
    ///     .source("Shodan InternetDB")
    ///     .source_uri("https://internetdb.shodan.io/192.0.2.1")
    ///     .title("Found in Shodan InternetDB")
    ///     .description("Open ports: 22, 80, 443. ".repeat(500)) // 12,500 characters
    ///     .relation(ObservedRelation::new(
    ///         "Shodan InternetDB",
    ///         Observable::new(ObservableType::Domain, "example.com"),
    ///         ObservedRelationType::ResolvedTo,
    ///         ip,
    ///     ))
    ///     .build();
    ///
    /// assert!(sighting.validate().is_ok());
    /// assert_eq!(sighting.count, 1);
    /// assert_eq!(sighting.internal, Some(false));
    /// assert_eq!(sighting.description.as_deref().map(|d| d.chars().count()), Some(5000));
    /// assert!(sighting.id.as_str().starts_with("transient:sighting-"));
    /// ```
    pub fn builder(observed_time: ObservedTime) -> SightingBuilder {
        let mut sighting = Sighting::new(
            Id::transient(Self::TYPE),
            1,
            Confidence::Unknown,
            observed_time,
        );
        sighting.internal = Some(false);
        SightingBuilder(sighting)
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

impl ObservedRelation {
    /// `source` relates to `related` as `relation` says, according to `origin` (who
    /// established it); no `origin_uri` or `relation_info` until set with
    /// [`with_origin_uri`](Self::with_origin_uri) and
    /// [`with_relation_info`](Self::with_relation_info).
    ///
    /// ```
    /// use ctim_model::{Observable, ObservableType, ObservedRelation, ObservedRelationType};
    ///
    /// let relation = ObservedRelation::new(
    ///     "AbuseIPDB",
    ///     Observable::new(ObservableType::Domain, "example.com"),
    ///     ObservedRelationType::ResolvedTo,
    ///     Observable::new(ObservableType::Ip, "192.0.2.1"),
    /// )
    /// .with_origin_uri("https://www.abuseipdb.com/check/192.0.2.1");
    ///
    /// let json = serde_json::to_value(&relation).unwrap();
    /// assert_eq!(json["relation"], "Resolved_To");
    /// assert_eq!(json["source"]["value"], "example.com");
    /// assert_eq!(json["related"]["type"], "ip");
    /// assert_eq!(json["origin_uri"], "https://www.abuseipdb.com/check/192.0.2.1");
    /// assert!(json.get("relation_info").is_none());
    /// ```
    pub fn new(
        origin: impl Into<Text>,
        source: Observable,
        relation: ObservedRelationType,
        related: Observable,
    ) -> ObservedRelation {
        ObservedRelation {
            origin: origin.into(),
            origin_uri: None,
            relation,
            relation_info: None,
            source,
            related,
        }
    }

    /// This relation with a URI for its origin.
    #[must_use]
    pub fn with_origin_uri(mut self, origin_uri: impl Into<Text>) -> ObservedRelation {
        self.origin_uri = Some(origin_uri.into());
        self
    }

    /// This relation with free-form details (a JSON object).
    ///
    /// ```
    /// use ctim_model::{Observable, ObservableType, ObservedRelation, ObservedRelationType};
    /// use serde_json::json;
    ///
    /// let info = json!({"port": 443}).as_object().cloned().unwrap_or_default();
    /// let relation = ObservedRelation::new(
    ///     "Example",
    ///     Observable::new(ObservableType::Ip, "192.0.2.1"),
    ///     ObservedRelationType::ConnectedTo,
    ///     Observable::new(ObservableType::Ip, "198.51.100.7"),
    /// )
    /// .with_relation_info(info);
    /// assert_eq!(serde_json::to_value(&relation).unwrap()["relation_info"]["port"], 443);
    /// ```
    #[must_use]
    pub fn with_relation_info(mut self, relation_info: Map<String, Value>) -> ObservedRelation {
        self.relation_info = Some(relation_info);
        self
    }
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
    /// A table of `columns` and `rows`, its `row_count` the number of rows.
    ///
    /// ```
    /// use ctim_model::{ColumnDefinition, ColumnType, SightingDataTable};
    /// use serde_json::json;
    ///
    /// let table = SightingDataTable::new(
    ///     vec![ColumnDefinition::new("port", ColumnType::Integer)],
    ///     vec![vec![json!(22)], vec![json!(443)]],
    /// );
    /// assert_eq!(table.row_count, Some(2));
    /// ```
    #[must_use]
    pub fn new(columns: Vec<ColumnDefinition>, rows: Vec<Vec<Value>>) -> SightingDataTable {
        let row_count = u64::try_from(rows.len()).ok();
        SightingDataTable {
            columns,
            rows,
            row_count,
        }
    }

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

impl ColumnDefinition {
    /// A column named `name` whose values have type `kind`, with nothing else said.
    ///
    /// ```
    /// use ctim_model::{ColumnDefinition, ColumnType};
    ///
    /// let column = ColumnDefinition::new("port", ColumnType::Integer);
    /// assert_eq!(
    ///     serde_json::to_string(&column).unwrap(),
    ///     r#"{"name":"port","type":"integer"}"#
    /// );
    /// ```
    pub fn new(name: impl Into<Text>, kind: ColumnType) -> ColumnDefinition {
        ColumnDefinition {
            name: name.into(),
            kind,
            description: None,
            required: None,
            short_description: None,
        }
    }
}

/// Builds a [`Sighting`] field by field, each text clipped to its CTIM bound; made by
/// [`Sighting::builder`], finished by [`build`](SightingBuilder::build).
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build()`"]
pub struct SightingBuilder(Sighting);

impl SightingBuilder {
    /// The id, instead of a fresh transient one.
    pub fn id(mut self, id: Id) -> Self {
        self.0.id = id;
        self
    }

    /// How many times the observables were seen in `observed_time` (default 1).
    pub fn count(mut self, count: u64) -> Self {
        self.0.count = count;
        self
    }

    /// Confidence in the sighting (default `Unknown`).
    pub fn confidence(mut self, confidence: Confidence) -> Self {
        self.0.confidence = confidence;
        self
    }

    /// Severity of the threat.
    pub fn severity(mut self, severity: Severity) -> Self {
        self.0.severity = Some(severity);
        self
    }

    /// Adds an observable of interest.
    pub fn observable(mut self, observable: Observable) -> Self {
        self.0.observables.push(observable);
        self
    }

    /// Adds observables of interest.
    pub fn observables(mut self, observables: impl IntoIterator<Item = Observable>) -> Self {
        self.0.observables.extend(observables);
        self
    }

    /// The source of the intelligence, clipped to [`Bound::Med`] (2048 characters).
    pub fn source(mut self, source: impl Into<Text>) -> Self {
        self.0.source = Some(Bound::Med.clip(source));
        self
    }

    /// URI of the source.
    pub fn source_uri(mut self, source_uri: impl Into<Text>) -> Self {
        self.0.source_uri = Some(source_uri.into());
        self
    }

    /// A short title, clipped to [`Bound::Short`] (1024 characters).
    pub fn title(mut self, title: impl Into<Text>) -> Self {
        self.0.title = Some(Bound::Short.clip(title));
        self
    }

    /// A description (Markdown), clipped to [`Bound::Long`] (5000 characters).
    pub fn description(mut self, description: impl Into<Text>) -> Self {
        self.0.description = Some(Bound::Long.clip(description));
        self
    }

    /// A one-line summary, clipped to [`Bound::Med`] (2048 characters).
    pub fn short_description(mut self, short_description: impl Into<Text>) -> Self {
        self.0.short_description = Some(Bound::Med.clip(short_description));
        self
    }

    /// Adds how two observables relate ([`ObservedRelation::new`]).
    pub fn relation(mut self, relation: ObservedRelation) -> Self {
        self.0.relations.push(relation);
        self
    }

    /// An embedded data table; its `row_count` is set to its number of rows and its column
    /// descriptions are clipped to [`Bound::Long`].
    ///
    /// ```
    /// use ctim_model::{ColumnDefinition, ColumnType, ObservedTime, Sighting, SightingDataTable};
    /// use serde_json::json;
    ///
    /// let mut table = SightingDataTable::new(
    ///     vec![ColumnDefinition::new("port", ColumnType::Integer)],
    ///     vec![vec![json!(22)]],
    /// );
    /// table.rows.push(vec![json!(443)]); // row_count still says 1
    /// let sighting = Sighting::builder(ObservedTime::now()).data(table).build();
    /// assert_eq!(sighting.data.unwrap().row_count, Some(2));
    /// ```
    pub fn data(mut self, mut data: SightingDataTable) -> Self {
        data.row_count = u64::try_from(data.rows.len()).ok();
        for column in &mut data.columns {
            column.description = column.description.take().map(|d| Bound::Long.clip(d));
        }
        self.0.data = Some(data);
        self
    }

    /// Whether the sighting comes from the organisation's own sources (default false).
    pub fn internal(mut self, internal: bool) -> Self {
        self.0.internal = Some(internal);
        self
    }

    /// Adds an external identifier.
    pub fn external_id(mut self, external_id: impl Into<Text>) -> Self {
        self.0.external_ids.push(external_id.into());
        self
    }

    /// Adds an external reference, its `source_name` and `description` clipped to their
    /// bounds.
    pub fn external_reference(mut self, reference: ExternalReference) -> Self {
        self.0.external_references.push(reference.clipped());
        self
    }

    /// What was done about it.
    pub fn resolution(mut self, resolution: Resolution) -> Self {
        self.0.resolution = Some(resolution);
        self
    }

    /// The kind of device that made the sighting.
    pub fn sensor(mut self, sensor: Sensor) -> Self {
        self.0.sensor = Some(sensor);
        self
    }

    /// Adds a target that saw the observables.
    pub fn target(mut self, target: IdentitySpecification) -> Self {
        self.0.targets.push(target);
        self
    }

    /// The primary language of the affected system, clipped to [`Bound::Short`].
    pub fn language(mut self, language: impl Into<Text>) -> Self {
        self.0.language = Some(Bound::Short.clip(language));
        self
    }

    /// When the sighting was created or last modified.
    pub fn timestamp(mut self, timestamp: Timestamp) -> Self {
        self.0.timestamp = Some(timestamp);
        self
    }

    /// How widely the sighting may be shared.
    pub fn tlp(mut self, tlp: Tlp) -> Self {
        self.0.tlp = Some(tlp);
        self
    }

    /// The sighting.
    #[must_use]
    pub fn build(self) -> Sighting {
        self.0
    }
}
