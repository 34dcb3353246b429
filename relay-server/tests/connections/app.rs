//! What the app sees: requests as axum::serve gives them, plus ConnectInfo; keep-alive.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use crate::common::{Server, fetch, limits, read_answer};
use tokio::{io::AsyncWriteExt, net::TcpStream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_sees_connect_info() {
    let server = Server::start(limits()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let me = stream.local_addr().unwrap();
    stream
        .write_all(b"GET /peer HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_answer(&mut stream).await.body, me.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_and_pipelining_on_one_connection() {
    let server = Server::start(limits()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    for _ in 0..3 {
        stream
            .write_all(b"GET /watchdog HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(read_answer(&mut stream).await.body, "ok");
    }
    let body = "{\"a\":1}";
    let upload = format!(
        "POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let last = "GET /watchdog HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    stream
        .write_all(format!("{upload}{last}").as_bytes())
        .await
        .unwrap();
    let (bytes, _) = crate::common::read_all(&mut stream).await;
    let (first, used) = crate::common::parse_answer(&bytes).unwrap();
    assert_eq!(first.body, "{\"received\":7}");
    assert_eq!(
        crate::common::parse_answer(&bytes[used..]).unwrap().0.body,
        "ok"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_route_and_http_1_0() {
    let server = Server::start(limits()).await;
    assert_eq!(fetch(server.addr, "/nope").await.status, 404);
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /watchdog HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let (bytes, _) = crate::common::read_all(&mut stream).await;
    assert!(
        bytes.starts_with(b"HTTP/1.0 200 OK"),
        "{:?}",
        String::from_utf8_lossy(&bytes)
    );
}
