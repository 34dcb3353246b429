//! Every Cisco Threat Response / XDR relay of this workspace in one deployment: the
//! `xdr-relays` command (one self-hosted server) and `xdr-relays-lambda` (one AWS Lambda
//! function).
//!
//! **What it is:** [`suite`], the list of relays and the names they are mounted under. Each
//! relay answers under `/{name}/` with every route it has alone, exactly as it answers alone;
//! `RELAYS` chooses which (by default every relay whose settings are complete). The serving is
//! `xdr_relay_server::main_for_suite` and `xdr_relay_lambda::run_for_suite` of
//! `xdr_relay_core::Suite`.
//! **What it is not:** a relay. Each relay's logic is its own crate's; adding one is one line
//! in [`suite`] and one dependency.
//!
//! ```
//! let suite = xdr_relay_suite::suite();
//! let names: Vec<&str> = suite.members().iter().map(|m| m.name()).collect();
//! assert_eq!(names, ["auth0-signals", "abuseipdb", "otx", "urlscan", "blocklist"]);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use xdr_relay_core::{Auth0Signals, Suite};

/// The suite's version (this crate's): what the root `/version` says beside each relay's.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Every relay of the workspace, each with its mount name: one line per relay.
#[must_use]
pub fn suite() -> Suite {
    Suite::new(VERSION)
        .relay("auth0-signals", Auth0Signals::app())
        .relay("abuseipdb", xdr_relay_abuseipdb::app())
        .relay("otx", xdr_relay_otx::app())
        .relay("urlscan", xdr_relay_urlscan::app())
        .relay("blocklist", xdr_relay_blocklist::app())
}
