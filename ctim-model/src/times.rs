//! Timestamps and the two time ranges CTIM uses.

use std::borrow::Cow;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

use crate::Error;

/// A CTIM timestamp (`Inst`). Reads any RFC 3339 timestamp, whatever its offset; writes UTC
/// with `Z` and milliseconds (`2016-02-11T00:40:48.212Z`, as CTIA does), or with micro- or
/// nanoseconds when the value has them, so nothing read is lost.
///
/// ```
/// use ctim_model::Timestamp;
///
/// let t = Timestamp::parse("2016-02-11T01:40:48.212+01:00").unwrap();
/// assert_eq!(t.to_string(), "2016-02-11T00:40:48.212Z");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// The current time.
    #[must_use]
    pub fn now() -> Timestamp {
        Timestamp(OffsetDateTime::now_utc())
    }

    /// Parses an RFC 3339 timestamp.
    ///
    /// # Errors
    /// [`Error::Timestamp`] when `text` is not RFC 3339.
    pub fn parse(text: &str) -> Result<Timestamp, Error> {
        OffsetDateTime::parse(text, &Rfc3339)
            .map(Timestamp::from)
            .map_err(|source| Error::Timestamp {
                text: text.to_owned(),
                reason: source.to_string(),
            })
    }

    /// This time plus `duration`, clamped to the range `time` can represent.
    #[must_use]
    pub fn saturating_add(self, duration: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(duration))
    }

    /// The time as a `time::OffsetDateTime` in UTC.
    #[must_use]
    pub fn to_offset_date_time(self) -> OffsetDateTime {
        self.0
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(value: OffsetDateTime) -> Timestamp {
        Timestamp(value.to_offset(UtcOffset::UTC))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )?;
        let nanos = t.nanosecond();
        if nanos.is_multiple_of(1_000_000) {
            write!(f, ".{:03}Z", nanos / 1_000_000)
        } else if nanos.is_multiple_of(1_000) {
            write!(f, ".{:06}Z", nanos / 1_000)
        } else {
            write!(f, ".{nanos:09}Z")
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Formats straight into the output: no intermediate String.
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TimestampVisitor)
    }
}

struct TimestampVisitor;

impl serde::de::Visitor<'_> for TimestampVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an RFC 3339 timestamp")
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Timestamp, E> {
        Timestamp::parse(value).map_err(E::custom)
    }
}

impl JsonSchema for Timestamp {
    fn schema_name() -> Cow<'static, str> {
        "Timestamp".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "format": "date-time" })
    }
}

/// When something is valid; either bound may be absent. The default, with neither, writes `{}`.
///
/// ```
/// use ctim_model::{Timestamp, ValidTime};
/// use time::Duration;
///
/// let now = Timestamp::now();
/// let week = ValidTime::between(now, now.saturating_add(Duration::days(7)));
/// assert!(week.start_time.is_some());
/// assert_eq!(serde_json::to_string(&ValidTime::default()).unwrap(), "{}");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidTime {
    /// The start; absent means no lower bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    /// The end; absent means no upper bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
}

impl ValidTime {
    /// Valid from `start` to `end`.
    #[must_use]
    pub fn between(start: Timestamp, end: Timestamp) -> ValidTime {
        ValidTime {
            start_time: Some(start),
            end_time: Some(end),
        }
    }
}

/// When something was observed: a start, and an end if it lasted.
///
/// ```
/// use ctim_model::{ObservedTime, Timestamp};
///
/// let at = ObservedTime::at(Timestamp::parse("2024-05-01T12:00:00Z").unwrap());
/// assert_eq!(at.start_time, at.end_time.unwrap());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObservedTime {
    /// When the observation was made, or when it started.
    pub start_time: Timestamp,
    /// When the observation ended, if it lasted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
}

impl ObservedTime {
    /// Observed from `start`, with no end given.
    #[must_use]
    pub fn new(start: Timestamp) -> ObservedTime {
        ObservedTime {
            start_time: start,
            end_time: None,
        }
    }

    /// Observed at one instant: start and end are both `at`.
    #[must_use]
    pub fn at(at: Timestamp) -> ObservedTime {
        ObservedTime {
            start_time: at,
            end_time: Some(at),
        }
    }

    /// Observed from `start` to `end`.
    #[must_use]
    pub fn between(start: Timestamp, end: Timestamp) -> ObservedTime {
        ObservedTime {
            start_time: start,
            end_time: Some(end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Timestamp;

    fn check(input: &str, expected: &str) {
        let parsed = Timestamp::parse(input).unwrap();
        assert_eq!(parsed.to_string(), expected, "input {input}");
        let json = serde_json::to_string(&parsed).unwrap();
        assert_eq!(json, format!("\"{expected}\""));
        let back: Timestamp = serde_json::from_str(&json).unwrap();
        assert_eq!(back, parsed);
    }

    #[test]
    fn writes_utc_with_z() {
        check("2016-02-11T00:40:48.212Z", "2016-02-11T00:40:48.212Z");
        check("2016-02-11T00:40:48Z", "2016-02-11T00:40:48.000Z");
        check("2016-02-11T02:40:48.2+02:00", "2016-02-11T00:40:48.200Z");
        check("2016-02-10T23:40:48-01:00", "2016-02-11T00:40:48.000Z");
        check("2016-02-11T00:40:48.123456Z", "2016-02-11T00:40:48.123456Z");
        check(
            "2016-02-11T00:40:48.123456789Z",
            "2016-02-11T00:40:48.123456789Z",
        );
        check("2525-01-01T00:00:00.000Z", "2525-01-01T00:00:00.000Z");
    }

    #[test]
    fn rejects_what_is_not_rfc3339() {
        for bad in ["", "2016-02-11", "2016-02-11T00:40:48", "yesterday"] {
            assert!(Timestamp::parse(bad).is_err(), "{bad:?} was accepted");
            assert!(serde_json::from_str::<Timestamp>(&format!("{bad:?}")).is_err());
        }
    }
}
