//! `cargo xtask soak [--seconds N]`: a bounded run of mixed traffic, errors included, against
//! the real relay-server and the Auth0 Signals stand-in on loopback.
//!
//! Passes when there was no 5xx, no panic in the server's log, and its resident memory after
//! the run is within [`MAX_RSS_GROWTH_KIB`] of what it was after warm-up.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::bench::rss;
use crate::relay_proc::Relay;

const DEFAULT_SECONDS: u64 = 60;
/// Warm-up before the "before" sample: pools, caches and allocator arenas fill up first.
const WARM_UP: Duration = Duration::from_secs(3);
/// Concurrent clients.
const CLIENTS: usize = 8;
/// The most resident memory may grow between warm-up and the end of the run.
const MAX_RSS_GROWTH_KIB: u64 = 4 * 1024;

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let seconds = parse_args(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(soak(Duration::from_secs(seconds)))
}

fn parse_args(args: &[String]) -> Result<u64, String> {
    match args {
        [] => Ok(DEFAULT_SECONDS),
        [flag, n] if flag == "--seconds" => n
            .parse::<u64>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("soak: --seconds takes a positive number, got `{n}`")),
        _ => Err("soak: usage: cargo xtask soak [--seconds N]".into()),
    }
}

/// What the clients saw.
#[derive(Debug, Default)]
struct Counts {
    requests: AtomicU64,
    server_errors: AtomicU64,
    failures: AtomicU64,
    relay_errors: AtomicU64,
}

async fn soak(duration: Duration) -> Result<(), String> {
    let mut relay = Relay::start(&[]).await?;
    let pid = relay.pid();
    println!(
        "soak: relay-server (pid {pid}) at {}; {CLIENTS} clients for {}s after {}s of warm-up",
        relay.url,
        duration.as_secs(),
        WARM_UP.as_secs()
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let counts = Arc::new(Counts::default());

    drive(&client, &relay, &counts, WARM_UP).await;
    let before = rss::read(pid)
        .map(|m| m.rss_kib)
        .ok_or("cannot read the relay's VmRSS")?;
    let started = Instant::now();
    drive(&client, &relay, &counts, duration).await;
    let elapsed = started.elapsed();
    // Let in-flight work and timers settle before the second sample.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss::read(pid)
        .map(|m| m.rss_kib)
        .ok_or("cannot read the relay's VmRSS (did it die?)")?;

    let requests = counts.requests.load(Ordering::Relaxed);
    let server_errors = counts.server_errors.load(Ordering::Relaxed);
    let failures = counts.failures.load(Ordering::Relaxed);
    let growth = after.saturating_sub(before);
    println!(
        "soak: {requests} requests in {:.1}s ({:.0}/s), {} relay error answers (expected: the \
         traffic includes bad tokens, bodies and keys), {server_errors} 5xx, {failures} \
         transport failures, {} panics",
        elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64().max(0.001),
        counts.relay_errors.load(Ordering::Relaxed),
        relay.panics()
    );
    println!(
        "soak: RSS {:.1} MiB after warm-up, {:.1} MiB after the run ({:+.1} MiB; limit +{:.1} MiB)",
        mib(before),
        mib(after),
        (after as f64 - before as f64) / 1024.0,
        mib(MAX_RSS_GROWTH_KIB)
    );
    let mut problems = Vec::new();
    if server_errors > 0 {
        problems.push(format!("{server_errors} answers were 5xx"));
    }
    if failures > 0 {
        problems.push(format!("{failures} requests got no answer"));
    }
    if relay.panics() > 0 || !relay.alive() {
        problems.push(format!(
            "relay-server panicked or died:\n{}",
            relay.last_lines().join("\n")
        ));
    }
    if growth > MAX_RSS_GROWTH_KIB {
        problems.push(format!("RSS grew by {:.1} MiB", mib(growth)));
    }
    if requests == 0 {
        problems.push("no request was made".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("soak failed: {}", problems.join("; ")))
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `CLIENTS` loops sending the mix until `duration` has passed.
async fn drive(client: &reqwest::Client, relay: &Relay, counts: &Arc<Counts>, duration: Duration) {
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::with_capacity(CLIENTS);
    for worker in 0..CLIENTS {
        let (client, counts) = (client.clone(), Arc::clone(counts));
        let (url, jwt) = (relay.url.clone(), relay.jwt.clone());
        let unknown_key = relay.unknown_key_jwt.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = worker as u64 * 7919;
            while Instant::now() < deadline {
                let request = mixed_request(&client, &url, [&jwt, &unknown_key], i);
                i += 1;
                record(&counts, request.send().await).await;
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}

async fn record(counts: &Counts, result: reqwest::Result<reqwest::Response>) {
    counts.requests.fetch_add(1, Ordering::Relaxed);
    match result {
        Ok(response) => {
            if response.status().is_server_error() {
                counts.server_errors.fetch_add(1, Ordering::Relaxed);
            }
            let body: Value = response.json().await.unwrap_or(Value::Null);
            if body.get("errors").is_some() {
                counts.relay_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        Err(_) => {
            counts.failures.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The `i`-th request of the mix: mostly lookups of ever new addresses (so caches and pools
/// see fresh keys), with every kind of error in between.
fn mixed_request(
    client: &reqwest::Client,
    url: &str,
    [jwt, unknown_key]: [&str; 2],
    i: u64,
) -> reqwest::RequestBuilder {
    // A /16 of addresses, walked so the relay keeps meeting IPs it has not seen.
    let ip = |n: u64| format!("198.18.{}.{}", (n >> 8) & 0xff, n & 0xff);
    let ips = |n: u64, count: u64| -> Value {
        Value::Array(
            (0..count)
                .map(|k| json!({"type": "ip", "value": ip(n * 5 + k)}))
                .collect(),
        )
    };
    let post = |path: &str| client.post(format!("{url}{path}"));
    match i % 16 {
        0..=4 => post("/observe/observables")
            .bearer_auth(jwt)
            .json(&ips(i, 3)),
        5 | 6 => post("/deliberate/observables")
            .bearer_auth(jwt)
            .json(&ips(i, 5)),
        7 => post("/refer/observables").bearer_auth(jwt).json(&ips(i, 2)),
        8 => post("/health").bearer_auth(jwt),
        // A forged token.
        9 => post("/observe/observables")
            .bearer_auth(format!("{jwt}x"))
            .json(&ips(i, 1)),
        // A body that is not observables.
        10 => post("/observe/observables")
            .bearer_auth(jwt)
            .body("{\"not\": \"a list\"}"),
        // Unsupported and invalid observables: skipped, nothing upstream.
        11 => post("/deliberate/observables")
            .bearer_auth(jwt)
            .json(&json!([
                {"type": "domain", "value": "example.org"},
                {"type": "ip", "value": "../../metadata"},
            ])),
        // A valid token whose key the upstream refuses (a 401 upstream).
        12 => post("/observe/observables")
            .bearer_auth(unknown_key)
            .json(&ips(i, 1)),
        13 => client
            .get(format!("{url}/watchdog"))
            .header("Health-Check", "soak"),
        14 => post("/nowhere").bearer_auth(jwt),
        _ => client.get(format!("{url}/observe/observables")),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_args;

    fn check(args: &[&str], expected: Option<u64>) {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(parse_args(&args).ok(), expected, "{args:?}");
    }

    #[test]
    fn arguments() {
        check(&[], Some(60));
        check(&["--seconds", "20"], Some(20));
        check(&["--seconds", "0"], None);
        check(&["--seconds"], None);
        check(&["--minutes", "1"], None);
    }
}
