//! Client configuration: where to connect, how long to wait, how to retry.

use std::time::Duration;

/// The public Auth0 Signals API.
pub const DEFAULT_BASE_URL: &str = "https://signals.api.auth0.com/";

/// The `User-Agent` sent by default: this crate, its version and the project it belongs to.
pub const DEFAULT_USER_AGENT: &str = concat!(
    "signals-client/",
    env!("CARGO_PKG_VERSION"),
    " (auth0-signals-relay; +",
    env!("CARGO_PKG_REPOSITORY"),
    ")"
);

/// How a [`SignalsClient`](crate::SignalsClient) connects, waits and retries.
///
/// There is no API key here on purpose: the connection pool belongs to the process, the key to
/// each call (see [`SignalsClient`](crate::SignalsClient)). Start from [`Default`] and change
/// the fields you need:
///
/// ```
/// use std::time::Duration;
/// let mut config = signals_client::ClientConfig::default();
/// config.base_url = "http://127.0.0.1:8081/".to_owned();
/// config.total_timeout = Duration::from_secs(5);
/// assert_eq!(config.retry.max_attempts, 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Base URL of the API, `http` or `https`; a missing trailing `/` is added.
    /// Default: [`DEFAULT_BASE_URL`].
    pub base_url: String,
    /// Longest wait to open a connection (TCP and TLS). Default: 5 s.
    pub connect_timeout: Duration,
    /// Longest wait for one attempt, from sending to the last byte of the body. Default: 10 s.
    pub attempt_timeout: Duration,
    /// Longest time one call may take over all its attempts and the waits between them.
    /// Default: 20 s.
    pub total_timeout: Duration,
    /// Which failures are retried and how. Default: [`RetryPolicy::default`].
    pub retry: RetryPolicy,
    /// The `User-Agent` header. Default: [`DEFAULT_USER_AGENT`].
    pub user_agent: String,
}

impl Default for ClientConfig {
    /// The defaults fit a relay that answers an interactive request, e.g. behind AWS API
    /// Gateway whose integrations are cut at 29 s: a healthy answer takes well under a
    /// second, 5 s to connect covers a slow TLS handshake, 10 s per attempt covers a slow
    /// answer, and 20 s in total leaves the caller time to answer its own client.
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(20),
            retry: RetryPolicy::default(),
            user_agent: DEFAULT_USER_AGENT.to_owned(),
        }
    }
}

/// Retries of transient failures: HTTP 429, 502, 503, 504 and connection resets.
///
/// Everything else fails at once. The wait before retry `n` (1-based) is a random duration
/// between half and all of `min(initial_backoff * 2^(n-1), max_backoff)`, unless the
/// upstream sent `Retry-After`, which is then waited exactly. A `Retry-After` longer than
/// `max_retry_after`, or a wait that would pass the call's `total_timeout`, ends the call with
/// the last error instead of waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included; `1` (or `0`) disables retries. Default: 3.
    pub max_attempts: u32,
    /// The backoff before the first retry. Default: 200 ms.
    pub initial_backoff: Duration,
    /// The cap of the exponential backoff. Default: 2 s.
    pub max_backoff: Duration,
    /// The longest `Retry-After` the client waits for. Default: 5 s.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Three attempts ride out a blip (a dropped pooled connection, one 503 during a deploy)
    /// without tripling the load on an upstream that is really down; the backoffs stay short
    /// because a person is waiting for the answer.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The jittered backoff before retry number `retry` (1 for the first retry).
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.backoff_ceiling(retry);
        let half = ceiling / 2;
        half + ceiling.saturating_sub(half).mul_f64(rand::random::<f64>())
    }

    /// `min(initial_backoff * 2^(retry-1), max_backoff)`, without overflow.
    fn backoff_ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32
            .checked_pow(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial_backoff
            .checked_mul(factor)
            .map_or(self.max_backoff, |d| d.min(self.max_backoff))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(700),
            max_retry_after: Duration::from_secs(1),
        }
    }

    fn check(retry: u32, ceiling_ms: u64) {
        let policy = policy();
        let ceiling = Duration::from_millis(ceiling_ms);
        assert_eq!(policy.backoff_ceiling(retry), ceiling, "retry {retry}");
        for _ in 0..50 {
            let d = policy.backoff(retry);
            assert!(d >= ceiling / 2 && d <= ceiling, "retry {retry}: {d:?}");
        }
    }

    #[test]
    fn backoff_doubles_then_caps() {
        check(1, 100);
        check(2, 200);
        check(3, 400);
        check(4, 700);
        check(40, 700);
        check(u32::MAX, 700);
    }

    #[test]
    fn default_user_agent_names_project_and_version() {
        assert!(
            DEFAULT_USER_AGENT.starts_with(concat!("signals-client/", env!("CARGO_PKG_VERSION")))
        );
        assert!(DEFAULT_USER_AGENT.contains("auth0-signals-relay"));
    }

    #[test]
    fn default_base_url_is_https_and_ends_with_slash() {
        assert!(DEFAULT_BASE_URL.starts_with("https://"));
        assert!(DEFAULT_BASE_URL.ends_with('/'));
    }
}
