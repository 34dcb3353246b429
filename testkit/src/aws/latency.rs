//! A TCP proxy on 127.0.0.1 in front of a local AWS (moto, or the in-memory stand-in) that adds
//! a fixed latency to every request, so that it behaves like an AWS endpoint a network hop
//! away: the figures then measure network-bound calls, as in production.
//!
//! "Per request" means: on each connection, the first bytes the client sends after the
//! server's previous answer began (or the connection's first bytes) wait `latency` before
//! they go on; the rest of that request (the SDK writes a request in one or two writes: headers,
//! then body) follows them without more delay, and answers are not delayed. One call through
//! the SDK (one HTTP exchange) therefore takes `latency` longer, as if each round trip cost
//! `latency`. Opening a connection costs nothing extra.
//!
//! The proxy forwards requests as they come: several at once when the client sends several.
//! moto serves them one at a time anyway (see `aws::moto`, behind the `aws` feature); the
//! in-memory stand-in ([`super::standin`]) serves them in parallel, as AWS does.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// A latency-injecting proxy in front of one upstream on 127.0.0.1; stops (its listener and
/// every connection) when dropped.
#[derive(Debug)]
pub struct LatencyProxy {
    url: String,
    latency: Duration,
    requests: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl LatencyProxy {
    /// Listens on 127.0.0.1 (a free port) and forwards every connection to `upstream_url`
    /// (`http://127.0.0.1:PORT`, as `MotoServer::url` gives it), delaying each request by
    /// `latency`. Must be called within a Tokio runtime, whose tasks then run the proxy: a
    /// multi-threaded one, or one that is running while clients use the proxy.
    pub async fn start(upstream_url: &str, latency: Duration) -> io::Result<LatencyProxy> {
        let upstream = loopback_address(upstream_url)?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            // Owned here: aborting this task (on drop) drops the set, which aborts every
            // connection's task.
            let mut connections = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                while connections.try_join_next().is_some() {}
                let counter = Arc::clone(&counter);
                connections.spawn(async move {
                    // A connection that fails just closes, as a network failure would.
                    let _ = forward(client, upstream, latency, counter).await;
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
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The latency each request gets.
    pub fn latency(&self) -> Duration {
        self.latency
    }

    /// How many requests were delayed so far (one per HTTP exchange).
    pub fn requests(&self) -> usize {
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
    let requests_way = requests_to_server(client_read, server_write, latency, &answered, requests);
    let answers_way = answers_to_client(server_read, client_write, &answered);
    // An end of stream is passed on as a shutdown, and the other way goes on; an error ends
    // both (the halves close when dropped).
    tokio::try_join!(requests_way, answers_way).map(|_| ())
}

async fn requests_to_server(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    latency: Duration,
    answered: &AtomicBool,
    requests: Arc<AtomicUsize>,
) -> io::Result<()> {
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = from.read(&mut buffer).await?;
        if read == 0 {
            return to.shutdown().await;
        }
        if answered.swap(false, Ordering::AcqRel) {
            requests.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(latency).await;
        }
        to.write_all(&buffer[..read]).await?;
    }
}

async fn answers_to_client(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    answered: &AtomicBool,
) -> io::Result<()> {
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = from.read(&mut buffer).await?;
        if read == 0 {
            return to.shutdown().await;
        }
        answered.store(true, Ordering::Release);
        to.write_all(&buffer[..read]).await?;
    }
}
