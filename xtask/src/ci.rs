//! `cargo xtask ci`: every check CI runs, in order, with one summary at the end.

use std::ffi::OsStr;
use std::time::{Duration, Instant};

use crate::tools::{Tool, ensure};

/// One step's outcome, for the summary.
struct StepResult {
    name: &'static str,
    outcome: Result<String, String>,
    elapsed: Duration,
}

/// The cargo features users choose from: every combination builds (cargo-hack; resolver 3 keeps
/// dev-dependencies' features out of a plain `check`, so none hides a missing feature),
/// relay-core's tests pass without its Auth0 Signals half, and the socless-events tests pass on
/// each backend alone and on none (the default set runs in the test step).
const FEATURES: &[&str] = &[
    "hack check --feature-powerset -p socless-events -p xdr-relay-core -p xdr-relay-server -p xdr-relay-lambda",
    // The SDK alone (no Auth0 Signals half): its unit, integration and doc tests.
    "test -p xdr-relay-core --no-default-features",
    "test -p socless-events --no-default-features",
    "test -p socless-events --no-default-features --features local",
    "test -p socless-events --no-default-features --features aws",
];

pub(crate) fn run() -> Result<(), String> {
    let started = Instant::now();
    let mut results = vec![
        in_process(
            "standalone",
            "no tracked file reaches outside the repository; test data documented",
            crate::standalone::check,
        ),
        in_process("layering", "cargo metadata against ARCHITECTURE.md", || {
            crate::layering::check().map(|members| format!("{members} members, every edge allowed"))
        }),
        in_process("schemas", "checked-in CTIM schemas are fresh", || {
            let out = crate::workspace_root()?
                .join("schemas")
                .to_string_lossy()
                .into_owned();
            let args = crate::task_args(&["--out", &out, "--check"])?;
            crate::schema::run(&args).map(|()| "schemas/ matches ctim-model".to_owned())
        }),
        cargo_steps("fmt", &["fmt --all --check"], None),
        cargo_steps(
            "clippy",
            &["clippy --workspace --all-targets -- -D warnings"],
            None,
        ),
    ];
    let mut totals = TestTotals::default();
    let tools = ensure(&Tool::ALL);
    let outcome = match &tools {
        Ok(tools) => Ok(tools.summary.clone()),
        Err(e) => Err(format!("{e}; the test suite was not run")),
    };
    let elapsed = Duration::ZERO;
    results.push(StepResult {
        name: "tools",
        outcome,
        elapsed,
    });
    if let Ok(tools) = &tools {
        results.extend(with_tools(&tools.path, &mut totals));
    }
    println!("\n== xtask ci summary ==");
    for r in &results {
        let (mark, detail) = match &r.outcome {
            Ok(found) => ("ok  ", found),
            Err(e) => ("FAIL", e),
        };
        println!(
            "{mark} {:<8} {:>7.1}s  {detail}",
            r.name,
            r.elapsed.as_secs_f64()
        );
    }
    let TestTotals {
        passed,
        failed,
        ignored,
    } = totals;
    let total = started.elapsed().as_secs_f64();
    println!("total {total:.1}s; tests: {passed} passed, {failed} failed, {ignored} ignored");
    let failed_steps: Vec<_> = results
        .iter()
        .filter(|r| r.outcome.is_err())
        .map(|r| r.name)
        .collect();
    if failed_steps.is_empty() {
        println!("{passed} passed, {failed} failed");
        Ok(())
    } else {
        Err(format!("failed steps: {}", failed_steps.join(", ")))
    }
}

/// The steps that need the tools' PATH (`path`), in order.
fn with_tools(path: &OsStr, totals: &mut TestTotals) -> Vec<StepResult> {
    vec![
        in_process(
            "test",
            "cargo llvm-cov --workspace (every unit and integration test, instrumented; line \
             coverage floors), then cargo test --workspace --doc",
            || test_step(totals, path),
        ),
        in_process(
            "lambda",
            "release zips for provided.al2023 (the relays' and the Socless endpoint's), glibc <= 2.34",
            crate::lambda::ci_check,
        ),
        in_process(
            "endpoint",
            "socless-events' README first endpoint, a crate of its own, under cargo lambda watch",
            || crate::first_endpoint::run(&crate::first_endpoint::Args {}).map(|()| String::new()),
        ),
        in_process(
            "demo",
            "cargo xtask demo: the relay suite with every relay on its stand-in, then the Socless endpoint, within 120 s",
            || {
                crate::demo::run(&crate::task_args(&[])?)
                    .map(|()| "every relay answered through its mount; the Socless endpoint recorded the alert".to_owned())
            },
        ),
        in_process(
            "image",
            "the relay-server, abuseipdb-relay, otx-relay, urlscan-relay and xdr-relays images (buildah), run: /version, /watchdog, /health",
            crate::image::ci_check,
        ),
        in_process(
            "cfn-lint",
            "cfn-lint deploy/relay/template.yaml deploy/suite/template.yaml",
            || {
                let mut lint = std::process::Command::new("cfn-lint");
                lint.args(["deploy/relay/template.yaml", "deploy/suite/template.yaml"])
                    .current_dir(crate::workspace_root()?);
                crate::procs::status(lint.env("PATH", path)).map(|()| String::new())
            },
        ),
        in_process("deny", "cargo deny check licenses bans sources", || {
            println!(
                "deny: advisories skipped: the RustSec database needs the network, which CI \
                 lacks; run `cargo deny check advisories` before a release (SECURITY.md)"
            );
            let deny = ["deny", "check", "licenses", "bans", "sources"];
            crate::procs::cargo(&deny, Some(path)).map(|()| String::new())
        }),
        in_process(
            "package",
            "cargo package --no-verify, then each package checked from its own files",
            crate::package::check,
        ),
        cargo_steps("features", FEATURES, Some(path)),
        in_process(
            "msrv",
            "the workspace's rust-version builds it",
            crate::msrv::check,
        ),
        in_process(
            "fuzz-api",
            "Schemathesis against relay-server, 60 s",
            || {
                crate::fuzz_api::run(&crate::task_args(&[])?)
                    .map(|()| "no 5xx, answers conform to openapi.json".to_owned())
            },
        ),
        in_process("soak", "20 s of mixed traffic against relay-server", || {
            crate::soak::run(&crate::task_args(&["--seconds", "20"])?)
                .map(|()| "no 5xx, no panic, RSS growth within 4 MiB".to_owned())
        }),
    ]
}

/// A step xtask runs itself; `check` says what it found or why it failed.
fn in_process(
    name: &'static str,
    what: &str,
    check: impl FnOnce() -> Result<String, String>,
) -> StepResult {
    println!("\n== {name}: {what} ==");
    let started = Instant::now();
    let outcome = check();
    StepResult {
        name,
        outcome,
        elapsed: started.elapsed(),
    }
}

/// Cargo commands (space-separated words) in turn, stopping at the first that fails, with the
/// tools' PATH when given so that cargo finds `cargo-deny` and `cargo-hack`.
fn cargo_steps(name: &'static str, commands: &[&str], path: Option<&OsStr>) -> StepResult {
    let mut first = true;
    in_process(
        name,
        &format!("cargo {}", commands.first().copied().unwrap_or_default()),
        || {
            for command in commands {
                if !std::mem::take(&mut first) {
                    println!("\n== {name}: cargo {command} ==");
                }
                crate::procs::cargo(&command.split(' ').collect::<Vec<_>>(), path)?;
            }
            Ok(String::new())
        },
    )
}

/// Runs every test once: unit and integration tests under `cargo llvm-cov` (one instrumented
/// build serves both the suite and the coverage floors), then the doc tests, which stable
/// llvm-cov cannot measure; output is echoed and results counted. Both parts run even when the
/// first fails.
fn test_step(totals: &mut TestTotals, path: &OsStr) -> Result<String, String> {
    let coverage = crate::coverage::run(path, &mut |line| totals.add_line(line));
    println!("\n== test: cargo test --workspace --doc ==");
    let doc = ["test", "--workspace", "--doc", "--no-fail-fast"];
    let doc = crate::procs::cargo_lines(&doc, Some(path), &mut |line| totals.add_line(line));
    let counted = format!("{} passed, {} ignored", totals.passed, totals.ignored);
    match (coverage, doc) {
        (Ok(figures), Ok(())) if totals.failed == 0 => Ok(format!("{counted}; {figures}")),
        (coverage, doc) => {
            let errors = [coverage.err(), doc.err()].into_iter().flatten();
            let errors: Vec<String> = errors.collect();
            Err(format!("{} failed; {}", totals.failed, errors.join("; ")))
        }
    }
}

/// Totals parsed from `cargo test`'s `test result:` lines.
#[derive(Default, Debug, PartialEq, Eq)]
struct TestTotals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl TestTotals {
    /// Adds one `test result: ok. 3 passed; 0 failed; 1 ignored; ...` line; other lines are ignored.
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(label), Some(Ok(count))) =
                (words.next(), words.next().map(str::parse::<u64>))
            else {
                continue;
            };
            match label {
                "passed" => self.passed += count,
                "failed" => self.failed += count,
                "ignored" => self.ignored += count,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TestTotals;

    fn check(lines: &[&str], expected: (u64, u64, u64)) {
        let mut totals = TestTotals::default();
        lines.iter().for_each(|line| totals.add_line(line));
        assert_eq!(
            (totals.passed, totals.failed, totals.ignored),
            expected,
            "{lines:?}"
        );
    }

    #[test]
    fn counts_test_result_lines() {
        let ok = "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s";
        check(&[ok], (3, 0, 1));
        let failed =
            "test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out";
        check(&[ok, failed], (4, 2, 1));
    }

    #[test]
    fn ignores_other_lines() {
        check(&["running 3 tests", "test foo ... ok", ""], (0, 0, 0));
    }
}
