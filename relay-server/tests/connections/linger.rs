//! Lingering close: an early answer reaches a client that writes its whole request first.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use crate::common::{HANG, Server, closed_after, fetch, limits, parse_answer, read_all};
use tokio::{io::AsyncWriteExt, net::TcpStream, time::timeout};
use xdr_relay_server::Limits;

const TRIES: usize = 50;
const UPLOAD: usize = 5 << 20;

/// Writes a 5 MiB `POST /upload` whole, then reads; `Ok` if the complete early answer came.
async fn write_then_read(
    addr: std::net::SocketAddr,
    close: bool,
    body: &[u8],
) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let connection = if close { "Connection: close\r\n" } else { "" };
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n{connection}\r\n",
        body.len()
    );
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await
    };
    match timeout(HANG, write).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return Err(format!("write: {error}")),
        Err(_) => return Err("write hung".into()),
    }
    let (bytes, end) = read_all(&mut stream).await;
    match parse_answer(&bytes) {
        Some((answer, _)) if answer.status == 200 && answer.body.contains("invalid argument") => {
            Ok(())
        }
        Some((answer, _)) => Err(format!("wrong answer: {answer:?}")),
        None => Err(format!("read {} bytes, then {end:?}", bytes.len())),
    }
}

async fn tries(server: &Server, close: bool) -> Vec<String> {
    let body = vec![b'x'; UPLOAD];
    let mut failures = Vec::new();
    for _ in 0..TRIES {
        if let Err(failure) = write_then_read(server.addr, close, &body).await {
            failures.push(failure);
        }
    }
    failures
}

fn report(name: &str, failures: &[String]) {
    let mut kinds: Vec<&str> = failures
        .iter()
        .map(|f| f.split(':').next().unwrap_or(""))
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    println!(
        "{name}: {} of {TRIES} complete answers; failures {kinds:?} e.g. {:?}",
        TRIES - failures.len(),
        failures.first()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_answer_reaches_write_then_read_client_keep_alive() {
    let server = Server::start(limits()).await;
    let failures = tries(&server, false).await;
    report("serve, keep-alive", &failures);
    assert!(failures.is_empty(), "{failures:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_answer_reaches_write_then_read_client_connection_close() {
    let server = Server::start(limits()).await;
    let failures = tries(&server, true).await;
    report("serve, Connection: close", &failures);
    assert!(failures.is_empty(), "{failures:?}");
}

/// A client that sends forever after its headers is cut within the linger bounds, and other
/// clients are served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_sender_is_cut_while_others_are_served() {
    let limits = Limits {
        linger_time: Duration::from_secs(2),
        linger_bytes: u64::MAX,
        ..limits()
    };
    let server = Server::start(limits).await;
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let started = Instant::now();
    let sender = tokio::spawn(async move {
        let head = "POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 1099511627776\r\n\r\n";
        writer.write_all(head.as_bytes()).await.unwrap();
        let chunk = Arc::new(vec![b'x'; 64 << 10]);
        let mut sent = 0u64;
        loop {
            if writer.write_all(&chunk).await.is_err() {
                return sent;
            }
            sent += chunk.len() as u64;
        }
    });
    let answer = tokio::spawn(async move {
        let (bytes, _) = read_all(&mut reader).await;
        bytes
    });
    // Meanwhile, while the sender is being drained, other clients are served.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!sender.is_finished(), "cut before the linger bounds");
    for _ in 0..5 {
        assert_eq!(fetch(server.addr, "/watchdog").await.body, "ok");
    }
    let sent = timeout(HANG, sender)
        .await
        .expect("the endless sender was never cut")
        .unwrap();
    let elapsed = started.elapsed();
    println!(
        "endless sender cut after {elapsed:?} and {} MiB",
        sent >> 20
    );
    assert!(
        elapsed < limits.linger_time + Duration::from_secs(10),
        "{elapsed:?}"
    );
    let bytes = answer.await.unwrap();
    let (answer, _) = parse_answer(&bytes).expect("the early answer");
    assert!(answer.body.contains("invalid argument"), "{answer:?}");
}

/// After answering a `Connection: close` request read whole, the server closes at once: it
/// does not linger (writes after the answer meet a reset, not a drain).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_close_does_not_linger() {
    let limits = Limits {
        linger_time: Duration::from_secs(60),
        ..limits()
    };
    let server = Server::start(limits).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let request = "GET /watchdog HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let (_, bytes) = closed_after(&mut stream, tokio::time::Instant::now()).await;
    assert_eq!(parse_answer(&bytes).unwrap().0.body, "ok");
    let started = Instant::now();
    let reset = timeout(HANG, async {
        loop {
            if stream.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        reset.is_ok(),
        "still draining after {:?}",
        started.elapsed()
    );
}

/// A malformed request gets hyper's 400, not a reset, even when the client sent more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_request_gets_its_400() {
    let server = Server::start(limits()).await;
    let mut junk = b"NOT HTTP AT ALL\r\n\r\n".to_vec();
    junk.resize(8 << 20, b'x');
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    timeout(HANG, stream.write_all(&junk))
        .await
        .unwrap()
        .unwrap();
    let (bytes, end) = read_all(&mut stream).await;
    let answer = parse_answer(&bytes).map(|(answer, _)| answer.status);
    assert_eq!(
        answer,
        Some(400),
        "{end:?} {:?}",
        String::from_utf8_lossy(&bytes)
    );
}
