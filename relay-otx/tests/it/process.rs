//! The `otx-relay` command as an operator runs it: `serve` against the stand-in with JSON logs
//! and metrics, a token from `jwt --field key=…` that it accepts, `healthcheck`,
//! `module-type` in both modes, `--help`, and a bad setting. Everything on 127.0.0.1.

use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use testkit::http::get_text;
use testkit::process::{Relay, assert_success};

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_otx-relay");

/// The command with the relay's secret in its environment (never on its command line), and
/// no OTX setting inherited from the machine.
fn command() -> Command {
    let mut command = Command::new(BIN);
    command.env("SECRET_KEY", SECRET).env_remove("RUST_LOG");
    for var in xdr_relay_otx::SETTINGS {
        command.env_remove(var.name);
    }
    command
}

fn run(args: &[&str]) -> Output {
    command().args(args).stdin(Stdio::null()).output().unwrap()
}

/// A token for `fields`, signed with the relay's secret by its `jwt` command.
fn jwt(fields: &[&str]) -> String {
    testkit::process::jwt(command(), SECRET, fields)
}

// The stand-in serves on the runtime's workers while this thread waits for the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_against_otx_with_its_own_tokens() {
    let standin = StandIn::start().await;
    standin.pulse(Pulse::new("p1").with("domain", "served.example", "2020-01-01T00:00:00"));
    standin.pulse(Pulse::new("p2").with("domain", "served.example", "2020-01-02T00:00:00"));
    let mut binary = command();
    binary.env("OTX_WEB_URL", standin.web_url());
    let api = standin.api_url();
    let served = Relay::serve(
        binary,
        "otx-relay",
        &["--otx-api-url", &api, "--otx-timeout", "5"],
    );
    let client = reqwest::Client::new();
    let key_field = format!("key={API_KEY}");
    let token = jwt(&[&key_field, "CTR_ENTITIES_LIMIT=1"]);
    let post = |route: &str, body: Value| {
        client
            .post(format!("{}{route}", served.url))
            .bearer_auth(&token)
            .header("X-Request-Id", "otx-process-1")
            .json(&body)
            .send()
    };
    let body = json!([{"type": "domain", "value": "served.example"}, {"type": "ip", "value": "192.0.2.1"}]);
    let answer: Value = post("/observe/observables", body.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(answer["data"]["sightings"]["count"], 1);
    assert_eq!(
        answer["data"]["sightings"]["docs"][0]["external_ids"][0],
        "p2"
    );
    assert_eq!(standin.calls()[0].key.as_deref(), Some(API_KEY));
    let health: Value = post("/health", json!({}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({"data": {"status": "ok"}}));
    let refer: Value = post("/refer/observables", body)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        refer["data"][0]["url"],
        format!("{}indicator/domain/served.example", standin.web_url())
    );
    assert_success(&run(&["healthcheck", "--listen", &served.address]));

    let metrics = get_text(&served.metrics).await;
    for expected in [
        "# HELP otx_lookup_cache_misses_total",
        r#"otx_lookup_cache_misses_total{upstream="otx"} 4"#,
        r#"relay_upstream_requests_total{upstream="otx",outcome="ok"} 5"#,
    ] {
        assert!(metrics.contains(expected), "{expected}: {metrics}");
    }
    for line in served.log() {
        assert!(serde_json::from_str::<Value>(&line).is_ok(), "{line}");
        assert!(!line.contains(API_KEY) && !line.contains(SECRET), "{line}");
    }
}

#[test]
fn module_type_is_ciscos_shape_in_both_modes() {
    let out = run(&[
        "module-type",
        "--relay-url",
        "https://otx-relay.example.com",
    ]);
    assert_success(&out);
    let module: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(module["title"], "AlienVault OTX");
    let spec: Vec<&str> = testkit::json::field(&module["configuration_spec"], "key");
    assert_eq!(spec, ["custom_key", "custom_CTR_ENTITIES_LIMIT"]);
    let capabilities: Vec<&str> = testkit::json::field(&module["capabilities"], "id");
    assert_eq!(capabilities, ["health", "observe", "refer"]);
    assert_eq!(
        module["capabilities"][2]["description"],
        "Pivot on IP, IPv6, Domain, URL, Email, MD5, SHA1, and SHA256 to AlienVault OTX UI"
    );
    assert_eq!(
        module["properties"]["supported-apis"],
        json!(["health", "observe/observables", "refer/observables"])
    );
    assert_eq!(module["properties"]["configuration-token-alg"], "HS256");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(SECRET));

    let out = run(&[
        "module-type",
        "--relay-url",
        "https://otx-relay.example.com",
        "--auth-type",
        "jwks",
        "--jwks-host",
        "visibility.eu.amp.cisco.com",
    ]);
    let module: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(module["properties"]["configuration-token-alg"], "RS256");
    assert_eq!(
        module["properties"]["custom_jwks_host"],
        "visibility.eu.amp.cisco.com"
    );
    let spec: Vec<&str> = testkit::json::field(&module["configuration_spec"], "key");
    assert_eq!(spec, ["custom_key", "custom_CTR_ENTITIES_LIMIT"]);
}

#[test]
fn help_lists_the_settings_and_a_bad_one_stops_the_relay_naming_it() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for var in xdr_relay_otx::SETTINGS {
        assert!(
            help.contains(&format!("[env: {}]", var.name)),
            "{}: {help}",
            var.name
        );
        assert!(
            help.contains(&format!("--{}", var.flag)),
            "{}: {help}",
            var.flag
        );
    }
    for (var, value) in [
        ("OTX_API_URL", "otx.alienvault.com"),
        ("OTX_CACHE_TTL", "an hour"),
        ("OTX_MAX_PAGES", "0"),
    ] {
        let out = command()
            .args(["--listen", "127.0.0.1:0", "--log-format", "text"])
            .env(var, value)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(var), "{var}: {stderr}");
    }
}
