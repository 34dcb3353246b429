//! A real `relay-server` in front of the in-process Auth0 Signals stand-in, for the tasks that
//! attack it from outside (`fuzz-api`, `soak`): built, given a fresh SECRET_KEY and JWT, and
//! watched (its log is scanned for panics while it runs). Killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use crate::stub;

/// A running relay-server and what it logged.
#[derive(Debug)]
pub(crate) struct Relay {
    child: Child,
    /// `http://IP:PORT`.
    pub(crate) url: String,
    /// A JWT the relay accepts, carrying the stub's API key.
    pub(crate) jwt: String,
    /// A JWT the relay accepts, carrying a key the stub refuses (an upstream 401).
    pub(crate) unknown_key_jwt: String,
    panics: Arc<AtomicUsize>,
    lines: Arc<AtomicUsize>,
    last_lines: Arc<Mutex<Vec<String>>>,
}

impl Relay {
    /// Builds relay-server, starts the stub on 127.0.0.1 in this process (so call it inside a
    /// tokio runtime), then the server against it with `env` added.
    pub(crate) async fn start(env: &[(&str, &str)]) -> Result<Relay, String> {
        crate::procs::cargo(&[
            "build",
            "--quiet",
            "-p",
            "xdr-relay-server",
            "--bin",
            "relay-server",
        ])?;
        let bin = crate::target_dir()?.join("debug").join("relay-server");
        let upstream = stub::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            stub::StubConfig {
                latency: Duration::ZERO,
            },
        )
        .await?;
        let (secret, jwt) = crate::procs::make_jwt(&bin)?;
        let unknown_key_jwt = crate::procs::output(
            Command::new(&bin)
                .args([
                    "jwt",
                    "--key",
                    "not-a-key-the-stub-knows",
                    "--quiet",
                    "--secret-key",
                ])
                .arg(&secret)
                .stdin(Stdio::null()),
        )?
        .trim()
        .to_owned();
        let mut child = Command::new(&bin)
            .args(["--listen", "127.0.0.1:0"])
            .envs(env.iter().copied())
            .env("SECRET_KEY", secret)
            .env("SIGNALS_API_URL", format!("http://{upstream}/"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start relay-server: {e}"))?;
        let Some(stderr) = child.stderr.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("relay-server has no stderr".into());
        };
        let mut relay = Relay {
            child,
            url: String::new(),
            jwt,
            unknown_key_jwt,
            panics: Arc::default(),
            lines: Arc::default(),
            last_lines: Arc::default(),
        };
        let (address_tx, address_rx) = mpsc::channel();
        let (panics, lines, last) = (
            Arc::clone(&relay.panics),
            Arc::clone(&relay.lines),
            Arc::clone(&relay.last_lines),
        );
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("address=").nth(1) {
                    let _ = address_tx.send(rest.split_whitespace().next().map(str::to_owned));
                }
                if line.contains("panicked") {
                    panics.fetch_add(1, Ordering::Relaxed);
                }
                lines.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut last) = last.lock() {
                    if last.len() >= 20 {
                        last.remove(0);
                    }
                    last.push(line);
                }
            }
        });
        // The thread ends (and the channel closes) when the server exits before listening.
        let address = address_rx.recv().ok().flatten().ok_or_else(|| {
            format!(
                "relay-server exited before it listened:\n{}",
                relay.last_lines().join("\n")
            )
        })?;
        relay.url = format!("http://{address}");
        Ok(relay)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Log lines that mention a panic so far.
    pub(crate) fn panics(&self) -> usize {
        self.panics.load(Ordering::Relaxed)
    }

    /// Log lines so far.
    pub(crate) fn log_lines(&self) -> usize {
        self.lines.load(Ordering::Relaxed)
    }

    /// The last few log lines, for error messages.
    pub(crate) fn last_lines(&self) -> Vec<String> {
        self.last_lines
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    /// Whether the process is still running.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
