//! The API key never reaches a log line (every target at TRACE: the relay, relay-core,
//! reqwest, hyper) or an answer, even when AbuseIPDB echoes it back in its errors.

use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;

use serde_json::json;

use crate::support::*;

/// The `log` facade's sink (reqwest logs through it): records from the capturing thread only,
/// so other tests running at the same time add nothing.
struct LogBridge {
    thread: Mutex<Option<(ThreadId, Capture)>>,
}

impl log::Log for LogBridge {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let guard = self.thread.lock().unwrap();
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

fn log_bridge() -> &'static LogBridge {
    static BRIDGE: OnceLock<&'static LogBridge> = OnceLock::new();
    BRIDGE.get_or_init(|| {
        let bridge: &'static LogBridge = Box::leak(Box::new(LogBridge {
            thread: Mutex::new(None),
        }));
        log::set_logger(bridge).expect("the only `log` logger of this test binary");
        log::set_max_level(log::LevelFilter::Trace);
        bridge
    })
}

#[tokio::test]
async fn no_log_line_or_answer_holds_the_api_key() {
    let logs = Logs::capture();
    *log_bridge().thread.lock().unwrap() = Some((std::thread::current().id(), logs.sink()));

    let relay = Relay::start().await;
    let echo = format!("The key {API_KEY} is not valid.");
    relay.standin.set("192.0.2.2", Scenario::error(401, &echo));
    relay.standin.set(
        "192.0.2.3",
        Scenario::Error {
            status: 429,
            detail: Some(echo.clone()),
            retry_after: Some(API_KEY.to_owned()),
        },
    );
    relay.standin.set("192.0.2.4", Scenario::error(400, &echo));
    relay.standin.set("192.0.2.5", Scenario::Hang);
    relay.standin.data(
        "192.0.2.1",
        data(
            100,
            Some(API_KEY),
            vec![report("2024-01-01T00:00:00Z", json!("c"), json!([18]))],
        ),
    );
    relay.standin.refuse_key("refused-key-0123456789");

    let body = ips(&["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]);
    let refused = token_with("refused-key-0123456789", None);
    let mut answers = Vec::new();
    for token in [token(), refused.clone()] {
        for route in [
            "/health",
            "/deliberate/observables",
            "/observe/observables",
            "/refer/observables",
            "/respond/observables",
            "/respond/trigger",
        ] {
            answers.push(relay.post(route, Some(&token), &body).await.1);
        }
    }
    *log_bridge().thread.lock().unwrap() = None;

    let text = logs.text();
    // The capture saw every layer, or this test would prove nothing.
    for expected in ["relay::request", "/observe/observables", "reqwest", "hyper"] {
        assert!(
            text.contains(expected),
            "{expected:?} was not logged:\n{text}"
        );
    }
    for secret in [API_KEY, &API_KEY[..16], "refused-key-0123456789"] {
        for line in text.lines() {
            assert!(!line.contains(secret), "the key leaked: {line}");
        }
        for answer in &answers {
            // The one place it may be: the domain AbuseIPDB gave (data, not an error).
            let mut answer = answer.clone();
            answer.as_object_mut().unwrap().remove("data");
            assert!(
                !answer.to_string().contains(secret),
                "the key leaked: {answer}"
            );
        }
    }
    // The echoing errors were answered, redacted.
    let all: Vec<String> = answers.iter().flat_map(errors).map(|(_, m)| m).collect();
    assert!(
        all.iter()
            .any(|m| m.contains("The key <redacted> is not valid.")),
        "{all:?}"
    );
}
