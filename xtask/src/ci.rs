//! `cargo xtask ci`: every check CI runs, in order, with one summary at the end.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One step's outcome, for the summary.
struct StepResult {
    name: &'static str,
    ok: bool,
    elapsed: Duration,
    detail: String,
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
            let (Some(label), Some(count)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(count) = count.parse::<u64>() else {
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

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        return Err(format!("`ci` takes no arguments (got `{arg}`)"));
    }
    let started = Instant::now();
    let mut results = Vec::new();

    results.push(in_process(
        "standalone",
        "no tracked file reaches outside the repository; test data documented",
        crate::standalone::check,
    ));
    results.push(in_process(
        "layering",
        "cargo metadata against ARCHITECTURE.md",
        || crate::layering::check().map(|()| "7 members, every edge allowed".to_owned()),
    ));
    results.push(in_process(
        "schemas",
        "checked-in CTIM schemas are fresh",
        || {
            let out = crate::workspace_root()?.join("schemas");
            let out = out.to_string_lossy().into_owned();
            crate::schema::run(&["--out".to_owned(), out, "--check".to_owned()])
                .map(|()| "schemas/ matches ctim-model".to_owned())
        },
    ));
    results.push(step("fmt", &["fmt", "--all", "--check"]));
    results.push(step(
        "clippy",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    ));
    let mut totals = TestTotals::default();
    match crate::tools::ensure(&crate::tools::Tool::ALL) {
        Ok(tools) => {
            results.push(StepResult {
                name: "tools",
                ok: true,
                elapsed: Duration::ZERO,
                detail: tools.summary,
            });
            results.push(test_step(&mut totals, &tools.path));
            results.push(in_process(
                "lambda",
                "release zips for provided.al2023, glibc <= 2.34",
                crate::lambda::ci_check,
            ));
            results.push(command_step(
                "cfn-lint",
                "cfn-lint",
                &["deploy/relay/template.yaml"],
                &tools.path,
            ));
            results.push(steps(
                "deny",
                &[&["deny", "check", "licenses", "bans", "sources"]],
                Some(&tools.path),
            ));
            println!(
                "deny: advisories skipped: the RustSec database needs the network, which CI \
                 lacks; run `cargo deny check advisories` before a release (SECURITY.md)"
            );
            results.push(steps("package", PACKAGE, None));
            results.push(steps("features", FEATURES, Some(&tools.path)));
            results.push(in_process(
                "msrv",
                "the workspace's rust-version builds it",
                crate::msrv::check,
            ));
            results.push(in_process(
                "fuzz-api",
                "Schemathesis against relay-server, 60 s",
                || {
                    crate::fuzz_api::run(&[])
                        .map(|()| "no 5xx, answers conform to openapi.json".to_owned())
                },
            ));
            results.push(in_process(
                "soak",
                "20 s of mixed traffic against relay-server",
                || {
                    crate::soak::run(&["--seconds".to_owned(), "20".to_owned()])
                        .map(|()| "no 5xx, no panic, RSS growth within 4 MiB".to_owned())
                },
            ));
        }
        Err(e) => results.push(StepResult {
            name: "tools",
            ok: false,
            elapsed: Duration::ZERO,
            detail: format!("{e}; the test suite was not run"),
        }),
    }

    println!("\n== xtask ci summary ==");
    for r in &results {
        let mark = if r.ok { "ok  " } else { "FAIL" };
        println!(
            "{mark} {:<8} {:>7.1}s  {}",
            r.name,
            r.elapsed.as_secs_f64(),
            r.detail
        );
    }
    println!(
        "total {:.1}s; tests: {} passed, {} failed, {} ignored",
        started.elapsed().as_secs_f64(),
        totals.passed,
        totals.failed,
        totals.ignored
    );
    let failed: Vec<_> = results.iter().filter(|r| !r.ok).map(|r| r.name).collect();
    if failed.is_empty() {
        println!("{} passed, {} failed", totals.passed, totals.failed);
        Ok(())
    } else {
        Err(format!("failed steps: {}", failed.join(", ")))
    }
}

/// Every crate meant for crates.io packs and builds from its package alone (`xtask` is
/// `publish = false`). `--allow-dirty`: what is checked is the content, not the git state.
const PACKAGE: &[&[&str]] = &[&[
    "package",
    "--workspace",
    "--exclude",
    "xtask",
    "--allow-dirty",
]];

/// The cargo features users choose from: every combination builds (cargo-hack; resolver 3 keeps
/// dev-dependencies' features out of a plain `check`, so none hides a missing feature), and the
/// socless-events tests pass on each backend alone and on none (the default set runs in the
/// test step).
const FEATURES: &[&[&str]] = &[
    &[
        "hack",
        "check",
        "--feature-powerset",
        "-p",
        "socless-events",
        "-p",
        "xdr-relay-server",
    ],
    &["test", "-p", "socless-events", "--no-default-features"],
    &[
        "test",
        "-p",
        "socless-events",
        "--no-default-features",
        "--features",
        "local",
    ],
    &[
        "test",
        "-p",
        "socless-events",
        "--no-default-features",
        "--features",
        "aws",
    ],
];

/// A check xtask runs itself; `check` says what it found or why it failed.
fn in_process(
    name: &'static str,
    what: &str,
    check: impl FnOnce() -> Result<String, String>,
) -> StepResult {
    println!("\n== {name}: {what} ==");
    let started = Instant::now();
    let (ok, detail) = match check() {
        Ok(found) => (true, found),
        Err(e) => (false, e),
    };
    StepResult {
        name,
        ok,
        elapsed: started.elapsed(),
        detail,
    }
}

/// Runs an external tool from the workspace root with the tools' PATH.
fn command_step(
    name: &'static str,
    program: &str,
    args: &[&str],
    path: &std::ffi::OsStr,
) -> StepResult {
    println!("\n== {name}: {program} {} ==", args.join(" "));
    let started = Instant::now();
    let root = crate::workspace_root();
    let status = root.and_then(|root| {
        Command::new(program)
            .args(args)
            .current_dir(root)
            .env("PATH", path)
            .status()
            .map_err(|e| format!("could not start {program}: {e}"))
    });
    let (ok, detail) = match status {
        Ok(s) if s.success() => (true, String::new()),
        Ok(s) => (false, format!("exited with {s}")),
        Err(e) => (false, e),
    };
    StepResult {
        name,
        ok,
        elapsed: started.elapsed(),
        detail,
    }
}

fn cargo() -> Command {
    crate::cargo_command()
}

fn step(name: &'static str, args: &[&str]) -> StepResult {
    steps(name, &[args], None)
}

/// Runs cargo commands in turn (stopping at the first that fails), with the tools' PATH when
/// given so that cargo finds `cargo-deny` and `cargo-hack`.
fn steps(name: &'static str, commands: &[&[&str]], path: Option<&std::ffi::OsStr>) -> StepResult {
    let started = Instant::now();
    let outcome = commands.iter().try_for_each(|args| {
        println!("\n== {name}: cargo {} ==", args.join(" "));
        crate::procs::cargo_with(args, path)
    });
    StepResult {
        name,
        ok: outcome.is_ok(),
        elapsed: started.elapsed(),
        detail: outcome.err().unwrap_or_default(),
    }
}

/// Runs unit, integration and doc tests of every crate, echoing output and counting results.
fn test_step(totals: &mut TestTotals, path: &std::ffi::OsStr) -> StepResult {
    let args = ["test", "--workspace", "--no-fail-fast"];
    println!("\n== test: cargo {} ==", args.join(" "));
    let started = Instant::now();
    let child = cargo()
        .args(args)
        .env("PATH", path)
        .stdout(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return StepResult {
                name: "test",
                ok: false,
                elapsed: started.elapsed(),
                detail: format!("could not start cargo: {e}"),
            };
        }
    };
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            totals.add_line(&line);
        }
    }
    let (ok, detail) = match child.wait() {
        Ok(s) if s.success() && totals.failed == 0 => (
            true,
            format!("{} passed, {} ignored", totals.passed, totals.ignored),
        ),
        Ok(s) => (false, format!("{} failed ({s})", totals.failed)),
        Err(e) => (false, format!("could not wait for cargo: {e}")),
    };
    StepResult {
        name: "test",
        ok,
        elapsed: started.elapsed(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::TestTotals;

    fn check(lines: &[&str], expected: (u64, u64, u64)) {
        let mut totals = TestTotals::default();
        for line in lines {
            totals.add_line(line);
        }
        assert_eq!(
            (totals.passed, totals.failed, totals.ignored),
            expected,
            "{lines:?}"
        );
    }

    #[test]
    fn counts_test_result_lines() {
        check(
            &[
                "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s",
            ],
            (3, 0, 1),
        );
        check(
            &[
                "test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out",
                "test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out",
            ],
            (4, 2, 0),
        );
    }

    #[test]
    fn ignores_other_lines() {
        check(&["running 3 tests", "test foo ... ok", ""], (0, 0, 0));
    }
}
