//! A `metrics` recorder for tests: every counter and gauge in an atomic, read back by name.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Keeps counters and gauges, keyed `name` or, with labels, `name{label=value,...}` in the order
/// the code gives them; histograms are dropped. Install it for a thread with
/// `metrics::set_default_local_recorder(&recorder)` or for the process with [`Recorded::global`].
#[derive(Debug, Clone, Default)]
pub struct Recorded(Arc<Mutex<HashMap<String, Arc<AtomicU64>>>>);

impl Recorded {
    /// The process's recorder, installed on first use.
    pub fn global() -> Self {
        static RECORDER: OnceLock<Recorded> = OnceLock::new();
        RECORDER
            .get_or_init(|| {
                let recorder = Recorded::default();
                metrics::set_global_recorder(recorder.clone())
                    .expect("no other global recorder in this test binary");
                recorder
            })
            .clone()
    }

    fn cell(&self, key: &str) -> Arc<AtomicU64> {
        Arc::clone(
            self.0
                .lock()
                .expect("not poisoned")
                .entry(key.to_owned())
                .or_default(),
        )
    }

    /// The counter `key`; 0 when never counted.
    pub fn counter(&self, key: &str) -> u64 {
        self.cell(key).load(Ordering::SeqCst)
    }

    /// The gauge `key`; 0 when never set.
    pub fn gauge(&self, key: &str) -> f64 {
        f64::from_bits(self.cell(key).load(Ordering::SeqCst))
    }

    fn key(key: &metrics::Key) -> String {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        match labels.is_empty() {
            true => key.name().to_owned(),
            false => format!("{}{{{}}}", key.name(), labels.join(",")),
        }
    }
}

impl metrics::Recorder for Recorded {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }

    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }

    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }

    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        metrics::Counter::from_arc(self.cell(&Self::key(key)))
    }

    fn register_gauge(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::from_arc(self.cell(&Self::key(key)))
    }

    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

#[cfg(test)]
mod tests {
    use super::Recorded;

    #[test]
    fn keeps_counters_and_gauges_with_their_labels() {
        let recorder = Recorded::default();
        metrics::with_local_recorder(&recorder, || {
            metrics::counter!("hits").increment(2);
            metrics::counter!("hits", "route" => "/health").increment(1);
            metrics::gauge!("open").set(4.0);
        });
        assert_eq!(recorder.counter("hits"), 2);
        assert_eq!(recorder.counter("hits{route=/health}"), 1);
        assert_eq!(recorder.gauge("open"), 4.0);
        assert_eq!(recorder.counter("never"), 0);
    }
}
