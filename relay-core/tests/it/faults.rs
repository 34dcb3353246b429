//! Upstream faults from a raw TCP stub (hangs, resets, truncated and mistyped JSON, 429 storms,
//! 5xx, slow drips, huge bodies): the relay answers each within its time budget, with the
//! documented code and the data of the IPs that did answer.
//!
//! Budgets are configuration, short here; the only clock in these tests is a generous
//! "it finished" guard, never a threshold on how fast.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::common::*;

/// What the stub does with a request for one IP.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// A clean report.
    Good,
    /// Reads the request and never answers.
    Hang,
    /// Closes the connection without a word (with SO_LINGER 0: a TCP reset).
    Reset,
    /// Promises a body longer than it sends, then closes.
    Truncated,
    /// A complete 200 whose JSON has the wrong types.
    WrongTypes,
    /// 429 with `Retry-After: 1`, every time.
    RateLimited,
    /// 429 asking for an hour: not worth waiting for.
    RateLimitedForAnHour,
    /// 503, every time.
    Unavailable,
    /// The headers, then one body byte every 100 ms.
    Drip,
    /// A 200 with a 50 MiB body.
    Huge,
}

/// The stub: a fault per IP (by the last octet of 192.0.2.x), counting requests.
struct Stub {
    url: String,
    requests: Arc<AtomicUsize>,
}

fn fault_for(path: &str, faults: &[(&str, Fault)]) -> Fault {
    faults
        .iter()
        .find(|(ip, _)| path == format!("/v2.0/ip/{ip}"))
        .map_or(Fault::Good, |(_, f)| *f)
}

async fn start(faults: Vec<(&'static str, Fault)>) -> Stub {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the fault stub must bind 127.0.0.1");
    let url = format!("http://{}/", listener.local_addr().expect("address"));
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    let faults = Arc::new(faults);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let faults = Arc::clone(&faults);
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let _ = serve(stream, &faults, &counter).await;
            });
        }
    });
    Stub { url, requests }
}

async fn serve(
    mut stream: TcpStream,
    faults: &[(&str, Fault)],
    requests: &AtomicUsize,
) -> std::io::Result<()> {
    let Some(path) = read_request_path(&mut stream).await? else {
        return Ok(());
    };
    requests.fetch_add(1, Ordering::SeqCst);
    let fault = fault_for(&path, faults);
    match fault {
        Fault::Good => {
            let body = json!({"fullip": clean()}).to_string();
            respond(&mut stream, "200 OK", &[], body.as_bytes()).await
        }
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        }
        Fault::Reset => {
            stream.set_zero_linger()?;
            drop(stream);
            Ok(())
        }
        Fault::Truncated => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\nconnection: close\r\n\r\n";
            stream.write_all(head.as_bytes()).await?;
            stream
                .write_all(br#"{"fullip": {"score": -3, "badip": {"bl"#)
                .await?;
            stream.shutdown().await
        }
        Fault::WrongTypes => {
            let body =
                json!({"fullip": {"score": {"nested": true}, "badip": "no", "baddomain": 7}});
            respond(&mut stream, "200 OK", &[], body.to_string().as_bytes()).await
        }
        Fault::RateLimited => {
            respond(
                &mut stream,
                "429 Too Many Requests",
                &["retry-after: 1"],
                b"slow down",
            )
            .await
        }
        Fault::RateLimitedForAnHour => {
            respond(
                &mut stream,
                "429 Too Many Requests",
                &["retry-after: 3600"],
                b"slow down",
            )
            .await
        }
        Fault::Unavailable => respond(&mut stream, "503 Service Unavailable", &[], b"down").await,
        Fault::Drip => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\nconnection: close\r\n\r\n";
            stream.write_all(head.as_bytes()).await?;
            loop {
                stream.write_all(b" ").await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Fault::Huge => {
            let size = 50 << 20;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {size}\r\nconnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(br#"{"fullip": {"hostname": ""#).await?;
            let chunk = vec![b'a'; 64 << 10];
            // Stops with an error as soon as the client hangs up, as it should early on.
            for _ in 0..size / chunk.len() {
                stream.write_all(&chunk).await?;
            }
            Ok(())
        }
    }
}

/// Reads a request head and returns its path (`None` when the client went away).
async fn read_request_path(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    let text = String::from_utf8_lossy(&head);
    Ok(text.split_whitespace().nth(1).map(str::to_owned))
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    headers: &[&str],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}

/// The relay's budget in these tests: 300 ms per attempt, 2 s in all, 3 attempts.
fn budget(config: &mut Config) {
    config.signals.client.attempt_timeout = Duration::from_millis(300);
    config.signals.client.total_timeout = Duration::from_secs(2);
    config.signals.client.retry.max_attempts = 3;
    config.signals.client.retry.max_retry_after = Duration::from_secs(2);
}

/// Asks `/observe/observables` about `ips` behind `faults`; the answer must come well within
/// a minute whatever the upstream does.
async fn observe(faults: Vec<(&'static str, Fault)>, values: &[&str]) -> (Value, usize) {
    let stub = start(faults).await;
    let relay = Relay::start_at(&stub.url, budget).await;
    let answer = tokio::time::timeout(
        Duration::from_secs(60),
        relay.post("/observe/observables", &ips(values)),
    )
    .await
    .expect("the relay answered within its budget (the guard is a minute)");
    let (status, body) = answer;
    assert_eq!(status, 200);
    (body, stub.requests.load(Ordering::SeqCst))
}

/// The codes of `errors`, in order.
fn codes(body: &Value) -> Vec<&str> {
    body["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|x| x["code"].as_str().unwrap_or("?"))
                .collect()
        })
        .unwrap_or_default()
}

fn message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or("")
}

/// One faulty IP next to a good one: the fault's code, and the good IP's verdict kept.
async fn check(fault: Fault, code: &str, message_start: &str) -> usize {
    let (body, requests) = observe(vec![("192.0.2.66", fault)], &["192.0.2.1", "192.0.2.66"]).await;
    assert_eq!(codes(&body), [code], "{fault:?}: {body:#}");
    assert!(
        message(&body).starts_with(message_start),
        "{fault:?}: {:?} should start with {message_start:?}",
        message(&body)
    );
    let verdicts = docs(&body, "verdicts");
    assert_eq!(verdicts.len(), 1, "{fault:?}: the good IP's data is kept");
    assert_eq!(verdicts[0]["observable"]["value"], "192.0.2.1");
    crate::oracle::assert_valid_ctim(&body);
    requests
}

#[tokio::test]
async fn a_hanging_upstream_is_service_unavailable() {
    check(
        Fault::Hang,
        "service unavailable",
        "Auth0 Signals did not answer within 300 ms",
    )
    .await;
}

#[tokio::test]
async fn connection_resets_are_retried_then_service_unavailable() {
    let requests = check(
        Fault::Reset,
        "service unavailable",
        "could not reach Auth0 Signals",
    )
    .await;
    // One good lookup plus every allowed attempt of the failing one.
    assert_eq!(requests, 1 + 3);
}

#[tokio::test]
async fn a_truncated_body_is_an_error_not_a_half_report() {
    // The connection closes mid-body: a broken exchange, retried, then reported.
    let (body, _) = observe(
        vec![("192.0.2.66", Fault::Truncated)],
        &["192.0.2.1", "192.0.2.66"],
    )
    .await;
    let codes = codes(&body);
    assert_eq!(codes.len(), 1, "{body:#}");
    assert!(
        matches!(codes[0], "service unavailable" | "unknown"),
        "{body:#}"
    );
    assert_eq!(docs(&body, "verdicts").len(), 1);
}

#[tokio::test]
async fn wrongly_typed_json_is_unknown() {
    check(
        Fault::WrongTypes,
        "unknown",
        "could not decode the IP report sent by Auth0 Signals",
    )
    .await;
}

#[tokio::test]
async fn a_429_storm_with_retry_after_is_too_many_requests() {
    let requests = check(
        Fault::RateLimited,
        "too many requests",
        "Auth0 Signals rate limit reached",
    )
    .await;
    // Retry-After 1 s twice would end past the 2 s budget: the relay stops asking in time.
    assert!((2..=4).contains(&requests), "{requests} requests");
}

#[tokio::test]
async fn a_retry_after_longer_than_the_budget_is_not_waited_for() {
    let requests = check(
        Fault::RateLimitedForAnHour,
        "too many requests",
        "Auth0 Signals rate limit reached",
    )
    .await;
    assert_eq!(requests, 2, "one good lookup, one 429 not retried");
}

/// The client plans its `Retry-After` waits against the time the request has left, not its
/// own 20 s: with 1 s left, a 1 s wait cannot fit, so the caller hears "too many requests"
/// at once instead of the deadline's "service unavailable" after the wait.
#[tokio::test]
async fn a_retry_after_longer_than_the_time_left_is_not_waited_for() {
    let stub = start(vec![("192.0.2.66", Fault::RateLimited)]).await;
    let relay = Relay::start_at(&stub.url, |config| {
        config.relay.request_timeout = Duration::from_secs(1);
        config.signals.client.total_timeout = Duration::from_secs(20);
        config.signals.client.retry.max_retry_after = Duration::from_secs(5);
    })
    .await;
    let (status, body) = tokio::time::timeout(
        Duration::from_secs(60),
        relay.post("/observe/observables", &ips(&["192.0.2.66"])),
    )
    .await
    .expect("the relay answered (the guard is a minute)");
    assert_eq!(status, 200);
    assert_eq!(codes(&body), ["too many requests"], "{body:#}");
    assert_eq!(
        stub.requests.load(Ordering::SeqCst),
        1,
        "no retry after the 429"
    );
}

#[tokio::test]
async fn many_ips_rate_limited_report_one_error() {
    let limited = [
        "192.0.2.10",
        "192.0.2.11",
        "192.0.2.12",
        "192.0.2.13",
        "192.0.2.14",
    ];
    let faults = limited.iter().map(|ip| (*ip, Fault::RateLimited)).collect();
    let mut values = limited.to_vec();
    values.push("192.0.2.1");
    let (body, _) = observe(faults, &values).await;
    assert_eq!(codes(&body), ["too many requests"], "{body:#}");
    assert_eq!(docs(&body, "verdicts").len(), 1);
}

#[tokio::test]
async fn a_503_storm_is_service_unavailable() {
    check(
        Fault::Unavailable,
        "service unavailable",
        "Auth0 Signals answered HTTP 503: down",
    )
    .await;
}

#[tokio::test]
async fn a_slow_drip_is_cut_at_the_attempt_budget() {
    check(
        Fault::Drip,
        "service unavailable",
        "Auth0 Signals did not answer within 300 ms",
    )
    .await;
}

#[tokio::test]
async fn a_huge_body_is_not_read_past_the_client_bound() {
    // signals-client reads at most 4 MiB of a successful answer, then gives up on it. (The
    // budget here is generous so that reading those 4 MiB on a loaded machine is not a timeout.)
    let stub = start(vec![("192.0.2.66", Fault::Huge)]).await;
    let relay = Relay::start_at(&stub.url, |c| {
        c.signals.client.attempt_timeout = Duration::from_secs(20);
        c.signals.client.total_timeout = Duration::from_secs(30);
    })
    .await;
    let (_, body) = tokio::time::timeout(
        Duration::from_secs(60),
        relay.post("/observe/observables", &ips(&["192.0.2.1", "192.0.2.66"])),
    )
    .await
    .expect("answered");
    assert_eq!(codes(&body), ["unknown"], "{body:#}");
    assert!(
        message(&body).contains("larger than 4194304 bytes"),
        "{}",
        message(&body)
    );
    assert_eq!(docs(&body, "verdicts").len(), 1);
}

#[tokio::test]
async fn every_fault_at_once_keeps_the_good_data_and_reports_each_code() {
    let faults = vec![
        ("192.0.2.20", Fault::Hang),
        ("192.0.2.21", Fault::Reset),
        ("192.0.2.22", Fault::WrongTypes),
        ("192.0.2.23", Fault::RateLimitedForAnHour),
        ("192.0.2.24", Fault::Unavailable),
        ("192.0.2.25", Fault::Drip),
    ];
    let values = [
        "192.0.2.1",
        "192.0.2.20",
        "192.0.2.21",
        "192.0.2.22",
        "192.0.2.23",
        "192.0.2.24",
        "192.0.2.25",
        "192.0.2.2",
    ];
    let (body, _) = observe(faults, &values).await;
    let mut got = codes(&body);
    got.sort_unstable();
    got.dedup();
    assert_eq!(
        got,
        ["service unavailable", "too many requests", "unknown"],
        "{body:#}"
    );
    assert_eq!(docs(&body, "verdicts").len(), 2);
    crate::oracle::assert_valid_ctim(&body);
}
