//! What one request cost, counted once, where the cost happens: the relay's middleware makes
//! one [`RequestStats`] per request and puts it in the request's extensions, the handler gives
//! it to the request's [`Context`](crate::Context) (where a provider counts its upstream calls
//! and cache hits), the answer records its observables and errors in it, and the middleware
//! reads it for the request's log line and metrics.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use tokio::time::Instant;

/// One request's arrival and costs.
#[derive(Debug)]
pub(crate) struct RequestStats {
    /// When the request arrived: its deadline counts from here.
    pub(crate) arrived: Instant,
    observables: AtomicUsize,
    upstream_calls: AtomicU32,
    cache_hits: AtomicU32,
    /// Errors in the answer, once the answer is made (`u32::MAX`: not yet).
    errors: AtomicU32,
}

impl Default for RequestStats {
    fn default() -> Self {
        Self {
            arrived: Instant::now(),
            observables: AtomicUsize::new(0),
            upstream_calls: AtomicU32::new(0),
            cache_hits: AtomicU32::new(0),
            errors: AtomicU32::new(u32::MAX),
        }
    }
}

impl RequestStats {
    pub(crate) fn add_upstream_calls(&self, calls: u32) {
        self.upstream_calls.fetch_add(calls, Ordering::Relaxed);
    }

    pub(crate) fn add_cache_hits(&self, hits: u32) {
        self.cache_hits.fetch_add(hits, Ordering::Relaxed);
    }

    /// The answer: `observables` in the request body, `errors` in the envelope.
    pub(crate) fn answered(&self, observables: usize, errors: usize) {
        self.observables.store(observables, Ordering::Relaxed);
        let errors = u32::try_from(errors).unwrap_or(u32::MAX - 1);
        self.errors.store(errors, Ordering::Relaxed);
    }

    pub(crate) fn observables(&self) -> usize {
        self.observables.load(Ordering::Relaxed)
    }

    pub(crate) fn upstream_calls(&self) -> u32 {
        self.upstream_calls.load(Ordering::Relaxed)
    }

    pub(crate) fn cache_hits(&self) -> u32 {
        self.cache_hits.load(Ordering::Relaxed)
    }

    /// The errors of the answer, when a handler made it (an answer made of one error, before
    /// any handler knew more, is not recorded here: see `telemetry::ErrorAnswer`).
    pub(crate) fn errors(&self) -> Option<u32> {
        let errors = self.errors.load(Ordering::Relaxed);
        (errors != u32::MAX).then_some(errors)
    }
}

/// In an answer's extensions: the answer is one error, made without a [`RequestStats`] (a bad
/// token or body, an unknown route, a panic), so the log line counts one error.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorAnswer;
