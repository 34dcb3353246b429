//! Header, body and idle timeouts, and what they must never cut.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::time::Duration;

use crate::common::{Server, closed_after, limits, parse_answer, read_answer};
use tokio::{io::AsyncWriteExt, net::TcpStream, time::Instant};

/// Bounds the time a closing may take beyond its timeout: only there to catch a hang.
const SLACK: Duration = Duration::from_secs(5);

fn assert_closed_at(elapsed: Duration, timeout: Duration, not_before: Duration) {
    assert!(elapsed >= not_before, "closed too early: {elapsed:?}");
    assert!(elapsed < timeout + SLACK, "closed too late: {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_client_is_closed_after_header_read_timeout() {
    let limits = limits();
    let server = Server::start(limits).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let (elapsed, bytes) = closed_after(&mut stream, Instant::now()).await;
    assert!(bytes.is_empty());
    assert_closed_at(
        elapsed,
        limits.header_read_timeout,
        limits.header_read_timeout / 2,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_headers_are_closed_after_header_read_timeout() {
    let limits = limits();
    let server = Server::start(limits).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let since = Instant::now();
    stream
        .write_all(b"GET /watchdog HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    let (elapsed, bytes) = closed_after(&mut stream, since).await;
    assert!(bytes.is_empty());
    assert_closed_at(
        elapsed,
        limits.header_read_timeout,
        limits.header_read_timeout / 2,
    );
}

/// Slowloris: a byte now and then does not extend the header timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dribbled_headers_do_not_extend_header_read_timeout() {
    let limits = limits();
    let server = Server::start(limits).await;
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let since = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    let dribble = tokio::spawn(async move {
        for byte in b"GET /watchdog HTTP/1.1\r\nX-Slow: "
            .iter()
            .chain([b'a'; 1000].iter())
        {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    });
    let (bytes, _) = crate::common::read_all(&mut reader).await;
    let elapsed = since.elapsed();
    dribble.abort();
    assert!(bytes.is_empty());
    assert_closed_at(
        elapsed,
        limits.header_read_timeout,
        limits.header_read_timeout / 2,
    );
}

/// One request answered, then nothing: closed after the idle timeout, not the (shorter)
/// header timeout, which hyper's own timer would have applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_is_closed_after_idle_timeout() {
    let limits = limits();
    assert!(limits.idle_timeout > limits.header_read_timeout);
    let server = Server::start(limits).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /watchdog HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_answer(&mut stream).await.body, "ok");
    let (elapsed, bytes) = closed_after(&mut stream, Instant::now()).await;
    assert!(bytes.is_empty());
    // Well past the header timeout: the idle gap is not held to it.
    let not_before =
        limits.header_read_timeout + (limits.idle_timeout - limits.header_read_timeout) / 2;
    assert_closed_at(elapsed, limits.idle_timeout, not_before);
}

/// A pause between requests longer than the header timeout (but shorter than the idle
/// timeout) is fine: the next request's header timeout starts at its first byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_pause_longer_than_header_timeout_is_served() {
    let limits = limits();
    let server = Server::start(limits).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    for _ in 0..3 {
        stream
            .write_all(b"GET /watchdog HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(read_answer(&mut stream).await.body, "ok");
        tokio::time::sleep((limits.header_read_timeout + limits.idle_timeout) / 2).await;
    }
}

/// A body that stops arriving is answered after the body timeout (the handler sees an
/// error), then the connection closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_body_is_answered_after_body_read_timeout() {
    let limits = limits();
    let server = Server::start(limits).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let since = Instant::now();
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n{\"half\":")
        .await
        .unwrap();
    let (elapsed, bytes) = closed_after(&mut stream, since).await;
    let (answer, _) = parse_answer(&bytes).expect("an answer");
    assert!(answer.body.contains("timed out"), "{answer:?}");
    // Closed after the answer plus at most the linger bounds.
    assert_closed_at(
        elapsed,
        limits.body_read_timeout + limits.linger_time,
        limits.body_read_timeout,
    );
}

/// A handler slower than both the idle and the header timeouts still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_handler_is_never_cut() {
    let limits = limits();
    let server = Server::start(limits).await;
    let slow = (limits.idle_timeout + limits.header_read_timeout) * 2;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "GET /sleep/{} HTTP/1.1\r\nHost: test\r\n\r\n",
        slow.as_millis()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let answer = read_answer(&mut stream).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "slept"));
}

/// An upload that sends a chunk every half body timeout, for longer than every timeout,
/// completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_but_steady_upload_completes() {
    let limits = limits();
    let server = Server::start(limits).await;
    let chunks = 12;
    let chunk = [b'x'; 1024];
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n",
        chunks * chunk.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let since = Instant::now();
    for _ in 0..chunks {
        tokio::time::sleep(limits.body_read_timeout / 2).await;
        stream.write_all(&chunk).await.unwrap();
    }
    assert!(since.elapsed() > limits.idle_timeout + limits.header_read_timeout);
    let answer = read_answer(&mut stream).await;
    assert_eq!(
        answer.body,
        format!("{{\"received\":{}}}", chunks * chunk.len())
    );
}
