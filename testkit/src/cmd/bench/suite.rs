//! `bench-suite` (`cargo xtask bench suite`): what serving every relay in one process costs
//! one relay. The Auth0 Signals relay alone (`relay-server`) beside the suite (`xdr-relays`,
//! every relay mounted, the others idle): resident memory idle and under load, start-up time,
//! and `observe-1` requests/s through the one mount, in alternating rounds so that drift in
//! the machine's load falls on both alike; the medians are compared.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use testkit::relay::Server;
use testkit::rss;

use super::load::{self, LoadResult};
use super::scenario::Scenario;
use super::{LoadFlags, Setup, spawn_self, step};
use crate::cmd::{message, until_interrupted};

/// `bench-suite`'s flags.
#[derive(clap::Args, Debug)]
pub(crate) struct SuiteArgs {
    /// The folder of the release relay-server and xdr-relays.
    #[arg(long)]
    bin: PathBuf,
    /// Where suite.json goes.
    #[arg(long)]
    out: PathBuf,
    /// Rounds of each (a fresh process per run); the medians are compared.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Start-ups timed per binary.
    #[arg(long, default_value_t = 10)]
    startup_runs: usize,
    #[command(flatten)]
    load: LoadFlags,
}

/// One run of one side: requests/s, RSS idle (after start) and at its peak under load.
#[derive(Debug, Clone)]
struct Run {
    result: LoadResult,
    idle_kib: u64,
    peak_kib: u64,
}

/// What is measured, per side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Alone,
    Suite,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Alone => "relay-server (Auth0 Signals alone)",
            Side::Suite => "xdr-relays (every relay; /auth0-signals)",
        }
    }
}

struct Bench {
    setup: Setup,
    upstream: String,
    list: PathBuf,
}

impl Bench {
    fn command(&self, side: Side) -> Command {
        match side {
            Side::Alone => testkit::relay::relay_command(
                &self.setup.bin,
                &self.setup.secret,
                &self.upstream,
                None,
            ),
            Side::Suite => {
                let mut command = Command::new(self.setup.bin.join("xdr-relays"));
                command
                    .args(["--listen", "127.0.0.1:0"])
                    .env("SECRET_KEY", &self.setup.secret)
                    .env("SIGNALS_API_URL", &self.upstream)
                    // Idle mounts: never called.
                    .env("ABUSEIPDB_API_URL", "http://127.0.0.1:9/")
                    .env("ABUSEIPDB_WEB_URL", "http://127.0.0.1:9/")
                    .env("BLOCKLIST_FILES", &self.list)
                    .env_remove("RELAYS")
                    .env_remove("RUST_LOG");
                command
            }
        }
    }

    async fn run(&self, side: Side, flags: LoadFlags) -> Result<Run, String> {
        let server = Server::spawn(&mut self.command(side), false).map_err(message)?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let idle_kib = rss::read(server.pid()).map_or(0, |m| m.rss_kib);
        let base = match side {
            Side::Alone => server.url(),
            Side::Suite => format!("{}/auth0-signals", server.url()),
        };
        let sampler = rss::Sampler::start(server.pid());
        let config = flags.config(Scenario::Observe1, flags.concurrency);
        let result = load::run(&base, &self.setup.credential(), config).await?;
        let peak_kib = sampler.stop();
        if result.errors > 0 {
            return Err(format!(
                "{}: {} errors, the first: {:?}",
                side.name(),
                result.errors,
                result.first_error
            ));
        }
        Ok(Run {
            result,
            idle_kib,
            peak_kib,
        })
    }

    fn startups(&self, side: Side, runs: usize) -> Result<Vec<Duration>, String> {
        (0..runs)
            .map(|_| {
                let started = Instant::now();
                Server::spawn(&mut self.command(side), false)
                    .map(|_server| started.elapsed())
                    .map_err(message)
            })
            .collect()
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

pub(crate) fn run(args: &SuiteArgs) -> Result<(), String> {
    let setup = Setup::new(args.bin.clone())?;
    let list =
        std::env::temp_dir().join(format!("testkit-bench-suite-{}.netset", std::process::id()));
    std::fs::write(&list, "198.51.100.0/24\n203.0.113.9\n")
        .map_err(|e| format!("cannot write {}: {e}", list.display()))?;
    let stub = spawn_self(&["signals-standin", "--latency-ms", "0"])?;
    let bench = Bench {
        setup,
        upstream: format!("{}/", stub.url()),
        list: list.clone(),
    };
    let measured = until_interrupted(measure(args, &bench));
    let _ = std::fs::remove_file(&list);
    let report = measured?;
    println!("{}", report.0);
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let path = args.out.join("suite.json");
    let json = serde_json::to_string_pretty(&report.1).unwrap_or_default();
    std::fs::write(&path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    step(&format!("wrote {}", path.display()));
    Ok(())
}

/// The table and the JSON.
async fn measure(args: &SuiteArgs, bench: &Bench) -> Result<(String, serde_json::Value), String> {
    let mut runs: Vec<(Side, Run)> = Vec::new();
    for round in 1..=args.rounds.max(1) {
        for side in [Side::Alone, Side::Suite] {
            let run = bench.run(side, args.load).await?;
            step(&format!(
                "round {round}: {}: {:.0} requests/s, RSS idle {:.1} MiB, peak {:.1} MiB",
                side.name(),
                run.result.requests_per_second,
                rss::mib(run.idle_kib),
                rss::mib(run.peak_kib)
            ));
            runs.push((side, run));
        }
    }
    let mut table = format!(
        "observe-1 through one relay, the others idle: {} rounds of {:.0} s at {} connections (medians)\n",
        args.rounds,
        args.load.duration.as_secs_f64(),
        args.load.concurrency
    );
    table.push_str("| | requests/s | p50 µs | p99 µs | RSS idle MiB | RSS peak MiB | start-up ms (median) |\n|---|---|---|---|---|---|---|\n");
    let mut sides = Vec::new();
    for side in [Side::Alone, Side::Suite] {
        let of = |f: &dyn Fn(&Run) -> f64| {
            median(
                runs.iter()
                    .filter(|(s, _)| *s == side)
                    .map(|(_, r)| f(r))
                    .collect(),
            )
        };
        let rps = of(&|r| r.result.requests_per_second);
        let p50 = of(&|r| r.result.p50_us);
        let p99 = of(&|r| r.result.p99_us);
        let idle = of(&|r| rss::mib(r.idle_kib));
        let peak = of(&|r| rss::mib(r.peak_kib));
        step(&format!("start-up: {} exec → listening", side.name()));
        let startups = bench.startups(side, args.startup_runs)?;
        let startup = median(startups.iter().map(|d| d.as_secs_f64() * 1000.0).collect());
        table.push_str(&format!(
            "| {} | {rps:.0} | {p50:.0} | {p99:.0} | {idle:.1} | {peak:.1} | {startup:.1} |\n",
            side.name()
        ));
        sides.push(json!({
            "side": side.name(),
            "requests_per_second": rps,
            "p50_us": p50,
            "p99_us": p99,
            "rss_idle_mib": idle,
            "rss_peak_mib": peak,
            "startup_ms": startup,
        }));
    }
    let alone = sides[0]["requests_per_second"].as_f64().unwrap_or(0.0);
    let suite = sides[1]["requests_per_second"].as_f64().unwrap_or(0.0);
    let cost = (alone - suite) / alone.max(1e-9) * 100.0;
    table.push_str(&format!(
        "the suite costs the one relay {cost:.1}% of its observe-1 throughput (the issue's bound: under 5%)\n"
    ));
    Ok((
        table,
        json!({
            "rounds": args.rounds,
            "duration_s": args.load.duration.as_secs_f64(),
            "concurrency": args.load.concurrency,
            "sides": sides,
            "throughput_cost_percent": cost,
        }),
    ))
}
