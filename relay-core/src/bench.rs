//! Entry points for the crate's benchmarks and fuzz targets: the pure steps of
//! `/observe/observables` that the router cannot reach without an upstream.
//!
//! **Unstable.** Compiled only with the cargo feature `bench`, which is off by default; not
//! part of the API, and may change or disappear in any release. Everything else (parsing,
//! token checks, the other routes) is measured and fuzzed through [`crate::router_for`].

use std::net::IpAddr;
use std::sync::Arc;

use ctim_model::ObserveBundle;
use signals_client::{IpReport, ListKind, ListMetadata};

use crate::error::Envelope;
use crate::request::Observable;
use crate::signals::IpObservable;
use crate::signals::mapping::{self, QueryTime};

/// The `/observe/observables` data for `(ip, report)` pairs, mapped as the route maps the
/// reports it received; `metadata` finds a blocklist's metadata (a list without any is skipped,
/// as when its lookup failed). Values that are not IP addresses are skipped, as the route does.
#[must_use]
pub fn observe(
    reports: &[(String, IpReport)],
    limit: usize,
    metadata: impl Fn(ListKind, &str) -> Option<Arc<ListMetadata>>,
) -> ObserveBundle {
    let time = QueryTime::now();
    let mut data = ObserveBundle::default();
    for (value, report) in reports {
        let Ok(ip) = value.parse::<IpAddr>() else {
            continue;
        };
        let observable = Observable {
            kind: "ip".into(),
            value: value.clone(),
        };
        let o = IpObservable { observable, ip };
        mapping::observe(&mut data, &o, report, &time, limit, &metadata);
    }
    data
}

/// The response body the route sends for `data`: the envelope, serialised as the route does.
#[must_use]
pub fn envelope_json(data: &ObserveBundle) -> Vec<u8> {
    Envelope::partial(Some(data), &[]).to_json()
}
