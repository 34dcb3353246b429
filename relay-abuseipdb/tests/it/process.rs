//! The `abuseipdb-relay` command as an operator runs it: `serve` against the stand-in with JSON
//! logs and metrics, a token from `jwt --field key=…` that it accepts, `healthcheck`,
//! `module-type` in both modes, `--help`, and a bad setting. Everything on 127.0.0.1.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use testkit::http::{get_json, get_text};
use testkit::process::{Relay, assert_success};

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_abuseipdb-relay");

/// The command with the relay's secret in its environment (never on its command line), and
/// no AbuseIPDB setting inherited from the machine.
fn command() -> Command {
    let mut command = Command::new(BIN);
    command.env("SECRET_KEY", SECRET).env_remove("RUST_LOG");
    for var in xdr_relay_abuseipdb::SETTINGS {
        command.env_remove(var.name);
    }
    command
}

fn run(args: &[&str]) -> Output {
    command().args(args).stdin(Stdio::null()).output().unwrap()
}

/// The relay against `standin`, with JSON logs and metrics.
fn serve(standin: &StandIn) -> Relay {
    let mut binary = command();
    binary.env("ABUSEIPDB_WEB_URL", standin.web_url());
    let api = standin.api_url();
    let args = ["--abuseipdb-api-url", &api, "--abuseipdb-timeout", "5"];
    Relay::serve(binary, "abuseipdb-relay", &args)
}

/// A token for `fields`, signed with the relay's secret by its `jwt` command.
fn jwt(fields: &[&str]) -> String {
    testkit::process::jwt(command(), SECRET, fields)
}

// The stand-in serves on the runtime's workers while this thread waits for the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_against_abuseipdb_with_its_own_tokens() {
    let standin = StandIn::start().await;
    standin.data(
        "192.0.2.1",
        data(
            100,
            Some("example.net"),
            vec![report(
                "2024-04-04T04:04:04+00:00",
                json!("ssh"),
                json!([18, 22]),
            )],
        ),
    );
    let served = serve(&standin);
    let client = reqwest::Client::new();
    let key_field = format!("key={API_KEY}");
    let token = jwt(&[&key_field, "CTR_ENTITIES_LIMIT=1"]);

    let post = |route: &str, body: Value| {
        client
            .post(format!("{}{route}", served.url))
            .bearer_auth(&token)
            .header("X-Request-Id", "abuseipdb-process-1")
            .json(&body)
            .send()
    };
    let body =
        json!([{"type": "ip", "value": "192.0.2.1"}, {"type": "domain", "value": "x.example"}]);
    let answer: Value = post("/observe/observables", body.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(
        answer["data"]["verdicts"]["docs"][0]["disposition_name"],
        "Malicious"
    );
    assert_eq!(answer["data"]["sightings"]["count"], 1);
    assert_eq!(answer["data"]["indicators"]["count"], 2);
    assert_eq!(standin.checks()[0].key.as_deref(), Some(API_KEY));

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
        format!("{}check/192.0.2.1", standin.web_url())
    );
    let version: Value = get_json(&format!("{}/version", served.url)).await;
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));

    let health = run(&["healthcheck", "--listen", &served.address]);
    assert_success(&health);

    // The lookup cache's metrics, described and counted, beside relay-core's.
    let metrics = get_text(&served.metrics).await;
    for expected in [
        "# HELP abuseipdb_lookup_cache_misses_total",
        r#"abuseipdb_lookup_cache_misses_total{upstream="abuseipdb"} 1"#,
        r#"abuseipdb_categories_reads_total{outcome="page"} 1"#,
        r#"relay_upstream_requests_total{upstream="abuseipdb",outcome="ok"} 2"#,
    ] {
        assert!(metrics.contains(expected), "{expected}: {metrics}");
    }

    // Every line JSON, the request's line with its id, no line with the key or the secret.
    let mut request_line = None;
    for _ in 0..100 {
        request_line = served
            .log()
            .into_iter()
            .find(|l| l.contains("abuseipdb-process-1") && l.contains("relay::request"));
        if request_line.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let line: Value = serde_json::from_str(&request_line.expect("a request log line")).unwrap();
    assert_eq!(line["span"]["request_id"], "abuseipdb-process-1", "{line}");
    for line in served.log() {
        assert!(serde_json::from_str::<Value>(&line).is_ok(), "{line}");
        assert!(!line.contains(API_KEY) && !line.contains(SECRET), "{line}");
    }
}

#[test]
fn jwt_signs_the_key_and_refuses_other_fields() {
    let token = jwt(&["key=abc123"]);
    assert_eq!(token.split('.').count(), 3);
    let out = run(&["jwt", "--quiet", "--field", "api_key=abc"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(r#"no field "api_key""#));
}

#[test]
fn module_type_is_ciscos_shape_with_refer_in_both_modes() {
    let out = run(&[
        "module-type",
        "--relay-url",
        "https://abuseipdb-relay.example.com",
    ]);
    assert_success(&out);
    let module: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(module["title"], "AbuseIPDB");
    let spec: Vec<&str> = testkit::json::field(&module["configuration_spec"], "key");
    assert_eq!(spec, ["custom_key", "custom_CTR_ENTITIES_LIMIT"]);
    let capabilities: Vec<&str> = testkit::json::field(&module["capabilities"], "id");
    assert_eq!(capabilities, ["health", "deliberate", "observe", "refer"]);
    assert_eq!(module["properties"]["configuration-token-alg"], "HS256");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(SECRET));

    let out = run(&[
        "module-type",
        "--relay-url",
        "https://abuseipdb-relay.example.com",
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
    assert_eq!(
        module["properties"]["supported-apis"],
        json!([
            "health",
            "deliberate/observables",
            "observe/observables",
            "refer/observables"
        ])
    );
}

#[test]
fn help_lists_the_settings_and_a_bad_one_stops_the_relay_naming_it() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for var in xdr_relay_abuseipdb::SETTINGS {
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
    assert!(!help.contains("SIGNALS_API_URL"), "{help}");

    for (var, value) in [
        ("ABUSEIPDB_API_URL", "api.abuseipdb.com"),
        ("ABUSEIPDB_CACHE_TTL", "an hour"),
        ("ABUSEIPDB_TIMEOUT", "0"),
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

/// Most resident memory the relay may reach while it answers [`memory_is_bounded_by_what_is_kept`]'s
/// request (MiB): the process at rest (about 10), the answers in flight, the kept reports and
/// the CTIM answer. Reading each answer into a JSON tree and keeping all 10,000 reports of
/// every address took several times this.
const PEAK_RSS_MIB: u64 = 160;

// 64 addresses with 10,000 reports each (about 3 MiB of JSON an answer) under a lookup cache
// of 1 MiB: the relay keeps the newest reports it may map, not every report, and its memory
// stays within a bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_is_bounded_by_what_is_kept() {
    let standin = StandIn::start().await;
    let reports: Vec<Value> = (0..10_000)
        .map(|n| {
            report(
                &format!(
                    "2024-01-{:02}T{:02}:{:02}:00+00:00",
                    1 + n % 28,
                    n / 60 % 24,
                    n % 60
                ),
                json!(format!("report {n}: {}", "x".repeat(160))),
                json!([18, 22]),
            )
        })
        .collect();
    let addresses: Vec<String> = (0..64).map(|n| format!("203.0.113.{n}")).collect();
    for address in &addresses {
        let mut answer = data(100, Some("example.net"), reports.clone());
        answer["ipAddress"] = json!(address);
        standin.set(
            address,
            Scenario::Raw {
                status: 200,
                content_type: "application/json",
                body: json!({ "data": answer }).to_string(),
            },
        );
    }
    drop(reports);
    let mut binary = command();
    binary
        .env("ABUSEIPDB_WEB_URL", standin.web_url())
        .env("ABUSEIPDB_CACHE_MIB", "1");
    let api = standin.api_url();
    let served = Relay::serve(
        binary,
        "abuseipdb-relay",
        &["--abuseipdb-api-url", &api, "--abuseipdb-timeout", "30"],
    );
    let sampler = testkit::rss::Sampler::start(served.process.pid());
    let refs: Vec<&str> = addresses.iter().map(String::as_str).collect();
    let token = token();
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/observe/observables", served.url))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(ips(&refs))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let peak_kib = sampler.stop();
    assert!(answer.get("errors").is_none(), "{}", answer["errors"]);
    assert_eq!(answer["data"]["verdicts"]["count"], 64);
    assert_eq!(answer["data"]["sightings"]["count"], 64 * 100);
    eprintln!("peak RSS: {:.1} MiB", testkit::rss::mib(peak_kib));
    assert!(
        peak_kib <= PEAK_RSS_MIB * 1024,
        "peak RSS {:.1} MiB > {PEAK_RSS_MIB} MiB",
        testkit::rss::mib(peak_kib)
    );
}
