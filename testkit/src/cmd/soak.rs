//! `testkit soak --bin DIR [--seconds N]` (`cargo xtask soak`): a bounded run of mixed
//! traffic, errors included, against the real relay-server and the Auth0 Signals stand-in on
//! loopback.
//!
//! Passes when there was no 5xx, no panic in the server's log, and its resident memory after
//! the run is within [`MAX_RSS_GROWTH_KIB`] of what it was after warm-up.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use std::path::PathBuf;

use testkit::relay;

use super::{LocalRelay, message};
use testkit::rss;

/// Warm-up before the "before" sample: pools, caches and allocator arenas fill up first.
const WARM_UP: Duration = Duration::from_secs(3);
/// Concurrent clients.
const CLIENTS: u64 = 8;
/// The most resident memory may grow between warm-up and the end of the run.
const MAX_RSS_GROWTH_KIB: u64 = 4 * 1024;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The folder of the (debug) relay-server.
    #[arg(long)]
    bin: PathBuf,
    /// How long the measured run lasts, after the warm-up.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    seconds: u64,
}

/// What the clients saw: requests, 5xx answers, requests with no answer, relay error answers.
#[derive(Debug, Default)]
struct Counts([AtomicU64; 4]);

pub(crate) fn run(args: &Args) -> Result<(), String> {
    super::until_interrupted(soak(&args.bin, Duration::from_secs(args.seconds)))
}

async fn soak(bin: &std::path::Path, duration: Duration) -> Result<(), String> {
    let mut relay = LocalRelay::start(bin, "info", &[]).await?;
    let (_, unknown_key) =
        relay::jwt(&relay.bin, "not-a-key-the-stub-knows", Some(&relay.secret)).map_err(message)?;
    let (pid, url) = (relay.server.pid(), relay.server.url());
    let (secs, warm) = (duration.as_secs(), WARM_UP.as_secs());
    println!(
        "soak: relay-server (pid {pid}) at {url}; {CLIENTS} clients for {secs}s after {warm}s of warm-up"
    );
    let jwts = [relay.jwt.clone(), unknown_key];
    let counts = Arc::new(Counts::default());
    drive(&url, &jwts, &counts, WARM_UP).await?;
    let rss = || {
        rss::read(pid)
            .map(|m| m.rss_kib)
            .ok_or("cannot read the relay's VmRSS (did it die?)")
    };
    let before = rss()?;
    let started = Instant::now();
    drive(&url, &jwts, &counts, duration).await?;
    let elapsed = started.elapsed().as_secs_f64();
    // Let in-flight work and timers settle before the second sample.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss()?;
    let [requests, server_errors, failures, relay_errors] =
        counts.0.each_ref().map(|n| n.load(Relaxed));
    let panics = relay.server.log_counts().1;
    println!(
        "soak: {requests} requests in {elapsed:.1}s ({:.0}/s), {relay_errors} relay error answers \
         (expected: the traffic includes bad tokens, bodies and keys), {server_errors} 5xx, \
         {failures} transport failures, {panics} panics",
        requests as f64 / elapsed.max(0.001),
    );
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "soak: RSS {:.1} MiB after warm-up, {:.1} MiB after the run ({:+.1} MiB; limit +{:.1} MiB)",
        mib(before),
        mib(after),
        mib(after) - mib(before),
        mib(MAX_RSS_GROWTH_KIB)
    );
    let growth = after.saturating_sub(before);
    let problems: Vec<String> = [
        (server_errors > 0).then(|| format!("{server_errors} answers were 5xx")),
        (failures > 0).then(|| format!("{failures} requests got no answer")),
        (!relay.server.healthy()).then(|| {
            format!(
                "relay-server panicked or died:\n{}",
                relay.server.last_lines().join("\n")
            )
        }),
        (growth > MAX_RSS_GROWTH_KIB).then(|| format!("RSS grew by {:.1} MiB", mib(growth))),
        (requests == 0).then(|| "no request was made".to_owned()),
    ]
    .into_iter()
    .flatten()
    .collect();
    match problems.is_empty() {
        true => Ok(()),
        false => Err(format!("soak failed: {}", problems.join("; "))),
    }
}

/// `CLIENTS` loops sending the mix until `duration` has passed.
async fn drive(
    url: &str,
    jwts: &[String; 2],
    counts: &Arc<Counts>,
    duration: Duration,
) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|worker| {
            let (client, counts, url, jwts) = (
                client.clone(),
                Arc::clone(counts),
                url.to_owned(),
                jwts.clone(),
            );
            tokio::spawn(async move {
                let mut i = worker * 7919;
                while Instant::now() < deadline {
                    let request = mixed_request(&client, &url, &jwts, i);
                    i += 1;
                    record(&counts, request.send().await).await;
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    Ok(())
}

async fn record(counts: &Counts, result: reqwest::Result<reqwest::Response>) {
    let [requests, server_errors, failures, relay_errors] = &counts.0;
    requests.fetch_add(1, Relaxed);
    let Ok(response) = result else {
        failures.fetch_add(1, Relaxed);
        return;
    };
    if response.status().is_server_error() {
        server_errors.fetch_add(1, Relaxed);
    }
    if response
        .json::<Value>()
        .await
        .is_ok_and(|body| body.get("errors").is_some())
    {
        relay_errors.fetch_add(1, Relaxed);
    }
}

/// The `i`-th request of the mix: mostly lookups of ever new addresses (so caches and pools
/// see fresh keys), with every kind of error in between. `jwts`: a good one, and one carrying
/// a key the stand-in refuses.
fn mixed_request(
    client: &reqwest::Client,
    url: &str,
    [jwt, unknown_key]: &[String; 2],
    i: u64,
) -> reqwest::RequestBuilder {
    // A /16 of addresses, walked so the relay keeps meeting IPs it has not seen.
    let ip = |n: u64| format!("198.18.{}.{}", (n >> 8) & 0xff, n & 0xff);
    let ips = |count: u64| -> Value {
        (0..count)
            .map(|k| json!({"type": "ip", "value": ip(i * 5 + k)}))
            .collect()
    };
    let post = |path: &str| client.post(format!("{url}{path}")).bearer_auth(jwt);
    let post_as = |token: &str| {
        client
            .post(format!("{url}/observe/observables"))
            .bearer_auth(token)
    };
    match i % 16 {
        0..=4 => post("/observe/observables").json(&ips(3)),
        5 | 6 => post("/deliberate/observables").json(&ips(5)),
        7 => post("/refer/observables").json(&ips(2)),
        8 => post("/health"),
        // A forged token.
        9 => post_as(&format!("{jwt}x")).json(&ips(1)),
        // A body that is not observables.
        10 => post("/observe/observables").body("{\"not\": \"a list\"}"),
        // Unsupported and invalid observables: skipped, nothing upstream.
        11 => post("/deliberate/observables").json(&json!([
            {"type": "domain", "value": "example.org"},
            {"type": "ip", "value": "../../metadata"},
        ])),
        // A valid token whose key the upstream refuses (a 401 upstream).
        12 => post_as(unknown_key).json(&ips(1)),
        13 => client
            .get(format!("{url}/watchdog"))
            .header("Health-Check", "soak"),
        14 => post("/nowhere"),
        _ => client.get(format!("{url}/observe/observables")),
    }
}
