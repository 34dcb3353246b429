//! `testkit fuzz-api --bin DIR --path PATH --report-dir DIR` (`cargo xtask fuzz-api`, which
//! builds relay-server and installs Schemathesis first): Schemathesis against the real
//! relay-server and the Auth0 Signals stand-in on 127.0.0.1, driven by the relay's own OpenAPI
//! document.
//!
//! Checks: no 5xx (`not_a_server_error`) and every answer conforms to the document
//! (`response_schema_conformance`), for valid and invalid inputs, with a real JWT. Bounded in
//! examples per operation and in time, so CI can afford it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::LocalRelay;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The folder of the (debug) relay-server.
    #[arg(long)]
    bin: PathBuf,
    /// The PATH under which `st` (Schemathesis) is found.
    #[arg(long)]
    path: OsString,
    /// Where Schemathesis writes its JUnit report.
    #[arg(long)]
    report_dir: PathBuf,
    /// Test cases per operation.
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u32).range(1..))]
    max_examples: u32,
    /// Schemathesis's own time budget; the process is killed a minute after it.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    max_seconds: u64,
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    super::until_interrupted(async {
        let mut relay = LocalRelay::start(&args.bin, "info", &[("RELAY_OPENAPI", "true")]).await?;
        let url = relay.server.url();
        println!("relay-server with RELAY_OPENAPI=true at {url}");
        let started = Instant::now();
        let (jwt, max_examples, max_seconds) =
            (relay.jwt.clone(), args.max_examples, args.max_seconds);
        let (path, report_dir) = (args.path.clone(), args.report_dir.clone());
        // Schemathesis blocks; the stand-in keeps answering on the runtime's workers meanwhile.
        let outcome = tokio::task::spawn_blocking(move || {
            let st = St {
                path: &path,
                report_dir: &report_dir,
            };
            schemathesis(&st, &url, &jwt, max_examples, max_seconds)
        })
        .await
        .map_err(|e| format!("schemathesis runner failed: {e}"))?;
        let (lines, panics) = relay.server.log_counts();
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "schemathesis finished in {seconds:.1}s; relay-server logged {lines} lines, {panics} panics"
        );
        if !relay.server.healthy() {
            let log = relay.server.last_lines().join("\n");
            return Err(format!(
                "relay-server panicked or died under schemathesis:\n{log}"
            ));
        }
        outcome
    })
}

/// Where `st` is and where its report goes.
struct St<'a> {
    path: &'a OsString,
    report_dir: &'a Path,
}

/// Runs `st run` to completion (or kills it a minute past its own budget).
fn schemathesis(
    st: &St<'_>,
    url: &str,
    jwt: &str,
    max_examples: u32,
    max_seconds: u64,
) -> Result<(), String> {
    let report_dir = st.report_dir;
    let checks = "not_a_server_error,response_schema_conformance";
    let (examples, seconds) = (max_examples.to_string(), max_seconds.to_string());
    let mut command = Command::new("st");
    command
        .env("PATH", st.path)
        .arg("run")
        .arg(format!("{url}/openapi.json"));
    command.args([
        "--checks",
        checks,
        "--max-examples",
        &examples,
        "--max-time",
        &seconds,
    ]);
    command.args([
        "--request-timeout",
        "20",
        "--workers",
        "2",
        "--seed",
        "20240601",
        "--no-shrink",
    ]);
    command.args([
        "--suppress-health-check",
        "all",
        "--report",
        "junit",
        "--report-dir",
    ]);
    command
        .arg(report_dir)
        .args(["-H", &format!("Authorization: Bearer {jwt}")]);
    println!(
        "running: st run {url}/openapi.json --checks {checks} --max-examples {examples} \
         --max-time {seconds} -H 'Authorization: Bearer <jwt>'"
    );
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run `st`: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(max_seconds + 60);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                let report = report_dir.display();
                return Err(format!(
                    "schemathesis found failures ({status}); report in {report}"
                ));
            }
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "schemathesis ran past {}s and was stopped",
                    max_seconds + 60
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => return Err(format!("cannot wait for schemathesis: {e}")),
        }
    }
}
