//! `telemetry::log_panics` in a process of its own (the hook is the process's): a panic is
//! one ERROR line with its location and the request's id, and never its message.

// Helpers outside #[test] functions fail their test by panicking, as tests do.
#![allow(clippy::unwrap_used)]

use serde_json::Value;

#[test]
fn a_panic_is_one_error_line_with_the_request_id_and_without_its_message() {
    let buffer = testkit::logs::Capture::default();
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_writer(buffer.writer())
        .init();
    xdr_relay_core::telemetry::log_panics();

    let span = tracing::info_span!("request", request_id = "hook-1");
    let line = line!() + 2;
    let caught = span.in_scope(|| {
        std::panic::catch_unwind(|| panic!("the token is eyJhbGciOiJIUzI1NiJ9.secret"))
    });
    // Back to the default hook, so that a failing assertion below says why.
    drop(std::panic::take_hook());
    assert!(caught.is_err());

    let text = buffer.text();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    let event = &lines[0];
    assert_eq!(event["level"], "ERROR", "{event}");
    assert_eq!(event["target"], "relay::panic", "{event}");
    assert_eq!(event["span"]["request_id"], "hook-1", "{event}");
    let location = event["location"].as_str().unwrap();
    assert!(
        location.ends_with(&format!("panic_hook.rs:{line}")),
        "{location}"
    );
    assert!(
        !text.contains("eyJ") && !text.contains("the token is"),
        "{text}"
    );
}
