//! A local AWS for socless-events' integration tests and benches: a moto server on 127.0.0.1,
//! the three Socless tables and trivial state machines, through the real SDK clients.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};

/// What to tell someone whose machine has no moto.
pub const INSTALL_HINT: &str = "the AWS tests need `moto_server` on PATH: `cargo xtask ci` installs it (pinned in \
     .ci/requirements.txt) into <target dir>/py-tools/bin and runs the tests with that on PATH";

/// The account moto uses.
pub const ACCOUNT: &str = "123456789012";

/// moto's server app on 127.0.0.1, one request at a time (see `ONE_THREAD_MOTO`), killed on
/// drop.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    url: String,
}

impl MotoServer {
    /// Starts moto on a free port and waits (up to 60 s) until it listens.
    pub fn start() -> Result<MotoServer, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        // moto's own `moto_server` serves requests on threads, but its TransactWriteItems is
        // not thread-safe: it deep-copies the tables while other threads write them and, when
        // a condition fails, restores that copy over their writes. The same app on one
        // thread keeps every transaction atomic, as DynamoDB's are.
        let python = moto_python()?;
        let child = Command::new(python)
            .args(["-c", ONE_THREAD_MOTO, "127.0.0.1", &port.to_string()])
            .env("MOTO_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("moto_server could not start ({e}); {INSTALL_HINT}"))?;
        let mut server = MotoServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "moto_server exited with {status} before listening; {INSTALL_HINT}"
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "moto_server did not listen on port {port} within 60 s; {INSTALL_HINT}"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Explicit SDK configuration for a local server: endpoint, static test credentials, us-east-1
/// (nothing read from the environment).
pub fn sdk_config(url: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "tests",
        )))
        .behavior_version(BehaviorVersion::latest())
        .build()
}

/// Creates the three Socless tables, named `events`, `dedup` and `results` (on-demand, string
/// hash keys as Socless defines them).
pub async fn create_tables(
    config: &aws_config::SdkConfig,
    events: &str,
    dedup: &str,
    results: &str,
) {
    let client = aws_sdk_dynamodb::Client::new(config);
    for (name, key) in [
        (events, "id"),
        (dedup, "dedup_hash"),
        (results, "execution_id"),
    ] {
        client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(key)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(key)
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("create table {name}: {e:?}"));
    }
}

/// Deploys each playbook as a trivial state machine (moto records executions; it runs
/// nothing). One that already exists is fine.
pub async fn deploy_playbooks(config: &aws_config::SdkConfig, playbooks: &[&str]) {
    let client = aws_sdk_sfn::Client::new(config);
    let definition = r#"{"StartAt":"Done","States":{"Done":{"Type":"Pass","End":true}}}"#;
    for name in playbooks {
        let result = client
            .create_state_machine()
            .name(*name)
            .definition(definition)
            .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/socless-tests"))
            .send()
            .await;
        if let Err(error) = result {
            let exists = error
                .as_service_error()
                .is_some_and(|e| e.is_state_machine_already_exists());
            assert!(exists, "create state machine {name}: {error:?}");
        }
    }
}

/// `moto_server`'s own app (what `moto_server -H HOST -p PORT` serves), on one thread.
const ONE_THREAD_MOTO: &str = "
import sys
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
run_simple(sys.argv[1], int(sys.argv[2]), DomainDispatcherApplication(create_backend_app), threaded=False)
";

/// The Python that runs `moto_server` (its `#!` line), so the app is imported from the same
/// environment.
fn moto_python() -> Result<std::path::PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let script = std::env::split_paths(&path)
        .map(|dir| dir.join("moto_server"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| format!("moto_server is not on PATH; {INSTALL_HINT}"))?;
    let text = std::fs::read_to_string(&script)
        .map_err(|e| format!("cannot read {}: {e}; {INSTALL_HINT}", script.display()))?;
    text.lines()
        .next()
        .and_then(|line| line.strip_prefix("#!"))
        .map(|interpreter| std::path::PathBuf::from(interpreter.trim()))
        .ok_or_else(|| format!("{} has no #! line; {INSTALL_HINT}", script.display()))
}
