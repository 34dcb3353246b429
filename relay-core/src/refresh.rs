//! Reference data a provider reads from its upstream now and then (a table of categories, a
//! list of feeds), shared by every request: [`Refreshed`] serves what it has at once and reads
//! it again in the background when it expires, each read under its own bound; until a first
//! read succeeds, or while reads fail, the provider's built-in data stands in.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::credentials::Credentials;
use crate::provider::Context;

/// Reference data read from the upstream, kept for a time to live, refreshed in the
/// background, with built-in data to fall back on.
///
/// [`get`](Self::get) answers at once with the data in hand; when it has expired, one read
/// starts in a task of its own (never more than one at a time) and the data in hand is still
/// answered until it succeeds. Only the very first requests, with nothing in hand yet, wait
/// for a read, each at most until its own deadline, then take the built-in data. A read runs
/// under its own `read_timeout`, not a caller's deadline. A failed read keeps what is in hand
/// (the built-in data when nothing was ever read) and is tried again after `retry` (or the
/// time to live, when shorter).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use xdr_relay_core::{Context, Credentials, Refreshed, RelayError};
///
/// let day = Duration::from_secs(86_400);
/// let categories = Refreshed::new(vec!["built-in"], day, Duration::from_secs(300), Duration::from_secs(10));
/// let context = Context::new(Credentials::default(), 100);
/// let table = categories
///     .get(&context, |_read: Context| async { Ok::<_, RelayError>(vec!["from the page"]) })
///     .await;
/// assert_eq!(*table, ["from the page"]);
/// # }
/// ```
#[derive(Debug)]
pub struct Refreshed<T> {
    inner: Arc<Inner<T>>,
}

#[derive(Debug)]
struct Inner<T> {
    builtin: Arc<T>,
    ttl: Duration,
    retry: Duration,
    read_timeout: Duration,
    /// What is in hand: `None` until a read ends.
    current: watch::Sender<Option<Arc<T>>>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// When what is in hand must be read again.
    expires: Option<Instant>,
    reading: bool,
}

impl<T: Send + Sync + 'static> Refreshed<T> {
    /// `builtin` until a read succeeds; what is read kept for `ttl`; a failed read tried again
    /// after `retry` (or `ttl`, when shorter); each read given up after `read_timeout`.
    pub fn new(builtin: T, ttl: Duration, retry: Duration, read_timeout: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                builtin: Arc::new(builtin),
                ttl,
                retry: retry.min(ttl),
                read_timeout,
                current: watch::Sender::new(None),
                state: Mutex::new(State {
                    expires: None,
                    reading: false,
                }),
            }),
        }
    }

    /// The built-in data.
    #[must_use]
    pub fn builtin(&self) -> Arc<T> {
        Arc::clone(&self.inner.builtin)
    }

    /// The data in hand, starting a read in the background with `read` when there is none or
    /// it has expired. `read` is given a [`Context`] of its own (no credentials, its deadline
    /// the read timeout) for its [`Upstream`](crate::Upstream) call; its error means "keep
    /// what is in hand" (the read should log it).
    pub async fn get<F, Fut, E>(&self, context: &Context, read: F) -> Arc<T>
    where
        F: FnOnce(Context) -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: Send + 'static,
    {
        let mut receiver = self.inner.current.subscribe();
        let now = Instant::now();
        let start = {
            let mut state = self.state();
            let due = state.expires.is_none_or(|expires| now >= expires);
            let start = due && !state.reading;
            if start {
                state.reading = true;
            }
            start
        };
        if start {
            let deadline = now + self.inner.read_timeout;
            let read = read(Context::new(Credentials::default(), 0).with_deadline(deadline));
            let inner = Arc::clone(&self.inner);
            crate::telemetry::spawn(async move {
                let result = tokio::time::timeout_at(deadline, read).await;
                inner.settle(result.ok().and_then(Result::ok));
            });
        }
        if let Some(current) = receiver.borrow_and_update().clone() {
            return current;
        }
        // Nothing in hand yet: wait for the first read, at most until the caller's deadline.
        let first = receiver.wait_for(Option::is_some);
        let waited = match context.deadline() {
            Some(deadline) => tokio::time::timeout_at(deadline, first).await.ok(),
            None => Some(first.await),
        };
        waited
            .and_then(Result::ok)
            .and_then(|current| current.clone())
            .unwrap_or_else(|| self.builtin())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state()
    }
}

impl<T> Inner<T> {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A read ended: what it read kept for the time to live, or (`None`) what is in hand kept
    /// until the retry.
    fn settle(&self, read: Option<T>) {
        let now = Instant::now();
        let mut state = self.state();
        state.reading = false;
        match read {
            Some(value) => {
                state.expires = Some(now + self.ttl);
                self.current.send_replace(Some(Arc::new(value)));
            }
            None => {
                state.expires = Some(now + self.retry);
                if self.current.borrow().is_none() {
                    self.current.send_replace(Some(Arc::clone(&self.builtin)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn context(deadline_ms: u64) -> Context {
        Context::new(Credentials::default(), 1)
            .with_deadline(Instant::now() + Duration::from_millis(deadline_ms))
    }

    #[tokio::test]
    async fn the_first_read_is_waited_for_then_kept_for_its_ttl() {
        let reads = Arc::new(AtomicUsize::new(0));
        let data = Refreshed::new(
            0,
            Duration::from_millis(300),
            Duration::from_secs(60),
            Duration::from_secs(5),
        );
        let read = |reads: Arc<AtomicUsize>| {
            move |_: Context| async move { Ok::<_, ()>(reads.fetch_add(1, Ordering::SeqCst) + 1) }
        };
        assert_eq!(
            *data.get(&context(2_000), read(Arc::clone(&reads))).await,
            1
        );
        assert_eq!(
            *data.get(&context(2_000), read(Arc::clone(&reads))).await,
            1
        );
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(350)).await;
        // Expired: the data in hand at once, the read in the background.
        assert_eq!(
            *data.get(&context(2_000), read(Arc::clone(&reads))).await,
            1
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            *data.get(&context(2_000), read(Arc::clone(&reads))).await,
            2
        );
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_hung_read_holds_nobody_up_past_their_deadline_and_is_bounded() {
        let data = Refreshed::new(
            7,
            Duration::from_secs(60),
            Duration::from_millis(200),
            Duration::from_millis(300),
        );
        let hung = |_: Context| std::future::pending::<Result<u32, ()>>();
        // Nothing in hand: the built-in data at the caller's deadline.
        assert_eq!(*data.get(&context(100), hung).await, 7);
        // The read gives up at its own bound: the built-in data in hand, retried later.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            *data
                .get(&context(1), |_: Context| async { Ok::<_, ()>(9) })
                .await,
            7
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        let _ = data
            .get(&context(1), |_: Context| async { Ok::<_, ()>(9) })
            .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(*data.get(&context(1), hung).await, 9);
    }

    #[tokio::test]
    async fn a_failed_read_keeps_what_was_read() {
        let data = Refreshed::new(
            0,
            Duration::from_millis(100),
            Duration::from_secs(60),
            Duration::from_secs(5),
        );
        assert_eq!(
            *data
                .get(&context(1_000), |_: Context| async { Ok::<_, ()>(5) })
                .await,
            5
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
        let _ = data
            .get(&context(1_000), |_: Context| async { Err::<u32, _>(()) })
            .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            *data
                .get(&context(1_000), |_: Context| async { Ok::<_, ()>(6) })
                .await,
            5
        );
    }
}
