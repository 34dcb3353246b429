//! The load driver: C workers in a closed loop on one keep-alive client, every latency kept.
//!
//! A small tokio driver rather than `oha` or `wrk`: the scenarios need JSON bodies, a relay's
//! or the API's credential header, a fresh body per request for `observe-50-cold`, and an
//! answer only counts as a success when it is a 200 *and* its JSON has no `errors` key, which
//! neither tool checks. A closed loop on keep-alive connections is what Threat Response does,
//! and keeping every latency gives exact percentiles.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::IgnoredAny;

use super::scenario::{Requests, Scenario};

/// What a load run does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoadConfig {
    pub(crate) scenario: Scenario,
    pub(crate) concurrency: usize,
    /// Measured time, after the warm-up.
    pub(crate) duration: Duration,
    /// Requests completed before this is over are not counted (connections, pools, caches).
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

/// What a load run measured. Latencies in microseconds, rounded to 0.1.
#[derive(Debug, Clone, Default, Serialize)]
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

pub(crate) fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
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
    let measure_from = Instant::now() + config.warmup;
    let end = measure_from + config.duration;
    let workers: Vec<_> = (0..config.concurrency.max(1))
        .map(|_| {
            let (client, requests, credential) =
                (client.clone(), Arc::clone(&requests), credential.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while Instant::now() < end {
                    let sent = Instant::now();
                    let outcome = once(&client, &requests, &credential).await;
                    if sent >= measure_from {
                        tally.record(sent.elapsed(), outcome);
                    }
                }
                tally
            })
        })
        .collect();
    let mut total = Tally::default();
    for worker in workers {
        total.merge(
            worker
                .await
                .map_err(|e| format!("a load worker failed: {e}"))?,
        );
    }
    let seconds = config.duration.as_secs_f64();
    Ok(total.summarise(&config.scenario.name(), config.concurrency, seconds))
}

/// One request; `Err` says why it does not count as a success.
pub(crate) async fn once(
    client: &reqwest::Client,
    requests: &Requests,
    credential: &Credential,
) -> Result<(), String> {
    let (get, url, body) = requests.next();
    let mut builder = if get {
        client.get(url)
    } else {
        client.post(url)
    };
    builder = match credential {
        Credential::Jwt(jwt) => builder.bearer_auth(jwt),
        Credential::ApiKey(key) => builder.header("X-Auth-Token", key),
    };
    if let Some(body) = body {
        builder = builder
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
    }
    let response = builder
        .send()
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("body cut short: {e}"))?;
    check_answer(status, &body)
}

/// A success is a 200 whose JSON body has no top-level `errors` (a relay answers partial
/// failures as 200 with `errors` beside `data`).
fn check_answer(status: u16, body: &[u8]) -> Result<(), String> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        errors: Option<IgnoredAny>,
    }
    let snippet = String::from_utf8_lossy(body.get(..200).unwrap_or(body));
    match serde_json::from_slice::<Envelope>(body) {
        _ if status != 200 => Err(format!("HTTP {status}: {snippet}")),
        Ok(Envelope { errors: None }) => Ok(()),
        Ok(Envelope { errors: Some(_) }) => Err(format!("errors in the answer: {snippet}")),
        Err(e) => Err(format!("not a JSON object ({e}): {snippet}")),
    }
}

/// Latencies (nanoseconds) and failures of some requests.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    latencies: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    pub(crate) fn record(&mut self, latency: Duration, outcome: Result<(), String>) {
        self.latencies
            .push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
        if let Err(e) = outcome {
            self.errors += 1;
            self.first_error.get_or_insert(e);
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
    }

    /// The result of `seconds` of requests: throughput and nearest-rank percentiles.
    pub(crate) fn summarise(
        mut self,
        scenario: &str,
        concurrency: usize,
        seconds: f64,
    ) -> LoadResult {
        self.latencies.sort_unstable();
        let at = |q: f64| round(percentile(&self.latencies, q) as f64 / 1000.0, 1);
        let requests = self.latencies.len() as u64;
        let rate = if seconds > 0.0 {
            requests as f64 / seconds
        } else {
            0.0
        };
        LoadResult {
            scenario: scenario.to_owned(),
            concurrency,
            requests,
            errors: self.errors,
            seconds: round(seconds, 3),
            requests_per_second: round(rate, 1),
            p50_us: at(0.50),
            p90_us: at(0.90),
            p99_us: at(0.99),
            max_us: at(1.0),
            first_error: self.first_error,
        }
    }
}

/// The nearest-rank percentile: the smallest value with at least `q` of the values at or
/// below it; 0 when there are none.
fn percentile(sorted: &[u64], q: f64) -> u64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.clamp(1, sorted.len().max(1)) - 1)
        .copied()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let hundred: Vec<u64> = (1..=100).collect();
        #[rustfmt::skip]
        let cases: [(&[u64], f64, u64); 10] = [
            (&[], 0.5, 0), (&[7], 0.5, 7), (&[7], 1.0, 7), (&[1, 2, 3, 4], 0.5, 2),
            (&[1, 2, 3, 4], 0.75, 3), (&[1, 2, 3, 4], 0.76, 4), (&[1, 2, 3, 4], 1.0, 4),
            (&hundred, 0.90, 90), (&hundred, 0.99, 99), (&hundred, 0.0, 1),
        ];
        for (values, q, expected) in cases {
            assert_eq!(percentile(values, q), expected, "{values:?} at {q}");
        }
    }

    #[test]
    fn answers_that_count_as_success() {
        #[rustfmt::skip]
        let cases = [
            (200, r#"{"data":{}}"#, true), (200, r#"{"fullip":{"score":0}}"#, true),
            (200, r#"{"data":{"x":"errors"}}"#, true), (200, r#"{"data":{},"errors":[{"code":"x"}]}"#, false),
            (200, r#"{"errors":[]}"#, false), (401, r#"{"data":{}}"#, false),
            (200, "Unauthorized", false), (200, "[1,2]", false),
        ];
        for (status, body, ok) in cases {
            assert_eq!(
                check_answer(status, body.as_bytes()).is_ok(),
                ok,
                "{status} {body}"
            );
        }
    }

    #[test]
    fn summary_of_samples() {
        let mut tally = Tally::default();
        (1..=10).for_each(|ms| tally.record(Duration::from_millis(ms), Ok(())));
        tally.record(Duration::from_millis(11), Err("x".into()));
        let r = tally.summarise("s", 1, 2.0);
        assert_eq!((r.requests, r.errors, r.requests_per_second), (11, 1, 5.5));
        assert_eq!((r.p50_us, r.max_us), (6000.0, 11000.0));
    }
}
