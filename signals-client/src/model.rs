//! Typed upstream answers, decoded tolerantly: unknown fields are ignored, missing or `null`
//! optional fields become `None` or empty, and scores may be numbers or numeric strings.

use std::fmt;

use serde::Deserialize;

use crate::decode::decode;
use crate::error::Error;

/// The two kinds of blocklist Auth0 Signals keeps; each has its own metadata namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ListKind {
    /// Lists of IP addresses (`/metadata/badip/...`).
    BadIp,
    /// Lists of domains (`/metadata/baddomain/...`).
    BadDomain,
}

impl ListKind {
    /// The name used in the API path: `badip` or `baddomain`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadIp => "badip",
            Self::BadDomain => "baddomain",
        }
    }
}

impl fmt::Display for ListKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The report on one IP address (`fullip` of `GET /v2.0/ip/<ip>`).
///
/// Scores are `0` for nothing known and negative for bad (down to `-3`); `None` when the
/// upstream left them out. The history's activity log is not decoded.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct IpReport {
    /// The overall score.
    #[serde(default, deserialize_with = "de::score")]
    pub score: Option<i64>,
    /// The reverse DNS name, when known.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Whether the address itself is on blocklists.
    #[serde(default, deserialize_with = "de::or_default")]
    pub badip: BadIp,
    /// Whether its host name is on domain blocklists.
    #[serde(default, deserialize_with = "de::or_default")]
    pub baddomain: BadDomain,
    /// Whether it was on blocklists recently.
    #[serde(default, deserialize_with = "de::or_default")]
    pub history: History,
    /// Where it is.
    #[serde(default, deserialize_with = "de::or_default")]
    pub geo: Geo,
}

impl IpReport {
    /// Decodes the body of `GET /v2.0/ip/<ip>` (`{"fullip": {…}}`) as the client does, for
    /// callers that test or benchmark their handling of reports without HTTP.
    ///
    /// # Errors
    /// [`Error::Decode`](crate::Error::Decode) when the body is not such a report.
    pub fn from_json(body: &[u8]) -> Result<Self, Error> {
        decode::<IpReportBody>(body, "IP report", None).map(|b| b.fullip)
    }

    /// Every blocklist named in the report with the kind of its metadata, in the order the
    /// relay reports them: `badip.blacklists` (badip), then `baddomain.domain.blacklist`,
    /// `blacklist_mx` and `blacklist_ns` (baddomain). Duplicates are kept.
    pub fn blocklists(&self) -> impl Iterator<Item = (ListKind, &str)> + '_ {
        let domain = &self.baddomain.domain;
        let ip = self
            .badip
            .blacklists
            .iter()
            .map(|id| (ListKind::BadIp, id.as_str()));
        let by_domain = [
            &domain.blacklist,
            &domain.blacklist_mx,
            &domain.blacklist_ns,
        ]
        .into_iter()
        .flatten()
        .map(|id| (ListKind::BadDomain, id.as_str()));
        ip.chain(by_domain)
    }
}

/// The `badip` part of a report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct BadIp {
    /// The score of this part.
    #[serde(default, deserialize_with = "de::score")]
    pub score: Option<i64>,
    /// Ids of the IP blocklists the address is on.
    #[serde(default, deserialize_with = "de::list_ids")]
    pub blacklists: Vec<String>,
}

/// The `baddomain` part of a report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct BadDomain {
    /// The score of this part.
    #[serde(default, deserialize_with = "de::score")]
    pub score: Option<i64>,
    /// The host name's own blocklist entries.
    #[serde(default, deserialize_with = "de::or_default")]
    pub domain: DomainLists,
}

/// `baddomain.domain`: the domain blocklists the host name, its MX and its NS are on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct DomainLists {
    /// The score of this part.
    #[serde(default, deserialize_with = "de::score")]
    pub score: Option<i64>,
    /// Domain blocklists naming the host name.
    #[serde(default, deserialize_with = "de::list_ids")]
    pub blacklist: Vec<String>,
    /// Domain blocklists naming its mail exchangers.
    #[serde(default, deserialize_with = "de::list_ids")]
    pub blacklist_mx: Vec<String>,
    /// Domain blocklists naming its name servers.
    #[serde(default, deserialize_with = "de::list_ids")]
    pub blacklist_ns: Vec<String>,
}

/// The `history` part of a report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct History {
    /// Below 0 when the address was on a blocklist in the recent past.
    #[serde(default, deserialize_with = "de::score")]
    pub score: Option<i64>,
}

/// The `geo` part of a report (names in English).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Geo {
    /// ISO 3166 country code, e.g. `UA`.
    #[serde(default)]
    pub country: Option<String>,
    /// Continent code, e.g. `EU`.
    #[serde(default)]
    pub continent: Option<String>,
    /// Region name.
    #[serde(default)]
    pub region: Option<String>,
    /// City name.
    #[serde(default)]
    pub city: Option<String>,
    /// IANA time zone, e.g. `Europe/Kiev`.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Latitude in degrees.
    #[serde(default)]
    pub latitude: Option<f64>,
    /// Longitude in degrees.
    #[serde(default)]
    pub longitude: Option<f64>,
}

/// One blocklist's metadata (`GET /metadata/<kind>/lists/<id>`).
///
/// Only `name` is required; the unused `refresh`, `type`, `enabled`, `group`, `count` and
/// `last_update` are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ListMetadata {
    /// Human name of the list, e.g. `FAIL2BAN-SSH Blocklist.de`.
    pub name: String,
    /// Who publishes it.
    #[serde(default)]
    pub source: Option<String>,
    /// The publisher's web site.
    #[serde(default)]
    pub site: Option<String>,
    /// `Public` or something else.
    #[serde(default)]
    pub visibility: Option<String>,
    /// The raw sensitivity: `"1"` (high), `"5"` (medium), `"10"` (informational) or other
    /// values the upstream may add. Numbers are accepted and kept as their decimal text.
    #[serde(default, deserialize_with = "de::string_or_number")]
    pub sensitivity: Option<String>,
    /// What the list is.
    #[serde(default)]
    pub description: Option<String>,
    /// The raw comma-separated tags; see [`ListMetadata::split_tags`].
    #[serde(default)]
    pub tags: Option<String>,
}

impl ListMetadata {
    /// Decodes the body of `GET /metadata/<kind>/lists/<id>` as the client does.
    ///
    /// # Errors
    /// [`Error::Decode`](crate::Error::Decode) when the body is not list metadata.
    pub fn from_json(body: &[u8]) -> Result<Self, Error> {
        decode(body, "list metadata", None)
    }

    /// The tags, split on commas, trimmed, blanks dropped.
    pub fn split_tags(&self) -> impl Iterator<Item = &str> + '_ {
        self.tags
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|tag| !tag.is_empty())
    }

    /// Whether `visibility` is `Public` (ASCII case ignored).
    pub fn is_public(&self) -> bool {
        self.visibility
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("public"))
    }
}

/// The body of `GET /v2.0/ip/<ip>`: the report is its required `fullip` member.
#[derive(Deserialize)]
pub(crate) struct IpReportBody {
    pub(crate) fullip: IpReport,
}

/// Deserialisers that accept the shapes the upstream is known (or likely) to vary between.
mod de {
    use std::fmt;

    use serde::Deserialize;
    use serde::de::{self, Deserializer, SeqAccess, Visitor};

    /// `null` as the type's default.
    pub(super) fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de> + Default,
    {
        Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
    }

    /// An integer score from a number or a numeric string; `null` and `""` are `None`.
    pub(super) fn score<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        d.deserialize_any(ScoreVisitor)
    }

    struct ScoreVisitor;

    impl<'de> Visitor<'de> for ScoreVisitor {
        type Value = Option<i64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer score, as a number or a numeric string")
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            i64::try_from(v)
                .map(Some)
                .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            integral(v)
                .map(Some)
                .ok_or_else(|| E::invalid_value(de::Unexpected::Float(v), &self))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let text = v.trim();
            if text.is_empty() {
                return Ok(None);
            }
            text.parse::<i64>()
                .ok()
                .or_else(|| text.parse::<f64>().ok().and_then(integral))
                .map(Some)
                .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    /// `v` as an integer when it is one (`-1.0`), `None` for `-1.5`, NaN or out of range.
    fn integral(v: f64) -> Option<i64> {
        // The range check is written so NaN fails it; the bounds are exact in f64.
        let in_range = (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&v);
        // The cast is exact: v is integral and in range.
        (in_range && v.fract() == 0.0).then_some(v as i64)
    }

    /// List ids from an array of strings or one comma-separated string; blanks dropped.
    pub(super) fn list_ids<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        d.deserialize_any(ListIdsVisitor)
    }

    struct ListIdsVisitor;

    impl<'de> Visitor<'de> for ListIdsVisitor {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of list ids or a comma-separated string of them")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut ids = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(id) = seq.next_element::<String>()? {
                if !id.trim().is_empty() {
                    ids.push(id);
                }
            }
            Ok(ids)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(v.split(',')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .collect())
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }

    /// Text from a string or a number (kept as written); `null` is `None`.
    pub(super) fn string_or_number<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<String>, D::Error> {
        d.deserialize_any(StringOrNumberVisitor)
    }

    struct StringOrNumberVisitor;

    impl<'de> Visitor<'de> for StringOrNumberVisitor {
        type Value = Option<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a number")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(json: &str) -> Result<IpReport, crate::Error> {
        IpReport::from_json(json.as_bytes())
    }

    fn check_score(raw: &str, expected: Option<Option<i64>>) {
        let json = format!(r#"{{"fullip": {{"score": {raw}}}}}"#);
        assert_eq!(report(&json).ok().map(|r| r.score), expected, "{raw}");
    }

    #[test]
    fn scores_as_numbers_or_numeric_strings() {
        check_score("-2", Some(Some(-2)));
        check_score("0", Some(Some(0)));
        check_score("3", Some(Some(3)));
        check_score("-1.0", Some(Some(-1)));
        check_score(r#""-3""#, Some(Some(-3)));
        check_score(r#"" -1 ""#, Some(Some(-1)));
        check_score(r#""-2.0""#, Some(Some(-2)));
        check_score(r#""""#, Some(None));
        check_score("null", Some(None));
        check_score("-1.5", None);
        check_score(r#""bad""#, None);
        check_score("18446744073709551615", None);
        check_score("1e300", None);
        check_score("true", None);
        check_score("[]", None);
    }

    fn check_lists(raw: &str, expected: Option<Vec<&str>>) {
        let json = format!(r#"{{"fullip": {{"badip": {{"blacklists": {raw}}}}}}}"#);
        let got = report(&json).ok().map(|r| r.badip.blacklists);
        let expected = expected.map(|ids| ids.into_iter().map(str::to_owned).collect::<Vec<_>>());
        assert_eq!(got, expected, "{raw}");
    }

    #[test]
    fn list_ids_from_arrays_or_comma_strings() {
        check_lists(r#"["A", "B"]"#, Some(vec!["A", "B"]));
        check_lists(r#"["A", "", " "]"#, Some(vec!["A"]));
        check_lists(r#""A,B""#, Some(vec!["A", "B"]));
        check_lists(r#"" A , ,B,""#, Some(vec!["A", "B"]));
        check_lists(r#""""#, Some(vec![]));
        check_lists("null", Some(vec![]));
        check_lists("[]", Some(vec![]));
        check_lists("[1]", None);
        check_lists("7", None);
    }

    #[test]
    fn missing_and_null_parts_are_empty() {
        let empty =
            report(r#"{"fullip": {"badip": null, "baddomain": {"domain": null}}}"#).unwrap();
        assert_eq!(empty, IpReport::default());
        assert_eq!(empty.blocklists().count(), 0);
        assert!(matches!(
            report(r#"{"fullip": null}"#),
            Err(crate::Error::Decode { .. })
        ));
        assert!(matches!(
            report(r#"{"other": {}}"#),
            Err(crate::Error::Decode { .. })
        ));
        assert!(matches!(
            ListMetadata::from_json(b"{}"),
            Err(crate::Error::Decode { .. })
        ));
    }

    #[test]
    fn blocklists_in_relay_order_with_kinds() {
        let report = report(
            r#"{"fullip": {
                "baddomain": {"domain": {"blacklist_ns": ["NS"], "blacklist": ["D1", "D2"],
                                         "blacklist_mx": "MX"}},
                "badip": {"blacklists": ["IP1", "IP2"]}}}"#,
        )
        .unwrap();
        let got: Vec<_> = report.blocklists().collect();
        assert_eq!(
            got,
            [
                (ListKind::BadIp, "IP1"),
                (ListKind::BadIp, "IP2"),
                (ListKind::BadDomain, "D1"),
                (ListKind::BadDomain, "D2"),
                (ListKind::BadDomain, "MX"),
                (ListKind::BadDomain, "NS"),
            ]
        );
    }

    fn check_tags(raw: Option<&str>, expected: &[&str]) {
        let metadata = ListMetadata {
            name: "n".into(),
            source: None,
            site: None,
            visibility: None,
            sensitivity: None,
            description: None,
            tags: raw.map(str::to_owned),
        };
        assert_eq!(
            metadata.split_tags().collect::<Vec<_>>(),
            expected,
            "{raw:?}"
        );
    }

    #[test]
    fn tags_split_on_commas_without_blanks() {
        check_tags(
            Some("reputation,abuse,bruteforce"),
            &["reputation", "abuse", "bruteforce"],
        );
        check_tags(Some(" a, ,b,,"), &["a", "b"]);
        check_tags(Some(""), &[]);
        check_tags(None, &[]);
    }

    fn check_sensitivity(raw: &str, expected: Option<&str>) {
        let json = format!(r#"{{"name": "n", "sensitivity": {raw}}}"#);
        let metadata = ListMetadata::from_json(json.as_bytes()).unwrap();
        assert_eq!(metadata.sensitivity.as_deref(), expected, "{raw}");
    }

    #[test]
    fn sensitivity_raw_text_from_strings_or_numbers() {
        check_sensitivity(r#""1""#, Some("1"));
        check_sensitivity(r#""10""#, Some("10"));
        check_sensitivity("5", Some("5"));
        check_sensitivity(r#""odd""#, Some("odd"));
        check_sensitivity("null", None);
    }

    #[test]
    fn visibility_public() {
        for (raw, public) in [
            (r#""Public""#, true),
            (r#""public""#, true),
            (r#""Private""#, false),
            ("null", false),
        ] {
            let json = format!(r#"{{"name": "n", "visibility": {raw}}}"#);
            let metadata = ListMetadata::from_json(json.as_bytes()).unwrap();
            assert_eq!(metadata.is_public(), public, "{raw}");
        }
    }

    #[test]
    fn list_kind_path_names() {
        assert_eq!(ListKind::BadIp.as_str(), "badip");
        assert_eq!(ListKind::BadDomain.to_string(), "baddomain");
    }
}
