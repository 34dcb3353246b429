//! Secrets never reach a log line: every route, at TRACE level for every target (the relay,
//! signals-client, reqwest, hyper, h2), with upstream answers that echo the key back.

use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;

use serde_json::json;
use wiremock::ResponseTemplate;

use crate::common::*;

/// The `log` facade's sink: records from the capturing thread only, so other tests running
/// at the same time add nothing.
struct LogBridge {
    thread: Mutex<Option<(ThreadId, Capture)>>,
}

impl log::Log for LogBridge {
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

/// Every route, with good and bad tokens, against an upstream that knows one IP, refuses one
/// key while echoing it, rate-limits and fails.
async fn every_route(relay: &Relay, good: &str, bad: &[&str]) {
    let body = ips(&["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]);
    for route in [
        "/health",
        "/deliberate/observables",
        "/observe/observables",
        "/refer/observables",
        "/respond/observables",
        "/respond/trigger",
    ] {
        relay.send("POST", route, Some(good), &body).await;
        for token in bad {
            relay.send("POST", route, Some(token), &body).await;
        }
    }
    relay.send("POST", "/version", Some(good), "").await;
    relay
        .raw(
            "GET",
            "/watchdog",
            Some(&format!("Bearer {good}")),
            &[("Health-Check", "x")],
            "",
        )
        .await;
    relay.send("GET", "/openapi.json", Some(good), "").await;
    relay.send("POST", "/nowhere", Some(good), &body).await;
    relay.send("DELETE", "/health", Some(good), "").await;
}

#[tokio::test]
async fn no_log_line_holds_the_api_key_secret_key_or_jwt() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // Tokio's test runtime is single-threaded: the router, the client and hyper's connection
    // tasks all run on this thread, under this subscriber.
    // tracing caches each callsite's interest, and while one subscriber exists it asks only
    // the calling thread's: a test on another thread (with none) reaching a callsite first
    // would turn it off here too. A second, silent dispatch alive as long as ours makes it
    // ask every live subscriber.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let _guard = tracing::subscriber::set_default(subscriber);
    *log_bridge().thread.lock().expect("not poisoned") =
        Some((std::thread::current().id(), capture.clone()));

    let relay = Relay::start_with(|c| c.openapi = true).await;
    let echo = format!("key {API_KEY} is not valid");
    relay
        .report(
            "192.0.2.1",
            Report {
                score: -1,
                badip: (-1, &["L"]),
                baddomain: (0, [&[], &[], &[]]),
                history: 0,
            }
            .json(),
        )
        .await;
    relay.list("badip", "L", metadata("L", "Public", "1")).await;
    relay
        .answer(
            "/v2.0/ip/192.0.2.2",
            ResponseTemplate::new(401).set_body_string(&echo),
        )
        .await;
    relay
        .answer(
            "/v2.0/ip/192.0.2.3",
            ResponseTemplate::new(429).set_body_string(&echo),
        )
        .await;
    relay
        .answer(
            "/v2.0/ip/192.0.2.4",
            ResponseTemplate::new(500).set_body_string(&echo),
        )
        .await;
    relay
        .answer(
            "/v2.0/ip",
            ResponseTemplate::new(200).set_body_json(json!({"fullip": {}})),
        )
        .await;

    let good = token();
    let other_secret = xdr_relay_core::SecretKey::new("an attacker's secret").expect("secret");
    let forged = xdr_relay_core::encode_token(&other_secret, API_KEY, None).expect("token");
    let expired = {
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        let claims = json!({"key": API_KEY, "exp": 1});
        let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
        jsonwebtoken::encode(&header, &claims, &key).expect("token")
    };
    let bad = [forged.as_str(), expired.as_str(), "not.a.jwt"];

    // Once to register every callsite, then again with interest recomputed for this
    // subscriber (other tests' threads may have registered callsites no one wanted).
    every_route(&relay, &good, &bad).await;
    tracing::callsite::rebuild_interest_cache();
    capture.clear();
    every_route(&relay, &good, &bad).await;
    *log_bridge().thread.lock().expect("not poisoned") = None;

    let logs = capture.text();
    // The capture really saw every layer, or this test would prove nothing.
    for expected in [
        "relay::request",
        "signals_request",
        "/observe/observables",
        "/respond/trigger",
        "/openapi.json",
        "retrying",
        "reqwest",
    ] {
        assert!(
            logs.contains(expected),
            "{expected:?} was not logged:\n{logs}"
        );
    }
    let mut secrets = vec![
        ("the API key", API_KEY.to_owned()),
        ("the API key's first block", API_KEY[..8].to_owned()),
        ("SECRET_KEY", SECRET.to_owned()),
        ("SECRET_KEY's first half", SECRET[..32].to_owned()),
    ];
    for token in [good.as_str(), forged.as_str(), expired.as_str()] {
        secrets.push(("a JWT", token.to_owned()));
        for part in token.split('.').skip(1) {
            secrets.push(("a JWT's payload or signature", part.to_owned()));
        }
    }
    for line in logs.lines() {
        for (what, secret) in &secrets {
            assert!(!line.contains(secret.as_str()), "{what} leaked: {line}");
        }
    }
}
