//! Refer links of the Auth0 Signals provider: where an analyst can read more about an IP.

use super::IpObservable;
use crate::provider::ReferLink;

/// The Auth0 Signals report page of an IP.
pub(crate) fn report_url(ip: &std::net::IpAddr) -> String {
    format!("https://auth0.com/signals/ip/{ip}-report")
}

pub(crate) fn link(o: &IpObservable) -> ReferLink {
    ReferLink::new(
        format!("ref-auth0-signals-search-ip-{}", o.observable.value),
        "Search for this IP",
        "Lookup this IP on Auth0 Signals",
        report_url(&o.ip),
        ["Search", "Auth0 Signals"],
    )
}
