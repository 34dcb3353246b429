//! Refer links: where an analyst can read more about an observable.

use serde::Serialize;

use crate::request::IpObservable;

/// One `/refer/observables` link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ReferLink {
    id: String,
    title: &'static str,
    description: &'static str,
    url: String,
    categories: [&'static str; 2],
}

/// The Auth0 Signals report page of an IP.
pub(crate) fn report_url(ip: &std::net::IpAddr) -> String {
    format!("https://auth0.com/signals/ip/{ip}-report")
}

pub(crate) fn link(o: &IpObservable) -> ReferLink {
    ReferLink {
        id: format!("ref-auth0-signals-search-ip-{}", o.observable.value),
        title: "Search for this IP",
        description: "Lookup this IP on Auth0 Signals",
        url: report_url(&o.ip),
        categories: ["Search", "Auth0 Signals"],
    }
}
