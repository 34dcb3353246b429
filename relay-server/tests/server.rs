//! End to end: the real `relay-server` binary, on an ephemeral port, against a local stub of
//! Auth0 Signals, with a token made by `relay-server jwt`.

// Helpers outside #[test] functions fail their test by panicking, as tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BIN: &str = env!("CARGO_BIN_EXE_relay-server");
const SECRET: &str = "an-integration-test-secret-that-is-long-enough-0123456789abcdef";
const API_KEY: &str = "11111111-2222-4333-8444-555555555555";

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../testdata/auth0-signals/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "test data file testdata/auth0-signals/{name} is missing or unreadable ({e}); see testdata/README.md"
        )
    });
    serde_json::from_str(&text).unwrap()
}

/// A stub upstream that knows 1.1.1.1 and the FAIL2BAN-SSH list; `delay` slows IP reports.
async fn upstream(delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2.0/ip/1.1.1.1"))
        .and(header("X-Auth-Token", API_KEY))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixture("upstream_v2.0_ip_response_ok.json"))
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/metadata/badip/lists/FAIL2BAN-SSH"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixture("upstream_metadata_list_details.json")),
        )
        .mount(&server)
        .await;
    server
}

fn jwt_cli(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("jwt")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A running server; killed on drop so a failing test leaves nothing behind.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(upstream: &str) -> Server {
        Server::start_with(upstream, &[])
    }

    fn start_with(upstream: &str, env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(BIN);
        command
            .envs(env.iter().copied())
            .env("SECRET_KEY", SECRET)
            .env("SIGNALS_API_URL", upstream);
        Server::spawn(command)
    }

    /// Runs `command` (the binary, with its environment) until it says where it listens.
    fn spawn(mut command: Command) -> Server {
        let mut child = command
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let address = loop {
            let line = lines
                .next()
                .expect("relay-server exited before listening")
                .unwrap();
            if let Some(rest) = line.split("address=").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Server {
            child,
            url: format!("http://{address}"),
        }
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token() -> String {
    let out = jwt_cli(&["--key", API_KEY, "--secret-key", SECRET, "--quiet"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn post(url: &str, token: &str, body: Value) -> Value {
    reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_token_from_relay_server_jwt_is_accepted_over_http() {
    let upstream = upstream(Duration::ZERO).await;
    let mut server = Server::start(&upstream.uri());
    let token = token();
    let observables =
        json!([{"type": "ip", "value": "1.1.1.1"}, {"type": "domain", "value": "x.org"}]);

    let answer = post(
        &format!("{}/deliberate/observables", server.url),
        &token,
        observables.clone(),
    )
    .await;
    let verdict = &answer["data"]["verdicts"]["docs"][0];
    assert_eq!(answer["data"]["verdicts"]["count"], 1, "{answer}");
    assert_eq!(verdict["disposition"], 3);
    assert_eq!(verdict["disposition_name"], "Suspicious");
    assert_eq!(
        verdict["observable"],
        json!({"type": "ip", "value": "1.1.1.1"})
    );

    let answer = post(
        &format!("{}/observe/observables", server.url),
        &token,
        observables,
    )
    .await;
    assert_eq!(answer["data"]["sightings"]["count"], 1, "{answer}");
    assert_eq!(
        answer["data"]["indicators"]["docs"][0]["title"],
        "FAIL2BAN-SSH Blocklist.de"
    );

    let answer = post(
        &format!("{}/deliberate/observables", server.url),
        "not.a.jwt",
        json!([]),
    )
    .await;
    assert_eq!(answer["errors"][0]["code"], "authorization error");

    assert!(server.terminate().success());
}

#[tokio::test]
async fn sigterm_lets_requests_in_flight_finish() {
    let upstream = upstream(Duration::from_millis(1500)).await;
    let mut server = Server::start(&upstream.uri());
    let token = token();
    let url = format!("{}/deliberate/observables", server.url);
    let in_flight = tokio::spawn(async move {
        post(&url, &token, json!([{"type": "ip", "value": "1.1.1.1"}])).await
    });
    // Wait until the relay has asked upstream, so the request is really in flight.
    while upstream
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = server.terminate();
    let answer = in_flight.await.unwrap();
    assert_eq!(answer["data"]["verdicts"]["count"], 1, "{answer}");
    assert!(status.success());
}

#[tokio::test]
async fn relay_openapi_serves_the_document() {
    let upstream = upstream(Duration::ZERO).await;
    let get = |url: String| async move {
        let response = reqwest::get(url).await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    let server = Server::start(&upstream.uri());
    assert_eq!(get(format!("{}/openapi.json", server.url)).await.0, 404);
    let server = Server::start_with(&upstream.uri(), &[("RELAY_OPENAPI", "true")]);
    let (status, text) = get(format!("{}/openapi.json", server.url)).await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
}

#[test]
fn the_server_refuses_to_start_without_a_secret_key() {
    let out = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("SECRET_KEY")
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SECRET_KEY is not set"), "{stderr}");
    assert!(stderr.contains("relay-server jwt"), "{stderr}");
}

#[test]
fn help_names_every_variable_and_prints_no_value() {
    let out = Command::new(BIN)
        .arg("--help")
        .env("SECRET_KEY", SECRET)
        .env("RELAY_URL", "https://relay.example.com/from-the-env")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for var in xdr_relay_core::RelayConfig::ENV_VARS {
        assert!(help.contains(&format!("[env: {}]", var.name)), "{help}");
    }
    assert!(help.contains("[env: RELAY_LISTEN]"), "{help}");
    assert!(!help.contains(SECRET), "{help}");
    assert!(!help.contains("from-the-env"), "{help}");
}

#[test]
fn an_invalid_value_stops_the_server_naming_the_variable() {
    let out = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--ctr-entities-limit", "0"])
        .env("SECRET_KEY", SECRET)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(r#"CTR_ENTITIES_LIMIT must be a positive integer, got "0""#),
        "{stderr}"
    );
    assert!(!stderr.contains(SECRET), "{stderr}");
}

#[test]
fn jwt_prints_a_fresh_secret_and_the_links() {
    let out = jwt_cli(&["--key", API_KEY, "--json", "--aws-region", "eu-west-1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let secret = printed["secret_key"].as_str().unwrap();
    assert_eq!(secret.len(), 64);
    assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(printed["jwt"].as_str().unwrap().split('.').count(), 3);
    assert_eq!(
        printed["lambda_environment_url"],
        "https://console.aws.amazon.com/lambda/home?region=eu-west-1#/functions/auth0-signals-relay/edit/environment-variables?tab=configuration"
    );
    assert_eq!(
        printed["module_creation_urls"]["us"],
        "https://securex.us.security.cisco.com/settings/modules/available/c6311f9b-33a6-4935-9c31-24b9b755e5cc/new"
    );
    // Two runs never share a secret.
    let again: Value =
        serde_json::from_slice(&jwt_cli(&["--key", API_KEY, "--json"]).stdout).unwrap();
    assert_ne!(again["secret_key"], printed["secret_key"]);
}

#[test]
fn jwt_reads_a_credentials_file_and_explains_bad_input() {
    let dir = std::env::temp_dir().join(format!("relay-server-jwt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("creds.json");
    std::fs::write(&file, json!({"key": API_KEY}).to_string()).unwrap();
    let out = jwt_cli(&[
        "--file",
        file.to_str().unwrap(),
        "--secret-key",
        SECRET,
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), token());

    std::fs::write(&file, r#"{"key": 5}"#).unwrap();
    let out = jwt_cli(&["--file", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no string `key`"));

    // No credentials and no terminal to prompt on: a clear error, not a hang.
    let out = jwt_cli(&[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --key VALUE or --file"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// An RS256-looking token that names `jwks_host`, with a signature that verifies nothing:
/// enough to see which key servers the relay contacts.
fn unsigned_configuration_token(jwks_host: &str) -> String {
    use base64::Engine as _;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let header = b64(json!({"alg": "RS256", "typ": "JWT", "kid": "xdr-1"}));
    let claims =
        json!({"key": API_KEY, "jwks_host": jwks_host, "aud": "https://relay.example.com"});
    format!("{header}.{}.c2lnbmF0dXJl", b64(claims))
}

#[tokio::test]
async fn jwks_mode_needs_no_secret_key_and_contacts_only_allowed_hosts() {
    let upstream = upstream(Duration::ZERO).await;
    let keys = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/.well-known/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"keys": []})))
        .mount(&keys)
        .await;
    let allowed = keys.address().to_string();
    let mut command = Command::new(BIN);
    command
        .env_remove("SECRET_KEY")
        .env("AUTH_TYPE", "jwks")
        .env("RELAY_URL", "https://relay.example.com")
        .env(
            "JWKS_ALLOWED_HOSTS",
            format!("visibility.amp.cisco.com,{allowed}"),
        )
        .env("JWKS_ALLOW_HTTP", "true")
        .env("SIGNALS_API_URL", upstream.uri());
    let server = Server::spawn(command);
    let url = format!("{}/deliberate/observables", server.url);
    let body = json!([{"type": "ip", "value": "1.1.1.1"}]);

    let answer = post(
        &url,
        &unsigned_configuration_token("evil.example"),
        body.clone(),
    )
    .await;
    assert_eq!(
        answer["errors"][0]["message"],
        "Authorization failed: Wrong jwks_host in JWT payload. Make sure domain follows the visibility.<region>.cisco.com structure"
    );
    assert!(keys.received_requests().await.unwrap().is_empty());

    let answer = post(&url, &unsigned_configuration_token(&allowed), body).await;
    assert_eq!(
        answer["errors"][0]["message"],
        "Authorization failed: kid from JWT header not found in API response"
    );
    assert_eq!(keys.received_requests().await.unwrap().len(), 1);
    assert!(upstream.received_requests().await.unwrap().is_empty());
}

#[test]
fn jwks_mode_refuses_to_start_without_relay_url() {
    let out = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0"])
        .env("AUTH_TYPE", "jwks")
        .env_remove("RELAY_URL")
        .env("SECRET_KEY", SECRET)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("RELAY_URL is not set"));
}

fn healthcheck(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(BIN)
        .arg("healthcheck")
        .args(args)
        .env_remove("RELAY_LISTEN")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn healthcheck_succeeds_only_while_the_relay_answers() {
    // /watchdog needs no upstream: nothing listens on the discard port.
    let mut server = Server::start("http://127.0.0.1:9/");
    let address = server.url.trim_start_matches("http://").to_owned();
    let port = address.rsplit(':').next().unwrap();
    let wildcard = format!("0.0.0.0:{port}");
    for out in [
        healthcheck(&["--listen", &address], &[]),
        healthcheck(&[], &[("RELAY_LISTEN", &address)]),
        // What the image sets: the relay listens on every address, the check asks loopback.
        healthcheck(&[], &[("RELAY_LISTEN", &wildcard)]),
    ] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.is_empty(), "{stderr}");
    }
    assert!(server.terminate().success());

    let out = healthcheck(&["--listen", &address, "--timeout", "1"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "relay-server healthcheck: cannot connect to http://{address}/watchdog"
        )),
        "{stderr}"
    );
}
