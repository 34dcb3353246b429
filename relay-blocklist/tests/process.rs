//! The `blocklist-relay` command as an operator runs it: `serve` with JSON logs and the
//! metrics listener, `healthcheck` against it, a token from `jwt --field` that it accepts, and
//! `module-type`. Everything on 127.0.0.1, ephemeral ports.

// Helpers outside #[test] functions fail their test by panicking, as tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use testkit::http::{get_json, get_text};
use testkit::process::{Relay, assert_success};

const BIN: &str = env!("CARGO_BIN_EXE_blocklist-relay");
const SECRET: &str = "a-blocklist-process-test-secret-0123456789abcdef0123456789abcdef";

fn sample(name: &str) -> String {
    format!("{}/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The command with the relay's secret in its environment (never on its command line).
fn command() -> Command {
    let mut command = Command::new(BIN);
    command.env("SECRET_KEY", SECRET).env_remove("RUST_LOG");
    command
}

fn run(args: &[&str]) -> Output {
    command().args(args).stdin(Stdio::null()).output().unwrap()
}

/// The relay on the two sample lists, with JSON logs and metrics.
fn serve() -> Relay {
    let (firehol, drop) = (
        sample("firehol_sample.netset"),
        sample("spamhaus_drop_sample.txt"),
    );
    let args = ["--list", &firehol, "--list", &drop];
    Relay::serve(command(), "blocklist-relay", &args)
}

/// A token for `fields`, signed with the relay's secret by its `jwt` command.
fn jwt(fields: &[&str]) -> String {
    testkit::process::jwt(command(), SECRET, fields)
}

#[tokio::test]
async fn serves_with_json_logs_metrics_a_healthcheck_and_its_own_tokens() {
    let relay = serve();
    let client = reqwest::Client::new();

    // A token `jwt` made for this relay (it reads no credential field; the entity limit is
    // the one claim every relay reads) is accepted.
    let token = jwt(&["CTR_ENTITIES_LIMIT=1"]);
    let answer: Value = client
        .post(format!("{}/observe/observables", relay.url))
        .bearer_auth(&token)
        .header("X-Request-Id", "blocklist-process-1")
        .json(&json!([{"type": "ip", "value": "192.0.2.1"}]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["data"]["verdicts"]["docs"][0]["disposition"], 2,
        "{answer}"
    );
    assert_eq!(answer["data"]["sightings"]["count"], 1, "{answer}");
    let version: Value = get_json(&format!("{}/version", relay.url)).await;
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));

    // `healthcheck` asks the relay where it listens.
    let health = run(&["healthcheck", "--listen", &relay.address]);
    assert_success(&health);

    // Metrics: the request counter of the observe call, and the relay's own build info.
    let metrics = get_text(&relay.metrics).await;
    assert!(
        metrics.contains(r#"relay_requests_total{route="/observe/observables",status="2xx"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            r#"relay_build_info{{version="{}"}} 1"#,
            env!("CARGO_PKG_VERSION")
        )),
        "{metrics}"
    );

    // Every log line is JSON; the request's line carries its id.
    let mut request_line = None;
    for _ in 0..100 {
        request_line = relay
            .log()
            .into_iter()
            .find(|l| l.contains("blocklist-process-1"));
        if request_line.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let line: Value = serde_json::from_str(&request_line.expect("a request log line")).unwrap();
    assert_eq!(line["span"]["request_id"], "blocklist-process-1", "{line}");
    assert_eq!(line["status"], 200, "{line}");
    for line in relay.log() {
        assert!(serde_json::from_str::<Value>(&line).is_ok(), "{line}");
        assert!(!line.contains(SECRET), "{line}");
    }
}

#[test]
fn jwt_refuses_a_field_the_relay_does_not_read() {
    let out = run(&["jwt", "--field", "key=abc", "--quiet"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(r#"no field "key""#), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn module_type_is_json_with_the_relays_capabilities_in_both_modes() {
    let out = run(&["module-type", "--relay-url", "https://relay.example.com"]);
    assert_success(&out);
    let module: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(module["title"], "Local blocklists");
    assert_eq!(module["properties"]["configuration-token-alg"], "HS256");
    assert_eq!(
        module["properties"]["configuration-token-key"],
        "<SECRET_KEY>"
    );
    assert_eq!(
        module["configuration_spec"],
        json!([{"key": "custom_CTR_ENTITIES_LIMIT", "type": "integer", "label": "Entities Limit",
                "tooltip": "The most judgements and sightings per observable (default: the relay's CTR_ENTITIES_LIMIT, 100 unless set).",
                "required": false}])
    );
    let ids: Vec<&str> = testkit::json::field(&module["capabilities"], "id");
    assert_eq!(ids, ["health", "deliberate", "observe", "respond", "tiles"]);
    assert_eq!(
        module["properties"]["supported-apis"],
        json!([
            "health",
            "deliberate/observables",
            "observe/observables",
            "respond/observables",
            "respond/trigger",
            "tiles",
            "tiles/tile",
            "tiles/tile-data"
        ])
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(SECRET));

    let out = run(&[
        "module-type",
        "--relay-url",
        "https://relay.example.com",
        "--auth-type",
        "jwks",
        "--jwks-host",
        "visibility.eu.amp.cisco.com",
    ]);
    assert_success(&out);
    let module: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(module["properties"]["configuration-token-alg"], "RS256");
    assert_eq!(
        module["properties"]["custom_jwks_host"],
        "visibility.eu.amp.cisco.com"
    );

    let out = command()
        .args(["module-type"])
        .env_remove("RELAY_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--relay-url"));
}

#[test]
fn serve_without_lists_stops_naming_the_setting() {
    let out = command()
        .args(["--listen", "127.0.0.1:0", "--log-format", "text"])
        .env_remove("BLOCKLIST_FILES")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("BLOCKLIST_FILES is not set"), "{stderr}");
}

#[test]
fn help_lists_the_relays_and_the_providers_settings() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--list <FILE>",
        "[env: BLOCKLIST_FILES]",
        "--writable-list <FILE>",
        "[env: BLOCKLIST_WRITABLE_LIST]",
        "[env: SECRET_KEY]",
        "--secret-key-file <FILE>",
        "[env: RELAY_LISTEN]",
    ] {
        assert!(help.contains(needle), "{needle}: {help}");
    }
    assert!(!help.contains("SIGNALS_API_URL"), "{help}");
    assert!(!help.contains(SECRET), "{help}");
}
