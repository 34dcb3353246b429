//! Lookups of observables through an upstream, shared by requests: [`LookupCache`] keeps the
//! upstream's answers per (caller, query) for a time and within a memory bound, makes one call
//! for concurrent lookups of the same query, runs that call under its own bound, answers a
//! caller's rate limit from the [`Upstream`]'s memory of it, and never caches an error.
//! [`lookup_distinct`] looks each distinct query of a request up once, and
//! [`Outcome::gather`] turns the per-observable results into an answer with partial data.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use tokio::time::Instant;

use crate::credentials::CallerDigest;
use crate::error::RelayError;
use crate::provider::{Context, Outcome};
use crate::stats::RequestStats;
use crate::telemetry;
use crate::upstream::{Upstream, lookup_all};

/// What a cached value holds in memory, in bytes, its own size included: what
/// [`LookupCache`] weighs its values by (count the capacity of every buffer, not its length).
pub trait Weigh {
    /// Bytes held.
    fn weight(&self) -> usize;
}

impl<T: Weigh> Weigh for Option<T> {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>() + self.as_ref().map_or(0, Weigh::weight)
    }
}

impl<T: Weigh> Weigh for Arc<T> {
    /// The value and the `Arc`'s two counts (shared values are counted in full by each holder).
    fn weight(&self) -> usize {
        2 * std::mem::size_of::<usize>() + T::weight(self)
    }
}

/// The bytes moka and the map hold per entry besides the key and the value (its entry, the
/// access and write order nodes, the hash table's slot): an estimate from moka 0.12's
/// structures, on the high side.
const ENTRY_OVERHEAD: usize = 256;

/// The bounds of a [`LookupCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LookupLimits {
    /// How long an answer is kept; zero keeps none (concurrent lookups are still shared).
    pub ttl: Duration,
    /// Most bytes the kept answers weigh ([`Weigh`], keys and overhead included); the least
    /// used go first.
    pub max_bytes: u64,
    /// Longest a shared call may take, whoever waits for it (each waiter waits at most until
    /// its own deadline).
    pub call_timeout: Duration,
}

impl LookupLimits {
    /// Answers kept for `ttl` within `max_bytes`, each call given up after `call_timeout`.
    #[must_use]
    pub fn new(ttl: Duration, max_bytes: u64, call_timeout: Duration) -> Self {
        Self {
            ttl,
            max_bytes,
            call_timeout,
        }
    }
}

type Key<Q> = (CallerDigest, Q);
/// A call shared by the requests that wait for it: its answer, and the upstream calls it made.
type SharedCall<V> = Shared<BoxFuture<'static, (Result<V, RelayError>, u32)>>;

/// An upstream's answers per (caller, query), shared by every request.
///
/// [`get_or_fetch`](Self::get_or_fetch) answers from the cache (a hit, even while the caller
/// is rate limited), else with the caller's stop on the [`Upstream`] ([`Upstream::call_as`]
/// remembers a 429 or a 401 per caller), else from one call per (caller, query) at a time:
/// the first request's lookup starts it in a task of its own, under its own bound
/// ([`LookupLimits::call_timeout`]), and every request that asks meanwhile waits for it until
/// its own deadline. Successes are kept for the TTL within the byte bound; errors never are.
/// Hits and misses are counted by `upstream` (`relay_lookup_cache_hits_total`,
/// `relay_lookup_cache_misses_total`, or the provider's own names), and on the request's
/// [`Context`]: a hit, or the calls its lookup made.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use xdr_relay_core::{Context, Credentials, LookupCache, LookupLimits, Upstream, UpstreamError, Weigh};
///
/// #[derive(Clone)]
/// struct Score(u8);
/// impl Weigh for Score {
///     fn weight(&self) -> usize { std::mem::size_of::<Self>() }
/// }
///
/// let upstream = Arc::new(Upstream::new("example-intel"));
/// let limits = LookupLimits::new(Duration::from_secs(3600), 64 << 20, Duration::from_secs(10));
/// let cache: LookupCache<String, Score> = LookupCache::new(Arc::clone(&upstream), limits);
/// let context = Context::new(Credentials::default(), 100);
/// let caller = context.credentials().digest();
/// for _ in 0..2 {
///     let upstream = Arc::clone(&upstream);
///     let score = cache
///         .get_or_fetch(&context, caller, "192.0.2.1".to_owned(), move |call: Context| async move {
///             upstream.call_as(&call, caller, async { Ok::<_, UpstreamError>(Score(7)) }).await
///         })
///         .await;
///     assert_eq!(score.unwrap().0, 7);
/// }
/// assert_eq!((context.upstream_calls(), context.cache_hits()), (1, 1));
/// # }
/// ```
pub struct LookupCache<Q, V> {
    inner: Arc<Inner<Q, V>>,
}

struct Inner<Q, V> {
    upstream: Arc<Upstream>,
    hits: &'static str,
    misses: &'static str,
    limits: LookupLimits,
    kept: Option<moka::future::Cache<Key<Q>, V>>,
    in_flight: Mutex<HashMap<Key<Q>, SharedCall<V>>>,
}

impl<Q, V> std::fmt::Debug for LookupCache<Q, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LookupCache")
            .field("upstream", &self.inner.upstream.name())
            .field("limits", &self.inner.limits)
            .field(
                "entries",
                &self.inner.kept.as_ref().map(|c| c.entry_count()),
            )
            .finish_non_exhaustive()
    }
}

impl<Q, V> LookupCache<Q, V>
where
    Q: Hash + Eq + Clone + Send + Sync + 'static,
    V: Weigh + Clone + Send + Sync + 'static,
{
    /// A cache of `upstream`'s answers within `limits`, counting its hits and misses as
    /// [`LOOKUP_CACHE_HITS`](telemetry::LOOKUP_CACHE_HITS) and
    /// [`LOOKUP_CACHE_MISSES`](telemetry::LOOKUP_CACHE_MISSES), exported from the start at
    /// zero.
    pub fn new(upstream: Arc<Upstream>, limits: LookupLimits) -> Self {
        Self::named(
            upstream,
            limits,
            telemetry::LOOKUP_CACHE_HITS,
            telemetry::LOOKUP_CACHE_MISSES,
        )
    }

    /// A cache of `upstream`'s answers within `limits`, counting its hits and misses under
    /// the provider's own metric names (labelled by `upstream`), exported from the start at
    /// zero.
    pub fn named(
        upstream: Arc<Upstream>,
        limits: LookupLimits,
        hits: &'static str,
        misses: &'static str,
    ) -> Self {
        for name in [hits, misses] {
            metrics::counter!(name, "upstream" => upstream.name().to_owned()).increment(0);
        }
        let kept = (!limits.ttl.is_zero()).then(|| {
            moka::future::Cache::builder()
                .max_capacity(limits.max_bytes)
                .weigher(|key: &Key<Q>, value: &V| {
                    let bytes = std::mem::size_of_val(key) + value.weight() + ENTRY_OVERHEAD;
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                .time_to_live(limits.ttl)
                .build()
        });
        Self {
            inner: Arc::new(Inner {
                upstream,
                hits,
                misses,
                limits,
                kept,
                in_flight: Mutex::default(),
            }),
        }
    }

    /// The same cache, counting its hits and misses under the provider's own metric names
    /// (still labelled by `upstream`). Call it before the first lookup.
    /// [`named`](Self::named) exports them from the start; these are exported at their first
    /// count.
    #[must_use]
    pub fn metric_names(mut self, hits: &'static str, misses: &'static str) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.hits = hits;
            inner.misses = misses;
        }
        self
    }

    /// The upstream it caches.
    #[must_use]
    pub fn upstream(&self) -> &Arc<Upstream> {
        &self.inner.upstream
    }

    /// The answer for `query` of `caller`: kept, or being fetched (waited for until the
    /// request's deadline), or `fetch`ed now in a task of its own with a [`Context`] of its own
    /// (the request's credentials, a deadline of the call timeout); `fetch` makes its call
    /// through [`Upstream::call_as`] with that context.
    ///
    /// # Errors
    ///
    /// The caller's stop on the upstream, the call's error (shared by every request that
    /// waited for it), or `service unavailable` when the request's deadline passes first.
    pub async fn get_or_fetch<F, Fut>(
        &self,
        context: &Context,
        caller: CallerDigest,
        query: Q,
        fetch: F,
    ) -> Result<V, RelayError>
    where
        F: FnOnce(Context) -> Fut,
        Fut: Future<Output = Result<V, RelayError>> + Send + 'static,
    {
        let inner = &self.inner;
        let key = (caller, query);
        if let Some(kept) = &inner.kept
            && let Some(value) = kept.get(&key).await
        {
            self.hit(context);
            return Ok(value);
        }
        if let Some(error) = inner.upstream.stopped(&caller) {
            return Err(error);
        }
        let (call, leader) = {
            let mut in_flight = inner.in_flight();
            match in_flight.entry(key) {
                Entry::Occupied(call) => (call.get().clone(), false),
                Entry::Vacant(slot) => {
                    let call = self.start(context, slot.key().clone(), fetch);
                    slot.insert(call.clone());
                    (call, true)
                }
            }
        };
        if leader {
            metrics::counter!(inner.misses, "upstream" => inner.upstream.name().to_owned())
                .increment(1);
        }
        let waited = match context.deadline() {
            Some(deadline) => tokio::time::timeout_at(deadline, call).await.ok(),
            None => Some(call.await),
        };
        let Some((answer, calls)) = waited else {
            return Err(RelayError::ServiceUnavailable(format!(
                "{} did not answer before the request's deadline",
                inner.upstream.shown_name()
            )));
        };
        if leader {
            context.record_upstream_calls(calls);
        } else if answer.is_ok() {
            self.hit(context);
        }
        answer
    }

    /// The shared call of `key`: `fetch` in a task, bounded, its answer kept on success, its
    /// entry in flight removed when it ends.
    fn start<F, Fut>(&self, context: &Context, key: Key<Q>, fetch: F) -> SharedCall<V>
    where
        F: FnOnce(Context) -> Fut,
        Fut: Future<Output = Result<V, RelayError>> + Send + 'static,
    {
        let deadline = Instant::now() + self.inner.limits.call_timeout;
        let stats = Arc::new(RequestStats::default());
        let own = Context::counted(
            context.credentials().clone(),
            context.entities_limit(),
            Arc::clone(&stats),
        )
        .with_deadline(deadline);
        let call = fetch(own);
        let inner = Arc::clone(&self.inner);
        let task = telemetry::spawn(async move {
            let result = tokio::time::timeout_at(deadline, call)
                .await
                .unwrap_or_else(|_| {
                    Err(RelayError::ServiceUnavailable(format!(
                        "{} did not answer in time",
                        inner.upstream.shown_name()
                    )))
                });
            if let (Ok(value), Some(kept)) = (&result, &inner.kept) {
                kept.insert(key.clone(), value.clone()).await;
            }
            inner.in_flight().remove(&key);
            (result, stats.upstream_calls())
        });
        async move {
            task.await.unwrap_or_else(|_| {
                let failed = RelayError::Unknown("the lookup failed unexpectedly".to_owned());
                (Err(failed), 0)
            })
        }
        .boxed()
        .shared()
    }

    fn hit(&self, context: &Context) {
        let inner = &self.inner;
        metrics::counter!(inner.hits, "upstream" => inner.upstream.name().to_owned()).increment(1);
        context.record_cache_hits(1);
    }

    /// The answers kept now (an estimate until moka's pending work is done).
    #[must_use]
    pub fn entry_count(&self) -> u64 {
        self.inner
            .kept
            .as_ref()
            .map_or(0, |kept| kept.entry_count())
    }

    /// What the kept answers weigh now, in bytes (see [`entry_count`](Self::entry_count)).
    #[must_use]
    pub fn weighted_size(&self) -> u64 {
        self.inner
            .kept
            .as_ref()
            .map_or(0, |kept| kept.weighted_size())
    }

    /// Finishes moka's pending work (evictions): for tests and measurements.
    pub async fn run_pending_tasks(&self) {
        if let Some(kept) = &self.inner.kept {
            kept.run_pending_tasks().await;
        }
    }
}

impl<Q, V> Inner<Q, V> {
    fn in_flight(&self) -> MutexGuard<'_, HashMap<Key<Q>, SharedCall<V>>> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// [`lookup_all`] over the distinct queries of `items` (by `query`): each looked up once, its
/// result given to every item with that query, in the order of `items`. For observables that
/// name one thing in several ways (`::ffff:192.0.2.1` and `192.0.2.1`, `2001:DB8::1` and
/// `2001:db8::1`), which relay-core's deduplication of the text keeps apart.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::cell::Cell;
/// let asked = Cell::new(0);
/// let items = ["A", "a", "b"];
/// let answers = xdr_relay_core::lookup_distinct(&items, |s| s.to_lowercase(), 4, |s| {
///     asked.set(asked.get() + 1);
///     let s = s.to_lowercase();
///     async move { s }
/// })
/// .await;
/// assert_eq!(answers, ["a", "a", "b"]);
/// assert_eq!(asked.get(), 2);
/// # }
/// ```
pub async fn lookup_distinct<'a, T, K, R, F, Fut>(
    items: &'a [T],
    query: impl Fn(&'a T) -> K,
    concurrency: usize,
    lookup: F,
) -> Vec<R>
where
    K: Hash + Eq,
    R: Clone,
    F: Fn(&'a T) -> Fut,
    Fut: Future<Output = R>,
{
    let mut first_of: HashMap<K, usize> = HashMap::new();
    let mut distinct: Vec<&'a T> = Vec::new();
    let mut index: Vec<usize> = Vec::with_capacity(items.len());
    for item in items {
        let next = distinct.len();
        let at = *first_of.entry(query(item)).or_insert(next);
        if at == next {
            distinct.push(item);
        }
        index.push(at);
    }
    let results = lookup_all(&distinct, concurrency, |item| lookup(item)).await;
    index.into_iter().map(|at| results[at].clone()).collect()
}

impl<T> Outcome<T> {
    /// Looks each of `items` up, at most `concurrency` at once ([`lookup_all`]), and
    /// [gathers](Self::gather) the results into `data`: each success `add`ed with its item,
    /// each error kept beside the data.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use xdr_relay_core::{Outcome, RelayError};
    /// let items = [1, 2, 3];
    /// let outcome = Outcome::lookups(&items, 2, Vec::new(), |n| async move {
    ///     if *n == 2 { Err(RelayError::Unknown("no".into())) } else { Ok(n * 10) }
    /// }, |data, n, found| data.push((*n, found)))
    /// .await;
    /// assert_eq!(outcome.data, [(1, 10), (3, 30)]);
    /// assert_eq!(outcome.errors.len(), 1);
    /// # }
    /// ```
    pub async fn lookups<'a, I, X, F, Fut>(
        items: &'a [I],
        concurrency: usize,
        data: T,
        lookup: F,
        mut add: impl FnMut(&mut T, &'a I, X),
    ) -> Self
    where
        F: Fn(&'a I) -> Fut,
        Fut: Future<Output = Result<X, RelayError>>,
    {
        let results = lookup_all(items, concurrency, |item| {
            let found = lookup(item);
            async move { found.await.map(|found| (item, found)) }
        })
        .await;
        Self::gather(data, results, |data, (item, found)| add(data, item, found))
    }

    /// The outcome of per-observable `results`: each success `add`ed to `data`, each error
    /// kept beside it, so one observable's failure does not hide the others' data.
    ///
    /// ```
    /// use xdr_relay_core::{Outcome, RelayError};
    /// let results = vec![Ok(Some(1)), Err(RelayError::Unknown("no".into())), Ok(None), Ok(Some(3))];
    /// let outcome = Outcome::gather(Vec::new(), results, |data, found: Option<i32>| data.extend(found));
    /// assert_eq!(outcome.data, [1, 3]);
    /// assert_eq!(outcome.errors.len(), 1);
    /// ```
    pub fn gather<X>(
        data: T,
        results: impl IntoIterator<Item = Result<X, RelayError>>,
        mut add: impl FnMut(&mut T, X),
    ) -> Self {
        let mut outcome = Self::new(data);
        for result in results {
            match result {
                Ok(found) => add(&mut outcome.data, found),
                Err(error) => outcome.errors.push(error),
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::credentials::Credentials;
    use crate::error::UpstreamFailure;
    use crate::upstream::UpstreamError;

    #[derive(Debug, Clone, PartialEq)]
    struct Answer(Vec<u8>);

    impl Weigh for Answer {
        fn weight(&self) -> usize {
            std::mem::size_of::<Self>() + self.0.capacity()
        }
    }

    fn cache(ttl_ms: u64, max_bytes: u64, call_ms: u64) -> LookupCache<u32, Answer> {
        let upstream = Arc::new(Upstream::new("test"));
        let limits = LookupLimits::new(
            Duration::from_millis(ttl_ms),
            max_bytes,
            Duration::from_millis(call_ms),
        );
        LookupCache::new(upstream, limits)
    }

    fn context(deadline_ms: u64) -> Context {
        Context::new(Credentials::default(), 1)
            .with_deadline(Instant::now() + Duration::from_millis(deadline_ms))
    }

    /// A fetch through the cache's upstream answering `bytes` after `wait_ms`, counting calls.
    fn fetch(
        cache: &LookupCache<u32, Answer>,
        calls: &Arc<AtomicUsize>,
        wait_ms: u64,
        outcome: Result<usize, UpstreamFailure>,
    ) -> impl FnOnce(Context) -> BoxFuture<'static, Result<Answer, RelayError>> {
        let upstream = Arc::clone(cache.upstream());
        let calls = Arc::clone(calls);
        move |context: Context| {
            async move {
                let caller = CallerDigest::of_secret("k");
                upstream
                    .call_as(&context, caller, async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
                        match outcome {
                            Ok(bytes) => Ok(Answer(vec![0; bytes])),
                            Err(kind) => Err(UpstreamError::new(kind, "no")),
                        }
                    })
                    .await
            }
            .boxed()
        }
    }

    #[tokio::test]
    async fn answers_are_kept_errors_are_not() {
        let cache = cache(60_000, 1 << 20, 1_000);
        let calls = Arc::new(AtomicUsize::new(0));
        let me = CallerDigest::of_secret("k");
        let ctx = context(1_000);
        let failed = cache
            .get_or_fetch(
                &ctx,
                me,
                1,
                fetch(&cache, &calls, 0, Err(UpstreamFailure::Timeout)),
            )
            .await;
        assert_eq!(failed.unwrap_err().code(), "service unavailable");
        for _ in 0..3 {
            let found = cache
                .get_or_fetch(&ctx, me, 1, fetch(&cache, &calls, 0, Ok(3)))
                .await;
            assert_eq!(found, Ok(Answer(vec![0; 3])));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!((ctx.upstream_calls(), ctx.cache_hits()), (2, 2));
        // Another caller, another answer.
        let other = CallerDigest::of_secret("other");
        let _ = cache
            .get_or_fetch(&ctx, other, 1, fetch(&cache, &calls, 0, Ok(3)))
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_rate_limited_caller_is_still_served_what_is_kept() {
        let cache = cache(60_000, 1 << 20, 1_000);
        let calls = Arc::new(AtomicUsize::new(0));
        let me = CallerDigest::of_secret("k");
        let ctx = context(1_000);
        cache
            .get_or_fetch(&ctx, me, 1, fetch(&cache, &calls, 0, Ok(1)))
            .await
            .unwrap();
        let limited = cache
            .get_or_fetch(
                &ctx,
                me,
                2,
                fetch(&cache, &calls, 0, Err(UpstreamFailure::RateLimited)),
            )
            .await;
        assert_eq!(limited.unwrap_err().code(), "too many requests");
        // Kept: served. Not kept: the stop, no call.
        assert!(
            cache
                .get_or_fetch(&ctx, me, 1, fetch(&cache, &calls, 0, Ok(1)))
                .await
                .is_ok()
        );
        let stopped = cache
            .get_or_fetch(&ctx, me, 3, fetch(&cache, &calls, 0, Ok(1)))
            .await;
        assert_eq!(stopped.unwrap_err().code(), "too many requests");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_shared_call_outlives_its_first_callers_deadline() {
        for ttl in [60_000, 0] {
            let cache = Arc::new(cache(ttl, 1 << 20, 2_000));
            let calls = Arc::new(AtomicUsize::new(0));
            let me = CallerDigest::of_secret("k");
            let first = {
                let (cache, calls) = (Arc::clone(&cache), Arc::clone(&calls));
                tokio::spawn(async move {
                    let ctx = context(100);
                    let f = fetch(&cache, &calls, 400, Ok(2));
                    cache.get_or_fetch(&ctx, me, 1, f).await
                })
            };
            tokio::time::sleep(Duration::from_millis(50)).await;
            let ctx = context(2_000);
            let second = cache
                .get_or_fetch(&ctx, me, 1, fetch(&cache, &calls, 400, Ok(2)))
                .await;
            let first = first.await.unwrap();
            assert!(first.unwrap_err().to_string().contains("deadline"));
            assert_eq!(second, Ok(Answer(vec![0; 2])), "ttl {ttl}");
            assert_eq!(calls.load(Ordering::SeqCst), 1, "ttl {ttl}");
            // The second request did not make the call: it is a hit, not a call.
            assert_eq!((ctx.upstream_calls(), ctx.cache_hits()), (0, 1));
        }
    }

    #[tokio::test]
    async fn a_shared_call_is_bounded_by_its_own_timeout() {
        let cache = cache(60_000, 1 << 20, 200);
        let calls = Arc::new(AtomicUsize::new(0));
        let me = CallerDigest::of_secret("k");
        let ctx = context(5_000);
        let hung = cache
            .get_or_fetch(&ctx, me, 1, fetch(&cache, &calls, 60_000, Ok(1)))
            .await;
        assert_eq!(hung.unwrap_err().code(), "service unavailable");
        // Not kept, not in flight any more: the next lookup calls again.
        let found = cache
            .get_or_fetch(&ctx, me, 1, fetch(&cache, &calls, 0, Ok(1)))
            .await;
        assert!(found.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_kept_answers_keep_to_the_byte_bound() {
        let cache = cache(60_000, 1 << 20, 1_000);
        let calls = Arc::new(AtomicUsize::new(0));
        let me = CallerDigest::of_secret("k");
        let ctx = context(5_000);
        // About 300 KiB each: three fit in 1 MiB, not ten.
        for n in 0..10 {
            let f = fetch(&cache, &calls, 0, Ok(300 << 10));
            cache.get_or_fetch(&ctx, me, n, f).await.unwrap();
        }
        cache.run_pending_tasks().await;
        assert!(
            cache.weighted_size() <= 1 << 20,
            "{}",
            cache.weighted_size()
        );
        assert!(cache.entry_count() <= 3, "{}", cache.entry_count());
    }

    #[test]
    fn weights_count_what_is_held() {
        let answer = Answer(vec![0; 1000]);
        assert!(answer.weight() >= 1000);
        assert!(Some(Arc::new(answer.clone())).weight() > answer.weight());
        assert!(None::<Answer>.weight() > 0);
    }

    #[test]
    fn outcomes_gather_data_beside_errors() {
        let results = vec![Ok(2), Err(RelayError::Unknown("x".into())), Ok(3)];
        let outcome = Outcome::gather(0, results, |sum, n| *sum += n);
        assert_eq!(outcome.data, 5);
        assert_eq!(outcome.errors, [RelayError::Unknown("x".into())]);
    }
}
