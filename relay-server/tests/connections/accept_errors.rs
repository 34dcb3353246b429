//! Accept errors (here EMFILE) pause the accept loop instead of spinning it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::{fs::File, process::Command, time::Duration};

use crate::common::{Server, TestRecorder, limits, parse_answer, read_all};
use tokio::{io::AsyncWriteExt, net::TcpStream};
use xdr_relay_server::ACCEPT_ERRORS;

/// Runs [`emfile_child`] in a copy of this test binary with a low open-file limit (set by the
/// shell, as the crate forbids the unsafe `setrlimit`).
#[test]
fn accept_errors_do_not_spin() {
    let exe = std::env::current_exe().unwrap();
    let output = Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"ulimit -n 256 && exec "$0" accept_errors::emfile_child --exact --ignored --nocapture"#)
        .arg(&exe)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by accept_errors_do_not_spin, under a low open-file limit"]
async fn emfile_child() {
    let recorder = TestRecorder::global();
    let server = Server::start(limits()).await;
    // Use up every descriptor but one.
    let mut files = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(file) => files.push(file),
            Err(error) if error.raw_os_error() == Some(24) => break,
            Err(error) => panic!("{error}"),
        }
    }
    files.pop();
    // The client takes the last one: the server's accept fails with EMFILE.
    let mut client = TcpStream::connect(server.addr).await.unwrap();
    let request = b"GET /watchdog HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    client.write_all(request).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let errors = recorder.counter(ACCEPT_ERRORS);
    println!("{errors} failed accepts in 1 s without a free descriptor");
    assert!(errors >= 1, "the server never hit EMFILE");
    // A busy loop would fail hundreds of thousands of times per second.
    assert!(errors <= 100, "accept retried without pausing: {errors}");
    // Descriptors free again: the waiting client is served.
    files.truncate(files.len() - 16);
    let (bytes, end) = read_all(&mut client).await;
    let answer = parse_answer(&bytes).map(|(answer, _)| answer.body);
    assert_eq!(answer.as_deref(), Some("ok"), "{end:?}");
}
