//! Graceful shutdown: stop accepting, let requests in flight finish, return.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::time::Duration;

use crate::common::{HANG, Server, closed_after, limits, read_answer};
use tokio::{
    io::AsyncWriteExt,
    net::TcpStream,
    time::{Instant, timeout},
};
use xdr_relay_server::Limits;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_in_flight_completes_and_serve_returns() {
    let limits = Limits {
        idle_timeout: Duration::from_secs(30),
        header_read_timeout: Duration::from_secs(30),
        ..limits()
    };
    let mut server = Server::start(limits).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /watchdog HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_answer(&mut idle).await.body, "ok");
    let mut busy = TcpStream::connect(server.addr).await.unwrap();
    busy.write_all(b"GET /sleep/800 HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    server.shutdown();
    // The idle connection is closed at once, the busy one answers, then closes.
    let (_, bytes) = closed_after(&mut idle, Instant::now()).await;
    assert!(bytes.is_empty());
    let answer = read_answer(&mut busy).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "slept"));
    assert_eq!(
        answer.headers.get("connection").map(String::as_str),
        Some("close")
    );
    let returned = timeout(HANG, &mut server.task)
        .await
        .expect("serve() never returned");
    returned.unwrap().unwrap();
    // No longer accepting.
    assert!(TcpStream::connect(server.addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_outliving_the_grace_is_dropped() {
    let limits = Limits {
        shutdown_grace: Duration::from_millis(300),
        ..limits()
    };
    let mut server = Server::start(limits).await;
    let mut stuck = TcpStream::connect(server.addr).await.unwrap();
    stuck
        .write_all(b"GET /sleep/60000 HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let since = Instant::now();
    server.shutdown();
    let returned = timeout(HANG, &mut server.task)
        .await
        .expect("serve() never returned");
    returned.unwrap().unwrap();
    assert!(since.elapsed() >= limits.shutdown_grace);
    let (_, bytes) = closed_after(&mut stuck, since).await;
    assert!(bytes.is_empty());
}
