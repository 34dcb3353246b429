//! The binary's commands, one module each, and what they share: the async runtime and a
//! relay-server in front of the in-process Signals stand-in.

pub(crate) mod bench;
pub(crate) mod demo;
pub(crate) mod first_endpoint;
pub(crate) mod fuzz_api;
pub(crate) mod image;
pub(crate) mod soak;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use testkit::relay::{self, Server};
use testkit::signals;

/// A library error as this binary's error text (its causes included).
pub(crate) fn message(e: anyhow::Error) -> String {
    format!("{e:#}")
}

/// A multi-thread tokio runtime for the commands that serve or load HTTP.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Runs `task` until it ends or Ctrl-C, which drops it and so stops its child processes.
pub(crate) fn until_interrupted<T>(
    task: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    runtime()?.block_on(async {
        tokio::select! {
            result = task => result,
            _ = tokio::signal::ctrl_c() => Err("interrupted; every process started was stopped".into()),
        }
    })
}

/// A relay-server (from the folder `bin`, built by xtask) in front of the in-process Auth0
/// Signals stand-in (call it inside a tokio runtime, which serves the stand-in).
#[derive(Debug)]
pub(crate) struct LocalRelay {
    pub(crate) server: Server,
    /// Where relay-server (and the other binaries) are.
    pub(crate) bin: PathBuf,
    pub(crate) secret: String,
    /// A JWT the relay accepts, carrying the stand-in's API key.
    pub(crate) jwt: String,
}

impl LocalRelay {
    /// Starts the stand-in and the relay with `rust_log` and `env`.
    pub(crate) async fn start(
        bin: &Path,
        rust_log: &str,
        env: &[(&str, &str)],
    ) -> Result<Self, String> {
        let config = signals::Config::default();
        let upstream = signals::start(SocketAddr::from(([127, 0, 0, 1], 0)), config)
            .await
            .map_err(message)?;
        let (secret, jwt) = relay::jwt(bin, signals::DEMO_API_KEY, None).map_err(message)?;
        let url = format!("http://{upstream}/");
        let mut command = relay::relay_command(bin, &secret, &url, Some(rust_log));
        let server = Server::spawn(command.envs(env.iter().copied()), true).map_err(message)?;
        Ok(LocalRelay {
            server,
            bin: bin.to_path_buf(),
            secret,
            jwt,
        })
    }
}
