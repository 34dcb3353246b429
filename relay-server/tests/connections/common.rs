//! Shared by the connection tests: the test app, a server on 127.0.0.1, raw clients.
#![allow(dead_code, unreachable_pub)]

use std::{io, net::SocketAddr, time::Duration};

use axum::{
    Json, Router,
    body::{Body, to_bytes},
    extract::{ConnectInfo, Path},
    routing::{get, post},
};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::oneshot,
    task::JoinHandle,
    time::{Instant, timeout},
};
use xdr_relay_server::{Limits, serve};

/// A bound on any single wait in a test: only there to turn a hang into a failure.
pub const HANG: Duration = Duration::from_secs(20);

/// The request body limit of the upload handler, as in the relay.
pub const BODY_LIMIT: usize = 1 << 20;

/// The app: an upload handler that answers early when the body is too large, like the relay.
pub fn app() -> Router {
    Router::new()
        .route("/upload", post(upload))
        .route("/watchdog", get(|| async { "ok" }))
        .route(
            "/sleep/{ms}",
            get(|Path(ms): Path<u64>| async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                "slept"
            }),
        )
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
}

async fn upload(body: Body) -> Json<Value> {
    Json(match to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => json!({ "received": bytes.len() }),
        Err(error) => json!({
            "errors": [{
                "code": "invalid argument",
                "message": format!("request body: {error}"),
                "type": "fatal",
            }]
        }),
    })
}

/// Test-sized limits: timeouts of a few hundred milliseconds.
pub fn limits() -> Limits {
    Limits {
        header_read_timeout: Duration::from_millis(300),
        body_read_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_secs(10),
        max_header_bytes: 16 << 10,
        idle_timeout: Duration::from_millis(1000),
        max_connections: 64,
        linger_time: Duration::from_secs(3),
        linger_bytes: 16 << 20,
        shutdown_grace: Duration::from_secs(3),
    }
}

/// A server of [`app`] on 127.0.0.1, run by [`serve`] or by plain `axum::serve`.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<io::Result<()>>,
}

impl Server {
    pub async fn start(limits: Limits) -> Self {
        Self::start_app(app(), limits).await
    }

    pub async fn start_app(app: Router, limits: Limits) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(serve(listener, app, limits, shutdown));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// Resolves the shutdown future.
    pub fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub use testkit::http::{Answer, parse_answer};

/// Reads until EOF or an error (bounded by [`HANG`]); returns what came and how it ended.
pub async fn read_all(stream: &mut (impl AsyncReadExt + Unpin)) -> (Vec<u8>, io::Result<()>) {
    let mut bytes = Vec::new();
    let read = timeout(HANG, stream.read_to_end(&mut bytes)).await;
    let end = match read {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "hang")),
    };
    (bytes, end)
}

/// Reads one response on a keep-alive connection (bounded by [`HANG`]).
pub async fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some((answer, _)) = parse_answer(&bytes) {
            return answer;
        }
        let n = timeout(HANG, stream.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(
            n > 0,
            "EOF before a complete answer: {:?}",
            String::from_utf8_lossy(&bytes)
        );
        bytes.extend_from_slice(&chunk[..n]);
    }
}

/// Waits until the server closes `stream` (EOF or reset), bounded by [`HANG`]; returns how
/// long that took from `since`, and whatever bytes came first.
pub async fn closed_after(stream: &mut TcpStream, since: Instant) -> (Duration, Vec<u8>) {
    let (bytes, end) = read_all(stream).await;
    if let Err(error) = &end {
        assert_ne!(
            error.kind(),
            io::ErrorKind::TimedOut,
            "the server never closed"
        );
    }
    (since.elapsed(), bytes)
}

/// One GET on a new connection, with `Connection: close`.
pub async fn fetch(addr: SocketAddr, path: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let (bytes, _) = read_all(&mut stream).await;
    parse_answer(&bytes)
        .unwrap_or_else(|| panic!("no answer: {:?}", String::from_utf8_lossy(&bytes)))
        .0
}

pub use testkit::metrics::Recorded as TestRecorder;
