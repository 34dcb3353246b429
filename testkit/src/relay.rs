//! Relay binaries as child processes: a server that announces `address=IP:PORT` on stderr
//! ([`Server`], killed when dropped), the relay-server command on a free port of 127.0.0.1
//! ([`relay_command`]), and a SECRET_KEY and JWT made by the relay's own `jwt` command
//! ([`jwt`]).
//!
//! The binaries are built by the caller (`cargo xtask` builds them before it runs `testkit`;
//! a crate's tests get theirs from cargo); this module only runs them.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};

/// Runs a command to completion and returns its stdout, trimmed at the end; its stderr becomes
/// the error.
pub fn output(command: &mut Command) -> anyhow::Result<String> {
    let name = command.get_program().to_string_lossy().into_owned();
    let out = command
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("cannot run {name}"))?;
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim_end().to_owned();
    if out.status.success() {
        Ok(text(&out.stdout))
    } else {
        bail!("{name} failed ({}): {}", out.status, text(&out.stderr))
    }
}

/// A SECRET_KEY (`secret`, or a fresh one) and a JWT carrying `key`, made by `relay-server jwt`
/// in the folder `bin` (the operator's own tool, so every run exercises it): `(secret, jwt)`.
pub fn jwt(bin: &Path, key: &str, secret: Option<&str>) -> anyhow::Result<(String, String)> {
    jwt_of(&bin.join("relay-server"), key, secret)
}

/// [`jwt`] with the `jwt` command of the relay `program` (any relay of `main_for`). A given
/// secret goes through a file, never the command line.
pub fn jwt_of(program: &Path, key: &str, secret: Option<&str>) -> anyhow::Result<(String, String)> {
    jwt_for(program, None, Some(key), secret)
}

/// [`jwt_of`] for the relay mounted as `relay` in a suite (`xdr-relays jwt --relay NAME`), or
/// for the command's one relay with `None`; without a `key` for a relay that reads none.
pub fn jwt_for(
    program: &Path,
    relay: Option<&str>,
    key: Option<&str>,
    secret: Option<&str>,
) -> anyhow::Result<(String, String)> {
    let name = program.display().to_string();
    let mut command = Command::new(program);
    command.args(["jwt", "--json"]);
    if let Some(key) = key {
        command.args(["--key", key]);
    }
    if let Some(relay) = relay {
        command.args(["--relay", relay]);
    }
    let file = secret
        .map(|secret| {
            let file = std::env::temp_dir().join(format!("testkit-secret-{}", std::process::id()));
            std::fs::write(&file, secret)
                .map(|()| file)
                .context("cannot write a secret file")
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
        serde_json::from_str(&printed?).with_context(|| format!("{name} jwt printed no JSON"))?;
    match (pair["secret_key"].as_str(), pair["jwt"].as_str()) {
        (Some(secret), Some(jwt)) => Ok((secret.to_owned(), jwt.to_owned())),
        _ => bail!("{name} jwt printed no secret_key/jwt"),
    }
}

/// The relay-server command (in the folder `bin`) on an ephemeral port of 127.0.0.1 against
/// the Signals API at `upstream`; `rust_log` `None` keeps the production default (`info`, one
/// line per request).
pub fn relay_command(bin: &Path, secret: &str, upstream: &str, rust_log: Option<&str>) -> Command {
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

/// What a watched server logged: line and panic counts, the last lines.
#[derive(Debug, Default)]
struct Log {
    lines: AtomicUsize,
    panics: AtomicUsize,
    last: Mutex<VecDeque<String>>,
}

/// A running server process, killed (and reaped) on drop.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// `IP:PORT` as the server logged it.
    pub address: String,
    log: Arc<Log>,
}

impl Server {
    /// Spawns `command` and waits for the first stderr line saying where it listens
    /// ([`listen_address`]). With `watch`, every later line is counted and scanned for panics;
    /// without, the rest is drained in blocks, not lines, so a relay logging a line per request
    /// under load costs the load driver's process no CPU.
    pub fn spawn(command: &mut Command, watch: bool) -> anyhow::Result<Server> {
        let name = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let stderr = child.stderr.take();
        // Built first, so that dropping it stops the child on every path.
        let mut server = Server {
            child,
            address: String::new(),
            log: Arc::default(),
        };
        let mut reader = BufReader::new(stderr.ok_or_else(|| anyhow!("{name} has no stderr"))?);
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
            anyhow!(
                "{name} exited before it listened:\n{}",
                server.last_lines().join("\n")
            )
        })?;
        Ok(server)
    }

    /// `http://IP:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The process id (for /proc sampling).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Log lines so far, and how many of them mention a panic (`watch` only).
    pub fn log_counts(&self) -> (usize, usize) {
        let load = |n: &AtomicUsize| n.load(Ordering::Relaxed);
        (load(&self.log.lines), load(&self.log.panics))
    }

    /// The last few log lines, for error messages.
    pub fn last_lines(&self) -> Vec<String> {
        self.log
            .last
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Asks the process to stop with SIGTERM (sent by `kill`, so that a wrapper such as
    /// `buildah run` forwards it to the process it runs, which SIGKILL would orphan) and waits
    /// up to `grace` for it to exit. Drop still kills it if it did not.
    pub fn terminate(&mut self, grace: Duration) -> anyhow::Result<()> {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return Ok(());
        }
        let pid = self.child.id().to_string();
        output(Command::new("kill").args(["-TERM", &pid]))?;
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("{pid} did not stop within {grace:?} of SIGTERM")
    }

    /// Whether the process is still running and has logged no panic.
    pub fn healthy(&mut self) -> bool {
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
pub fn listen_address(line: &str) -> Option<&str> {
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
