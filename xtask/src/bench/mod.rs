//! `cargo xtask bench`: how fast the relay is, against a stand-in upstream of known latency.
//!
//! - `bench stub --listen ADDR --latency-ms N`: the Auth0 Signals stand-in alone, until Ctrl-C.
//! - `bench passthrough --listen ADDR --upstream URL`: the cheapest relay (see [`passthrough`]),
//!   the baseline that shows what the HTTP plumbing alone costs.
//! - `bench load --url URL --jwt TOKEN --scenario NAME --duration S --concurrency C [--json]`:
//!   the load driver against any relay (or, with `--scenario stub --key KEY`, any Signals API).
//! - `bench socless [criterion args]`: the `create_events` benchmark (`socless-events/benches`).
//! - `bench [--duration S] [--concurrency C] ...`: the default run (see [`default_run`]).
//!
//! The stand-in runs as its own process (this binary, `bench stub`), not inside the driver:
//! in-process it would share the driver's tokio runtime, so stand-in work would delay the
//! driver's clocks and the driver's work would slow the stand-in. As a process it is scheduled
//! like the relay, and the three (driver, relay, stand-in) share the machine's cores the way a
//! client, a relay and an upstream on one host would.

mod load;
mod passthrough;
mod report;
pub(crate) mod rss;
mod scenario;
mod startup;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::procs::{self, Server};
use crate::stub;
use load::{Credential, LoadConfig, LoadResult};
use report::{Report, Row};
use scenario::{FreshIps, Scenario};

const USAGE: &str = "\
usage: cargo xtask bench [--duration S] [--concurrency C] [--warmup-ms MS] [--latencies 0,50]
                         [--startup-runs N] [--cold-samples N] [--skip-build]
       cargo xtask bench stub --listen ADDR --latency-ms N
       cargo xtask bench passthrough --listen ADDR --upstream URL
       cargo xtask bench load --url URL (--jwt TOKEN | --key API_KEY) --scenario NAME
                              [--duration S] [--concurrency C] [--warmup-ms MS] [--json]
       cargo xtask bench socless [criterion arguments]

scenarios: observe-1, observe-50 (warm), observe-50-cold, deliberate-1, health, refer-1,
           stub (the stand-in's own GET /v2.0/ip/<ip>, with --key; default the stand-in's key)
";

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let optimised_only = !matches!(
        args.first().map(String::as_str),
        Some("socless" | "help" | "--help" | "-h")
    );
    if cfg!(debug_assertions) && optimised_only {
        return in_release(args);
    }
    match args.split_first() {
        Some((task, rest)) if task == "stub" => run_stub(rest),
        Some((task, rest)) if task == "load" => run_load(rest),
        Some((task, rest)) if task == "passthrough" => run_passthrough(rest),
        Some((task, rest)) if task == "socless" => run_socless(rest),
        Some((task, _)) if task == "help" || task == "--help" || task == "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        _ => default_run(args),
    }
}

/// Flags as `--name value` pairs (and bare `--json` / `--skip-build`).
struct Flags<'a> {
    args: &'a [String],
}

impl<'a> Flags<'a> {
    fn new(args: &'a [String], allowed: &[&str], switches: &[&str]) -> Result<Self, String> {
        let mut i = 0;
        while let Some(arg) = args.get(i) {
            if switches.contains(&arg.as_str()) {
                i += 1;
            } else if allowed.contains(&arg.as_str()) && args.get(i + 1).is_some() {
                i += 2;
            } else {
                return Err(format!("bench: unexpected argument `{arg}`\n\n{USAGE}"));
            }
        }
        Ok(Flags { args })
    }

    fn value(&self, name: &str) -> Option<&'a str> {
        let at = self.args.iter().position(|a| a == name)?;
        self.args.get(at + 1).map(String::as_str)
    }

    fn switch(&self, name: &str) -> bool {
        self.args.iter().any(|a| a == name)
    }

    fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.value(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("bench: {name} wants a number, not `{v}`")),
        }
    }

    fn seconds(&self, name: &str, default: f64) -> Result<Duration, String> {
        Duration::try_from_secs_f64(self.number(name, default)?)
            .map_err(|_| format!("bench: {name} wants a positive number of seconds"))
    }
}

/// Figures from an unoptimised driver, stand-in or emulator would measure them, not the relay:
/// a debug xtask (what `cargo xtask` runs) builds itself (and, for the default run, the relay
/// binaries) in release and hands over to that build, with `--skip-build`.
fn in_release(args: &[String]) -> Result<(), String> {
    let default_run = args.first().is_none_or(|a| a.starts_with("--"));
    let relay_too = default_run && !args.iter().any(|a| a == "--skip-build");
    let mut build = vec!["build", "--release", "--quiet", "-p", "xtask"];
    if relay_too {
        build.extend(["-p", "xdr-relay-server", "-p", "xdr-relay-lambda"]);
        step("building xtask, relay-server and relay-lambda (release)");
    } else {
        step("building xtask (release): an unoptimised driver would measure itself");
    }
    procs::cargo(&build)?;
    let exe = crate::target_dir()?.join("release").join("xtask");
    let mut command = Command::new(&exe);
    command.arg("bench").args(args);
    if relay_too {
        command.arg("--skip-build");
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the release build of xtask failed ({status})"))
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Runs `task` until it ends or Ctrl-C (which drops it, and so stops its child processes).
fn until_interrupted<T>(
    runtime: &tokio::runtime::Runtime,
    task: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    runtime.block_on(async {
        tokio::select! {
            result = task => result,
            _ = tokio::signal::ctrl_c() => Err("interrupted; every process the bench started was stopped".into()),
        }
    })
}

fn run_stub(args: &[String]) -> Result<(), String> {
    let flags = Flags::new(args, &["--listen", "--latency-ms"], &[])?;
    let listen: SocketAddr = flags
        .value("--listen")
        .unwrap_or("127.0.0.1:0")
        .parse()
        .map_err(|e| format!("bench stub: --listen: {e}"))?;
    let latency = Duration::from_millis(flags.number("--latency-ms", 0)?);
    let runtime = runtime()?;
    until_interrupted(&runtime, async {
        let address = stub::start(listen, stub::StubConfig { latency }).await?;
        // The line `procs::Server::spawn` waits for.
        eprintln!(
            "stub listening address={address} latency_ms={} api_key={}",
            latency.as_millis(),
            stub::DEMO_API_KEY
        );
        std::future::pending::<Result<(), String>>().await
    })
}

fn run_passthrough(args: &[String]) -> Result<(), String> {
    let flags = Flags::new(args, &["--listen", "--upstream"], &[])?;
    let listen: SocketAddr = flags
        .value("--listen")
        .unwrap_or("127.0.0.1:0")
        .parse()
        .map_err(|e| format!("bench passthrough: --listen: {e}"))?;
    let upstream = flags
        .value("--upstream")
        .ok_or("bench passthrough: --upstream is required")?;
    let runtime = runtime()?;
    until_interrupted(&runtime, passthrough::serve(listen, upstream))
}

fn run_load(args: &[String]) -> Result<(), String> {
    let flags = Flags::new(
        args,
        &[
            "--url",
            "--jwt",
            "--key",
            "--scenario",
            "--duration",
            "--concurrency",
            "--warmup-ms",
        ],
        &["--json"],
    )?;
    let url = flags
        .value("--url")
        .ok_or("bench load: --url is required")?;
    let scenario = Scenario::parse(
        flags
            .value("--scenario")
            .ok_or("bench load: --scenario is required")?,
    )?;
    let credential = match (scenario, flags.value("--jwt"), flags.value("--key")) {
        (Scenario::Stub, _, key) => Credential::ApiKey(key.unwrap_or(stub::DEMO_API_KEY).into()),
        (_, Some(jwt), _) => Credential::Jwt(jwt.into()),
        (_, None, _) => return Err("bench load: --jwt is required for relay scenarios".into()),
    };
    let config = LoadConfig {
        scenario,
        concurrency: flags.number("--concurrency", 32)?,
        duration: flags.seconds("--duration", 5.0)?,
        warmup: Duration::from_millis(flags.number("--warmup-ms", 500)?),
    };
    let runtime = runtime()?;
    let result = until_interrupted(&runtime, load::run(url, &credential, config))?;
    if flags.switch("--json") {
        println!(
            "{}",
            serde_json::to_string_pretty(&result.to_json()).unwrap_or_default()
        );
    } else {
        println!("{}", report::header());
        println!("{}", report::line("-", "-", &result, None));
        if let Some(e) = &result.first_error {
            println!("first error: {e}");
        }
    }
    Ok(())
}

fn run_socless(args: &[String]) -> Result<(), String> {
    let mut cargo_args = vec!["bench", "-p", "socless-events", "--bench", "create_events"];
    if !args.is_empty() {
        cargo_args.push("--");
        cargo_args.extend(args.iter().map(String::as_str));
    }
    // The moto group of the bench runs when `moto_server` is on PATH.
    let tools = crate::tools::ensure(&[crate::tools::Tool::Moto])?;
    procs::cargo_with(&cargo_args, Some(&tools.path))
}

/// What the default run does.
#[derive(Debug, Clone)]
struct Plan {
    duration: Duration,
    warmup: Duration,
    concurrency: usize,
    latencies_ms: Vec<u64>,
    startup_runs: usize,
    cold_samples: usize,
    build: bool,
}

/// The secret, the JWT and the binaries every step of the default run uses.
struct Setup {
    bin: PathBuf,
    secret: String,
    jwt: String,
}

/// The default run: builds relay-server and relay-lambda in release, then for each upstream
/// latency starts the stand-in, loads it directly and through the passthrough (the two
/// baselines), then starts a relay and loads it with every scenario, samples the relay's memory, measures cold-cache `observe-50` on
/// fresh relays, then start-up of both binaries; prints one table and writes
/// `<target>/bench/report.json`.
fn default_run(args: &[String]) -> Result<(), String> {
    let flags = Flags::new(
        args,
        &[
            "--duration",
            "--concurrency",
            "--warmup-ms",
            "--latencies",
            "--startup-runs",
            "--cold-samples",
        ],
        &["--skip-build"],
    )?;
    let latencies_ms = flags
        .value("--latencies")
        .unwrap_or("0,50")
        .split(',')
        .map(|s| s.trim().parse::<u64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "bench: --latencies wants numbers like 0,50")?;
    let plan = Plan {
        duration: flags.seconds("--duration", 5.0)?,
        warmup: Duration::from_millis(flags.number("--warmup-ms", 500)?),
        concurrency: flags.number("--concurrency", 32)?,
        latencies_ms,
        startup_runs: flags.number("--startup-runs", 15)?,
        cold_samples: flags.number("--cold-samples", 20)?,
        build: !flags.switch("--skip-build"),
    };
    if plan.build {
        step("building relay-server and relay-lambda (release)");
        procs::cargo(&[
            "build",
            "--release",
            "--quiet",
            "-p",
            "xdr-relay-server",
            "-p",
            "xdr-relay-lambda",
        ])?;
    }
    let target = crate::target_dir()?;
    let bin = target.join("release");
    let (secret, jwt) = procs::make_jwt(&bin.join("relay-server"))?;
    let setup = Setup { bin, secret, jwt };
    let runtime = runtime()?;
    let mut report = until_interrupted(&runtime, measure(&plan, &setup))?;
    // `cargo xtask lambda` writes to `<workspace>/target/lambda` whatever CARGO_TARGET_DIR is.
    let zip = Path::new("lambda/relay-lambda/bootstrap.zip");
    report.lambda_zip_bytes = [crate::workspace_root()?.join("target"), target.clone()]
        .iter()
        .find_map(|dir| std::fs::metadata(dir.join(zip)).ok())
        .map(|m| m.len());
    report.load_after = load_average();
    print!("{}", report.table());
    let out = target.join("bench");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let path = out.join("report.json");
    let json = serde_json::to_string_pretty(&report.to_json()).unwrap_or_default();
    std::fs::write(&path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    step(&format!("wrote {}", path.display()));
    Ok(())
}

async fn measure(plan: &Plan, setup: &Setup) -> Result<Report, String> {
    let mut report = Report {
        load_before: load_average(),
        concurrency: plan.concurrency,
        duration_s: plan.duration.as_secs_f64(),
        ..Report::default()
    };
    for &latency in &plan.latencies_ms {
        step(&format!("upstream latency {latency} ms"));
        let stub = start_stub(latency)?;
        let upstream = format!("{}/", stub.url());
        measure_scenarios(plan, setup, &upstream, latency, &mut report).await?;
        let (cold, warm) = cold_and_warm(plan, setup, &upstream).await?;
        report.rows.push(Row::relay(latency, cold, None));
        report.rows.push(Row::relay(latency, warm, None));
        if latency == *plan.latencies_ms.iter().max().unwrap_or(&0) {
            step("relay memory at 256 concurrent connections");
            let (row, memory) = at_256(plan, setup, &upstream, latency).await?;
            report.rows.push(row);
            report.memory_256 = memory;
        }
    }
    step("start-up: relay-server exec → listening");
    report.startup_server = startup::relay_server(
        &setup.bin.join("relay-server"),
        &setup.secret,
        "http://127.0.0.1:9/",
        plan.startup_runs,
    )?;
    step("start-up: relay-lambda exec → first invocation answered (local Runtime API)");
    report.startup_lambda = startup::relay_lambda(
        &setup.bin.join("relay-lambda"),
        &setup.secret,
        &setup.jwt,
        plan.startup_runs,
    )
    .await?;
    Ok(report)
}

/// The stand-in baseline and every warm scenario against one relay at one upstream latency.
async fn measure_scenarios(
    plan: &Plan,
    setup: &Setup,
    upstream: &str,
    latency: u64,
    report: &mut Report,
) -> Result<(), String> {
    let stub_key = Credential::ApiKey(stub::DEMO_API_KEY.into());
    for concurrency in [1, plan.concurrency] {
        let result = load::run(
            upstream,
            &stub_key,
            config(plan, Scenario::Stub, concurrency),
        )
        .await?;
        report.rows.push(Row::stub(latency, result));
    }
    let jwt = Credential::Jwt(setup.jwt.clone());
    let passthrough = start_passthrough(upstream)?;
    for concurrency in [1, plan.concurrency] {
        let result = load::run(
            &passthrough.url(),
            &jwt,
            config(plan, Scenario::Observe1, concurrency),
        )
        .await?;
        report.rows.push(Row::passthrough(latency, result));
    }
    drop(passthrough);
    let relay = Server::spawn(&mut startup::relay_server_command(
        &setup.bin.join("relay-server"),
        &setup.secret,
        upstream,
    ))?;
    report.idle_rss_kib = rss::read(relay.pid()).map(|m| m.rss_kib);
    let runs = [
        (Scenario::Observe1, 1),
        (Scenario::Observe1, plan.concurrency),
        (Scenario::Observe50, plan.concurrency),
        (Scenario::Deliberate1, plan.concurrency),
        (Scenario::Health, plan.concurrency),
        (Scenario::Refer1, plan.concurrency),
    ];
    for (scenario, concurrency) in runs {
        let sampler = rss::Sampler::start(relay.pid());
        let result = load::run(&relay.url(), &jwt, config(plan, scenario, concurrency)).await?;
        let peak = sampler.stop();
        report.rows.push(Row::relay(latency, result, Some(peak)));
    }
    Ok(())
}

fn config(plan: &Plan, scenario: Scenario, concurrency: usize) -> LoadConfig {
    LoadConfig {
        scenario,
        concurrency,
        duration: plan.duration,
        warmup: plan.warmup,
    }
}

/// `observe-50` with a cold metadata cache, and the same request again once warm, one at a
/// time, each on a fresh relay process.
///
/// "Cold" here means: the relay process has just started, so its blocklist metadata cache is
/// empty, and the 50 IPs have never been asked about; the request needs both round trips
/// (50 reports, then every distinct list's metadata). Its upstream connections are warm: a
/// `deliberate` for 50 other fresh IPs (which never touches the metadata cache) opens them
/// first, so the figure is the cache's, not TCP's. "Warm" is the identical request right
/// after, on the same relay: one round trip (the reports), every list from the cache.
async fn cold_and_warm(
    plan: &Plan,
    setup: &Setup,
    upstream: &str,
) -> Result<(LoadResult, LoadResult), String> {
    let client = load::client(1)?;
    let jwt = Credential::Jwt(setup.jwt.clone());
    let fresh = FreshIps::default();
    let (mut cold, mut warm) = (Samples::default(), Samples::default());
    for _ in 0..plan.cold_samples {
        let relay = Server::spawn(&mut startup::relay_server_command(
            &setup.bin.join("relay-server"),
            &setup.secret,
            upstream,
        ))?;
        let url = relay.url();
        let prime = scenario::observables(&fresh.claim(scenario::MANY));
        let measured = scenario::observables(&fresh.claim(scenario::MANY));
        let (_, primed) = post(&client, &url, "deliberate/observables", &prime, &jwt).await;
        if let Err(e) = primed {
            cold.record(Duration::ZERO, Err(format!("priming: {e}")));
            continue;
        }
        for samples in [&mut cold, &mut warm] {
            let (took, outcome) = post(&client, &url, "observe/observables", &measured, &jwt).await;
            samples.record(took, outcome);
        }
    }
    Ok((
        cold.result("observe-50-cold"),
        warm.result("observe-50-warm"),
    ))
}

/// Single timed requests and their failures.
#[derive(Debug, Default)]
struct Samples {
    times: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

impl Samples {
    fn record(&mut self, took: Duration, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => self.times.push(took),
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }

    fn result(self, scenario: &str) -> LoadResult {
        LoadResult::from_samples(scenario, self.times, self.errors, self.first_error)
    }
}

async fn post(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    body: &str,
    credential: &Credential,
) -> (Duration, Result<(), String>) {
    let requests = scenario::Requests::fixed(base, path, body);
    let started = Instant::now();
    let outcome = load::once(client, &requests, credential).await;
    (started.elapsed(), outcome)
}

/// `observe-1` with 256 concurrent connections on a fresh relay, its peak RSS sampled.
async fn at_256(
    plan: &Plan,
    setup: &Setup,
    upstream: &str,
    latency: u64,
) -> Result<(Row, Option<rss::Memory>), String> {
    let relay = Server::spawn(&mut startup::relay_server_command(
        &setup.bin.join("relay-server"),
        &setup.secret,
        upstream,
    ))?;
    let sampler = rss::Sampler::start(relay.pid());
    let jwt = Credential::Jwt(setup.jwt.clone());
    let result = load::run(&relay.url(), &jwt, config(plan, Scenario::Observe1, 256)).await?;
    let peak = sampler.stop();
    let memory = rss::read(relay.pid());
    Ok((Row::relay(latency, result, Some(peak)), memory))
}

fn start_stub(latency_ms: u64) -> Result<Server, String> {
    let exe = std::env::current_exe().map_err(|e| format!("where is xtask? {e}"))?;
    Server::spawn(Command::new(exe).args([
        "bench",
        "stub",
        "--listen",
        "127.0.0.1:0",
        "--latency-ms",
        &latency_ms.to_string(),
    ]))
}

fn start_passthrough(upstream: &str) -> Result<Server, String> {
    let exe = std::env::current_exe().map_err(|e| format!("where is xtask? {e}"))?;
    Server::spawn(Command::new(exe).args([
        "bench",
        "passthrough",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        upstream,
    ]))
}

/// The 1-minute load average, to say how busy the machine was.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn step(message: &str) {
    eprintln!("==> {message}");
}
