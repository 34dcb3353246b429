//! The bench's measuring half (`cargo xtask bench` builds the release binaries, then runs
//! these): how fast the relay is, against a stand-in upstream of known latency.
//!
//! The stand-in runs as its own process (this binary, `signals-standin`), not inside the
//! driver: in-process it would share the driver's tokio runtime, so each would delay the
//! other's clocks. As a process it is scheduled like the relay, and the three (driver, relay,
//! stand-in) share the machine's cores as a client, a relay and an upstream on one host would.

mod load;
mod overhead;
mod passthrough;
mod report;
mod scenario;
mod startup;
mod suite;

pub(crate) use suite::{SuiteArgs, run as suite};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use testkit::relay::{self, Server};
use testkit::{rss, signals};

use super::{message, until_interrupted};
use load::{Credential, LoadConfig, LoadResult, Tally};
use report::{Report, Row};
use scenario::{FreshIps, Requests, Scenario};

/// `signals-standin`: the Auth0 Signals stand-in alone, until Ctrl-C.
#[derive(clap::Args, Debug)]
pub(crate) struct StandinArgs {
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
}

/// `passthrough`: the cheapest relay, the baseline that shows what the HTTP plumbing costs.
#[derive(clap::Args, Debug)]
pub(crate) struct PassthroughArgs {
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    #[arg(long)]
    upstream: String,
}

/// `load`: the load driver against any relay (or, with `--scenario stub`, any Signals API).
#[derive(clap::Args, Debug)]
pub(crate) struct LoadArgs {
    /// The base URL of the relay (or of the Signals API).
    #[arg(long)]
    url: String,
    /// The relay's JWT (relay scenarios).
    #[arg(long)]
    jwt: Option<String>,
    /// The API key (`--scenario stub`; default the stand-in's).
    #[arg(long)]
    key: Option<String>,
    #[arg(long, value_enum)]
    scenario: Scenario,
    #[command(flatten)]
    load: LoadFlags,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// `bench-metrics`: `observe-1` requests/s with and without `--metrics-listen`, in alternating
/// rounds.
#[derive(clap::Args, Debug)]
pub(crate) struct MetricsArgs {
    /// The folder of the release relay-server.
    #[arg(long)]
    bin: PathBuf,
    /// Rounds of each (a fresh relay per run); the medians are compared.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    #[command(flatten)]
    load: LoadFlags,
}

/// `bench`: for each upstream latency, loads the stand-in directly and through the passthrough
/// (the two baselines), then a relay with every scenario, samples its memory, measures
/// cold-cache `observe-50` on fresh relays, then start-up of both binaries; prints one table
/// and writes `<out>/report.json`.
#[derive(clap::Args, Debug)]
pub(crate) struct RunArgs {
    /// The folder of the release relay-server and relay-lambda.
    #[arg(long)]
    bin: PathBuf,
    /// Where report.json goes.
    #[arg(long)]
    out: PathBuf,
    /// The Lambda zip whose size the report gives, if one was built.
    #[arg(long)]
    lambda_zip: Option<PathBuf>,
    #[command(flatten)]
    load: LoadFlags,
    /// Upstream latencies to measure at, in milliseconds.
    #[arg(long, value_delimiter = ',', default_value = "0,50")]
    latencies: Vec<u64>,
    /// Start-ups timed per binary.
    #[arg(long, default_value_t = 15)]
    startup_runs: usize,
    /// Fresh relays for the cold-cache `observe-50`.
    #[arg(long, default_value_t = 20)]
    cold_samples: usize,
}

/// The flags of every load run (the same as `cargo xtask bench`'s).
#[derive(clap::Args, Debug, Clone, Copy)]
pub(crate) struct LoadFlags {
    /// Measured seconds per scenario, after the warm-up.
    #[arg(long, default_value = "5", value_parser = seconds)]
    duration: Duration,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Warm-up before measuring, in milliseconds.
    #[arg(long = "warmup-ms", default_value = "500", value_parser = millis)]
    warmup: Duration,
}

fn seconds(s: &str) -> Result<Duration, String> {
    let n: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    Duration::try_from_secs_f64(n).map_err(|_| "a positive number of seconds, please".into())
}

fn millis(s: &str) -> Result<Duration, String> {
    s.parse()
        .map(Duration::from_millis)
        .map_err(|_| format!("`{s}` is not a number of milliseconds"))
}

impl LoadFlags {
    fn config(self, scenario: Scenario, concurrency: usize) -> LoadConfig {
        LoadConfig {
            scenario,
            concurrency,
            duration: self.duration,
            warmup: self.warmup,
        }
    }
}

pub(crate) fn standin(args: &StandinArgs) -> Result<(), String> {
    let (listen, latency_ms) = (args.listen, args.latency_ms);
    until_interrupted(async move {
        let latency = Duration::from_millis(latency_ms);
        let address = signals::start(listen, signals::Config { latency })
            .await
            .map_err(message)?;
        // The line `relay::Server::spawn` waits for.
        eprintln!(
            "stub listening address={address} latency_ms={latency_ms} api_key={}",
            signals::DEMO_API_KEY
        );
        std::future::pending::<Result<(), String>>().await
    })
}

pub(crate) fn passthrough(args: &PassthroughArgs) -> Result<(), String> {
    until_interrupted(passthrough::serve(args.listen, &args.upstream))
}

pub(crate) fn load(args: &LoadArgs) -> Result<(), String> {
    let credential = match (args.scenario, &args.jwt) {
        (Scenario::Stub, _) => Credential::ApiKey(
            args.key
                .clone()
                .unwrap_or_else(|| signals::DEMO_API_KEY.into()),
        ),
        (_, Some(jwt)) => Credential::Jwt(jwt.clone()),
        (_, None) => return Err("bench load: --jwt is required for relay scenarios".into()),
    };
    let config = args.load.config(args.scenario, args.load.concurrency);
    let result = until_interrupted(load::run(&args.url, &credential, config))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&result).unwrap_or_default()
        );
    } else {
        println!(
            "{}\n{}",
            report::header(),
            report::line("-", "-", &result, None)
        );
        result
            .first_error
            .iter()
            .for_each(|e| println!("first error: {e}"));
    }
    Ok(())
}

pub(crate) fn metrics(args: &MetricsArgs) -> Result<(), String> {
    let setup = Setup::new(args.bin.clone())?;
    let overhead = until_interrupted(async {
        let stub = spawn_self(&["signals-standin", "--latency-ms", "0"])?;
        overhead::measure(&setup, &format!("{}/", stub.url()), args.load, args.rounds).await
    })?;
    println!("{}", report::overhead_line(&overhead));
    Ok(())
}

/// The secret, the JWT and the binaries every step of the default run uses.
struct Setup {
    bin: PathBuf,
    secret: String,
    jwt: String,
}

impl Setup {
    /// The JWT for the release binaries in `bin`.
    fn new(bin: PathBuf) -> Result<Self, String> {
        let (secret, jwt) = relay::jwt(&bin, signals::DEMO_API_KEY, None).map_err(message)?;
        Ok(Setup { bin, secret, jwt })
    }

    fn credential(&self) -> Credential {
        Credential::Jwt(self.jwt.clone())
    }

    /// A fresh relay-server with production logging against `upstream`.
    fn relay(&self, upstream: &str) -> Result<Server, String> {
        Server::spawn(
            &mut relay::relay_command(&self.bin, &self.secret, upstream, None),
            false,
        )
        .map_err(message)
    }
}

pub(crate) fn run(args: &RunArgs) -> Result<(), String> {
    let setup = Setup::new(args.bin.clone())?;
    let mut report = until_interrupted(measure(args, &setup))?;
    report.lambda_zip_bytes = args
        .lambda_zip
        .as_deref()
        .and_then(|zip| std::fs::metadata(zip).ok())
        .map(|m| m.len());
    report.load_after = load_average();
    print!("{}", report.table());
    let out = &args.out;
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let path = out.join("report.json");
    let json = serde_json::to_string_pretty(&report.to_json()).unwrap_or_default();
    std::fs::write(&path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    step(&format!("wrote {}", path.display()));
    Ok(())
}

async fn measure(args: &RunArgs, setup: &Setup) -> Result<Report, String> {
    let mut report = Report {
        load_before: load_average(),
        concurrency: args.load.concurrency,
        duration_s: args.load.duration.as_secs_f64(),
        ..Report::default()
    };
    for &latency in &args.latencies {
        step(&format!("upstream latency {latency} ms"));
        let stub = spawn_self(&["signals-standin", "--latency-ms", &latency.to_string()])?;
        let upstream = format!("{}/", stub.url());
        let rows = measure_scenarios(args, setup, &upstream, &mut report).await?;
        let (cold, warm) = cold_and_warm(args.cold_samples, setup, &upstream).await?;
        let rows = rows
            .into_iter()
            .chain([(cold, None, "relay"), (warm, None, "relay")]);
        let row = |(result, peak_rss_kib, target)| Row {
            upstream_latency_ms: latency,
            target,
            result,
            peak_rss_kib,
        };
        report.rows.extend(rows.map(row));
        if latency == 0 {
            step("metrics on and off: observe-1 requests/s, alternating rounds");
            report.metrics = Some(overhead::measure(setup, &upstream, args.load, 3).await?);
        }
        if Some(&latency) == args.latencies.iter().max() {
            step("relay memory at 256 concurrent connections");
            let relay = setup.relay(&upstream)?;
            let sampler = rss::Sampler::start(relay.pid());
            let config = args.load.config(Scenario::Observe1, 256);
            let result = load::run(&relay.url(), &setup.credential(), config).await?;
            report
                .rows
                .push(row((result, Some(sampler.stop()), "relay")));
            report.memory_256 = rss::read(relay.pid());
        }
    }
    step("start-up: relay-server exec → listening");
    report.startup_server = startup::relay_server(&setup.bin, &setup.secret, args.startup_runs)?;
    step("start-up: relay-lambda exec → first invocation answered (local Runtime API)");
    report.startup_lambda =
        startup::relay_lambda(&setup.bin, &setup.secret, &setup.jwt, args.startup_runs).await?;
    Ok(report)
}

/// The stand-in baseline, the passthrough baseline and every warm scenario against one relay
/// at one upstream latency: `(result, peak RSS, target)`.
async fn measure_scenarios(
    args: &RunArgs,
    setup: &Setup,
    upstream: &str,
    report: &mut Report,
) -> Result<Vec<(LoadResult, Option<u64>, &'static str)>, String> {
    let (flags, c) = (args.load, args.load.concurrency);
    let mut rows = Vec::new();
    let stub_key = Credential::ApiKey(signals::DEMO_API_KEY.into());
    for concurrency in [1, c] {
        let result = load::run(
            upstream,
            &stub_key,
            flags.config(Scenario::Stub, concurrency),
        )
        .await?;
        rows.push((result, None, "stub"));
    }
    let passthrough = spawn_self(&["passthrough", "--upstream", upstream])?;
    for concurrency in [1, c] {
        let config = flags.config(Scenario::Observe1, concurrency);
        rows.push((
            load::run(&passthrough.url(), &setup.credential(), config).await?,
            None,
            "passthrough",
        ));
    }
    drop(passthrough);
    let relay = setup.relay(upstream)?;
    report.idle_rss_kib = rss::read(relay.pid()).map(|m| m.rss_kib);
    let runs = [
        Scenario::Observe1,
        Scenario::Observe50,
        Scenario::Deliberate1,
        Scenario::Health,
        Scenario::Refer1,
    ];
    for (scenario, concurrency) in [(Scenario::Observe1, 1)]
        .into_iter()
        .chain(runs.map(|s| (s, c)))
    {
        let sampler = rss::Sampler::start(relay.pid());
        let result = load::run(
            &relay.url(),
            &setup.credential(),
            flags.config(scenario, concurrency),
        )
        .await?;
        rows.push((result, Some(sampler.stop()), "relay"));
    }
    Ok(rows)
}

/// `observe-50` with a cold metadata cache, and the same request again once warm, one at a
/// time, each on a fresh relay process.
///
/// "Cold": the relay has just started, so its blocklist metadata cache is empty, and the 50 IPs
/// are new; the request needs both round trips (50 reports, then every distinct list's
/// metadata). Its upstream connections are warm: a `deliberate` for 50 other fresh IPs (which
/// never touches the metadata cache) opens them first, so the figure is the cache's, not TCP's.
/// "Warm" is the identical request right after: one round trip, every list from the cache.
async fn cold_and_warm(
    samples: usize,
    setup: &Setup,
    upstream: &str,
) -> Result<(LoadResult, LoadResult), String> {
    let (client, jwt) = (load::client(1)?, setup.credential());
    let fresh = FreshIps::default();
    let (mut cold, mut warm) = (Tally::default(), Tally::default());
    let mut seconds = [0.0; 2];
    for _ in 0..samples {
        let relay = setup.relay(upstream)?;
        let url = relay.url();
        let [prime, measured] = [0; 2].map(|_| scenario::observables(&fresh.claim(scenario::MANY)));
        let prime = Requests::fixed(&url, "deliberate/observables", prime);
        if let Err(e) = load::once(&client, &prime, &jwt).await {
            cold.record(Duration::ZERO, Err(format!("priming: {e}")));
            continue;
        }
        let measured = Requests::fixed(&url, "observe/observables", measured);
        for (tally, seconds) in [&mut cold, &mut warm].into_iter().zip(&mut seconds) {
            let started = Instant::now();
            let outcome = load::once(&client, &measured, &jwt).await;
            *seconds += started.elapsed().as_secs_f64();
            tally.record(started.elapsed(), outcome);
        }
    }
    Ok((
        cold.summarise("observe-50-cold", 1, seconds[0]),
        warm.summarise("observe-50-warm", 1, seconds[1]),
    ))
}

/// Starts this binary's `<args>` server (the stand-in or the passthrough) on any port.
fn spawn_self(args: &[&str]) -> Result<Server, String> {
    let exe = std::env::current_exe().map_err(|e| format!("where is testkit? {e}"))?;
    Server::spawn(
        Command::new(exe)
            .args(args)
            .args(["--listen", "127.0.0.1:0"]),
        false,
    )
    .map_err(message)
}

/// The 1-minute load average, to say how busy the machine was.
fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn step(message: &str) {
    eprintln!("==> {message}");
}
