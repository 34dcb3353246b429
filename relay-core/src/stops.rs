//! Rate limits and refused credentials, remembered per caller (what an
//! [`Upstream`](crate::Upstream) holds for [`Upstream::call_as`](crate::Upstream::call_as),
//! `caller.rs`): a 429 (for its `Retry-After`, capped) or a 401 stops the caller's next calls
//! to that upstream, which are answered with the same error without being made. Separate from
//! the circuit breaker, which is about the upstream, not a caller.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::credentials::CallerDigest;
use crate::error::{RelayError, UpstreamFailure};
use crate::settings::{EnvError, EnvVar, Settings};

/// How long a caller is stopped after a 429 without `Retry-After`, or a refused credential.
const DEFAULT_STOP: Duration = Duration::from_secs(60);
/// Most callers remembered at once: beyond it, the stops that ended are forgotten, then the
/// one that ends first.
const MOST_STOPPED: usize = 10_000;

/// The longest a caller's rate limit is remembered.
pub const UPSTREAM_STOP_MAX: EnvVar = EnvVar::new(
    "RELAY_UPSTREAM_STOP_MAX",
    "upstream-stop-max",
    "SECONDS",
    "Longest a caller's rate limit (the upstream's Retry-After) is remembered: the caller's \
     lookups not yet made are answered with it, cached answers still served. Default 3600.",
);

/// The stops of one upstream.
#[derive(Debug)]
pub(crate) struct Stops {
    max: Duration,
    by_caller: Mutex<HashMap<CallerDigest, Stop>>,
}

#[derive(Debug, Clone)]
struct Stop {
    until: Instant,
    error: RelayError,
}

impl Default for Stops {
    fn default() -> Self {
        Self {
            max: Duration::from_secs(3_600),
            by_caller: Mutex::default(),
        }
    }
}

impl Stops {
    fn map(&self) -> MutexGuard<'_, HashMap<CallerDigest, Stop>> {
        self.by_caller
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The stops end after at most `max`.
    pub(crate) fn set_max(&mut self, max: Duration) {
        self.max = max;
    }

    /// `caller`'s stop, while it lasts.
    pub(crate) fn get(&self, caller: &CallerDigest) -> Option<RelayError> {
        let mut map = self.map();
        let stop = map.get(caller)?;
        if Instant::now() < stop.until {
            return Some(stop.error.clone());
        }
        map.remove(caller);
        None
    }

    /// Remembers `caller`'s failure of `kind` (answered with `error`) as their stop: a rate
    /// limit until `retry_after` (a minute without one), refused credentials for a minute,
    /// at most the maximum; other failures stop nothing.
    pub(crate) fn remember(
        &self,
        caller: CallerDigest,
        kind: UpstreamFailure,
        retry_after: Option<Duration>,
        error: &RelayError,
    ) {
        let wait = match kind {
            UpstreamFailure::RateLimited => retry_after.unwrap_or(DEFAULT_STOP),
            UpstreamFailure::Unauthorized => DEFAULT_STOP,
            _ => return,
        };
        let wait = wait.min(self.max);
        if wait.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut map = self.map();
        if map.len() >= MOST_STOPPED {
            map.retain(|_, stop| stop.until > now);
        }
        if map.len() >= MOST_STOPPED
            && let Some(first) = map.iter().min_by_key(|(_, s)| s.until).map(|(c, _)| *c)
        {
            map.remove(&first);
        }
        map.insert(
            caller,
            Stop {
                until: now + wait,
                error: error.clone(),
            },
        );
    }
}

/// The stop maximum in `settings` ([`UPSTREAM_STOP_MAX`]), or the default (an hour).
///
/// # Errors
///
/// [`EnvError`] when it is not whole seconds.
pub fn stop_max_from_settings(settings: &Settings<'_>) -> Result<Duration, EnvError> {
    Ok(settings
        .seconds(&UPSTREAM_STOP_MAX)?
        .unwrap_or(Duration::from_secs(3_600)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callers_remembered_are_bounded() {
        let stops = Stops::default();
        for n in 0..(MOST_STOPPED + 5) {
            let error = RelayError::TooManyRequests("slow down".into());
            let caller = CallerDigest::of_secret(&n.to_string());
            stops.remember(caller, UpstreamFailure::RateLimited, None, &error);
        }
        assert!(stops.map().len() <= MOST_STOPPED);
    }

    #[test]
    fn the_maximum_is_a_setting() {
        let none = Settings::new(|_| None);
        assert_eq!(
            stop_max_from_settings(&none).unwrap(),
            Duration::from_secs(3_600)
        );
        let set = Settings::new(|n| (n == "RELAY_UPSTREAM_STOP_MAX").then(|| "5".to_owned()));
        assert_eq!(
            stop_max_from_settings(&set).unwrap(),
            Duration::from_secs(5)
        );
        let bad = Settings::new(|n| (n == "RELAY_UPSTREAM_STOP_MAX").then(|| "x".to_owned()));
        assert!(stop_max_from_settings(&bad).is_err());
    }
}
