//! `cargo xtask bench`: how fast the relay is, against a stand-in upstream of known latency.
//!
//! xtask builds the release binaries (the relay's and `testkit`: an unoptimised driver,
//! stand-in or emulator would measure itself, not the relay) and runs `testkit bench` (the
//! default run), `testkit load`, `testkit bench-metrics`, `testkit signals-standin` or
//! `testkit passthrough`, which measure; the criterion benches (`socless`, `blocklist`) are
//! cargo's. The stand-in runs as its own process (`testkit signals-standin`), scheduled like
//! the relay, so the driver, the relay and the stand-in share the machine's cores as a client,
//! a relay and an upstream on one host would.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::procs;

/// The default run: builds relay-server, relay-lambda and testkit in release, then for each
/// upstream latency loads the stand-in directly and through the passthrough (the two
/// baselines), then a relay with every scenario, samples its memory, measures cold-cache
/// `observe-50` on fresh relays, then start-up of both binaries; prints one table and writes
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

/// One kind of request the load driver repeats (`testkit load --scenario`, the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Scenario {
    /// `/observe/observables` for one IP on one list: one upstream call when warm.
    #[value(name = "observe-1")]
    Observe1,
    /// `/observe/observables` for the same 50 IPs every time: one round of 50 report lookups
    /// once the metadata cache is warm.
    #[value(name = "observe-50", alias = "observe-50-warm")]
    Observe50,
    /// `/observe/observables` for 50 IPs never asked before (list metadata stays cached; the
    /// default run makes that cache cold by starting a fresh relay).
    #[value(name = "observe-50-cold")]
    Observe50Cold,
    /// `/deliberate/observables` for one IP: one upstream call, no metadata.
    #[value(name = "deliberate-1")]
    Deliberate1,
    /// `/health`: one upstream key check.
    Health,
    /// `/refer/observables` for one IP: no upstream call at all.
    #[value(name = "refer-1")]
    Refer1,
    /// The stand-in itself, `GET /v2.0/ip/<ip>` with `X-Auth-Token` (default: the stand-in's
    /// key): the baseline, the call the relay makes for `observe-1`.
    Stub,
}

impl Scenario {
    fn name(self) -> String {
        let value = clap::ValueEnum::to_possible_value(&self);
        value.map(|v| v.get_name().to_owned()).unwrap_or_default()
    }
}

impl LoadFlags {
    /// The same flags, for `testkit`.
    fn words(self) -> Vec<OsString> {
        let duration = self.duration.as_secs_f64().to_string();
        let warmup = self.warmup.as_millis().to_string();
        let concurrency = self.concurrency.to_string();
        let words = ["--duration", &duration, "--concurrency", &concurrency];
        let words = words.into_iter().chain(["--warmup-ms", &warmup]);
        words.map(OsString::from).collect()
    }
}

/// The words of `testkit`'s command for `args`, when testkit runs it, and whether the relay's
/// release binaries are built for it.
fn testkit_command(args: &Args) -> Result<Option<(Vec<OsString>, bool)>, String> {
    let words = |words: &[&str]| words.iter().map(OsString::from).collect::<Vec<_>>();
    let release = || crate::target_dir().map(|target| target.join("release").into_os_string());
    Ok(Some(match &args.sub {
        Some(Sub::Socless { .. } | Sub::Blocklist { .. }) => return Ok(None),
        Some(Sub::Stub { listen, latency_ms }) => {
            let (listen, latency) = (listen.to_string(), latency_ms.to_string());
            let stub = [
                "signals-standin",
                "--listen",
                &listen,
                "--latency-ms",
                &latency,
            ];
            (words(&stub), false)
        }
        Some(Sub::Passthrough { listen, upstream }) => {
            let listen = listen.to_string();
            let passthrough = ["passthrough", "--listen", &listen, "--upstream", upstream];
            (words(&passthrough), false)
        }
        Some(Sub::Load {
            url,
            jwt,
            key,
            scenario,
            load,
            json,
        }) => {
            let mut command = words(&["load", "--url", url, "--scenario", &scenario.name()]);
            for (flag, value) in [("--jwt", jwt), ("--key", key)] {
                if let Some(value) = value {
                    command.extend(words(&[flag, value]));
                }
            }
            command.extend(load.words());
            if *json {
                command.push("--json".into());
            }
            (command, false)
        }
        Some(Sub::Metrics { rounds, load }) => {
            let mut command = words(&["bench-metrics", "--bin"]);
            command.push(release()?);
            command.extend(words(&["--rounds", &rounds.to_string()]));
            command.extend(load.words());
            (command, true)
        }
        None => {
            let target = crate::target_dir()?;
            let mut command = words(&["bench", "--bin"]);
            command.push(release()?);
            command.push("--out".into());
            command.push(target.join("bench").into_os_string());
            // `cargo xtask lambda` writes to `<workspace>/target/lambda` whatever
            // CARGO_TARGET_DIR is.
            let zip = Path::new("lambda/relay-lambda/bootstrap.zip");
            let dirs = [crate::workspace_root()?.join("target"), target];
            if let Some(zip) = dirs
                .iter()
                .map(|dir| dir.join(zip))
                .find(|zip| zip.is_file())
            {
                command.push("--lambda-zip".into());
                command.push(zip.into_os_string());
            }
            command.extend(args.load.words());
            let latencies: Vec<String> = args.latencies.iter().map(u64::to_string).collect();
            let (startup, cold) = (args.startup_runs.to_string(), args.cold_samples.to_string());
            command.extend(words(&["--latencies", &latencies.join(",")]));
            command.extend(words(&[
                "--startup-runs",
                &startup,
                "--cold-samples",
                &cold,
            ]));
            (command, !args.skip_build)
        }
    }))
}

pub(crate) fn run(args: Args) -> Result<(), String> {
    match (testkit_command(&args)?, args.sub) {
        (Some((command, relay_too)), _) => {
            // Packages, not `--bin`, which would keep cargo to that one binary of them all.
            let mut targets = vec!["-p", "testkit"];
            if relay_too {
                targets.extend(["-p", "xdr-relay-server", "-p", "xdr-relay-lambda"]);
                step("building testkit, relay-server and relay-lambda (release)");
            } else {
                step("building testkit (release): an unoptimised driver would measure itself");
            }
            let testkit = procs::build(true, &targets)?.join("testkit");
            crate::testkit::run(&testkit, &command).map(drop)
        }
        (None, Some(Sub::Socless { criterion })) => {
            let mut cargo_args = vec!["bench", "-p", "socless-events", "--bench", "create_events"];
            if !criterion.is_empty() {
                cargo_args.push("--");
                cargo_args.extend(criterion.iter().map(String::as_str));
            }
            // The moto group of the bench runs when `moto_server` is on PATH.
            let tools = crate::tools::ensure(&[crate::tools::Tool::MOTO])?;
            procs::cargo(&cargo_args, Some(&tools.path))
        }
        (None, Some(Sub::Blocklist { criterion })) => {
            let mut cargo_args = vec!["bench", "-p", "xdr-relay-blocklist", "--bench", "lookup"];
            if !criterion.is_empty() {
                cargo_args.push("--");
                cargo_args.extend(criterion.iter().map(String::as_str));
            }
            procs::cargo(&cargo_args, None)
        }
        (None, _) => Err("bench: nothing to run".into()),
    }
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

    /// The words testkit is run with (`testkit`'s tests parse these same words).
    #[test]
    fn testkit_words() {
        let words = |args: &[&str]| {
            let args = crate::task_args::<Args>(args).unwrap();
            super::testkit_command(&args)
                .unwrap()
                .map(|(words, relay)| {
                    let words: Vec<String> = words
                        .iter()
                        .map(|w| w.to_string_lossy().into_owned())
                        .collect();
                    (words.join(" "), relay)
                })
        };
        let load = [
            "load",
            "--url",
            "http://x",
            "--jwt",
            "j",
            "--scenario",
            "observe-50-warm",
        ];
        let (load, relay) = words(&[&load[..], &["--duration", "0.5", "--json"]].concat()).unwrap();
        assert_eq!(
            load,
            "load --url http://x --scenario observe-50 --jwt j --duration 0.5 --concurrency 32 \
             --warmup-ms 500 --json"
        );
        assert!(!relay);
        let stub = words(&["stub", "--latency-ms", "50"]).unwrap();
        let expected = "signals-standin --listen 127.0.0.1:0 --latency-ms 50";
        assert_eq!(stub, (expected.to_owned(), false));
        let (metrics, relay) = words(&["metrics", "--rounds", "2"]).unwrap();
        assert!(metrics.starts_with("bench-metrics --bin "), "{metrics}");
        assert!(metrics.ends_with(" --rounds 2 --duration 5 --concurrency 32 --warmup-ms 500"));
        assert!(relay);
        let (run, relay) = words(&["--latencies", "0,10", "--skip-build"]).unwrap();
        assert!(run.starts_with("bench --bin "), "{run}");
        assert!(
            run.ends_with(" --latencies 0,10 --startup-runs 15 --cold-samples 20"),
            "{run}"
        );
        assert!(!relay);
        assert_eq!(words(&["blocklist"]), None);
    }
}
