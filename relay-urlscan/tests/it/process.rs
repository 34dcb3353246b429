//! The `urlscan-relay` command as an operator runs it: `serve` against the stand-in with JSON
//! logs and metrics, a token from `jwt --field key=…`, observe, refer, respond, `healthcheck`,
//! `module-type` (with `respond`), `--help`, and a bad setting. Everything on 127.0.0.1.

use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use testkit::http::get_text;
use testkit::process::{Relay as Served, assert_success};

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_urlscan-relay");

/// The command with the relay's secret in its environment, and no urlscan.io setting
/// inherited from the machine.
fn command() -> Command {
    let mut command = Command::new(BIN);
    command.env("SECRET_KEY", SECRET).env_remove("RUST_LOG");
    for var in xdr_relay_urlscan::SETTINGS {
        command.env_remove(var.name);
    }
    command
}

fn run(args: &[&str]) -> Output {
    command().args(args).stdin(Stdio::null()).output().unwrap()
}

// The stand-in serves on the runtime's workers while this thread waits for the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_against_urlscan_with_its_own_tokens() {
    let standin = StandIn::start().await;
    let url = "https://evil.example/login.php";
    standin.search(
        &url_query(url),
        vec![hit(
            "p1",
            "2024-04-04T04:04:04.000Z",
            page("evil.example", url, "192.0.2.66"),
        )],
    );
    let body = standin.result_body(
        "p1",
        "2024-04-04T04:04:04.000Z",
        url,
        true,
        &["phishing"],
        &["phishing"],
    );
    standin.result("p1", &body);
    let mut binary = command();
    binary.env("URLSCAN_WEB_URL", standin.web_url());
    let api = standin.api_url();
    let served = Served::serve(
        binary,
        "urlscan-relay",
        &["--urlscan-api-url", &api, "--urlscan-timeout", "5"],
    );
    let key = format!("key={API_KEY}");
    let token = testkit::process::jwt(command(), SECRET, &[&key]);
    let client = reqwest::Client::new();
    let post = |route: &str, body: Value| {
        client
            .post(format!("{}{route}", served.url))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let observed = json!([{"type": "url", "value": url}]);
    let answer: Value = post("/observe/observables", observed.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(answer["data"]["judgements"]["count"], 1);
    let actions: Value = post("/respond/observables", observed)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(actions["data"][0]["title"], "Make Scan in urlscan.io");
    let trigger = json!({"action-id": actions["data"][0]["id"], "observable_type": "url", "observable_value": url});
    let triggered: Value = post("/respond/trigger", trigger)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(triggered, json!({"data": {"status": "success"}}));
    assert_eq!(standin.submissions()[0].1["visibility"], "public");
    let health: Value = post("/health", json!({}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({"data": {"status": "ok"}}));
    assert_success(&run(&["healthcheck", "--listen", &served.address]));
    let metrics = get_text(&served.metrics).await;
    for expected in [
        "# HELP urlscan_search_cache_misses_total",
        r#"urlscan_search_cache_misses_total{upstream="urlscan"} 1"#,
        r#"urlscan_result_cache_misses_total{upstream="urlscan"} 1"#,
        r#"urlscan_scans_submitted_total{outcome="submitted"} 1"#,
    ] {
        assert!(metrics.contains(expected), "{expected}: {metrics}");
    }
    for line in served.log() {
        assert!(serde_json::from_str::<Value>(&line).is_ok(), "{line}");
        assert!(!line.contains(API_KEY) && !line.contains(SECRET), "{line}");
    }
}

#[test]
fn module_type_is_ciscos_shape_with_refer_and_respond() {
    let out = run(&[
        "module-type",
        "--relay-url",
        "https://urlscan-relay.example.com",
    ]);
    assert_success(&out);
    let module: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(module["title"], "urlscan.io");
    let spec: Vec<&str> = testkit::json::field(&module["configuration_spec"], "key");
    assert_eq!(spec, ["custom_key", "custom_CTR_ENTITIES_LIMIT"]);
    // Cisco's four capabilities and APIs: no deliberate (the relay gives no verdicts).
    let capabilities: Vec<&str> = testkit::json::field(&module["capabilities"], "id");
    assert_eq!(capabilities, ["health", "observe", "refer", "respond"]);
    assert_eq!(
        module["properties"]["supported-apis"],
        json!([
            "health",
            "observe/observables",
            "refer/observables",
            "respond/observables",
            "respond/trigger"
        ])
    );
    let respond = &module["capabilities"][3]["description"];
    assert_eq!(respond, "Submit URL to urlscan.io to be scanned.");
    assert_eq!(module["properties"]["configuration-token-alg"], "HS256");

    // Cisco XDR's configuration tokens, as Cisco's module type has them.
    let out = run(&[
        "module-type",
        "--relay-url",
        "https://urlscan-relay.example.com",
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
    assert!(!String::from_utf8_lossy(&out.stdout).contains(SECRET));
}

#[test]
fn help_lists_the_settings_and_a_bad_one_stops_the_relay_naming_it() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for var in xdr_relay_urlscan::SETTINGS {
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
        ("URLSCAN_API_URL", "urlscan.io"),
        ("URLSCAN_VISIBILITY", "on"),
        ("URLSCAN_TIMEOUT", "0"),
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
