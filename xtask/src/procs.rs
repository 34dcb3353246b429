//! Child processes, one way for every task: cargo, builds, one-shot commands. Servers (the
//! relay, the stand-ins) are `testkit`'s (`testkit::relay`), which the tasks run through
//! [`crate::testkit`].

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Runs cargo with `args` (output shown), with `path` as PATH when given (so cargo finds the
/// tools' commands); fails when cargo fails.
pub(crate) fn cargo(args: &[&str], path: Option<&OsStr>) -> Result<(), String> {
    cargo_with(args, path, &[])
}

/// [`cargo`] with environment variables added (a [`Release`] profile's overrides).
pub(crate) fn cargo_with(
    args: &[&str],
    path: Option<&OsStr>,
    env: &[(&str, &str)],
) -> Result<(), String> {
    let mut command = crate::cargo_command();
    command.args(args).envs(env.iter().copied());
    if let Some(path) = path {
        command.env("PATH", path);
    }
    status(&mut command)
}

/// Runs cargo with `args` and `path` as PATH when given, echoing its standard output line by
/// line and handing each line to `on_line` (standard error is shown as it comes); fails when
/// cargo fails.
pub(crate) fn cargo_lines(
    args: &[&str],
    path: Option<&OsStr>,
    on_line: &mut dyn FnMut(&str),
) -> Result<(), String> {
    let mut command = crate::cargo_command();
    command.args(args).stdout(Stdio::piped());
    if let Some(path) = path {
        command.env("PATH", path);
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run `{command:?}`: {e}"))?;
    let lines = child.stdout.take().map(BufReader::new);
    for line in lines.into_iter().flat_map(BufRead::lines) {
        let line = line.map_err(|e| format!("cannot read the output of `{command:?}`: {e}"))?;
        println!("{line}");
        on_line(&line);
    }
    match child.wait() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("`{command:?}` failed ({status})")),
        Err(e) => Err(format!("cannot wait for `{command:?}`: {e}")),
    }
}

/// Which release build a task makes of the binaries it packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Release {
    /// The workspace's release profile (fat LTO, one codegen unit): what users build and ship.
    Shipped,
    /// CI's build of binaries it only inspects and runs (the Lambda zips' layout and glibc
    /// floor, the image's static binary and its answers): the release profile unoptimised
    /// (`opt-level = 0`, no LTO, 16 codegen units). Optimised, with fat LTO, those builds took 22
    /// minutes of a cold CI run on two cores, 16 without LTO; nothing CI checks of them depends
    /// on how they were optimised.
    Ci,
}

impl Release {
    /// The `CARGO_PROFILE_RELEASE_*` overrides this build sets on cargo.
    pub(crate) fn env(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Release::Shipped => &[],
            Release::Ci => &[
                ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0"),
                ("CARGO_PROFILE_RELEASE_LTO", "false"),
                ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
            ],
        }
    }
}

/// Runs a command with inherited output; fails when it cannot start or fails.
pub(crate) fn status(command: &mut Command) -> Result<(), String> {
    match command.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("`{command:?}` failed ({status})")),
        Err(e) => Err(format!("cannot run `{command:?}`: {e}")),
    }
}

/// Builds the cargo targets `targets` names (`-p PKG --bin NAME ...`), in release when asked;
/// returns the folder the binaries are in.
pub(crate) fn build(release: bool, targets: &[&str]) -> Result<PathBuf, String> {
    let mut args = vec!["build", "--quiet"];
    if release {
        args.push("--release");
    }
    args.extend(targets);
    cargo(&args, None)?;
    Ok(crate::target_dir()?.join(if release { "release" } else { "debug" }))
}

/// Runs a command to completion and returns its stdout; its stderr becomes the error.
pub(crate) fn output(command: &mut Command) -> Result<String, String> {
    let name = command.get_program().to_string_lossy().into_owned();
    let out = command
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run {name}: {e}"))?;
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim_end().to_owned();
    if out.status.success() {
        Ok(text(&out.stdout))
    } else {
        Err(format!(
            "{name} failed ({}): {}",
            out.status,
            text(&out.stderr)
        ))
    }
}
