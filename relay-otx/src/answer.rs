//! What OTX answers, reduced to what the relay maps: the pulses of an observable's `general`
//! answer that can hold it (by indicator type), and the observable's entry in one pulse's
//! indicator pages (when it was added, when it expires).
//!
//! These are what the lookup caches hold, rather than CTIM entities, so that the entities of
//! every answer are made for that answer (fresh sighting ids, the request's entity limit).
//! Fields of an unexpected type are read as absent; an answer that is not JSON, or not an
//! object, is an error.

use serde_json::Value;
use xdr_relay_core::Weigh;
use xdr_relay_core::ctim_model::{Timestamp, Tlp};

/// The pulses of a `general` answer that can hold the observable.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct General {
    /// The pulses kept, in OTX's order.
    pub(crate) pulses: Vec<Pulse>,
}

/// One pulse (a community report of indicators), the fields the relay maps.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pulse {
    /// `id`, never empty.
    pub(crate) id: String,
    /// `name`.
    pub(crate) name: Option<String>,
    /// `description`, `None` when null or empty.
    pub(crate) description: Option<String>,
    /// `author.username`.
    pub(crate) author: Option<String>,
    /// `tags`, the strings among them.
    pub(crate) tags: Vec<String>,
    /// `TLP`, when it is one of CTIM's (in any case).
    pub(crate) tlp: Option<Tlp>,
}

/// The observable's entry in a pulse's indicator list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// `created`: when it was added to the pulse, the instant it names (with `Z`, an offset,
    /// fractions, or none, read as UTC).
    pub(crate) created: Timestamp,
    /// `expiration`, when it has one.
    pub(crate) expiration: Option<Timestamp>,
}

/// What one indicator page says of the observable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    /// Its entry, when the page has it.
    pub(crate) entry: Option<Entry>,
    /// Whether OTX names a next page (`next` is not null).
    pub(crate) next: bool,
}

/// Why an answer could not be read.
pub(crate) type Unreadable = String;

impl General {
    /// Reads a `general` answer: its pulses whose `indicator_type_counts` name the
    /// observable's indicator type (`base_indicator.type`, or `expected` when OTX gave none),
    /// the first `max_pulses` of them.
    pub(crate) fn parse(
        body: &[u8],
        expected: &str,
        max_pulses: usize,
    ) -> Result<Self, Unreadable> {
        let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        if !value.is_object() {
            return Err("not a JSON object".into());
        }
        let base = value
            .get("base_indicator")
            .and_then(|b| b.get("type"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .unwrap_or(expected);
        let listed = value
            .get("pulse_info")
            .and_then(|p| p.get("pulses"))
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let pulses = listed
            .iter()
            .filter(|p| {
                p.get("indicator_type_counts")
                    .and_then(Value::as_object)
                    .is_some_and(|counts| counts.contains_key(base))
            })
            .filter_map(Pulse::read)
            .take(max_pulses)
            .collect();
        Ok(Self { pulses })
    }
}

impl Pulse {
    fn read(value: &Value) -> Option<Self> {
        let id = text(value, "id").filter(|id| !id.is_empty())?;
        let tags = value
            .get("tags")
            .and_then(Value::as_array)
            .map(|tags| {
                tags.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Some(Self {
            id,
            name: text(value, "name"),
            description: text(value, "description").filter(|d| !d.is_empty()),
            author: value.get("author").and_then(|a| text(a, "username")),
            tags,
            tlp: value.get("TLP").and_then(Value::as_str).and_then(tlp),
        })
    }
}

impl Page {
    /// Reads one page of a pulse's indicators: the first entry of the page `matches` names
    /// (with a readable `created`), and whether there is a next page.
    pub(crate) fn parse(body: &[u8], matches: impl Fn(&str) -> bool) -> Result<Self, Unreadable> {
        let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        if !value.is_object() {
            return Err("not a JSON object".into());
        }
        let entry = value
            .get("results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|r| {
                r.get("indicator")
                    .and_then(Value::as_str)
                    .is_some_and(&matches)
            })
            .find_map(|r| {
                let created = time(r, "created")?;
                Some(Entry {
                    created,
                    expiration: time(r, "expiration"),
                })
            });
        let next = value.get("next").is_some_and(|n| !n.is_null());
        Ok(Self { entry, next })
    }
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn time(value: &Value, key: &str) -> Option<Timestamp> {
    value
        .get(key)
        .and_then(Value::as_str)
        .and_then(Timestamp::parse_lenient)
}

/// OTX's `TLP` (`white`, `green`, `amber`, `red`; any case).
fn tlp(text: &str) -> Option<Tlp> {
    match text.trim().to_ascii_lowercase().as_str() {
        "white" => Some(Tlp::White),
        "green" => Some(Tlp::Green),
        "amber" => Some(Tlp::Amber),
        "red" => Some(Tlp::Red),
        _ => None,
    }
}

impl Weigh for General {
    fn weight(&self) -> usize {
        let pulses: usize = self
            .pulses
            .iter()
            .map(|p| {
                let texts = [&p.name, &p.description, &p.author];
                texts
                    .iter()
                    .map(|t| t.as_ref().map_or(0, String::capacity))
                    .sum::<usize>()
                    + p.id.capacity()
                    + p.tags.capacity() * std::mem::size_of::<String>()
                    + p.tags.iter().map(String::capacity).sum::<usize>()
            })
            .sum();
        std::mem::size_of::<Self>() + self.pulses.capacity() * std::mem::size_of::<Pulse>() + pulses
    }
}

impl Weigh for Entry {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pulse(id: &str, types: &[&str]) -> Value {
        let counts: serde_json::Map<String, Value> =
            types.iter().map(|t| ((*t).to_owned(), json!(1))).collect();
        json!({"id": id, "name": format!("pulse {id}"), "description": "", "author": {"username": "u"},
               "tags": ["a", 7, "b"], "TLP": "Green", "indicator_type_counts": counts})
    }

    #[test]
    fn pulses_are_kept_by_the_observables_type() {
        let body = json!({
            "base_indicator": {"type": "domain"},
            "pulse_info": {"pulses": [pulse("1", &["domain"]), pulse("2", &["hostname"]), pulse("", &["domain"]), pulse("3", &["URL", "domain"])]},
        });
        let general = General::parse(body.to_string().as_bytes(), "x", 10).unwrap();
        let ids: Vec<&str> = general.pulses.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["1", "3"]);
        let first = &general.pulses[0];
        assert_eq!(first.tags, ["a", "b"]);
        assert_eq!(first.tlp, Some(Tlp::Green));
        assert_eq!(first.description, None);
        assert_eq!(first.author.as_deref(), Some("u"));
        // No base indicator: the type the observable has.
        let body = json!({"base_indicator": {}, "pulse_info": {"pulses": [pulse("1", &["domain"]), pulse("2", &["IPv4"])]}});
        let general = General::parse(body.to_string().as_bytes(), "IPv4", 10).unwrap();
        assert_eq!(general.pulses[0].id, "2");
        // Bounded, and odd shapes read as nothing.
        let many: Vec<Value> = (0..30).map(|n| pulse(&n.to_string(), &["IPv4"])).collect();
        let body = json!({"base_indicator": {"type": "IPv4"}, "pulse_info": {"pulses": many}});
        assert_eq!(
            General::parse(body.to_string().as_bytes(), "IPv4", 5)
                .unwrap()
                .pulses
                .len(),
            5
        );
        for odd in [
            json!({}),
            json!({"pulse_info": 7}),
            json!({"pulse_info": {"pulses": [1, null]}}),
        ] {
            assert!(
                General::parse(odd.to_string().as_bytes(), "IPv4", 5)
                    .unwrap()
                    .pulses
                    .is_empty()
            );
        }
        assert!(General::parse(b"[]", "IPv4", 5).is_err());
        assert!(General::parse(b"<html>", "IPv4", 5).is_err());
    }

    #[test]
    fn a_page_gives_the_entry_and_whether_more_follow() {
        let body = json!({"next": "https://otx.example/api/v1/pulses/1/indicators?page=2", "results": [
            {"indicator": "a.example", "created": "2020-01-01T00:00:00"},
            {"indicator": "b.example", "created": "soon"},
            {"indicator": "b.example", "created": "2020-01-02T03:04:05.123+02:00", "expiration": "2021-01-01T00:00:00Z"},
        ]});
        let page = Page::parse(body.to_string().as_bytes(), |i| i == "b.example").unwrap();
        let entry = page.entry.unwrap();
        assert_eq!(entry.created.to_string(), "2020-01-02T01:04:05.123Z");
        assert_eq!(
            entry.expiration.unwrap().to_string(),
            "2021-01-01T00:00:00.000Z"
        );
        assert!(page.next);
        let body = json!({"next": null, "results": [{"indicator": "a.example", "created": "2020-01-01T00:00:00", "expiration": null}]});
        let page = Page::parse(body.to_string().as_bytes(), |i| i == "a.example").unwrap();
        assert_eq!(page.entry.unwrap().expiration, None);
        assert!(!page.next);
        assert_eq!(
            Page::parse(b"{}", |_| true).unwrap(),
            Page {
                entry: None,
                next: false
            }
        );
        assert!(Page::parse(b"null", |_| true).is_err());
    }
}
