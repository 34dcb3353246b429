//! `cargo xtask`: the workspace's chores, in Rust so they run wherever cargo does.
//!
//! **What it is:** the one test command (`cargo xtask ci`), the demo, and release chores.
//! **What it is not:** a library; no crate depends on it.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod ci;
mod layering;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task> [args]

tasks:
  ci      format check, clippy (-D warnings) and the whole test suite; the one test command
  demo    run the relay and the Socless endpoint end to end on local stand-ins
  help    this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = match args.split_first() {
        Some((task, rest)) => (task.as_str(), rest),
        None => ("help", &[][..]),
    };
    let result = match task {
        "ci" => ci::run(rest),
        "demo" => demo(rest),
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

fn demo(_args: &[String]) -> Result<(), String> {
    println!(
        "cargo xtask demo will: start a local Auth0 Signals stand-in on 127.0.0.1, start \
         relay-server against it with a fresh SECRET_KEY, mint a JWT, call health, deliberate, \
         observe and refer, then run the Socless tutorial endpoint on the embedded local store.\n\
         It is not implemented yet (see the operator-tooling issue)."
    );
    Ok(())
}
