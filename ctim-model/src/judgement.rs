//! Judgement: a statement about the disposition of an observable, from a source.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::validate::{Checker, MED, ProblemKind, Problems, SHORT};
use crate::{
    CTIM_SCHEMA_VERSION, Confidence, Disposition, ExternalReference, Id, Observable, Severity,
    Text, Timestamp, Tlp, ValidTime,
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
