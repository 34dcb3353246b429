//! The self-hosted server of a Cisco Threat Response / XDR relay: the whole command of any
//! relay built on [`xdr_relay_core`], in one call, [`main_for`].
//!
//! **What it is:** the command line of a relay ([`main_for`] of an [`App`]): `serve` (the
//! default) reads settings from flags and the environment (the relay's, the provider's and
//! the server's own, each listed in `--help`), sets up logging (text or JSON), metrics
//! (Prometheus, on a listener of their own) and the panic hook, and serves the relay's router
//! on tokio until SIGINT or SIGTERM, letting requests in flight finish; `jwt` makes the
//! `SECRET_KEY` / JWT pair from exactly the provider's credential fields; `module-type` prints
//! the module type to register in XDR; `healthcheck` asks a running relay's `/watchdog` (the
//! container image's health check). The `relay-server` command is `main_for` of the Auth0
//! Signals relay.
//! **What it is not:** relay logic. Routes, tokens, limits, the envelope and every provider's
//! rules live in `xdr-relay-core` and the provider's crate.
//!
//! A relay's whole `main`:
//!
//! ```no_run
//! # use xdr_relay_core::{App, Auth0Signals};
//! # fn my_relay() -> App<Auth0Signals> { Auth0Signals::app() }
//! fn main() -> std::process::ExitCode {
//!     xdr_relay_server::main_for(my_relay())
//! }
//! ```
//!
//! # Cargo features
//!
//! - `mimalloc` (on by default): the process allocates with mimalloc. A request's memory is
//!   often freed by another thread than the one that allocated it; under concurrent load glibc
//!   malloc's arena locks then cost more than the relay's own JSON work, which mimalloc's
//!   per-thread heaps avoid (`cargo xtask bench` measures the difference). It is built without
//!   transparent huge pages, which raise resident memory with many connections open. Turn the
//!   feature off to use the system allocator or to declare your own `#[global_allocator]`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// A panicking request is answered 500 and the server goes on (relay-core's router catches the
// unwind); with `panic = "abort"` one panic would end every request in flight.
#[cfg(not(panic = "unwind"))]
compile_error!(
    "xdr-relay-server must be built with panic = \"unwind\" (the release profile's default)"
);

mod healthcheck;
mod http;
mod jwt;
mod logging;
mod metrics;
mod module_type;
mod secrets;
mod server;
mod settings;

use std::io::IsTerminal as _;
use std::process::ExitCode;

use xdr_relay_core::{App, Provider, Suite};

pub use http::{ACCEPT_ERRORS, CONNECTIONS_OPEN, CONNECTIONS_SATURATED, Limits, serve};
pub use settings::{
    BODY_READ_TIMEOUT, BODY_TIMEOUT, HEADER_READ_TIMEOUT, IDLE_TIMEOUT, LISTEN, LOG_FORMAT,
    MAX_CONNECTIONS, MAX_HEADER_BYTES, METRICS_LISTEN, SERVER_VARS, SHUTDOWN_GRACE,
};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs the command of the relay `app` with the process's arguments and environment, and
/// returns its exit status: 0 on success (after a graceful shutdown), 1 when the server fails,
/// 2 for a usage or setting error.
///
/// ```text
/// my-relay [serve] [--listen ADDRESS] [--log-format text|json] [--metrics-listen ADDRESS]
///                  [--secret-key-file FILE] [--auth-type MODE] ... [the provider's flags]
/// my-relay jwt [--field NAME=VALUE]... [--file creds.json] [--secret-key-file FILE] [--json|--quiet]
/// my-relay module-type --relay-url URL [--auth-type secret-key|jwks] [--jwks-host HOST]
/// my-relay healthcheck [--listen ADDRESS]
/// ```
///
/// The command's name in messages is the executable's file name.
pub fn main_for<P: Provider>(app: App<P>) -> ExitCode {
    let name = command_name();
    let matches = command(&name, &app).get_matches();
    match matches.subcommand() {
        Some(("jwt", args)) => report(&name, "jwt", jwt::run(&name, &app, args)),
        Some(("module-type", args)) => report(&name, "module-type", module_type::run(&app, args)),
        Some(("healthcheck", args)) => healthcheck::exit(&name, args),
        Some(("serve", args)) => serve_command(&name, app, args),
        _ => serve_command(&name, app, &matches),
    }
}

/// Runs the command of the relay suite `suite` (several relays in one server, each under
/// `/{name}/`: [`Suite`]) with the process's arguments and environment: the same subcommands,
/// flags and settings as [`main_for`] of one relay, and besides them `RELAYS` / `--relays`
/// (which relays to serve), `jwt --relay NAME` (the token of one relay) and a `module-type`
/// that prints a JSON array, one module type per relay at `RELAY_URL/{name}`.
///
/// ```no_run
/// # use xdr_relay_core::{Auth0Signals, Suite};
/// fn main() -> std::process::ExitCode {
///     let suite = Suite::new("1.0.0").relay("auth0-signals", Auth0Signals::app());
///     xdr_relay_server::main_for_suite(suite)
/// }
/// ```
pub fn main_for_suite(suite: Suite) -> ExitCode {
    let name = command_name();
    let matches = suite_command(&name, &suite).get_matches();
    match matches.subcommand() {
        Some(("jwt", args)) => report(&name, "jwt", jwt::suite_run(&name, &suite, args)),
        Some(("module-type", args)) => {
            report(&name, "module-type", module_type::suite_run(&suite, args))
        }
        Some(("healthcheck", args)) => healthcheck::exit(&name, args),
        Some(("serve", args)) => serve_suite(&name, &suite, args),
        _ => serve_suite(&name, &suite, &matches),
    }
}

/// The suite's command line, as [`command`]'s.
fn suite_command(name: &str, suite: &Suite) -> clap::Command {
    let vars = suite_vars(suite);
    let names: Vec<&str> = suite.members().iter().map(|m| m.name()).collect();
    let about = format!(
        "Several Threat Response / XDR relays in one server, each under /{{name}}/: {}.",
        names.join(", ")
    );
    let serve = settings::flags(
        clap::Command::new("serve").about("Serve the relays over HTTP (the default)."),
        &vars,
    );
    let top = clap::Command::new(name.to_owned())
        .version(suite.version().to_owned())
        .about(about)
        .args_conflicts_with_subcommands(true)
        .subcommand(serve)
        .subcommand(jwt::suite_command(suite, name))
        .subcommand(module_type::suite_command())
        .subcommand(healthcheck::command());
    settings::flags(top, &vars)
}

/// The suite's `serve`, as [`serve_command`].
fn serve_suite(name: &str, suite: &Suite, matches: &clap::ArgMatches) -> ExitCode {
    serve_with(name, &suite_vars(suite), matches, |settings| {
        server::run_suite(name, suite, settings)
    })
}

/// Every setting the suite's `serve` reads: the server's, then the suite's.
fn suite_vars(suite: &Suite) -> Vec<xdr_relay_core::EnvVar> {
    SERVER_VARS
        .iter()
        .copied()
        .chain(suite.env_vars())
        .collect()
}

/// The executable's file name, e.g. `relay-server`.
fn command_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|argv0| {
            std::path::Path::new(&argv0)
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "relay".to_owned())
}

/// Every setting `serve` reads: the server's, then the relay's and the provider's.
fn serve_vars<P: Provider>(app: &App<P>) -> impl Iterator<Item = &xdr_relay_core::EnvVar> {
    SERVER_VARS.iter().chain(app.env_vars())
}

/// The command line: `serve`'s flags at the top (serving is the default), and the
/// subcommands.
fn command<P: Provider>(name: &str, app: &App<P>) -> clap::Command {
    let info = app.info();
    let about = format!("The Threat Response / XDR relay for {}.", info.name);
    let serve = settings::flags(
        clap::Command::new("serve").about("Serve the relay over HTTP (the default)."),
        serve_vars(app),
    );
    let top = clap::Command::new(name.to_owned())
        .version(info.version.to_string())
        .about(about)
        .args_conflicts_with_subcommands(true)
        .subcommand(serve)
        .subcommand(jwt::command(app))
        .subcommand(module_type::command())
        .subcommand(healthcheck::command());
    settings::flags(top, serve_vars(app))
}

/// Writes a command's output (a token, a module type) on stdout. A reader that went away (`|
/// head`) is not an error of the command's; any other write failure is.
fn print_out(text: &str) -> Result<(), String> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write on stdout: {e}"))
        }
        _ => Ok(()),
    }
}

/// Prints a subcommand's failure on stderr: exit status 2.
fn report(name: &str, subcommand: &str, result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("{name} {subcommand}: {message}");
            }
            ExitCode::from(2)
        }
    }
}

/// `serve`: settings, logging, the panic hook, then the server.
fn serve_command<P: Provider>(name: &str, app: App<P>, matches: &clap::ArgMatches) -> ExitCode {
    let vars: Vec<xdr_relay_core::EnvVar> = serve_vars(&app).copied().collect();
    serve_with(name, &vars, matches, |settings| {
        server::run(name, &app, settings)
    })
}

/// `serve` of `vars` from `matches` and the environment: logging, the panic hook, then
/// `run` with the settings.
fn serve_with(
    name: &str,
    vars: &[xdr_relay_core::EnvVar],
    matches: &clap::ArgMatches,
    run: impl FnOnce(&xdr_relay_core::Settings<'_>) -> Result<(), String>,
) -> ExitCode {
    let env = |name: &str| std::env::var(name).ok();
    let args = match settings::ServeArgs::from_matches(name, matches, vars, env) {
        Ok(args) => args,
        Err(message) => return report_serve(name, &message),
    };
    let settings = args.settings(env);
    let format = match settings::log_format(&settings, std::io::stderr().is_terminal()) {
        Ok(format) => format,
        Err(message) => return report_serve(name, &message),
    };
    logging::init(format);
    xdr_relay_core::telemetry::log_panics();
    match run(&settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn report_serve(name: &str, message: &str) -> ExitCode {
    #[allow(clippy::print_stderr)]
    {
        eprintln!("{name}: {message}");
    }
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use xdr_relay_core::Auth0Signals;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        command("relay-server", &Auth0Signals::app()).debug_assert();
    }
}
