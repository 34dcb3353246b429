//! Child processes, one way for every task: cargo, one-shot commands, servers that announce
//! `address=IP:PORT` on stderr (killed when dropped), and the relay-server they all run.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

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

/// A SECRET_KEY (`secret`, or a fresh one) and a JWT carrying `key`, made by `relay-server jwt`
/// (the operator's own tool, so every task exercises it): `(secret, jwt)`.
pub(crate) fn jwt(bin: &Path, key: &str, secret: Option<&str>) -> Result<(String, String), String> {
    jwt_of(&bin.join("relay-server"), key, secret)
}

/// [`jwt`] with the `jwt` command of the relay `program` (any relay of `main_for`). A given
/// secret goes through a file, never the command line.
pub(crate) fn jwt_of(
    program: &Path,
    key: &str,
    secret: Option<&str>,
) -> Result<(String, String), String> {
    let name = program.display().to_string();
    let mut command = Command::new(program);
    command.args(["jwt", "--json", "--key", key]);
    let file = secret
        .map(|secret| {
            let file = std::env::temp_dir().join(format!("xtask-secret-{}", std::process::id()));
            std::fs::write(&file, secret)
                .map(|()| file)
                .map_err(|e| format!("cannot write a secret file: {e}"))
        })
        .transpose()?;
    if let Some(file) = &file {
        command.arg("--secret-key-file").arg(file);
    }
    let printed = output(&mut command);
    if let Some(file) = &file {
        let _ = std::fs::remove_file(file);
    }
    let pair: serde_json::Value =
        serde_json::from_str(&printed?).map_err(|e| format!("{name} jwt printed no JSON: {e}"))?;
    match (pair["secret_key"].as_str(), pair["jwt"].as_str()) {
        (Some(secret), Some(jwt)) => Ok((secret.to_owned(), jwt.to_owned())),
        _ => Err(format!("{name} jwt printed no secret_key/jwt")),
    }
}

/// The relay-server command every task runs, on an ephemeral port; `rust_log` `None` keeps the
/// production default (`info`, one line per request).
pub(crate) fn relay_command(
    bin: &Path,
    secret: &str,
    upstream: &str,
    rust_log: Option<&str>,
) -> Command {
    let mut command = Command::new(bin.join("relay-server"));
    command.args(["--listen", "127.0.0.1:0"]);
    command
        .env("SECRET_KEY", secret)
        .env("SIGNALS_API_URL", upstream);
    match rust_log {
        Some(filter) => command.env("RUST_LOG", filter),
        None => command.env_remove("RUST_LOG"),
    };
    command
}

/// A debug relay-server in front of the in-process Auth0 Signals stand-in (call it inside a
/// tokio runtime, which serves the stand-in).
#[derive(Debug)]
pub(crate) struct LocalRelay {
    pub(crate) server: Server,
    /// The stand-in's `IP:PORT`.
    pub(crate) upstream: SocketAddr,
    /// Where relay-server (and the other debug binaries) are.
    pub(crate) bin: PathBuf,
    pub(crate) secret: String,
    /// A JWT the relay accepts, carrying the stand-in's API key.
    pub(crate) jwt: String,
}

impl LocalRelay {
    /// Builds relay-server, starts the stand-in and the relay with `rust_log` and `env`.
    pub(crate) async fn start(rust_log: &str, env: &[(&str, &str)]) -> Result<Self, String> {
        let bin = build(false, &["-p", "xdr-relay-server", "--bin", "relay-server"])?;
        let config = crate::stub::StubConfig::default();
        let upstream = crate::stub::start(SocketAddr::from(([127, 0, 0, 1], 0)), config).await?;
        let (secret, jwt) = jwt(&bin, crate::stub::DEMO_API_KEY, None)?;
        let url = format!("http://{upstream}/");
        let mut command = relay_command(&bin, &secret, &url, Some(rust_log));
        let server = Server::spawn(command.envs(env.iter().copied()), true)?;
        Ok(LocalRelay {
            server,
            upstream,
            bin,
            secret,
            jwt,
        })
    }
}

/// What a watched server logged: line and panic counts, the last lines.
#[derive(Debug, Default)]
struct Log {
    lines: AtomicUsize,
    panics: AtomicUsize,
    last: Mutex<VecDeque<String>>,
}

/// A running server process, killed (and reaped) on drop.
#[derive(Debug)]
pub(crate) struct Server {
    child: Child,
    /// `IP:PORT` as the server logged it.
    pub(crate) address: String,
    log: Arc<Log>,
}

impl Server {
    /// Spawns `command` and waits for the first stderr line saying where it listens
    /// ([`listen_address`]). With
    /// `watch`, every later line is counted and scanned for panics; without, the rest is drained
    /// in blocks, not lines, so a relay logging a line per request under load costs the
    /// bench's own process (the load driver) no CPU.
    pub(crate) fn spawn(command: &mut Command, watch: bool) -> Result<Server, String> {
        let name = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let stderr = child.stderr.take();
        // Built first, so that dropping it stops the child on every path.
        let mut server = Server {
            child,
            address: String::new(),
            log: Arc::default(),
        };
        let mut reader = BufReader::new(stderr.ok_or(format!("{name} has no stderr"))?);
        let (tx, rx) = mpsc::channel();
        let log = Arc::clone(&server.log);
        std::thread::spawn(move || {
            let (mut tx, mut line) = (Some(tx), String::new());
            while tx.is_some() || watch {
                line.clear();
                if !matches!(reader.read_line(&mut line), Ok(1..)) {
                    return;
                }
                let found = listen_address(&line);
                if let (Some(address), Some(tx)) = (found, tx.take_if(|_| found.is_some())) {
                    let _ = tx.send(address.to_owned());
                }
                log.record(line.trim_end());
            }
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        server.address = rx.recv().map_err(|_| {
            format!(
                "{name} exited before it listened:\n{}",
                server.last_lines().join("\n")
            )
        })?;
        Ok(server)
    }

    /// `http://IP:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The process id (for /proc sampling).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Log lines so far, and how many of them mention a panic (`watch` only).
    pub(crate) fn log_counts(&self) -> (usize, usize) {
        let load = |n: &AtomicUsize| n.load(Ordering::Relaxed);
        (load(&self.log.lines), load(&self.log.panics))
    }

    /// The last few log lines, for error messages.
    pub(crate) fn last_lines(&self) -> Vec<String> {
        self.log
            .last
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Asks the process to stop with SIGTERM (sent by `kill`, so that a wrapper such as
    /// `buildah run` forwards it to the process it runs, which SIGKILL would orphan) and waits
    /// up to `grace` for it to exit. Drop still kills it if it did not.
    pub(crate) fn terminate(&mut self, grace: std::time::Duration) -> Result<(), String> {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return Ok(());
        }
        let pid = self.child.id().to_string();
        output(Command::new("kill").args(["-TERM", &pid]))?;
        let deadline = std::time::Instant::now() + grace;
        while std::time::Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Err(format!("{pid} did not stop within {grace:?} of SIGTERM"))
    }

    /// Whether the process is still running and has logged no panic.
    pub(crate) fn healthy(&mut self) -> bool {
        self.log_counts().1 == 0 && matches!(self.child.try_wait(), Ok(None))
    }
}

impl Log {
    fn record(&self, line: &str) {
        self.lines.fetch_add(1, Ordering::Relaxed);
        if line.contains("panicked") {
            self.panics.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut last) = self.last.lock() {
            if last.len() >= 20 {
                last.pop_front();
            }
            last.push_back(line.to_owned());
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a "listening" log line says the process listens: `address=IP:PORT` in a text line,
/// `"address":"IP:PORT"` in a JSON one (relay-server logs JSON when stderr is not a terminal).
pub(crate) fn listen_address(line: &str) -> Option<&str> {
    if !line.contains("listening") {
        return None;
    }
    if let Some(rest) = line.split("\"address\":\"").nth(1) {
        return rest.split('"').next();
    }
    line.split("address=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
}

#[cfg(test)]
mod tests {
    #[test]
    fn listen_address_in_text_and_json_lines() {
        let text = "INFO relay_server: relay-server listening address=127.0.0.1:80 auth=x";
        assert_eq!(super::listen_address(text), Some("127.0.0.1:80"));
        let json = r#"{"message":"relay-server listening","address":"[::1]:9","target":"t"}"#;
        assert_eq!(super::listen_address(json), Some("[::1]:9"));
        let metrics = r#"{"message":"metrics at GET /metrics","address":"127.0.0.1:1"}"#;
        assert_eq!(super::listen_address(metrics), None);
    }
}
