//! The load driver: C workers in a closed loop on one keep-alive client, every latency kept.
//!
//! Why a small tokio driver and not `oha` or `wrk`: the scenarios need JSON bodies, an
//! `Authorization` (or `X-Auth-Token`) header, and for `observe-50-cold` a different body on
//! every request (fresh IPs); an answer only counts as a success when it is a 200 *and* its
//! JSON has no `errors` key, which neither tool checks. `wrk` needs a Lua script for all of
//! that, `oha` is not packaged in Debian (one more thing to install), and both would be one
//! more binary for CI to find. A closed loop on reqwest with keep-alive is what Threat Response
//! itself does, and keeping every latency (then sorting) gives exact percentiles, not bucketed
//! ones, at the few hundred thousand requests a short run makes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use super::scenario::{Requests, Scenario};

/// What a load run does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoadConfig {
    pub(crate) scenario: Scenario,
    pub(crate) concurrency: usize,
    /// Measured time, after the warm-up.
    pub(crate) duration: Duration,
    /// Requests completed before this is over are not counted (connections, caches, JIT-free
    /// but allocator and pool warm-up).
    pub(crate) warmup: Duration,
}

/// How the driver authenticates.
#[derive(Debug, Clone)]
pub(crate) enum Credential {
    /// A relay: `Authorization: Bearer <JWT>`.
    Jwt(String),
    /// The stand-in (or the real Signals API): `X-Auth-Token: <API key>`.
    ApiKey(String),
}

/// What a load run measured. Latencies in microseconds.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoadResult {
    pub(crate) scenario: String,
    pub(crate) concurrency: usize,
    pub(crate) requests: u64,
    pub(crate) errors: u64,
    pub(crate) seconds: f64,
    pub(crate) requests_per_second: f64,
    pub(crate) p50_us: f64,
    pub(crate) p90_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) max_us: f64,
    /// The first failure seen, to say why `errors` is not 0.
    pub(crate) first_error: Option<String>,
}

impl LoadResult {
    /// A result from single latencies (the cold-cache samples, one per fresh relay).
    pub(crate) fn from_samples(
        scenario: &str,
        samples: Vec<Duration>,
        errors: u64,
        first_error: Option<String>,
    ) -> LoadResult {
        let seconds = samples.iter().map(Duration::as_secs_f64).sum();
        let mut nanos: Vec<u64> = samples.iter().map(|d| nanos(*d)).collect();
        nanos.sort_unstable();
        summarise(scenario, 1, nanos, errors, seconds, first_error)
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "scenario": self.scenario,
            "concurrency": self.concurrency,
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "requests_per_second": round(self.requests_per_second, 1),
            "p50_us": round(self.p50_us, 1),
            "p90_us": round(self.p90_us, 1),
            "p99_us": round(self.p99_us, 1),
            "max_us": round(self.max_us, 1),
            "first_error": self.first_error,
        })
    }
}

pub(crate) fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A keep-alive HTTP/1.1 client with room for `concurrency` idle connections.
pub(crate) fn client(concurrency: usize) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// Runs one scenario against `base_url` and measures it.
pub(crate) async fn run(
    base_url: &str,
    credential: &Credential,
    config: LoadConfig,
) -> Result<LoadResult, String> {
    let client = client(config.concurrency)?;
    let requests = Arc::new(Requests::new(config.scenario, base_url));
    let started = Instant::now();
    let measure_from = started + config.warmup;
    let end = measure_from + config.duration;
    let mut workers = Vec::with_capacity(config.concurrency);
    for _ in 0..config.concurrency.max(1) {
        let (client, requests, credential) =
            (client.clone(), Arc::clone(&requests), credential.clone());
        workers.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < end {
                let sent = Instant::now();
                let outcome = once(&client, &requests, &credential).await;
                if sent >= measure_from {
                    tally.record(sent.elapsed(), outcome);
                }
            }
            tally
        }));
    }
    let mut total = Tally::default();
    for worker in workers {
        let tally = worker
            .await
            .map_err(|e| format!("a load worker failed: {e}"))?;
        total.merge(tally);
    }
    total.latencies.sort_unstable();
    Ok(summarise(
        config.scenario.name(),
        config.concurrency,
        total.latencies,
        total.errors,
        config.duration.as_secs_f64(),
        total.first_error,
    ))
}

/// One request; `Err` says why it does not count as a success.
pub(crate) async fn once(
    client: &reqwest::Client,
    requests: &Requests,
    credential: &Credential,
) -> Result<(), String> {
    let request = requests.next();
    let mut builder = client.request(request.method, &request.url);
    builder = match credential {
        Credential::Jwt(jwt) => builder.bearer_auth(jwt),
        Credential::ApiKey(key) => builder.header("X-Auth-Token", key),
    };
    if let Some(body) = request.body {
        builder = builder
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
    }
    let response = builder
        .send()
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("body cut short: {e}"))?;
    check_answer(status.as_u16(), &body)
}

/// A success is a 200 whose JSON body has no top-level `errors` (a relay answers partial
/// failures as 200 with `errors` beside `data`).
fn check_answer(status: u16, body: &[u8]) -> Result<(), String> {
    #[derive(Deserialize)]
    struct Envelope {
        errors: Option<IgnoredAny>,
    }
    let snippet = || String::from_utf8_lossy(body.get(..200).unwrap_or(body)).into_owned();
    if status != 200 {
        return Err(format!("HTTP {status}: {}", snippet()));
    }
    match serde_json::from_slice::<Envelope>(body) {
        Ok(Envelope { errors: None }) => Ok(()),
        Ok(Envelope { errors: Some(_) }) => Err(format!("errors in the answer: {}", snippet())),
        Err(e) => Err(format!("not a JSON object ({e}): {}", snippet())),
    }
}

#[derive(Debug, Default)]
struct Tally {
    latencies: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn record(&mut self, latency: Duration, outcome: Result<(), String>) {
        self.latencies.push(nanos(latency));
        if let Err(e) = outcome {
            self.errors += 1;
            self.first_error.get_or_insert(e);
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// Percentiles of sorted nanosecond latencies.
fn summarise(
    scenario: &str,
    concurrency: usize,
    sorted: Vec<u64>,
    errors: u64,
    seconds: f64,
    first_error: Option<String>,
) -> LoadResult {
    let at = |q: f64| percentile(&sorted, q) as f64 / 1000.0;
    let requests = sorted.len() as u64;
    LoadResult {
        scenario: scenario.to_owned(),
        concurrency,
        requests,
        errors,
        seconds,
        requests_per_second: if seconds > 0.0 {
            requests as f64 / seconds
        } else {
            0.0
        },
        p50_us: at(0.50),
        p90_us: at(0.90),
        p99_us: at(0.99),
        max_us: at(1.0),
        first_error,
    }
}

/// The nearest-rank percentile: the smallest value with at least `q` of the values at or
/// below it; 0 when there are none.
fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.clamp(1, sorted.len()) - 1)
        .copied()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_percentile(values: &[u64], q: f64, expected: u64) {
        assert_eq!(percentile(values, q), expected, "{values:?} at {q}");
    }

    #[test]
    fn nearest_rank_percentiles() {
        check_percentile(&[], 0.5, 0);
        check_percentile(&[7], 0.5, 7);
        check_percentile(&[7], 1.0, 7);
        check_percentile(&[1, 2, 3, 4], 0.5, 2);
        check_percentile(&[1, 2, 3, 4], 0.75, 3);
        check_percentile(&[1, 2, 3, 4], 0.76, 4);
        check_percentile(&[1, 2, 3, 4], 1.0, 4);
        let hundred: Vec<u64> = (1..=100).collect();
        check_percentile(&hundred, 0.90, 90);
        check_percentile(&hundred, 0.99, 99);
        check_percentile(&hundred, 0.0, 1);
    }

    fn check(status: u16, body: &str, ok: bool) {
        assert_eq!(
            check_answer(status, body.as_bytes()).is_ok(),
            ok,
            "{status} {body}"
        );
    }

    #[test]
    fn answers_that_count_as_success() {
        check(200, r#"{"data":{}}"#, true);
        check(200, r#"{"fullip":{"score":0}}"#, true);
        check(200, r#"{"data":{"x":"errors"}}"#, true);
        check(200, r#"{"data":{},"errors":[{"code":"x"}]}"#, false);
        check(200, r#"{"errors":[]}"#, false);
        check(401, r#"{"data":{}}"#, false);
        check(200, "Unauthorized", false);
        check(200, "[1,2]", false);
    }

    #[test]
    fn summary_of_samples() {
        let samples = (1..=10).map(Duration::from_millis).collect();
        let r = LoadResult::from_samples("s", samples, 1, Some("x".into()));
        assert_eq!(r.requests, 10);
        assert_eq!(r.errors, 1);
        assert_eq!(r.p50_us, 5000.0);
        assert_eq!(r.max_us, 10000.0);
    }
}
