//! A moto server (`moto_server -H 127.0.0.1 -p PORT`) shared by the tests that run at the same
//! time, and killed when the last of them drops its handle.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

const INSTALL_HINT: &str = "the AWS tests need moto in server mode: pip install \"moto[server]\"";

static SHARED: Mutex<Weak<MotoServer>> = Mutex::new(Weak::new());

/// A running moto server on 127.0.0.1.
#[derive(Debug)]
pub(crate) struct MotoServer {
    child: Child,
    url: String,
}

impl MotoServer {
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    fn start() -> Self {
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("moto_server could not start ({e}); {INSTALL_HINT}"));
        let mut server = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        server.wait_until_listening(port);
        server
    }

    fn wait_until_listening(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("moto_server exited with {status} before listening; {INSTALL_HINT}");
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on port {port} within 60 s; {INSTALL_HINT}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The moto server of the running tests, started if none is running.
pub(crate) fn moto() -> Arc<MotoServer> {
    let mut shared = SHARED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(server) = shared.upgrade() {
        return server;
    }
    let server = Arc::new(MotoServer::start());
    *shared = Arc::downgrade(&server);
    server
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}
