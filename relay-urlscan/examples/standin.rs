//! The tests' urlscan.io stand-in as a program, to run the relay locally without a urlscan.io
//! account: it listens on 127.0.0.1 (`--port`, default 8092), answers `search`, `result` and
//! `scan`, and knows a few observables (the rest have no scans). Any API key is accepted but
//! `bad-key` (urlscan.io's 401); `192.0.2.29` answers urlscan.io's 429, and a submission of
//! `https://unresolvable.invalid/` is refused as urlscan.io refuses a name that does not
//! resolve.
//!
//! ```text
//! cargo run -p xdr-relay-urlscan --example standin
//! ```
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use testkit::urlscan::{StandIn, error, hit, page, rate_limited};

/// A phishing page found under its URL, its domain and its address, scanned twice.
const URL: &str = "https://login.phish.example/account/verify.php";
const DOMAIN: &str = "login.phish.example";
const IP: &str = "192.0.2.66";

fn main() {
    let port: u16 = std::env::args()
        .skip_while(|a| a != "--port")
        .nth(1)
        .map_or(8092, |p| p.parse().expect("--port takes a port number"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let standin = StandIn::start_on(port).await;
        let scans = [
            ("0b5e2f4a-1c3d-4e5f-8a9b-0c1d2e3f4a5b", "2024-06-10T23:11:57.123Z", true),
            ("7d8e9f0a-2b3c-4d5e-9f6a-7b8c9d0e1f2a", "2024-06-08T02:00:00.000Z", false),
        ];
        let hits: Vec<_> = scans
            .iter()
            .map(|(id, time, _)| hit(id, time, page(DOMAIN, URL, IP)))
            .collect();
        for query in [
            format!("page.url.keyword:\"{URL}\""),
            format!("page.domain:\"{DOMAIN}\""),
            format!("page.ip:\"{IP}\""),
        ] {
            standin.search(&query, hits.clone());
        }
        for (id, time, malicious) in scans {
            let (categories, tags): (&[&str], &[&str]) = if malicious {
                (&["phishing"], &["phishing", "credential-harvesting"])
            } else {
                (&[], &[])
            };
            let body = standin.result_body(id, time, URL, malicious, categories, tags);
            standin.result(id, &body);
        }
        standin.refuse_key("bad-key");
        standin.search_reply("page.ip:\"192.0.2.29\"", rate_limited(Some("3600")));
        standin.scan_reply(
            "https://unresolvable.invalid/",
            error(
                400,
                "DNS Error - Could not resolve domain",
                Some("The domain unresolvable.invalid could not be resolved to a valid IPv4/IPv6 address. We won't try to load it in the browser."),
            ),
        );
        // On stderr, the line tools wait for (`cargo xtask ci` runs the relay's image against it).
        eprintln!("urlscan.io stand-in listening address={}", standin.address);
        println!(
            "urlscan.io stand-in on http://{addr}/\n  \
             URLSCAN_API_URL=http://{addr}/api/v1/\n  \
             URLSCAN_WEB_URL=http://{addr}/\n\
             Known: {URL}, {DOMAIN} and {IP} (two scans, one malicious: phishing); \
             192.0.2.29 (429); a scan of https://unresolvable.invalid/ is refused; key bad-key \
             is refused. Ctrl-C stops it.",
            addr = standin.address
        );
        std::future::pending::<()>().await;
    });
}
