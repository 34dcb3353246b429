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

    /// The current time to the millisecond, as CTIA writes times (a relay's "now": a
    /// verdict's start, an answer's times).
    ///
    /// ```
    /// let now = ctim_model::Timestamp::now_ms();
    /// assert_eq!(now.to_offset_date_time().nanosecond() % 1_000_000, 0);
    /// ```
    #[must_use]
    pub fn now_ms() -> Timestamp {
        let now = OffsetDateTime::now_utc();
        let millis = now.nanosecond() / 1_000_000 * 1_000_000;
        Timestamp(now.replace_nanosecond(millis).unwrap_or(now))
    }

    /// The instant `text` names, read leniently as upstreams write times: RFC 3339 with any
    /// offset or `Z`, with or without fractional seconds, surrounding white space, a space
    /// for the `T`, or no offset at all (read as UTC). `None` when it is no such time.
    ///
    /// ```
    /// use ctim_model::Timestamp;
    ///
    /// let utc = Timestamp::parse("2020-03-10T23:11:57Z").unwrap();
    /// for same in ["2020-03-10T23:11:57+00:00", "2020-03-11T01:11:57+02:00", "2020-03-10 23:11:57", " 2020-03-10T23:11:57.000Z "] {
    ///     assert_eq!(Timestamp::parse_lenient(same), Some(utc));
    /// }
    /// assert_eq!(Timestamp::parse_lenient("yesterday"), None);
    /// ```
    #[must_use]
    pub fn parse_lenient(text: &str) -> Option<Timestamp> {
        let text = text.trim();
        let normalised: String;
        let text = match (text.get(..10), text.get(10..11), text.get(11..)) {
            (Some(date), Some(" "), Some(time)) => {
                normalised = format!("{date}T{time}");
                normalised.as_str()
            }
            _ => text,
        };
        Timestamp::parse(text)
            .ok()
            .or_else(|| Timestamp::parse(&format!("{text}Z")).ok())
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

impl Timestamp {
    /// Renders the timestamp into `buf` (the longest form is 30 bytes) and returns the text,
    /// or `None` for a year outside 0000-9999 (which RFC 3339 cannot write; see `fmt_slow`).
    ///
    /// Hand-rolled rather than `write!`: timestamps are the most frequent field of a relay's
    /// answer, and the formatting machinery cost more than the rest of serialisation together.
    fn render(self, buf: &mut [u8; 30]) -> Option<&str> {
        fn digits(out: &mut [u8], mut value: u32) {
            for slot in out.iter_mut().rev() {
                // `value % 10` is below 10, so the cast is exact.
                *slot = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        let t = self.0;
        let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
        digits(&mut buf[0..4], year);
        buf[4] = b'-';
        digits(&mut buf[5..7], u32::from(u8::from(t.month())));
        buf[7] = b'-';
        digits(&mut buf[8..10], u32::from(t.day()));
        buf[10] = b'T';
        digits(&mut buf[11..13], u32::from(t.hour()));
        buf[13] = b':';
        digits(&mut buf[14..16], u32::from(t.minute()));
        buf[16] = b':';
        digits(&mut buf[17..19], u32::from(t.second()));
        buf[19] = b'.';
        let nanos = t.nanosecond();
        let end = if nanos.is_multiple_of(1_000_000) {
            digits(&mut buf[20..23], nanos / 1_000_000);
            23
        } else if nanos.is_multiple_of(1_000) {
            digits(&mut buf[20..26], nanos / 1_000);
            26
        } else {
            digits(&mut buf[20..29], nanos);
            29
        };
        buf[end] = b'Z';
        // Only ASCII digits and separators were written.
        std::str::from_utf8(&buf[..=end]).ok()
    }

    /// The same text through `write!`, for the years `render` leaves out (a negative year
    /// gets its sign).
    fn fmt_slow(self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.render(&mut [0; 30]) {
            Some(text) => f.write_str(text),
            None => self.fmt_slow(f),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.render(&mut [0; 30]) {
            Some(text) => serializer.serialize_str(text),
            None => serializer.collect_str(self),
        }
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

    /// Valid from `start` for `duration`: ends at `start + duration` (clamped to the times
    /// `time` can represent). A negative duration counts as zero, so the range never ends
    /// before it starts.
    ///
    /// ```
    /// use ctim_model::{Timestamp, ValidTime};
    /// use time::Duration;
    ///
    /// let reported = Timestamp::parse("2024-05-01T12:00:00Z").unwrap();
    /// let month = ValidTime::starting(reported, Duration::days(30));
    /// assert_eq!(month.start_time, Some(reported));
    /// assert_eq!(month.end_time.unwrap().to_string(), "2024-05-31T12:00:00.000Z");
    ///
    /// let backwards = ValidTime::starting(reported, Duration::days(-1));
    /// assert_eq!(backwards.end_time, Some(reported));
    /// ```
    #[must_use]
    pub fn starting(start: Timestamp, duration: Duration) -> ValidTime {
        ValidTime::between(start, start.saturating_add(duration.max(Duration::ZERO)))
    }

    /// Valid from now (to the millisecond, [`Timestamp::now_ms`]) for `duration`: a relay's
    /// verdict or judgement validity, `ValidTime::from_now(Duration::days(7))`.
    ///
    /// ```
    /// use ctim_model::ValidTime;
    /// use time::Duration;
    ///
    /// let week = ValidTime::from_now(Duration::days(7));
    /// let (start, end) = (week.start_time.unwrap(), week.end_time.unwrap());
    /// assert_eq!(
    ///     end.to_offset_date_time() - start.to_offset_date_time(),
    ///     Duration::days(7)
    /// );
    /// assert_eq!(start.to_offset_date_time().nanosecond() % 1_000_000, 0);
    /// ```
    #[must_use]
    pub fn from_now(duration: Duration) -> ValidTime {
        ValidTime::starting(Timestamp::now_ms(), duration)
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

    /// Observed now, at one instant to the millisecond ([`Timestamp::now_ms`]): start and end
    /// are both now.
    ///
    /// ```
    /// use ctim_model::ObservedTime;
    ///
    /// let now = ObservedTime::now();
    /// assert_eq!(Some(now.start_time), now.end_time);
    /// assert_eq!(now.start_time.to_offset_date_time().nanosecond() % 1_000_000, 0);
    /// ```
    #[must_use]
    pub fn now() -> ObservedTime {
        ObservedTime::at(Timestamp::now_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::Timestamp;

    #[test]
    fn lenient_times_are_the_instant_they_name() {
        let utc = Timestamp::parse_lenient("2020-03-10T23:11:57+00:00").unwrap();
        for same in [
            "2020-03-10T23:11:57Z",
            "2020-03-11T01:11:57+02:00",
            "2020-03-10T18:11:57-05:00",
            "2020-03-10T23:11:57",
            "2020-03-10 23:11:57+00:00",
            " 2020-03-10T23:11:57.000+00:00 ",
        ] {
            assert_eq!(Timestamp::parse_lenient(same), Some(utc), "{same}");
        }
        assert_eq!(
            Timestamp::parse_lenient("2020-03-10T23:11:57.25+00:00")
                .unwrap()
                .to_string(),
            "2020-03-10T23:11:57.250Z"
        );
        for bad in [
            "",
            "yesterday",
            "2020-13-10T23:11:57Z",
            "2020-03-10",
            "2020-03-1é",
        ] {
            assert_eq!(Timestamp::parse_lenient(bad), None, "{bad}");
        }
        let now = Timestamp::now_ms();
        assert_eq!(now.to_offset_date_time().nanosecond() % 1_000_000, 0);
    }

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

    /// The hand-rolled writer and the `write!` one agree, on every precision and at the edges.
    #[test]
    fn fast_and_slow_writers_agree() {
        struct Slow(Timestamp);
        impl std::fmt::Display for Slow {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt_slow(f)
            }
        }
        let base = time::macros::datetime!(2016-02-11 00:40:48 UTC);
        let mut checked = 0;
        for seconds in [
            0_i64,
            1,
            59,
            86_399,
            31_622_400,
            -1_000_000_000,
            200_000_000_000,
        ] {
            for nanos in [0_i64, 1, 999, 1_000, 120_000, 212_000_000, 999_999_999] {
                let t = Timestamp::from(
                    base + time::Duration::seconds(seconds) + time::Duration::nanoseconds(nanos),
                );
                let json = serde_json::to_string(&t).unwrap();
                assert_eq!(json, format!("\"{}\"", Slow(t)), "{t:?}");
                assert_eq!(t.to_string(), Slow(t).to_string());
                checked += 1;
            }
        }
        assert_eq!(checked, 49);
        for edge in [
            time::macros::datetime!(0000-01-01 00:00:00 UTC),
            time::macros::datetime!(9999-12-31 23:59:59.999_999_999 UTC),
            time::macros::datetime!(-0001-06-01 12:00:00 UTC),
        ] {
            let t = Timestamp::from(edge);
            assert_eq!(t.to_string(), Slow(t).to_string());
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{}\"", Slow(t))
            );
        }
        assert_eq!(
            Timestamp::from(time::macros::datetime!(-0001-06-01 12:00:00 UTC)).to_string(),
            "-001-06-01T12:00:00.000Z"
        );
    }
}
