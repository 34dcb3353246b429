//! What one request cost: the numbers of the request log line.
//!
//! A leaf: handlers and the upstream side fill it in, the error envelope counts one error when
//! nothing more is known, and the logging middleware reads it from the response's extensions.

/// What one request cost, for the request log line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stats {
    /// Observables in the request body, supported or not.
    pub(crate) observables: usize,
    /// Calls made to Auth0 Signals, retries not counted.
    pub(crate) upstream_calls: u32,
    /// Blocklist metadata answered from the cache.
    pub(crate) cache_hits: u32,
    /// Errors in the answer.
    pub(crate) errors: u32,
}

impl Stats {
    /// The stats of an answer that is one error and cost nothing upstream.
    pub(crate) fn one_error() -> Self {
        Self {
            errors: 1,
            ..Self::default()
        }
    }
}
