//! `cargo xtask`: the workspace's chores, in Rust so they run wherever cargo does.
//!
//! **What it is:** the one test command (`cargo xtask ci`), the demo, and release chores.
//! **What it is not:** a library; no crate depends on it.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod ci;
mod demo;
#[cfg(test)]
mod deploy;
mod fuzz_api;
mod lambda;
mod layering;
mod msrv;
mod procs;
mod relay_proc;
mod schema;
mod soak;
mod standalone;
mod stub;
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <task> [args]

tasks:
  ci        every check CI runs; the one test command
  demo      the relay and the Socless endpoint end to end on local stand-ins [--json]
  bench     load, RSS and start-up figures; `bench stub`, `bench load`, `bench socless`
  lambda    the Lambda zips for provided.al2023, glibc checked [--arm64]
  schema    write the CTIM JSON Schemas: schema --out DIR [--check]
  fuzz-api  Schemathesis against relay-server + stub [--max-examples N] [--max-seconds N]
  soak      mixed traffic against relay-server + stub; no 5xx, no panic, RSS bound [--seconds N]
  help      this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = match args.split_first() {
        Some((task, rest)) => (task.as_str(), rest),
        None => ("help", &[][..]),
    };
    let result = match task {
        "ci" => ci::run(rest),
        "bench" => bench::run(rest),
        "demo" => demo::run(rest),
        "fuzz-api" => fuzz_api::run(rest),
        "lambda" => lambda::run(rest),
        "schema" => schema::run(rest),
        "soak" => soak::run(rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown task `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo`, as the one running xtask (so `cargo +toolchain xtask` stays on that toolchain).
pub(crate) fn cargo_command() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// The workspace root (where the top Cargo.toml is).
pub(crate) fn workspace_root() -> Result<PathBuf, String> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| "xtask has no parent folder".into())
}

/// Where cargo puts build output: `CARGO_TARGET_DIR` when set, else `<root>/target`.
pub(crate) fn target_dir() -> Result<PathBuf, String> {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                Ok(dir)
            } else {
                Ok(workspace_root()?.join(dir))
            }
        }
        _ => Ok(workspace_root()?.join("target")),
    }
}
