//! The relay's metrics on Lambda, in CloudWatch's embedded metric format (EMF).
//!
//! **What it is:** a [`metrics`] recorder ([`EmfRecorder`]) that keeps what relay-core and the
//! provider record through the `metrics` facade (the names and labels of
//! [`xdr_relay_core::telemetry`], the same as `relay-server`'s `/metrics`), and a tower layer
//! ([`EmfLayer`]) that, after each invocation, writes what was recorded during it to the
//! function's log as JSON lines in the embedded metric format. CloudWatch Logs makes metrics
//! of those lines by itself: no agent, no `PutMetricData` call, no IAM permission beyond the
//! log group the function already writes to. [`run_for`](crate::run_for) installs both unless
//! `RELAY_EMF=false`.
//! **What it is not:** a general EMF library (one namespace, every label a dimension, no
//! high-resolution metrics), nor a metrics endpoint.
//!
//! How the `metrics` kinds become EMF values, per line:
//! - a counter is the increase since the previous line (a delta), and is left out when it did
//!   not increase; its unit is `Count`;
//! - a gauge is its current value, on every line;
//! - a histogram is the array of the values recorded since the previous line (at most 100 per
//!   member, as EMF allows; more are spread over further lines).
//!
//! Every label is a dimension. A line holds at most 100 metrics and 30 dimensions per metric,
//! and no two series of one metric (the metric's value is a member named after it), so what
//! one invocation recorded is usually one line, and sometimes a few. Each line also carries
//! the invocation's `request_id`, which CloudWatch keeps in the log without making a metric of
//! it.
//!
//! ```
//! use xdr_relay_lambda::EmfRecorder;
//!
//! let recorder = EmfRecorder::new("XdrRelay");
//! metrics::with_local_recorder(&recorder, || {
//!     metrics::counter!("relay_requests_total", "route" => "/health", "status" => "2xx")
//!         .increment(1);
//! });
//! let lines = recorder.drain(1_700_000_000_000, &[("request_id", "c0ffee")]);
//! let expected = r#"{
//!   "_aws": {
//!     "Timestamp": 1700000000000,
//!     "CloudWatchMetrics": [{
//!       "Namespace": "XdrRelay",
//!       "Dimensions": [["route", "status"]],
//!       "Metrics": [{"Name": "relay_requests_total", "Unit": "Count"}]
//!     }]
//!   },
//!   "route": "/health",
//!   "status": "2xx",
//!   "relay_requests_total": 1,
//!   "request_id": "c0ffee"
//! }"#;
//! assert_eq!(lines.len(), 1);
//! assert_eq!(
//!     serde_json::from_str::<serde_json::Value>(&lines[0])?,
//!     serde_json::from_str::<serde_json::Value>(expected)?
//! );
//! // A counter is a delta: nothing more was recorded, so there is nothing to write.
//! assert!(recorder.drain(1_700_000_001_000, &[]).is_empty());
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::Request;
use lambda_http::RequestExt as _;
use metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use serde_json::{Map, Value, json};
use xdr_relay_core::{EnvError, EnvVar, ProviderInfo, Settings};

/// The namespace of the relay's metrics when `RELAY_METRICS_NAMESPACE` is not set.
pub const DEFAULT_NAMESPACE: &str = "XdrRelay";

/// Whether the relay writes its metrics to the log in the embedded metric format.
pub const RELAY_EMF: EnvVar = EnvVar::new(
    "RELAY_EMF",
    "emf",
    "BOOL",
    "Write the relay's metrics to the function's log after each invocation, in CloudWatch's \
     embedded metric format, from which CloudWatch makes metrics: true/false/1/0. Default true.",
);

/// The CloudWatch namespace of the relay's metrics.
pub const RELAY_METRICS_NAMESPACE: EnvVar = EnvVar::new(
    "RELAY_METRICS_NAMESPACE",
    "metrics-namespace",
    "NAMESPACE",
    "The CloudWatch namespace of the relay's metrics: 1 to 255 printable ASCII characters, not \
     starting with `AWS/` or `:`. Give each relay deployed in one account and region its own, \
     or their metrics add up. Default XdrRelay.",
);

/// Most metrics in one line (EMF: 100 metric definitions per directive).
const MAX_METRICS_PER_LINE: usize = 100;
/// Most dimensions of one metric (EMF: 30 keys per dimension set).
const MAX_DIMENSIONS: usize = 30;
/// Most values in one histogram member (EMF: 100 values per array).
const MAX_VALUES_PER_MEMBER: usize = 100;
/// Most values a histogram series keeps between two lines; more are not kept. On Lambda a
/// line is written after each invocation, which records one value per series.
const MAX_SAMPLES: usize = 10_000;
/// Longest metric or dimension name (CloudWatch: 255).
const MAX_NAME_LEN: usize = 255;
/// Longest dimension value (CloudWatch: 1024).
const MAX_VALUE_LEN: usize = 1024;
/// Flushes waiting for the writer thread at most; while it is that far behind, the metrics
/// stay in the recorder for a later flush.
const QUEUE: usize = 64;
/// How long [`run_for`](crate::run_for) waits at exit for its last lines to be written.
pub(crate) const EXIT_WAIT: Duration = Duration::from_secs(1);

/// The embedded-metric settings: [`RELAY_EMF`] and [`RELAY_METRICS_NAMESPACE`].
///
/// ```
/// use xdr_relay_core::Settings;
/// use xdr_relay_lambda::EmfConfig;
///
/// let default = EmfConfig::from_settings(&Settings::new(|_| None))?;
/// assert_eq!(default.namespace.as_deref(), Some("XdrRelay"));
///
/// let off = EmfConfig::from_settings(&Settings::new(|name| {
///     (name == "RELAY_EMF").then(|| "false".to_owned())
/// }))?;
/// assert_eq!(off.namespace, None);
///
/// let error = EmfConfig::from_settings(&Settings::new(|name| {
///     (name == "RELAY_METRICS_NAMESPACE").then(|| "AWS/Lambda".to_owned())
/// }))
/// .unwrap_err();
/// assert_eq!(error.name(), "RELAY_METRICS_NAMESPACE");
/// # Ok::<(), xdr_relay_core::EnvError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EmfConfig {
    /// The namespace the metrics are written under; `None` when they are not written.
    pub namespace: Option<String>,
}

impl EmfConfig {
    /// Reads [`RELAY_EMF`] and [`RELAY_METRICS_NAMESPACE`] by the rules of [`Settings`].
    ///
    /// # Errors
    ///
    /// [`EnvError`] naming the variable: `RELAY_EMF` that is not a boolean, or a namespace
    /// CloudWatch would refuse (checked even when the metrics are off).
    pub fn from_settings(settings: &Settings<'_>) -> Result<Self, EnvError> {
        let on = settings.boolean(&RELAY_EMF)?.unwrap_or(true);
        let namespace = match settings.value(&RELAY_METRICS_NAMESPACE) {
            Some(namespace) if valid_namespace(&namespace) => namespace,
            Some(namespace) => {
                return Err(EnvError::invalid(
                    &RELAY_METRICS_NAMESPACE,
                    "1 to 255 printable ASCII characters, not starting with AWS/ or :",
                    &namespace,
                ));
            }
            None => DEFAULT_NAMESPACE.to_owned(),
        };
        Ok(Self {
            namespace: on.then_some(namespace),
        })
    }

    /// Makes an [`EmfRecorder`] the process's `metrics` recorder, describes the relay's
    /// metrics to it ([`describe_metrics`](xdr_relay_core::telemetry::describe_metrics), which
    /// also sets `relay_build_info` for the relay `info`), and returns the layer that writes
    /// its lines to stdout after each response; `None` (and a warning in the log saying why)
    /// when the metrics are off, another recorder is already installed, or the writer thread
    /// cannot start.
    ///
    /// For a binary's start, once: the recorder is the process's.
    #[must_use]
    pub fn install(&self, info: &ProviderInfo) -> Option<EmfLayer> {
        let namespace = self.namespace.as_deref()?;
        let recorder = EmfRecorder::new(namespace);
        let layer = match EmfLayer::new(recorder.clone(), std::io::stdout()) {
            Ok(layer) => layer,
            Err(e) => {
                tracing::warn!("metrics are off: cannot start their writer thread: {e}");
                return None;
            }
        };
        // In a suite, each relay's metrics carry its mount's name (the `relay` dimension).
        let recorder = xdr_relay_core::telemetry::RelayLabel::new(recorder);
        if let Err(e) = metrics::set_global_recorder(recorder) {
            tracing::warn!("metrics are off: {e}");
            return None;
        }
        xdr_relay_core::telemetry::describe_metrics(info);
        Some(layer)
    }
}

/// CloudWatch's namespace rules: 1 to 255 ASCII characters (printable here), not starting
/// with a colon, and `AWS/` is reserved for AWS's own.
fn valid_namespace(namespace: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&namespace.len())
        && namespace.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
        && !namespace.starts_with(':')
        && !namespace
            .get(..4)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case("AWS/"))
}

/// Whether Lambda drops the metrics lines: with the JSON log format, Lambda files a line
/// without a `level` (an EMF line) as INFO, and an application log level above INFO drops it.
pub(crate) fn level_drops_metrics(format: Option<&str>, level: Option<&str>) -> bool {
    let json = format.is_some_and(|f| f.trim().eq_ignore_ascii_case("JSON"));
    let above_info = level.is_some_and(|l| {
        matches!(
            l.trim().to_ascii_uppercase().as_str(),
            "WARN" | "ERROR" | "FATAL"
        )
    });
    json && above_info
}

/// One series: a metric's name and its labels, as they will be written (see [`clean`]),
/// sorted by label name, one value per name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Series {
    name: String,
    labels: Vec<(String, String)>,
}

impl Series {
    fn of(key: &Key) -> Self {
        let name = clean_name(key.name());
        let mut labels: Vec<(String, String)> = key
            .labels()
            .map(|label| (clean_name(label.key()), clean(label.value(), MAX_VALUE_LEN)))
            // The metric's value is the member named after it: a label of that name cannot be
            // written beside it.
            .filter(|(label, _)| *label != name)
            .collect();
        labels.sort();
        labels.dedup_by(|later, earlier| later.0 == earlier.0);
        Self { name, labels }
    }
}

/// `text` as CloudWatch takes a dimension value: printable ASCII (anything else becomes `_`),
/// at most `max` characters, not blank.
fn clean(text: &str, max: usize) -> String {
    let cleaned: String = text
        .chars()
        .take(max)
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.trim().is_empty() {
        "_".to_owned()
    } else {
        cleaned
    }
}

/// `text` as a metric or dimension name: [`clean`], at most 255 characters, not starting with
/// a colon, and never `_aws` (the member EMF reserves).
fn clean_name(text: &str) -> String {
    let mut name = clean(text, MAX_NAME_LEN);
    if name.starts_with(':') {
        name.replace_range(..1, "_");
    }
    if name == "_aws" {
        name.insert(0, '_');
    }
    name
}

/// The values a histogram series recorded since the last line.
#[derive(Debug, Default)]
struct Samples(Mutex<Vec<f64>>);

impl HistogramFn for Samples {
    fn record(&self, value: f64) {
        // JSON has no NaN or infinity, and EMF refuses a line that has one.
        if value.is_finite() {
            let mut values = lock(&self.0);
            if values.len() < MAX_SAMPLES {
                values.push(value);
            }
        }
    }
}

/// The series recorded so far, by kind; and the units the relay described.
#[derive(Default)]
struct Registry {
    counters: Mutex<BTreeMap<Series, Arc<AtomicU64>>>,
    gauges: Mutex<BTreeMap<Series, Arc<AtomicU64>>>,
    histograms: Mutex<BTreeMap<Series, Arc<Samples>>>,
    units: Mutex<BTreeMap<String, Unit>>,
}

/// A [`metrics::Recorder`] that keeps counters, gauges and histograms until
/// [`drain`](Self::drain) turns them into embedded-metric-format lines.
///
/// Cheap to clone: clones share what is recorded. Recording never blocks on a line being
/// written and never panics. A counter set with `absolute` (the relay never does) is written
/// as given, not as an increase. Install it as the process's recorder
/// ([`EmfConfig::install`] does), or for a scope with [`metrics::with_local_recorder`].
#[derive(Clone)]
pub struct EmfRecorder {
    namespace: Arc<str>,
    registry: Arc<Registry>,
}

impl fmt::Debug for EmfRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmfRecorder")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl EmfRecorder {
    /// A recorder whose lines name `namespace` (see [`RELAY_METRICS_NAMESPACE`] for the
    /// namespaces CloudWatch accepts; this does not check it).
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: Arc::from(namespace.into()),
            registry: Arc::default(),
        }
    }

    /// The namespace its lines name.
    #[must_use]
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The embedded-metric-format lines (JSON objects, without newlines) of what was recorded
    /// since the last drain, each timestamped `timestamp_ms` (milliseconds since the Unix
    /// epoch) and carrying the `properties` (members CloudWatch keeps in the log without
    /// making metrics of them, e.g. a request id; one a label or metric already names is left
    /// out). Empty when there is nothing to write.
    ///
    /// Counters are reset (a line holds a counter's increase), histograms emptied; gauges
    /// keep their value and are written every time.
    #[must_use]
    pub fn drain(&self, timestamp_ms: u64, properties: &[(&str, &str)]) -> Vec<String> {
        let mut lines: Vec<Line> = Vec::new();
        for entry in self.entries() {
            match lines.iter_mut().find(|line| line.admits(&entry)) {
                Some(line) => line.add(entry),
                None => {
                    let mut line = Line::default();
                    line.add(entry);
                    lines.push(line);
                }
            }
        }
        lines
            .into_iter()
            .map(|line| line.render(&self.namespace, timestamp_ms, properties))
            .collect()
    }

    /// What a drain writes, taken from the registry: counters that increased, histograms
    /// that recorded, every gauge.
    fn entries(&self) -> Vec<Entry> {
        let units = lock(&self.registry.units).clone();
        let unit = |name: &str| units.get(name).and_then(|u| unit_name(*u));
        let mut entries = Vec::new();
        for (series, counter) in lock(&self.registry.counters).iter() {
            let increase = counter.swap(0, Ordering::AcqRel);
            if increase > 0 {
                entries.push(Entry {
                    unit: unit(&series.name).or(Some("Count")),
                    series: series.clone(),
                    value: Value::from(increase),
                });
            }
        }
        for (series, samples) in lock(&self.registry.histograms).iter() {
            let values = std::mem::take(&mut *lock(&samples.0));
            for chunk in values.chunks(MAX_VALUES_PER_MEMBER) {
                entries.push(Entry {
                    unit: unit(&series.name),
                    series: series.clone(),
                    value: Value::from(chunk.to_vec()),
                });
            }
        }
        for (series, gauge) in lock(&self.registry.gauges).iter() {
            let value = f64::from_bits(gauge.load(Ordering::Acquire));
            if value.is_finite() {
                entries.push(Entry {
                    unit: unit(&series.name),
                    series: series.clone(),
                    value: Value::from(value),
                });
            }
        }
        entries
    }

    fn describe(&self, name: &KeyName, unit: Option<Unit>) {
        if let Some(unit) = unit {
            lock(&self.registry.units).insert(clean_name(name.as_str()), unit);
        }
    }
}

impl Recorder for EmfRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, _description: SharedString) {
        self.describe(&key, unit);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, _description: SharedString) {
        self.describe(&key, unit);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, _description: SharedString) {
        self.describe(&key, unit);
    }

    fn register_counter(&self, key: &Key, _metadata: &Metadata<'_>) -> Counter {
        let mut counters = lock(&self.registry.counters);
        Counter::from_arc(Arc::clone(counters.entry(Series::of(key)).or_default()))
    }

    fn register_gauge(&self, key: &Key, _metadata: &Metadata<'_>) -> Gauge {
        let mut gauges = lock(&self.registry.gauges);
        Gauge::from_arc(Arc::clone(gauges.entry(Series::of(key)).or_default()))
    }

    fn register_histogram(&self, key: &Key, _metadata: &Metadata<'_>) -> Histogram {
        let mut histograms = lock(&self.registry.histograms);
        Histogram::from_arc(Arc::clone(histograms.entry(Series::of(key)).or_default()))
    }
}

/// CloudWatch's name of a `metrics` unit; `None` for one it does not have (nanoseconds),
/// which CloudWatch then files as `None`.
fn unit_name(unit: Unit) -> Option<&'static str> {
    Some(match unit {
        Unit::Count => "Count",
        Unit::Percent => "Percent",
        Unit::Seconds => "Seconds",
        Unit::Milliseconds => "Milliseconds",
        Unit::Microseconds => "Microseconds",
        Unit::Nanoseconds => return None,
        Unit::Tebibytes => "Terabytes",
        Unit::Gibibytes => "Gigabytes",
        Unit::Mebibytes => "Megabytes",
        Unit::Kibibytes => "Kilobytes",
        Unit::Bytes => "Bytes",
        Unit::TerabitsPerSecond => "Terabits/Second",
        Unit::GigabitsPerSecond => "Gigabits/Second",
        Unit::MegabitsPerSecond => "Megabits/Second",
        Unit::KilobitsPerSecond => "Kilobits/Second",
        Unit::BitsPerSecond => "Bits/Second",
        Unit::CountPerSecond => "Count/Second",
    })
}

/// One value of one series, to be written.
struct Entry {
    series: Series,
    unit: Option<&'static str>,
    value: Value,
}

/// One EMF document being filled: its members (metric values and dimension values) and its
/// directives (one per dimension set).
#[derive(Default)]
struct Line {
    members: Map<String, Value>,
    directives: Vec<(Vec<String>, Vec<Value>)>,
    metrics: usize,
}

impl Line {
    /// Whether `entry` can join: room for one more metric, no value of its metric yet, and
    /// each of its labels either absent or holding the same value (not a metric's).
    fn admits(&self, entry: &Entry) -> bool {
        self.metrics < MAX_METRICS_PER_LINE
            && !self.members.contains_key(&entry.series.name)
            && entry
                .series
                .labels
                .iter()
                .all(|(name, value)| match self.members.get(name) {
                    None => true,
                    Some(Value::String(held)) => held == value,
                    Some(_) => false,
                })
    }

    /// Adds `entry`, which [`admits`](Self::admits) accepted (an empty line accepts any).
    fn add(&mut self, entry: Entry) {
        let Entry {
            series,
            unit,
            value,
        } = entry;
        let dimensions: Vec<String> = series
            .labels
            .iter()
            .take(MAX_DIMENSIONS)
            .map(|(name, _)| name.clone())
            .collect();
        for (name, label) in series.labels {
            self.members.insert(name, Value::String(label));
        }
        let mut definition = Map::new();
        definition.insert("Name".to_owned(), Value::String(series.name.clone()));
        if let Some(unit) = unit {
            definition.insert("Unit".to_owned(), Value::from(unit));
        }
        match self.directives.iter_mut().find(|(d, _)| *d == dimensions) {
            Some((_, metrics)) => metrics.push(Value::Object(definition)),
            None => self
                .directives
                .push((dimensions, vec![Value::Object(definition)])),
        }
        self.members.insert(series.name, value);
        self.metrics += 1;
    }

    fn render(self, namespace: &str, timestamp_ms: u64, properties: &[(&str, &str)]) -> String {
        let Self {
            mut members,
            directives,
            ..
        } = self;
        let directives: Vec<Value> = directives
            .into_iter()
            .map(|(dimensions, metrics)| {
                json!({"Namespace": namespace, "Dimensions": [dimensions], "Metrics": metrics})
            })
            .collect();
        for (name, value) in properties {
            let name = clean_name(name);
            if !members.contains_key(&name) {
                members.insert(name, Value::from(*value));
            }
        }
        members.insert(
            "_aws".to_owned(),
            json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": directives}),
        );
        Value::Object(members).to_string()
    }
}

/// Milliseconds since the Unix epoch (0 for a clock set before it).
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// A lock that a panic elsewhere does not make unusable: what it guards stays consistent
/// (counters, lists of values).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Flushes waiting to be written, and the signal that one was.
#[derive(Default)]
struct Pending {
    count: Mutex<usize>,
    written: Condvar,
}

/// The thread that writes the lines, so that a response never waits on the log.
struct Writer {
    queue: SyncSender<Vec<u8>>,
    pending: Arc<Pending>,
}

impl Writer {
    fn spawn(mut out: impl Write + Send + 'static) -> std::io::Result<Self> {
        let (queue, flushes) = mpsc::sync_channel::<Vec<u8>>(QUEUE);
        let pending = Arc::new(Pending::default());
        let done = Arc::clone(&pending);
        std::thread::Builder::new()
            .name("relay-emf".to_owned())
            .spawn(move || {
                let failed = AtomicBool::new(false);
                for lines in flushes {
                    let written = out.write_all(&lines).and_then(|()| out.flush());
                    if let Err(e) = written
                        && !failed.swap(true, Ordering::Relaxed)
                    {
                        tracing::warn!("cannot write the metrics to the log: {e}");
                    }
                    let mut count = lock(&done.count);
                    *count = count.saturating_sub(1);
                    done.written.notify_all();
                }
            })?;
        Ok(Self { queue, pending })
    }

    fn has_room(&self) -> bool {
        *lock(&self.pending.count) < QUEUE
    }

    /// Hands `lines` to the thread without waiting; false when its queue is full.
    fn send(&self, lines: Vec<u8>) -> bool {
        *lock(&self.pending.count) += 1;
        let sent = self.queue.try_send(lines).is_ok();
        if !sent {
            let mut count = lock(&self.pending.count);
            *count = count.saturating_sub(1);
        }
        sent
    }

    fn wait(&self, within: Duration) -> bool {
        let count = lock(&self.pending.count);
        let (count, _) = self
            .pending
            .written
            .wait_timeout_while(count, within, |count| *count > 0)
            .unwrap_or_else(PoisonError::into_inner);
        *count == 0
    }
}

/// A tower layer that writes an [`EmfRecorder`]'s lines after each response: what the
/// request recorded, timestamped when it was answered, with the Lambda invocation's
/// `request_id`.
///
/// The lines are written by a thread of the layer's own, so the response never waits on the
/// log: formatting them takes microseconds, bounded by the number of series (which the
/// relay keeps bounded), and handing them over does not block. While the thread is 64
/// flushes behind, a flush is skipped and its metrics stay in the recorder for the next one.
/// The thread writes a line in microseconds, before the runtime has posted the answer and
/// asked for the next event; should Lambda freeze the environment first, the line is written
/// when it thaws, with its invocation's timestamp.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use tower::{Layer as _, ServiceExt as _};
/// use xdr_relay_lambda::{EmfLayer, EmfRecorder};
///
/// # #[derive(Clone, Default)]
/// # struct Log(Arc<Mutex<Vec<u8>>>);
/// # impl std::io::Write for Log {
/// #     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
/// #         self.0.lock().map_err(|_| std::io::ErrorKind::Other)?.extend_from_slice(b);
/// #         Ok(b.len())
/// #     }
/// #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
/// # }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let recorder = EmfRecorder::new("XdrRelay");
/// let log = Log::default(); // an io::Write; `run_for` writes to stdout
/// let layer = EmfLayer::new(recorder.clone(), log.clone())?;
/// let service = layer.layer(tower::service_fn(move |_: axum::http::Request<()>| {
///     let recorder = recorder.clone();
///     async move {
///         metrics::with_local_recorder(&recorder, || metrics::counter!("answers").increment(1));
///         Ok::<_, std::convert::Infallible>("answer")
///     }
/// }));
/// assert_eq!(service.oneshot(axum::http::Request::new(())).await?, "answer");
/// assert!(layer.wait_written(Duration::from_secs(5)));
/// let text = String::from_utf8(log.0.lock().map_err(|_| "poisoned")?.clone())?;
/// let line: serde_json::Value = serde_json::from_str(text.trim_end())?;
/// assert_eq!(line["answers"], 1);
/// assert!(text.ends_with('\n'));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct EmfLayer {
    recorder: EmfRecorder,
    writer: Arc<Writer>,
    behind: Arc<AtomicBool>,
}

impl fmt::Debug for EmfLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmfLayer")
            .field("recorder", &self.recorder)
            .finish_non_exhaustive()
    }
}

impl EmfLayer {
    /// A layer that writes `recorder`'s lines to `out` (in production stdout, the function's
    /// log) on a thread it starts.
    ///
    /// # Errors
    ///
    /// The thread cannot be started.
    pub fn new(recorder: EmfRecorder, out: impl Write + Send + 'static) -> std::io::Result<Self> {
        Ok(Self {
            recorder,
            writer: Arc::new(Writer::spawn(out)?),
            behind: Arc::default(),
        })
    }

    /// Hands the lines of what was recorded since the last flush to the writer thread,
    /// without waiting, with `request_id` (when given) as a property of each.
    pub fn flush(&self, request_id: Option<&str>) {
        if !self.writer.has_room() {
            if !self.behind.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "the log is not taking the metrics lines; they are kept for a later flush"
                );
            }
            return;
        }
        let properties: Vec<(&str, &str)> = request_id
            .map(|id| ("request_id", id))
            .into_iter()
            .collect();
        let lines = self.recorder.drain(now_ms(), &properties);
        if lines.is_empty() {
            return;
        }
        let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
        if !self.writer.send(text.into_bytes()) && !self.behind.swap(true, Ordering::Relaxed) {
            tracing::warn!("the log is not taking the metrics lines; some were dropped");
        }
    }

    /// Waits, at most `within`, until every line handed over has been written; whether they
    /// all were. For a process about to exit, and for tests.
    #[must_use]
    pub fn wait_written(&self, within: Duration) -> bool {
        self.writer.wait(within)
    }
}

impl<S> tower::Layer<S> for EmfLayer {
    type Service = EmfService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        EmfService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`EmfLayer`]: the inner service's answer, then a flush.
#[derive(Debug, Clone)]
pub struct EmfService<S> {
    inner: S,
    layer: EmfLayer,
}

impl<S, B> tower::Service<Request<B>> for EmfService<S>
where
    S: tower::Service<Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let request_id = request
            .lambda_context_ref()
            .map(|context| context.request_id.clone());
        let answer = self.inner.call(request);
        let layer = self.layer.clone();
        Box::pin(async move {
            let answer = answer.await;
            layer.flush(request_id.as_deref());
            answer
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines of what `record` records, drained at a fixed time.
    fn lines_of(record: impl FnOnce()) -> Vec<Value> {
        let recorder = EmfRecorder::new("Test");
        metrics::with_local_recorder(&recorder, record);
        recorder
            .drain(1_700_000_000_123, &[("request_id", "req-1")])
            .iter()
            .map(|line| serde_json::from_str(line).expect("a line is JSON"))
            .collect()
    }

    #[test]
    fn in_a_suite_each_relays_metrics_carry_its_name_as_a_dimension() {
        let recorder = EmfRecorder::new("Test");
        let labelled = xdr_relay_core::telemetry::RelayLabel::new(recorder.clone());
        metrics::with_local_recorder(&labelled, || {
            let count = || {
                metrics::counter!("relay_requests_total", "route" => "/health").increment(1);
            };
            xdr_relay_core::telemetry::in_relay_sync(std::sync::Arc::from("otx"), count);
            count();
        });
        let lines: Vec<Value> = recorder
            .drain(1_700_000_000_123, &[])
            .iter()
            .map(|line| serde_json::from_str(line).expect("a line is JSON"))
            .collect();
        // The mounted relay's series and the unmounted one clash on `relay`: two lines.
        assert_eq!(lines.len(), 2, "{lines:?}");
        let mounted = lines
            .iter()
            .find(|line| line["relay"] == "otx")
            .expect("a line of the otx mount");
        assert_eq!(mounted["relay_requests_total"], 1);
        let (dimensions, names) = &directives(mounted)[0];
        assert!(dimensions.contains(&"relay".to_owned()), "{dimensions:?}");
        assert_eq!(names, &["relay_requests_total"]);
        assert!(lines.iter().any(|line| line.get("relay").is_none()));
    }

    /// Every directive of `line`: (dimension set, metric names).
    fn directives(line: &Value) -> Vec<(Vec<String>, Vec<String>)> {
        let texts = |v: &Value| -> Vec<String> {
            v.as_array()
                .expect("array")
                .iter()
                .map(|s| s.as_str().expect("text").to_owned())
                .collect()
        };
        line["_aws"]["CloudWatchMetrics"]
            .as_array()
            .expect("directives")
            .iter()
            .map(|d| {
                let sets = d["Dimensions"].as_array().expect("dimension sets");
                assert_eq!(sets.len(), 1, "{d}");
                let names = d["Metrics"]
                    .as_array()
                    .expect("metrics")
                    .iter()
                    .map(|m| m["Name"].as_str().expect("name").to_owned())
                    .collect();
                (texts(&sets[0]), names)
            })
            .collect()
    }

    #[test]
    fn one_request_s_metrics_are_one_line_with_every_label_a_dimension() {
        use xdr_relay_core::telemetry;
        let lines = lines_of(|| {
            telemetry::describe_metrics(&ProviderInfo::new("Test", "1.2.3", []));
            metrics::counter!(telemetry::REQUESTS, "route" => "/observe/observables", "status" => "2xx")
                .increment(1);
            metrics::histogram!(telemetry::REQUEST_DURATION, "route" => "/observe/observables")
                .record(0.25);
            metrics::histogram!(telemetry::OBSERVABLES, "route" => "/observe/observables")
                .record(3.0);
            metrics::counter!(telemetry::UPSTREAM_REQUESTS, "upstream" => "abuseipdb", "outcome" => "ok")
                .increment(2);
            metrics::gauge!(telemetry::UPSTREAM_CIRCUIT_OPEN, "upstream" => "abuseipdb").set(0.0);
            metrics::gauge!(telemetry::IN_FLIGHT).increment(1.0);
            metrics::gauge!(telemetry::IN_FLIGHT).decrement(1.0);
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_123_u64);
        for directive in line["_aws"]["CloudWatchMetrics"].as_array().expect("array") {
            assert_eq!(directive["Namespace"], "Test");
        }
        let mut found = directives(line);
        for (_, names) in &mut found {
            names.sort();
        }
        found.sort();
        let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            found,
            [
                (owned(&[]), owned(&[telemetry::IN_FLIGHT])),
                (
                    owned(&["outcome", "upstream"]),
                    owned(&[telemetry::UPSTREAM_REQUESTS])
                ),
                (
                    owned(&["route"]),
                    owned(&[telemetry::OBSERVABLES, telemetry::REQUEST_DURATION])
                ),
                (owned(&["route", "status"]), owned(&[telemetry::REQUESTS])),
                (
                    owned(&["upstream"]),
                    owned(&[telemetry::UPSTREAM_CIRCUIT_OPEN])
                ),
                (owned(&["version"]), owned(&[telemetry::BUILD_INFO])),
            ]
        );
        // Values: counters as their increase, histograms as arrays, gauges as they are.
        assert_eq!(line[telemetry::REQUESTS], 1);
        assert_eq!(line[telemetry::UPSTREAM_REQUESTS], 2);
        assert_eq!(line[telemetry::REQUEST_DURATION], json!([0.25]));
        assert_eq!(line[telemetry::OBSERVABLES], json!([3.0]));
        assert_eq!(line[telemetry::IN_FLIGHT], 0.0);
        assert_eq!(line[telemetry::UPSTREAM_CIRCUIT_OPEN], 0.0);
        assert_eq!(line[telemetry::BUILD_INFO], 1.0);
        // Dimension values, and the request id as a property.
        assert_eq!(line["route"], "/observe/observables");
        assert_eq!(line["status"], "2xx");
        assert_eq!(line["upstream"], "abuseipdb");
        assert_eq!(line["outcome"], "ok");
        assert_eq!(line["version"], "1.2.3");
        assert_eq!(line["request_id"], "req-1");
        // Units: the described one, Count for counters, none otherwise.
        let units: BTreeMap<String, Option<String>> = line["_aws"]["CloudWatchMetrics"]
            .as_array()
            .expect("array")
            .iter()
            .flat_map(|d| d["Metrics"].as_array().cloned().unwrap_or_default())
            .map(|m| {
                (
                    m["Name"].as_str().unwrap_or_default().to_owned(),
                    m["Unit"].as_str().map(str::to_owned),
                )
            })
            .collect();
        assert_eq!(
            units[telemetry::REQUEST_DURATION].as_deref(),
            Some("Seconds")
        );
        assert_eq!(units[telemetry::REQUESTS].as_deref(), Some("Count"));
        assert_eq!(units[telemetry::IN_FLIGHT], None);
    }

    #[test]
    fn counters_are_deltas_histograms_empty_and_gauges_stay() {
        let recorder = EmfRecorder::new("Test");
        let record = |n: u64| {
            metrics::with_local_recorder(&recorder, || {
                metrics::counter!("c").increment(n);
                metrics::histogram!("h").record(n as f64);
                metrics::gauge!("g").set(7.0);
            });
        };
        let parse = |lines: Vec<String>| -> Vec<Value> {
            lines
                .iter()
                .map(|l| serde_json::from_str(l).expect("JSON"))
                .collect()
        };
        record(3);
        let first = parse(recorder.drain(1, &[]));
        assert_eq!(first.len(), 1);
        assert_eq!(
            (&first[0]["c"], &first[0]["h"], &first[0]["g"]),
            (&json!(3), &json!([3.0]), &json!(7.0))
        );
        record(2);
        let second = parse(recorder.drain(2, &[]));
        assert_eq!(
            (&second[0]["c"], &second[0]["h"]),
            (&json!(2), &json!([2.0]))
        );
        // Nothing recorded: only the gauge, with its last value.
        let third = parse(recorder.drain(3, &[]));
        assert_eq!(third.len(), 1);
        assert_eq!(third[0]["g"], 7.0);
        assert!(
            third[0].get("c").is_none() && third[0].get("h").is_none(),
            "{}",
            third[0]
        );
        assert_eq!(directives(&third[0]), [(vec![], vec!["g".to_owned()])]);
    }

    #[test]
    fn series_of_one_metric_and_clashing_labels_go_to_separate_lines() {
        let lines = lines_of(|| {
            metrics::counter!("calls", "outcome" => "ok").increment(1);
            metrics::counter!("calls", "outcome" => "timeout").increment(1);
            // Same label, another value: cannot share a line with `outcome=ok`.
            metrics::counter!("other", "outcome" => "timeout").increment(1);
        });
        assert_eq!(lines.len(), 2, "{lines:?}");
        let ok = lines
            .iter()
            .find(|l| l["outcome"] == "ok")
            .expect("ok line");
        let timeout = lines
            .iter()
            .find(|l| l["outcome"] == "timeout")
            .expect("timeout line");
        assert_eq!((&ok["calls"], ok.get("other")), (&json!(1), None));
        assert_eq!(
            (&timeout["calls"], &timeout["other"]),
            (&json!(1), &json!(1))
        );
    }

    #[test]
    fn emf_limits_hold_100_metrics_100_values_30_dimensions() {
        let lines = lines_of(|| {
            for i in 0..150 {
                metrics::counter!(format!("c{i:03}")).increment(1);
            }
            for i in 0..250 {
                metrics::histogram!("h").record(f64::from(i));
            }
            let labels: Vec<metrics::Label> = (0..35)
                .map(|i| metrics::Label::new(format!("l{i:02}"), "v"))
                .collect();
            metrics::counter!("wide", labels).increment(1);
        });
        let mut counters = 0;
        let mut values = Vec::new();
        for line in &lines {
            let defined: usize = directives(line).iter().map(|(_, m)| m.len()).sum();
            assert!(defined <= MAX_METRICS_PER_LINE, "{defined}");
            counters += directives(line)
                .iter()
                .flat_map(|(_, m)| m.iter())
                .filter(|m| m.starts_with('c'))
                .count();
            if let Some(h) = line["h"].as_array() {
                assert!(h.len() <= MAX_VALUES_PER_MEMBER);
                values.extend(h.iter().filter_map(Value::as_f64));
            }
            for (dimensions, metrics) in directives(line) {
                assert!(dimensions.len() <= MAX_DIMENSIONS, "{dimensions:?}");
                if metrics == ["wide"] {
                    assert_eq!(dimensions.len(), MAX_DIMENSIONS);
                    // The labels past the 30th stay in the line, as properties.
                    assert_eq!(line["l34"], "v");
                }
            }
        }
        assert_eq!(counters, 150);
        let expected: Vec<f64> = (0..250).map(f64::from).collect();
        assert_eq!(values, expected);
        // 100 counters; 50 counters, `wide` and 100 values of h; then 100 and 50 values of h.
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn what_cloudwatch_would_refuse_is_cleaned_or_left_out() {
        let lines = lines_of(|| {
            metrics::counter!("c", "route" => "caf\u{e9}\n", "blank" => "  ").increment(1);
            metrics::gauge!("nan").set(f64::NAN);
            metrics::histogram!("h").record(f64::INFINITY);
            metrics::counter!("_aws").increment(1);
            metrics::counter!("same", "same" => "x").increment(1);
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        assert_eq!(line["route"], "caf__");
        assert_eq!(line["blank"], "_");
        assert!(
            line.get("nan").is_none() && line.get("h").is_none(),
            "{line}"
        );
        assert_eq!(line["__aws"], 1);
        assert_eq!(line["same"], 1);
        assert!(line["_aws"]["CloudWatchMetrics"].is_array());
    }

    #[test]
    fn namespaces_cloudwatch_refuses_are_refused_naming_the_variable() {
        let read = |value: &'static str| {
            EmfConfig::from_settings(&Settings::new(move |name| {
                (name == "RELAY_METRICS_NAMESPACE").then(|| value.to_owned())
            }))
        };
        for good in ["XdrRelay", "Relays/Prod-1", " padded ", "a#b c.d_e"] {
            let config = read(good).expect(good);
            assert_eq!(config.namespace.as_deref(), Some(good.trim()));
        }
        let long = Box::leak("n".repeat(256).into_boxed_str());
        for bad in [
            "AWS/Lambda",
            "aws/x",
            ":x",
            "caf\u{e9}",
            "tab\there",
            &*long,
        ] {
            let error = read(bad).expect_err(bad);
            assert_eq!(error.name(), "RELAY_METRICS_NAMESPACE", "{error}");
        }
        let error = EmfConfig::from_settings(&Settings::new(|name| {
            (name == "RELAY_EMF").then(|| "off".to_owned())
        }))
        .expect_err("not a boolean");
        assert_eq!(error.name(), "RELAY_EMF");
        assert!(read("XdrRelay").is_ok() && read("").is_ok());
    }

    #[test]
    fn lambda_drops_the_lines_only_with_json_logs_above_info() {
        for (format, level, dropped) in [
            (Some("JSON"), Some("WARN"), true),
            (Some("json"), Some(" error "), true),
            (Some("JSON"), Some("FATAL"), true),
            (Some("JSON"), Some("INFO"), false),
            (Some("JSON"), Some("DEBUG"), false),
            (Some("JSON"), None, false),
            (Some("Text"), Some("WARN"), false),
            (None, Some("ERROR"), false),
        ] {
            assert_eq!(
                level_drops_metrics(format, level),
                dropped,
                "{format:?} {level:?}"
            );
        }
    }
}
