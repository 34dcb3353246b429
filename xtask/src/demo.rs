//! `cargo xtask demo`: both products end to end, on local stand-ins, with nothing but Rust.
//!
//! 1. builds `relay-server` and the Socless tutorial endpoint;
//! 2. starts the Auth0 Signals stand-in (`stub.rs`) on 127.0.0.1;
//! 3. makes a fresh SECRET_KEY and JWT with `relay-server jwt`;
//! 4. starts `relay-server` against the stand-in and calls health, deliberate, observe, refer;
//! 5. sends the tutorial's sample alert to the event endpoint on the embedded Socless store.
//!
//! Every process it starts is killed when it ends, also on failure or Ctrl-C.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::procs::{Server, cargo, output};
use crate::stub;

/// The demo's observables: one per verdict, plus a domain and a bad value that are skipped.
const OBSERVABLES: &[(&str, &str)] = &[
    ("ip", "198.51.100.7"),
    ("ip", "203.0.113.9"),
    ("ip", "2001:db8::7"),
    ("ip", "192.0.2.1"),
    ("domain", "example.org"),
    ("ip", "not-an-ip"),
];

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut json_output = false;
    for arg in args {
        match arg.as_str() {
            "--json" => json_output = true,
            other => return Err(format!("demo: unknown argument `{other}` (only --json)")),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        tokio::select! {
            result = demo(json_output) => result,
            _ = tokio::signal::ctrl_c() => Err("interrupted; every process the demo started was stopped".into()),
        }
    })
}

async fn demo(json_output: bool) -> Result<(), String> {
    step("building relay-server and the Socless tutorial endpoint");
    cargo(&[
        "build",
        "--quiet",
        "-p",
        "xdr-relay-server",
        "--bin",
        "relay-server",
    ])?;
    cargo(&[
        "build",
        "--quiet",
        "-p",
        "socless-events",
        "--example",
        "tutorial_endpoint",
    ])?;
    let bin = crate::target_dir()?.join("debug");

    let upstream = stub::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        stub::StubConfig {
            latency: Duration::ZERO,
        },
    )
    .await?;
    step(&format!(
        "Auth0 Signals stand-in listening on http://{upstream}"
    ));

    let (secret, jwt) = crate::procs::make_jwt(&bin.join("relay-server"))?;
    let (secret, jwt) = (secret.as_str(), jwt.as_str());
    step(&format!(
        "made a fresh SECRET_KEY ({} characters) and a JWT with `relay-server jwt`",
        secret.len()
    ));

    let server = Server::spawn(
        Command::new(bin.join("relay-server"))
            .args(["--listen", "127.0.0.1:0"])
            .env("SECRET_KEY", secret)
            .env("SIGNALS_API_URL", format!("http://{upstream}/"))
            // The binary's crate is `relay_server` (named after the bin, not the package).
            .env("RUST_LOG", "warn,relay_server=info"),
    )?;
    let url = server.url();
    step(&format!("relay-server listening on {url}"));

    let client = reqwest::Client::new();
    let observables: Vec<Value> = OBSERVABLES
        .iter()
        .map(|(kind, value)| json!({"type": kind, "value": value}))
        .collect();
    let observables = Value::Array(observables);

    let health = call(&client, &url, "/health", jwt, None).await?;
    section("POST /health", &health, json_output, |a| {
        format!(
            "status: {}",
            a["data"]["status"].as_str().unwrap_or("(none)")
        )
    });
    let deliberate = call(
        &client,
        &url,
        "/deliberate/observables",
        jwt,
        Some(&observables),
    )
    .await?;
    section(
        "POST /deliberate/observables",
        &deliberate,
        json_output,
        summarise_verdicts,
    );
    let observe = call(
        &client,
        &url,
        "/observe/observables",
        jwt,
        Some(&observables),
    )
    .await?;
    section(
        "POST /observe/observables",
        &observe,
        json_output,
        summarise_observe,
    );
    let refer = call(&client, &url, "/refer/observables", jwt, Some(&observables)).await?;
    section(
        "POST /refer/observables",
        &refer,
        json_output,
        summarise_refer,
    );
    drop(server);

    socless(&bin, json_output)?;
    step("done: every process the demo started has stopped");
    Ok(())
}

fn step(message: &str) {
    println!("==> {message}");
}

fn section(title: &str, answer: &Value, json_output: bool, summary: impl Fn(&Value) -> String) {
    println!("\n--- {title}");
    if json_output {
        println!(
            "{}",
            serde_json::to_string_pretty(answer).unwrap_or_default()
        );
    } else {
        println!("{}", summary(answer));
    }
    if let Some(errors) = answer["errors"].as_array() {
        for e in errors {
            println!("error: {} ({})", e["message"], e["code"]);
        }
    }
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
        out.push_str(&format!(
            "\n  {:<14} {} ({})",
            v["observable"]["value"].as_str().unwrap_or("?"),
            v["disposition_name"].as_str().unwrap_or("?"),
            v["disposition"]
        ));
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
        out.push_str(&format!(
            "\n  sighting {:<14} on {:<40} severity {:<7} tlp {}",
            s["observables"][0]["value"].as_str().unwrap_or("?"),
            s["source"].as_str().unwrap_or("?"),
            s["severity"].as_str().unwrap_or("?"),
            s["tlp"].as_str().unwrap_or("?"),
        ));
    }
    out
}

fn summarise_refer(answer: &Value) -> String {
    let links = answer["data"].as_array().cloned().unwrap_or_default();
    let mut out = format!("{} refer links", links.len());
    for l in links {
        out.push_str(&format!("\n  {}", l["url"].as_str().unwrap_or("?")));
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
fn socless(bin: &Path, json_output: bool) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("xtask-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let store = dir.join("socless.sqlite");
    let alert =
        crate::workspace_root()?.join("socless-events/examples/data/investigate_login_alert.json");
    step(&format!(
        "Socless tutorial endpoint: sending {} to the embedded store {}",
        alert.display(),
        store.display()
    ));
    let result = output(
        Command::new(bin.join("examples").join("tutorial_endpoint"))
            .arg("--local")
            .arg(&store)
            .arg("--alert")
            .arg(&alert)
            .stdin(Stdio::null()),
    );
    let _ = std::fs::remove_dir_all(&dir);
    let printed = result?;
    println!("\n--- Socless event endpoint");
    if json_output {
        println!("{printed}");
        return Ok(());
    }
    let (status, body) = printed.split_once('\n').unwrap_or((printed.as_str(), ""));
    println!("{}", status.trim());
    match serde_json::from_str::<Value>(body.trim()) {
        Ok(answer) => {
            for e in answer["events"].as_array().into_iter().flatten() {
                let (event, meta) = (&e["event"], &e["metadata"]);
                println!(
                    "  recorded event {} ({}, details {}, investigation {}, status {}, duplicate: {})",
                    meta["_id"].as_str().unwrap_or("?"),
                    event["event_type"].as_str().unwrap_or("?"),
                    event["details"],
                    meta["investigation_id"].as_str().unwrap_or("?"),
                    meta["status_"].as_str().unwrap_or("?"),
                    meta["is_duplicate"]
                );
            }
            for r in answer["execution_reports"].as_array().into_iter().flatten() {
                println!(
                    "  started playbook {} ({}) as execution {}",
                    r["playbook"].as_str().unwrap_or("?"),
                    r["statemachinearn"].as_str().unwrap_or("?"),
                    r["execution_id"].as_str().unwrap_or("?")
                );
            }
        }
        Err(_) => println!("{body}"),
    }
    Ok(())
}
