//! What AbuseIPDB answers about one address (`GET /api/v2/check?verbose=true`), reduced to
//! the fields the relay reads: the confidence score, the domain, and the reports (when, what
//! comment, which categories), newest first.
//!
//! This is what the lookup cache holds, rather than CTIM entities, so that the times of an
//! answer (a verdict's validity starts "now") are computed per answer.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use xdr_relay_core::Weigh;
use xdr_relay_core::ctim_model::Timestamp;

/// AbuseIPDB's answer about one address.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CheckData {
    /// `abuseConfidenceScore`, 0 to 100; `None` when the answer has none.
    pub(crate) score: Option<f64>,
    /// `domain`: the domain of the address's network (its ISP's), when known.
    pub(crate) domain: Option<String>,
    /// The newest `reports` with a readable `reportedAt` (at most the number asked for),
    /// newest first (the order of equal times kept).
    pub(crate) reports: Vec<Report>,
}

/// One report of the address to AbuseIPDB.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Report {
    /// `reportedAt`, the instant it names, whatever its offset.
    pub(crate) reported_at: Timestamp,
    /// `comment`, as the reporter wrote it; `None` when null.
    pub(crate) comment: Option<String>,
    /// `categories`, in order, without 0, nulls and anything that is not a positive integer.
    pub(crate) categories: Vec<u64>,
}

impl CheckData {
    /// Reads the body of a successful check, keeping the newest `max_reports` reports. The
    /// body is read straight into these types (no JSON tree of the whole answer): each report
    /// is read, weighed against the newest kept so far, and dropped when older. Fields of an
    /// unexpected type are read as absent (a score that is not a number, a comment that is not
    /// a string, a category that is not a positive integer); a report whose `reportedAt` is
    /// not a time is left out.
    ///
    /// # Errors
    ///
    /// When the body is not JSON, or has no `data` object.
    pub(crate) fn parse(body: &[u8], max_reports: usize) -> Result<Self, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        let data = EnvelopeSeed { max_reports }.deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(data)
    }
}

impl Weigh for CheckData {
    /// What the answer holds: itself, its domain and report buffers (by capacity), each
    /// report's comment and categories.
    fn weight(&self) -> usize {
        let reports: usize = self
            .reports
            .iter()
            .map(|r| {
                r.comment.as_ref().map_or(0, String::capacity)
                    + r.categories.capacity() * std::mem::size_of::<u64>()
            })
            .sum();
        std::mem::size_of::<Self>()
            + self.domain.as_ref().map_or(0, String::capacity)
            + self.reports.capacity() * std::mem::size_of::<Report>()
            + reports
    }
}

/// `{"data": …}`, anything else beside it ignored.
struct EnvelopeSeed {
    max_reports: usize,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed {
    type Value = CheckData;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<CheckData, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed {
    type Value = CheckData;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with a `data` object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CheckData, A::Error> {
        let mut data = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "data" && data.is_none() {
                data = Some(map.next_value_seed(DataSeed {
                    max_reports: self.max_reports,
                })?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        data.ok_or_else(|| de::Error::missing_field("data"))
    }
}

/// The `data` object: the score, the domain and the reports; the rest ignored.
struct DataSeed {
    max_reports: usize,
}

impl<'de> DeserializeSeed<'de> for DataSeed {
    type Value = CheckData;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<CheckData, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DataSeed {
    type Value = CheckData;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AbuseIPDB's `data` object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CheckData, A::Error> {
        let mut data = CheckData {
            score: None,
            domain: None,
            reports: Vec::new(),
        };
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "abuseConfidenceScore" => data.score = map.next_value::<Value>()?.as_f64(),
                "domain" => {
                    data.domain =
                        string(map.next_value::<Value>()?).filter(|d| !d.trim().is_empty());
                }
                "reports" => {
                    data.reports = map.next_value_seed(ReportsSeed {
                        max_reports: self.max_reports,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(data)
    }
}

/// The `reports` list, of which the newest `max_reports` are kept; anything but a list is
/// none.
struct ReportsSeed {
    max_reports: usize,
}

impl<'de> DeserializeSeed<'de> for ReportsSeed {
    type Value = Vec<Report>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<Report>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// A report kept while the list is read: ordered oldest first, and among equal times the
/// later in the list first (the first to go when the heap is full).
struct Kept {
    order: (Timestamp, Reverse<usize>),
    report: Report,
}

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        self.order == other.order
    }
}

impl Eq for Kept {}

impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Kept {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.order.cmp(&other.order)
    }
}

impl<'de> Visitor<'de> for ReportsSeed {
    type Value = Vec<Report>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of reports")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Report>, A::Error> {
        // The oldest kept on top, to be replaced by a newer one.
        let mut newest: BinaryHeap<Reverse<Kept>> = BinaryHeap::new();
        let mut index = 0_usize;
        // One report's JSON at a time: a small tree, dropped before the next.
        while let Some(value) = seq.next_element::<Value>()? {
            let Some(report) = Report::read(value) else {
                continue;
            };
            let kept = Kept {
                order: (report.reported_at, Reverse(index)),
                report,
            };
            index += 1;
            if newest.len() < self.max_reports {
                newest.push(Reverse(kept));
            } else if let Some(mut oldest) = newest.peek_mut()
                && kept > oldest.0
            {
                *oldest = Reverse(kept);
            }
        }
        // Newest first; equal times in AbuseIPDB's order.
        let mut reports: Vec<Kept> = newest.into_iter().map(|Reverse(k)| k).collect();
        reports.sort_by(|a, b| b.cmp(a));
        Ok(reports.into_iter().map(|k| k.report).collect())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Report>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Vec::new())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<Report>, E> {
        Ok(Vec::new())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Vec<Report>, E> {
        Ok(Vec::new())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Vec<Report>, E> {
        Ok(Vec::new())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Vec<Report>, E> {
        Ok(Vec::new())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Vec<Report>, E> {
        Ok(Vec::new())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Vec<Report>, E> {
        Ok(Vec::new())
    }
}

impl Report {
    /// The report in `value`; `None` when it is not an object with a readable `reportedAt`.
    fn read(value: Value) -> Option<Self> {
        let Value::Object(mut report) = value else {
            return None;
        };
        let reported_at = report
            .remove("reportedAt")
            .and_then(string)
            .and_then(|t| Timestamp::parse_lenient(&t))?;
        let categories = match report.remove("categories") {
            Some(Value::Array(ids)) => ids.iter().filter_map(category_id).collect(),
            _ => Vec::new(),
        };
        Some(Self {
            reported_at,
            comment: report.remove("comment").and_then(string),
            categories,
        })
    }
}

fn string(value: Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// A category number: a positive integer, or a string of one (0 and anything else: none).
fn category_id(value: &Value) -> Option<u64> {
    let id = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    id.filter(|&id| id > 0)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: Value) -> CheckData {
        CheckData::parse(value.to_string().as_bytes(), 100).unwrap()
    }

    #[test]
    fn reports_are_sorted_newest_first_by_instant() {
        let data = parse(json!({"data": {
            "abuseConfidenceScore": 50,
            "domain": "example.net",
            "reports": [
                {"reportedAt": "2020-03-10T23:11:57+00:00", "comment": "a", "categories": [18]},
                // Earlier as a string, later as an instant.
                {"reportedAt": "2020-03-10T22:00:00-05:00", "comment": "b", "categories": []},
                {"reportedAt": "not a time", "comment": "dropped", "categories": [1]},
                {"reportedAt": "2020-03-10T23:11:57Z", "comment": null, "categories": [0, null, "22", -1, 1.5, "x"]},
            ],
        }}));
        assert_eq!(data.score, Some(50.0));
        assert_eq!(data.domain.as_deref(), Some("example.net"));
        let comments: Vec<Option<&str>> =
            data.reports.iter().map(|r| r.comment.as_deref()).collect();
        assert_eq!(comments, [Some("b"), Some("a"), None]);
        assert_eq!(data.reports[2].categories, [22]);
    }

    #[test]
    fn odd_fields_are_absent_not_errors() {
        let data = parse(json!({"data": {
            "abuseConfidenceScore": "high",
            "domain": "  ",
            "reports": [
                {"reportedAt": 5, "comment": 7, "categories": "18"},
                {"reportedAt": "2020-01-01T00:00:00Z", "comment": 7, "categories": "18"},
                "not a report",
            ],
        }}));
        assert_eq!(data.score, None);
        assert_eq!(data.domain, None);
        assert_eq!(data.reports.len(), 1);
        assert_eq!(data.reports[0].comment, None);
        assert!(data.reports[0].categories.is_empty());
        let data = parse(json!({"data": {"reports": {"not": "a list"}}}));
        assert!(data.reports.is_empty());
        let data = parse(json!({"data": {"reports": null, "domain": null}}));
        assert_eq!(data.reports, []);
        let data = parse(json!({"data": {"reports": [{"reportedAt": "2020-01-01T00:00:00Z"}]}}));
        assert_eq!(data.reports[0].categories, [] as [u64; 0]);
        assert_eq!(data.reports[0].comment, None);
        for bad in [json!({}), json!({"data": 5}), json!([1])] {
            assert!(
                CheckData::parse(bad.to_string().as_bytes(), 100).is_err(),
                "{bad}"
            );
        }
        assert!(CheckData::parse(b"<!DOCTYPE html><html></html>", 100).is_err());
        assert!(CheckData::parse("[".repeat(10_000).as_bytes(), 100).is_err());
    }

    #[test]
    fn the_weight_counts_what_is_held() {
        let small = parse(json!({"data": {"reports": []}}));
        assert_eq!(small.weight(), std::mem::size_of::<CheckData>());
        let comment = "x".repeat(1024);
        let reports: Vec<Value> = (0..100)
            .map(|_| json!({"reportedAt": "2020-01-01T00:00:00Z", "comment": comment, "categories": [18]}))
            .collect();
        let big = parse(json!({"data": {"reports": reports}}));
        let at_least = 100 * (1024 + 8 + std::mem::size_of::<Report>());
        assert!(big.weight() >= at_least, "{}", big.weight());
    }

    #[test]
    fn only_the_newest_reports_are_kept_in_order() {
        // Times out of order, two equal: the newest three, equal times in the list's order.
        let at = |n: u32, comment: &str| json!({"reportedAt": format!("2020-01-01T00:00:{n:02}Z"), "comment": comment});
        let body = json!({"data": {"reports": [
            at(5, "a"), at(1, "b"), at(9, "c"), at(7, "d"), at(9, "e"), at(2, "f"), at(7, "g"),
        ]}})
        .to_string();
        let comments = |max: usize| -> Vec<String> {
            CheckData::parse(body.as_bytes(), max)
                .unwrap()
                .reports
                .into_iter()
                .filter_map(|r| r.comment)
                .collect()
        };
        assert_eq!(comments(3), ["c", "e", "d"]);
        assert_eq!(comments(4), ["c", "e", "d", "g"]);
        assert_eq!(comments(100), ["c", "e", "d", "g", "a", "f", "b"]);
        assert!(comments(0).is_empty());
    }
}
