//! `cargo xtask bench`: how fast the relay is, against a stand-in upstream of known latency.
//!
//! xtask builds the release binaries (the relay's and `testkit`: an unoptimised driver,
//! stand-in or emulator would measure itself, not the relay) and runs `testkit bench` (the
//! default run), `testkit load`, `testkit bench-metrics`, `testkit signals-standin` or
//! `testkit passthrough`, which measure; the criterion benches (`socless`, `blocklist`) are
//! cargo's. The stand-in runs as its own process (`testkit signals-standin`), scheduled like
//! the relay, so the driver, the relay and the stand-in share the machine's cores as a client,
//! a relay and an upstream on one host would.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use crate::procs;

/// The default run: builds relay-server, relay-lambda and testkit in release, then for each
/// upstream latency loads the stand-in directly and through the passthrough (the two
/// baselines), then a relay with every scenario, samples its memory, measures cold-cache
/// `observe-50` on fresh relays, then start-up of both binaries; prints one table and writes
/// `<target>/bench/report.json`. The measuring commands' flags (`--latencies`, `--duration`,
/// `--concurrency`, ...) are testkit's, passed on as they are: `cargo xtask bench --help-flags`
/// (or `bench load --help`, ...) prints them.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct Args {
    #[command(subcommand)]
    sub: Option<Sub>,
    /// Use the release binaries already built.
    #[arg(long)]
    skip_build: bool,
    /// Print the default run's flags (`testkit bench --help`).
    #[arg(long)]
    help_flags: bool,
    /// The default run's flags, for `testkit bench`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "FLAGS"
    )]
    flags: Vec<String>,
}

/// The flags after a subcommand's name, passed on as they are (`--help` included, so the
/// command that reads them answers it).
#[derive(clap::Args, Debug)]
#[command(disable_help_flag = true)]
struct Rest {
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "FLAGS"
    )]
    words: Vec<String>,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// The Auth0 Signals stand-in alone, until Ctrl-C (`testkit signals-standin`).
    Stub(Rest),
    /// The cheapest relay, the baseline that shows what the HTTP plumbing alone costs
    /// (`testkit passthrough`).
    Passthrough(Rest),
    /// The load driver against any relay, or with `--scenario stub` any Signals API
    /// (`testkit load`).
    Load(Rest),
    /// What Prometheus metrics cost: `observe-1` requests/s with and without
    /// `--metrics-listen`, in alternating rounds (builds the relay in release;
    /// `testkit bench-metrics`).
    Metrics(Rest),
    /// The relay suite (`xdr-relays`, every relay mounted) beside the Auth0 Signals relay
    /// alone: RSS idle and under load, start-up, observe-1 requests/s through one mount while
    /// the others idle (builds both in release; `testkit bench-suite`, which writes
    /// `<target>/bench/suite.json`).
    Suite(Rest),
    /// The socless-events `create_events` benchmark; later arguments go to criterion.
    Socless(Rest),
    /// Lookup cost of the blocklist relay (relay-blocklist) at 1, 1,000 and 1,000,000 entries,
    /// and the load time and heap of 1,000,000; later arguments go to criterion.
    Blocklist(Rest),
    /// What the server holds under 10,000 idle connections, a hung upstream, a dribbled
    /// body, a chunk flood and huge headers (relay-server's `hold` bench; `HOLD_*` variables
    /// make a quick run).
    Hold,
}

/// The words of `testkit`'s command for `args`, when testkit runs it, and whether the relay's
/// release binaries are built for it.
fn testkit_command(args: &Args) -> Result<Option<(Vec<OsString>, bool)>, String> {
    let words = |head: &[&str], rest: &[String]| -> Vec<OsString> {
        let head = head.iter().map(OsString::from);
        head.chain(rest.iter().map(OsString::from)).collect()
    };
    let release = || crate::target_dir().map(|target| target.join("release").into_os_string());
    Ok(Some(match &args.sub {
        Some(Sub::Socless(_) | Sub::Blocklist(_) | Sub::Hold) => return Ok(None),
        Some(Sub::Stub(rest)) => (words(&["signals-standin"], &rest.words), false),
        Some(Sub::Passthrough(rest)) => (words(&["passthrough"], &rest.words), false),
        Some(Sub::Load(rest)) => (words(&["load"], &rest.words), false),
        Some(Sub::Suite(rest)) => {
            let mut command = words(&["bench-suite", "--bin"], &[]);
            command.push(release()?);
            command.push("--out".into());
            command.push(crate::target_dir()?.join("bench").into_os_string());
            command.extend(rest.words.iter().map(OsString::from));
            (command, true)
        }
        Some(Sub::Metrics(rest)) => {
            let mut command = words(&["bench-metrics", "--bin"], &[]);
            command.push(release()?);
            command.extend(rest.words.iter().map(OsString::from));
            (command, true)
        }
        None if args.help_flags => (words(&["bench", "--help"], &[]), false),
        None => {
            let target = crate::target_dir()?;
            let mut command = words(&["bench", "--bin"], &[]);
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
            command.extend(args.flags.iter().map(OsString::from));
            (command, !args.skip_build)
        }
    }))
}

/// `cargo bench` of one bench target, later arguments to it.
fn cargo_bench(
    package: &str,
    bench: &str,
    rest: &[String],
    path: Option<&OsStr>,
) -> Result<(), String> {
    let mut cargo_args = vec!["bench", "-p", package, "--bench", bench];
    if !rest.is_empty() {
        cargo_args.push("--");
        cargo_args.extend(rest.iter().map(String::as_str));
    }
    procs::cargo(&cargo_args, path)
}

pub(crate) fn run(args: Args) -> Result<(), String> {
    match (testkit_command(&args)?, args.sub) {
        (Some((command, relay_too)), sub) => {
            // Packages, not `--bin`, which would keep cargo to that one binary of them all.
            let mut targets = vec!["-p", "testkit"];
            if relay_too {
                targets.extend(["-p", "xdr-relay-server", "-p", "xdr-relay-lambda"]);
                if matches!(sub, Some(Sub::Suite(_))) {
                    targets.extend(["-p", "xdr-relay-suite"]);
                }
                step("building testkit, relay-server and relay-lambda (release)");
            } else {
                step("building testkit (release): an unoptimised driver would measure itself");
            }
            let testkit = procs::build(true, &targets)?.join("testkit");
            crate::testkit::run(&testkit, &command).map(drop)
        }
        (None, Some(Sub::Socless(rest))) => {
            // The moto group of the bench runs when `moto_server` is on PATH.
            let tools = crate::tools::ensure(&[crate::tools::Tool::MOTO])?;
            cargo_bench(
                "socless-events",
                "create_events",
                &rest.words,
                Some(&tools.path),
            )
        }
        (None, Some(Sub::Blocklist(rest))) => {
            cargo_bench("xdr-relay-blocklist", "lookup", &rest.words, None)
        }
        (None, Some(Sub::Hold)) => cargo_bench("xdr-relay-server", "hold", &[], None),
        (None, _) => Err("bench: nothing to run".into()),
    }
}

fn step(message: &str) {
    eprintln!("==> {message}");
}

#[cfg(test)]
mod tests {
    use super::{Args, Sub};

    fn parse(words: &[&str]) -> Args {
        crate::task_args::<Args>(words).unwrap()
    }

    /// The words testkit is run with, joined, and whether the relay is built for it.
    fn testkit_words(args: &[&str]) -> Option<(String, bool)> {
        super::testkit_command(&parse(args))
            .unwrap()
            .map(|(words, relay)| {
                let words: Vec<String> = words
                    .iter()
                    .map(|w| w.to_string_lossy().into_owned())
                    .collect();
                (words.join(" "), relay)
            })
    }

    #[test]
    fn subcommands_pass_their_flags_on_as_they_are() {
        let load = "load --url http://x --jwt j --scenario observe-50-warm --duration 0.5 --json";
        let (words, relay) = testkit_words(&load.split(' ').collect::<Vec<_>>()).unwrap();
        assert_eq!((words.as_str(), relay), (load, false));
        assert_eq!(
            testkit_words(&["stub", "--latency-ms", "50"]),
            Some(("signals-standin --latency-ms 50".to_owned(), false))
        );
        assert_eq!(
            testkit_words(&["load", "--help"]),
            Some(("load --help".to_owned(), false))
        );
        let (metrics, relay) = testkit_words(&["metrics", "--rounds", "2"]).unwrap();
        assert!(metrics.starts_with("bench-metrics --bin "), "{metrics}");
        assert!(metrics.ends_with(" --rounds 2"), "{metrics}");
        assert!(relay);
    }

    #[test]
    fn the_default_run_gets_its_folders_and_the_flags() {
        let (run, relay) = testkit_words(&["--latencies", "0,10", "--duration", "0.5"]).unwrap();
        assert!(run.starts_with("bench --bin "), "{run}");
        assert!(run.ends_with(" --latencies 0,10 --duration 0.5"), "{run}");
        assert!(relay);
        let (_, relay) = testkit_words(&["--skip-build", "--latencies", "0"]).unwrap();
        assert!(!relay);
        assert_eq!(
            testkit_words(&["--help-flags"]),
            Some(("bench --help".to_owned(), false))
        );
    }

    #[test]
    fn cargo_benches_are_not_testkits() {
        let socless = parse(&["socless", "--save-baseline", "main"]);
        assert!(matches!(&socless.sub, Some(Sub::Socless(rest)) if rest.words.len() == 2));
        assert_eq!(testkit_words(&["blocklist", "--sample-size", "10"]), None);
        assert_eq!(testkit_words(&["hold"]), None);
    }
}
