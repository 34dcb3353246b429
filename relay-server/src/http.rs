//! A hardened HTTP/1.1 connection loop for an axum [`Router`]: the drop-in replacement for
//! `axum::serve(listener, router).with_graceful_shutdown(signal)`.
//!
//! `axum::serve` leaves every wait to the client: no header, body or keep-alive timeout, no
//! bound on open connections, and no lingering close, so a client that writes a whole large
//! request before reading (urllib, requests) loses an early answer (e.g. "body too large") to
//! the TCP reset the kernel sends when the socket closes with unread data. [`serve`] bounds
//! every wait with [`Limits`] and drains the unread request before closing, as nginx does.
//!
//! How hyper 1.x behaves, which shapes this module:
//! - Its `header_read_timeout` runs from the moment it waits for a request head: from the
//!   first poll of the connection and again as soon as a keep-alive connection goes idle, so
//!   it would close idle keep-alive connections at the header timeout. It is disabled here:
//!   the connection task applies the header timeout from the accept (first request) or from
//!   the first byte of a later request, and the idle timeout between requests.
//! - When a handler answers without reading the whole body, hyper tries one read to drain
//!   it, then stops reading, writes the answer, and ends the connection. Its own shutdown path
//!   flushes the answer before calling `poll_shutdown` on the IO; `without_shutdown` does not
//!   (its `Parts` drop an unflushed write buffer). So the lingering close runs inside the IO
//!   wrapper's `poll_shutdown`, where the answer is known to have been handed to the kernel.
//!   (An answer larger than the socket buffers, to a client that sends before it reads,
//!   still waits on the client until the idle timeout: the relay's early answers are small.)
//! - hyper allocates 16 KiB of buffers per connection as it starts: it is started on the
//!   first byte, so a silent connection costs a task and a socket only. Its read buffer grows
//!   up to its `max_buf_size` (about 400 KiB by default) to hold a request head, and never
//!   shrinks on keep-alive: it is set to [`Limits::max_header_bytes`], and a head that does not
//!   fit is answered 431. The write buffer has the same bound.
//! - hyper hands a chunked body over one frame per chunk, each holding on to the piece of the
//!   read buffer it came in: a handler that keeps the frames until the body ends (axum's
//!   `to_bytes`) holds about ten times the body's bytes under a flood of one-byte chunks.
//!   relay-core copies each frame into one buffer as it arrives.
//!
//! What a connection can hold, then: a task and a socket; once it has sent a byte, hyper's
//! read and write buffers, at most [`Limits::max_header_bytes`] each (64 KiB by default); and
//! what the handler keeps of a request (the relay: its body, at most 1 MiB, for at most
//! [`Limits::body_timeout`]).
//!
//! When the connection cap is reached, a new client is not left in the listen backlog while
//! idle keep-alive connections hold every slot: it is accepted, and the connection idle the
//! longest is closed to make room for it (nginx does the same when it runs short).
//!
//! A request in flight is never cut, except by the shutdown grace: a handler that never
//! ends holds its connection, so the app bounds its own handlers.
#![forbid(unsafe_code)]

use std::{
    collections::HashMap,
    convert::Infallible,
    future::{Future, poll_fn},
    io,
    mem::MaybeUninit,
    net::SocketAddr,
    pin::{Pin, pin},
    sync::{Arc, Mutex, MutexGuard, PoisonError, Weak},
    task::{Context, Poll, ready},
    time::Duration,
};

use axum::{Router, body::Body, extract::ConnectInfo};
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::{Request, Response, body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Notify, OwnedSemaphorePermit, Semaphore, watch},
    time::{Instant, Sleep, sleep, sleep_until, timeout},
};
use tower::ServiceExt as _;
use tracing::{debug, info, warn};

/// Gauge: client connections open now.
pub const CONNECTIONS_OPEN: &str = "relay_connections_open";
/// Counter: times the connection cap was reached (one per episode, like the warning line).
pub const CONNECTIONS_SATURATED: &str = "relay_connections_saturated_total";
/// Counter: failed `accept` calls (each followed by a pause, so they never spin).
pub const ACCEPT_ERRORS: &str = "relay_accept_errors_total";

/// Lingering close ends after this long without a byte from the client (nginx uses 5 s; a
/// client still sending keeps a steady stream, so 1 s of silence means it has stopped).
const LINGER_QUIET: Duration = Duration::from_secs(1);
/// The one buffer of a lingering read, on the stack of the poll, never kept per connection.
const LINGER_BUFFER: usize = 16 * 1024;
/// Pause after an accept error: EMFILE and ENFILE last until some descriptor closes.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// At most one warning per this long about failing accepts.
const ACCEPT_LOG_EVERY: Duration = Duration::from_secs(5);
/// Per-connection accept errors (the client gave up in the backlog) retried without a pause,
/// as each one consumes its dead connection; past this many in a row, pause anyway.
const ACCEPT_RETRIES_NOW: u32 = 64;
/// Shortest interval between two checks of a busy connection's state.
const RECHECK: Duration = Duration::from_millis(100);
/// Descriptors kept free for everything but client connections (upstream calls, files).
const FD_RESERVE: usize = 128;
/// Longest wait any limit may ask for, so that adding it to an instant cannot overflow.
const LONGEST: Duration = Duration::from_secs(365 * 24 * 3600);
/// hyper's least `max_buf_size` (it panics below it).
const LEAST_HEADER_BYTES: usize = 8192;

/// Limits of the connections [`serve`] accepts: each bounds one way a client can hold a
/// connection, a task and its buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time to receive a request's complete headers, from the accept (first request) or from
    /// the first byte of a later one; more bytes do not extend it (slowloris).
    pub header_read_timeout: Duration,
    /// Longest wait for the next piece of a request body while the handler waits for it; the
    /// handler then gets an error and answers.
    pub body_read_timeout: Duration,
    /// Longest time to receive a request's whole body, from its headers, however steadily it
    /// comes: a body dribbled a byte at a time cannot extend it (Go's `ReadTimeout`). The
    /// handler then gets an error and answers (the relay: as unreadable).
    pub body_timeout: Duration,
    /// Most bytes of a request head (request line and headers): hyper's read buffer, which
    /// a head must fit, and its write buffer. A larger head is answered 431. At least 8 KiB,
    /// hyper's least.
    pub max_header_bytes: usize,
    /// A connection with no request in flight and no byte received or sent for this long is
    /// closed: the keep-alive timeout, and the send timeout of a client that stops reading.
    pub idle_timeout: Duration,
    /// Most client connections open at once. At the cap, a client that arrives is accepted
    /// and the connection idle the longest (keep-alive, between requests) is closed for it;
    /// with none idle, it waits for a slot, and the next clients in the kernel's listen
    /// backlog. Lowered at start to fit the process's open-file limit.
    pub max_connections: usize,
    /// Lingering close: longest time to read and discard what a client still sends after an
    /// answer given before its request was read whole.
    pub linger_time: Duration,
    /// Lingering close: most bytes discarded before closing anyway.
    pub linger_bytes: u64,
    /// On shutdown, how long requests in flight may take before their connections are dropped.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    /// nginx's timeouts (`client_header_timeout`, `client_body_timeout`,
    /// `keepalive_timeout`), and 30 s for a whole body (Threat Response waits 30 s for the
    /// whole exchange; 1 MiB at 35 KB/s); request
    /// heads of at most 32 KiB (nginx's `large_client_header_buffers` allows four of 8 KiB);
    /// 10,000 connections (an idle keep-alive one holds hyper's two buffers, 16 KiB to start
    /// and 64 KiB at most, a silent one none), lowered to the open-file limit if needed; a
    /// lingering close that drains a 5 MiB upload rejected at 1 MiB; and the 30 s a container
    /// runtime typically waits between SIGTERM and SIGKILL.
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(30),
            max_header_bytes: 32 << 10,
            idle_timeout: Duration::from_secs(75),
            max_connections: 10_000,
            linger_time: Duration::from_secs(5),
            linger_bytes: 16 << 20,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl Limits {
    fn clamped(self) -> Self {
        Self {
            header_read_timeout: self.header_read_timeout.min(LONGEST),
            body_read_timeout: self.body_read_timeout.min(LONGEST),
            body_timeout: self.body_timeout.min(LONGEST),
            max_header_bytes: self.max_header_bytes.max(LEAST_HEADER_BYTES),
            idle_timeout: self.idle_timeout.min(LONGEST),
            linger_time: self.linger_time.min(LONGEST),
            shutdown_grace: self.shutdown_grace.min(LONGEST),
            ..self
        }
    }
}

/// Serves `app` over HTTP/1.1 on `listener` until `shutdown` resolves, then stops accepting,
/// lets the requests in flight finish (at most [`Limits::shutdown_grace`]) and returns.
///
/// Each connection is one task. Handlers see what `axum::serve` gives them, plus
/// [`ConnectInfo<SocketAddr>`](ConnectInfo) in the request extensions; the request body
/// errors after [`Limits::body_read_timeout`] without data.
///
/// # Errors
///
/// None so far: accept errors are logged and retried after a pause, since a server that
/// stops accepting is down. The `io::Result` matches `axum::serve`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    metrics::describe_gauge!(CONNECTIONS_OPEN, "Client connections open now.");
    metrics::describe_counter!(
        CONNECTIONS_SATURATED,
        "Times the connection cap was reached."
    );
    metrics::describe_counter!(ACCEPT_ERRORS, "Failed accepts (each followed by a pause).");
    serve_on(listener, app, limits, shutdown, Listener::Relay).await
}

/// Which listener a loop serves: the relay's counts its connections in the metrics; the
/// metrics listener's do not (they would count themselves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listener {
    Relay,
    Metrics,
}

impl Listener {
    fn name(self) -> &'static str {
        match self {
            Self::Relay => "relay",
            Self::Metrics => "metrics",
        }
    }

    fn counted(self) -> bool {
        self == Self::Relay
    }
}

/// [`serve`], for either listener.
pub(crate) async fn serve_on(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    role: Listener,
) -> io::Result<()> {
    let limits = limits.clamped();
    let cap = connection_cap(limits.max_connections);
    let slots = Arc::new(Semaphore::new(cap));
    let registry = Arc::new(Registry::default());
    let (stop, stopped) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    let mut saturated = false;
    let (mut failures, mut warned) = (0u32, None::<Instant>);
    'serving: loop {
        // Hysteresis: the episode ends once a quarter of the slots are free again.
        if saturated && slots.available_permits() >= cap.div_ceil(4) {
            info!(
                listener = role.name(),
                max_connections = cap,
                "connection cap no longer reached"
            );
            saturated = false;
        }
        // A client accepted while every slot was taken, waiting for the slot its arrival
        // freed by closing an idle connection.
        let mut waiting = None;
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if !saturated {
                    warn!(
                        listener = role.name(),
                        max_connections = cap,
                        "connection cap reached: idle connections are closed for new clients, \
                         further clients wait in the listen backlog"
                    );
                    if role.counted() {
                        metrics::counter!(CONNECTIONS_SATURATED).increment(1);
                    }
                    saturated = true;
                }
                // The connection last closed to make room, until it is gone.
                let mut reclaimed: Option<Weak<Conn>> = None;
                loop {
                    tokio::select! {
                        biased;
                        () = &mut shutdown => break 'serving,
                        slot = Arc::clone(&slots).acquire_owned() => match slot {
                            Ok(slot) => break slot,
                            Err(_closed) => break 'serving,
                        },
                        accepted = listener.accept(), if waiting.is_none() => match accepted {
                            Ok(client) => {
                                waiting = Some(client);
                                reclaimed = registry.reclaim_oldest_idle();
                            }
                            Err(error) => {
                                if role.counted() {
                                    metrics::counter!(ACCEPT_ERRORS).increment(1);
                                }
                                debug!(%error, "accept failed");
                                sleep(ACCEPT_BACKOFF).await;
                            }
                        },
                        // No connection was idle, or the one closed is slow to go: look again.
                        () = sleep(RECHECK), if waiting.is_some() => {
                            let going = reclaimed
                                .as_ref()
                                .and_then(Weak::upgrade)
                                .is_some_and(|conn| conn.state().reclaimed);
                            if !going {
                                reclaimed = registry.reclaim_oldest_idle();
                            }
                        }
                    }
                }
            }
        };
        let accepted = match waiting {
            Some(client) => Ok(client),
            None => tokio::select! {
                biased;
                () = &mut shutdown => break,
                accepted = listener.accept() => accepted,
            },
        };
        match accepted {
            Ok((stream, peer)) => {
                failures = 0;
                let conn = Arc::new(Conn::new(limits));
                let open = Open::new(slot, role, Arc::clone(&registry), &conn);
                tokio::spawn(connection(
                    stream,
                    peer,
                    app.clone(),
                    conn,
                    stopped.clone(),
                    open,
                ));
            }
            Err(error) => {
                if role.counted() {
                    metrics::counter!(ACCEPT_ERRORS).increment(1);
                }
                failures = failures.saturating_add(1);
                // One connection's error used up that connection: accepting again cannot spin.
                use io::ErrorKind::{ConnectionAborted, ConnectionReset, Interrupted};
                let own = matches!(
                    error.kind(),
                    ConnectionAborted | ConnectionReset | Interrupted
                );
                if own && failures <= ACCEPT_RETRIES_NOW {
                    debug!(%error, "accept failed");
                    continue;
                }
                if warned.is_none_or(|at| at.elapsed() >= ACCEPT_LOG_EVERY) {
                    warn!(listener = role.name(), %error, failures, "accept failing: pausing between tries");
                    warned = Some(Instant::now());
                }
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = sleep(ACCEPT_BACKOFF) => {}
                }
            }
        }
    }
    drop(listener);
    info!(
        listener = role.name(),
        open = cap.saturating_sub(slots.available_permits()),
        "shutting down: finishing open connections"
    );
    stop.send_replace(true);
    let all = u32::try_from(cap).unwrap_or(u32::MAX);
    // Every connection is dropped at the grace's end; the margin only covers scheduling.
    match timeout(
        limits.shutdown_grace + Duration::from_secs(1),
        slots.acquire_many(all),
    )
    .await
    {
        Ok(_) => info!(listener = role.name(), "all connections closed"),
        Err(_) => warn!(
            listener = role.name(),
            "connections still open after the shutdown grace"
        ),
    }
    Ok(())
}

/// The connections open, by id: where the loop finds the idle one to close for a new client
/// when every slot is taken.
#[derive(Default)]
struct Registry {
    open: Mutex<(u64, HashMap<u64, Weak<Conn>>)>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, (u64, HashMap<u64, Weak<Conn>>)> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn add(&self, conn: &Arc<Conn>) -> u64 {
        let mut open = self.lock();
        let id = open.0;
        open.0 = open.0.wrapping_add(1);
        open.1.insert(id, Arc::downgrade(conn));
        id
    }

    fn remove(&self, id: u64) {
        self.lock().1.remove(&id);
    }

    /// Closes the connection idle the longest, if any is idle; returns it.
    fn reclaim_oldest_idle(&self) -> Option<Weak<Conn>> {
        let oldest = {
            let open = self.lock();
            open.1
                .values()
                .filter_map(|weak| {
                    let conn = weak.upgrade()?;
                    let since = conn.idle_since()?;
                    Some((since, conn))
                })
                .min_by_key(|(since, _)| *since)
                .map(|(_, conn)| conn)
        }?;
        oldest.reclaim().then(|| Arc::downgrade(&oldest))
    }
}

/// `max_connections`, lowered to leave [`FD_RESERVE`] descriptors free under the soft
/// open-file limit: past it, `accept` and the relay's own upstream connections would fail
/// with EMFILE instead of clients waiting in the backlog.
fn connection_cap(wanted: usize) -> usize {
    let wanted = wanted.clamp(1, usize::try_from(u32::MAX).unwrap_or(usize::MAX));
    let limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits
                .lines()
                .find(|line| line.starts_with("Max open files"))?;
            line.split_whitespace().nth(3)?.parse::<usize>().ok()
        });
    match limit {
        Some(limit) if wanted.saturating_add(FD_RESERVE) > limit => {
            let cap = limit.saturating_sub(FD_RESERVE).max(limit / 2).max(1);
            warn!(
                max_connections = wanted,
                open_file_limit = limit,
                cap,
                "connection cap lowered to fit the open-file limit (raise LimitNOFILE / ulimit -n)"
            );
            cap
        }
        _ => wanted,
    }
}

/// A connection's slot under the cap; counted in [`CONNECTIONS_OPEN`] until dropped, which
/// happens even if the task panics.
struct Open {
    _slot: OwnedSemaphorePermit,
    counted: bool,
    registry: Arc<Registry>,
    id: u64,
}

impl Open {
    fn new(
        slot: OwnedSemaphorePermit,
        role: Listener,
        registry: Arc<Registry>,
        conn: &Arc<Conn>,
    ) -> Self {
        if role.counted() {
            metrics::gauge!(CONNECTIONS_OPEN).increment(1.0);
        }
        let id = registry.add(conn);
        Self {
            _slot: slot,
            counted: role.counted(),
            registry,
            id,
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.registry.remove(self.id);
        if self.counted {
            metrics::gauge!(CONNECTIONS_OPEN).decrement(1.0);
        }
    }
}

/// Drives one connection: hyper, plus the header and idle deadlines and the shutdown.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    conn: Arc<Conn>,
    mut stopped: watch::Receiver<bool>,
    _open: Open,
) {
    if let Err(error) = stream.set_nodelay(true) {
        debug!(%peer, %error, "cannot set TCP_NODELAY");
    }
    let limits = conn.limits;
    // hyper allocates 16 KiB of buffers when it starts: start it once the client has sent
    // something, so that a silent connection holds none. (`readable()` can complete at once.)
    let mut first = [0u8; 1];
    tokio::select! {
        biased; // bytes that came in time win over a late wake-up
        peeked = stream.peek(&mut first) => match peeked {
            Ok(0) => return debug!(%peer, "connection closed before a request"),
            Ok(_) => {}
            Err(error) => return debug!(%peer, %error, "connection failed"),
        },
        _ = stopped.wait_for(|stop| *stop) => return,
        () = sleep(limits.header_read_timeout) => {
            return debug!(%peer, "connection ended: header read timeout elapsed");
        }
    }
    let io = TokioIo::new(Io {
        stream,
        conn: Arc::clone(&conn),
        linger: None,
        shut: false,
    });
    let service = AppService {
        app,
        peer,
        conn: Arc::clone(&conn),
    };
    let mut http = http1::Builder::new();
    // hyper's header timeout would also cut idle keep-alive connections (see the module doc);
    // the timer only serves hyper timeouts enabled later.
    http.timer(TokioTimer::new())
        .header_read_timeout(None)
        .max_buf_size(limits.max_header_bytes)
        .keep_alive(true);
    let mut http = pin!(http.serve_connection(io, service));
    let mut stop = pin!(async move {
        // An error means serve() is gone: stop too.
        let _ = stopped.wait_for(|stop| *stop).await;
    });
    let mut timer = pin!(sleep_until(Instant::now() + limits.header_read_timeout));
    let mut reclaim = pin!(conn.reclaim.notified());
    let mut hard_stop: Option<Instant> = None;
    let end = poll_fn(|cx| {
        loop {
            if let Poll::Ready(result) = http.as_mut().poll(cx) {
                return Poll::Ready(result.map_err(|error| error.to_string()));
            }
            if reclaim.as_mut().poll(cx).is_ready() {
                if conn.state().reclaimed {
                    return Poll::Ready(Err("closed, idle, for a new client".to_owned()));
                }
                reclaim.set(conn.reclaim.notified());
                continue;
            }
            if hard_stop.is_none() && stop.as_mut().poll(cx).is_ready() {
                http.as_mut().graceful_shutdown();
                hard_stop = Some(Instant::now() + limits.shutdown_grace);
                continue; // an idle connection is done at once
            }
            let grace = hard_stop.map(|at| (at, "shutdown grace"));
            let due = conn.deadline().into_iter().chain(grace).min();
            loop {
                let now = Instant::now();
                match due {
                    Some((at, what)) if at <= now => {
                        return Poll::Ready(Err(format!("{what} elapsed")));
                    }
                    Some((at, _)) if at < timer.deadline() => timer.as_mut().reset(at),
                    _ => {}
                }
                ready!(timer.as_mut().poll(cx));
                // Fired early (a deadline moved later, or a request is in flight): recheck.
                let at = due.map_or(now + limits.idle_timeout.max(RECHECK), |(at, _)| at);
                timer.as_mut().reset(at);
            }
        }
    });
    match end.await {
        Ok(()) => debug!(%peer, "connection closed"),
        Err(error) => debug!(%peer, %error, "connection ended"),
    }
}

/// What a connection's task, IO, service and bodies share about its progress.
struct Conn {
    limits: Limits,
    state: Mutex<State>,
    /// Wakes the connection's task when the loop closes it, idle, for a new client.
    reclaim: Notify,
}

struct State {
    /// Requests in flight: handlers running, or response bodies waiting for the handler.
    busy: u32,
    /// Since when a request head has been awaited: the accept, or a later request's first byte.
    head_since: Option<Instant>,
    /// Last byte received or sent, or end of a request.
    last_io: Instant,
    /// Bytes arrived that no request took yet (the start of a head, or garbage).
    unanswered: bool,
    /// The last request's body was not read to its end.
    body_unfinished: bool,
    /// The client closed its side: nothing more will come.
    eof: bool,
    lingering: bool,
    /// Chosen, idle, to be closed for a new client (undone if a byte comes first).
    reclaimed: bool,
}

impl Conn {
    fn new(limits: Limits) -> Self {
        let now = Instant::now();
        let state = State {
            busy: 0,
            head_since: Some(now),
            last_io: now,
            unanswered: false,
            body_unfinished: false,
            eof: false,
            lingering: false,
            reclaimed: false,
        };
        Self {
            limits,
            state: Mutex::new(state),
            reclaim: Notify::new(),
        }
    }

    /// Since when the connection has been idle: between requests, nothing received since.
    fn idle_since(&self) -> Option<Instant> {
        let state = self.state();
        let idle = state.busy == 0
            && state.head_since.is_none()
            && !state.unanswered
            && !state.lingering
            && !state.eof
            && !state.reclaimed;
        idle.then_some(state.last_io)
    }

    /// Marks the connection to be closed for a new client, if it is still idle, and wakes
    /// its task.
    fn reclaim(&self) -> bool {
        let mut state = self.state();
        let idle =
            state.busy == 0 && state.head_since.is_none() && !state.unanswered && !state.lingering;
        state.reclaimed = idle;
        drop(state);
        if idle {
            self.reclaim.notify_one();
        }
        idle
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// When the connection must close unless something happens, and why.
    fn deadline(&self) -> Option<(Instant, &'static str)> {
        let state = self.state();
        if state.busy > 0 || state.lingering {
            return None; // a request in flight is never cut; lingering bounds itself
        }
        Some(match state.head_since {
            Some(since) => (
                since + self.limits.header_read_timeout,
                "header read timeout",
            ),
            None => (state.last_io + self.limits.idle_timeout, "idle timeout"),
        })
    }

    fn on_read(&self, bytes: usize) {
        let mut state = self.state();
        if bytes == 0 {
            state.eof = true;
            return;
        }
        let now = Instant::now();
        state.last_io = now;
        state.reclaimed = false;
        if state.busy == 0 && !state.lingering {
            state.unanswered = true;
            state.head_since.get_or_insert(now);
        } else if !state.body_unfinished && !state.lingering {
            // Past the request's body while it is in flight: pipelined bytes, which closing
            // with them unread would answer with a reset.
            state.unanswered = true;
        }
    }

    fn on_write(&self) {
        self.state().last_io = Instant::now();
    }

    fn start_request(self: &Arc<Self>, has_body: bool) -> Busy {
        let mut state = self.state();
        state.head_since = None;
        state.unanswered = false;
        state.body_unfinished = has_body;
        drop(state);
        self.busy()
    }

    fn busy(self: &Arc<Self>) -> Busy {
        self.state().busy += 1;
        Busy(Arc::clone(self))
    }

    /// Whether closing needs a lingering read: unless the client has closed, bytes it sent
    /// are unread (a body cut short, a bad request, bytes pipelined behind the request, or
    /// `unread` ones still in the socket), and closing now would reset the connection and
    /// destroy the answer it has not read yet.
    fn start_lingering(&self, unread: bool) -> bool {
        let mut state = self.state();
        state.lingering = !state.eof && (state.body_unfinished || state.unanswered || unread);
        state.lingering
    }
}

/// A request in flight: the connection neither times out nor counts as idle meanwhile.
struct Busy(Arc<Conn>);

impl Drop for Busy {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.busy = state.busy.saturating_sub(1);
        state.last_io = Instant::now();
    }
}

/// The socket, seen by hyper: records progress, and does the lingering close on shutdown.
struct Io {
    stream: TcpStream,
    conn: Arc<Conn>,
    linger: Option<Linger>,
    /// Whether the FIN was sent and the lingering decided: once, on hyper's first call (a
    /// later call must not take the client's bytes sent after the close for unread ones).
    shut: bool,
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let (before, room) = (buf.filled().len(), buf.remaining());
        ready!(Pin::new(&mut this.stream).poll_read(cx, buf))?;
        let bytes = buf.filled().len().saturating_sub(before);
        if bytes > 0 || room > 0 {
            this.conn.on_read(bytes);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = ready!(Pin::new(&mut this.stream).poll_write(cx, buf))?;
        this.conn.on_write();
        Poll::Ready(Ok(written))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = ready!(Pin::new(&mut this.stream).poll_write_vectored(cx, bufs))?;
        this.conn.on_write();
        Poll::Ready(Ok(written))
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    /// hyper calls this once its answer is flushed: send FIN, then linger if needed.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.shut {
            // Bytes the client sent that nobody read (hyper stops reading after a
            // `Connection: close` request): closing over them would reset the connection.
            // Looked at before the FIN: what a client sends once it has seen the close is not
            // part of its request.
            let mut byte = [0u8; 1];
            let unread = matches!(
                this.stream.poll_peek(cx, &mut ReadBuf::new(&mut byte)),
                Poll::Ready(Ok(1..))
            );
            ready!(Pin::new(&mut this.stream).poll_shutdown(cx))?;
            this.shut = true;
            if !this.conn.start_lingering(unread) {
                return Poll::Ready(Ok(()));
            }
            let (limits, now) = (&this.conn.limits, Instant::now());
            let quiet = LINGER_QUIET.min(limits.linger_time);
            this.linger = Some(Linger {
                until: now + limits.linger_time,
                quiet,
                last: now,
                left: limits.linger_bytes,
                timer: Box::pin(sleep_until(now + quiet)),
            });
        }
        match this.linger.as_mut() {
            Some(linger) => linger.poll(&mut this.stream, cx).map(Ok),
            None => Poll::Ready(Ok(())),
        }
    }
}

/// A lingering close in progress: read and discard until EOF, `linger_bytes`, `linger_time`
/// or [`LINGER_QUIET`] without a byte.
struct Linger {
    until: Instant,
    quiet: Duration,
    last: Instant,
    left: u64,
    timer: Pin<Box<Sleep>>,
}

impl Linger {
    fn poll(&mut self, stream: &mut TcpStream, cx: &mut Context<'_>) -> Poll<()> {
        let mut storage = [MaybeUninit::<u8>::uninit(); LINGER_BUFFER];
        while self.left > 0 {
            let room =
                usize::try_from(self.left).map_or(LINGER_BUFFER, |left| left.min(LINGER_BUFFER));
            let mut buf = ReadBuf::uninit(&mut storage[..room]);
            // TcpStream takes part in tokio's cooperative budget: an endless sender cannot
            // keep this loop from yielding.
            match Pin::new(&mut *stream).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    self.left = self.left.saturating_sub(buf.filled().len() as u64);
                    self.last = Instant::now();
                }
                Poll::Ready(_) => return Poll::Ready(()), // EOF or error: nothing left to protect
                Poll::Pending => break,
            }
        }
        if self.left == 0 {
            return Poll::Ready(());
        }
        loop {
            let at = self.until.min(self.last + self.quiet);
            if at <= Instant::now() {
                return Poll::Ready(());
            }
            if self.timer.deadline() != at {
                self.timer.as_mut().reset(at);
            }
            ready!(self.timer.as_mut().poll(cx));
        }
    }
}

/// The Router as a hyper service, with the connection's bookkeeping around each request.
struct AppService {
    app: Router,
    peer: SocketAddr,
    conn: Arc<Conn>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl hyper::service::Service<Request<Incoming>> for AppService {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let busy = self
            .conn
            .start_request(!http_body::Body::is_end_stream(request.body()));
        let (mut parts, inner) = request.into_parts();
        parts.extensions.insert(ConnectInfo(self.peer));
        let body = Body::new(RequestBody {
            inner,
            conn: Arc::clone(&self.conn),
            until: Instant::now() + self.conn.limits.body_timeout,
            timer: None,
            waiting: false,
        });
        let (app, conn) = (self.app.clone(), Arc::clone(&self.conn));
        Box::pin(async move {
            let Ok(response) = app.oneshot(Request::from_parts(parts, body)).await;
            drop(busy);
            Ok(response.map(|inner| ResponseBody {
                inner,
                conn,
                busy: None,
            }))
        })
    }
}

/// The request body the handler reads: errors after `body_read_timeout` without data or at
/// `body_timeout` from the headers, and records whether it was read to its end.
struct RequestBody {
    inner: Incoming,
    conn: Arc<Conn>,
    /// The whole body's deadline.
    until: Instant,
    timer: Option<Pin<Box<Sleep>>>,
    waiting: bool,
}

impl RequestBody {
    fn too_late(&self) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let error = io::Error::new(
            io::ErrorKind::TimedOut,
            "request body timed out: not received whole within the body timeout",
        );
        Poll::Ready(Some(Err(error.into())))
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.waiting = false;
            let end = frame.is_none() || this.inner.is_end_stream();
            if end {
                this.conn.state().body_unfinished = false;
            } else if Instant::now() >= this.until {
                return this.too_late();
            }
            return Poll::Ready(frame.map(|frame| frame.map_err(BoxError::from)));
        }
        let at = (Instant::now() + this.conn.limits.body_read_timeout).min(this.until);
        let timer = this.timer.get_or_insert_with(|| Box::pin(sleep_until(at)));
        if !std::mem::replace(&mut this.waiting, true) {
            timer.as_mut().reset(at);
        }
        ready!(timer.as_mut().poll(cx));
        if Instant::now() >= this.until {
            return this.too_late();
        }
        let error = io::Error::new(io::ErrorKind::TimedOut, "request body read timed out");
        Poll::Ready(Some(Err(error.into())))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The response body hyper writes: counts as a request in flight while the handler is
/// producing it, not while hyper waits for the client to read.
struct ResponseBody {
    inner: Body,
    conn: Arc<Conn>,
    busy: Option<Busy>,
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if polled.is_pending() {
            if this.busy.is_none() {
                this.busy = Some(this.conn.busy());
            }
        } else {
            this.busy = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
