//! Dashboard tiles: what `/tiles`, `/tiles/tile` and `/tiles/tile-data` answer, typed, with the
//! JSON shapes of Cisco's public relays (Amazon GuardDuty, SANS ISC, Meraki MX, AWS VPC logs).
//!
//! A provider declares its tiles in its [`ProviderInfo`](crate::ProviderInfo::tile) and answers
//! [`Provider::tile_data`](crate::Provider::tile_data) for one of them and a [`Period`]; the
//! router answers the rest: the list of tiles, one tile's description, the request bodies
//! (`{"tile_id"}`, `{"tile_id", "period"}`), an unknown tile or a period the tile does not
//! offer (`invalid argument`), the token, the body limit and the envelope.
//!
//! ```
//! use xdr_relay_core::ctim_model::Timestamp;
//! use xdr_relay_core::tiles::{Metric, Period, Tile, TileContent, TileData, TileType};
//!
//! // What `/tiles` lists (`ProviderInfo::tile`), as Cisco's GuardDuty relay writes it.
//! let tile = Tile::new("total_events", TileType::MetricGroup, "Total Events")
//!     .description("The findings of the period, by resource type.");
//! let json = serde_json::to_value(&tile)?;
//! assert_eq!(json["type"], "metric_group");
//! assert_eq!(json["periods"][0], "last_24_hours");
//! assert_eq!(json["default_period"], "last_7_days");
//!
//! // What `/tiles/tile-data` answers for it (`Provider::tile_data`).
//! let now = Timestamp::parse("2024-05-01T12:00:00Z")?;
//! let metrics = [Metric::new("EC2 finding types", 6).icon("warning")];
//! let data = TileData::for_period(Period::Last7Days, now, TileContent::metric_group(metrics));
//! let json = serde_json::to_value(&data)?;
//! assert_eq!(json["observed_time"]["start_time"], "2024-04-24T12:00:00.000Z");
//! assert_eq!(
//!     json["data"][0],
//!     serde_json::json!({"icon": "warning", "label": "EC2 finding types", "value": 6, "value_unit": "integer"})
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Imports `crate::error` and `crate::request` (the `invalid argument` messages).

use std::collections::HashSet;
use std::fmt;

use ctim_model::{ObservableType, Timestamp};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value, json};

use crate::error::RelayError;
use crate::request::invalid;

/// A period a tile shows data for, as the dashboard asks for it (`"period"` in
/// `/tiles/tile-data`). Cisco's relays offer the five from `last_24_hours` to `last_90_days`
/// ([`Period::STANDARD`]); Meraki's adds `last_hour`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[non_exhaustive]
pub enum Period {
    /// `last_hour`.
    #[serde(rename = "last_hour")]
    LastHour,
    /// `last_24_hours`.
    #[serde(rename = "last_24_hours")]
    Last24Hours,
    /// `last_7_days`.
    #[serde(rename = "last_7_days")]
    Last7Days,
    /// `last_30_days`.
    #[serde(rename = "last_30_days")]
    Last30Days,
    /// `last_60_days`.
    #[serde(rename = "last_60_days")]
    Last60Days,
    /// `last_90_days`.
    #[serde(rename = "last_90_days")]
    Last90Days,
}

impl Period {
    /// Every period relay-core knows, shortest first.
    pub const ALL: [Period; 6] = [
        Period::LastHour,
        Period::Last24Hours,
        Period::Last7Days,
        Period::Last30Days,
        Period::Last60Days,
        Period::Last90Days,
    ];

    /// The periods of Cisco's relays (GuardDuty's tiles), and of [`Tile::new`].
    pub const STANDARD: [Period; 5] = [
        Period::Last24Hours,
        Period::Last7Days,
        Period::Last30Days,
        Period::Last60Days,
        Period::Last90Days,
    ];

    /// Its name in JSON, e.g. `last_7_days`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::LastHour => "last_hour",
            Self::Last24Hours => "last_24_hours",
            Self::Last7Days => "last_7_days",
            Self::Last30Days => "last_30_days",
            Self::Last60Days => "last_60_days",
            Self::Last90Days => "last_90_days",
        }
    }

    /// The period named `text` exactly (`last_7_days`), if any.
    ///
    /// ```
    /// use xdr_relay_core::tiles::Period;
    /// assert_eq!(Period::parse("last_30_days"), Some(Period::Last30Days));
    /// assert_eq!(Period::parse("LAST_30_DAYS"), None);
    /// ```
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// How many hours it covers (`last_7_days`: 168).
    #[must_use]
    pub const fn hours(self) -> u32 {
        match self {
            Self::LastHour => 1,
            Self::Last24Hours => 24,
            Self::Last7Days => 7 * 24,
            Self::Last30Days => 30 * 24,
            Self::Last60Days => 60 * 24,
            Self::Last90Days => 90 * 24,
        }
    }

    /// How long it is.
    #[must_use]
    pub fn duration(self) -> time::Duration {
        time::Duration::hours(i64::from(self.hours()))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a tile draws its data; each type has its own [`TileContent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub enum TileType {
    /// Numbers with labels and icons: [`TileContent::metric_group`].
    #[serde(rename = "metric_group")]
    MetricGroup,
    /// Markdown, one string per line: [`TileContent::markdown`].
    #[serde(rename = "markdown")]
    Markdown,
    /// Rings of segments: [`TileContent::donut`].
    #[serde(rename = "donut_graph")]
    DonutGraph,
    /// Bars of stacked series, horizontal: [`TileContent::bar_chart`].
    #[serde(rename = "horizontal_bar_chart")]
    HorizontalBarChart,
    /// Bars of stacked series, vertical: [`TileContent::bar_chart`].
    #[serde(rename = "vertical_bar_chart")]
    VerticalBarChart,
    /// A line chart. None of Cisco's public relays draws one, so its data shape is not
    /// published: its data is [`TileContent::raw`].
    #[serde(rename = "line_chart")]
    LineChart,
    /// Points on a world map: [`TileContent::threat_map`].
    #[serde(rename = "threat_map")]
    ThreatMap,
}

impl TileType {
    /// Its name in JSON, e.g. `metric_group`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MetricGroup => "metric_group",
            Self::Markdown => "markdown",
            Self::DonutGraph => "donut_graph",
            Self::HorizontalBarChart => "horizontal_bar_chart",
            Self::VerticalBarChart => "vertical_bar_chart",
            Self::LineChart => "line_chart",
            Self::ThreatMap => "threat_map",
        }
    }
}

impl fmt::Display for TileType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One tile's description: an element of `/tiles` and the answer of `/tiles/tile`, with
/// Cisco's eight keys.
///
/// ```
/// use xdr_relay_core::tiles::{Period, Tile, TileType};
///
/// let tile = Tile::new("events_per_day", TileType::VerticalBarChart, "Events per day")
///     .periods([Period::Last7Days, Period::Last30Days])
///     .short_description("Events per day for the period.");
/// assert_eq!(tile.default_period, Some(Period::Last7Days));
/// assert_eq!(tile.tags, ["events_per_day"]);
/// assert_eq!(tile.description, "Events per day");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Tile {
    /// Its id, unique among the provider's tiles: what the dashboard sends as `tile_id`.
    pub id: String,
    /// How it draws its data.
    #[serde(rename = "type")]
    pub kind: TileType,
    /// Its title.
    pub title: String,
    /// Tags (Cisco's relays: the id, or the source's name and topics).
    pub tags: Vec<String>,
    /// What it shows, in a sentence or two.
    pub description: String,
    /// What it shows, in a few words.
    pub short_description: String,
    /// The periods it offers, in the order the dashboard lists them; never empty.
    pub periods: Vec<Period>,
    /// The period shown first; one of `periods`. Meraki's relay leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_period: Option<Period>,
}

impl Tile {
    /// The tile `id` of type `kind`, titled `title`, as Cisco's relays make one: tagged with
    /// its id, described by its title, offering [`Period::STANDARD`] with `last_7_days` first
    /// shown.
    pub fn new(id: impl Into<String>, kind: TileType, title: impl Into<String>) -> Self {
        let id = id.into();
        let title = title.into();
        Self {
            tags: vec![id.clone()],
            id,
            kind,
            description: title.clone(),
            short_description: title.clone(),
            title,
            periods: Period::STANDARD.to_vec(),
            default_period: Some(Period::Last7Days),
        }
    }

    /// What it shows, in a sentence or two.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// What it shows, in a few words.
    #[must_use]
    pub fn short_description(mut self, short_description: impl Into<String>) -> Self {
        self.short_description = short_description.into();
        self
    }

    /// Its tags, instead of its id.
    #[must_use]
    pub fn tags<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// The periods it offers; the period first shown becomes the first of them unless it is
    /// one of them.
    #[must_use]
    pub fn periods(mut self, periods: impl IntoIterator<Item = Period>) -> Self {
        self.periods = periods.into_iter().collect();
        if !self
            .default_period
            .is_some_and(|p| self.periods.contains(&p))
        {
            self.default_period = self.periods.first().copied();
        }
        self
    }

    /// The period shown first (it must be one of [`periods`](Self::periods)).
    #[must_use]
    pub fn default_period(mut self, period: Period) -> Self {
        self.default_period = Some(period);
        self
    }

    /// Whether it offers `period`.
    #[must_use]
    pub fn offers(&self, period: Period) -> bool {
        self.periods.contains(&period)
    }
}

/// A time range of tile data: both bounds.
///
/// Written as CTIM timestamps (`2024-05-01T12:00:00.000Z`). Read leniently: any RFC 3339
/// timestamp, or one without an offset, taken as UTC (Cisco's GuardDuty relay writes
/// `2021-09-28T19:07:58`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[non_exhaustive]
pub struct TimeRange {
    /// The start.
    pub start_time: Timestamp,
    /// The end.
    pub end_time: Timestamp,
}

impl TimeRange {
    /// From `start_time` to `end_time`.
    #[must_use]
    pub fn new(start_time: Timestamp, end_time: Timestamp) -> Self {
        Self {
            start_time,
            end_time,
        }
    }

    /// The `period` that ends at `now`.
    #[must_use]
    pub fn last(period: Period, now: Timestamp) -> Self {
        Self::new(now.saturating_add(-period.duration()), now)
    }
}

impl<'de> Deserialize<'de> for TimeRange {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Text {
            start_time: String,
            end_time: String,
        }
        let text = Text::deserialize(deserializer)?;
        let parse = |s: &str| {
            Timestamp::parse(s)
                .or_else(|_| Timestamp::parse(&format!("{s}Z")))
                .map_err(serde::de::Error::custom)
        };
        Ok(Self::new(parse(&text.start_time)?, parse(&text.end_time)?))
    }
}

/// Whether the dashboard may cache the data (`cache_scope`): Cisco's relays write `none` or
/// `org`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub enum CacheScope {
    /// `none`: ask again every time (GuardDuty's).
    #[serde(rename = "none")]
    None,
    /// `org`: the same data for the whole organisation until `valid_time` ends (SANS ISC's,
    /// Meraki's).
    #[serde(rename = "org")]
    Org,
}

/// One tile's data for a period: the answer of `/tiles/tile-data`. The times and the cache
/// scope, and the type's own keys ([`TileContent`]) beside them.
///
/// Serialises to Cisco's shape; [`TileData::from_value`] reads it back, given the tile's type
/// (the JSON does not name it).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[non_exhaustive]
pub struct TileData {
    /// How long the data holds.
    pub valid_time: TimeRange,
    /// What the data covers.
    pub observed_time: TimeRange,
    /// Whether the dashboard may cache it.
    pub cache_scope: CacheScope,
    /// Whether the dashboard hides the legend. Default: left out (shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hide_legend: Option<bool>,
    /// `data`, and the keys the type adds (`keys`, `key_type`, `labels`, ...).
    #[serde(flatten)]
    pub content: TileContent,
}

impl TileData {
    /// `content`, covering and valid for `observed_time`, not to be cached (GuardDuty's
    /// choices).
    #[must_use]
    pub fn new(observed_time: TimeRange, content: TileContent) -> Self {
        Self {
            valid_time: observed_time,
            observed_time,
            cache_scope: CacheScope::None,
            hide_legend: None,
            content,
        }
    }

    /// `content` for the `period` that ends at `now` ([`TimeRange::last`]).
    #[must_use]
    pub fn for_period(period: Period, now: Timestamp, content: TileContent) -> Self {
        Self::new(TimeRange::last(period, now), content)
    }

    /// How long the data holds, if not as long as it covers.
    #[must_use]
    pub fn valid_time(mut self, valid_time: TimeRange) -> Self {
        self.valid_time = valid_time;
        self
    }

    /// Whether the dashboard may cache it.
    #[must_use]
    pub fn cache_scope(mut self, cache_scope: CacheScope) -> Self {
        self.cache_scope = cache_scope;
        self
    }

    /// Whether the dashboard hides the legend.
    #[must_use]
    pub fn hide_legend(mut self, hide: bool) -> Self {
        self.hide_legend = Some(hide);
        self
    }

    /// Reads the data of a tile of type `kind` as Cisco's relays write it: `value_unit` or
    /// `value-unit` for a metric's unit, timestamps with or without an offset, a chart's
    /// `observable_type` `false` as none. Keys no type has (Meraki's `period`) are ignored.
    ///
    /// ```
    /// use xdr_relay_core::tiles::{TileContent, TileData, TileType};
    ///
    /// let json = serde_json::json!({
    ///     "valid_time": {"start_time": "2024-05-01T12:00:00Z", "end_time": "2024-05-01T12:30:00Z"},
    ///     "observed_time": {"start_time": "2024-04-30T12:00:00Z", "end_time": "2024-05-01T12:00:00Z"},
    ///     "cache_scope": "org",
    ///     "data": [{"label": "Routers", "value": 3, "value-unit": "integer", "icon": "device-type"}],
    /// });
    /// let data = TileData::from_value(TileType::MetricGroup, json)?;
    /// let TileContent::MetricGroup { data: metrics, .. } = &data.content else { unreachable!() };
    /// assert_eq!(metrics[0].value_unit.as_deref(), Some("integer"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// When `value` is not tile data of that type.
    pub fn from_value(kind: TileType, value: Value) -> Result<Self, serde_json::Error> {
        #[derive(Deserialize)]
        struct Envelope {
            valid_time: TimeRange,
            observed_time: TimeRange,
            cache_scope: CacheScope,
            #[serde(default)]
            hide_legend: Option<bool>,
            #[serde(flatten)]
            rest: Map<String, Value>,
        }
        let envelope: Envelope = serde_json::from_value(value)?;
        Ok(Self {
            valid_time: envelope.valid_time,
            observed_time: envelope.observed_time,
            cache_scope: envelope.cache_scope,
            hide_legend: envelope.hide_legend,
            content: TileContent::from_map(kind, envelope.rest)?,
        })
    }
}

/// The type's own part of [`TileData`]: `data`, and the keys the type adds. Build it with
/// the constructors (`metric_group`, `markdown`, `donut`, `bar_chart`, `threat_map`, `raw`).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
#[non_exhaustive]
pub enum TileContent {
    /// `metric_group`: `{"data": [metric, ...]}`.
    #[non_exhaustive]
    MetricGroup {
        /// The metrics, in order.
        data: Vec<Metric>,
    },
    /// `markdown`: `{"data": ["line", ...]}`.
    #[non_exhaustive]
    Markdown {
        /// The lines.
        data: Vec<String>,
    },
    /// `donut_graph`: `{"labels": [[ring, ...], [segment, ...]], "data": [ring, ...]}`, with
    /// `label_headers` naming the two label lists.
    #[non_exhaustive]
    Donut {
        /// The headers of the ring labels and of the segment labels.
        #[serde(skip_serializing_if = "Option::is_none")]
        label_headers: Option<Vec<String>>,
        /// The ring labels, then the segment labels: [`DonutRing::key`] and
        /// [`DonutSegment::key`] index them.
        labels: Vec<Vec<String>>,
        /// The rings.
        data: Vec<DonutRing>,
    },
    /// `vertical_bar_chart` and `horizontal_bar_chart`: `{"keys": [series, ...], "key_type":
    /// "string" | "timestamp", "data": [bar, ...]}`.
    #[non_exhaustive]
    BarChart {
        /// The series each bar stacks.
        keys: Vec<ChartKey>,
        /// What the bars' keys are.
        key_type: KeyType,
        /// The observable type the bars' keys are (SANS ISC's top addresses: `ip`), which
        /// lets the dashboard pivot on them.
        #[serde(skip_serializing_if = "Option::is_none")]
        observable_type: Option<ObservableType>,
        /// The bars, in order.
        data: Vec<Bar>,
    },
    /// `threat_map`: `{"data": [point, ...]}`.
    #[non_exhaustive]
    ThreatMap {
        /// The points.
        data: Vec<MapPoint>,
    },
    /// Any `data`, as given: for `line_chart`, whose shape no public relay shows, and for
    /// shapes relay-core does not type.
    #[non_exhaustive]
    Raw {
        /// The data.
        data: Value,
    },
}

impl TileContent {
    /// A `metric_group`'s metrics.
    pub fn metric_group(metrics: impl IntoIterator<Item = Metric>) -> Self {
        Self::MetricGroup {
            data: metrics.into_iter().collect(),
        }
    }

    /// A `markdown` tile's lines.
    pub fn markdown<S: Into<String>>(lines: impl IntoIterator<Item = S>) -> Self {
        Self::Markdown {
            data: lines.into_iter().map(Into::into).collect(),
        }
    }

    /// A `donut_graph`: the labels of the rings and of the segments, and the rings.
    pub fn donut<R: Into<String>, S: Into<String>>(
        ring_labels: impl IntoIterator<Item = R>,
        segment_labels: impl IntoIterator<Item = S>,
        rings: impl IntoIterator<Item = DonutRing>,
    ) -> Self {
        Self::Donut {
            label_headers: None,
            labels: vec![
                ring_labels.into_iter().map(Into::into).collect(),
                segment_labels.into_iter().map(Into::into).collect(),
            ],
            data: rings.into_iter().collect(),
        }
    }

    /// A bar chart (vertical or horizontal, as its tile says): its series, what its keys are,
    /// and its bars.
    pub fn bar_chart(
        keys: impl IntoIterator<Item = ChartKey>,
        key_type: KeyType,
        bars: impl IntoIterator<Item = Bar>,
    ) -> Self {
        Self::BarChart {
            keys: keys.into_iter().collect(),
            key_type,
            observable_type: None,
            data: bars.into_iter().collect(),
        }
    }

    /// A `threat_map`'s points.
    pub fn threat_map(points: impl IntoIterator<Item = MapPoint>) -> Self {
        Self::ThreatMap {
            data: points.into_iter().collect(),
        }
    }

    /// `data` as given, for any type.
    #[must_use]
    pub fn raw(data: Value) -> Self {
        Self::Raw { data }
    }

    /// A donut's label headers (the rings', the segments'); other content is unchanged.
    #[must_use]
    pub fn with_label_headers(
        mut self,
        rings: impl Into<String>,
        segments: impl Into<String>,
    ) -> Self {
        if let Self::Donut { label_headers, .. } = &mut self {
            *label_headers = Some(vec![rings.into(), segments.into()]);
        }
        self
    }

    /// A bar chart whose keys are observables of type `kind`; other content is unchanged.
    #[must_use]
    pub fn with_observable_type(mut self, kind: ObservableType) -> Self {
        if let Self::BarChart {
            observable_type, ..
        } = &mut self
        {
            *observable_type = Some(kind);
        }
        self
    }

    /// Whether a tile of type `kind` draws this content (raw content fits any type).
    #[must_use]
    pub fn fits(&self, kind: TileType) -> bool {
        matches!(
            (self, kind),
            (Self::MetricGroup { .. }, TileType::MetricGroup)
                | (Self::Markdown { .. }, TileType::Markdown)
                | (Self::Donut { .. }, TileType::DonutGraph)
                | (
                    Self::BarChart { .. },
                    TileType::VerticalBarChart | TileType::HorizontalBarChart
                )
                | (Self::ThreatMap { .. }, TileType::ThreatMap)
                | (Self::Raw { .. }, _)
        )
    }

    /// The content of a tile of type `kind` in the keys `map` has besides the envelope's.
    fn from_map(kind: TileType, mut map: Map<String, Value>) -> Result<Self, serde_json::Error> {
        use serde::de::Error as _;
        let mut take = |key: &str| map.remove(key).unwrap_or(Value::Null);
        let data = take("data");
        Ok(match kind {
            TileType::MetricGroup => Self::metric_group(read::<Vec<Metric>>(data)?),
            TileType::Markdown => Self::markdown(read::<Vec<String>>(data)?),
            TileType::DonutGraph => Self::Donut {
                label_headers: match take("label_headers") {
                    Value::Null => None,
                    headers => Some(read(headers)?),
                },
                labels: read(take("labels"))?,
                data: read(data)?,
            },
            TileType::VerticalBarChart | TileType::HorizontalBarChart => Self::BarChart {
                keys: read(take("keys"))?,
                key_type: read(take("key_type"))?,
                observable_type: match take("observable_type") {
                    Value::Null | Value::Bool(false) => None,
                    Value::String(kind) => Some(ObservableType::parse(&kind)),
                    other => {
                        return Err(serde_json::Error::custom(format!(
                            "observable_type: expected a string or false, got {other}"
                        )));
                    }
                },
                data: read(data)?,
            },
            TileType::ThreatMap => Self::threat_map(read::<Vec<MapPoint>>(data)?),
            TileType::LineChart => Self::raw(data),
        })
    }
}

fn read<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(value)
}

/// One metric of a `metric_group`.
///
/// ```
/// use xdr_relay_core::tiles::Metric;
///
/// let metric = Metric::new("Online devices", 12).icon("device-type").link_uri("https://dashboard.example");
/// let json = serde_json::to_value(&metric).unwrap();
/// assert_eq!(json["value_unit"], "integer");
/// // Cisco's AWS VPC logs relay spells the unit `value-unit`; both are read.
/// let read: Metric = serde_json::from_str(r#"{"label": "Flows", "value": 3, "value-unit": "integer"}"#).unwrap();
/// assert_eq!(read.value_unit.as_deref(), Some("integer"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Metric {
    /// The icon's name; seen in Cisco's relays: `device-type`, `bulleted-list`, `label-group`,
    /// `static-nat`, `information`, `warning`, `critical-stop`, `object`, `vpn`, `user`,
    /// `view-metadata`, `umbrella`, `block`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// What it counts.
    pub label: String,
    /// The count.
    pub value: u64,
    /// Its unit (`integer`), written `value_unit` as GuardDuty's relay and tests do; read as
    /// `value_unit` or `value-unit`.
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "value-unit")]
    pub value_unit: Option<String>,
    /// Where the metric links to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_uri: Option<String>,
}

impl Metric {
    /// `value` of what `label` says, an `integer`, without an icon.
    pub fn new(label: impl Into<String>, value: u64) -> Self {
        Self {
            icon: None,
            label: label.into(),
            value,
            value_unit: Some("integer".to_owned()),
            link_uri: None,
        }
    }

    /// Its icon.
    #[must_use]
    pub fn icon(mut self, icon: impl Into<String>) -> Self {
        self.icon = Some(icon.into());
        self
    }

    /// Its link.
    #[must_use]
    pub fn link_uri(mut self, link_uri: impl Into<String>) -> Self {
        self.link_uri = Some(link_uri.into());
        self
    }

    /// Its unit, or none.
    #[must_use]
    pub fn value_unit(mut self, unit: Option<&str>) -> Self {
        self.value_unit = unit.map(str::to_owned);
        self
    }
}

/// One ring of a donut: its label's index, its total and its segments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct DonutRing {
    /// The index of its label in the first list of `labels`.
    pub key: u32,
    /// Its total.
    pub value: u64,
    /// Its segments.
    pub segments: Vec<DonutSegment>,
}

impl DonutRing {
    /// The ring labelled `labels[0][key]`, its total the sum of its segments.
    pub fn new(key: u32, segments: impl IntoIterator<Item = DonutSegment>) -> Self {
        let segments: Vec<DonutSegment> = segments.into_iter().collect();
        Self {
            key,
            value: segments
                .iter()
                .map(|s| s.value)
                .fold(0, u64::saturating_add),
            segments,
        }
    }
}

/// One segment of a donut's ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct DonutSegment {
    /// The index of its label in the second list of `labels`.
    pub key: u32,
    /// Its count.
    pub value: u64,
}

impl DonutSegment {
    /// `value` of the segment labelled `labels[1][key]`.
    #[must_use]
    pub fn new(key: u32, value: u64) -> Self {
        Self { key, value }
    }
}

/// One series of a bar chart (`keys`), which bars stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct ChartKey {
    /// Its key, which [`BarValue::key`] names.
    pub key: String,
    /// Its label in the legend.
    pub label: String,
}

impl ChartKey {
    /// The series `key`, labelled `label`.
    pub fn new(key: impl Into<String>, label: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            label: label.into(),
        }
    }
}

/// What a bar chart's bar keys are (`key_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub enum KeyType {
    /// `string`: names (`09/23`, `Port-22`).
    #[serde(rename = "string")]
    String,
    /// `timestamp`: milliseconds since the epoch ([`BarKey::at`]).
    #[serde(rename = "timestamp")]
    Timestamp,
}

/// A bar's key: a name, or milliseconds since the epoch for a `timestamp` chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
#[non_exhaustive]
pub enum BarKey {
    /// A name.
    Text(String),
    /// A number: milliseconds since the epoch (SANS ISC writes them as floats).
    Number(Number),
}

impl BarKey {
    /// The key of a bar that starts at `time`: its milliseconds since the epoch.
    #[must_use]
    pub fn at(time: Timestamp) -> Self {
        let millis = time.to_offset_date_time().unix_timestamp_nanos() / 1_000_000;
        Self::Number(i64::try_from(millis).map_or_else(|_| Number::from(0), Number::from))
    }
}

impl From<&str> for BarKey {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<String> for BarKey {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

/// One bar of a bar chart: its key, its label, its total, and its part of each series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Bar {
    /// Its key (a name, or a time for a `timestamp` chart).
    pub key: BarKey,
    /// Its label; Meraki's relay leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Its total; Meraki's relay leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<u64>,
    /// Its part of each series (series it has none of may be left out).
    pub values: Vec<BarValue>,
}

impl Bar {
    /// The bar `key`, its total the sum of `values`, without a label.
    pub fn new(key: impl Into<BarKey>, values: impl IntoIterator<Item = BarValue>) -> Self {
        let values: Vec<BarValue> = values.into_iter().collect();
        Self {
            key: key.into(),
            label: None,
            value: Some(values.iter().map(|v| v.value).fold(0, u64::saturating_add)),
            values,
        }
    }

    /// Its label.
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
}

/// A bar's part of one series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct BarValue {
    /// The series' key ([`ChartKey::key`]).
    pub key: String,
    /// The count.
    pub value: u64,
    /// Shown on hover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tooltip: Option<String>,
    /// Where the part links to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_uri: Option<String>,
}

impl BarValue {
    /// `value` of the series `key`.
    pub fn new(key: impl Into<String>, value: u64) -> Self {
        Self {
            key: key.into(),
            value,
            tooltip: None,
            link_uri: None,
        }
    }

    /// Its tooltip.
    #[must_use]
    pub fn tooltip(mut self, tooltip: impl Into<String>) -> Self {
        self.tooltip = Some(tooltip.into());
        self
    }

    /// Its link.
    #[must_use]
    pub fn link_uri(mut self, link_uri: impl Into<String>) -> Self {
        self.link_uri = Some(link_uri.into());
        self
    }
}

/// One point of a `threat_map`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct MapPoint {
    /// Latitude and longitude, in that order.
    pub coordinates: [f64; 2],
    /// The address seen there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// How much was seen.
    pub volume: u64,
    /// GuardDuty's relay writes `N/A`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_type: Option<String>,
    /// GuardDuty's relay writes `N/A`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

impl MapPoint {
    /// `volume` seen at `latitude`, `longitude`.
    #[must_use]
    pub fn new(latitude: f64, longitude: f64, volume: u64) -> Self {
        Self {
            coordinates: [latitude, longitude],
            ip_address: None,
            volume,
            email_type: None,
            hostname: None,
        }
    }

    /// The address seen there.
    #[must_use]
    pub fn ip_address(mut self, ip: impl Into<String>) -> Self {
        self.ip_address = Some(ip.into());
        self
    }
}

/// Why the provider's tiles cannot be served (an empty or repeated id, no period, a default
/// period the tile does not offer), or `None`.
pub(crate) fn check(tiles: &[Tile]) -> Option<String> {
    let mut ids = HashSet::with_capacity(tiles.len());
    for tile in tiles {
        if tile.id.is_empty() {
            return Some("a tile has an empty id".to_owned());
        }
        if !ids.insert(tile.id.as_str()) {
            return Some(format!("the tile {:?} is declared twice", tile.id));
        }
        if tile.periods.is_empty() {
            return Some(format!("the tile {:?} offers no period", tile.id));
        }
        if let Some(default) = tile.default_period
            && !tile.offers(default)
        {
            return Some(format!(
                "the tile {:?} shows {default} first but does not offer it",
                tile.id
            ));
        }
    }
    None
}

/// The `tile_id` of a `/tiles/tile` body: `{"tile_id": non-empty string}`, other keys ignored.
pub(crate) fn parse_tile(body: &[u8]) -> Result<String, RelayError> {
    let mut object = object(body)?;
    let mut problems = Map::new();
    let id = tile_id(&mut object, &mut problems);
    match id {
        Some(id) => Ok(id),
        None => Err(invalid(&Value::Object(problems))),
    }
}

/// The `tile_id` and `period` of a `/tiles/tile-data` body: `{"tile_id": non-empty string,
/// "period": a period's name}`, other keys ignored.
pub(crate) fn parse_tile_data(body: &[u8]) -> Result<(String, Period), RelayError> {
    let mut object = object(body)?;
    let mut problems = Map::new();
    let id = tile_id(&mut object, &mut problems);
    let period = match object.remove("period") {
        Some(Value::String(name)) => {
            let period = Period::parse(&name);
            if period.is_none() {
                problems.insert("period".into(), one_of(&Period::ALL));
            }
            period
        }
        Some(_) => {
            problems.insert("period".into(), json!(["Not a valid string."]));
            None
        }
        None => {
            problems.insert("period".into(), json!(["Missing data for required field."]));
            None
        }
    };
    match (id, period) {
        (Some(id), Some(period)) => Ok((id, period)),
        _ => Err(invalid(&Value::Object(problems))),
    }
}

fn object(body: &[u8]) -> Result<Map<String, Value>, RelayError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(invalid(
            &json!({ "_schema": ["Invalid input type: expected an object."] }),
        )),
        Err(e) => Err(invalid(
            &json!({ "_json": [format!("Invalid JSON: {e}.")] }),
        )),
    }
}

fn tile_id(object: &mut Map<String, Value>, problems: &mut Map<String, Value>) -> Option<String> {
    let problem = match object.remove("tile_id") {
        Some(Value::String(id)) if !id.is_empty() => return Some(id),
        Some(Value::String(_)) => "Field may not be empty.",
        Some(_) => "Not a valid string.",
        None => "Missing data for required field.",
    };
    problems.insert("tile_id".into(), json!([problem]));
    None
}

/// marshmallow's `OneOf` message: `["Must be one of: last_24_hours, last_7_days."]`.
fn one_of(periods: &[Period]) -> Value {
    let names: Vec<&str> = periods.iter().map(|p| p.as_str()).collect();
    json!([format!("Must be one of: {}.", names.join(", "))])
}

/// The tile `id` of `tiles` for `period`: `Invalid tile id` when there is none (the message of
/// Cisco's GuardDuty relay), the tile's own periods when it does not offer `period`.
pub(crate) fn select<'a>(
    tiles: &'a [Tile],
    id: &str,
    period: Period,
) -> Result<&'a Tile, RelayError> {
    let tile = find(tiles, id)?;
    if tile.offers(period) {
        Ok(tile)
    } else {
        Err(invalid(&json!({ "period": one_of(&tile.periods) })))
    }
}

/// The tile `id` of `tiles`, or `Invalid tile id`.
pub(crate) fn find<'a>(tiles: &'a [Tile], id: &str) -> Result<&'a Tile, RelayError> {
    tiles
        .iter()
        .find(|t| t.id == id)
        .ok_or_else(|| RelayError::InvalidArgument("Invalid tile id".to_owned()))
}

/// The provider's data for `tile`, unless it does not fit the tile's type (a provider's bug,
/// answered as `unknown` rather than drawn wrong).
pub(crate) fn fitting(tile: &Tile, data: TileData) -> Result<TileData, RelayError> {
    if data.content.fits(tile.kind) {
        Ok(data)
    } else {
        Err(RelayError::Unknown(format!(
            "The relay's data for the tile {:?} does not fit its type {}.",
            tile.id, tile.kind
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(error: RelayError) -> String {
        match error {
            RelayError::InvalidArgument(message) => message,
            other => panic!("not invalid argument: {other:?}"),
        }
    }

    #[test]
    fn periods_have_ciscos_names() {
        for period in Period::ALL {
            assert_eq!(Period::parse(period.as_str()), Some(period));
            assert_eq!(
                serde_json::to_value(period).unwrap(),
                json!(period.as_str())
            );
            assert_eq!(period.duration().whole_hours(), i64::from(period.hours()));
        }
        assert_eq!(Period::Last90Days.hours(), 2160);
        assert_eq!(Period::parse(""), None);
        assert_eq!(Period::parse(" last_7_days"), None);
    }

    #[test]
    fn tile_bodies_say_what_is_wrong() {
        assert_eq!(parse_tile(br#"{"tile_id": "a", "x": 1}"#).unwrap(), "a");
        for (body, expected) in [
            (
                r#"{"tile-id": "a"}"#,
                r#"{"tile_id":["Missing data for required field."]}"#,
            ),
            (
                r#"{"tile_id": ""}"#,
                r#"{"tile_id":["Field may not be empty."]}"#,
            ),
            (
                r#"{"tile_id": 7}"#,
                r#"{"tile_id":["Not a valid string."]}"#,
            ),
            (
                r#"["tile_id"]"#,
                r#"{"_schema":["Invalid input type: expected an object."]}"#,
            ),
        ] {
            let got = message(parse_tile(body.as_bytes()).unwrap_err());
            assert_eq!(
                got,
                format!("Invalid JSON payload received. {expected}"),
                "{body}"
            );
        }
        let got = message(parse_tile(b"").unwrap_err());
        assert!(got.contains(r#"{"_json":["Invalid JSON: "#), "{got}");
    }

    #[test]
    fn tile_data_bodies_say_what_is_wrong() {
        assert_eq!(
            parse_tile_data(br#"{"tile_id": "a", "period": "last_hour"}"#).unwrap(),
            ("a".to_owned(), Period::LastHour)
        );
        let all = "Must be one of: last_hour, last_24_hours, last_7_days, last_30_days, \
                   last_60_days, last_90_days.";
        for (body, expected) in [
            (
                r#"{"tile_id": "a", "not_period": "last_7_days"}"#,
                json!({"period": ["Missing data for required field."]}),
            ),
            (
                r#"{"tile_id": "a", "period": ""}"#,
                json!({"period": [all]}),
            ),
            (
                r#"{"tile_id": "a", "period": "last_year"}"#,
                json!({"period": [all]}),
            ),
            (
                r#"{"tile_id": "", "period": 7}"#,
                json!({"tile_id": ["Field may not be empty."], "period": ["Not a valid string."]}),
            ),
        ] {
            let got = message(parse_tile_data(body.as_bytes()).unwrap_err());
            assert_eq!(
                got,
                format!("Invalid JSON payload received. {expected}"),
                "{body}"
            );
        }
    }

    #[test]
    fn tiles_are_selected_by_id_and_period() {
        let tiles = [
            Tile::new("a", TileType::Markdown, "A"),
            Tile::new("b", TileType::MetricGroup, "B").periods([Period::LastHour]),
        ];
        assert_eq!(select(&tiles, "a", Period::Last90Days).unwrap().id, "a");
        assert_eq!(
            select(&tiles, "c", Period::Last7Days),
            Err(RelayError::InvalidArgument("Invalid tile id".into()))
        );
        assert_eq!(
            message(select(&tiles, "b", Period::Last7Days).unwrap_err()),
            r#"Invalid JSON payload received. {"period":["Must be one of: last_hour."]}"#
        );
        assert_eq!(tiles[1].default_period, Some(Period::LastHour));
    }

    #[test]
    fn unusable_tiles_are_named() {
        let good = Tile::new("a", TileType::Markdown, "A");
        assert_eq!(check(std::slice::from_ref(&good)), None);
        assert!(
            check(&[good.clone(), good.clone()])
                .unwrap()
                .contains("twice")
        );
        let empty = Tile::new("", TileType::Markdown, "A");
        assert!(check(&[empty]).unwrap().contains("empty id"));
        let no_period = good.clone().periods([]);
        assert!(check(&[no_period]).unwrap().contains("no period"));
        let wrong_default = good
            .periods([Period::Last24Hours])
            .default_period(Period::LastHour);
        assert!(check(&[wrong_default]).unwrap().contains("last_hour first"));
    }

    #[test]
    fn content_fits_its_tile_type() {
        let metrics = TileContent::metric_group([]);
        assert!(metrics.fits(TileType::MetricGroup));
        assert!(!metrics.fits(TileType::Markdown));
        let bars = TileContent::bar_chart([], KeyType::String, []);
        assert!(bars.fits(TileType::VerticalBarChart) && bars.fits(TileType::HorizontalBarChart));
        assert!(TileContent::raw(json!(1)).fits(TileType::LineChart));
        assert!(!TileContent::threat_map([]).fits(TileType::DonutGraph));
        let tile = Tile::new("m", TileType::Markdown, "M");
        let now = Timestamp::now();
        let data = TileData::for_period(Period::Last24Hours, now, metrics);
        assert_eq!(fitting(&tile, data).unwrap_err().code(), "unknown");
    }

    #[test]
    fn bar_keys_at_a_time_are_milliseconds() {
        let t = Timestamp::parse("2021-09-28T00:00:00Z").unwrap();
        assert_eq!(
            serde_json::to_value(BarKey::at(t)).unwrap(),
            json!(1_632_787_200_000_i64)
        );
    }

    /// Cisco's shapes, read and written back unchanged. The fixtures are data of Cisco's public
    /// relays (MIT), each named by `repository:path@commit`; timestamps without an offset come
    /// back in CTIM's form.
    mod ciscos_shapes {
        use super::*;

        /// `value` read as `kind` and written again.
        fn round_trip(kind: TileType, value: &Value) -> Value {
            let data = TileData::from_value(kind, value.clone()).unwrap();
            assert!(data.content.fits(kind), "{kind}");
            serde_json::to_value(&data).unwrap()
        }

        fn round_trip_tile(value: &Value) {
            let tile: Tile = serde_json::from_value(value.clone()).unwrap();
            assert_eq!(&serde_json::to_value(&tile).unwrap(), value);
            assert_eq!(check(&[tile]), None);
        }

        /// GuardDuty's times: `2021-09-28T19:07:58`, written back with `Z` and milliseconds.
        fn guardduty_times(mut data: Value) -> (Value, Value) {
            let naive =
                json!({"start_time": "2021-09-21T16:07:58", "end_time": "2021-09-28T19:07:58"});
            let ctim = json!({"start_time": "2021-09-21T16:07:58.000Z", "end_time": "2021-09-28T19:07:58.000Z"});
            data["observed_time"] = naive.clone();
            data["valid_time"] = naive;
            let mut expected = data.clone();
            expected["observed_time"] = ctim.clone();
            expected["valid_time"] = ctim;
            (data, expected)
        }

        /// `CiscoSecurity/tr-05-serverless-guardduty:code/tests/unit/payloads_for_tests.py@09be4431`
        /// (`TILES_RESPONSE`).
        #[test]
        fn guardduty_tiles() {
            round_trip_tile(&json!({
                "default_period": "last_7_days",
                "description": "Affected Instances chart shows what types of findings EC2 instances have.",
                "id": "affected_instances",
                "periods": ["last_24_hours", "last_7_days", "last_30_days"],
                "short_description": "Affected Instances by finding types for given time period.",
                "tags": ["affected_instances"],
                "title": "Affected instances",
                "type": "donut_graph"
            }));
            round_trip_tile(&json!({
                "default_period": "last_7_days",
                "description": "Events grouped by severity per day chart shows quantity of events per day for the given period of time.",
                "id": "events_per_day",
                "periods": ["last_24_hours", "last_7_days", "last_30_days"],
                "short_description": "Events grouped by severity per day for given time period.",
                "tags": ["events_per_day"],
                "title": "Events grouped by severity per day",
                "type": "vertical_bar_chart"
            }));
            // `Tile::new` makes GuardDuty's tiles: tagged with the id, the five periods.
            let made = Tile::new("total_events", TileType::MetricGroup, "Total Events");
            assert_eq!(
                serde_json::to_value(&made).unwrap(),
                json!({"id": "total_events", "type": "metric_group", "title": "Total Events",
                       "tags": ["total_events"], "description": "Total Events",
                       "short_description": "Total Events",
                       "periods": ["last_24_hours", "last_7_days", "last_30_days", "last_60_days", "last_90_days"],
                       "default_period": "last_7_days"})
            );
        }

        /// The same file, `tile_data_response("affected_instances")`.
        #[test]
        fn guardduty_donut() {
            let (data, expected) = guardduty_times(json!({
                "cache_scope": "none",
                "data": [{"key": 0, "segments": [{"key": 0, "value": 1}, {"key": 1, "value": 1}], "value": 2}],
                "hide_legend": false,
                "label_headers": ["Affected instances", "Finding types"],
                "labels": [["i-99999999"], ["Backdoor:EC2/C&CActivity.B!DNS", "Trojan:EC2/DriveBySourceTraffic!DNS"]]
            }));
            assert_eq!(round_trip(TileType::DonutGraph, &data), expected);
            // The constructors make the same.
            let made = TileContent::donut(
                ["i-99999999"],
                [
                    "Backdoor:EC2/C&CActivity.B!DNS",
                    "Trojan:EC2/DriveBySourceTraffic!DNS",
                ],
                [DonutRing::new(
                    0,
                    [DonutSegment::new(0, 1), DonutSegment::new(1, 1)],
                )],
            )
            .with_label_headers("Affected instances", "Finding types");
            let read = TileData::from_value(TileType::DonutGraph, data).unwrap();
            assert_eq!(read.content, made);
            assert_eq!(read.hide_legend, Some(false));
        }

        /// The same file, `tile_data_response("events_per_day")`.
        #[test]
        fn guardduty_bar_chart() {
            let (data, expected) = guardduty_times(json!({
                "cache_scope": "none",
                "data": [
                    {"key": "2021-09-23", "label": "2021-09-23", "value": 1, "values": [{"key": "high", "value": 1}]},
                    {"key": "2021-09-22", "label": "2021-09-22", "value": 1, "values": [{"key": "high", "value": 1}]}
                ],
                "hide_legend": false,
                "key_type": "string",
                "keys": [{"key": "high", "label": "High"}]
            }));
            assert_eq!(round_trip(TileType::VerticalBarChart, &data), expected);
            let made = TileContent::bar_chart(
                [ChartKey::new("high", "High")],
                KeyType::String,
                ["2021-09-23", "2021-09-22"]
                    .map(|day| Bar::new(day, [BarValue::new("high", 1)]).label(day)),
            );
            assert_eq!(
                TileData::from_value(TileType::VerticalBarChart, data)
                    .unwrap()
                    .content,
                made
            );
            // A day without findings: `value` 0 and no `values`.
            assert_eq!(
                serde_json::to_value(Bar::new("09/24", []).label("09/24")).unwrap(),
                json!({"key": "09/24", "label": "09/24", "value": 0, "values": []})
            );
        }

        /// `CiscoSecurity/tr-05-serverless-guardduty:code/api/tiles/total_events.py@46382d7f`
        /// (a metric) and `.../port_probe.py@1567978e` (a point, with AWS's `{Lat, Lon}`).
        #[test]
        fn guardduty_metric_group_and_threat_map() {
            let (data, expected) = guardduty_times(json!({
                "cache_scope": "none",
                "hide_legend": false,
                "data": [
                    {"icon": "warning", "label": "EC2 finding types", "value": 6, "value_unit": "integer"},
                    {"icon": "warning", "label": "IAM finding types", "value": 0, "value_unit": "integer"}
                ]
            }));
            assert_eq!(round_trip(TileType::MetricGroup, &data), expected);
            assert_eq!(
                serde_json::to_value(Metric::new("EC2 finding types", 6).icon("warning")).unwrap(),
                data["data"][0]
            );
            let (data, expected) = guardduty_times(json!({
                "cache_scope": "none",
                "hide_legend": false,
                "data": [{"coordinates": [48.8566, 2.3522], "ip_address": "198.51.100.0",
                          "volume": 5, "email_type": "N/A", "hostname": "N/A"}]
            }));
            assert_eq!(round_trip(TileType::ThreatMap, &data), expected);
        }

        /// `CiscoSecurity/tr-05-sans-isc:code/api/dashboard.py@4694d7a0`: a markdown tile, a
        /// timestamp chart (keys in milliseconds, as floats), top addresses with their
        /// observable type, top ports with `observable_type: false`.
        #[test]
        fn sans_isc_markdown_and_charts() {
            let valid = json!({"start_time": "2021-09-28T19:07:58.123456Z", "end_time": "2021-09-28T19:37:58.123456Z"});
            let observed = json!({"start_time": "2021-09-27T19:07:58.123456Z", "end_time": "2021-09-28T19:07:58.123456Z"});
            let markdown = json!({
                "valid_time": valid, "hide_legend": true, "cache_scope": "org", "observed_time": observed,
                "data": [
                    "[SANS Internet Storm Center](https://isc.sans.edu/infocon.html)",
                    "&nbsp;",
                    "| Threat Level | &nbsp; | Dairy |",
                    "| -- | -- | -- |",
                    "| **green** | | [A diary](https://isc.sans.edu/diary/1) |"
                ]
            });
            assert_eq!(round_trip(TileType::Markdown, &markdown), markdown);
            let reports = json!({
                "valid_time": valid, "hide_legend": true, "cache_scope": "org", "observed_time": observed,
                "key_type": "timestamp",
                "keys": [{"key": "reports", "label": "Reports"}],
                "data": [{"key": 1_632_787_200_000.0_f64, "label": "09/28/2021, 00:00:00", "value": 1234,
                          "values": [{"key": "reports", "value": 1000, "tooltip": "Reports: 1000",
                                      "link_uri": "https://isc.sans.edu/submissions.html?startdate=2021-08-29&enddate=2021-09-28&yname=sources&y2name=targets&submit=Update"}]}]
            });
            assert_eq!(round_trip(TileType::VerticalBarChart, &reports), reports);
            let top_ip = json!({
                "valid_time": valid, "keys": [{"key": "192.0.2.1", "label": "192.0.2.1"}],
                "cache_scope": "org", "hide_legend": true, "observed_time": observed,
                "key_type": "string", "observable_type": "ip",
                "data": [{"key": "192.0.2.1", "label": "192.0.2.1", "value": 40,
                          "values": [{"key": "192.0.2.1", "tooltip": "192.0.2.1",
                                      "link_uri": "https://isc.sans.edu/ipinfo.html?ip=192.0.2.1", "value": 40}]}]
            });
            assert_eq!(round_trip(TileType::HorizontalBarChart, &top_ip), top_ip);
            let mut top_ports = top_ip.clone();
            top_ports["observable_type"] = json!(false);
            let mut expected = top_ip;
            expected.as_object_mut().unwrap().remove("observable_type");
            assert_eq!(
                round_trip(TileType::HorizontalBarChart, &top_ports),
                expected
            );
            top_ports["observable_type"] = json!(1);
            assert!(TileData::from_value(TileType::HorizontalBarChart, top_ports).is_err());
        }

        /// `CiscoSecurity/tr-05-serverless-meraki-mx:code/api/dashboard.py@09432583`: a tile
        /// without `default_period`, metrics without a unit, bars without a label or a total,
        /// and the envelope's `period`, which no type has (ignored).
        #[test]
        fn meraki() {
            round_trip_tile(&json!({
                "description": "Meraki Security Events provides an overview of the number of security events from Meraki Dashboard.",
                "periods": ["last_hour", "last_24_hours", "last_7_days", "last_30_days", "last_60_days", "last_90_days"],
                "tags": ["Meraki"],
                "type": "horizontal_bar_chart",
                "short_description": "Meraki Security Events",
                "title": "Meraki Security Events",
                "id": "meraki_security_events_chart"
            }));
            let times = json!({"start_time": "2021-09-28T19:07:58.000001Z", "end_time": "2021-09-28T19:08:58.000001Z"});
            let metrics = json!({
                "valid_time": times, "observed_time": times, "cache_scope": "org",
                "data": [{"value": 3, "icon": "device-type", "link_uri": "https://dashboard.meraki.com", "label": "Total Devices"}]
            });
            let mut with_period = metrics.clone();
            with_period["period"] = json!("last_hour");
            assert_eq!(round_trip(TileType::MetricGroup, &with_period), metrics);
            let bars = json!({
                "valid_time": times, "observed_time": times, "cache_scope": "org",
                "keys": [{"key": "device_online", "label": "Devices Online"}], "key_type": "string",
                "data": [{"key": "MX", "values": [{"key": "device_online", "value": 2, "tooltip": "Devices Online: 2"}]}]
            });
            assert_eq!(round_trip(TileType::VerticalBarChart, &bars), bars);
        }

        /// `CiscoDevNet/tr-05-aws-vpc-logs:api/utils.py@2b0d9fc0`: `value-unit` is read, and
        /// written `value_unit`.
        #[test]
        fn aws_vpc_logs_value_unit() {
            let times = json!({"start_time": "2021-09-28T19:07:58.5Z", "end_time": "2021-09-28T20:07:58.5Z"});
            let data = json!({
                "valid_time": times, "observed_time": times, "cache_scope": "org",
                "data": [{"value": 7, "value-unit": "integer", "icon": "vpn",
                          "link_uri": "https://console.aws.amazon.com", "label": "Ingress flows"}]
            });
            let written = round_trip(TileType::MetricGroup, &data);
            assert_eq!(
                written["data"][0],
                json!({"value": 7, "value_unit": "integer", "icon": "vpn",
                       "link_uri": "https://console.aws.amazon.com", "label": "Ingress flows"})
            );
            assert_eq!(
                written["valid_time"]["start_time"],
                "2021-09-28T19:07:58.500Z"
            );
        }

        #[test]
        fn line_charts_and_bad_data() {
            let times =
                json!({"start_time": "2021-09-28T19:07:58Z", "end_time": "2021-09-28T20:07:58Z"});
            let data = json!({"valid_time": times, "observed_time": times, "cache_scope": "none",
                              "data": {"anything": [1, 2]}});
            let expected = json!({
                "valid_time": {"start_time": "2021-09-28T19:07:58.000Z", "end_time": "2021-09-28T20:07:58.000Z"},
                "observed_time": {"start_time": "2021-09-28T19:07:58.000Z", "end_time": "2021-09-28T20:07:58.000Z"},
                "cache_scope": "none", "data": {"anything": [1, 2]}});
            assert_eq!(round_trip(TileType::LineChart, &data), expected);
            for (kind, bad) in [
                (TileType::MetricGroup, json!({"data": [{"label": "x"}]})),
                (TileType::Markdown, json!({"data": [1]})),
                (TileType::DonutGraph, json!({"data": []})),
                (TileType::VerticalBarChart, json!({"keys": [], "data": []})),
                (
                    TileType::ThreatMap,
                    json!({"data": [{"coordinates": [1.0], "volume": 1}]}),
                ),
            ] {
                let mut value = data.clone();
                value
                    .as_object_mut()
                    .unwrap()
                    .extend(bad.as_object().unwrap().clone());
                assert!(TileData::from_value(kind, value).is_err(), "{kind}");
            }
            let mut no_cache_scope = data;
            no_cache_scope
                .as_object_mut()
                .unwrap()
                .remove("cache_scope");
            assert!(TileData::from_value(TileType::LineChart, no_cache_scope).is_err());
        }
    }
}
