//! `testkit demo --bin DIR --alert FILE [--json]` (`cargo xtask demo`, which builds the
//! binaries first): both products end to end, on local stand-ins, with nothing but Rust.
//!
//! 1. (xtask) builds `xdr-relays` (the relay suite), the AbuseIPDB, OTX and urlscan.io stand-ins (each
//!    relay's `standin` example, copied to `examples/<relay>-standin`), the Socless tutorial
//!    endpoint and this binary;
//! 2. starts every relay's local stand-in on 127.0.0.1: Auth0 Signals' (`testkit::signals`,
//!    in process), AbuseIPDB's, OTX's, urlscan.io's and a blocklist file;
//! 3. makes a fresh SECRET_KEY and each relay's JWT with `xdr-relays jwt --relay NAME`;
//! 4. starts `xdr-relays` against them and calls each relay's health, observe and refer under
//!    its mount, and the suite's `/version`;
//! 5. sends the tutorial's sample alert to the event endpoint on the embedded Socless store.
//!
//! Every process it starts is killed when it ends, also on failure, Ctrl-C or when the demo
//! overruns its bound (`--timeout-seconds`: CI runs the demo, and a hung one must fail).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use testkit::relay::{self, Server};
use testkit::signals;

use super::message;

/// The demo's observables: one per Auth0 Signals verdict, one AbuseIPDB knows, a domain OTX
/// knows, one urlscan.io has scans of, and a bad value that every relay skips.
const OBSERVABLES: &[(&str, &str)] = &[
    ("ip", "198.51.100.7"),
    ("ip", "203.0.113.9"),
    ("ip", "2001:db8::7"),
    ("ip", "192.0.2.1"),
    ("ip", "118.25.6.39"),
    ("domain", "evil.example"),
    ("domain", "login.phish.example"),
    ("ip", "not-an-ip"),
];

/// The blocklist relay's list in the demo.
const BLOCKLIST: &str = "# the demo's blocklist\n198.51.100.7\n118.25.6.0/24\n";

/// The API key the AbuseIPDB stand-in is given (it takes any but `bad-key`).
const ABUSEIPDB_KEY: &str = "a-demo-abuseipdb-key";

/// The API key the OTX stand-in is given (it takes any but `bad-key`).
const OTX_KEY: &str = "a-demo-otx-key";

/// The API key the urlscan.io stand-in is given (it takes any but `bad-key`).
const URLSCAN_KEY: &str = "a-demo-urlscan-key";

/// What a route's answer is summarised as, unless `--json`.
type Summary = fn(&Value) -> String;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The folder of xdr-relays, of each relay's `examples/<relay>-standin` and of
    /// `examples/tutorial_endpoint` (debug builds).
    #[arg(long)]
    bin: PathBuf,
    /// The alert the Socless endpoint is sent.
    #[arg(long)]
    alert: PathBuf,
    /// Print every answer in full, as JSON.
    #[arg(long)]
    json: bool,
    /// The longest the demo may take: past it, it fails (and stops what it started).
    #[arg(long, default_value_t = 120)]
    timeout_seconds: u64,
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    let bound = Duration::from_secs(args.timeout_seconds);
    super::until_interrupted(async {
        tokio::time::timeout(bound, demo(args))
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "the demo did not finish within {} s; every process it started was stopped",
                    bound.as_secs()
                ))
            })
    })
}

/// A relay of the suite in the demo: its mount and its JWT.
struct Mount {
    name: &'static str,
    jwt: String,
}

async fn demo(args: &Args) -> Result<(), String> {
    let json_output = args.json;
    let program = args.bin.join("xdr-relays");
    let signals = signals::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        signals::Config::default(),
    )
    .await
    .map_err(message)?;
    step(&format!(
        "Auth0 Signals stand-in listening on http://{signals}"
    ));
    let examples = args.bin.join("examples");
    let mut standin = Command::new(examples.join("abuseipdb-standin"));
    let abuseipdb = Server::spawn(standin.args(["--port", "0"]), false).map_err(message)?;
    let abuseipdb_at = abuseipdb.address.clone();
    step(&format!(
        "AbuseIPDB stand-in listening on http://{abuseipdb_at}"
    ));
    let mut standin = Command::new(examples.join("otx-standin"));
    let otx = Server::spawn(standin.args(["--port", "0"]), false).map_err(message)?;
    let otx_at = otx.address.clone();
    step(&format!("OTX stand-in listening on http://{otx_at}"));
    let mut standin = Command::new(examples.join("urlscan-standin"));
    let urlscan = Server::spawn(standin.args(["--port", "0"]), false).map_err(message)?;
    let urlscan_at = urlscan.address.clone();
    step(&format!(
        "urlscan.io stand-in listening on http://{urlscan_at}"
    ));
    let dir = std::env::temp_dir().join(format!("testkit-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let list = dir.join("demo-blocklist.netset");
    std::fs::write(&list, BLOCKLIST)
        .map_err(|e| format!("cannot write {}: {e}", list.display()))?;
    step(&format!("blocklist file {}", list.display()));

    let jwt = |relay: &str, key: Option<&str>, secret: Option<&str>| {
        relay::jwt_for(&program, Some(relay), key, secret).map_err(message)
    };
    let (secret, signals_jwt) = jwt("auth0-signals", Some(signals::DEMO_API_KEY), None)?;
    let mounts = [
        Mount {
            name: "auth0-signals",
            jwt: signals_jwt,
        },
        Mount {
            name: "abuseipdb",
            jwt: jwt("abuseipdb", Some(ABUSEIPDB_KEY), Some(&secret))?.1,
        },
        Mount {
            name: "otx",
            jwt: jwt("otx", Some(OTX_KEY), Some(&secret))?.1,
        },
        Mount {
            name: "urlscan",
            jwt: jwt("urlscan", Some(URLSCAN_KEY), Some(&secret))?.1,
        },
        Mount {
            name: "blocklist",
            jwt: jwt("blocklist", None, Some(&secret))?.1,
        },
    ];
    step(&format!(
        "made a fresh SECRET_KEY ({} characters) and each relay's JWT with `xdr-relays jwt --relay NAME`",
        secret.len()
    ));
    let mut command = Command::new(&program);
    command
        .env_clear()
        .env("SECRET_KEY", &secret)
        .env("RELAY_LISTEN", "127.0.0.1:0")
        .env("RELAY_LOG_FORMAT", "text")
        .env("RUST_LOG", "warn,xdr_relays=info,xdr_relay_server=info")
        .env("SIGNALS_API_URL", format!("http://{signals}/"))
        .env(
            "ABUSEIPDB_API_URL",
            format!("http://{abuseipdb_at}/api/v2/"),
        )
        .env("ABUSEIPDB_WEB_URL", format!("http://{abuseipdb_at}/"))
        .env("OTX_API_URL", format!("http://{otx_at}/api/v1/"))
        .env("OTX_WEB_URL", format!("http://{otx_at}/"))
        .env("URLSCAN_API_URL", format!("http://{urlscan_at}/api/v1/"))
        .env("URLSCAN_WEB_URL", format!("http://{urlscan_at}/"))
        .env("BLOCKLIST_FILES", &list);
    let server = Server::spawn(&mut command, true).map_err(message)?;
    let url = server.url();
    step(&format!(
        "xdr-relays (every relay, each under /{{name}}/) listening on {url}"
    ));
    let client = reqwest::Client::new();
    let version: Value = client
        .get(format!("{url}/version"))
        .send()
        .await
        .map_err(|e| format!("/version: the suite did not answer: {e}"))?
        .json()
        .await
        .map_err(|e| format!("/version: not JSON: {e}"))?;
    println!("\n--- GET /version");
    println!("{version}");
    let observables: Value = OBSERVABLES
        .iter()
        .map(|(kind, value)| json!({"type": kind, "value": value}))
        .collect();
    let routes: [(&str, Summary); 3] = [
        ("/health", |a| {
            format!(
                "status: {}",
                a["data"]["status"].as_str().unwrap_or("(none)")
            )
        }),
        ("/observe/observables", summarise_observe),
        ("/refer/observables", summarise_refer),
    ];
    for mount in &mounts {
        for (route, summary) in routes {
            let body = (route != "/health").then_some(&observables);
            let path = format!("/{}{route}", mount.name);
            let answer = call(&client, &url, &path, &mount.jwt, body).await?;
            println!("\n--- POST {path}");
            if json_output {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&answer).unwrap_or_default()
                );
            } else {
                println!("{}", summary(&answer));
            }
            for e in answer["errors"].as_array().into_iter().flatten() {
                println!("error: {} ({})", e["message"], e["code"]);
            }
        }
    }
    drop(server);
    drop(abuseipdb);
    drop(otx);
    drop(urlscan);
    let _ = std::fs::remove_dir_all(&dir);
    socless(&args.bin, &args.alert, json_output)?;
    step("done: every process the demo started has stopped");
    Ok(())
}

fn step(message: &str) {
    println!("==> {message}");
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("?")
}

fn summarise_observe(answer: &Value) -> String {
    let data = &answer["data"];
    let count = |group: &str| data[group]["count"].as_u64().unwrap_or(0);
    let mut out = format!(
        "{} verdicts, {} judgements, {} sightings, {} indicators, {} relationships",
        count("verdicts"),
        count("judgements"),
        count("sightings"),
        count("indicators"),
        count("relationships")
    );
    for s in data["sightings"]["docs"].as_array().into_iter().flatten() {
        let (ip, source) = (text(&s["observables"][0]["value"]), text(&s["source"]));
        let (severity, tlp) = (text(&s["severity"]), text(&s["tlp"]));
        let _ = write!(
            out,
            "\n  sighting {ip:<14} on {source:<40} severity {severity:<7} tlp {tlp}"
        );
    }
    out
}

fn summarise_refer(answer: &Value) -> String {
    let links = answer["data"].as_array().cloned().unwrap_or_default();
    let mut out = format!("{} refer links", links.len());
    for l in links {
        let _ = write!(out, "\n  {}", text(&l["url"]));
    }
    out
}

async fn call(
    client: &reqwest::Client,
    base: &str,
    route: &str,
    jwt: &str,
    body: Option<&Value>,
) -> Result<Value, String> {
    let mut request = client.post(format!("{base}{route}")).bearer_auth(jwt);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("{route}: the relay did not answer: {e}"))?;
    response
        .json()
        .await
        .map_err(|e| format!("{route}: the relay's answer is not JSON: {e}"))
}

/// The Socless tutorial endpoint, one alert, on a fresh embedded store.
fn socless(bin: &Path, alert: &Path, json_output: bool) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("testkit-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let store = dir.join("socless.sqlite");
    let (shown_alert, shown_store) = (alert.display(), store.display());
    step(&format!(
        "Socless tutorial endpoint: sending {shown_alert} to the embedded store {shown_store}"
    ));
    let mut endpoint = Command::new(bin.join("examples").join("tutorial_endpoint"));
    let result = relay::output(
        endpoint
            .arg("--local")
            .arg(&store)
            .arg("--alert")
            .arg(alert),
    )
    .map_err(message);
    let _ = std::fs::remove_dir_all(&dir);
    let printed = result?;
    println!("\n--- Socless event endpoint");
    let (status, body) = printed.split_once('\n').unwrap_or((printed.as_str(), ""));
    match serde_json::from_str::<Value>(body.trim()) {
        Ok(answer) if !json_output => {
            println!("{}", status.trim());
            for e in answer["events"].as_array().into_iter().flatten() {
                let (event, meta) = (&e["event"], &e["metadata"]);
                println!(
                    "  recorded event {} ({}, details {}, investigation {}, status {}, duplicate: {})",
                    text(&meta["_id"]),
                    text(&event["event_type"]),
                    event["details"],
                    text(&meta["investigation_id"]),
                    text(&meta["status_"]),
                    meta["is_duplicate"]
                );
            }
            for r in answer["execution_reports"].as_array().into_iter().flatten() {
                let (playbook, machine) = (text(&r["playbook"]), text(&r["statemachinearn"]));
                println!(
                    "  started playbook {playbook} ({machine}) as execution {}",
                    text(&r["execution_id"])
                );
            }
        }
        _ => println!("{printed}"),
    }
    Ok(())
}
