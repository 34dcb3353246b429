//! The tests' OTX stand-in as a program, to run the relay locally without an OTX account: it
//! listens on 127.0.0.1 (`--port`, default 8090) and knows two pulses: `evil.example` (a
//! domain), `198.51.100.7` (an address) and a SHA256 are in them; every other observable is in
//! none. Any API key is accepted but `bad-key` (OTX's 403), and the domain `down.example`
//! answers a 503.
//!
//! ```text
//! cargo run -p xdr-relay-otx --example standin
//! ```
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use serde_json::json;
use testkit::otx::{Pulse, StandIn};
use testkit::standin::Reply;

/// The SHA256 the stand-in knows.
const SHA256: &str = "efdd3ee0f816eba8ab1cba3643e42b40aaa16654d5120c67169d1b002e7f714d";

fn main() {
    let port: u16 = std::env::args()
        .skip_while(|a| a != "--port")
        .nth(1)
        .map_or(8090, |p| p.parse().expect("--port takes a port number"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let standin = StandIn::start_on(port).await;
        let mut phishing = Pulse::new("5f3a9c0e1b2d4e6f7a8b9c0d")
            .with("domain", "evil.example", "2024-06-10T08:00:00")
            .with("IPv4", "198.51.100.7", "2024-06-10T08:00:00")
            .filler(3);
        phishing.name = "Phishing kit hosting".into();
        phishing.description = json!("Domains and addresses serving a credential phishing kit.");
        phishing.tags = vec!["phishing".into(), "credential-theft".into()];
        phishing.tlp = "green".into();
        let mut dropper = Pulse::new("60aa11bb22cc33dd44ee55ff")
            .with("FileHash-SHA256", SHA256, "2024-05-02T12:30:00")
            .with("domain", "evil.example", "2024-05-01T09:15:00");
        dropper.name = "Dropper campaign".into();
        dropper.author = "AlienVault".into();
        dropper.indicators[0].expiration = Some("2024-08-02T12:30:00".into());
        standin.pulse(phishing);
        standin.pulse(dropper);
        standin.refuse_key("bad-key");
        standin.general("down.example", Reply::json(503, &json!({"detail": "down"})));
        // On stderr, the line tools wait for (`cargo xtask ci` runs the relay's image against it).
        eprintln!("OTX stand-in listening address={}", standin.address);
        println!(
            "OTX stand-in on http://{addr}/\n  \
             OTX_API_URL=http://{addr}/api/v1/\n  \
             OTX_WEB_URL=http://{addr}/\n\
             Known: evil.example (2 pulses), 198.51.100.7 (1), sha256 {SHA256} (1), \
             down.example (503); key bad-key is refused. Ctrl-C stops it.",
            addr = standin.address
        );
        std::future::pending::<()>().await;
    });
}
