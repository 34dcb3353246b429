//! Judgement: a statement about the disposition of an observable, from a source.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::validate::{Checker, MED, ProblemKind, Problems, SHORT};
use crate::{
    Bound, CTIM_SCHEMA_VERSION, Confidence, Disposition, ExternalReference, Id, Observable,
    Severity, Text, Timestamp, Tlp, ValidTime,
};

type_tag!(JudgementType, "judgement");

/// A judgement: a source's statement that an observable has a disposition, for a while.
///
/// ```
/// use ctim_model::{
///     Confidence, Disposition, Id, Judgement, Observable, ObservableType, Severity, Timestamp,
///     ValidTime,
/// };
/// use time::Duration;
///
/// let now = Timestamp::now();
/// let mut judgement = Judgement::new(
///     Id::transient("judgement"),
///     Observable::new(ObservableType::Ip, "192.0.2.1"),
///     Disposition::Suspicious,
///     "Auth0 Signals Report",
///     Confidence::High,
///     Severity::Medium,
///     90,
///     ValidTime::between(now, now.saturating_add(Duration::days(7))),
/// );
/// judgement.reason = Some("IP found on blocklist".into());
/// judgement.source_uri = Some("https://auth0.com/signals/ip/192.0.2.1-report".into());
///
/// assert!(judgement.validate().is_ok());
/// let json = serde_json::to_value(&judgement).unwrap();
/// assert_eq!(json["disposition_name"], "Suspicious");
/// assert_eq!(json["schema_version"], "1.3.28");
/// assert!(json.get("tlp").is_none()); // unset optional fields are left out
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Judgement")]
#[non_exhaustive]
pub struct Judgement {
    /// Globally unique URI identifying this judgement.
    pub id: Id,
    #[serde(rename = "type")]
    r#type: JudgementType,
    /// CTIM schema version of this entity; [`CTIM_SCHEMA_VERSION`] by default.
    pub schema_version: Cow<'static, str>,
    /// The observable judged.
    pub observable: Observable,
    /// The disposition (written as `disposition` and `disposition_name`).
    #[serde(flatten, with = "crate::disposition_pair::required")]
    #[schemars(with = "crate::disposition_pair::required::Pair")]
    pub disposition: Disposition,
    /// The source of the intelligence.
    #[schemars(length(max = 2048))]
    pub source: Text,
    /// Priority, 0..=100; the highest-priority judgement becomes the verdict.
    #[schemars(range(max = 100))]
    pub priority: u8,
    /// Confidence in the judgement.
    pub confidence: Confidence,
    /// Severity of the threat.
    pub severity: Severity,
    /// When the judgement holds.
    pub valid_time: ValidTime,
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
    /// Why the source judged so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub reason: Option<Text>,
    /// A URI with the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_uri: Option<Text>,
    /// Revision, incremented each time the entity changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    /// URI of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_uri: Option<Text>,
    /// When the entity was created or last modified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// How widely the entity may be shared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlp: Option<Tlp>,
}

impl Judgement {
    /// CTIM's `type` of a judgement.
    pub const TYPE: &'static str = "judgement";

    /// A judgement with every required field; `schema_version` is [`CTIM_SCHEMA_VERSION`].
    // One argument per CTIM required field, so none can be forgotten.
    #[allow(clippy::too_many_arguments)]
    #[must_use]
    pub fn new(
        id: Id,
        observable: Observable,
        disposition: Disposition,
        source: impl Into<Text>,
        confidence: Confidence,
        severity: Severity,
        priority: u8,
        valid_time: ValidTime,
    ) -> Judgement {
        Judgement {
            id,
            r#type: JudgementType,
            schema_version: Cow::Borrowed(CTIM_SCHEMA_VERSION),
            observable,
            disposition,
            source: source.into(),
            priority,
            confidence,
            severity,
            valid_time,
            external_ids: Vec::new(),
            external_references: Vec::new(),
            language: None,
            reason: None,
            reason_uri: None,
            revision: None,
            source_uri: None,
            timestamp: None,
            tlp: None,
        }
    }

    /// A builder of a judgement of `observable` as `disposition`, by `source` (clipped to
    /// [`Bound::Med`]), that sets the other fields by name. Until set: a fresh
    /// `transient:judgement-<uuid v4>` id, confidence and severity `Unknown`, priority 90
    /// (CTIM's ceiling for automated systems), and a `valid_time` with no bounds (`{}`).
    ///
    /// Every text it sets is clipped to its CTIM bound, so the judgement validates whatever
    /// an upstream sent; what stays yours to get right is what it takes as is: an [`Id`] you
    /// give (`id`), an observable type outside CTIM's list, and a `valid_time` that ends
    /// before it starts (`ValidTime::from_now` and `ValidTime::starting` never do).
    ///
    /// ```
    /// use ctim_model::{
    ///     Confidence, Disposition, Judgement, Observable, ObservableType, Severity, Tlp,
    ///     ValidTime, Verdict,
    /// };
    /// use time::Duration;
    ///
    /// let cves: Vec<String> = (1..=399).map(|n| format!("CVE-2024-{n:05}")).collect();
    /// let judgement = Judgement::builder(
    ///     Observable::new(ObservableType::Ip, "192.0.2.1"),
    ///     Disposition::Malicious,
    ///     "Shodan InternetDB",
    /// )
    /// .confidence(Confidence::High)
    /// .severity(Severity::Medium)
    /// .valid_time(ValidTime::from_now(Duration::days(7)))
    /// .reason(format!("Vulnerable to {}", cves.join(", "))) // 5,000+ characters
    /// .source_uri("https://internetdb.shodan.io/192.0.2.1")
    /// .tlp(Tlp::White)
    /// .build();
    ///
    /// assert!(judgement.validate().is_ok());
    /// assert_eq!(judgement.reason.as_deref().map(|r| r.chars().count()), Some(1024));
    /// assert!(judgement.id.as_str().starts_with("transient:judgement-"));
    /// assert_eq!(judgement.priority, 90);
    /// let verdict = Verdict::from_judgement(&judgement);
    /// assert_eq!(verdict.judgement_id, Some(judgement.id));
    /// ```
    pub fn builder(
        observable: Observable,
        disposition: Disposition,
        source: impl Into<Text>,
    ) -> JudgementBuilder {
        JudgementBuilder(Judgement::new(
            Id::transient(Self::TYPE),
            observable,
            disposition,
            Bound::Med.clip(source),
            Confidence::Unknown,
            Severity::Unknown,
            JudgementBuilder::DEFAULT_PRIORITY,
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
        c.observable("observable", &self.observable);
        c.text("source", &self.source, MED);
        if self.priority > 100 {
            c.report("priority", ProblemKind::PriorityOutOfRange(self.priority));
        }
        c.valid_time("valid_time", &self.valid_time);
        c.external_references(&self.external_references);
        c.opt_text("language", self.language.as_deref(), SHORT);
        c.opt_text("reason", self.reason.as_deref(), SHORT);
        c.finish()
    }
}

/// Builds a [`Judgement`] field by field, each text clipped to its CTIM bound; made by
/// [`Judgement::builder`], finished by [`build`](JudgementBuilder::build).
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build()`"]
pub struct JudgementBuilder(Judgement);

impl JudgementBuilder {
    /// The priority of a built judgement until [`priority`](Self::priority) sets one: 90,
    /// the most CTIM advises for automated systems (95 is for curated lists, 100 for humans).
    pub const DEFAULT_PRIORITY: u8 = 90;

    /// The id, instead of a fresh transient one (e.g. a stable
    /// [`Id::transient_from_name`]).
    pub fn id(mut self, id: Id) -> Self {
        self.0.id = id;
        self
    }

    /// Confidence in the judgement (default `Unknown`).
    pub fn confidence(mut self, confidence: Confidence) -> Self {
        self.0.confidence = confidence;
        self
    }

    /// Severity of the threat (default `Unknown`).
    pub fn severity(mut self, severity: Severity) -> Self {
        self.0.severity = severity;
        self
    }

    /// Priority, clamped to 0..=100 (default [`DEFAULT_PRIORITY`](Self::DEFAULT_PRIORITY)).
    ///
    /// ```
    /// use ctim_model::{Disposition, Judgement, Observable, ObservableType};
    ///
    /// let ip = Observable::new(ObservableType::Ip, "192.0.2.1");
    /// let judgement = Judgement::builder(ip, Disposition::Clean, "Feed").priority(120).build();
    /// assert_eq!(judgement.priority, 100);
    /// ```
    pub fn priority(mut self, priority: u8) -> Self {
        self.0.priority = priority.min(100);
        self
    }

    /// When the judgement holds (default `{}`, no bounds); see [`ValidTime::from_now`].
    pub fn valid_time(mut self, valid_time: ValidTime) -> Self {
        self.0.valid_time = valid_time;
        self
    }

    /// Why the source judged so, clipped to [`Bound::Short`] (1024 characters).
    pub fn reason(mut self, reason: impl Into<Text>) -> Self {
        self.0.reason = Some(Bound::Short.clip(reason));
        self
    }

    /// A URI with the reason.
    pub fn reason_uri(mut self, reason_uri: impl Into<Text>) -> Self {
        self.0.reason_uri = Some(reason_uri.into());
        self
    }

    /// URI of the source.
    pub fn source_uri(mut self, source_uri: impl Into<Text>) -> Self {
        self.0.source_uri = Some(source_uri.into());
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

    /// When the judgement was created or last modified.
    pub fn timestamp(mut self, timestamp: Timestamp) -> Self {
        self.0.timestamp = Some(timestamp);
        self
    }

    /// How widely the judgement may be shared.
    pub fn tlp(mut self, tlp: Tlp) -> Self {
        self.0.tlp = Some(tlp);
        self
    }

    /// The judgement.
    #[must_use]
    pub fn build(self) -> Judgement {
        self.0
    }
}
