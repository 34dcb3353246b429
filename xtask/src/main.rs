//! `cargo xtask`: the workspace's chores, in Rust so they run wherever cargo does.
//!
//! **What it is:** the one test command (`cargo xtask ci`), the demo, and release chores: an
//! orchestrator that runs cargo, tools and binaries.
//! **What it is not:** a library; no crate depends on it. Nor an HTTP client or server: what
//! serves or loads HTTP (the Signals stand-in, the load driver, the soak, the demo's calls, the
//! image's checks) is the `testkit` binary's, which the tasks build and run (`testkit.rs`), so
//! xtask has no async runtime. A new task is one variant of [`Task`] and one module with
//! `Args` and `run`.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod ci;
mod coverage;
mod demo;
mod first_endpoint;
mod fuzz_api;
mod image;
mod lambda;
mod layering;
mod msrv;
mod package;
mod procs;
mod schema;
mod soak;
mod standalone;
mod testkit;
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "The workspace's chores: tests, demo, bench, release"
)]
struct Cli {
    #[command(subcommand)]
    task: Option<Task>,
}

#[derive(Subcommand, Debug)]
enum Task {
    /// Every check CI runs; the one test command.
    Ci,
    /// The relay and the Socless endpoint end to end on local stand-ins.
    Demo(demo::Args),
    /// socless-events' README first endpoint, as a crate of its own, under `cargo lambda watch`.
    FirstEndpoint(first_endpoint::Args),
    /// Load, RSS and start-up figures of the relay; `bench load`, `bench socless`, ...
    Bench(bench::Args),
    /// The Lambda zips for provided.al2023, glibc checked.
    Lambda(lambda::Args),
    /// The relay-server container image (static musl binary on scratch); prints its size.
    Image(image::Args),
    /// Write (or check) the CTIM JSON Schemas.
    Schema(schema::Args),
    /// Schemathesis against relay-server and the Signals stand-in.
    FuzzApi(fuzz_api::Args),
    /// Mixed traffic against relay-server: no 5xx, no panic, RSS bound.
    Soak(soak::Args),
    /// Every unit and integration test under cargo llvm-cov: line coverage per crate, floors
    /// for library crates.
    Coverage,
}

fn main() -> ExitCode {
    let result = match Cli::parse().task {
        None => Cli::command().print_help().map_err(|e| e.to_string()),
        Some(Task::Ci) => ci::run(),
        Some(Task::Demo(args)) => demo::run(&args),
        Some(Task::FirstEndpoint(args)) => first_endpoint::run(&args),
        Some(Task::Bench(args)) => bench::run(args),
        Some(Task::Lambda(args)) => lambda::run(&args),
        Some(Task::Image(args)) => image::run(&args),
        Some(Task::Schema(args)) => schema::run(&args),
        Some(Task::FuzzApi(args)) => fuzz_api::run(&args),
        Some(Task::Soak(args)) => soak::run(&args),
        Some(Task::Coverage) => coverage::task(),
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
    let root = workspace_root()?;
    Ok(match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    })
}

/// A task's arguments from words, as `cargo xtask <task> <args>` would parse them (for `ci`,
/// which runs other tasks, and for tests).
pub(crate) fn task_args<A: clap::Args + clap::FromArgMatches>(args: &[&str]) -> Result<A, String> {
    let command = A::augment_args(clap::Command::new("xtask"));
    let matches = command
        .try_get_matches_from(std::iter::once("xtask").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    A::from_arg_matches(&matches).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
