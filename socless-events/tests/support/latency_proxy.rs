//! A TCP proxy on 127.0.0.1 in front of moto that adds a fixed latency to every request, so
//! that moto (which answers in a few milliseconds here) behaves like an AWS endpoint a network
//! hop away: the figures then measure network-bound calls, as in production, not moto's speed.
//!
//! "Per request" means: on each connection, the first bytes the client sends after the
//! server's previous answer began (or the connection's first bytes) wait `latency` before
//! they go on; the rest of that request (the SDK writes a request in one or two writes: headers,
//! then body) follows them without more delay, and answers are not delayed. One call through
//! the SDK (one HTTP exchange) therefore takes `latency` longer, as if each round trip cost
//! `latency`. Opening a connection costs nothing extra.
//!
//! The proxy also hands moto one request at a time (from forwarding a request until its answer
//! begins; moto computes an answer whole before sending it). `moto_server` serves requests on
//! threads, but its DynamoDB is not thread-safe: `TransactWriteItems` deep-copies the tables it
//! writes while other threads write them, and fails with a 500 (`RuntimeError: dictionary
//! changed size during iteration`) more often the larger they are. The latencies of concurrent
//! requests still overlap; only moto's own work (one interpreter, one core, anyway) does not.
//! With a latency of zero the proxy is just that guard.
//!
//! Included by path from `tests/it/main.rs` and `benches/create_events.rs`, like
//! `local_aws.rs`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, OwnedMutexGuard};
use tokio::task::{JoinHandle, JoinSet};

/// A latency-injecting proxy in front of one upstream on 127.0.0.1, which it hands one request
/// at a time; stops (its listener and every connection) when dropped.
#[derive(Debug)]
pub(crate) struct LatencyProxy {
    url: String,
    latency: Duration,
    requests: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl LatencyProxy {
    /// Listens on 127.0.0.1 (a free port) and forwards every connection to `upstream_url`
    /// (`http://127.0.0.1:PORT`, as `MotoServer::url` gives it), delaying each request by
    /// `latency`, and handing the upstream one request at a time. Must be called within a Tokio runtime, whose tasks then run the proxy: a
    /// multi-threaded one, or one that is running while clients use the proxy.
    pub(crate) async fn start(upstream_url: &str, latency: Duration) -> io::Result<LatencyProxy> {
        let upstream = loopback_address(upstream_url)?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&requests);
        // Held by the connection whose request moto is working on.
        let turn = Arc::new(Mutex::new(()));
        let task = tokio::spawn(async move {
            // Owned here: aborting this task (on drop) drops the set, which aborts every
            // connection's task.
            let mut connections = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                while connections.try_join_next().is_some() {}
                let counter = Arc::clone(&counter);
                let turn = Arc::clone(&turn);
                connections.spawn(async move {
                    // A connection that fails just closes, as a network failure would.
                    let _ = forward(client, upstream, latency, counter, turn).await;
                });
            }
        });
        Ok(LatencyProxy {
            url,
            latency,
            requests,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`: the endpoint URL to give the SDK.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The latency each request gets.
    pub(crate) fn latency(&self) -> Duration {
        self.latency
    }

    /// How many requests were delayed so far (one per HTTP exchange).
    pub(crate) fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The address of `http://127.0.0.1:PORT`; anything but the loopback is refused.
fn loopback_address(url: &str) -> io::Result<SocketAddr> {
    let invalid = |why: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{url}: {why}"));
    let authority = url
        .strip_prefix("http://")
        .ok_or_else(|| invalid("not an http:// URL"))?
        .trim_end_matches('/');
    let address: SocketAddr = authority
        .parse()
        .map_err(|_| invalid("not http://IP:PORT"))?;
    if !address.ip().is_loopback() {
        return Err(invalid("the proxy forwards to the loopback only"));
    }
    Ok(address)
}

/// Copies both ways until both sides have closed (or either fails); see the module for what
/// is delayed.
async fn forward(
    client: TcpStream,
    upstream: SocketAddr,
    latency: Duration,
    requests: Arc<AtomicUsize>,
    turn: Arc<Mutex<()>>,
) -> io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    // Small writes go out at once: Nagle's algorithm with delayed acknowledgements would add
    // up to 40 ms of its own to a request written in two parts.
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // Set when the server starts answering: the client's next bytes are a new request.
    let answered = AtomicBool::new(true);
    // This connection's turn while moto works on its request (released when the connection
    // ends, answered or not).
    let held = std::sync::Mutex::new(None);
    let shared = Shared {
        answered: &answered,
        held: &held,
        turn: &turn,
    };
    let requests_way = requests_to_server(client_read, server_write, latency, shared, requests);
    let answers_way = answers_to_client(server_read, client_write, shared);
    // An end of stream is passed on as a shutdown, and the other way goes on; an error ends
    // both (the halves close when dropped).
    tokio::try_join!(requests_way, answers_way).map(|_| ())
}

/// What the two ways of one connection share.
#[derive(Clone, Copy)]
struct Shared<'a> {
    /// Set when the server starts answering: the client's next bytes are a new request.
    answered: &'a AtomicBool,
    /// The turn, from forwarding a request until its answer begins.
    held: &'a std::sync::Mutex<Option<OwnedMutexGuard<()>>>,
    turn: &'a Arc<Mutex<()>>,
}

impl Shared<'_> {
    fn hold(&self, guard: Option<OwnedMutexGuard<()>>) {
        *self
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = guard;
    }
}

async fn requests_to_server(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    latency: Duration,
    shared: Shared<'_>,
    requests: Arc<AtomicUsize>,
) -> io::Result<()> {
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = from.read(&mut buffer).await?;
        if read == 0 {
            return to.shutdown().await;
        }
        if shared.answered.swap(false, Ordering::AcqRel) {
            requests.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(latency).await;
            shared.hold(Some(Arc::clone(shared.turn).lock_owned().await));
        }
        to.write_all(&buffer[..read]).await?;
    }
}

async fn answers_to_client(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    shared: Shared<'_>,
) -> io::Result<()> {
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = from.read(&mut buffer).await?;
        if read == 0 {
            return to.shutdown().await;
        }
        shared.answered.store(true, Ordering::Release);
        shared.hold(None);
        to.write_all(&buffer[..read]).await?;
    }
}
