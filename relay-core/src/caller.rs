//! Calls made as a caller ([`Upstream::call_as`]): the caller's stop (`stops.rs`) checked
//! before the call and a 429 or 401 remembered after it, and `Retry-After` carried on an
//! [`UpstreamError`]. Kept apart from `upstream.rs`, whose call, cap and circuit breaker it
//! wraps without changing.

use std::future::Future;
use std::time::Duration;

use crate::credentials::CallerDigest;
use crate::error::RelayError;
use crate::provider::Context;
use crate::upstream::{Upstream, UpstreamError};

impl Upstream {
    /// The same upstream, remembering a caller's rate limit for at most `max` (default an
    /// hour; [`UPSTREAM_STOP_MAX`](crate::UPSTREAM_STOP_MAX)).
    #[must_use]
    pub fn with_stop_max(mut self, max: Duration) -> Self {
        self.stops.set_max(max);
        self
    }

    /// The error `caller`'s calls are stopped with, while a rate limit or refused credentials
    /// of theirs are remembered.
    #[must_use]
    pub fn stopped(&self, caller: &CallerDigest) -> Option<RelayError> {
        self.stops.get(caller)
    }

    /// [`call`](Self::call) for `caller`: answered at once with their stop while one is
    /// remembered (no call made, none counted), and a 429 (until its `Retry-After`, see
    /// [`UpstreamError::with_retry_after`]; a minute without one; at most the stop maximum)
    /// or a 401 remembered as their stop.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use xdr_relay_core::{CallerDigest, Context, Credentials, Upstream, UpstreamError, UpstreamFailure};
    ///
    /// let upstream = Upstream::new("example-intel");
    /// let context = Context::new(Credentials::default(), 100);
    /// let caller = CallerDigest::of_secret("the caller's key");
    /// let limited = UpstreamError::new(UpstreamFailure::RateLimited, "slow down")
    ///     .with_retry_after(Duration::from_secs(30));
    /// let first: Result<(), _> = upstream.call_as(&context, caller, async { Err(limited) }).await;
    /// assert_eq!(first.unwrap_err().code(), "too many requests");
    /// // Within the 30 s: the same error, and the call is not made.
    /// let second: Result<(), _> = upstream.call_as(&context, caller, async { Ok(()) }).await;
    /// assert_eq!(second.unwrap_err().to_string(), "slow down");
    /// assert_eq!(context.upstream_calls(), 1);
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The caller's stop, or [`call`](Self::call)'s error.
    pub async fn call_as<T>(
        &self,
        context: &Context,
        caller: CallerDigest,
        call: impl Future<Output = Result<T, UpstreamError>>,
    ) -> Result<T, RelayError> {
        if let Some(error) = self.stopped(&caller) {
            return Err(error);
        }
        let remembered = async {
            let result = call.await;
            if let Err(error) = &result {
                let (kind, after) = (error.failure(), error.retry_after());
                self.stops.remember(caller, kind, after, error.error());
            }
            result
        };
        self.call(context, remembered).await
    }
}

impl UpstreamError {
    /// The same error, with how long the upstream asked to be left alone (its `Retry-After`,
    /// e.g. from [`RetryAfter::parse`](crate::RetryAfter::parse)): what
    /// [`Upstream::call_as`] stops the caller for.
    #[must_use]
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// How long the upstream asked to be left alone, when it said.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Credentials;
    use crate::error::UpstreamFailure;

    fn limited(after: Option<u64>) -> UpstreamError {
        let error = UpstreamError::new(UpstreamFailure::RateLimited, "slow down");
        match after {
            Some(s) => error.with_retry_after(Duration::from_secs(s)),
            None => error,
        }
    }

    #[tokio::test]
    async fn a_rate_limit_stops_its_caller_alone_until_it_ends() {
        let upstream = Upstream::new("test").with_stop_max(Duration::from_millis(300));
        let context = Context::new(Credentials::default(), 1);
        let (me, other) = (
            CallerDigest::of_secret("me"),
            CallerDigest::of_secret("you"),
        );
        // Retry-After of an hour, capped at 300 ms.
        let first: Result<(), _> = upstream
            .call_as(&context, me, async { Err(limited(Some(3_600))) })
            .await;
        assert_eq!(first.unwrap_err().code(), "too many requests");
        assert!(upstream.stopped(&me).is_some());
        assert!(upstream.stopped(&other).is_none());
        let stopped = upstream.call_as(&context, me, async { Ok(1) }).await;
        assert_eq!(stopped.unwrap_err().to_string(), "slow down");
        assert_eq!(
            upstream.call_as(&context, other, async { Ok(2) }).await,
            Ok(2)
        );
        assert_eq!(context.upstream_calls(), 2);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(upstream.call_as(&context, me, async { Ok(3) }).await, Ok(3));
    }

    #[tokio::test]
    async fn refused_credentials_stop_and_other_failures_do_not() {
        let upstream = Upstream::new("test");
        let context = Context::new(Credentials::default(), 1);
        let me = CallerDigest::of_secret("me");
        for kind in [UpstreamFailure::Unavailable, UpstreamFailure::Forbidden] {
            let _: Result<(), _> = upstream
                .call_as(
                    &context,
                    me,
                    async move { Err(UpstreamError::new(kind, "no")) },
                )
                .await;
            assert!(upstream.stopped(&me).is_none(), "{kind:?}");
        }
        let _: Result<(), _> = upstream
            .call_as(&context, me, async {
                Err(UpstreamError::new(UpstreamFailure::Unauthorized, "bad key"))
            })
            .await;
        assert_eq!(
            upstream.stopped(&me).map(|e| e.code()),
            Some("authorization error")
        );
        // A Retry-After of zero stops nothing.
        let zero = CallerDigest::of_secret("zero");
        let _: Result<(), _> = upstream
            .call_as(&context, zero, async { Err(limited(Some(0))) })
            .await;
        assert!(upstream.stopped(&zero).is_none());
    }
}
