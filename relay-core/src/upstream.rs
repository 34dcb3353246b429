//! What every provider that calls an upstream service needs: one [`Upstream`] per service
//! (each call counted in the request's log line and in `relay_upstream_requests_total` by
//! outcome), transport failures classified ([`UpstreamError::from_reqwest`]), and lookups of
//! many observables at once with a bound on those in flight ([`lookup_all`]).
//!
//! Imports [`crate::provider`], [`crate::error`] and [`crate::telemetry`].

use std::borrow::Cow;
use std::error::Error as StdError;
use std::future::Future;
use std::io;

use futures::StreamExt as _;
use futures::stream::FuturesOrdered;

use crate::error::{RelayError, UpstreamFailure};
use crate::provider::Context;
use crate::telemetry;

/// One upstream service a provider calls, named for its metrics (`upstream` label of
/// `relay_upstream_requests_total`): build one per service when the provider is built, and
/// make every call through [`call`](Self::call).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use xdr_relay_core::{Context, Credentials, Upstream, UpstreamError, UpstreamFailure};
///
/// let upstream = Upstream::new("example-intel");
/// let context = Context::new(Credentials::default(), 100);
/// let answer: Result<u32, _> = upstream
///     .call(&context, async { Err(UpstreamError::new(UpstreamFailure::Timeout, "no answer within 5 s")) })
///     .await;
/// assert_eq!(answer.unwrap_err().code(), "service unavailable");
/// assert_eq!(context.upstream_calls(), 1);
/// # }
/// ```
#[derive(Debug)]
pub struct Upstream {
    name: Cow<'static, str>,
}

impl Upstream {
    /// The upstream called `name` in metrics (a short, fixed name such as `abuseipdb`).
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self { name: name.into() }
    }

    /// Its name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Makes one call (retries inside `call` count as one): counts it on the request's
    /// `context` and in the metric by outcome, and turns its failure into the relay's error.
    ///
    /// # Errors
    ///
    /// The [`RelayError`] of the call's [`UpstreamError`].
    pub async fn call<T>(
        &self,
        context: &Context,
        call: impl Future<Output = Result<T, UpstreamError>>,
    ) -> Result<T, RelayError> {
        context.record_upstream_calls(1);
        let result = call.await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(error) => error.failure.as_str(),
        };
        metrics::counter!(
            telemetry::UPSTREAM_REQUESTS,
            "upstream" => self.name.clone(),
            "outcome" => outcome
        )
        .increment(1);
        result.map_err(|error| error.error)
    }
}

/// A failed upstream call: what kind of failure it was (for metrics, and for the circuit
/// breaker, which counts only the upstream's own failures) and the error the relay answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamError {
    failure: UpstreamFailure,
    error: RelayError,
}

impl UpstreamError {
    /// A failure of `kind`, answered with relay-core's code for it
    /// ([`RelayError::upstream`]) and `message` (which must not quote a credential).
    pub fn new(kind: UpstreamFailure, message: impl Into<String>) -> Self {
        Self {
            failure: kind,
            error: RelayError::upstream(kind, message),
        }
    }

    /// A failure of `kind`, answered with the provider's own `error` (a code relay-core does
    /// not map, such as [`RelayError::Other`]).
    #[must_use]
    pub fn with_error(kind: UpstreamFailure, error: RelayError) -> Self {
        Self {
            failure: kind,
            error,
        }
    }

    /// A request to `upstream` (its name, for the message) that failed below HTTP, or whose
    /// answer could not be read: a timeout, a refused or reset connection, a certificate
    /// that does not verify. The message never holds the URL (which may carry a credential).
    #[must_use]
    pub fn from_reqwest(upstream: &str, error: &reqwest::Error) -> Self {
        let kind = classify(error);
        let message = match kind {
            UpstreamFailure::Tls => tls_reason(error),
            UpstreamFailure::Timeout => format!("{upstream} did not answer in time"),
            UpstreamFailure::Unavailable => format!(
                "{upstream} is unreachable: {}",
                innermost(error).unwrap_or("connection failed")
            ),
            _ => format!(
                "{upstream} sent an answer that could not be read: {}",
                innermost(error).unwrap_or("unreadable answer")
            ),
        };
        Self::new(kind, message)
    }

    /// What kind of failure it was.
    #[must_use]
    pub fn failure(&self) -> UpstreamFailure {
        self.failure
    }

    /// The error the relay answers for it.
    #[must_use]
    pub fn error(&self) -> &RelayError {
        &self.error
    }
}

impl From<UpstreamError> for RelayError {
    fn from(error: UpstreamError) -> Self {
        error.error
    }
}

/// The kind of a transport failure.
fn classify(error: &reqwest::Error) -> UpstreamFailure {
    if causes(error).any(|e| e.downcast_ref::<rustls::Error>().is_some()) {
        UpstreamFailure::Tls
    } else if error.is_timeout() {
        UpstreamFailure::Timeout
    } else if let Some(status) = error.status() {
        UpstreamFailure::from_status(status.as_u16())
    } else if error.is_connect() || error.is_request() || is_broken(error) {
        UpstreamFailure::Unavailable
    } else {
        UpstreamFailure::Other
    }
}

/// A certificate problem in the words people know from OpenSSL where possible.
fn tls_reason(error: &reqwest::Error) -> String {
    use rustls::CertificateError as Cert;
    let Some(tls) = causes(error).find_map(|e| e.downcast_ref::<rustls::Error>()) else {
        return "the TLS handshake failed".to_owned();
    };
    let text = match tls {
        rustls::Error::InvalidCertificate(cert) => match cert {
            Cert::UnknownIssuer => "self signed certificate or unknown certificate authority",
            Cert::Expired | Cert::ExpiredContext { .. } => "certificate has expired",
            Cert::NotValidYet | Cert::NotValidYetContext { .. } => "certificate is not yet valid",
            Cert::NotValidForName | Cert::NotValidForNameContext { .. } => {
                "certificate is not valid for this host name"
            }
            Cert::Revoked => "certificate has been revoked",
            _ => return tls.to_string(),
        },
        _ => return tls.to_string(),
    };
    text.to_owned()
}

/// The connection broke under the exchange (a reset, a close before the answer).
fn is_broken(error: &reqwest::Error) -> bool {
    causes(error).any(|e| {
        e.downcast_ref::<io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::ConnectionRefused
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof
            )
        })
    })
}

/// The most specific cause's text (reqwest's own text names the URL).
fn innermost(error: &reqwest::Error) -> Option<&'static str> {
    let last = causes(error).last()?;
    let kind = last.downcast_ref::<io::Error>().map(io::Error::kind);
    Some(match kind {
        Some(io::ErrorKind::ConnectionRefused) => "connection refused",
        Some(io::ErrorKind::ConnectionReset) => "connection reset",
        Some(io::ErrorKind::ConnectionAborted) => "connection aborted",
        Some(io::ErrorKind::BrokenPipe) => "broken pipe",
        Some(io::ErrorKind::UnexpectedEof) => "connection closed before the answer",
        _ if error.is_decode() => "the body is not what was expected",
        _ if error.is_body() => "the body could not be read",
        _ if error.is_connect() => "cannot connect",
        _ => return None,
    })
}

/// `error` and its sources, looking inside `io::Error`s.
fn causes<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&e| match e.downcast_ref::<io::Error>() {
        Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
        None => e.source(),
    })
}

/// `lookup(item)` for every item, at most `concurrency` at once, the results in the order of
/// `items`: how a provider asks its upstream about each observable of a request without one
/// round trip per observable, and without more calls in flight than the upstream should take.
///
/// It compiles inside an `#[async_trait]` method, where the obvious
/// `stream::iter(observables).map(..).buffered(n)` fails with "FnOnce is not general
/// enough": the items are borrowed for the one lifetime `'a`, not for any lifetime.
///
/// ```
/// use xdr_relay_core::ctim_model::{ObservableType, ObserveBundle, Verdict};
/// use xdr_relay_core::{async_trait, lookup_all, Context, Outcome, ParsedObservable, Provider, ProviderInfo, RelayError};
///
/// struct Slow;
///
/// impl Slow {
///     async fn ask(&self, observable: &ParsedObservable) -> Result<Option<Verdict>, RelayError> {
///         Ok(None) // one upstream call per observable
///     }
/// }
///
/// #[async_trait]
/// impl Provider for Slow {
///     fn info(&self) -> ProviderInfo {
///         ProviderInfo::new("Slow", "1.0.0", [ObservableType::Ip])
///     }
///     async fn deliberate(&self, _: &Context, observables: &[ParsedObservable])
///         -> Result<Outcome<Vec<Verdict>>, RelayError> {
///         let answers = lookup_all(observables, 20, |o| self.ask(o)).await;
///         let mut outcome = Outcome::new(Vec::new());
///         for answer in answers {
///             match answer {
///                 Ok(verdict) => outcome.data.extend(verdict),
///                 Err(error) => outcome.errors.push(error),
///             }
///         }
///         Ok(outcome)
///     }
///     async fn observe(&self, _: &Context, _: &[ParsedObservable])
///         -> Result<Outcome<ObserveBundle>, RelayError> {
///         Ok(Outcome::new(ObserveBundle::default()))
///     }
/// }
/// ```
pub async fn lookup_all<'a, T, R, F, Fut>(items: &'a [T], concurrency: usize, lookup: F) -> Vec<R>
where
    F: Fn(&'a T) -> Fut,
    Fut: Future<Output = R>,
{
    // A loop over `FuturesOrdered` rather than `stream::iter(..).map(lookup).buffered(n)`: the
    // `Map` adapter's bound on the closure is what the compiler cannot prove `Send` for
    // borrowed items (rust-lang/rust#64552).
    let mut pending = FuturesOrdered::new();
    let mut results = Vec::with_capacity(items.len());
    let mut next = items.iter();
    loop {
        while pending.len() < concurrency.max(1) {
            let Some(item) = next.next() else { break };
            pending.push_back(lookup(item));
        }
        match pending.next().await {
            Some(result) => results.push(result),
            None => return results,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::credentials::Credentials;

    #[tokio::test]
    async fn lookups_keep_their_order_and_their_bound() {
        let in_flight = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let items: Vec<u64> = (0..40).collect();
        let answers = lookup_all(&items, 7, |&n| {
            let (in_flight, most) = (&in_flight, &most);
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                // Later items finish first: the order must still be the items'.
                tokio::time::sleep(Duration::from_millis(40 - n)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                n * 2
            }
        })
        .await;
        assert_eq!(answers, items.iter().map(|n| n * 2).collect::<Vec<_>>());
        assert_eq!(most.load(Ordering::SeqCst), 7);
        let none: Vec<u64> = lookup_all(&[] as &[u64], 0, |&n| async move { n }).await;
        assert!(none.is_empty());
    }

    #[tokio::test]
    async fn a_call_is_counted_and_its_error_answered() {
        let upstream = Upstream::new("test");
        let context = Context::new(Credentials::default(), 1);
        let ok = upstream.call(&context, async { Ok::<_, UpstreamError>(5) });
        assert_eq!(ok.await, Ok(5));
        let limited = upstream.call(&context, async {
            Err::<(), _>(UpstreamError::new(
                UpstreamFailure::RateLimited,
                "slow down",
            ))
        });
        assert_eq!(limited.await.unwrap_err().code(), "too many requests");
        let own = RelayError::InvalidArgument("mine".into());
        let custom = upstream.call(&context, async {
            Err::<(), _>(UpstreamError::with_error(
                UpstreamFailure::Other,
                own.clone(),
            ))
        });
        assert_eq!(custom.await, Err(own));
        assert_eq!(context.upstream_calls(), 3);
    }

    #[tokio::test]
    async fn transport_failures_are_classified_without_the_url() {
        // Nothing listens on this port: connection refused.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = closed.local_addr().unwrap();
        drop(closed);
        let client = reqwest::Client::new();
        let error = client
            .get(format!("http://{address}/check?key=hunter2"))
            .send()
            .await
            .unwrap_err();
        let upstream = UpstreamError::from_reqwest("Example", &error);
        assert_eq!(upstream.failure(), UpstreamFailure::Unavailable);
        let message = upstream.error().to_string();
        assert!(message.starts_with("Example is unreachable"), "{message}");
        assert!(
            !message.contains("hunter2") && !message.contains("127.0.0.1"),
            "{message}"
        );

        // A server that accepts and never answers: a timeout.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let error = client
            .get(format!("http://{address}/"))
            .timeout(Duration::from_millis(100))
            .send()
            .await
            .unwrap_err();
        let upstream = UpstreamError::from_reqwest("Example", &error);
        assert_eq!(upstream.failure(), UpstreamFailure::Timeout);
        assert_eq!(upstream.error().code(), "service unavailable");
        hold.abort();
    }
}
