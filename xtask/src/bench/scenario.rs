//! The load scenarios: which route, which observables, which credential.
//!
//! Observables come from the stand-in's deterministic reports (`stub.rs`): `observe-1` asks
//! about an address on exactly one blocklist; `observe-50` about 50 distinct addresses on
//! three or four blocklists each, taken from the benchmarking range 198.18.0.0/15 onwards.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::json;

use crate::stub;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// `/observe/observables` for one IP on one list: one upstream call when warm.
    Observe1,
    /// `/observe/observables` for the same 50 IPs every time: the metadata cache is warm after
    /// the first request, so each request is one round of 50 report lookups.
    Observe50,
    /// `/observe/observables` for 50 IPs never asked before. Against a running relay only the
    /// IPs are fresh (the stand-in has few lists, so list metadata is cached after the first
    /// request); the default run makes the metadata cache cold by starting a fresh relay.
    Observe50Cold,
    /// `/deliberate/observables` for one IP: one upstream call, no metadata.
    Deliberate1,
    /// `/health`: one upstream key check.
    Health,
    /// `/refer/observables` for one IP: no upstream call at all.
    Refer1,
    /// The stand-in itself, `GET /v2.0/ip/<ip>` with `X-Auth-Token`: the baseline, the same
    /// call the relay makes for `observe-1`.
    Stub,
}

impl Scenario {
    pub(crate) const ALL: [Scenario; 7] = [
        Scenario::Observe1,
        Scenario::Observe50,
        Scenario::Observe50Cold,
        Scenario::Deliberate1,
        Scenario::Health,
        Scenario::Refer1,
        Scenario::Stub,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::Observe1 => "observe-1",
            Scenario::Observe50 => "observe-50",
            Scenario::Observe50Cold => "observe-50-cold",
            Scenario::Deliberate1 => "deliberate-1",
            Scenario::Health => "health",
            Scenario::Refer1 => "refer-1",
            Scenario::Stub => "stub",
        }
    }

    pub(crate) fn parse(name: &str) -> Result<Scenario, String> {
        // `observe-50-warm` is accepted as the explicit spelling of `observe-50`.
        let name = if name == "observe-50-warm" {
            "observe-50"
        } else {
            name
        };
        Scenario::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
                format!("unknown scenario `{name}` (one of {})", names.join(", "))
            })
    }
}

/// One request, ready to send.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) method: reqwest::Method,
    pub(crate) url: String,
    pub(crate) body: Option<String>,
}

/// Builds the requests of one scenario against one base URL.
#[derive(Debug)]
pub(crate) struct Requests {
    method: reqwest::Method,
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
        let base = base_url.trim_end_matches('/');
        let one = || Body::Fixed(observables(&[IpAddr::V4(ONE_LIST_IP)]));
        let (method, path, body) = match scenario {
            Scenario::Observe1 => (reqwest::Method::POST, "/observe/observables".into(), one()),
            Scenario::Observe50 => (
                reqwest::Method::POST,
                "/observe/observables".into(),
                Body::Fixed(observables(&warm_ips())),
            ),
            Scenario::Observe50Cold => (
                reqwest::Method::POST,
                "/observe/observables".into(),
                Body::Fresh(FreshIps::default()),
            ),
            Scenario::Deliberate1 => (
                reqwest::Method::POST,
                "/deliberate/observables".into(),
                one(),
            ),
            Scenario::Refer1 => (reqwest::Method::POST, "/refer/observables".into(), one()),
            Scenario::Health => (reqwest::Method::POST, "/health".into(), Body::None),
            Scenario::Stub => (
                reqwest::Method::GET,
                format!("/v2.0/ip/{ONE_LIST_IP}"),
                Body::None,
            ),
        };
        Requests {
            method,
            url: format!("{base}{path}"),
            body,
        }
    }

    /// `POST <base><path>` with the same JSON body every time.
    pub(crate) fn fixed(base_url: &str, path: &str, body: &str) -> Requests {
        Requests {
            method: reqwest::Method::POST,
            url: format!(
                "{}/{}",
                base_url.trim_end_matches('/'),
                path.trim_start_matches('/')
            ),
            body: Body::Fixed(body.to_owned()),
        }
    }

    pub(crate) fn next(&self) -> Request {
        Request {
            method: self.method.clone(),
            url: self.url.clone(),
            body: match &self.body {
                Body::None => None,
                Body::Fixed(body) => Some(body.clone()),
                Body::Fresh(fresh) => Some(observables(&fresh.claim(MANY))),
            },
        }
    }
}

/// The request body for `ips`.
pub(crate) fn observables(ips: &[IpAddr]) -> String {
    let items: Vec<_> = ips
        .iter()
        .map(|ip| json!({"type": "ip", "value": ip.to_string()}))
        .collect();
    serde_json::Value::Array(items).to_string()
}

/// The 50 addresses every `observe-50` request asks about.
pub(crate) fn warm_ips() -> Vec<IpAddr> {
    several_lists(WARM_START, u32::MAX).take(MANY).collect()
}

/// Addresses at or after `start` (below `end`) that the stand-in puts on three lists or more.
fn several_lists(start: u32, end: u32) -> impl Iterator<Item = IpAddr> {
    (start..end)
        .map(|n| IpAddr::V4(Ipv4Addr::from(n)))
        .filter(|&ip| stub::blocklist_count(ip) >= 3)
}

/// A source of addresses never handed out before (by this source), shared by the workers.
#[derive(Debug)]
pub(crate) struct FreshIps {
    next: AtomicU32,
}

impl Default for FreshIps {
    fn default() -> Self {
        FreshIps {
            next: AtomicU32::new(FRESH_START),
        }
    }
}

impl FreshIps {
    /// `count` (at most about `FRESH_BLOCK / 2`) distinct addresses on several lists each.
    pub(crate) fn claim(&self, count: usize) -> Vec<IpAddr> {
        let start = self.next.fetch_add(FRESH_BLOCK, Ordering::Relaxed);
        several_lists(start, start.saturating_add(FRESH_BLOCK))
            .take(count)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::parse(s.name()), Ok(s));
        }
        assert_eq!(Scenario::parse("observe-50-warm"), Ok(Scenario::Observe50));
        assert!(Scenario::parse("observe-2").is_err());
    }

    #[test]
    fn observe_1_asks_about_one_list() {
        assert_eq!(stub::blocklist_count(IpAddr::V4(ONE_LIST_IP)), 1);
    }

    #[test]
    fn warm_ips_are_fifty_distinct_addresses_on_several_lists() {
        let ips = warm_ips();
        let distinct: std::collections::HashSet<_> = ips.iter().collect();
        assert_eq!(distinct.len(), MANY);
        assert!(ips.iter().all(|&ip| stub::blocklist_count(ip) >= 3));
    }

    #[test]
    fn fresh_ips_never_repeat_and_never_meet_the_warm_set() {
        let fresh = FreshIps::default();
        let mut seen: std::collections::HashSet<IpAddr> = warm_ips().into_iter().collect();
        for _ in 0..100 {
            let block = fresh.claim(MANY);
            assert_eq!(block.len(), MANY);
            for ip in block {
                assert!(seen.insert(ip), "{ip} handed out twice");
            }
        }
    }
}
