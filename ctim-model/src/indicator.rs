//! Indicator: a pattern or a feed membership that indicates a threat.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::validate::{Checker, LONG, MED, Problems, SHORT};
use crate::{
    BooleanOperator, Bound, CTIM_SCHEMA_VERSION, Confidence, ExternalReference, Id, IndicatorType,
    KillChainPhase, Severity, Text, Timestamp, Tlp, ValidTime,
};

type_tag!(IndicatorTypeTag, "indicator");

/// An indicator: what makes an observable interesting, e.g. membership of a blocklist feed.
///
/// ```
/// use ctim_model::{Id, Indicator, ValidTime};
///
/// let feed = "FAIL2BAN-SSH Blocklist.de";
/// let mut indicator = Indicator::new(
///     Id::transient_from_name("indicator", feed),
///     "Fail2Ban and Blocklist.de services",
///     ValidTime::default(),
/// );
/// indicator.title = Some(feed.into());
/// indicator.short_description = Some(format!("Feed: {feed}").into());
/// indicator.tags = vec!["reputation".into(), "abuse".into()];
///
/// assert!(indicator.validate().is_ok());
/// let json = serde_json::to_value(&indicator).unwrap();
/// assert_eq!(json["valid_time"], serde_json::json!({}));
/// assert_eq!(json["id"], Id::transient_from_name("indicator", feed).as_str());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Indicator")]
#[non_exhaustive]
pub struct Indicator {
    /// Globally unique URI identifying this indicator.
    pub id: Id,
    #[serde(rename = "type")]
    r#type: IndicatorTypeTag,
    /// CTIM schema version of this entity; [`CTIM_SCHEMA_VERSION`] by default.
    pub schema_version: Cow<'static, str>,
    /// Who produced the indicator.
    #[schemars(length(max = 1024))]
    pub producer: Text,
    /// When the indicator is valid; `ValidTime::default()` (`{}`) for always.
    pub valid_time: ValidTime,
    /// Indicators combined with a boolean operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub composite_indicator_expression: Option<CompositeIndicatorExpression>,
    /// Confidence in the indicator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
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
    /// The types of the indicator.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indicator_type: Vec<IndicatorType>,
    /// Kill-chain phases the indicator points to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kill_chain_phases: Vec<KillChainPhase>,
    /// The primary language of the affected system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub language: Option<Text>,
    /// The likely impact if the indicator occurs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 5000))]
    pub likely_impact: Option<Text>,
    /// Whether the indicator means the absence of the pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negate: Option<bool>,
    /// Revision, incremented each time the entity changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
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
    /// How to recognise the indicator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specification: Option<Specification>,
    /// Descriptors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(length(max = 1024)))]
    pub tags: Vec<Text>,
    /// Test mechanisms that identify the observables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(length(max = 2048)))]
    pub test_mechanisms: Vec<Text>,
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

impl Indicator {
    /// CTIM's `type` of an indicator.
    pub const TYPE: &'static str = "indicator";

    /// An indicator with every required field; `schema_version` is [`CTIM_SCHEMA_VERSION`].
    #[must_use]
    pub fn new(id: Id, producer: impl Into<Text>, valid_time: ValidTime) -> Indicator {
        Indicator {
            id,
            r#type: IndicatorTypeTag,
            schema_version: Cow::Borrowed(CTIM_SCHEMA_VERSION),
            producer: producer.into(),
            valid_time,
            composite_indicator_expression: None,
            confidence: None,
            description: None,
            external_ids: Vec::new(),
            external_references: Vec::new(),
            indicator_type: Vec::new(),
            kill_chain_phases: Vec::new(),
            language: None,
            likely_impact: None,
            negate: None,
            revision: None,
            severity: None,
            short_description: None,
            source: None,
            source_uri: None,
            specification: None,
            tags: Vec::new(),
            test_mechanisms: Vec::new(),
            timestamp: None,
            title: None,
            tlp: None,
        }
    }

    /// A builder of an indicator by `producer` (clipped to [`Bound::Short`]), that sets the
    /// other fields by name. Until set: a fresh `transient:indicator-<uuid v4>` id (a feed's
    /// indicator usually wants a stable one, [`Id::transient_from_name`]) and a `valid_time`
    /// with no bounds (`{}`, always).
    ///
    /// Every text it sets is clipped to its CTIM bound, so the indicator validates whatever
    /// an upstream sent; what stays yours to get right is what it takes as is: an [`Id`] you
    /// give, kill-chain phases, and a `valid_time` that ends before it starts.
    ///
    /// ```
    /// use ctim_model::{Confidence, Id, Indicator};
    ///
    /// let tag = "vpn";
    /// let indicator = Indicator::builder("Shodan InternetDB")
    ///     .id(Id::transient_from_name("indicator", tag))
    ///     .title(format!("Tagged {tag}"))
    ///     .short_description("Shodan tags the host as a VPN endpoint")
    ///     .description("z".repeat(9000))
    ///     .confidence(Confidence::Medium)
    ///     .tag(tag)
    ///     .build();
    ///
    /// assert!(indicator.validate().is_ok());
    /// assert_eq!(indicator.id, Id::transient_from_name("indicator", "vpn"));
    /// assert_eq!(indicator.description.as_deref().map(|d| d.chars().count()), Some(5000));
    /// ```
    pub fn builder(producer: impl Into<Text>) -> IndicatorBuilder {
        IndicatorBuilder(Indicator::new(
            Id::transient(Self::TYPE),
            Bound::Short.clip(producer),
            ValidTime::default(),
        ))
    }

    /// Checks what serde cannot (see [`Problems`]); reports every problem found.
    ///
    /// # Errors
    /// [`Problems`] listing each problem.
    pub fn validate(&self) -> Result<(), Problems> {
        let mut c = Checker::default();
        c.own_id(&self.id, Self::TYPE);
        c.text("producer", &self.producer, SHORT);
        c.valid_time("valid_time", &self.valid_time);
        if let Some(expression) = &self.composite_indicator_expression {
            for (i, id) in expression.indicator_ids.iter().enumerate() {
                c.reference(
                    &format!("composite_indicator_expression.indicator_ids[{i}]"),
                    id,
                );
            }
        }
        c.opt_text("description", self.description.as_deref(), LONG);
        c.external_references(&self.external_references);
        c.kill_chain_phases(&self.kill_chain_phases);
        c.opt_text("language", self.language.as_deref(), SHORT);
        c.opt_text("likely_impact", self.likely_impact.as_deref(), LONG);
        c.opt_text("short_description", self.short_description.as_deref(), MED);
        c.opt_text("source", self.source.as_deref(), MED);
        c.texts("tags", &self.tags, SHORT);
        c.texts("test_mechanisms", &self.test_mechanisms, MED);
        c.opt_text("title", self.title.as_deref(), SHORT);
        c.finish()
    }
}

/// Builds an [`Indicator`] field by field, each text clipped to its CTIM bound; made by
/// [`Indicator::builder`], finished by [`build`](IndicatorBuilder::build).
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build()`"]
pub struct IndicatorBuilder(Indicator);

impl IndicatorBuilder {
    /// The id, instead of a fresh transient one.
    pub fn id(mut self, id: Id) -> Self {
        self.0.id = id;
        self
    }

    /// When the indicator is valid (default `{}`, always).
    pub fn valid_time(mut self, valid_time: ValidTime) -> Self {
        self.0.valid_time = valid_time;
        self
    }

    /// A short title, clipped to [`Bound::Short`] (1024 characters).
    pub fn title(mut self, title: impl Into<Text>) -> Self {
        self.0.title = Some(Bound::Short.clip(title));
        self
    }

    /// A one-line summary, clipped to [`Bound::Med`] (2048 characters).
    pub fn short_description(mut self, short_description: impl Into<Text>) -> Self {
        self.0.short_description = Some(Bound::Med.clip(short_description));
        self
    }

    /// A description (Markdown), clipped to [`Bound::Long`] (5000 characters).
    pub fn description(mut self, description: impl Into<Text>) -> Self {
        self.0.description = Some(Bound::Long.clip(description));
        self
    }

    /// The likely impact if the indicator occurs, clipped to [`Bound::Long`].
    pub fn likely_impact(mut self, likely_impact: impl Into<Text>) -> Self {
        self.0.likely_impact = Some(Bound::Long.clip(likely_impact));
        self
    }

    /// Confidence in the indicator.
    pub fn confidence(mut self, confidence: Confidence) -> Self {
        self.0.confidence = Some(confidence);
        self
    }

    /// Severity of the threat.
    pub fn severity(mut self, severity: Severity) -> Self {
        self.0.severity = Some(severity);
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

    /// Adds a type of the indicator.
    pub fn indicator_type(mut self, indicator_type: IndicatorType) -> Self {
        self.0.indicator_type.push(indicator_type);
        self
    }

    /// Adds a descriptor, clipped to [`Bound::Short`].
    pub fn tag(mut self, tag: impl Into<Text>) -> Self {
        self.0.tags.push(Bound::Short.clip(tag));
        self
    }

    /// Adds a test mechanism, clipped to [`Bound::Med`].
    pub fn test_mechanism(mut self, test_mechanism: impl Into<Text>) -> Self {
        self.0.test_mechanisms.push(Bound::Med.clip(test_mechanism));
        self
    }

    /// How to recognise the indicator.
    pub fn specification(mut self, specification: Specification) -> Self {
        self.0.specification = Some(specification);
        self
    }

    /// Adds a kill-chain phase (validated as CTIM's rules say, not changed).
    pub fn kill_chain_phase(mut self, phase: KillChainPhase) -> Self {
        self.0.kill_chain_phases.push(phase);
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

    /// The primary language of the affected system, clipped to [`Bound::Short`].
    pub fn language(mut self, language: impl Into<Text>) -> Self {
        self.0.language = Some(Bound::Short.clip(language));
        self
    }

    /// When the indicator was created or last modified.
    pub fn timestamp(mut self, timestamp: Timestamp) -> Self {
        self.0.timestamp = Some(timestamp);
        self
    }

    /// How widely the indicator may be shared.
    pub fn tlp(mut self, tlp: Tlp) -> Self {
        self.0.tlp = Some(tlp);
        self
    }

    /// The indicator.
    #[must_use]
    pub fn build(self) -> Indicator {
        self.0
    }
}

/// Indicators combined with a boolean operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompositeIndicatorExpression {
    /// How the indicators combine.
    pub operator: BooleanOperator,
    /// The indicators combined.
    pub indicator_ids: Vec<Id>,
}

/// How to recognise an indicator; CTIM tags the variants with `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", deny_unknown_fields)]
#[non_exhaustive]
pub enum Specification {
    /// `Judgement`: the indicator holds when judgements hold.
    Judgement(JudgementSpecification),
    /// `ThreatBrain`: a ThreatBrain query.
    ThreatBrain(ThreatBrainSpecification),
    /// `Snort`: a Snort signature.
    Snort(SnortSpecification),
    /// `SIOC`: a SIOC.
    #[serde(rename = "SIOC")]
    Sioc(SiocSpecification),
    /// `OpenIOC`: an OpenIOC document.
    #[serde(rename = "OpenIOC")]
    OpenIoc(OpenIocSpecification),
}

/// The `Judgement` specification: judgements that make up the indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JudgementSpecification {
    /// The judgements.
    pub judgements: Vec<Id>,
    /// The judgements required, with their relationship.
    pub required_judgements: Vec<RelatedJudgement>,
}

/// A judgement an indicator relies on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RelatedJudgement {
    /// The judgement.
    pub judgement_id: Id,
    /// Confidence in the relation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
    /// The kind of relation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship: Option<Text>,
    /// Who says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Text>,
}

/// The `ThreatBrain` specification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreatBrainSpecification {
    /// The query's variables.
    pub variables: Vec<Text>,
    /// The query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<Text>,
}

/// The `Snort` specification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnortSpecification {
    /// The Snort signature.
    pub snort_sig: Text,
}

/// The `SIOC` specification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SiocSpecification {
    /// The SIOC.
    #[serde(rename = "SIOC")]
    pub sioc: Text,
}

/// The `OpenIOC` specification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenIocSpecification {
    /// The OpenIOC document.
    #[serde(rename = "open_IOC")]
    pub open_ioc: Text,
}
