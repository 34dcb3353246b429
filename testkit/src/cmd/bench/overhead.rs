//! What Prometheus metrics cost: `observe-1` throughput of relays with and without
//! `--metrics-listen`, in alternating rounds so that drift in the machine's load falls on
//! both alike; the medians are compared.

use std::net::TcpListener;

use super::load::{self, LoadResult};
use super::scenario::Scenario;
use super::{LoadFlags, Setup};
use testkit::relay::{self, Server};

use crate::cmd::message;

/// Median requests/s of `observe-1` without and with metrics, at `rounds` rounds each.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Overhead {
    pub(crate) off_rps: f64,
    pub(crate) on_rps: f64,
    pub(crate) rounds: usize,
}

impl Overhead {
    /// How much slower the relay is with metrics on, in percent (negative: faster).
    pub(crate) fn percent(&self) -> f64 {
        (self.off_rps - self.on_rps) / self.off_rps.max(1e-9) * 100.0
    }
}

pub(crate) async fn measure(
    setup: &Setup,
    upstream: &str,
    flags: LoadFlags,
    rounds: usize,
) -> Result<Overhead, String> {
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for round in 1..=rounds.max(1) {
        for metrics in [false, true] {
            let result = run(setup, upstream, flags, metrics).await?;
            let label = if metrics { "on " } else { "off" };
            super::step(&format!(
                "metrics {label} round {round}: {:.0} req/s",
                result.requests_per_second
            ));
            if result.errors > 0 {
                return Err(format!(
                    "observe-1 failed with metrics {label}: {:?}",
                    result.first_error
                ));
            }
            let into = if metrics { &mut on } else { &mut off };
            into.push(result.requests_per_second);
        }
    }
    Ok(Overhead {
        off_rps: median(&mut off),
        on_rps: median(&mut on),
        rounds: rounds.max(1),
    })
}

/// One fresh relay, loaded with `observe-1`; with metrics, the scrape afterwards must count
/// every request, so the figure cannot come from a relay that recorded nothing.
async fn run(
    setup: &Setup,
    upstream: &str,
    flags: LoadFlags,
    metrics: bool,
) -> Result<LoadResult, String> {
    let mut command = relay::relay_command(&setup.bin, &setup.secret, upstream, None);
    let metrics_address = if metrics {
        let address = free_address()?;
        command.args(["--metrics-listen", &address]);
        Some(address)
    } else {
        None
    };
    let relay = Server::spawn(&mut command, false).map_err(message)?;
    let config = flags.config(Scenario::Observe1, flags.concurrency);
    let result = load::run(&relay.url(), &setup.credential(), config).await?;
    if let Some(address) = metrics_address {
        let text = reqwest::get(format!("http://{address}/metrics"))
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("cannot scrape the relay's metrics: {e}"))?
            .text()
            .await
            .map_err(|e| format!("cannot read the relay's metrics: {e}"))?;
        let series = r#"relay_requests_total{route="/observe/observables",status="2xx"} "#;
        let counted: f64 = text
            .lines()
            .find_map(|line| line.strip_prefix(series))
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| format!("the relay's metrics count no observe requests:\n{text}"))?;
        // The warm-up's requests are counted too.
        if counted < result.requests as f64 {
            return Err(format!(
                "the relay counted {counted} observe requests, the load sent {} measured ones",
                result.requests
            ));
        }
    }
    Ok(result)
}

/// A loopback address with a port free a moment ago (the metrics listener logs its address
/// on a line of its own, so the port is chosen here).
fn free_address() -> Result<String, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port on 127.0.0.1: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.to_string())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}
