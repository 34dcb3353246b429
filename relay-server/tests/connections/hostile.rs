//! What a hostile client tries beyond the timeouts: a body dribbled byte by byte, headers
//! larger than any real client sends, chunk floods, bytes pipelined behind a
//! `Connection: close` request, and idle keep-alive connections that hold every slot.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::time::Duration;

use crate::common::{HANG, Server, closed_after, limits, parse_answer, read_all, read_answer};
use tokio::{
    io::AsyncWriteExt,
    net::TcpStream,
    time::{Instant, timeout},
};
use xdr_relay_server::Limits;

/// A body sent one byte at a time, each byte well within the body read timeout, is still cut
/// at the body timeout (a bound on the whole body) and answered as unreadable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dribbled_body_is_cut_at_the_body_timeout() {
    let limits = Limits {
        body_timeout: Duration::from_millis(800),
        ..limits()
    };
    assert!(limits.body_read_timeout > Duration::from_millis(100));
    let server = Server::start(limits).await;
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let since = Instant::now();
    // 1000 bytes at one per 100 ms would take 100 s: longer than the test's HANG.
    let dribble = tokio::spawn(async move {
        let head = "POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n";
        writer.write_all(head.as_bytes()).await.unwrap();
        for _ in 0..1000 {
            if writer.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let (bytes, end) = read_all(&mut reader).await;
    let elapsed = since.elapsed();
    dribble.abort();
    let (answer, _) =
        parse_answer(&bytes).unwrap_or_else(|| panic!("no answer after {elapsed:?}: {end:?}"));
    assert!(answer.body.contains("invalid argument"), "{answer:?}");
    assert!(answer.body.contains("timed out"), "{answer:?}");
    assert!(elapsed >= limits.body_timeout, "{elapsed:?}");
}

/// A request head larger than the header limit is answered 431, not buffered (hyper's
/// default would take about 400 KiB per connection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_over_the_limit_are_answered_431() {
    let limits = limits();
    let server = Server::start(limits).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let mut request = b"GET /watchdog HTTP/1.1\r\nHost: test\r\nX-Big: ".to_vec();
    request.resize(request.len() + 4 * limits.max_header_bytes, b'a');
    request.extend_from_slice(b"\r\n\r\n");
    let writer = async {
        let _ = stream.write_all(&request).await;
    };
    let _ = timeout(HANG, writer).await;
    let (bytes, end) = read_all(&mut stream).await;
    let answer = parse_answer(&bytes).map(|(answer, _)| answer.status);
    assert_eq!(
        answer,
        Some(431),
        "{end:?} {:?}",
        String::from_utf8_lossy(&bytes)
    );
    // Headers within the limit are served.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let mut request = b"GET /watchdog HTTP/1.1\r\nHost: test\r\nX-Big: ".to_vec();
    request.resize(request.len() + limits.max_header_bytes / 2, b'a');
    request.extend_from_slice(b"\r\n\r\n");
    stream.write_all(&request).await.unwrap();
    assert_eq!(read_answer(&mut stream).await.body, "ok");
}

/// Bytes pipelined behind a `Connection: close` request, which the server never reads, get
/// the lingering close: a client that writes them all before it reads (as urllib does with
/// a request) gets the answer, not a reset that fails its write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_pipelined_behind_connection_close_get_the_lingering_close() {
    let server = Server::start(limits()).await;
    let mut request = b"GET /sleep/50 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".to_vec();
    // More than the socket buffers hold: the write waits on the server until it closes.
    request.resize(request.len() + (5 << 20), b'x');
    let mut failures = Vec::new();
    for _ in 0..5 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        match timeout(HANG, stream.write_all(&request)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                failures.push(format!("write: {error}"));
                continue;
            }
            Err(_) => panic!("write hung"),
        }
        let (bytes, end) = read_all(&mut stream).await;
        match parse_answer(&bytes) {
            Some((answer, _)) if answer.body == "slept" => {}
            other => failures.push(format!("{other:?} {end:?}")),
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}

/// With every slot taken, a new client is served by closing the oldest idle keep-alive
/// connection, not left waiting in the backlog for the idle timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oldest_idle_connection_makes_room_for_a_new_client() {
    let long = Duration::from_secs(30);
    let limits = Limits {
        max_connections: 3,
        idle_timeout: long,
        header_read_timeout: long,
        ..limits()
    };
    let server = Server::start(limits).await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(b"GET /watchdog HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(read_answer(&mut stream).await.body, "ok");
        idle.push(stream);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut new = TcpStream::connect(server.addr).await.unwrap();
    new.write_all(b"GET /watchdog HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let answer = timeout(HANG, read_answer(&mut new)).await;
    assert_eq!(
        answer
            .expect("not served: no idle connection was reclaimed")
            .body,
        "ok"
    );
    // The oldest is the one closed; the two others still serve.
    let (_, bytes) = closed_after(&mut idle[0], Instant::now()).await;
    assert!(bytes.is_empty());
    for stream in &mut idle[1..] {
        stream
            .write_all(b"GET /watchdog HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(read_answer(stream).await.body, "ok");
    }
}

/// A connection in the middle of its headers is not idle: it is not reclaimed; once it is
/// answered and idle, it is, for the client that waited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_sending_its_headers_is_not_reclaimed() {
    let long = Duration::from_secs(30);
    let limits = Limits {
        max_connections: 1,
        idle_timeout: long,
        header_read_timeout: long,
        ..limits()
    };
    let server = Server::start(limits).await;
    let mut sending = TcpStream::connect(server.addr).await.unwrap();
    sending
        .write_all(b"GET /watchdog HTTP/1.1\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut new = TcpStream::connect(server.addr).await.unwrap();
    new.write_all(b"GET /watchdog HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let waited = timeout(Duration::from_millis(500), read_answer(&mut new)).await;
    assert!(waited.is_err(), "served beyond the cap");
    sending.write_all(b"Host: test\r\n\r\n").await.unwrap();
    assert_eq!(read_answer(&mut sending).await.body, "ok");
    let answer = timeout(HANG, read_answer(&mut new)).await;
    assert_eq!(answer.expect("never served").body, "ok");
    let (_, bytes) = closed_after(&mut sending, Instant::now()).await;
    assert!(bytes.is_empty());
}
