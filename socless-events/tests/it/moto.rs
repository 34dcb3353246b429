//! A moto server (`moto_server -H 127.0.0.1 -p PORT`) shared by the tests that run at the same
//! time, and killed when the last of them drops its handle.

use std::sync::{Arc, Mutex, Weak};

use testkit::aws::moto::MotoServer;

static SHARED: Mutex<Weak<MotoServer>> = Mutex::new(Weak::new());

/// The moto server of the running tests, started if none is running.
pub(crate) fn moto() -> Arc<MotoServer> {
    let mut shared = SHARED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(server) = shared.upgrade() {
        return server;
    }
    let server = Arc::new(MotoServer::start().unwrap_or_else(|e| panic!("{e}")));
    *shared = Arc::downgrade(&server);
    server
}
