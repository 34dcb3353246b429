//! The tests' AbuseIPDB stand-in as a program, to run the relay locally without an AbuseIPDB
//! account: it listens on 127.0.0.1 (`--port`, default 8089), answers `check` and the
//! categories page, and knows a few addresses (the rest score 0 with no reports). Any API key
//! is accepted but `bad-key` (AbuseIPDB's 401), and `192.0.2.29` answers AbuseIPDB's 429.
//!
//! ```text
//! cargo run -p xdr-relay-abuseipdb --example standin
//! ```
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use serde_json::json;
use testkit::abuseipdb::{RATE_LIMIT_DETAIL, Scenario, StandIn, data, report};

fn main() {
    let port: u16 = std::env::args()
        .skip_while(|a| a != "--port")
        .nth(1)
        .map_or(8089, |p| p.parse().expect("--port takes a port number"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let standin = StandIn::start_on(port).await;
        standin.data(
            "118.25.6.39",
            data(
                100,
                Some("chinatelecom.com.cn"),
                vec![
                    report("2024-06-10T23:11:57+00:00", json!("ssh"), json!([18, 22])),
                    report(
                        "2024-06-09T14:34:59+00:00",
                        json!("SSH login attempts with user root."),
                        json!([18, 22, 15]),
                    ),
                    report("2024-06-08T02:00:00+00:00", json!("Port scan"), json!([14])),
                ],
            ),
        );
        standin.data(
            "2001:db8::bad",
            data(
                40,
                None,
                vec![report(
                    "2024-06-10T08:00:00Z",
                    json!("wp-login.php probing"),
                    json!([21]),
                )],
            ),
        );
        standin.refuse_key("bad-key");
        standin.set(
            "192.0.2.29",
            Scenario::Error {
                status: 429,
                detail: Some(RATE_LIMIT_DETAIL.into()),
                retry_after: Some("3600".into()),
            },
        );
        // On stderr, the line tools wait for (`cargo xtask ci` runs the relay's image against it).
        eprintln!("AbuseIPDB stand-in listening address={}", standin.address);
        println!(
            "AbuseIPDB stand-in on http://{addr}/\n  \
             ABUSEIPDB_API_URL=http://{addr}/api/v2/\n  \
             ABUSEIPDB_WEB_URL=http://{addr}/\n\
             Known: 118.25.6.39 (100, three reports), 2001:db8::bad (40, one report), \
             192.0.2.29 (429); key bad-key is refused. Ctrl-C stops it.",
            addr = standin.address
        );
        std::future::pending::<()>().await;
    });
}
