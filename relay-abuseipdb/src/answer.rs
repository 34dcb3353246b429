//! What AbuseIPDB answers about one address (`GET /api/v2/check?verbose=true`), reduced to
//! the fields the relay reads: the confidence score, the domain, and the reports (when, what
//! comment, which categories), newest first.
//!
//! This is what the lookup cache holds, rather than CTIM entities, so that the times of an
//! answer (a verdict's validity starts "now") are computed per answer.

use serde::Deserialize;
use serde_json::Value;
use xdr_relay_core::ctim_model::Timestamp;

/// AbuseIPDB's answer about one address.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CheckData {
    /// `abuseConfidenceScore`, 0 to 100; `None` when the answer has none.
    pub(crate) score: Option<f64>,
    /// `domain`: the domain of the address's network (its ISP's), when known.
    pub(crate) domain: Option<String>,
    /// `reports` with a readable `reportedAt`, newest first (the order of equal times kept).
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

#[derive(Deserialize)]
struct Envelope {
    data: RawData,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawData {
    #[serde(default)]
    abuse_confidence_score: Option<Value>,
    #[serde(default)]
    domain: Option<Value>,
    #[serde(default)]
    reports: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawReport {
    #[serde(default)]
    reported_at: Option<Value>,
    #[serde(default)]
    comment: Option<Value>,
    #[serde(default)]
    categories: Option<Value>,
}

impl CheckData {
    /// Reads the body of a successful check. Fields of an unexpected type are read as absent
    /// (a score that is not a number, a comment that is not a string, a category that is not
    /// a positive integer); a report whose `reportedAt` is not a time is left out.
    ///
    /// # Errors
    ///
    /// When the body is not JSON, or has no `data` object.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, serde_json::Error> {
        let Envelope { data } = serde_json::from_slice(body)?;
        let mut reports: Vec<Report> = match data.reports {
            Some(Value::Array(reports)) => reports.into_iter().filter_map(Report::read).collect(),
            _ => Vec::new(),
        };
        // Stable: reports of the same instant keep AbuseIPDB's order.
        reports.sort_by_key(|r| std::cmp::Reverse(r.reported_at));
        Ok(Self {
            score: data.abuse_confidence_score.as_ref().and_then(Value::as_f64),
            domain: data
                .domain
                .and_then(string)
                .filter(|d| !d.trim().is_empty()),
            reports,
        })
    }

    /// About how many KiB the answer takes in memory, for the lookup cache's bound.
    pub(crate) fn weight_kib(&self) -> u32 {
        let reports: usize = self
            .reports
            .iter()
            .map(|r| 96 + r.comment.as_ref().map_or(0, String::len) + 8 * r.categories.len())
            .sum();
        let bytes = 128 + self.domain.as_ref().map_or(0, String::len) + reports;
        u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX)
    }
}

impl Report {
    /// The report in `value`; `None` when it is not an object with a readable `reportedAt`.
    fn read(value: Value) -> Option<Self> {
        let raw: RawReport = serde_json::from_value(value).ok()?;
        let reported_at = raw.reported_at.and_then(string).and_then(|t| instant(&t))?;
        let categories = match raw.categories {
            Some(Value::Array(ids)) => ids.iter().filter_map(category_id).collect(),
            _ => Vec::new(),
        };
        Some(Self {
            reported_at,
            comment: raw.comment.and_then(string),
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

/// The instant `text` names: RFC 3339 with any offset, `Z`, or fractional seconds
/// (AbuseIPDB writes `2020-03-10T23:11:57+00:00`); a time without an offset, or with a space
/// for the `T`, is read as UTC.
pub(crate) fn instant(text: &str) -> Option<Timestamp> {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: Value) -> CheckData {
        CheckData::parse(value.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn reported_at_is_the_instant_it_names() {
        let utc = instant("2020-03-10T23:11:57+00:00").unwrap();
        for same in [
            "2020-03-10T23:11:57Z",
            "2020-03-11T01:11:57+02:00",
            "2020-03-10T18:11:57-05:00",
            "2020-03-10T23:11:57",
            "2020-03-10 23:11:57+00:00",
            " 2020-03-10T23:11:57.000+00:00 ",
        ] {
            assert_eq!(instant(same), Some(utc), "{same}");
        }
        assert_eq!(
            instant("2020-03-10T23:11:57.25+00:00").unwrap().to_string(),
            "2020-03-10T23:11:57.250Z"
        );
        for bad in [
            "",
            "yesterday",
            "2020-13-10T23:11:57Z",
            "2020-03-10",
            "2020-03-1é",
        ] {
            assert_eq!(instant(bad), None, "{bad}");
        }
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
                CheckData::parse(bad.to_string().as_bytes()).is_err(),
                "{bad}"
            );
        }
        assert!(CheckData::parse(b"<!DOCTYPE html><html></html>").is_err());
        assert!(CheckData::parse("[".repeat(10_000).as_bytes()).is_err());
    }

    #[test]
    fn the_weight_grows_with_the_comments() {
        let small = parse(json!({"data": {"reports": []}}));
        assert_eq!(small.weight_kib(), 1);
        let comment = "x".repeat(1024);
        let reports: Vec<Value> = (0..100)
            .map(|_| json!({"reportedAt": "2020-01-01T00:00:00Z", "comment": comment}))
            .collect();
        let big = parse(json!({"data": {"reports": reports}}));
        assert!(big.weight_kib() >= 100, "{}", big.weight_kib());
    }
}
