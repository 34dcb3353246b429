//! The load scenarios: which route, which observables, which credential.
//!
//! Observables come from the stand-in's deterministic reports (`testkit::signals`): `observe-1` asks
//! about an address on exactly one blocklist; `observe-50` about 50 distinct addresses on
//! three or four blocklists each, taken from the benchmarking range 198.18.0.0/15 onwards.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::json;

use testkit::signals as stub;

/// An address the stand-in puts on exactly one blocklist (FAIL2BAN-SSH).
pub(crate) const ONE_LIST_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 9);

/// Addresses in one `observe-50` request.
pub(crate) const MANY: usize = 50;

/// Where the warm set starts (198.18.0.0, RFC 2544's benchmarking range).
const WARM_START: u32 = 0xC612_0000;
/// Where fresh addresses start (198.19.0.0), far from the warm set.
const FRESH_START: u32 = 0xC613_0000;
/// Addresses claimed per fresh request: about half of them are on three lists or more.
const FRESH_BLOCK: u32 = 400;

/// One kind of request the driver repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Scenario {
    /// `/observe/observables` for one IP on one list: one upstream call when warm.
    #[value(name = "observe-1")]
    Observe1,
    /// `/observe/observables` for the same 50 IPs every time: one round of 50 report lookups
    /// once the metadata cache is warm.
    #[value(name = "observe-50", alias = "observe-50-warm")]
    Observe50,
    /// `/observe/observables` for 50 IPs never asked before (list metadata stays cached; the
    /// default run makes that cache cold by starting a fresh relay).
    #[value(name = "observe-50-cold")]
    Observe50Cold,
    /// `/deliberate/observables` for one IP: one upstream call, no metadata.
    #[value(name = "deliberate-1")]
    Deliberate1,
    /// `/health`: one upstream key check.
    Health,
    /// `/refer/observables` for one IP: no upstream call at all.
    #[value(name = "refer-1")]
    Refer1,
    /// The stand-in itself, `GET /v2.0/ip/<ip>` with `X-Auth-Token` (default: the stand-in's
    /// key): the baseline, the call the relay makes for `observe-1`.
    Stub,
}

impl Scenario {
    pub(crate) fn name(self) -> String {
        let value = clap::ValueEnum::to_possible_value(&self);
        value.map(|v| v.get_name().to_owned()).unwrap_or_default()
    }
}

/// The requests of one scenario against one base URL.
#[derive(Debug)]
pub(crate) struct Requests {
    /// `GET` rather than `POST`.
    get: bool,
    url: String,
    body: Body,
}

#[derive(Debug)]
enum Body {
    None,
    /// The same body every time.
    Fixed(String),
    /// 50 addresses never asked before, every time.
    Fresh(FreshIps),
}

impl Requests {
    pub(crate) fn new(scenario: Scenario, base_url: &str) -> Requests {
        let one = || Body::Fixed(observables(&[IpAddr::V4(ONE_LIST_IP)]));
        let (path, body) = match scenario {
            Scenario::Observe1 => ("observe/observables".into(), one()),
            Scenario::Observe50 => (
                "observe/observables".into(),
                Body::Fixed(observables(&warm_ips())),
            ),
            Scenario::Observe50Cold => (
                "observe/observables".into(),
                Body::Fresh(FreshIps::default()),
            ),
            Scenario::Deliberate1 => ("deliberate/observables".into(), one()),
            Scenario::Refer1 => ("refer/observables".into(), one()),
            Scenario::Health => ("health".into(), Body::None),
            Scenario::Stub => (format!("v2.0/ip/{ONE_LIST_IP}"), Body::None),
        };
        let requests = Requests::with(base_url, &path, body);
        Requests {
            get: scenario == Scenario::Stub,
            ..requests
        }
    }

    /// `POST <base>/<path>` with the same JSON body every time.
    pub(crate) fn fixed(base_url: &str, path: &str, body: String) -> Requests {
        Requests::with(base_url, path, Body::Fixed(body))
    }

    fn with(base_url: &str, path: &str, body: Body) -> Requests {
        let url = format!("{}/{path}", base_url.trim_end_matches('/'));
        Requests {
            get: false,
            url,
            body,
        }
    }

    /// Whether the next request is a `GET`, its URL and its JSON body.
    pub(crate) fn next(&self) -> (bool, &str, Option<String>) {
        let body = match &self.body {
            Body::None => None,
            Body::Fixed(body) => Some(body.clone()),
            Body::Fresh(fresh) => Some(observables(&fresh.claim(MANY))),
        };
        (self.get, &self.url, body)
    }
}

/// The request body for `ips`.
pub(crate) fn observables(ips: &[IpAddr]) -> String {
    let items = ips
        .iter()
        .map(|ip| json!({"type": "ip", "value": ip.to_string()}));
    serde_json::Value::Array(items.collect()).to_string()
}

/// The 50 addresses every `observe-50` request asks about.
fn warm_ips() -> Vec<IpAddr> {
    several_lists(WARM_START, u32::MAX).take(MANY).collect()
}

/// Addresses at or after `start` (below `end`) that the stand-in puts on three lists or more.
fn several_lists(start: u32, end: u32) -> impl Iterator<Item = IpAddr> {
    let ips = (start..end).map(|n| IpAddr::V4(Ipv4Addr::from(n)));
    ips.filter(|&ip| stub::blocklist_count(ip) >= 3)
}

/// A source of addresses never handed out before (by this source), shared by the workers.
#[derive(Debug)]
pub(crate) struct FreshIps(AtomicU32);

impl Default for FreshIps {
    fn default() -> Self {
        FreshIps(AtomicU32::new(FRESH_START))
    }
}

impl FreshIps {
    /// `count` (at most about `FRESH_BLOCK / 2`) distinct addresses on several lists each.
    pub(crate) fn claim(&self, count: usize) -> Vec<IpAddr> {
        let start = self.0.fetch_add(FRESH_BLOCK, Ordering::Relaxed);
        several_lists(start, start.saturating_add(FRESH_BLOCK))
            .take(count)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;
    use std::collections::HashSet;

    #[test]
    fn names_round_trip() {
        for s in Scenario::value_variants() {
            assert_eq!(Scenario::from_str(&s.name(), false), Ok(*s));
        }
        assert_eq!(
            Scenario::from_str("observe-50-warm", false),
            Ok(Scenario::Observe50)
        );
        assert!(Scenario::from_str("observe-2", false).is_err());
    }

    #[test]
    fn observe_1_asks_about_one_list() {
        assert_eq!(stub::blocklist_count(IpAddr::V4(ONE_LIST_IP)), 1);
    }

    #[test]
    fn warm_and_fresh_addresses_are_distinct_and_on_several_lists() {
        let warm = warm_ips();
        assert!(warm.iter().all(|&ip| stub::blocklist_count(ip) >= 3));
        let mut seen: HashSet<IpAddr> = warm.into_iter().collect();
        assert_eq!(seen.len(), MANY);
        let fresh = FreshIps::default();
        for _ in 0..100 {
            let block = fresh.claim(MANY);
            assert_eq!(block.len(), MANY);
            assert!(
                block.into_iter().all(|ip| seen.insert(ip)),
                "an address handed out twice"
            );
        }
    }
}
