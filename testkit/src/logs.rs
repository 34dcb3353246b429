//! What a test's code logs, captured: through `tracing` (a subscriber on the test's thread) and
//! through the `log` facade (reqwest and hyper's dependencies log there), for tests that read
//! log lines or check that no secret reaches one.

use std::sync::{Arc, Mutex, OnceLock};
use std::thread::ThreadId;

use serde_json::Value;

/// A shared in-memory buffer a subscriber writes to: `with_writer(capture.writer())`.
#[derive(Debug, Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    /// What a subscriber's `with_writer` takes: a clone of this buffer per write.
    pub fn writer(&self) -> impl Fn() -> Capture + Send + Sync + 'static + use<> {
        let capture = self.clone();
        move || capture.clone()
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("not poisoned")).into_owned()
    }

    /// The lines written so far that are JSON objects (a JSON subscriber's events).
    pub fn json_lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .collect()
    }

    /// Forgets everything written so far.
    pub fn clear(&self) {
        self.0.lock().expect("not poisoned").clear();
    }
}

/// A `tracing` subscriber that writes to a [`Capture`], the default on this thread while the
/// guard lives (tokio's test runtime is single-threaded, so the code under test, its client and
/// its stand-ins all log here).
#[derive(Debug)]
pub struct Logs {
    capture: Capture,
    _guard: tracing::subscriber::DefaultGuard,
    // tracing caches each callsite's interest, and while one subscriber exists it asks only
    // the calling thread's: a test on another thread (with none) reaching a callsite first
    // would turn it off here too. A second, silent dispatch alive as long as ours makes it
    // ask every live subscriber.
    _second: tracing::Dispatch,
}

impl Logs {
    /// Every event and span (entered, exited, closed) at TRACE, as text.
    pub fn trace() -> Self {
        Self::with(|capture| {
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
                .with_ansi(false)
                .with_writer(capture.writer())
                .finish()
        })
    }

    /// Events at INFO and above as flattened JSON lines, as relay-server writes them.
    pub fn json() -> Self {
        Self::with(|capture| {
            tracing_subscriber::fmt()
                .json()
                .flatten_event(true)
                .with_writer(capture.writer())
                .finish()
        })
    }

    /// The subscriber `make` builds on a new capture.
    pub fn with<S>(make: impl FnOnce(&Capture) -> S) -> Self
    where
        S: tracing::Subscriber + Send + Sync + 'static,
    {
        let capture = Capture::default();
        let subscriber = make(&capture);
        let second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
        let guard = tracing::subscriber::set_default(subscriber);
        tracing::callsite::rebuild_interest_cache();
        Self {
            capture,
            _guard: guard,
            _second: second,
        }
    }

    /// The buffer the subscriber writes to.
    pub fn capture(&self) -> &Capture {
        &self.capture
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        self.capture.text()
    }

    /// Also captures what the `log` facade logs on this thread, at TRACE, while the returned
    /// guard lives.
    pub fn with_log_facade(&self) -> LogFacade {
        LogFacade::capture(&self.capture)
    }
}

/// Records of the `log` facade from one thread, written to a [`Capture`] while it lives.
#[derive(Debug)]
pub struct LogFacade(());

impl LogFacade {
    /// Sends the `log` records of this thread to `capture` (one test binary has one `log`
    /// logger: this one, installed on first use).
    pub fn capture(capture: &Capture) -> Self {
        *bridge().thread.lock().expect("not poisoned") =
            Some((std::thread::current().id(), capture.clone()));
        Self(())
    }
}

impl Drop for LogFacade {
    fn drop(&mut self) {
        *bridge().thread.lock().expect("not poisoned") = None;
    }
}

/// The `log` facade's sink: records from the capturing thread only, so other tests running at
/// the same time add nothing.
struct Bridge {
    thread: Mutex<Option<(ThreadId, Capture)>>,
}

impl log::Log for Bridge {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let guard = self.thread.lock().expect("not poisoned");
        if let Some((thread, capture)) = guard.as_ref()
            && *thread == std::thread::current().id()
        {
            let line = format!(
                "{} {}: {}\n",
                record.level(),
                record.target(),
                record.args()
            );
            let _ = std::io::Write::write_all(&mut capture.clone(), line.as_bytes());
        }
    }

    fn flush(&self) {}
}

fn bridge() -> &'static Bridge {
    static BRIDGE: OnceLock<&'static Bridge> = OnceLock::new();
    BRIDGE.get_or_init(|| {
        let bridge: &'static Bridge = Box::leak(Box::new(Bridge {
            thread: Mutex::new(None),
        }));
        log::set_logger(bridge).expect("the only `log` logger of this test binary");
        log::set_max_level(log::LevelFilter::Trace);
        bridge
    })
}

#[cfg(test)]
mod tests {
    use super::Logs;

    #[test]
    fn captures_tracing_and_log_records_of_this_thread_only() {
        let logs = Logs::trace();
        let facade = logs.with_log_facade();
        tracing::info!(answer = 42, "from tracing");
        log::warn!(target: "somewhere", "from log");
        std::thread::spawn(|| log::warn!("from another thread"))
            .join()
            .unwrap();
        drop(facade);
        log::warn!("after the guard");
        let text = logs.text();
        assert!(
            text.contains("from tracing") && text.contains("answer=42"),
            "{text}"
        );
        assert!(text.contains("WARN somewhere: from log"), "{text}");
        assert!(
            !text.contains("another thread") && !text.contains("after"),
            "{text}"
        );
    }

    #[test]
    fn json_lines_are_flattened_events() {
        let logs = Logs::json();
        tracing::info!(route = "/health", "request");
        let lines = logs.capture().json_lines();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["message"], "request");
        assert_eq!(lines[0]["route"], "/health");
    }
}
