//! `testkit demo --bin DIR --alert FILE [--json]` (`cargo xtask demo`, which builds the
//! binaries first): both products end to end, on local stand-ins, with nothing but Rust.
//!
//! 1. (xtask) builds `relay-server`, the Socless tutorial endpoint and this binary;
//! 2. starts the Auth0 Signals stand-in (`testkit::signals`) on 127.0.0.1;
//! 3. makes a fresh SECRET_KEY and JWT with `relay-server jwt`;
//! 4. starts `relay-server` against the stand-in and calls health, deliberate, observe, refer;
//! 5. sends the tutorial's sample alert to the event endpoint on the embedded Socless store.
//!
//! Every process it starts is killed when it ends, also on failure or Ctrl-C.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use testkit::relay;

use super::{LocalRelay, message};

/// The demo's observables: one per verdict, plus a domain and a bad value that are skipped.
const OBSERVABLES: &[(&str, &str)] = &[
    ("ip", "198.51.100.7"),
    ("ip", "203.0.113.9"),
    ("ip", "2001:db8::7"),
    ("ip", "192.0.2.1"),
    ("domain", "example.org"),
    ("ip", "not-an-ip"),
];

/// What a route's answer is summarised as, unless `--json`.
type Summary = fn(&Value) -> String;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The folder of relay-server and of `examples/tutorial_endpoint` (debug builds).
    #[arg(long)]
    bin: PathBuf,
    /// The alert the Socless endpoint is sent.
    #[arg(long)]
    alert: PathBuf,
    /// Print every answer in full, as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    super::until_interrupted(demo(args))
}

async fn demo(args: &Args) -> Result<(), String> {
    let json_output = args.json;
    // The binary's crate is `relay_server` (named after the bin, not the package); the
    // "listening" line that `Server::spawn` waits for is the library's, `xdr_relay_server`.
    let filter = "warn,relay_server=info,xdr_relay_server=info";
    let relay = LocalRelay::start(&args.bin, filter, &[]).await?;
    step(&format!(
        "Auth0 Signals stand-in listening on http://{}",
        relay.upstream
    ));
    let length = relay.secret.len();
    step(&format!(
        "made a fresh SECRET_KEY ({length} characters) and a JWT with `relay-server jwt`"
    ));
    let url = relay.server.url();
    step(&format!("relay-server listening on {url}"));
    let client = reqwest::Client::new();
    let observables: Value = OBSERVABLES
        .iter()
        .map(|(kind, value)| json!({"type": kind, "value": value}))
        .collect();
    let routes: [(&str, Summary); 4] = [
        ("/health", |a| {
            format!(
                "status: {}",
                a["data"]["status"].as_str().unwrap_or("(none)")
            )
        }),
        ("/deliberate/observables", summarise_verdicts),
        ("/observe/observables", summarise_observe),
        ("/refer/observables", summarise_refer),
    ];
    for (route, summary) in routes {
        let body = (route != "/health").then_some(&observables);
        let answer = call(&client, &url, route, &relay.jwt, body).await?;
        println!("\n--- POST {route}");
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
    socless(&relay.bin, &args.alert, json_output)?;
    drop(relay);
    step("done: every process the demo started has stopped");
    Ok(())
}

fn step(message: &str) {
    println!("==> {message}");
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("?")
}

fn summarise_verdicts(answer: &Value) -> String {
    let docs = answer["data"]["verdicts"]["docs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut out = format!(
        "{} verdicts (the domain and the bad IP value were skipped)",
        docs.len()
    );
    for v in docs {
        let (value, name) = (
            text(&v["observable"]["value"]),
            text(&v["disposition_name"]),
        );
        let _ = write!(out, "\n  {value:<14} {name} ({})", v["disposition"]);
    }
    out
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
