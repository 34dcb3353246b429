//! `cargo xtask bench`: how fast the relay is, against a stand-in upstream of known latency.
//!
//! The stand-in runs as its own process (this binary, `bench stub`), not inside the driver:
//! in-process it would share the driver's tokio runtime, so each would delay the other's
//! clocks. As a process it is scheduled like the relay, and the three (driver, relay,
//! stand-in) share the machine's cores as a client, a relay and an upstream on one host would.

mod load;
mod overhead;
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
use load::{Credential, LoadConfig, LoadResult, Tally};
use report::{Report, Row};
use scenario::{FreshIps, Requests, Scenario};

/// The default run: builds relay-server and relay-lambda in release, then for each upstream
/// latency loads the stand-in directly and through the passthrough (the two baselines), then
/// a relay with every scenario, samples its memory, measures cold-cache `observe-50` on fresh
/// relays, then start-up of both binaries; prints one table and writes
/// `<target>/bench/report.json`.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct Args {
    #[command(subcommand)]
    sub: Option<Sub>,
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
    /// Use the release binaries already built.
    #[arg(long)]
    skip_build: bool,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// The Auth0 Signals stand-in alone, until Ctrl-C.
    Stub {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
    },
    /// The cheapest relay, the baseline that shows what the HTTP plumbing alone costs.
    Passthrough {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        #[arg(long)]
        upstream: String,
    },
    /// The load driver against any relay (or, with `--scenario stub`, any Signals API).
    Load {
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
    },
    /// What Prometheus metrics cost: `observe-1` requests/s with and without
    /// `--metrics-listen`, in alternating rounds (builds the relay in release).
    Metrics {
        /// Rounds of each (a fresh relay per run); the medians are compared.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        #[command(flatten)]
        load: LoadFlags,
    },
    /// The socless-events `create_events` benchmark; later arguments go to criterion.
    Socless {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        criterion: Vec<String>,
    },
    /// Lookup cost of the blocklist relay (relay-blocklist) at 1, 1,000 and 1,000,000 entries, and
    /// the load time and heap of 1,000,000; later arguments go to criterion.
    Blocklist {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        criterion: Vec<String>,
    },
}

#[derive(clap::Args, Debug, Clone, Copy)]
struct LoadFlags {
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

pub(crate) fn run(args: Args) -> Result<(), String> {
    // Figures from an unoptimised driver, stand-in or emulator would measure them, not the relay.
    // Criterion benches build in release themselves.
    let criterion = matches!(args.sub, Some(Sub::Socless { .. } | Sub::Blocklist { .. }));
    if cfg!(debug_assertions) && !criterion {
        let relay_too = match args.sub {
            None => !args.skip_build,
            Some(ref sub) => matches!(sub, Sub::Metrics { .. }),
        };
        return in_release(relay_too, args.sub.is_none());
    }
    match args.sub {
        Some(Sub::Stub { listen, latency_ms }) => crate::until_interrupted(async move {
            let latency = Duration::from_millis(latency_ms);
            let address = stub::start(listen, stub::StubConfig { latency }).await?;
            // The line `procs::Server::spawn` waits for.
            eprintln!(
                "stub listening address={address} latency_ms={latency_ms} api_key={}",
                stub::DEMO_API_KEY
            );
            std::future::pending::<Result<(), String>>().await
        }),
        Some(Sub::Passthrough { listen, upstream }) => {
            crate::until_interrupted(passthrough::serve(listen, &upstream))
        }
        Some(Sub::Load {
            url,
            jwt,
            key,
            scenario,
            load,
            json,
        }) => {
            let credential = match (scenario, jwt) {
                (Scenario::Stub, _) => {
                    Credential::ApiKey(key.unwrap_or_else(|| stub::DEMO_API_KEY.into()))
                }
                (_, Some(jwt)) => Credential::Jwt(jwt),
                (_, None) => return Err("bench load: --jwt is required for relay scenarios".into()),
            };
            let config = load.config(scenario, load.concurrency);
            let result = crate::until_interrupted(load::run(&url, &credential, config))?;
            if json {
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
        Some(Sub::Socless { criterion }) => {
            let mut cargo_args = vec!["bench", "-p", "socless-events", "--bench", "create_events"];
            if !criterion.is_empty() {
                cargo_args.push("--");
                cargo_args.extend(criterion.iter().map(String::as_str));
            }
            // The moto group of the bench runs when `moto_server` is on PATH.
            let tools = crate::tools::ensure(&[crate::tools::Tool::MOTO])?;
            procs::cargo(&cargo_args, Some(&tools.path))
        }
        Some(Sub::Blocklist { criterion }) => {
            let mut cargo_args = vec!["bench", "-p", "xdr-relay-blocklist", "--bench", "lookup"];
            if !criterion.is_empty() {
                cargo_args.push("--");
                cargo_args.extend(criterion.iter().map(String::as_str));
            }
            procs::cargo(&cargo_args, None)
        }
        Some(Sub::Metrics { rounds, load }) => {
            let setup = Setup::new(crate::target_dir()?.join("release"))?;
            let overhead = crate::until_interrupted(async {
                let stub = spawn_self(&["stub", "--latency-ms", "0"])?;
                overhead::measure(&setup, &format!("{}/", stub.url()), load, rounds).await
            })?;
            println!("{}", report::overhead_line(&overhead));
            Ok(())
        }
        None => default_run(&args),
    }
}

/// A debug xtask (what `cargo xtask` runs) builds itself (and, for the default run, the relay
/// binaries) in release and hands over to that build, with `--skip-build`.
fn in_release(relay_too: bool, default_run: bool) -> Result<(), String> {
    let mut targets = vec!["-p", "xtask"];
    if relay_too {
        targets.extend(["-p", "xdr-relay-server", "-p", "xdr-relay-lambda"]);
        step("building xtask, relay-server and relay-lambda (release)");
    } else {
        step("building xtask (release): an unoptimised driver would measure itself");
    }
    let mut command = Command::new(procs::build(true, &targets)?.join("xtask"));
    command.args(std::env::args_os().skip(1));
    if relay_too && default_run {
        command.arg("--skip-build");
    }
    procs::status(&mut command)
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
        let (secret, jwt) = procs::jwt(&bin, stub::DEMO_API_KEY, None)?;
        Ok(Setup { bin, secret, jwt })
    }

    fn credential(&self) -> Credential {
        Credential::Jwt(self.jwt.clone())
    }

    /// A fresh relay-server with production logging against `upstream`.
    fn relay(&self, upstream: &str) -> Result<Server, String> {
        Server::spawn(
            &mut procs::relay_command(&self.bin, &self.secret, upstream, None),
            false,
        )
    }
}

fn default_run(args: &Args) -> Result<(), String> {
    let bin = match args.skip_build {
        true => crate::target_dir()?.join("release"),
        false => {
            step("building relay-server and relay-lambda (release)");
            procs::build(true, &["-p", "xdr-relay-server", "-p", "xdr-relay-lambda"])?
        }
    };
    let setup = Setup::new(bin)?;
    let mut report = crate::until_interrupted(measure(args, &setup))?;
    // `cargo xtask lambda` writes to `<workspace>/target/lambda` whatever CARGO_TARGET_DIR is.
    let zip = Path::new("lambda/relay-lambda/bootstrap.zip");
    let target = crate::target_dir()?;
    let dirs = [crate::workspace_root()?.join("target"), target.clone()];
    report.lambda_zip_bytes = dirs
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

async fn measure(args: &Args, setup: &Setup) -> Result<Report, String> {
    let mut report = Report {
        load_before: load_average(),
        concurrency: args.load.concurrency,
        duration_s: args.load.duration.as_secs_f64(),
        ..Report::default()
    };
    for &latency in &args.latencies {
        step(&format!("upstream latency {latency} ms"));
        let stub = spawn_self(&["stub", "--latency-ms", &latency.to_string()])?;
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
    args: &Args,
    setup: &Setup,
    upstream: &str,
    report: &mut Report,
) -> Result<Vec<(LoadResult, Option<u64>, &'static str)>, String> {
    let (flags, c) = (args.load, args.load.concurrency);
    let mut rows = Vec::new();
    let stub_key = Credential::ApiKey(stub::DEMO_API_KEY.into());
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

/// Starts this binary's `bench <args>` server (the stand-in or the passthrough) on any port.
fn spawn_self(args: &[&str]) -> Result<Server, String> {
    let exe = std::env::current_exe().map_err(|e| format!("where is xtask? {e}"))?;
    Server::spawn(
        Command::new(exe)
            .arg("bench")
            .args(args)
            .args(["--listen", "127.0.0.1:0"]),
        false,
    )
}

/// The 1-minute load average, to say how busy the machine was.
fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn step(message: &str) {
    eprintln!("==> {message}");
}

#[cfg(test)]
mod tests {
    use super::{Args, Sub};

    #[test]
    fn arguments() {
        let parse = |words: &[&str]| crate::task_args::<Args>(words);
        let args = parse(&[]).unwrap();
        assert_eq!(
            (args.latencies, args.load.concurrency, args.skip_build),
            (vec![0, 50], 32, false)
        );
        let args = parse(&["--latencies", "0,10", "--duration", "0.5", "--skip-build"]).unwrap();
        assert_eq!(
            (args.latencies, args.load.duration.as_millis()),
            (vec![0, 10], 500)
        );
        let load = [
            "load",
            "--url",
            "http://x",
            "--jwt",
            "j",
            "--scenario",
            "observe-50-warm",
            "--json",
        ];
        assert!(matches!(
            parse(&load).unwrap().sub,
            Some(Sub::Load { json: true, .. })
        ));
        assert!(parse(&["load", "--url", "http://x", "--scenario", "health", "--jwt"]).is_err());
        let socless = parse(&["socless", "--save-baseline", "main"]).unwrap();
        assert!(matches!(socless.sub, Some(Sub::Socless { criterion }) if criterion.len() == 2));
        let blocklist = parse(&["blocklist", "--sample-size", "10"]).unwrap();
        assert!(
            matches!(blocklist.sub, Some(Sub::Blocklist { criterion }) if criterion.len() == 2)
        );
        assert!(parse(&["--duration", "-1"]).is_err());
    }
}
