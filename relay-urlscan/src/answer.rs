//! What urlscan.io answers, reduced to the fields the relay maps: a search's scans (`GET
//! search`: each scan's id, time, page and statistics), newest first, and a scan's result
//! (`GET result/{id}`: its time, its report, DOM and screenshot links, and its overall
//! verdict).
//!
//! Read leniently, as Cisco's relay never did: a field of an unexpected type is absent, a scan
//! that is not an object is left out, a time in any RFC 3339 form is read (with or without
//! fractional seconds), and what a scan lacks leaves out only what needs it. This is what the
//! lookup caches hold, rather than CTIM entities, so that ids are made per answer.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use xdr_relay_core::Weigh;
use xdr_relay_core::ctim_model::Timestamp;

/// Longest scan id the relay uses (urlscan.io's are uuids, 36 characters).
const MAX_ID_CHARS: usize = 128;

/// The scans a search found, newest first (those without a readable time last, in
/// urlscan.io's order).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Search {
    /// The scans.
    pub(crate) hits: Vec<Hit>,
}

/// One scan a search found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hit {
    /// `_id`: the scan's uuid, when it is a usable one (non-empty, at most 128 characters).
    pub(crate) id: Option<String>,
    /// `task.time`: when the scan ran.
    pub(crate) time: Option<Timestamp>,
    /// The page the scan loaded.
    pub(crate) page: Page,
    /// `stats`: the scan's statistics with integer values, in urlscan.io's order.
    pub(crate) stats: Vec<(String, Value)>,
}

/// `page`: where the scan's browser ended up. Empty strings are absent.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Page {
    /// `page.domain`.
    pub(crate) domain: Option<String>,
    /// `page.url`.
    pub(crate) url: Option<String>,
    /// `page.ip`, as written (it may not be an address).
    pub(crate) ip: Option<String>,
}

/// A scan's result, as far as the relay reads it.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ScanResult {
    /// `task.time`.
    pub(crate) time: Option<Timestamp>,
    /// `task.domURL`, `task.screenshotURL` and `task.reportURL` (http(s) URLs only), in that
    /// order, by their names.
    pub(crate) links: Vec<(&'static str, String)>,
    /// `verdicts.overall.malicious` is `true`.
    pub(crate) malicious: bool,
    /// `verdicts.overall.categories` (strings, each once, in order).
    pub(crate) categories: Vec<String>,
    /// `verdicts.overall.tags` (strings, in order).
    pub(crate) tags: Vec<String>,
}

/// The links of a result the judgement refers to, in the order Cisco's relay writes them.
pub(crate) const RESULT_LINKS: [&str; 3] = ["domURL", "screenshotURL", "reportURL"];

impl ScanResult {
    /// `task.reportURL`, when the result has one.
    pub(crate) fn report_url(&self) -> Option<&str> {
        self.links
            .iter()
            .find(|(name, _)| *name == "reportURL")
            .map(|(_, url)| url.as_str())
    }
}

impl Search {
    /// Reads a successful search's body.
    ///
    /// # Errors
    ///
    /// When the body is not a JSON object.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, serde_json::Error> {
        let raw: RawSearch = serde_json::from_slice(body)?;
        let mut hits: Vec<Hit> = match raw.results {
            MaybeList::List(hits) => hits.into_iter().filter_map(MaybeHit::hit).collect(),
            MaybeList::Other(_) => Vec::new(),
        };
        // Newest first by the instant (not the text, as Cisco's relay sorts); stable, so equal
        // times and the scans without one keep urlscan.io's order, the latter last.
        hits.sort_by(|a, b| match (a.time, b.time) {
            (Some(a), Some(b)) => b.cmp(&a),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
        Ok(Self { hits })
    }
}

impl ScanResult {
    /// Reads a successful result's body (the large parts, `data`, `lists`, `meta`, are skipped
    /// as they are read, never held).
    ///
    /// # Errors
    ///
    /// When the body is not a JSON object.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, serde_json::Error> {
        let raw: RawResult = serde_json::from_slice(body)?;
        let overall = &raw.verdicts["overall"];
        let mut categories: Vec<String> = Vec::new();
        for category in strings(&overall["categories"]) {
            if !categories.contains(&category) {
                categories.push(category);
            }
        }
        let links = RESULT_LINKS
            .iter()
            .filter_map(|&name| {
                let url = raw.task[name].as_str()?.trim();
                let web = url.starts_with("https://") || url.starts_with("http://");
                web.then(|| (name, url.to_owned()))
            })
            .collect();
        Ok(Self {
            time: time(&raw.task["time"]),
            links,
            malicious: overall["malicious"] == Value::Bool(true),
            categories,
            tags: strings(&overall["tags"]),
        })
    }
}

impl Weigh for Search {
    fn weight(&self) -> usize {
        let hits: usize = self
            .hits
            .iter()
            .map(|hit| {
                let page = &hit.page;
                [&hit.id, &page.domain, &page.url, &page.ip]
                    .iter()
                    .map(|s| s.as_ref().map_or(0, String::capacity))
                    .sum::<usize>()
                    + hit.stats.capacity() * std::mem::size_of::<(String, Value)>()
                    + hit.stats.iter().map(|(k, _)| k.capacity()).sum::<usize>()
            })
            .sum();
        std::mem::size_of::<Self>() + self.hits.capacity() * std::mem::size_of::<Hit>() + hits
    }
}

impl Weigh for ScanResult {
    fn weight(&self) -> usize {
        let texts = |v: &[String]| v.iter().map(String::capacity).sum::<usize>();
        std::mem::size_of::<Self>()
            + self.links.capacity() * std::mem::size_of::<(&str, String)>()
            + self.links.iter().map(|(_, u)| u.capacity()).sum::<usize>()
            + self.categories.capacity() * std::mem::size_of::<String>()
            + texts(&self.categories)
            + self.tags.capacity() * std::mem::size_of::<String>()
            + texts(&self.tags)
    }
}

/// A time in any RFC 3339 form; `None` for anything else.
fn time(value: &Value) -> Option<Timestamp> {
    value.as_str().and_then(Timestamp::parse_lenient)
}

/// A non-empty string; `None` for anything else.
fn text(value: &Value) -> Option<String> {
    let text = value.as_str()?.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The non-empty strings of a list; none when it is not one.
fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(text).collect())
        .unwrap_or_default()
}

/// A search's body: `results`, the rest (`total`, `took`, `has_more`) ignored.
#[derive(Deserialize)]
struct RawSearch {
    #[serde(default)]
    results: MaybeList,
}

/// `results`: a list, or anything else (read as none).
#[derive(Deserialize)]
#[serde(untagged)]
enum MaybeList {
    List(Vec<MaybeHit>),
    Other(IgnoredAny),
}

impl Default for MaybeList {
    fn default() -> Self {
        Self::Other(IgnoredAny)
    }
}

/// One element of `results`: a scan, or anything else (left out).
#[derive(Deserialize)]
#[serde(untagged)]
enum MaybeHit {
    Hit(RawHit),
    Other(IgnoredAny),
}

impl MaybeHit {
    fn hit(self) -> Option<Hit> {
        let Self::Hit(raw) = self else {
            return None;
        };
        let id = text(&raw.id).filter(|id| id.chars().count() <= MAX_ID_CHARS);
        Some(Hit {
            id,
            time: time(&raw.task["time"]),
            page: Page {
                domain: text(&raw.page["domain"]),
                url: text(&raw.page["url"]),
                ip: text(&raw.page["ip"]),
            },
            stats: raw.stats.0,
        })
    }
}

/// The fields of a scan the relay reads, each any JSON value.
#[derive(Deserialize)]
struct RawHit {
    #[serde(rename = "_id", default)]
    id: Value,
    #[serde(default)]
    task: Value,
    #[serde(default)]
    page: Value,
    #[serde(default)]
    stats: Stats,
}

/// A result's body: `task` and `verdicts`; `data`, `lists`, `meta`... skipped.
#[derive(Deserialize)]
struct RawResult {
    #[serde(default)]
    task: Value,
    #[serde(default)]
    verdicts: Value,
}

/// `stats` in urlscan.io's order (a JSON tree would sort its keys): the entries with an
/// integer value; anything but an object is none.
#[derive(Default)]
struct Stats(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Stats {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StatsVisitor)
    }
}

struct StatsVisitor;

impl<'de> Visitor<'de> for StatsVisitor {
    type Value = Stats;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scan's statistics")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Stats, A::Error> {
        let mut entries = Vec::new();
        while let Some((name, value)) = map.next_entry::<String, Value>()? {
            if (value.is_i64() || value.is_u64()) && !entries.iter().any(|(n, _)| *n == name) {
                entries.push((name, value));
            }
        }
        Ok(Stats(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Stats, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Stats::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Stats, E> {
        Ok(Stats::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<Stats, E> {
        Ok(Stats::default())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Stats, E> {
        Ok(Stats::default())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Stats, E> {
        Ok(Stats::default())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Stats, E> {
        Ok(Stats::default())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Stats, E> {
        Ok(Stats::default())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Stats, E> {
        Ok(Stats::default())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn search(value: Value) -> Search {
        Search::parse(value.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn scans_are_sorted_newest_first_by_instant_and_odd_ones_kept_or_left_out() {
        let found = search(json!({"total": 5, "results": [
            {"_id": "a", "task": {"time": "2020-06-02T19:33:14.851Z"}, "page": {"ip": "1.1.1.1"}},
            {"_id": "b", "task": {"time": "2020-06-02T21:35:21Z"}},
            "not a scan",
            {"_id": "c", "task": {"time": 5}, "page": "nowhere", "stats": [1]},
            // Earlier as text, later as an instant.
            {"_id": "d", "task": {"time": "2020-06-02T20:00:00-05:00"}, "stats": {"requests": 4, "uniqIPs": 1, "odd": "x", "float": 1.5}},
            {"_id": "", "task": {"time": "2020-06-02T00:00:00Z"}},
            {"_id": "x".repeat(200), "task": null, "page": {"domain": "", "url": 7}},
        ]}));
        let ids: Vec<Option<&str>> = found.hits.iter().map(|h| h.id.as_deref()).collect();
        assert_eq!(
            ids,
            [Some("d"), Some("b"), Some("a"), None, Some("c"), None]
        );
        assert_eq!(
            found.hits[0].stats,
            [
                ("requests".to_owned(), json!(4)),
                ("uniqIPs".to_owned(), json!(1))
            ]
        );
        assert_eq!(found.hits[2].page.ip.as_deref(), Some("1.1.1.1"));
        assert_eq!(found.hits[4].page, Page::default());
        assert!(found.hits[4].stats.is_empty());
        assert_eq!(found.hits[5].page, Page::default());
        for body in [
            json!({}),
            json!({"results": null}),
            json!({"results": {"a": 1}}),
        ] {
            assert!(search(body).hits.is_empty());
        }
        for bad in ["", "[", "<!DOCTYPE html><html></html>", "null"] {
            assert!(Search::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_result_reads_its_verdict_and_links_leniently() {
        let body = json!({
            "task": {
                "time": "2020-04-26T21:49:49Z",
                "reportURL": "https://urlscan.io/result/e9/",
                "screenshotURL": "javascript:alert(1)",
                "domURL": "https://urlscan.io/dom/e9/",
            },
            "verdicts": {"overall": {
                "malicious": true,
                "categories": ["phishing", "phishing", 7, "", "coinmining"],
                "tags": ["phishing", null],
            }},
            "lists": {"urls": ["x", "x"]},
            "data": {"requests": [{"huge": true}]},
        });
        let result = ScanResult::parse(body.to_string().as_bytes()).unwrap();
        assert!(result.malicious);
        assert_eq!(result.categories, ["phishing", "coinmining"]);
        assert_eq!(result.tags, ["phishing"]);
        assert_eq!(
            result.links,
            [
                ("domURL", "https://urlscan.io/dom/e9/".to_owned()),
                ("reportURL", "https://urlscan.io/result/e9/".to_owned())
            ]
        );
        assert_eq!(result.report_url(), Some("https://urlscan.io/result/e9/"));
        assert!(result.time.is_some());
        for odd in [
            json!({}),
            json!({"task": 1, "verdicts": "x"}),
            json!({"verdicts": {"overall": {"malicious": "true"}}}),
        ] {
            let result = ScanResult::parse(odd.to_string().as_bytes()).unwrap();
            assert_eq!(result, ScanResult::default(), "{odd}");
        }
        assert!(ScanResult::parse(b"<html>").is_err());
    }

    #[test]
    fn weights_count_what_is_held() {
        let empty = Search::default();
        assert_eq!(empty.weight(), std::mem::size_of::<Search>());
        let hits: Vec<Value> = (0..50)
            .map(|n| json!({"_id": format!("{n:036}"), "task": {"time": "2020-01-01T00:00:00Z"}, "page": {"url": "u".repeat(1000)}}))
            .collect();
        let big = search(json!({ "results": hits }));
        assert!(big.weight() >= 50 * (1000 + 36), "{}", big.weight());
        let result = ScanResult {
            tags: vec!["t".repeat(100)],
            ..ScanResult::default()
        };
        assert!(result.weight() >= std::mem::size_of::<ScanResult>() + 100);
    }
}
