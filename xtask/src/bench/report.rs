//! The default run's findings: one table, the targets, and `report.json`.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use super::load::{LoadResult, round};
use super::rss::{self, Memory};
use super::startup::median;

/// One measured line of the table.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) upstream_latency_ms: u64,
    /// `relay`, `stub` (the stand-in loaded directly) or `passthrough` (the cheapest relay,
    /// see `bench::passthrough`).
    pub(crate) target: &'static str,
    pub(crate) result: LoadResult,
    /// The relay's largest `VmRSS` during the run, when sampled.
    pub(crate) peak_rss_kib: Option<u64>,
}

impl Row {
    pub(crate) fn relay(latency: u64, result: LoadResult, peak_rss_kib: Option<u64>) -> Row {
        Row {
            upstream_latency_ms: latency,
            target: "relay",
            result,
            peak_rss_kib,
        }
    }

    pub(crate) fn passthrough(latency: u64, result: LoadResult) -> Row {
        Row {
            upstream_latency_ms: latency,
            target: "passthrough",
            result,
            peak_rss_kib: None,
        }
    }

    pub(crate) fn stub(latency: u64, result: LoadResult) -> Row {
        Row {
            upstream_latency_ms: latency,
            target: "stub",
            result,
            peak_rss_kib: None,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) load_before: Option<f64>,
    pub(crate) load_after: Option<f64>,
    pub(crate) concurrency: usize,
    pub(crate) duration_s: f64,
    pub(crate) rows: Vec<Row>,
    pub(crate) idle_rss_kib: Option<u64>,
    pub(crate) memory_256: Option<Memory>,
    pub(crate) startup_server: Vec<Duration>,
    pub(crate) startup_lambda: Vec<Duration>,
    pub(crate) lambda_zip_bytes: Option<u64>,
}

/// One of the targets, met or not.
struct Target {
    name: &'static str,
    goal: String,
    measured: Option<f64>,
    unit: &'static str,
    met: Option<bool>,
}

pub(crate) fn header() -> String {
    format!(
        "{:<8} {:<11} {:<16} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8}",
        "upstream",
        "target",
        "scenario",
        "conc",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "errors",
        "rss MiB"
    )
}

pub(crate) fn line(
    upstream: &str,
    target: &str,
    r: &LoadResult,
    peak_rss_kib: Option<u64>,
) -> String {
    let ms = |us: f64| format!("{:.3}", us / 1000.0);
    format!(
        "{:<8} {:<11} {:<16} {:>5} {:>9.0} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8}",
        upstream,
        target,
        r.scenario,
        r.concurrency,
        r.requests_per_second,
        ms(r.p50_us),
        ms(r.p90_us),
        ms(r.p99_us),
        ms(r.max_us),
        r.errors,
        peak_rss_kib.map_or("-".into(), |k| format!("{:.1}", rss::mib(k)))
    )
}

impl Report {
    fn find(&self, latency: u64, target: &str, scenario: &str, concurrency: usize) -> Option<&Row> {
        self.rows.iter().find(|r| {
            r.upstream_latency_ms == latency
                && r.target == target
                && r.result.scenario == scenario
                && r.result.concurrency == concurrency
        })
    }

    fn targets(&self) -> Vec<Target> {
        let c = self.concurrency;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let below = |x: Option<f64>, limit: f64| x.map(|x| x < limit);
        let relay_rps = self
            .find(0, "relay", "observe-1", c)
            .map(|r| r.result.requests_per_second);
        let stub_rps = self
            .find(0, "stub", "stub", c)
            .map(|r| r.result.requests_per_second);
        let ratio = relay_rps.zip(stub_rps).map(|(a, b)| a / b.max(1e-9));
        let overhead = self
            .find(0, "relay", "observe-1", 1)
            .zip(self.find(0, "stub", "stub", 1))
            .map(|(relay, stub)| relay.result.p50_us - stub.result.p50_us);
        let p50_ms = |scenario| {
            self.find(50, "relay", scenario, 1)
                .map(|r| r.result.p50_us / 1000.0)
        };
        let cold = p50_ms("observe-50-cold");
        let warm = p50_ms("observe-50-warm");
        let server = (!self.startup_server.is_empty()).then(|| ms(median(&self.startup_server)));
        let lambda = (!self.startup_lambda.is_empty()).then(|| ms(median(&self.startup_lambda)));
        let rss_256 = self.memory_256.map(|m| rss::mib(m.hwm_kib));
        let zip = self
            .lambda_zip_bytes
            .map(|bytes| bytes as f64 / (1024.0 * 1024.0));
        let errors: u64 = self.rows.iter().map(|r| r.result.errors).sum();
        vec![
            Target {
                name: "observe-1 relay/stub requests/s (0 ms)",
                goal: "≥ 0.50".into(),
                measured: ratio,
                unit: "",
                met: ratio.map(|r| r >= 0.5),
            },
            Target {
                name: "observe-1 relay overhead at p50 (0 ms, 1 conn)",
                goal: "< 250 µs".into(),
                measured: overhead,
                unit: "µs",
                met: below(overhead, 250.0),
            },
            Target {
                name: "observe-50 cold p50 (50 ms)",
                goal: "< 130 ms".into(),
                measured: cold,
                unit: "ms",
                met: below(cold, 130.0),
            },
            Target {
                name: "observe-50 warm p50 (50 ms)",
                goal: "< 70 ms".into(),
                measured: warm,
                unit: "ms",
                met: below(warm, 70.0),
            },
            Target {
                name: "relay-server start-up (median)",
                goal: "< 20 ms".into(),
                measured: server,
                unit: "ms",
                met: below(server, 20.0),
            },
            Target {
                name: "relay-lambda start-up (median)",
                goal: "< 30 ms".into(),
                measured: lambda,
                unit: "ms",
                met: below(lambda, 30.0),
            },
            Target {
                name: "relay peak RSS at 256 connections",
                goal: "< 40 MiB".into(),
                measured: rss_256,
                unit: "MiB",
                met: below(rss_256, 40.0),
            },
            Target {
                name: "Lambda zip (bootstrap.zip)",
                goal: "< 8 MiB".into(),
                measured: zip,
                unit: "MiB",
                met: below(zip, 8.0),
            },
            Target {
                name: "errors, every scenario",
                goal: "0".into(),
                measured: Some(errors as f64),
                unit: "",
                met: Some(errors == 0),
            },
        ]
    }

    /// Figures with no goal of their own that say what the goals can be: the passthrough
    /// (HTTP plumbing alone) against the stand-in, and the relay against the passthrough.
    fn baselines(&self) -> Vec<(&'static str, Option<f64>, &'static str)> {
        let c = self.concurrency;
        let rps = |target, scenario| {
            self.find(0, target, scenario, c)
                .map(|r| r.result.requests_per_second)
        };
        let p50 = |target, scenario| self.find(0, target, scenario, 1).map(|r| r.result.p50_us);
        let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b.max(1e-9));
        let minus = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a - b);
        let (stub, passthrough, relay) = (
            rps("stub", "stub"),
            rps("passthrough", "observe-1"),
            rps("relay", "observe-1"),
        );
        vec![
            (
                "observe-1 passthrough/stub requests/s (0 ms)",
                ratio(passthrough, stub),
                "",
            ),
            (
                "observe-1 relay/passthrough requests/s (0 ms)",
                ratio(relay, passthrough),
                "",
            ),
            (
                "observe-1 passthrough overhead at p50 (1 conn)",
                minus(p50("passthrough", "observe-1"), p50("stub", "stub")),
                "µs",
            ),
        ]
    }

    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\n{} s per scenario after a warm-up; 1-minute load average {} before, {} after",
            self.duration_s,
            show(self.load_before),
            show(self.load_after)
        );
        let _ = writeln!(out, "{}", header());
        for row in &self.rows {
            let upstream = format!("{} ms", row.upstream_latency_ms);
            let text = line(&upstream, row.target, &row.result, row.peak_rss_kib);
            let _ = writeln!(out, "{text}");
        }
        for row in self.rows.iter().filter(|r| r.result.first_error.is_some()) {
            let _ = writeln!(
                out,
                "first error of {} at {} ms: {}",
                row.result.scenario,
                row.upstream_latency_ms,
                row.result.first_error.as_deref().unwrap_or_default()
            );
        }
        let spread = |times: &[Duration]| {
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            format!(
                "median {:.1} ms, min {:.1}, max {:.1} over {} runs",
                ms(median(times)),
                ms(times.iter().min().copied().unwrap_or_default()),
                ms(times.iter().max().copied().unwrap_or_default()),
                times.len()
            )
        };
        let _ = writeln!(
            out,
            "\nstart-up  relay-server exec → listening: {}",
            spread(&self.startup_server)
        );
        let _ = writeln!(
            out,
            "start-up  relay-lambda exec → first invocation answered: {}",
            spread(&self.startup_lambda)
        );
        let _ = writeln!(
            out,
            "memory    relay idle {} MiB; at 256 connections VmRSS {} MiB, VmHWM {} MiB",
            show(self.idle_rss_kib.map(rss::mib)),
            show(self.memory_256.map(|m| rss::mib(m.rss_kib))),
            show(self.memory_256.map(|m| rss::mib(m.hwm_kib)))
        );
        let _ = writeln!(out, "\ntargets");
        for t in self.targets() {
            let verdict = match t.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "not measured",
            };
            let _ = writeln!(
                out,
                "  {:<48} {:>12} {:<4} goal {:<9} {verdict}",
                t.name,
                show(t.measured),
                t.unit,
                t.goal
            );
        }
        let _ = writeln!(
            out,
            "\nbaselines (no goal: the passthrough is the cheapest relay on this stack)"
        );
        for (name, measured, unit) in self.baselines() {
            let _ = writeln!(out, "  {name:<48} {:>12} {unit}", show(measured));
        }
        out
    }

    pub(crate) fn to_json(&self) -> Value {
        let ms = |times: &[Duration]| -> Vec<f64> {
            times
                .iter()
                .map(|d| round(d.as_secs_f64() * 1000.0, 3))
                .collect()
        };
        json!({
            "machine": {
                "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
                "load_1min_before": self.load_before,
                "load_1min_after": self.load_after,
            },
            "duration_s": self.duration_s,
            "concurrency": self.concurrency,
            "rows": self.rows.iter().map(|r| {
                let mut v = r.result.to_json();
                v["upstream_latency_ms"] = json!(r.upstream_latency_ms);
                v["target"] = json!(r.target);
                v["peak_rss_kib"] = json!(r.peak_rss_kib);
                v
            }).collect::<Vec<_>>(),
            "startup_ms": {
                "relay_server": ms(&self.startup_server),
                "relay_server_median": round(median(&self.startup_server).as_secs_f64() * 1000.0, 3),
                "relay_lambda": ms(&self.startup_lambda),
                "relay_lambda_median": round(median(&self.startup_lambda).as_secs_f64() * 1000.0, 3),
            },
            "memory_kib": {
                "idle_rss": self.idle_rss_kib,
                "at_256_connections_rss": self.memory_256.map(|m| m.rss_kib),
                "at_256_connections_hwm": self.memory_256.map(|m| m.hwm_kib),
            },
            "lambda_zip_bytes": self.lambda_zip_bytes,
            "baselines": self.baselines().iter().map(|(name, measured, unit)| json!({
                "name": name,
                "measured": measured.map(|x| round(x, 3)),
                "unit": unit,
            })).collect::<Vec<_>>(),
            "targets": self.targets().iter().map(|t| json!({
                "name": t.name,
                "goal": t.goal,
                "measured": t.measured.map(|x| round(x, 3)),
                "unit": t.unit,
                "met": t.met,
            })).collect::<Vec<_>>(),
        })
    }
}

fn show(x: Option<f64>) -> String {
    x.map_or("-".into(), |x| format!("{x:.2}"))
}
