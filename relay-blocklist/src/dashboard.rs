//! The relay's dashboard: two tiles, and the in-memory count of matches behind the chart.
//!
//! - `blocklist_summary` (`metric_group`): the lists loaded, the matches of the period, the
//!   minutes since the lists were loaded, and each list's entries and merged ranges.
//! - `blocklist_matches` (`vertical_bar_chart`): the matches per list over the period, one
//!   bar an hour for `last_24_hours`, one bar a day for the longer periods.
//!
//! A match is a lookup (deliberate or observe) that found an address on a list: an address on
//! two lists is a match of each. `Matches` keeps them by the hour, for 90 days, in a ring of
//! fixed size: its memory does not grow with traffic (90 × 24 hours × 8 bytes per list, and
//! the hour of each slot). It is the process's own: it starts empty, and each instance of the
//! relay (each Lambda execution environment) counts what it answered.

use std::sync::{Mutex, PoisonError};

use xdr_relay_core::RelayError;
use xdr_relay_core::ctim_model::Timestamp;
use xdr_relay_core::tiles::{
    Bar, BarKey, BarValue, ChartKey, KeyType, Metric, Period, Tile, TileContent, TileData,
    TileType, TimeRange,
};

use crate::blocklist::Blocklist;

/// The summary tile's id.
pub const SUMMARY: &str = "blocklist_summary";
/// The chart's id.
pub const MATCHES: &str = "blocklist_matches";

/// How many hours [`Matches`] remembers: the longest period's.
const HOURS: usize = 90 * 24;

/// The relay's tiles, as `/tiles` lists them.
#[must_use]
pub fn tiles() -> Vec<Tile> {
    vec![
        Tile::new(SUMMARY, TileType::MetricGroup, "Local blocklists")
            .description(
                "The blocklists loaded, their matches in the period (lookups that found an \
                 address on a list), the minutes since the lists were loaded, and each list's \
                 entries and ranges (after merging).",
            )
            .short_description("The blocklists and their matches.")
            .tags(["Local blocklists", "Summary"])
            .default_period(Period::Last24Hours),
        Tile::new(MATCHES, TileType::VerticalBarChart, "Matches per list")
            .description(
                "Lookups that found an address on each list: per hour over the last 24 hours, \
                 per day over longer periods. Counted by this relay process since it started.",
            )
            .short_description("Matches per list over the period.")
            .tags(["Local blocklists", "Matches"])
            .default_period(Period::Last7Days),
    ]
}

/// Matches per list per hour, for the last 90 days: a ring of [`HOURS`] slots, each the hour
/// it counts and one count per list.
#[derive(Debug)]
pub(crate) struct Matches {
    lists: usize,
    ring: Mutex<Ring>,
}

#[derive(Debug)]
struct Ring {
    /// The hour (since the epoch) each slot counts; `u64::MAX` for none.
    hours: Vec<u64>,
    /// `counts[slot * lists + list]`.
    counts: Vec<u64>,
}

/// The hour (since the epoch) of `time`.
fn hour_of(time: Timestamp) -> u64 {
    u64::try_from(time.to_offset_date_time().unix_timestamp().div_euclid(3600)).unwrap_or(0)
}

/// The start of `hour`.
fn start_of(hour: u64) -> Timestamp {
    let seconds = i64::try_from(hour.saturating_mul(3600)).unwrap_or(i64::MAX);
    let start = xdr_relay_core::time::OffsetDateTime::from_unix_timestamp(seconds)
        .unwrap_or(xdr_relay_core::time::OffsetDateTime::UNIX_EPOCH);
    Timestamp::from(start)
}

impl Matches {
    /// No matches yet, of `lists` lists.
    pub(crate) fn new(lists: usize) -> Self {
        Self {
            lists,
            ring: Mutex::new(Ring {
                hours: vec![u64::MAX; HOURS],
                counts: vec![0; HOURS * lists],
            }),
        }
    }

    /// Counts `found[i]` matches of list `i` at `now`.
    pub(crate) fn record(&self, now: Timestamp, found: &[u64]) {
        if found.iter().all(|&n| n == 0) {
            return;
        }
        let hour = hour_of(now);
        let slot = usize::try_from(hour % HOURS as u64).unwrap_or(0);
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let range = slot * self.lists..(slot + 1) * self.lists;
        let reset = ring.hours.get(slot) != Some(&hour);
        if let Some(tag) = ring.hours.get_mut(slot) {
            *tag = hour;
        }
        if let Some(counts) = ring.counts.get_mut(range) {
            for (count, &n) in counts.iter_mut().zip(found) {
                *count = if reset { n } else { count.saturating_add(n) };
            }
        }
    }

    /// The matches of each list in each of the `hours` hours from `first` on: one row per
    /// hour (zeros for an hour the ring no longer or never held).
    fn hourly(&self, first: u64, hours: u64) -> Vec<Vec<u64>> {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        (first..first.saturating_add(hours))
            .map(|hour| {
                let slot = usize::try_from(hour % HOURS as u64).unwrap_or(0);
                let range = slot * self.lists..(slot + 1) * self.lists;
                match (ring.hours.get(slot), ring.counts.get(range)) {
                    (Some(&tag), Some(counts)) if tag == hour => counts.to_vec(),
                    _ => vec![0; self.lists],
                }
            })
            .collect()
    }
}

/// The tile `id`'s data for the `period` that ends at `now`, from `lists` (loaded at
/// `loaded_at`) and `matches`.
pub(crate) fn tile_data(
    id: &str,
    period: Period,
    now: Timestamp,
    lists: &[Blocklist],
    loaded_at: Timestamp,
    matches: &Matches,
) -> Result<TileData, RelayError> {
    // The period's whole hours, the current one last: what the counts can tell apart.
    let hours = u64::from(period.hours());
    let first = (hour_of(now) + 1).saturating_sub(hours);
    let observed = TimeRange::new(start_of(first), now);
    let hourly = matches.hourly(first, hours);
    let content = match id {
        SUMMARY => summary(lists, loaded_at, now, &hourly),
        MATCHES => chart(lists, first, period, &hourly),
        _ => return Err(RelayError::InvalidArgument("Invalid tile id".to_owned())),
    };
    Ok(TileData::new(observed, content))
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn summary(
    lists: &[Blocklist],
    loaded_at: Timestamp,
    now: Timestamp,
    hourly: &[Vec<u64>],
) -> TileContent {
    let total = hourly
        .iter()
        .flatten()
        .fold(0, |a: u64, &n| a.saturating_add(n));
    let age = now.to_offset_date_time() - loaded_at.to_offset_date_time();
    let minutes = u64::try_from(age.whole_minutes()).unwrap_or(0);
    let mut metrics = vec![
        Metric::new("Lists loaded", count(lists.len())).icon("bulleted-list"),
        Metric::new("Matches", total).icon("warning"),
        Metric::new("Minutes since the lists were loaded", minutes).icon("information"),
    ];
    for list in lists {
        metrics.push(
            Metric::new(format!("{}: entries", list.name), count(list.entries)).icon("block"),
        );
        metrics.push(
            Metric::new(format!("{}: ranges", list.name), count(list.ranges.len())).icon("block"),
        );
    }
    TileContent::metric_group(metrics)
}

fn chart(lists: &[Blocklist], first: u64, period: Period, hourly: &[Vec<u64>]) -> TileContent {
    let per_bar: usize = if period.hours() <= 24 { 1 } else { 24 };
    let keys = lists.iter().map(|l| ChartKey::new(&l.name, &l.name));
    let bars = hourly.chunks(per_bar).zip(0_u64..).map(|(hours, n)| {
        let start = start_of(first + n * per_bar as u64);
        let values = lists.iter().enumerate().filter_map(|(i, list)| {
            let matched = hours
                .iter()
                .filter_map(|row| row.get(i))
                .fold(0, |a: u64, &n| a.saturating_add(n));
            (matched > 0).then(|| {
                BarValue::new(&list.name, matched).tooltip(format!("{}: {matched}", list.name))
            })
        });
        Bar::new(BarKey::at(start), values).label(label(start))
    });
    TileContent::bar_chart(keys, KeyType::Timestamp, bars)
}

/// `2024-05-01 13:00`: a bar's start, in UTC.
fn label(time: Timestamp) -> String {
    let t = time.to_offset_date_time();
    format!(
        "{:04}-{:02}-{:02} {:02}:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour()
    )
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    fn lists() -> Vec<Blocklist> {
        vec![
            Blocklist::parse("a", "a", "192.0.2.0/24\n192.0.2.1\n").unwrap(),
            Blocklist::parse("b", "b", "198.51.100.1\n").unwrap(),
        ]
    }

    fn json_of(data: &TileData) -> Value {
        serde_json::to_value(data).unwrap()
    }

    #[test]
    fn the_tiles_are_usable() {
        let info = xdr_relay_core::ProviderInfo::new("t", "1", []).tiles(tiles());
        assert_eq!(info.tiles.len(), 2);
        assert!(info.tiles.iter().all(|t| t.offers(Period::Last90Days)));
    }

    #[test]
    fn the_summary_counts_the_lists_and_the_periods_matches() {
        let matches = Matches::new(2);
        let now = at("2024-05-01T12:30:00Z");
        matches.record(at("2024-05-01T12:05:00Z"), &[2, 1]);
        matches.record(at("2024-04-30T13:00:00Z"), &[1, 0]); // 23 hours before: in the day
        matches.record(at("2024-04-30T12:59:59Z"), &[5, 5]); // 24 hours before: not
        let data = tile_data(
            SUMMARY,
            Period::Last24Hours,
            now,
            &lists(),
            at("2024-05-01T10:00:00Z"),
            &matches,
        )
        .unwrap();
        assert_eq!(
            json_of(&data),
            json!({
                "valid_time": {"start_time": "2024-04-30T13:00:00.000Z", "end_time": "2024-05-01T12:30:00.000Z"},
                "observed_time": {"start_time": "2024-04-30T13:00:00.000Z", "end_time": "2024-05-01T12:30:00.000Z"},
                "cache_scope": "none",
                "data": [
                    {"icon": "bulleted-list", "label": "Lists loaded", "value": 2, "value_unit": "integer"},
                    {"icon": "warning", "label": "Matches", "value": 4, "value_unit": "integer"},
                    {"icon": "information", "label": "Minutes since the lists were loaded", "value": 150, "value_unit": "integer"},
                    {"icon": "block", "label": "a: entries", "value": 2, "value_unit": "integer"},
                    {"icon": "block", "label": "a: ranges", "value": 1, "value_unit": "integer"},
                    {"icon": "block", "label": "b: entries", "value": 1, "value_unit": "integer"},
                    {"icon": "block", "label": "b: ranges", "value": 1, "value_unit": "integer"}
                ]
            })
        );
        let week = tile_data(SUMMARY, Period::Last7Days, now, &lists(), now, &matches).unwrap();
        assert_eq!(json_of(&week)["data"][1]["value"], 14);
        assert_eq!(json_of(&week)["data"][2]["value"], 0);
    }

    #[test]
    fn the_chart_has_a_bar_an_hour_or_a_day() {
        let matches = Matches::new(2);
        let now = at("2024-05-01T12:30:00Z");
        matches.record(at("2024-05-01T12:05:00Z"), &[2, 1]);
        matches.record(at("2024-05-01T12:06:00Z"), &[1, 0]);
        matches.record(at("2024-04-30T13:10:00Z"), &[0, 4]);
        let day = json_of(
            &tile_data(MATCHES, Period::Last24Hours, now, &lists(), now, &matches).unwrap(),
        );
        assert_eq!(
            day["keys"],
            json!([{"key": "a", "label": "a"}, {"key": "b", "label": "b"}])
        );
        assert_eq!(day["key_type"], "timestamp");
        let bars = day["data"].as_array().unwrap();
        assert_eq!(bars.len(), 24);
        assert_eq!(
            bars[0],
            json!({"key": 1_714_482_000_000_i64, "label": "2024-04-30 13:00", "value": 4,
                   "values": [{"key": "b", "value": 4, "tooltip": "b: 4"}]})
        );
        assert_eq!(
            bars[1],
            json!({"key": 1_714_485_600_000_i64, "label": "2024-04-30 14:00", "value": 0, "values": []})
        );
        assert_eq!(
            bars[23],
            json!({"key": 1_714_564_800_000_i64, "label": "2024-05-01 12:00", "value": 4,
                   "values": [{"key": "a", "value": 3, "tooltip": "a: 3"}, {"key": "b", "value": 1, "tooltip": "b: 1"}]})
        );
        // A week: seven bars of 24 hours, the last one ending with the current hour.
        let week =
            json_of(&tile_data(MATCHES, Period::Last7Days, now, &lists(), now, &matches).unwrap());
        let bars = week["data"].as_array().unwrap();
        assert_eq!(bars.len(), 7);
        assert_eq!(bars[6]["label"], "2024-04-30 13:00");
        assert_eq!(bars[6]["value"], 8);
        assert_eq!(bars[5]["value"], 0);
        assert_eq!(
            week["observed_time"]["start_time"],
            "2024-04-24T13:00:00.000Z"
        );
        let quarter =
            json_of(&tile_data(MATCHES, Period::Last90Days, now, &lists(), now, &matches).unwrap());
        assert_eq!(quarter["data"].as_array().unwrap().len(), 90);
        assert!(tile_data("other", Period::Last7Days, now, &lists(), now, &matches).is_err());
    }

    #[test]
    fn the_ring_forgets_after_90_days_and_stays_its_size() {
        let matches = Matches::new(1);
        let start = at("2024-01-01T00:00:00Z");
        matches.record(start, &[7]);
        // The same slot, 90 days later: the old hour's count is replaced, not added to.
        let later = start.saturating_add(xdr_relay_core::time::Duration::days(90));
        matches.record(later, &[1]);
        let first = hour_of(start);
        assert_eq!(matches.hourly(first, 1), [[0]]);
        assert_eq!(matches.hourly(hour_of(later), 1), [[1]]);
        // Every hour of a year, and the ring holds 90 days of them.
        for hour in 0..24 * 365 {
            let t = start.saturating_add(xdr_relay_core::time::Duration::hours(hour));
            matches.record(t, &[1]);
        }
        let ring = matches.ring.lock().unwrap();
        assert_eq!((ring.hours.len(), ring.counts.len()), (HOURS, HOURS));
        drop(ring);
        let end = start.saturating_add(xdr_relay_core::time::Duration::hours(24 * 365 - 1));
        let kept: u64 = matches
            .hourly(hour_of(end) + 1 - HOURS as u64, HOURS as u64)
            .iter()
            .flatten()
            .sum();
        assert_eq!(kept, HOURS as u64);
        // Nothing found records nothing; fewer counts than lists count the first lists.
        let two = Matches::new(2);
        two.record(start, &[0, 0]);
        two.record(start, &[3]);
        assert_eq!(two.hourly(first, 1), [[3, 0]]);
    }
}
