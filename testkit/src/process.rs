//! A relay binary run as an operator runs it: started by a test, its JSON log lines read as they
//! come, the addresses it logs found by message, and killed when the test ends.
//!
//! For tests: a helper here fails its test (panics) with what the process logged. The testkit
//! binary's load and soak drivers use [`crate::relay::Server`] instead, which returns errors and
//! reads no line after the one it waits for.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a relay may take to log a line a test waits for (a cold debug build, a busy CI).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a process may take to stop after SIGTERM before it is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A running process, killed on drop, with every line it wrote to stderr.
#[derive(Debug)]
pub struct Served {
    child: Child,
    log: Arc<Log>,
    /// The log lines already searched by [`Served::address_of`].
    seen: usize,
}

#[derive(Debug, Default)]
struct Log {
    lines: Mutex<(Vec<String>, bool)>,
    grew: Condvar,
}

impl Served {
    /// Starts `command` with stdin and stdout closed and stderr read line by line.
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Log::default());
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lines.lock().expect("not poisoned").0.push(line);
                sink.grew.notify_all();
            }
            sink.lines.lock().expect("not poisoned").1 = true;
            sink.grew.notify_all();
        });
        Self {
            child,
            log,
            seen: 0,
        }
    }

    /// Waits (at most [`START_TIMEOUT`]) for the next JSON log line whose `message` is
    /// `message`, and returns its `address` field; fails on a line that is not JSON, or when the
    /// process ends or the time is up first, with everything it logged.
    pub fn address_of(&mut self, message: &str) -> String {
        let line = self.wait_for(message);
        line["address"]
            .as_str()
            .unwrap_or_else(|| panic!("no `address` in {line}"))
            .to_owned()
    }

    /// Waits (at most [`START_TIMEOUT`]) for the next JSON log line whose `message` is
    /// `message`, and returns it.
    pub fn wait_for(&mut self, message: &str) -> Value {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut guard = self.log.lines.lock().expect("not poisoned");
        loop {
            while let Some(line) = guard.0.get(self.seen) {
                self.seen += 1;
                let object: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
                if object["message"] == message {
                    return object;
                }
            }
            let now = Instant::now();
            if guard.1 || now >= deadline {
                let why = if guard.1 { "ended" } else { "timed out" };
                let logged = guard.0.join("\n");
                // Not while holding the lock: a panic would poison it for the reader thread.
                drop(guard);
                panic!("the process {why} before logging {message:?}; it logged:\n{logged}");
            }
            guard = self
                .log
                .grew
                .wait_timeout(guard, deadline - now)
                .expect("not poisoned")
                .0;
        }
    }

    /// Every line logged so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lines.lock().expect("not poisoned").0.clone()
    }

    /// The process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process, to signal or wait for.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Sends SIGTERM, as an orchestrator stops a relay, and waits for the process to end.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(
            sent.as_ref().is_ok_and(ExitStatus::success),
            "kill -TERM {pid}: {sent:?}"
        );
        self.child.wait().expect("the process can be waited for")
    }
}

/// A relay built on `xdr_relay_server::main_for` serving on ephemeral ports of 127.0.0.1 with
/// JSON logs and its metrics listener, as an operator runs it.
#[derive(Debug)]
pub struct Relay {
    /// The process and its log.
    pub process: Served,
    /// `http://<address>`.
    pub url: String,
    /// Where it listens, as `healthcheck --listen` takes it.
    pub address: String,
    /// The URL of its Prometheus text.
    pub metrics: String,
}

impl Relay {
    /// Runs `binary serve` with `args` after the listeners' (the binary's environment and
    /// settings in `binary`), and waits until it logs `{name} listening` and where its metrics
    /// are.
    pub fn serve(mut binary: Command, name: &str, args: &[&str]) -> Self {
        binary
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .args(["--metrics-listen", "127.0.0.1:0"])
            .args(args);
        let mut process = Served::spawn(binary);
        let address = process.address_of(&format!("{name} listening"));
        let metrics = process.address_of("metrics at GET /metrics");
        Self {
            process,
            url: format!("http://{address}"),
            address,
            metrics: format!("http://{metrics}/metrics"),
        }
    }

    /// Every line logged so far.
    pub fn log(&self) -> Vec<String> {
        self.process.log()
    }
}

/// A token from `binary jwt --quiet` (a `main_for` relay's command, its environment set in
/// `binary`) signed with `secret` (read from a file, never on the command line) for `fields`
/// (`key=…`, `CTR_ENTITIES_LIMIT=1`); fails unless the command succeeds.
pub fn jwt(mut binary: Command, secret: &str, fields: &[&str]) -> String {
    static FILES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = std::env::temp_dir().join(format!("relay-jwt-secret-{}-{n}", std::process::id()));
    std::fs::write(&file, format!("{secret}\n")).unwrap();
    binary
        .args(["jwt", "--quiet", "--secret-key-file"])
        .arg(&file)
        .stdin(Stdio::null());
    for field in fields {
        binary.args(["--field", field]);
    }
    let out = binary.output().unwrap();
    let _ = std::fs::remove_file(&file);
    assert_success(&out).trim().to_owned()
}

/// Fails, showing what the command wrote to stderr, unless it exited with success; returns its
/// stdout.
#[track_caller]
pub fn assert_success(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

impl Drop for Served {
    /// SIGTERM first, so the process stops as in production (and an instrumented build writes
    /// its coverage); SIGKILL when it has not ended within [`STOP_TIMEOUT`].
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let pid = self.child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let deadline = Instant::now() + STOP_TIMEOUT;
            while Instant::now() < deadline {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::Served;

    fn shell(script: &str) -> Served {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        Served::spawn(command)
    }

    #[test]
    fn finds_addresses_in_order_and_keeps_every_line() {
        let mut served = shell(
            r#"echo '{"message":"a","address":"1"}' >&2; echo '{"message":"b","address":"2"}' >&2; echo '{"message":"a","address":"3"}' >&2; sleep 5"#,
        );
        assert_eq!(served.address_of("b"), "2");
        assert_eq!(served.address_of("a"), "3");
        assert_eq!(served.log().len(), 3);
        assert!(!served.terminate().success(), "ended by SIGTERM");
    }

    #[test]
    fn assert_success_returns_stdout_or_fails_with_stderr() {
        let ok = Command::new("sh")
            .args(["-c", "echo out"])
            .output()
            .unwrap();
        assert_eq!(super::assert_success(&ok), "out\n");
        let failed = Command::new("sh")
            .args(["-c", "echo why >&2; exit 3"])
            .output()
            .unwrap();
        let message = std::panic::catch_unwind(|| super::assert_success(&failed)).unwrap_err();
        let message = message.downcast_ref::<String>().unwrap();
        assert!(
            message.contains("why") && message.contains('3'),
            "{message}"
        );
    }

    #[test]
    fn an_ended_process_fails_with_what_it_logged() {
        let failed = std::panic::catch_unwind(|| {
            shell(r#"echo '{"message":"starting"}' >&2"#).address_of("listening")
        })
        .unwrap_err();
        let message = failed.downcast_ref::<String>().unwrap();
        assert!(message.contains("ended before logging"), "{message}");
        assert!(message.contains("starting"), "{message}");
    }
}
