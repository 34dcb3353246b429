//! What every provider that calls an upstream service needs: one [`Upstream`] per service
//! (each call counted in the request's log line and in `relay_upstream_requests_total` by
//! outcome, a cap on calls in flight, a circuit breaker, the request's deadline), transport
//! failures classified ([`UpstreamError::from_reqwest`]), and lookups of many observables at
//! once with a bound on those in flight ([`lookup_all`]).

use std::borrow::Cow;
use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::StreamExt as _;
use futures::stream::FuturesOrdered;
use tokio::sync::Semaphore;

use crate::error::{RelayError, UpstreamFailure};
use crate::provider::Context;
use crate::settings::{EnvError, EnvVar, Settings};
use crate::telemetry;

/// The protection of one upstream: how many calls may be in flight at once, and the circuit
/// breaker's threshold and cool-down. Every networked provider declares
/// [`ENV_VARS`](Self::ENV_VARS) among its settings and reads them with
/// [`from_settings`](Self::from_settings).
///
/// ```
/// use xdr_relay_core::{Settings, UpstreamLimits};
/// let settings = Settings::new(|name| (name == "RELAY_UPSTREAM_MAX_IN_FLIGHT").then(|| "8".to_owned()));
/// let limits = UpstreamLimits::from_settings(&settings)?;
/// assert_eq!(limits.max_in_flight, 8);
/// assert_eq!(limits.breaker_failures, 5);
/// # Ok::<(), xdr_relay_core::EnvError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpstreamLimits {
    /// Most calls in flight at once, over every request of the process. The next wait for a
    /// slot, at most until their request's deadline. Default 64: a typical investigation's
    /// lookups (up to 50 observables) in one round trip, and never a herd against an upstream
    /// that is struggling or a quota that is counted.
    pub max_in_flight: usize,
    /// Consecutive failures of the upstream itself (timeouts, refused connections, 5xx; not a
    /// call the request's deadline cut, see [`Upstream::call`]) that open the circuit: calls
    /// then fail at once with `service unavailable` for [`breaker_cool_down`](Self::breaker_cool_down),
    /// then one probe decides whether it closes. 0 turns the breaker off. Default 5.
    pub breaker_failures: u32,
    /// How long an open circuit fails calls before a probe. Default 30 s.
    pub breaker_cool_down: Duration,
}

impl Default for UpstreamLimits {
    fn default() -> Self {
        Self {
            max_in_flight: 64,
            breaker_failures: 5,
            breaker_cool_down: Duration::from_secs(30),
        }
    }
}

/// Most upstream calls in flight.
pub const UPSTREAM_MAX_IN_FLIGHT: EnvVar = EnvVar::new(
    "RELAY_UPSTREAM_MAX_IN_FLIGHT",
    "upstream-max-in-flight",
    "N",
    "Most calls to the upstream in flight at once, over all requests; the next wait for a slot \
     until their request's deadline. Default 64.",
);

/// Failures that open the circuit.
pub const UPSTREAM_BREAKER_FAILURES: EnvVar = EnvVar::new(
    "RELAY_UPSTREAM_BREAKER_FAILURES",
    "upstream-breaker-failures",
    "N",
    "Consecutive upstream failures (timeouts, refused connections, 5xx) after which calls fail \
     at once for the cool-down; 0 turns the circuit breaker off. Default 5.",
);

/// How long an open circuit stays open.
pub const UPSTREAM_BREAKER_COOL_DOWN: EnvVar = EnvVar::new(
    "RELAY_UPSTREAM_BREAKER_COOL_DOWN",
    "upstream-breaker-cool-down",
    "SECONDS",
    "Seconds an open circuit fails calls at once before one probe decides whether it closes. \
     Default 30.",
);

/// Every setting of a networked relay's upstream besides its own: the cap and the breaker
/// ([`UpstreamLimits::ENV_VARS`]) and how long a caller's rate limit is remembered
/// ([`UPSTREAM_STOP_MAX`](crate::UPSTREAM_STOP_MAX)). Declare them with the relay's own
/// (`App::settings`), so that `--help` lists them and the server takes them as flags:
///
/// ```
/// # use xdr_relay_core::{App, EnvVar, UPSTREAM_SETTINGS};
/// # const TIMEOUT: EnvVar = EnvVar::new("EXAMPLE_TIMEOUT", "example-timeout", "SECONDS", "...");
/// # fn declare<P: xdr_relay_core::Provider>(app: App<P>) -> App<P> {
/// app.settings([TIMEOUT]).settings(UPSTREAM_SETTINGS)
/// # }
/// ```
pub const UPSTREAM_SETTINGS: [EnvVar; 4] = [
    UPSTREAM_MAX_IN_FLIGHT,
    UPSTREAM_BREAKER_FAILURES,
    UPSTREAM_BREAKER_COOL_DOWN,
    crate::stops::UPSTREAM_STOP_MAX,
];

impl UpstreamLimits {
    /// The variables [`from_settings`](Self::from_settings) reads.
    pub const ENV_VARS: &'static [EnvVar] = &[
        UPSTREAM_MAX_IN_FLIGHT,
        UPSTREAM_BREAKER_FAILURES,
        UPSTREAM_BREAKER_COOL_DOWN,
    ];

    /// The limits the variables of [`ENV_VARS`](Self::ENV_VARS) describe, the rest defaults.
    ///
    /// # Errors
    ///
    /// [`EnvError`] naming the variable that is not a positive integer (the cap), a whole
    /// number (the failures) or whole seconds (the cool-down).
    pub fn from_settings(settings: &Settings<'_>) -> Result<Self, EnvError> {
        let mut limits = Self::default();
        if let Some(most) = settings.count(&UPSTREAM_MAX_IN_FLIGHT)? {
            limits.max_in_flight = most;
        }
        if let Some(failures) = settings.value(&UPSTREAM_BREAKER_FAILURES) {
            limits.breaker_failures = failures.parse().map_err(|_| {
                EnvError::invalid(&UPSTREAM_BREAKER_FAILURES, "a whole number", &failures)
            })?;
        }
        if let Some(cool_down) = settings.seconds(&UPSTREAM_BREAKER_COOL_DOWN)? {
            limits.breaker_cool_down = cool_down;
        }
        Ok(limits)
    }
}

/// One upstream service a provider calls, named for its metrics (`upstream` label): build one
/// per service when the provider is built, and make every call through [`call`](Self::call).
///
/// Each call is counted in the request's log line and in `relay_upstream_requests_total` by
/// outcome, waits for one of [`UpstreamLimits::max_in_flight`] slots, and gives up at the
/// request's [deadline](Context::deadline); after [`UpstreamLimits::breaker_failures`]
/// consecutive failures of the upstream itself (timeouts, unreachable, 5xx: not a refused key
/// or a rate limit) the circuit opens, and calls fail at once with `service unavailable` until
/// one probe after the cool-down succeeds. Each change of the circuit is one log line and the
/// gauge `relay_upstream_circuit_open`.
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
    display_name: Option<Cow<'static, str>>,
    limits: UpstreamLimits,
    slots: Semaphore,
    circuit: Mutex<Circuit>,
    /// The callers stopped by a rate limit or refused credentials (`stops.rs`).
    pub(crate) stops: crate::stops::Stops,
}

/// The circuit breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Circuit {
    /// Calls pass; the failures in a row so far.
    Closed { failures: u32 },
    /// Calls fail at once until then.
    Open { until: std::time::Instant },
    /// One call, the probe, is deciding.
    Probing,
}

/// What the circuit says of a call about to be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    Pass,
    Probe,
    Refuse,
}

impl Upstream {
    /// The upstream called `name` in metrics (a short, fixed name such as `abuseipdb`), with
    /// the default [`UpstreamLimits`].
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self::with_limits(name, UpstreamLimits::default())
    }

    /// The upstream called `name`, with `limits`.
    pub fn with_limits(name: impl Into<Cow<'static, str>>, limits: UpstreamLimits) -> Self {
        let name: Cow<'static, str> = name.into();
        // Exported from the start, at zero: series that come and go confuse Prometheus.
        let label = name.to_string();
        metrics::counter!(telemetry::UPSTREAM_REQUESTS, "upstream" => label.clone(), "outcome" => "ok")
            .increment(0);
        metrics::gauge!(telemetry::UPSTREAM_IN_FLIGHT, "upstream" => label.clone()).increment(0.0);
        metrics::gauge!(telemetry::UPSTREAM_CIRCUIT_OPEN, "upstream" => label).set(0.0);
        Self {
            name,
            display_name: None,
            slots: Semaphore::new(limits.max_in_flight.clamp(1, Semaphore::MAX_PERMITS)),
            limits,
            circuit: Mutex::new(Circuit::Closed { failures: 0 }),
            stops: crate::stops::Stops::default(),
        }
    }

    /// The upstream called `name`, with every setting of [`UPSTREAM_SETTINGS`] (the cap, the
    /// breaker and how long a caller's rate limit is remembered) read from `settings`, each
    /// unset one at its default: what a provider's build function calls.
    ///
    /// ```
    /// let settings = xdr_relay_core::Settings::new(|name| {
    ///     (name == "RELAY_UPSTREAM_MAX_IN_FLIGHT").then(|| "8".to_owned())
    /// });
    /// let upstream = xdr_relay_core::Upstream::from_settings("internetdb", &settings)?;
    /// assert_eq!(upstream.name(), "internetdb");
    /// # Ok::<(), xdr_relay_core::EnvError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`EnvError`] naming the setting whose value is not what it accepts.
    pub fn from_settings(
        name: impl Into<Cow<'static, str>>,
        settings: &Settings<'_>,
    ) -> Result<Self, EnvError> {
        Ok(
            Self::with_limits(name, UpstreamLimits::from_settings(settings)?)
                .with_stop_max(crate::stops::stop_max_from_settings(settings)?),
        )
    }

    /// The same upstream, called `display_name` in the errors users read (`Shodan
    /// InternetDB is failing: ...`) while metrics and logs keep the short name.
    ///
    /// ```
    /// use xdr_relay_core::Upstream;
    /// let upstream = Upstream::new("internetdb").display_name("Shodan InternetDB");
    /// assert_eq!((upstream.name(), upstream.shown_name()), ("internetdb", "Shodan InternetDB"));
    /// assert_eq!(Upstream::new("internetdb").shown_name(), "internetdb");
    /// ```
    #[must_use]
    pub fn display_name(mut self, display_name: impl Into<Cow<'static, str>>) -> Self {
        self.display_name = Some(display_name.into());
        self
    }

    /// Its name: the `upstream` label of its metrics and log lines.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name its errors show users: the [display name](Self::display_name), else
    /// [`name`](Self::name).
    #[must_use]
    pub fn shown_name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.name)
    }

    /// Makes one call (retries inside `call` count as one): refused at once while the circuit
    /// is open, else in one of the call slots (and refused then if the circuit opened while
    /// it waited), given up at the request's deadline; counted on the request's `context` and
    /// in the metric by outcome; its failure turned into the relay's error.
    ///
    /// `call` runs once the call has its slot: read [`Context::time_left`] inside it to bound
    /// the client's own timeouts and retry waits. Only the upstream's own failures count
    /// towards opening the circuit: a call cut by the request's deadline (it waited for its
    /// slot, or its client timed out at the time left) is the relay's lack of time.
    ///
    /// # Errors
    ///
    /// The [`RelayError`] of the call's [`UpstreamError`], or `service unavailable` when the
    /// circuit is open or the deadline passes first.
    pub async fn call<T>(
        &self,
        context: &Context,
        call: impl Future<Output = Result<T, UpstreamError>>,
    ) -> Result<T, RelayError> {
        let probe = match self.admit() {
            Admission::Pass => None,
            Admission::Probe => Some(Probe(self)),
            Admission::Refuse => return Err(self.refuse()),
        };
        let deadline = context.deadline();
        let slot = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, self.slots.acquire()).await,
            None => Ok(self.slots.acquire().await),
        };
        // A slot freed by a call that reached the deadline goes to a waiter whose deadline has
        // passed too: it does not start.
        let late = deadline.is_some_and(|deadline| tokio::time::Instant::now() >= deadline);
        let (Ok(Ok(_slot)), false) = (slot, late) else {
            self.count("deadline");
            return Err(RelayError::ServiceUnavailable(format!(
                "{} is busy: no call could start before the request's deadline",
                self.shown_name()
            )));
        };
        // Admitted again with the slot: the circuit may have opened while the call waited.
        let probe = match (probe, self.admit()) {
            (Some(probe), _) => Some(probe),
            (None, Admission::Pass) => None,
            (None, Admission::Probe) => Some(Probe(self)),
            (None, Admission::Refuse) => return Err(self.refuse()),
        };
        context.record_upstream_calls(1);
        let _in_flight = InFlight::start(self);
        let (result, cut) = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, call).await {
                Ok(result) => {
                    // The client's own timeout, bounded by the time left, ended at the
                    // deadline: cut by it too.
                    let at_deadline = tokio::time::Instant::now() + DEADLINE_MARGIN >= deadline;
                    let timed_out = result
                        .as_ref()
                        .err()
                        .is_some_and(|error| error.failure == UpstreamFailure::Timeout);
                    (result, timed_out && at_deadline)
                }
                Err(_) => (
                    Err(UpstreamError::new(
                        UpstreamFailure::Timeout,
                        format!(
                            "{} did not answer before the request's deadline",
                            self.shown_name()
                        ),
                    )),
                    true,
                ),
            },
            None => (call.await, false),
        };
        let verdict = match &result {
            _ if cut => Verdict::Cut,
            Err(error) if error.trips_the_circuit() => Verdict::Failed,
            _ => Verdict::Answered,
        };
        self.settle(probe, verdict);
        self.count(match &result {
            _ if cut => "deadline",
            Ok(_) => "ok",
            Err(error) => error.failure.as_str(),
        });
        result.map_err(|error| error.error)
    }

    /// The error of a call refused by the open circuit, counted.
    fn refuse(&self) -> RelayError {
        self.count("circuit_open");
        RelayError::ServiceUnavailable(format!(
            "{} is failing: its calls are paused for up to {} s after {} failures in a row",
            self.shown_name(),
            self.limits.breaker_cool_down.as_secs(),
            self.limits.breaker_failures
        ))
    }

    fn count(&self, outcome: &'static str) {
        metrics::counter!(
            telemetry::UPSTREAM_REQUESTS,
            "upstream" => self.name.clone(),
            "outcome" => outcome
        )
        .increment(1);
    }

    fn circuit(&self) -> MutexGuard<'_, Circuit> {
        self.circuit.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn admit(&self) -> Admission {
        if self.limits.breaker_failures == 0 {
            return Admission::Pass;
        }
        let mut circuit = self.circuit();
        match *circuit {
            Circuit::Closed { .. } => Admission::Pass,
            Circuit::Open { until } if std::time::Instant::now() >= until => {
                *circuit = Circuit::Probing;
                Admission::Probe
            }
            Circuit::Open { .. } | Circuit::Probing => Admission::Refuse,
        }
    }

    /// Records a call's end: `probe` when it was the circuit's probe, and what it says of the
    /// upstream. One lock from reading the circuit to changing it: two failures cannot both
    /// open it, and a success in between is not overwritten.
    fn settle(&self, probe: Option<Probe<'_>>, verdict: Verdict) {
        if self.limits.breaker_failures == 0 {
            return;
        }
        let mut circuit = self.circuit();
        if let Some(probe) = probe {
            std::mem::forget(probe);
            match verdict {
                Verdict::Failed => {
                    self.open(&mut circuit, "the probe failed: the circuit opens again");
                }
                // The deadline decided, not the upstream: the next call probes.
                Verdict::Cut => {
                    *circuit = Circuit::Open {
                        until: std::time::Instant::now(),
                    };
                }
                Verdict::Answered => {
                    *circuit = Circuit::Closed { failures: 0 };
                    drop(circuit);
                    metrics::gauge!(telemetry::UPSTREAM_CIRCUIT_OPEN, "upstream" => self.name.clone())
                        .set(0.0);
                    tracing::info!(upstream = %self.name, "the probe succeeded: the circuit closes");
                }
            }
            return;
        }
        // Calls that began before the circuit opened do not decide anything afterwards.
        let Circuit::Closed { failures } = *circuit else {
            return;
        };
        match verdict {
            Verdict::Cut => {}
            Verdict::Answered => *circuit = Circuit::Closed { failures: 0 },
            Verdict::Failed if failures.saturating_add(1) >= self.limits.breaker_failures => {
                self.open(&mut circuit, "consecutive failures: the circuit opens");
            }
            Verdict::Failed => {
                *circuit = Circuit::Closed {
                    failures: failures + 1,
                };
            }
        }
    }

    /// Opens `circuit` (this upstream's, locked by the caller) for the cool-down.
    fn open(&self, circuit: &mut Circuit, why: &'static str) {
        // Clamped: a cool-down set in code may be too large to add to an instant.
        let cool_down = self
            .limits
            .breaker_cool_down
            .min(Duration::from_secs(Settings::MAX_SECONDS));
        *circuit = Circuit::Open {
            until: std::time::Instant::now() + cool_down,
        };
        metrics::gauge!(telemetry::UPSTREAM_CIRCUIT_OPEN, "upstream" => self.name.clone()).set(1.0);
        tracing::warn!(
            upstream = %self.name,
            failures = self.limits.breaker_failures,
            cool_down_s = cool_down.as_secs(),
            "{why}"
        );
    }
}

/// A call ending at most this long before the request's deadline with a timeout was cut by
/// the deadline (the client's own timeout, bounded by the time left, fired then).
const DEADLINE_MARGIN: Duration = Duration::from_millis(10);

/// What a call's end says of the upstream, for the circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// It answered (a refused key or a rate limit is an answer: the upstream is up).
    Answered,
    /// It failed on its own: down, unreachable, or no answer within the client's timeout.
    Failed,
    /// The request's deadline cut it: the relay's lack of time says nothing of the upstream.
    Cut,
}

/// The circuit's probe in progress: if its call is dropped before it ends (the client went
/// away), the circuit is open again with no wait, so the next call probes.
struct Probe<'a>(&'a Upstream);

impl Drop for Probe<'_> {
    fn drop(&mut self) {
        *self.0.circuit() = Circuit::Open {
            until: std::time::Instant::now(),
        };
    }
}

/// Keeps `relay_upstream_in_flight` right however a call ends.
struct InFlight(Cow<'static, str>);

impl InFlight {
    fn start(upstream: &Upstream) -> Self {
        let name = upstream.name.clone();
        metrics::gauge!(telemetry::UPSTREAM_IN_FLIGHT, "upstream" => name.clone()).increment(1.0);
        Self(name)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!(telemetry::UPSTREAM_IN_FLIGHT, "upstream" => self.0.clone()).decrement(1.0);
    }
}

/// A failed upstream call: what kind of failure it was (for metrics, and for the circuit
/// breaker, which counts only the upstream's own failures) and the error the relay answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamError {
    failure: UpstreamFailure,
    error: RelayError,
    /// How long the upstream asked to be left alone (`Retry-After`; `stops.rs`).
    pub(crate) retry_after: Option<Duration>,
}

impl UpstreamError {
    /// A failure of `kind`, answered with relay-core's code for it
    /// ([`RelayError::upstream`]) and `message` (which must not quote a credential).
    pub fn new(kind: UpstreamFailure, message: impl Into<String>) -> Self {
        Self {
            failure: kind,
            error: RelayError::upstream(kind, message),
            retry_after: None,
        }
    }

    /// A failure of `kind`, answered with the provider's own `error` (a code relay-core does
    /// not map, such as [`RelayError::custom`]).
    #[must_use]
    pub fn with_error(kind: UpstreamFailure, error: RelayError) -> Self {
        Self {
            failure: kind,
            error,
            retry_after: None,
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

    /// Whether it is the upstream's own failure, which the circuit breaker counts: down,
    /// unreachable, or no answer in time. A refused key, a rate limit or a bad answer says the
    /// upstream is up.
    fn trips_the_circuit(&self) -> bool {
        matches!(
            self.failure,
            UpstreamFailure::Unavailable | UpstreamFailure::Timeout
        )
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
    use std::sync::Arc;
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

    fn limits(failures: u32, cool_down_ms: u64) -> UpstreamLimits {
        UpstreamLimits {
            max_in_flight: 2,
            breaker_failures: failures,
            breaker_cool_down: Duration::from_millis(cool_down_ms),
        }
    }

    async fn failing(kind: UpstreamFailure) -> Result<(), UpstreamError> {
        Err(UpstreamError::new(kind, "down"))
    }

    async fn ok() -> Result<(), UpstreamError> {
        Ok(())
    }

    #[tokio::test]
    async fn the_circuit_opens_after_failures_in_a_row_and_a_probe_closes_it() {
        let upstream = Upstream::with_limits("test", limits(3, 200));
        let context = Context::new(Credentials::default(), 1);
        // Two failures, a success: the count starts again.
        for _ in 0..2 {
            assert!(
                upstream
                    .call(&context, failing(UpstreamFailure::Timeout))
                    .await
                    .is_err()
            );
        }
        assert!(upstream.call(&context, ok()).await.is_ok());
        // Failures that say the upstream is up (a refused key, a rate limit) do not count.
        for kind in [
            UpstreamFailure::Unauthorized,
            UpstreamFailure::RateLimited,
            UpstreamFailure::Other,
        ] {
            for _ in 0..3 {
                assert!(upstream.call(&context, failing(kind)).await.is_err());
            }
        }
        assert!(upstream.call(&context, ok()).await.is_ok());
        // Three in a row: open. A call is then refused without being made.
        for _ in 0..3 {
            let _ = upstream
                .call(&context, failing(UpstreamFailure::Unavailable))
                .await;
        }
        let calls = context.upstream_calls();
        let made = std::sync::atomic::AtomicBool::new(false);
        let refused = upstream
            .call(&context, async {
                made.store(true, Ordering::SeqCst);
                Ok(())
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), "service unavailable");
        assert!(refused.to_string().contains("paused"), "{refused}");
        assert!(!made.load(Ordering::SeqCst));
        assert_eq!(context.upstream_calls(), calls);
        // After the cool-down one probe goes; it fails: open again.
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(
            upstream
                .call(&context, failing(UpstreamFailure::Timeout))
                .await
                .is_err()
        );
        assert_eq!(context.upstream_calls(), calls + 1);
        assert!(upstream.call(&context, ok()).await.is_err());
        // The next probe succeeds: closed, calls pass.
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(upstream.call(&context, ok()).await.is_ok());
        assert!(upstream.call(&context, ok()).await.is_ok());
    }

    #[tokio::test]
    async fn a_probe_whose_caller_went_away_lets_the_next_call_probe() {
        let upstream = Upstream::with_limits("test", limits(1, 50));
        let context = Context::new(Credentials::default(), 1);
        let _ = upstream
            .call(&context, failing(UpstreamFailure::Timeout))
            .await;
        tokio::time::sleep(Duration::from_millis(80)).await;
        // The probe hangs and is dropped.
        let hung = upstream.call(
            &context,
            std::future::pending::<Result<(), UpstreamError>>(),
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(50), hung)
                .await
                .is_err()
        );
        assert!(upstream.call(&context, ok()).await.is_ok());
    }

    /// The issue's example: one slot, a breaker of one failure, a healthy upstream answering
    /// in 2/3 of the request's time. Two concurrent calls: the second waits for the slot and
    /// is cut by the deadline, which is the relay's lack of time, not the upstream's failure;
    /// a third call is then made, not refused as "paused".
    #[tokio::test]
    async fn a_call_cut_by_the_deadline_after_waiting_for_its_slot_is_not_a_failure() {
        let upstream = Arc::new(Upstream::with_limits(
            "test",
            UpstreamLimits {
                max_in_flight: 1,
                ..limits(1, 60_000)
            },
        ));
        let healthy = || async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Ok::<_, UpstreamError>(())
        };
        let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
        let context = Context::new(Credentials::default(), 1).with_deadline(deadline);
        let (first, second) = tokio::join!(
            upstream.call(&context, healthy()),
            upstream.call(&context, healthy())
        );
        assert!(first.is_ok());
        let cut = second.unwrap_err();
        assert_eq!(cut.code(), "service unavailable");
        assert!(cut.to_string().contains("deadline"), "{cut}");
        let later = Context::new(Credentials::default(), 1)
            .with_deadline(tokio::time::Instant::now() + Duration::from_millis(300));
        assert_eq!(upstream.call(&later, healthy()).await, Ok(()));
    }

    /// A call admitted while the circuit was closed, which then waits for a slot while the
    /// circuit opens, is refused once it gets the slot: it does not go out.
    #[tokio::test]
    async fn a_call_that_waited_for_its_slot_while_the_circuit_opened_is_refused() {
        let upstream = Upstream::with_limits(
            "test",
            UpstreamLimits {
                max_in_flight: 1,
                ..limits(1, 60_000)
            },
        );
        let context = Context::new(Credentials::default(), 1);
        let made = std::sync::atomic::AtomicBool::new(false);
        let failing_later = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Err::<(), _>(UpstreamError::new(UpstreamFailure::Unavailable, "down"))
        };
        let waiting = async {
            made.store(true, Ordering::SeqCst);
            Ok(())
        };
        let (failed, waited) = tokio::join!(
            upstream.call(&context, failing_later),
            upstream.call(&context, waiting)
        );
        assert_eq!(failed.unwrap_err().code(), "service unavailable");
        let refused = waited.unwrap_err();
        assert!(refused.to_string().contains("paused"), "{refused}");
        assert!(!made.load(Ordering::SeqCst));
        assert_eq!(context.upstream_calls(), 1);
    }

    /// Inside the call, the context says how long the request has left: the time after the
    /// wait for a slot, which the client's own timeouts and `Retry-After` waits must fit in.
    #[tokio::test]
    async fn the_call_sees_the_time_left_after_its_wait_for_a_slot() {
        let upstream = Upstream::with_limits(
            "test",
            UpstreamLimits {
                max_in_flight: 1,
                ..limits(0, 0)
            },
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let context = Context::new(Credentials::default(), 1).with_deadline(deadline);
        let holding = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok::<_, UpstreamError>(())
        };
        let asking = async { Ok::<_, UpstreamError>(context.time_left()) };
        let (_, left) = tokio::join!(
            upstream.call(&context, holding),
            upstream.call(&context, asking)
        );
        let left = left.unwrap().unwrap();
        assert!(left <= Duration::from_millis(9_700), "{left:?}");
        assert!(left > Duration::from_secs(5), "{left:?}");
        let none = Context::new(Credentials::default(), 1);
        assert_eq!(none.time_left(), None);
    }

    /// A cool-down too large to add to an instant (built in code, past what the settings
    /// accept) is clamped: the circuit opens and refuses, with no panic.
    #[tokio::test]
    async fn a_cool_down_too_large_for_an_instant_is_clamped() {
        let upstream = Upstream::with_limits(
            "test",
            UpstreamLimits {
                breaker_cool_down: Duration::MAX,
                ..limits(1, 0)
            },
        );
        let context = Context::new(Credentials::default(), 1);
        let failed = upstream.call(&context, failing(UpstreamFailure::Timeout));
        assert_eq!(failed.await.unwrap_err().code(), "service unavailable");
        let refused = upstream.call(&context, ok()).await.unwrap_err();
        assert!(refused.to_string().contains("paused"), "{refused}");
    }

    #[tokio::test]
    async fn a_breaker_of_zero_failures_never_opens() {
        let upstream = Upstream::with_limits("test", limits(0, 10_000));
        let context = Context::new(Credentials::default(), 1);
        for _ in 0..20 {
            let _ = upstream
                .call(&context, failing(UpstreamFailure::Unavailable))
                .await;
        }
        assert!(upstream.call(&context, ok()).await.is_ok());
    }

    #[tokio::test]
    async fn calls_wait_for_a_slot_and_give_up_at_the_deadline() {
        let upstream = Arc::new(Upstream::with_limits("test", limits(0, 0)));
        let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
        let context = Arc::new(Context::new(Credentials::default(), 1).with_deadline(deadline));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut calls = Vec::new();
        for _ in 0..6 {
            let (upstream, context) = (Arc::clone(&upstream), Arc::clone(&context));
            let (in_flight, most) = (Arc::clone(&in_flight), Arc::clone(&most));
            calls.push(tokio::spawn(async move {
                upstream
                    .call(&context, async {
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::future::pending::<()>().await;
                        Ok::<(), UpstreamError>(())
                    })
                    .await
            }));
        }
        let mut messages = Vec::new();
        for call in calls {
            let error = call.await.unwrap().unwrap_err();
            assert_eq!(error.code(), "service unavailable");
            messages.push(error.to_string());
        }
        // Two slots: two calls ran (and timed out), four never started.
        assert_eq!(most.load(Ordering::SeqCst), 2);
        assert_eq!(context.upstream_calls(), 2);
        assert_eq!(
            messages.iter().filter(|m| m.contains("busy")).count(),
            4,
            "{messages:?}"
        );
        assert_eq!(
            messages.iter().filter(|m| m.contains("deadline")).count(),
            6,
            "{messages:?}"
        );
    }

    #[test]
    fn limits_from_settings() {
        let none = Settings::new(|_| None);
        assert_eq!(
            UpstreamLimits::from_settings(&none).unwrap(),
            UpstreamLimits::default()
        );
        let set = Settings::new(|name| {
            Some(
                match name {
                    "RELAY_UPSTREAM_MAX_IN_FLIGHT" => "3",
                    "RELAY_UPSTREAM_BREAKER_FAILURES" => "0",
                    "RELAY_UPSTREAM_BREAKER_COOL_DOWN" => "9",
                    _ => return None,
                }
                .to_owned(),
            )
        });
        let limits = UpstreamLimits::from_settings(&set).unwrap();
        assert_eq!((limits.max_in_flight, limits.breaker_failures), (3, 0));
        assert_eq!(limits.breaker_cool_down, Duration::from_secs(9));
        for (name, value) in [
            ("RELAY_UPSTREAM_MAX_IN_FLIGHT", "0"),
            ("RELAY_UPSTREAM_BREAKER_FAILURES", "-1"),
            ("RELAY_UPSTREAM_BREAKER_COOL_DOWN", "soon"),
        ] {
            let bad = Settings::new(move |n| (n == name).then(|| value.to_owned()));
            assert_eq!(
                UpstreamLimits::from_settings(&bad).unwrap_err().name(),
                name
            );
        }
    }

    /// A server on 127.0.0.1 that answers every connection with `bytes` and closes it.
    async fn answering(bytes: &'static [u8]) -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 1024];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(bytes).await;
                let _ = socket.shutdown().await;
            }
        });
        address
    }

    #[tokio::test]
    async fn tls_status_and_body_failures_are_classified() {
        let client = reqwest::Client::new();
        // HTTPS to a server that speaks plain HTTP: the handshake fails.
        let plain = answering(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").await;
        let error = client
            .get(format!("https://{plain}/check?key=hunter2"))
            .send()
            .await
            .unwrap_err();
        let upstream = UpstreamError::from_reqwest("Example", &error);
        assert_eq!(upstream.failure(), UpstreamFailure::Tls);
        let message = upstream.error().to_string();
        assert!(
            message.starts_with("Unable to verify SSL certificate"),
            "{message}"
        );
        assert!(!message.contains("hunter2"), "{message}");

        // A status turned into an error: its failure, by the status.
        let unavailable = answering(b"HTTP/1.1 503 Busy\r\ncontent-length: 0\r\n\r\n").await;
        let error = client
            .get(format!("http://{unavailable}/"))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap_err();
        let upstream = UpstreamError::from_reqwest("Example", &error);
        assert_eq!(upstream.failure(), UpstreamFailure::Unavailable);

        // An answer that is not what was expected: `other`, saying so.
        let garbage = answering(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nnot").await;
        let error = client
            .get(format!("http://{garbage}/"))
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap_err();
        let upstream = UpstreamError::from_reqwest("Example", &error);
        assert_eq!(upstream.failure(), UpstreamFailure::Other);
        assert_eq!(upstream.error().code(), "unknown");
        let message = upstream.error().to_string();
        assert!(message.contains("could not be read"), "{message}");

        // A connection closed before the answer: unreachable, not unknown.
        let closing = answering(b"").await;
        let error = client
            .get(format!("http://{closing}/"))
            .send()
            .await
            .unwrap_err();
        let upstream = UpstreamError::from_reqwest("Example", &error);
        assert_eq!(
            upstream.failure(),
            UpstreamFailure::Unavailable,
            "{error:?}"
        );
        // The relay's error for it.
        let relay: RelayError = upstream.into();
        assert_eq!(relay.code(), "service unavailable");
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
