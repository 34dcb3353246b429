//! End to end: the real `relay-server` binary, on an ephemeral port, against a local stub of
//! Auth0 Signals, with a token made by `relay-server jwt`.

// Helpers outside #[test] functions fail their test by panicking, as tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use testkit::process::Served;
use testkit::process::assert_success;
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BIN: &str = env!("CARGO_BIN_EXE_relay-server");
const SECRET: &str = "an-integration-test-secret-that-is-long-enough-0123456789abcdef";
const API_KEY: &str = "11111111-2222-4333-8444-555555555555";

fn fixture(name: &str) -> Value {
    testkit::testdata::json(&format!("auth0-signals/{name}"))
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

/// A running server; stopped on drop (SIGTERM, then SIGKILL) so a failing test leaves nothing
/// behind.
struct Server {
    process: Served,
    url: String,
    /// Where `--metrics-listen` serves, when given.
    metrics_url: Option<String>,
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

    /// Runs `command` (the binary, with its environment) until it says where it listens. Its
    /// stderr is a pipe, so it logs JSON: the address is read from the "listening" object (and
    /// the metrics address from the next, when metrics are on).
    fn spawn(mut command: Command) -> Server {
        let metrics = command.get_args().any(|arg| arg == "--metrics-listen");
        command
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "info");
        let mut process = Served::spawn(command);
        let url = format!("http://{}", process.address_of("relay-server listening"));
        let metrics_url = metrics.then(|| {
            format!(
                "http://{}/metrics",
                process.address_of("metrics at GET /metrics")
            )
        });
        Server {
            process,
            url,
            metrics_url,
        }
    }

    /// The lines logged so far, each parsed as JSON (a line that is not JSON fails the test).
    fn json_log(&self) -> Vec<Value> {
        self.process
            .log()
            .iter()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"))
            })
            .collect()
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        self.process.terminate()
    }
}

fn token() -> String {
    let out = jwt_cli(&["--key", API_KEY, "--secret-key", SECRET, "--quiet"]);
    assert_success(&out);
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
        .args(["--log-format", "text"])
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
    assert_success(&out);
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
    assert_success(&out);
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

/// Posts `body` to `route` with `X-Request-Id: request_id` and returns the response.
async fn post_with_id(url: &str, route: &str, request_id: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}{route}"))
        .bearer_auth(token())
        .header("X-Request-Id", request_id)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn json_logs_carry_the_request_id_on_every_line_of_the_request() {
    let upstream = upstream(Duration::ZERO).await;
    // The first report of 1.1.1.1 fails with a 503, so the client retries and warns.
    Mock::given(method("GET"))
        .and(path("/v2.0/ip/1.1.1.1"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&upstream)
        .await;
    let mut server = Server::start(&upstream.uri());
    let body = json!([{"type": "ip", "value": "1.1.1.1"}]);
    let response = post_with_id(&server.url, "/observe/observables", "ci-request-7", body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "ci-request-7");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["data"]["sightings"]["count"], 1, "{answer}");
    // An unusable id (too long) is replaced by one the relay makes.
    let long = "x".repeat(129);
    let response = post_with_id(&server.url, "/refer/observables", &long, json!([])).await;
    let made = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(made.len(), 36, "{made}");
    assert!(server.terminate().success());

    let log = server.json_log();
    for line in &log {
        for field in ["timestamp", "level", "target", "message"] {
            assert!(line.get(field).is_some(), "no {field}: {line}");
        }
        let text = line.to_string();
        for secret in [SECRET, API_KEY] {
            assert!(!text.contains(secret), "a secret in the log: {text}");
        }
    }
    let of_request = |id: &str| -> Vec<&Value> {
        log.iter()
            .filter(|line| line["span"]["request_id"] == id)
            .collect()
    };
    let lines = of_request("ci-request-7");
    let messages: Vec<&str> = lines
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        ["retrying Auth0 Signals call", "request"],
        "{lines:#?}"
    );
    assert_eq!(lines[0]["level"], "WARN");
    assert_eq!(lines[1]["target"], "relay::request");
    assert_eq!(lines[1]["status"], 200);
    assert_eq!(lines[1]["path"], "/observe/observables");
    assert_eq!(of_request(&made).len(), 1);
    // Every request line carries an id.
    let mut requests = log.iter().filter(|l| l["target"] == "relay::request");
    assert!(requests.clone().count() == 2 && requests.all(|l| l["span"]["request_id"].is_string()));
}

/// `/metrics` as a map from series (`name{labels}` as printed) to value.
fn series(text: &str) -> std::collections::BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (name, value) = line.rsplit_once(' ').unwrap();
            (name.to_owned(), value.parse().unwrap())
        })
        .collect()
}

/// The metrics listener holds nothing for a client that sends nothing: it runs the same
/// hardened loop as the relay's, with its timeouts no longer than the relay's.
#[tokio::test]
async fn a_silent_connection_to_the_metrics_listener_is_closed() {
    use tokio::io::AsyncReadExt as _;
    let upstream = upstream(Duration::ZERO).await;
    let mut command = Command::new(BIN);
    command
        .args([
            "--metrics-listen",
            "127.0.0.1:0",
            "--header-read-timeout",
            "1",
        ])
        .env("SECRET_KEY", SECRET)
        .env("SIGNALS_API_URL", upstream.uri());
    let server = Server::spawn(command);
    let metrics_url = server.metrics_url.clone().unwrap();
    let address = metrics_url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics");
    let mut silent = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut byte)).await;
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "the metrics listener kept a silent connection open: {read:?}"
    );
    let answer = reqwest::get(&metrics_url).await.unwrap();
    assert_eq!(answer.status(), 200);
}

#[tokio::test]
async fn metrics_count_known_traffic_exactly_on_their_own_listener() {
    let upstream = upstream(Duration::ZERO).await;
    // Signals knows nothing of any other address.
    Mock::given(method("GET"))
        .and(path_regex("^/v2.0/ip/.+"))
        .respond_with(ResponseTemplate::new(404).set_body_string("{}"))
        .with_priority(10)
        .mount(&upstream)
        .await;
    let mut command = Command::new(BIN);
    command
        .args(["--metrics-listen", "127.0.0.1:0"])
        .env("SECRET_KEY", SECRET)
        .env("SIGNALS_API_URL", upstream.uri());
    let server = Server::spawn(command);
    let metrics_url = server.metrics_url.clone().unwrap();
    assert_ne!(metrics_url, format!("{}/metrics", server.url));
    let client = reqwest::Client::new();
    // The relay's own port has no /metrics.
    let public = client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404);

    let token = token();
    let one = json!([{"type": "ip", "value": "1.1.1.1"}]);
    for _ in 0..2 {
        let answer = post(
            &format!("{}/observe/observables", server.url),
            &token,
            one.clone(),
        )
        .await;
        assert_eq!(answer["data"]["sightings"]["count"], 1, "{answer}");
    }
    let three = json!([
        {"type": "ip", "value": "1.1.1.1"},
        {"type": "ip", "value": "192.0.2.1"},
        {"type": "domain", "value": "example.com"},
    ]);
    post(
        &format!("{}/deliberate/observables", server.url),
        &token,
        three,
    )
    .await;
    let watchdog = client
        .get(format!("{}/watchdog/", server.url))
        .header("Health-Check", "m")
        .send()
        .await
        .unwrap();
    assert_eq!(watchdog.status(), 200);

    let text = client.get(&metrics_url).send().await.unwrap();
    assert_eq!(
        text.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = text.text().await.unwrap();
    let found = series(&text);
    let expected = [
        // Two observes and the /metrics 404 on the public port.
        (
            r#"relay_requests_total{route="/observe/observables",status="2xx"}"#,
            2.0,
        ),
        (
            r#"relay_requests_total{route="/deliberate/observables",status="2xx"}"#,
            1.0,
        ),
        (
            r#"relay_requests_total{route="/watchdog",status="2xx"}"#,
            1.0,
        ),
        (
            r#"relay_requests_total{route="unmatched",status="4xx"}"#,
            1.0,
        ),
        (
            r#"relay_request_duration_seconds_count{route="/observe/observables"}"#,
            2.0,
        ),
        (
            r#"relay_observables_per_request_count{route="/deliberate/observables"}"#,
            1.0,
        ),
        (
            r#"relay_observables_per_request_sum{route="/deliberate/observables"}"#,
            3.0,
        ),
        (
            r#"relay_observables_per_request_sum{route="/observe/observables"}"#,
            2.0,
        ),
        // 1.1.1.1 three times; 192.0.2.1 once, unknown; the domain is never asked.
        (
            r#"signals_client_requests_total{endpoint="/v2.0/ip/{ip}",outcome="ok"}"#,
            3.0,
        ),
        (
            r#"signals_client_requests_total{endpoint="/v2.0/ip/{ip}",outcome="not_found"}"#,
            1.0,
        ),
        // FAIL2BAN-SSH fetched once, then answered from the cache.
        (
            r#"signals_client_requests_total{endpoint="/metadata/{kind}/lists/{id}",outcome="ok"}"#,
            1.0,
        ),
        // Every call to Signals through the provider's Upstream: four reports, one list.
        (
            r#"relay_upstream_requests_total{upstream="auth0-signals",outcome="ok"}"#,
            5.0,
        ),
        (r#"relay_upstream_in_flight{upstream="auth0-signals"}"#, 0.0),
        ("relay_metadata_cache_misses_total", 1.0),
        ("relay_metadata_cache_hits_total", 1.0),
        ("relay_requests_in_flight", 0.0),
        (
            &format!(
                r#"relay_build_info{{version="{}"}}"#,
                env!("CARGO_PKG_VERSION")
            ),
            1.0,
        ),
    ];
    for (name, value) in expected {
        assert_eq!(found.get(name), Some(&value), "{name} in:\n{text}");
    }
    // The client keeps its connections to the relay alive: at least one is open.
    let open = found
        .get("relay_connections_open")
        .copied()
        .unwrap_or_default();
    assert!(open >= 1.0, "relay_connections_open in:\n{text}");
    assert!(
        !found
            .keys()
            .any(|k| k.starts_with("signals_client_retries_total")),
        "{text}"
    );
    assert!(!text.contains(SECRET) && !text.contains(API_KEY));
    assert_prometheus_parses(&text);
}

/// Parses `text` with the Prometheus project's own Python parser (`prometheus_client`), so the
/// format is proven rather than assumed: every family has a known type and every sample a
/// float. `cargo xtask ci` puts a `python3` with it first on PATH; elsewhere the test fails
/// saying how to get it.
fn assert_prometheus_parses(text: &str) {
    const PARSE: &str = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
families = list(text_string_to_metric_families(sys.stdin.read()))
for family in families:
    assert family.type in ("counter", "gauge", "histogram"), (family.name, family.type)
    for sample in family.samples:
        float(sample.value)
print(len(families), sum(len(f.samples) for f in families))
"#;
    let mut python = Command::new("python3")
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}); `cargo xtask ci` provides it"));
    use std::io::Write as _;
    python
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = python.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client refused /metrics (or is not installed: `cargo xtask ci` installs \
         it, or `pip install prometheus-client`):\n{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let counts = String::from_utf8_lossy(&out.stdout);
    let families: usize = counts.split_whitespace().next().unwrap().parse().unwrap();
    // Those of the traffic above: every relay family but the JWKS one, the circuit's (at 0:
    // an upstream's series are exported from the start), the client's requests (no retries),
    // the provider's upstream calls and those in flight, and the server's open connections.
    assert_eq!(families, 12, "{counts}");
}

/// A client that writes a whole oversized request before reading (Python's urllib, requests)
/// gets the relay's "invalid argument" answer every time, on keep-alive and `Connection:
/// close` alike: the server drains the rest of the body before it closes (lingering close)
/// rather than resetting the connection under the answer.
#[tokio::test]
async fn an_oversized_body_gets_its_answer_when_written_before_reading() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let upstream = upstream(Duration::ZERO).await;
    let server = Server::start(&upstream.uri());
    let address = server.url.trim_start_matches("http://").to_owned();
    let body = vec![b' '; 5 << 20];
    for close in [false, true] {
        for attempt in 0..20 {
            let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
            let connection = if close { "Connection: close\r\n" } else { "" };
            let head = format!(
                "POST /observe/observables HTTP/1.1\r\nHost: relay\r\nContent-Type: \
                 application/json\r\nContent-Length: {}\r\n{connection}\r\n",
                body.len()
            );
            let written = async {
                stream.write_all(head.as_bytes()).await?;
                stream.write_all(&body).await
            };
            tokio::time::timeout(Duration::from_secs(30), written)
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("try {attempt} (close {close}): write failed: {e}"));
            let mut answer = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let read = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk));
                match read.await.unwrap() {
                    Ok(0) => break,
                    Ok(n) => answer.extend_from_slice(&chunk[..n]),
                    Err(e) => panic!("try {attempt} (close {close}): read failed: {e}"),
                }
                if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                    break;
                }
            }
            let text = String::from_utf8_lossy(&answer);
            assert!(text.starts_with("HTTP/1.1 200"), "try {attempt}: {text}");
            assert!(
                text.contains(r#""code":"invalid argument""#),
                "try {attempt}: {text}"
            );
            assert!(
                text.contains("Request body too large"),
                "try {attempt}: {text}"
            );
        }
    }
}

/// The connection timeouts are settings: a client that connects and says nothing is closed
/// after `--header-read-timeout`, one that stops after a request after `--idle-timeout`, while
/// a request in flight (here, an upstream slower than both) is answered.
#[tokio::test]
async fn silent_and_idle_clients_are_closed_and_a_slow_request_is_not() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let upstream = upstream(Duration::from_millis(2500)).await;
    let mut command = Command::new(BIN);
    command
        .args(["--header-read-timeout", "1", "--idle-timeout", "1"])
        .env("SECRET_KEY", SECRET)
        .env("SIGNALS_API_URL", upstream.uri());
    let server = Server::spawn(command);
    let address = server.url.trim_start_matches("http://").to_owned();
    let closed_within = |mut stream: tokio::net::TcpStream| async move {
        let started = std::time::Instant::now();
        let mut rest = Vec::new();
        // A bound on a hang, not a measure of speed.
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest))
            .await
            .expect("the connection was never closed")
            .ok();
        started.elapsed()
    };
    let silent = tokio::net::TcpStream::connect(&address).await.unwrap();
    let mut idle = tokio::net::TcpStream::connect(&address).await.unwrap();
    idle.write_all(b"GET /version HTTP/1.1\r\nHost: relay\r\n\r\n")
        .await
        .unwrap();
    let (url, token) = (format!("{}/deliberate/observables", server.url), token());
    let slow = post(&url, &token, json!([{"type": "ip", "value": "1.1.1.1"}]));
    let (silent, idle, slow) = tokio::join!(closed_within(silent), closed_within(idle), slow);
    assert!(silent >= Duration::from_millis(900), "{silent:?}");
    assert!(idle >= Duration::from_millis(900), "{idle:?}");
    assert_eq!(slow["data"]["verdicts"]["count"], 1, "{slow}");
}

/// A secret on the command line still works but is warned about; the file forms and the
/// prompt keep it off the command line, and without a terminal the prompt is an error, not a
/// hang.
#[tokio::test]
async fn secrets_come_from_files_and_a_secret_flag_is_warned_about() {
    let out = jwt_cli(&["--key", API_KEY, "--secret-key", SECRET, "--quiet"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: --secret-key puts a secret on the command line"),
        "{stderr}"
    );
    assert!(!stderr.contains(SECRET), "{stderr}");

    let out = jwt_cli(&["--key", API_KEY, "--secret-key", "--quiet"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("use --secret-key-file FILE"), "{stderr}");

    // The server reads its SECRET_KEY from a file, named by a flag or by SECRET_KEY_FILE.
    let dir = std::env::temp_dir().join(format!("relay-server-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("secret");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let upstream = upstream(Duration::ZERO).await;
    for by_flag in [true, false] {
        let mut command = Command::new(BIN);
        command
            .env_remove("SECRET_KEY")
            .env("SIGNALS_API_URL", upstream.uri());
        if by_flag {
            command.arg("--secret-key-file").arg(&file);
        } else {
            command.env("SECRET_KEY_FILE", &file);
        }
        let server = Server::spawn(command);
        let url = format!("{}/deliberate/observables", server.url);
        let answer = post(&url, &token(), json!([{"type": "ip", "value": "1.1.1.1"}])).await;
        assert_eq!(
            answer["data"]["verdicts"]["count"], 1,
            "by flag {by_flag}: {answer}"
        );
        assert!(!server.process.log().iter().any(|l| l.contains(SECRET)));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
