//! `cargo xtask fuzz-api`: Schemathesis against the real relay-server and the Auth0 Signals
//! stand-in on 127.0.0.1, driven by the relay's own OpenAPI document.
//!
//! Checks: no 5xx (`not_a_server_error`) and every answer conforms to the document
//! (`response_schema_conformance`), for valid and invalid inputs, with a real JWT. Bounded in
//! examples per operation and in time, so CI can afford it.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::relay_proc::Relay;

/// Test cases per operation unless `--max-examples N` says otherwise.
const DEFAULT_MAX_EXAMPLES: u32 = 25;
/// Schemathesis's own time budget; the process is killed a minute after it.
const DEFAULT_MAX_SECONDS: u64 = 60;

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let (max_examples, max_seconds) = parse_args(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        let mut relay = Relay::start(&[("RELAY_OPENAPI", "true")]).await?;
        println!("relay-server with RELAY_OPENAPI=true at {}", relay.url);
        let started = Instant::now();
        let url = relay.url.clone();
        let jwt = relay.jwt.clone();
        // Schemathesis blocks; the stub keeps answering on the runtime's workers meanwhile.
        let outcome = tokio::task::spawn_blocking(move || {
            schemathesis(&url, &jwt, max_examples, max_seconds)
        })
        .await
        .map_err(|e| format!("schemathesis runner failed: {e}"))?;
        println!(
            "schemathesis finished in {:.1}s; relay-server logged {} lines, {} panics",
            started.elapsed().as_secs_f64(),
            relay.log_lines(),
            relay.panics()
        );
        if relay.panics() > 0 || !relay.alive() {
            return Err(format!(
                "relay-server panicked or died under schemathesis:\n{}",
                relay.last_lines().join("\n")
            ));
        }
        outcome
    })
}

fn parse_args(args: &[String]) -> Result<(u32, u64), String> {
    let mut max_examples = DEFAULT_MAX_EXAMPLES;
    let mut max_seconds = DEFAULT_MAX_SECONDS;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value = args.next();
        let number = |name: &str| {
            value
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("fuzz-api: {name} takes a positive number"))
        };
        match arg.as_str() {
            "--max-examples" => {
                max_examples = u32::try_from(number("--max-examples")?)
                    .map_err(|_| "fuzz-api: --max-examples is too large".to_owned())?;
            }
            "--max-seconds" => max_seconds = number("--max-seconds")?,
            other => {
                return Err(format!(
                    "fuzz-api: unknown argument `{other}` (--max-examples N, --max-seconds N)"
                ));
            }
        }
    }
    Ok((max_examples, max_seconds))
}

/// Runs `st run` to completion (or kills it a minute past its own budget).
fn schemathesis(url: &str, jwt: &str, max_examples: u32, max_seconds: u64) -> Result<(), String> {
    let tools = crate::tools::ensure(&[crate::tools::Tool::Schemathesis])?;
    let report_dir = crate::target_dir()?.join("schemathesis");
    let mut command = Command::new("st");
    command
        .env("PATH", &tools.path)
        .arg("run")
        .arg(format!("{url}/openapi.json"))
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--max-examples",
            &max_examples.to_string(),
            "--max-time",
            &max_seconds.to_string(),
            "--request-timeout",
            "20",
            "--workers",
            "2",
            "--seed",
            "20240601",
            "--no-shrink",
            "--suppress-health-check",
            "all",
            "--report",
            "junit",
            "--report-dir",
        ])
        .arg(&report_dir)
        .args(["-H", &format!("Authorization: Bearer {jwt}")]);
    println!(
        "running: st run {url}/openapi.json --checks not_a_server_error,response_schema_conformance \
         --max-examples {max_examples} --max-time {max_seconds} -H 'Authorization: Bearer <jwt>'"
    );
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run `st` (pip install schemathesis): {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(max_seconds + 60);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                return Err(format!(
                    "schemathesis found failures ({status}); report in {}",
                    report_dir.display()
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

#[cfg(test)]
mod tests {
    use super::parse_args;

    fn check(args: &[&str], expected: Result<(u32, u64), ()>) {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(parse_args(&args).map_err(drop), expected, "{args:?}");
    }

    #[test]
    fn arguments() {
        check(&[], Ok((25, 60)));
        check(&["--max-examples", "5"], Ok((5, 60)));
        check(&["--max-seconds", "30", "--max-examples", "7"], Ok((7, 30)));
        check(&["--max-examples", "0"], Err(()));
        check(&["--max-examples"], Err(()));
        check(&["--fast"], Err(()));
    }
}
