//! The `testkit` binary (the `testkit` member), which holds what xtask's tasks need that
//! serves or loads HTTP: the Signals stand-in, the load driver, the soak, the demo's calls, the
//! API fuzzing's relay and the image's checks. xtask builds it (and the binaries it runs) and
//! runs `testkit <command> ...`, so that xtask itself needs no async runtime or HTTP client.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Builds the `testkit` binary (in release when asked); its path.
pub(crate) fn build(release: bool) -> Result<PathBuf, String> {
    Ok(crate::procs::build(release, &["-p", "testkit", "--bin", "testkit"])?.join("testkit"))
}

/// Runs `testkit` with `args`, its output shown as it comes; returns the last line it printed
/// on standard output. When it fails, the error is what its `testkit: <why>` line said.
pub(crate) fn run<S: AsRef<OsStr>>(program: &Path, args: &[S]) -> Result<String, String> {
    run_command(Command::new(program), program, args)
}

/// [`run`] with `path` as the command's `PATH` (the tools' environment first).
pub(crate) fn run_with_path<S: AsRef<OsStr>>(
    program: &Path,
    args: &[S],
    path: &OsStr,
) -> Result<String, String> {
    let mut command = Command::new(program);
    command.env("PATH", path);
    run_command(command, program, args)
}

fn run_command<S: AsRef<OsStr>>(
    mut command: Command,
    program: &Path,
    args: &[S],
) -> Result<String, String> {
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let shown = match args.first() {
        Some(first) => format!("testkit {}", first.as_ref().to_string_lossy()),
        None => "testkit".to_owned(),
    };
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let stderr = child.stderr.take().map(BufReader::new);
    let errors = std::thread::spawn(move || {
        let mut why = None;
        for line in stderr.into_iter().flat_map(BufRead::lines) {
            let Ok(line) = line else { break };
            eprintln!("{line}");
            if let Some(message) = line.strip_prefix("testkit: ") {
                why = Some(message.to_owned());
            }
        }
        why
    });
    let mut last = String::new();
    let stdout = child.stdout.take().map(BufReader::new);
    for line in stdout.into_iter().flat_map(BufRead::lines) {
        let Ok(line) = line else { break };
        println!("{line}");
        if !line.trim().is_empty() {
            last = line;
        }
    }
    let status = child.wait();
    let why = errors.join().ok().flatten();
    match status {
        Ok(status) if status.success() => Ok(last),
        Ok(status) => Err(why.unwrap_or_else(|| format!("`{shown}` failed ({status})"))),
        Err(e) => Err(format!("cannot wait for `{shown}`: {e}")),
    }
}
