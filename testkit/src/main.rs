//! `testkit`: the half of `cargo xtask` that serves or loads HTTP, so that xtask itself needs no
//! async runtime. xtask builds the binaries a command needs (this one included) and runs
//! `testkit <command> --bin <their folder> ...`; each command can also be run by hand.
//!
//! Every command talks only to 127.0.0.1. On failure it prints `testkit: <why>` as its last
//! line of standard error and exits with 1 (xtask reports that line).
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cmd::{bench, demo, first_endpoint, fuzz_api, image, soak};

#[derive(Parser, Debug)]
#[command(
    name = "testkit",
    about = "Stand-ins, load, soak, demo and image checks for cargo xtask (127.0.0.1 only)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The Auth0 Signals stand-in alone, until Ctrl-C (`cargo xtask bench stub`).
    SignalsStandin(bench::StandinArgs),
    /// The cheapest relay, the bench's baseline (`cargo xtask bench passthrough`).
    Passthrough(bench::PassthroughArgs),
    /// The load driver against any relay or Signals API (`cargo xtask bench load`).
    Load(bench::LoadArgs),
    /// The bench's default run against release binaries (`cargo xtask bench`).
    Bench(bench::RunArgs),
    /// Metrics on and off, `observe-1` requests/s (`cargo xtask bench metrics`).
    BenchMetrics(bench::MetricsArgs),
    /// The relay suite beside one relay alone: RSS, start-up, observe-1 requests/s
    /// (`cargo xtask bench suite`).
    BenchSuite(bench::SuiteArgs),
    /// The relay and the Socless endpoint end to end (`cargo xtask demo`).
    Demo(demo::Args),
    /// socless-events' README endpoint under `cargo lambda watch` (`cargo xtask first-endpoint`).
    FirstEndpoint(first_endpoint::Args),
    /// Mixed traffic against relay-server: no 5xx, no panic, RSS bound (`cargo xtask soak`).
    Soak(soak::Args),
    /// Schemathesis against relay-server and the Signals stand-in (`cargo xtask fuzz-api`).
    FuzzApi(fuzz_api::Args),
    /// Runs a built relay image with buildah and asks it (`cargo xtask image --check`, CI).
    CheckImage(image::Args),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::SignalsStandin(args) => bench::standin(&args),
        Command::Passthrough(args) => bench::passthrough(&args),
        Command::Load(args) => bench::load(&args),
        Command::Bench(args) => bench::run(&args),
        Command::BenchMetrics(args) => bench::metrics(&args),
        Command::BenchSuite(args) => bench::suite(&args),
        Command::Demo(args) => demo::run(&args),
        Command::FirstEndpoint(args) => first_endpoint::run(&args),
        Command::Soak(args) => soak::run(&args),
        Command::FuzzApi(args) => fuzz_api::run(&args),
        Command::CheckImage(args) => image::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("testkit: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }

    /// What `cargo xtask` runs (xtask's tests check that it makes these words).
    #[test]
    fn xtask_s_words_parse() {
        use clap::Parser as _;
        for line in [
            "load --url http://x --scenario observe-50 --jwt j --duration 0.5 --concurrency 32 \
             --warmup-ms 500 --json",
            "signals-standin --listen 127.0.0.1:0 --latency-ms 50",
            "passthrough --listen 127.0.0.1:0 --upstream http://127.0.0.1:1/",
            "bench-metrics --bin /t/release --rounds 2 --duration 5 --concurrency 32 --warmup-ms 500",
            "bench --bin /t/release --out /t/bench --lambda-zip /t/z.zip --duration 5 \
             --concurrency 32 --warmup-ms 500 --latencies 0,10 --startup-runs 15 --cold-samples 20",
            "demo --bin /t/debug --alert /a.json --json",
            "soak --bin /t/debug --seconds 20",
            "fuzz-api --bin /t/debug --path /p --report-dir /r --max-examples 25 --max-seconds 60",
            "check-image --tag t --user 1:1 --version 0.1.0 --upstream signals --relay-bin /b",
            "check-image --tag t --user 1:1 --version 0.1.0 --upstream abuseipdb --relay-bin /b \
             --standin /s",
            "check-image --tag t --user 1:1 --version 0.1.0 --upstream otx --relay-bin /b \
             --standin /s",
            "check-image --tag t --user 1:1 --version 0.1.0 --upstream urlscan --relay-bin /b \
             --standin /s",
        ] {
            let words = std::iter::once("testkit").chain(line.split_whitespace());
            if let Err(e) = super::Cli::try_parse_from(words) {
                panic!("{line}: {e}");
            }
        }
        let no_standin = "testkit check-image --tag t --user 1:1 --version 0 --upstream abuseipdb \
             --relay-bin /b";
        assert!(super::Cli::try_parse_from(no_standin.split_whitespace()).is_err());
        for upstream in ["otx", "urlscan"] {
            let no_standin = no_standin.replace("abuseipdb", upstream);
            assert!(super::Cli::try_parse_from(no_standin.split_whitespace()).is_err());
        }
    }
}
