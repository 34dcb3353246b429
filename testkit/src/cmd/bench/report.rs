//! The default run's findings: one table, the relay's performance goals, and `report.json`.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use super::load::{LoadResult, round};
use super::startup::median;
use testkit::rss::{self, Memory};

/// One measured line of the table.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Row {
    pub(crate) upstream_latency_ms: u64,
    /// `relay`, `stub` (the stand-in loaded directly) or `passthrough` (the cheapest relay).
    pub(crate) target: &'static str,
    #[serde(flatten)]
    pub(crate) result: LoadResult,
    /// The relay's largest `VmRSS` during the run, when sampled.
    pub(crate) peak_rss_kib: Option<u64>,
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
    /// `observe-1` with and without Prometheus metrics (0 ms upstream).
    pub(crate) metrics: Option<super::overhead::Overhead>,
}

/// The metrics figure as one line.
pub(crate) fn overhead_line(o: &super::overhead::Overhead) -> String {
    format!(
        "observe-1 requests/s, medians of {} rounds: metrics off {:.0}, on {:.0}; on is {:.1}% slower (goal < 3%)",
        o.rounds,
        o.off_rps,
        o.on_rps,
        o.percent()
    )
}

/// A figure: name, goal (`None` for a baseline), measured value, unit, whether the goal is met.
type Figure = (
    &'static str,
    Option<&'static str>,
    Option<f64>,
    &'static str,
    Option<bool>,
);

pub(crate) fn header() -> String {
    let columns = [
        "upstream", "target", "scenario", "conc", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms",
        "errors",
    ];
    let [a, b, c, rest @ ..] = columns;
    let rest: String = rest
        .iter()
        .zip([5, 9, 9, 9, 9, 9, 7])
        .map(|(n, w)| format!(" {n:>w$}"))
        .collect();
    format!("{a:<8} {b:<11} {c:<16}{rest}  rss MiB")
}

pub(crate) fn line(
    upstream: &str,
    target: &str,
    r: &LoadResult,
    peak_rss_kib: Option<u64>,
) -> String {
    let ms = |us: f64| format!("{:.3}", us / 1000.0);
    let rss = peak_rss_kib.map_or("-".into(), |k| format!("{:.1}", rss::mib(k)));
    let (p50, p90, p99, max) = (ms(r.p50_us), ms(r.p90_us), ms(r.p99_us), ms(r.max_us));
    let (scenario, conc, rate, errors) =
        (&r.scenario, r.concurrency, r.requests_per_second, r.errors);
    format!(
        "{upstream:<8} {target:<11} {scenario:<16} {conc:>5} {rate:>9.0} {p50:>9} {p90:>9} {p99:>9} {max:>9} {errors:>7} {rss:>8}"
    )
}

fn show(x: Option<f64>) -> String {
    x.map_or("-".into(), |x| format!("{x:.2}"))
}

impl Report {
    fn find(
        &self,
        latency: u64,
        target: &str,
        scenario: &str,
        concurrency: usize,
    ) -> Option<&LoadResult> {
        let r = self.rows.iter().find(|r| {
            (r.upstream_latency_ms, r.target, r.result.concurrency)
                == (latency, target, concurrency)
                && r.result.scenario == scenario
        })?;
        Some(&r.result)
    }

    /// The goals, met or not, then the baselines: figures with no goal that say what the goals
    /// can be (the passthrough, HTTP plumbing alone, against the stand-in and the relay).
    fn figures(&self) -> Vec<Figure> {
        let c = self.concurrency;
        let rps = |target, scenario| {
            self.find(0, target, scenario, c)
                .map(|r| r.requests_per_second)
        };
        let p50 =
            |latency, target, scenario| self.find(latency, target, scenario, 1).map(|r| r.p50_us);
        let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b.max(1e-9));
        let minus = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a - b);
        let ms =
            |times: &[Duration]| (!times.is_empty()).then(|| median(times).as_secs_f64() * 1000.0);
        let (stub, passthrough, relay) = (
            rps("stub", "stub"),
            rps("passthrough", "observe-1"),
            rps("relay", "observe-1"),
        );
        let errors = self.rows.iter().map(|r| r.result.errors).sum::<u64>() as f64;
        let zip = self
            .lambda_zip_bytes
            .map(|bytes| bytes as f64 / (1024.0 * 1024.0));
        let stub_p50 = p50(0, "stub", "stub");
        fn goal(
            name: &'static str,
            goal: &'static str,
            x: Option<f64>,
            unit: &'static str,
            met: impl Fn(f64) -> bool,
        ) -> Figure {
            (name, Some(goal), x, unit, x.map(met))
        }
        #[rustfmt::skip]
        let figures = vec![
            goal("observe-1 relay/stub requests/s (0 ms)", "≥ 0.50", ratio(relay, stub), "", |x| x >= 0.5),
            goal("observe-1 relay overhead at p50 (0 ms, 1 conn)", "< 250 µs", minus(p50(0, "relay", "observe-1"), stub_p50), "µs", |x| x < 250.0),
            goal("observe-50 cold p50 (50 ms)", "< 130 ms", p50(50, "relay", "observe-50-cold").map(|us| us / 1000.0), "ms", |x| x < 130.0),
            goal("observe-50 warm p50 (50 ms)", "< 70 ms", p50(50, "relay", "observe-50-warm").map(|us| us / 1000.0), "ms", |x| x < 70.0),
            goal("relay-server start-up (median)", "< 20 ms", ms(&self.startup_server), "ms", |x| x < 20.0),
            goal("relay-lambda start-up (median)", "< 30 ms", ms(&self.startup_lambda), "ms", |x| x < 30.0),
            goal("relay peak RSS at 256 connections", "< 40 MiB", self.memory_256.map(|m| rss::mib(m.hwm_kib)), "MiB", |x| x < 40.0),
            goal("Lambda zip (bootstrap.zip)", "< 8 MiB", zip, "MiB", |x| x < 8.0),
            goal("errors, every scenario", "0", Some(errors), "", |x| x == 0.0),
            goal("metrics on vs off, observe-1 requests/s (0 ms)", "< 3 %", self.metrics.map(|m| m.percent()), "%", |x| x < 3.0),
            ("observe-1 passthrough/stub requests/s (0 ms)", None, ratio(passthrough, stub), "", None),
            ("observe-1 relay/passthrough requests/s (0 ms)", None, ratio(relay, passthrough), "", None),
            ("observe-1 passthrough overhead at p50 (1 conn)", None, minus(p50(0, "passthrough", "observe-1"), stub_p50), "µs", None),
        ];
        figures
    }

    pub(crate) fn table(&self) -> String {
        let (before, after) = (show(self.load_before), show(self.load_after));
        let mut out = format!("\n{} s per scenario after a warm-up; ", self.duration_s);
        let _ = writeln!(
            out,
            "1-minute load average {before} before, {after} after\n{}",
            header()
        );
        for row in &self.rows {
            let upstream = format!("{} ms", row.upstream_latency_ms);
            let _ = writeln!(
                out,
                "{}",
                line(&upstream, row.target, &row.result, row.peak_rss_kib)
            );
        }
        for row in &self.rows {
            if let Some(e) = &row.result.first_error {
                let _ = writeln!(
                    out,
                    "first error of {} at {} ms: {e}",
                    row.result.scenario, row.upstream_latency_ms
                );
            }
        }
        let spread = |times: &[Duration]| {
            let ms = |d: Option<&Duration>| d.copied().unwrap_or_default().as_secs_f64() * 1000.0;
            let (median, min, max) = (
                ms(Some(&median(times))),
                ms(times.iter().min()),
                ms(times.iter().max()),
            );
            format!(
                "median {median:.1} ms, min {min:.1}, max {max:.1} over {} runs",
                times.len()
            )
        };
        let _ = writeln!(
            out,
            "\nstart-up  relay-server exec → listening: {}",
            spread(&self.startup_server)
        );
        let server = spread(&self.startup_lambda);
        let _ = writeln!(
            out,
            "start-up  relay-lambda exec → first invocation answered: {server}"
        );
        let (idle, rss, hwm) = (
            show(self.idle_rss_kib.map(rss::mib)),
            show(self.memory_256.map(|m| rss::mib(m.rss_kib))),
            show(self.memory_256.map(|m| rss::mib(m.hwm_kib))),
        );
        let _ = writeln!(
            out,
            "memory    relay idle {idle} MiB; at 256 connections VmRSS {rss} MiB, VmHWM {hwm} MiB"
        );
        let _ = writeln!(out, "\ntargets");
        let (goals, baselines): (Vec<_>, Vec<_>) =
            self.figures().into_iter().partition(|f| f.1.is_some());
        for (name, goal, measured, unit, met) in goals {
            let verdict = met.map_or("not measured", |met| if met { "met" } else { "MISSED" });
            let (measured, goal) = (show(measured), goal.unwrap_or_default());
            let _ = writeln!(
                out,
                "  {name:<48} {measured:>12} {unit:<4} goal {goal:<9} {verdict}"
            );
        }
        let _ = writeln!(
            out,
            "\nbaselines (no goal: the passthrough is the cheapest relay on this stack)"
        );
        for (name, _, measured, unit, _) in baselines {
            let _ = writeln!(out, "  {name:<48} {:>12} {unit}", show(measured));
        }
        out
    }

    pub(crate) fn to_json(&self) -> Value {
        let ms = |d: Duration| round(d.as_secs_f64() * 1000.0, 3);
        let figures = |goals: bool| -> Vec<Value> {
            let figures = self
                .figures()
                .into_iter()
                .filter(|f| f.1.is_some() == goals);
            let json = |(name, goal, measured, unit, met): Figure| {
                let measured = measured.map(|x| round(x, 3));
                let mut v = json!({"name": name, "measured": measured, "unit": unit});
                if goals {
                    (v["goal"], v["met"]) = (json!(goal), json!(met));
                }
                v
            };
            figures.map(json).collect()
        };
        let (server, lambda) = (&self.startup_server, &self.startup_lambda);
        json!({
            "machine": {
                "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
                "load_1min_before": self.load_before,
                "load_1min_after": self.load_after,
            },
            "duration_s": self.duration_s,
            "concurrency": self.concurrency,
            "rows": self.rows,
            "startup_ms": {
                "relay_server": server.iter().copied().map(ms).collect::<Vec<_>>(),
                "relay_server_median": ms(median(server)),
                "relay_lambda": lambda.iter().copied().map(ms).collect::<Vec<_>>(),
                "relay_lambda_median": ms(median(lambda)),
            },
            "memory_kib": {
                "idle_rss": self.idle_rss_kib,
                "at_256_connections_rss": self.memory_256.map(|m| m.rss_kib),
                "at_256_connections_hwm": self.memory_256.map(|m| m.hwm_kib),
            },
            "lambda_zip_bytes": self.lambda_zip_bytes,
            "baselines": figures(false),
            "targets": figures(true),
        })
    }
}
