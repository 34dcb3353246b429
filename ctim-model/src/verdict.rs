//! Verdict: the disposition a module currently gives an observable.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::validate::{Checker, Problems};
use crate::{Disposition, Id, Judgement, Observable, ValidTime};

type_tag!(VerdictType, "verdict");

/// The disposition currently chosen for an observable, from its unexpired judgements.
///
/// Not a stored entity: a verdict has no `id`, `schema_version` or `tlp`. `disposition_name`
/// is always written, matching `disposition`; reading accepts it absent (CTIM makes it
/// optional) and rejects it when it disagrees with the number.
///
/// ```
/// use ctim_model::{Disposition, Observable, ObservableType, Timestamp, ValidTime, Verdict};
/// use time::Duration;
///
/// let now = Timestamp::now();
/// let verdict = Verdict::new(
///     Disposition::Suspicious,
///     Observable::new(ObservableType::Ip, "192.0.2.1"),
///     ValidTime::between(now, now.saturating_add(Duration::days(7))),
/// );
/// let json = serde_json::to_value(&verdict).unwrap();
/// assert_eq!(json["type"], "verdict");
/// assert_eq!(json["disposition"], 3);
/// assert_eq!(json["disposition_name"], "Suspicious");
/// assert!(verdict.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Verdict")]
#[non_exhaustive]
pub struct Verdict {
    #[serde(rename = "type")]
    r#type: VerdictType,
    /// The disposition (written as `disposition` and `disposition_name`).
    #[serde(flatten, with = "crate::disposition_pair::optional")]
    #[schemars(with = "crate::disposition_pair::optional::Pair")]
    pub disposition: Disposition,
    /// The observable judged.
    pub observable: Observable,
    /// When the verdict holds.
    pub valid_time: ValidTime,
    /// The judgement the verdict comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judgement_id: Option<Id>,
}

impl Verdict {
    /// CTIM's `type` of a verdict.
    pub const TYPE: &'static str = "verdict";

    /// A verdict with every required field.
    #[must_use]
    pub fn new(disposition: Disposition, observable: Observable, valid_time: ValidTime) -> Verdict {
        Verdict {
            r#type: VerdictType,
            disposition,
            observable,
            valid_time,
            judgement_id: None,
        }
    }

    /// The verdict a judgement gives: its disposition, observable and `valid_time`, and its
    /// id as `judgement_id`, as CTIA makes a verdict from the judgement that wins.
    ///
    /// ```
    /// use ctim_model::{Disposition, Judgement, Observable, ObservableType, ValidTime, Verdict};
    /// use time::Duration;
    ///
    /// let ip = Observable::new(ObservableType::Ip, "192.0.2.1");
    /// let judgement = Judgement::builder(ip.clone(), Disposition::Malicious, "Example feed")
    ///     .valid_time(ValidTime::from_now(Duration::days(7)))
    ///     .build();
    /// let verdict = Verdict::from_judgement(&judgement);
    ///
    /// assert_eq!(verdict.disposition, Disposition::Malicious);
    /// assert_eq!(verdict.observable, ip);
    /// assert_eq!(verdict.valid_time, judgement.valid_time);
    /// assert_eq!(verdict.judgement_id.as_ref(), Some(&judgement.id));
    /// assert!(verdict.validate().is_ok());
    /// ```
    #[must_use]
    pub fn from_judgement(judgement: &Judgement) -> Verdict {
        Verdict {
            judgement_id: Some(judgement.id.clone()),
            ..Verdict::new(
                judgement.disposition,
                judgement.observable.clone(),
                judgement.valid_time,
            )
        }
    }

    /// Checks what serde cannot (see [`Problems`]); reports every problem found.
    ///
    /// # Errors
    /// [`Problems`] listing each problem.
    pub fn validate(&self) -> Result<(), Problems> {
        let mut c = Checker::default();
        c.observable("observable", &self.observable);
        c.valid_time("valid_time", &self.valid_time);
        if let Some(id) = &self.judgement_id {
            c.reference("judgement_id", id);
        }
        c.finish()
    }
}
