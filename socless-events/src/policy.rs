//! How the AWS clients retry and time out: chosen here, not inherited from the environment.
//!
//! An event endpoint usually answers within an API Gateway budget (29 s), and one call that
//! hangs or retries for minutes would eat it. So [`AwsStore`](crate::AwsStore) and
//! [`AwsLauncher`](crate::AwsLauncher) replace whatever retry and timeout settings the
//! `SdkConfig` carries (`AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE`, profile settings) with an
//! [`AwsClientPolicy`]: [`AwsClientPolicy::default`] unless the caller passes another.
//!
//! Retrying is safe for every call this crate makes: `GetItem` reads, `PutItem` writes the same
//! item again, `TransactWriteItems` carries an idempotency token the SDK fills in (DynamoDB
//! honours it for 10 minutes), `DeleteItem` is conditional, and `StartExecution` with the same
//! name and input returns the execution while it runs; once it has finished, the retry fails
//! with `ExecutionAlreadyExists` and [`AwsLauncher`](crate::AwsLauncher) describes the
//! execution: the same input counts as started. (EXPRESS state machines keep no names: a
//! retried start may run their playbook twice.)
//!
//! The SDK does not retry a cancelled transaction, whatever its reasons:
//! [`AwsStore`](crate::AwsStore) retries one cancelled for throttling or for a conflict with
//! another transaction itself, with this policy's attempts and backoff.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

/// Attempts per call, the first one included.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// The backoff before the first retry (doubled, with jitter, for each further retry).
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(200);
/// The longest backoff between two attempts.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long one attempt may take to connect.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one attempt may take in total (DynamoDB and Step Functions answer in milliseconds).
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one call may take, all attempts and backoffs included.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// The retry and timeout settings of the DynamoDB and Step Functions clients.
///
/// The default is the SDK's *standard* retry mode (it retries throttling such as
/// `ThrottlingException` and `ProvisionedThroughputExceededException`, 5xx answers, connection
/// failures and timeouts) with [`DEFAULT_MAX_ATTEMPTS`] attempts, backoff from
/// [`DEFAULT_INITIAL_BACKOFF`] up to [`DEFAULT_MAX_BACKOFF`], and the connect, attempt and
/// operation timeouts above: a call that keeps failing gives up after at most
/// [`DEFAULT_OPERATION_TIMEOUT`].
#[derive(Debug, Clone, PartialEq)]
pub struct AwsClientPolicy {
    retry: RetryConfig,
    timeout: TimeoutConfig,
}

impl AwsClientPolicy {
    /// A policy with these settings.
    pub fn new(retry: RetryConfig, timeout: TimeoutConfig) -> Self {
        Self { retry, timeout }
    }

    /// The retry settings.
    pub fn retry(&self) -> &RetryConfig {
        &self.retry
    }

    /// The timeout settings.
    pub fn timeout(&self) -> &TimeoutConfig {
        &self.timeout
    }
}

impl Default for AwsClientPolicy {
    fn default() -> Self {
        Self::new(
            RetryConfig::standard()
                .with_max_attempts(DEFAULT_MAX_ATTEMPTS)
                .with_initial_backoff(DEFAULT_INITIAL_BACKOFF)
                .with_max_backoff(DEFAULT_MAX_BACKOFF),
            TimeoutConfig::builder()
                .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
                .operation_attempt_timeout(DEFAULT_ATTEMPT_TIMEOUT)
                .operation_timeout(DEFAULT_OPERATION_TIMEOUT)
                .build(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_config::retry::RetryMode;

    #[test]
    fn the_default_is_standard_mode_with_bounded_attempts_and_timeouts() {
        let policy = AwsClientPolicy::default();
        let retry = policy.retry();
        assert_eq!(retry.mode(), RetryMode::Standard);
        assert_eq!(retry.max_attempts(), 3);
        assert_eq!(retry.initial_backoff(), Duration::from_millis(200));
        assert_eq!(retry.max_backoff(), Duration::from_secs(5));
        let timeout = policy.timeout();
        assert_eq!(timeout.connect_timeout(), Some(Duration::from_secs(2)));
        assert_eq!(
            timeout.operation_attempt_timeout(),
            Some(Duration::from_secs(3))
        );
        assert_eq!(timeout.operation_timeout(), Some(Duration::from_secs(10)));
        // Every attempt fits in the operation budget with its shortest backoffs.
        let attempts = DEFAULT_ATTEMPT_TIMEOUT * DEFAULT_MAX_ATTEMPTS;
        assert!(attempts + DEFAULT_INITIAL_BACKOFF * 3 <= DEFAULT_OPERATION_TIMEOUT);
    }
}
