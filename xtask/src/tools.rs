//! The non-Rust tools the test suite starts (moto, ...): found on PATH, or installed with pip.
//!
//! They are listed, pinned, in `.ci/requirements.txt`; `cargo xtask ci` installs them when one
//! is missing so that the README's test command works on a fresh machine.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

/// Commands the suites run, each provided by a package in `.ci/requirements.txt`.
const REQUIRED: &[&str] = &["moto_server", "st", "cfn-lint", "cargo-lambda"];

/// What the tools step found: a summary line, and the PATH the test run must use.
#[derive(Debug)]
pub(crate) struct Tools {
    pub(crate) summary: String,
    /// The caller's PATH with Python's scripts folder first, so a command pip just installed
    /// is found even where no shell shim exists for it yet.
    pub(crate) path: OsString,
}

/// Makes sure every required command runs.
pub(crate) fn ensure() -> Result<Tools, String> {
    let scripts = python_scripts_dir()?;
    let path = path_with(&scripts)?;
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|c| !on_path(c, &path))
        .collect();
    if missing.is_empty() {
        return Ok(Tools {
            summary: format!("found {}", REQUIRED.join(", ")),
            path,
        });
    }
    let requirements = crate::workspace_root()?.join(".ci/requirements.txt");
    println!(
        "installing {} with pip (-r {})",
        missing.join(", "),
        requirements.display()
    );
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements)
        .status()
        .map_err(|e| format!("cannot run python3 -m pip: {e}"))?;
    if !status.success() {
        return Err(format!(
            "pip install -r {} failed ({status})",
            requirements.display()
        ));
    }
    let still: Vec<&str> = missing
        .iter()
        .copied()
        .filter(|c| !on_path(c, &path))
        .collect();
    if still.is_empty() {
        Ok(Tools {
            summary: format!("installed {}", missing.join(", ")),
            path,
        })
    } else {
        Err(format!(
            "still not on PATH after pip install: {}",
            still.join(", ")
        ))
    }
}

fn python_scripts_dir() -> Result<PathBuf, String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .map_err(|e| format!("python3 is needed for the test services: {e}"))?;
    if !out.status.success() {
        return Err("python3 could not name its scripts folder".into());
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// This process's PATH with `dir` first.
fn path_with(dir: &PathBuf) -> Result<OsString, String> {
    let old = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![dir.clone()];
    dirs.extend(std::env::split_paths(&old).filter(|d| d != dir));
    std::env::join_paths(dirs).map_err(|e| format!("cannot build PATH: {e}"))
}

fn on_path(command: &str, path: &OsString) -> bool {
    std::env::split_paths(path).any(|d| d.join(command).is_file())
}
