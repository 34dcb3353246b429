//! The blocklist relay through relay-core's router, as Threat Response calls it: the sample
//! lists, observe's entities, hostile requests, reloading.

// Helpers outside #[test] functions fail their test by panicking, as tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use tower::ServiceExt as _;
use xdr_relay_core::{SecretKey, encode_token};

use std::sync::Arc;

use xdr_relay_blocklist::{BlocklistProvider, Blocklists, Loaded, reload};
use xdr_relay_core::RelayConfig;

const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A folder of its own for one test's list files, removed when dropped.
struct Lists(PathBuf);

impl Lists {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("blocklist-relay-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Lists {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The sample lists shipped with the example.
fn samples() -> Vec<PathBuf> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    vec![
        data.join("firehol_sample.netset"),
        data.join("spamhaus_drop_sample.txt"),
    ]
}

fn relay(files: Vec<PathBuf>) -> (Router, Arc<Blocklists>) {
    let lists = Arc::new(Blocklists::load(files).unwrap());
    let mut config = RelayConfig::default();
    config.secret_key = SecretKey::new(SECRET);
    let provider = Arc::new(BlocklistProvider::new(Arc::clone(&lists)));
    (xdr_relay_core::router_for(config, provider).unwrap(), lists)
}

fn token(limit: Option<usize>) -> String {
    // This relay reads no credential field: `key` is only what `encode_token` writes.
    encode_token(&SecretKey::new(SECRET).unwrap(), "unused", limit).unwrap()
}

async fn post(app: &Router, path: &str, authorization: Option<&str>, body: String) -> Value {
    let mut request = Request::post(path);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn ask(app: &Router, path: &str, ips: &[&str]) -> Value {
    let body = ips
        .iter()
        .map(|ip| json!({"type": "ip", "value": ip}))
        .collect::<Vec<_>>();
    post(
        app,
        path,
        Some(&format!("Bearer {}", token(None))),
        json!(body).to_string(),
    )
    .await
}

/// The observable values of the verdicts in `answer`.
fn verdict_values(answer: &Value) -> Vec<&str> {
    answer["data"]["verdicts"]["docs"]
        .as_array()
        .map(|docs| {
            docs.iter()
                .filter_map(|v| v["observable"]["value"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn deliberate_finds_listed_addresses_in_the_sample_lists() {
    let (app, _) = relay(samples());
    let answer = ask(
        &app,
        "/deliberate/observables",
        &[
            "192.0.2.1",    // FireHOL 192.0.2.0/25
            "192.0.2.200",  // Spamhaus 192.0.2.192/26
            "192.0.2.150",  // on neither
            "198.51.100.7", // a single address
            "198.51.100.8",
            "2001:db8:1::abcd",   // IPv6 network
            "::ffff:203.0.113.9", // IPv4-mapped IPv6
        ],
    )
    .await;
    assert_eq!(
        verdict_values(&answer),
        [
            "192.0.2.1",
            "192.0.2.200",
            "198.51.100.7",
            "2001:db8:1::abcd",
            "::ffff:203.0.113.9"
        ]
    );
    for verdict in answer["data"]["verdicts"]["docs"].as_array().unwrap() {
        assert_eq!(verdict["disposition"], 2);
        assert_eq!(verdict["disposition_name"], "Malicious");
    }
    assert!(answer.get("errors").is_none(), "{answer}");
}

#[tokio::test]
async fn observe_gives_a_sighting_an_indicator_and_their_relationship_per_list() {
    let lists = Lists::new();
    let a = lists.write("a.netset", "# list a\n192.0.2.0/24\n");
    let b = lists.write("b.txt", "; list b\n192.0.2.7/32 ; SBL1\n");
    let (app, _) = relay(vec![a, b]);
    let answer = ask(
        &app,
        "/observe/observables",
        &["192.0.2.7", "192.0.2.8", "198.51.100.1"],
    )
    .await;
    let data = &answer["data"];
    // 192.0.2.7 is on both lists, 192.0.2.8 on one: three sightings, two indicators.
    assert_eq!(verdict_values(&answer), ["192.0.2.7", "192.0.2.8"]);
    assert_eq!(data["judgements"]["count"], 3);
    assert_eq!(data["sightings"]["count"], 3);
    assert_eq!(data["relationships"]["count"], 3);
    assert_eq!(data["indicators"]["count"], 2);
    let titles: Vec<&str> = data["indicators"]["docs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["a", "b"]);
    // Each relationship links a sighting to the indicator of its list.
    let sightings = data["sightings"]["docs"].as_array().unwrap();
    let indicators = data["indicators"]["docs"].as_array().unwrap();
    for relationship in data["relationships"]["docs"].as_array().unwrap() {
        assert_eq!(relationship["relationship_type"], "member-of");
        let sighting = sightings
            .iter()
            .find(|s| s["id"] == relationship["source_ref"])
            .expect("the source is a sighting");
        let indicator = indicators
            .iter()
            .find(|i| i["id"] == relationship["target_ref"])
            .expect("the target is an indicator");
        assert_eq!(sighting["source"], indicator["title"]);
    }
    // A verdict names its first judgement.
    let judgement_ids: Vec<&Value> = data["judgements"]["docs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| &j["id"])
        .collect();
    for verdict in data["verdicts"]["docs"].as_array().unwrap() {
        assert!(
            judgement_ids.contains(&&verdict["judgement_id"]),
            "{verdict}"
        );
    }
    // Every entity is valid CTIM.
    let bundle: xdr_relay_core::ctim_model::ObserveBundle =
        serde_json::from_value(data.clone()).unwrap();
    for sighting in bundle.sightings.as_slice() {
        sighting.validate().unwrap();
    }
    for judgement in bundle.judgements.as_slice() {
        judgement.validate().unwrap();
    }
    for indicator in bundle.indicators.as_slice() {
        indicator.validate().unwrap();
    }
    for relationship in bundle.relationships.as_slice() {
        relationship.validate().unwrap();
    }
    for verdict in bundle.verdicts.as_slice() {
        verdict.validate().unwrap();
    }

    // The token's CTR_ENTITIES_LIMIT bounds the lists per address.
    let body = json!([{"type": "ip", "value": "192.0.2.7"}]).to_string();
    let limited = post(
        &app,
        "/observe/observables",
        Some(&format!("Bearer {}", token(Some(1)))),
        body,
    )
    .await;
    assert_eq!(limited["data"]["sightings"]["count"], 1);
    assert_eq!(limited["data"]["indicators"]["docs"][0]["title"], "a");
}

#[tokio::test]
async fn refer_has_no_links_and_health_is_ok() {
    let (app, _) = relay(samples());
    assert_eq!(
        ask(&app, "/refer/observables", &["192.0.2.1"]).await,
        json!({"data": []})
    );
    let health = post(
        &app,
        "/health",
        Some(&format!("Bearer {}", token(None))),
        String::new(),
    )
    .await;
    assert_eq!(health, json!({"data": {"status": "ok"}}));
}

#[tokio::test]
async fn hostile_requests_get_the_relays_errors() {
    let (app, _) = relay(samples());
    let body = json!([{"type": "ip", "value": "192.0.2.1"}]).to_string();
    let code = |answer: &Value| {
        answer["errors"][0]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    // No token, a forged one, an unsigned one.
    let answer = post(&app, "/deliberate/observables", None, body.clone()).await;
    assert_eq!(code(&answer), "authorization error");
    let forged = encode_token(&SecretKey::new("another secret").unwrap(), "k", None).unwrap();
    let answer = post(
        &app,
        "/deliberate/observables",
        Some(&format!("Bearer {forged}")),
        body.clone(),
    )
    .await;
    assert_eq!(
        answer["errors"][0]["message"],
        "Authorization failed: Failed to decode JWT with provided key"
    );
    let unsigned = "eyJhbGciOiJub25lIn0.eyJrZXkiOiJrIn0.";
    let answer = post(
        &app,
        "/deliberate/observables",
        Some(&format!("Bearer {unsigned}")),
        body.clone(),
    )
    .await;
    assert_eq!(code(&answer), "authorization error");
    assert!(answer.get("data").is_none());

    // An oversized body, malformed observables, too many of them.
    let bearer = format!("Bearer {}", token(None));
    let huge = format!(
        "[{}]",
        vec![r#"{"type":"ip","value":"192.0.2.1"}"#; 40_000].join(",")
    );
    assert!(huge.len() > 1 << 20);
    let answer = post(&app, "/observe/observables", Some(&bearer), huge).await;
    assert_eq!(code(&answer), "invalid argument");
    for bad in [
        "not json",
        r#"{"type":"ip","value":"192.0.2.1"}"#,
        r#"[{"type":"ip"}]"#,
        r#"[{"type":"ip","value":""}]"#,
        r#"[{"type":7,"value":"192.0.2.1"}]"#,
    ] {
        let answer = post(&app, "/observe/observables", Some(&bearer), bad.to_owned()).await;
        assert_eq!(code(&answer), "invalid argument", "{bad}");
    }
    let many = json!(vec![json!({"type": "ip", "value": "192.0.2.1"}); 1001]).to_string();
    let answer = post(&app, "/observe/observables", Some(&bearer), many).await;
    assert_eq!(code(&answer), "invalid argument");

    // Unsupported types and values that are not addresses are ignored, not errors.
    let ignored = json!([
        {"type": "domain", "value": "192.0.2.1"},
        {"type": "ip", "value": "192.0.2.0/24"},
        {"type": "ip", "value": " 192.0.2.1"},
        {"type": "ip", "value": "192.0.2.256"},
        {"type": "ipv6", "value": "192.0.2.1"},
        {"type": "IP", "value": "192.0.2.1"},
    ])
    .to_string();
    let answer = post(&app, "/observe/observables", Some(&bearer), ignored).await;
    assert_eq!(answer, json!({"data": {}}));
    // `ipv6` observables are looked up too.
    let v6 = json!([{"type": "ipv6", "value": "2001:db8:1::1"}]).to_string();
    let answer = post(&app, "/deliberate/observables", Some(&bearer), v6).await;
    assert_eq!(verdict_values(&answer), ["2001:db8:1::1"]);
}

#[tokio::test]
async fn whole_address_space_lists_and_exact_entries() {
    let lists = Lists::new();
    let everything = lists.write("everything.netset", "0.0.0.0/0\n::/0\n");
    let exact = lists.write("exact.netset", "192.0.2.9/32\n2001:db8::9/128\n");
    let (app, _) = relay(vec![everything, exact]);
    let answer = ask(
        &app,
        "/observe/observables",
        &["255.255.255.255", "::", "192.0.2.9", "2001:db8::9"],
    )
    .await;
    let sources: Vec<&str> = answer["data"]["sightings"]["docs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources,
        [
            "everything",
            "everything",
            "everything",
            "exact",
            "everything",
            "exact"
        ]
    );
}

#[tokio::test]
async fn reload_replaces_the_lists_only_when_every_file_loads() {
    let lists = Lists::new();
    let path = lists.write("l.netset", "192.0.2.1\n");
    let (app, loaded) = relay(vec![path.clone()]);
    assert_eq!(
        verdict_values(&ask(&app, "/deliberate/observables", &["192.0.2.1", "192.0.2.2"]).await),
        ["192.0.2.1"]
    );

    // A good edit: the new list answers from the next request on.
    std::fs::write(&path, "# edited\n192.0.2.2\n").unwrap();
    assert_eq!(
        loaded.reload().unwrap(),
        Loaded {
            lists: 1,
            entries: 1,
            ranges: 1,
            bytes: 8,
        }
    );
    assert_eq!(
        verdict_values(&ask(&app, "/deliberate/observables", &["192.0.2.1", "192.0.2.2"]).await),
        ["192.0.2.2"]
    );

    // A bad line: an error naming the file and line, and the lists in use stay.
    std::fs::write(&path, "192.0.2.3\n192.0.2.0/40\n").unwrap();
    let error = loaded.reload().unwrap_err().to_string();
    assert!(
        error.ends_with(r#"l.netset:2: not an IP address or CIDR network: "192.0.2.0/40""#),
        "{error}"
    );
    reload(&loaded); // logs and keeps the lists
    assert_eq!(
        verdict_values(&ask(&app, "/deliberate/observables", &["192.0.2.2", "192.0.2.3"]).await),
        ["192.0.2.2"]
    );

    // A file that disappeared: the same.
    std::fs::remove_file(&path).unwrap();
    assert!(
        loaded
            .reload()
            .unwrap_err()
            .to_string()
            .contains("cannot read the list")
    );
    assert_eq!(loaded.loaded().entries, 1);
}

/// A real SIGHUP to this process reloads the lists, through the task the server runs beside
/// the relay (tokio's handler, once installed, stays for the life of the process, so the
/// signal cannot end the test run).
#[cfg(unix)]
#[tokio::test]
async fn sighup_reloads_the_lists() {
    let lists = Lists::new();
    let path = lists.write("hup.netset", "192.0.2.1\n");
    let (_, loaded) = relay(vec![path.clone()]);
    let provider = Arc::new(BlocklistProvider::new(Arc::clone(&loaded)));
    let task = xdr_relay_blocklist::app().serve_task(provider).unwrap();
    tokio::spawn(task);
    // Let the task install its handler before the signal comes.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    std::fs::write(&path, "192.0.2.1\n192.0.2.2\n").unwrap();
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    // Wait for the reload (at most 10 s: a bound on a hang, not a measure of speed).
    for _ in 0..1000 {
        if loaded.loaded().entries == 2 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("SIGHUP did not reload the lists");
}

#[test]
fn loading_refuses_bad_files_and_twin_names() {
    let lists = Lists::new();
    let bad = lists.write("bad.netset", "192.0.2.1\nexample.com\n");
    let error = Blocklists::load(vec![bad]).unwrap_err().to_string();
    assert!(
        error.ends_with(r#"bad.netset:2: not an IP address or CIDR network: "example.com""#),
        "{error}"
    );
    let one = lists.write("twin.netset", "192.0.2.1\n");
    let two = lists.write("twin.txt", "192.0.2.2\n");
    let error = Blocklists::load(vec![one, two]).unwrap_err().to_string();
    assert!(
        error.contains(r#"another list is already named "twin""#),
        "{error}"
    );
}

// The dashboard and the response action.

/// The relay on `files`, writable `writable` when given, and its lists.
fn writable_relay(files: Vec<PathBuf>, writable: Option<PathBuf>) -> (Router, Arc<Blocklists>) {
    let lists = Arc::new(Blocklists::load(files).unwrap());
    let mut config = RelayConfig::default();
    config.secret_key = SecretKey::new(SECRET);
    config.max_body_bytes = 64 * 1024;
    let mut provider = BlocklistProvider::new(Arc::clone(&lists));
    if let Some(path) = writable {
        provider = provider.writable(path).unwrap();
    }
    let router = xdr_relay_core::router_for(config, Arc::new(provider)).unwrap();
    (router, lists)
}

fn bearer() -> String {
    format!("Bearer {}", token(None))
}

async fn post_json(app: &Router, path: &str, body: &Value) -> Value {
    post(app, path, Some(&bearer()), body.to_string()).await
}

/// The period an answer covers, in whole hours.
fn hours_covered(data: &Value) -> i64 {
    let at = |key: &str| {
        xdr_relay_core::ctim_model::Timestamp::parse(data["observed_time"][key].as_str().unwrap())
            .unwrap()
            .to_offset_date_time()
    };
    let covered = at("end_time") - at("start_time");
    // The current hour counts from its start: up to an hour more than whole hours.
    covered.whole_hours()
}

#[tokio::test]
async fn the_dashboard_lists_its_tiles_and_counts_the_matches() {
    let (app, _) = relay(samples());
    let summary = json!({
        "id": "blocklist_summary", "type": "metric_group", "title": "Local blocklists",
        "tags": ["Local blocklists", "Summary"],
        "description": "The blocklists loaded, their matches in the period (lookups that found an address on a list), the minutes since the lists were loaded, and each list's entries and ranges (after merging).",
        "short_description": "The blocklists and their matches.",
        "periods": ["last_24_hours", "last_7_days", "last_30_days", "last_60_days", "last_90_days"],
        "default_period": "last_24_hours"
    });
    let tiles = post(&app, "/tiles", Some(&bearer()), String::new()).await;
    assert_eq!(tiles["data"][0], summary);
    assert_eq!(tiles["data"][1]["id"], "blocklist_matches");
    assert_eq!(tiles["data"][1]["type"], "vertical_bar_chart");
    assert_eq!(tiles["data"][1]["default_period"], "last_7_days");
    let tile = post_json(
        &app,
        "/tiles/tile",
        &json!({"tile_id": "blocklist_summary"}),
    )
    .await;
    assert_eq!(tile, json!({"data": summary}));

    // Nothing looked up yet.
    let request = json!({"tile_id": "blocklist_summary", "period": "last_24_hours"});
    let answer = post_json(&app, "/tiles/tile-data", &request).await;
    let data = &answer["data"];
    assert_eq!(data["cache_scope"], "none");
    assert_eq!(data["valid_time"], data["observed_time"]);
    assert_eq!(hours_covered(data), 23);
    // Times to the millisecond, as CTIM and Cisco's relays write them.
    let end = data["observed_time"]["end_time"].as_str().unwrap();
    assert_eq!(end.len(), "2024-05-01T12:00:00.000Z".len(), "{end}");
    let metrics = data["data"].as_array().unwrap();
    assert!(metrics[2]["value"].as_u64().unwrap() <= 1, "{answer}");
    let mut expected = vec![
        json!({"icon": "bulleted-list", "label": "Lists loaded", "value": 2, "value_unit": "integer"}),
        json!({"icon": "warning", "label": "Matches", "value": 0, "value_unit": "integer"}),
        metrics[2].clone(),
    ];
    for (list, entries, ranges) in [("firehol_sample", 4, 4), ("spamhaus_drop_sample", 3, 3)] {
        expected.push(json!({"icon": "block", "label": format!("{list}: entries"), "value": entries, "value_unit": "integer"}));
        expected.push(json!({"icon": "block", "label": format!("{list}: ranges"), "value": ranges, "value_unit": "integer"}));
    }
    assert_eq!(metrics, &expected);

    // Lookups: 192.0.2.1 and 198.51.100.7 are on firehol_sample, 192.0.2.200 on spamhaus;
    // deliberate and observe each count. The entity limit does not hide a match.
    let ips = ["192.0.2.1", "198.51.100.7", "192.0.2.200", "192.0.2.150"];
    ask(&app, "/deliberate/observables", &ips).await;
    ask(&app, "/observe/observables", &ips).await;
    let answer = post_json(&app, "/tiles/tile-data", &request).await;
    assert_eq!(answer["data"]["data"][1]["value"], 6, "{answer}");

    for (period, bars, hours) in [
        ("last_24_hours", 24, 23),
        ("last_7_days", 7, 7 * 24 - 1),
        ("last_90_days", 90, 90 * 24 - 1),
    ] {
        let request = json!({"tile_id": "blocklist_matches", "period": period});
        let answer = post_json(&app, "/tiles/tile-data", &request).await;
        let data = &answer["data"];
        assert_eq!(hours_covered(data), hours, "{period}");
        assert_eq!(data["key_type"], "timestamp");
        assert_eq!(
            data["keys"],
            json!([{"key": "firehol_sample", "label": "firehol_sample"},
                   {"key": "spamhaus_drop_sample", "label": "spamhaus_drop_sample"}])
        );
        let data = data["data"].as_array().unwrap();
        assert_eq!(data.len(), bars, "{period}");
        // Every bar starts an hour (or a day) after the one before it.
        let step = if bars == 24 { 3_600_000 } else { 86_400_000 };
        for pair in data.windows(2) {
            assert_eq!(
                pair[1]["key"].as_i64().unwrap() - pair[0]["key"].as_i64().unwrap(),
                step
            );
        }
        let per_list = |list: &str| -> u64 {
            data.iter()
                .flat_map(|bar| bar["values"].as_array().unwrap())
                .filter(|v| v["key"] == list)
                .map(|v| v["value"].as_u64().unwrap())
                .sum()
        };
        assert_eq!(per_list("firehol_sample"), 4, "{period}");
        assert_eq!(per_list("spamhaus_drop_sample"), 2, "{period}");
        let last = data.last().unwrap();
        if last["value"] != 0 {
            assert_eq!(last["values"][0]["tooltip"], "firehol_sample: 4");
        }
    }
}

#[tokio::test]
async fn hostile_tile_requests_get_the_relays_errors() {
    let (app, _) = relay(samples());
    let code = |answer: &Value| {
        answer["errors"][0]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    for (path, body, message) in [
        ("/tiles/tile", json!({"tile_id": "nope"}), "Invalid tile id"),
        (
            "/tiles/tile-data",
            json!({"tile_id": "nope", "period": "last_7_days"}),
            "Invalid tile id",
        ),
        (
            "/tiles/tile-data",
            json!({"tile_id": "blocklist_matches", "period": "last_hour"}),
            r#"Invalid JSON payload received. {"period":["Must be one of: last_24_hours, last_7_days, last_30_days, last_60_days, last_90_days."]}"#,
        ),
        (
            "/tiles/tile-data",
            json!({"tile_id": "blocklist_matches", "period": "last_week"}),
            r#"Invalid JSON payload received. {"period":["Must be one of: last_hour, last_24_hours, last_7_days, last_30_days, last_60_days, last_90_days."]}"#,
        ),
        (
            "/tiles/tile-data",
            json!({"tile_id": 1, "period": ["last_7_days"]}),
            r#"Invalid JSON payload received. {"period":["Not a valid string."],"tile_id":["Not a valid string."]}"#,
        ),
        (
            "/tiles/tile",
            json!([{"tile_id": "blocklist_summary"}]),
            r#"Invalid JSON payload received. {"_schema":["Invalid input type: expected an object."]}"#,
        ),
    ] {
        let answer = post_json(&app, path, &body).await;
        assert_eq!(
            answer,
            json!({"errors": [{"type": "fatal", "code": "invalid argument", "message": message}]}),
            "{path} {body}"
        );
    }
    // Too large (the default limit, 1 MiB), not JSON, no token, a forged token.
    let huge = format!(
        r#"{{"tile_id": "{}", "period": "last_7_days"}}"#,
        "x".repeat(1 << 20)
    );
    for path in ["/tiles", "/tiles/tile", "/tiles/tile-data"] {
        let answer = post(&app, path, Some(&bearer()), huge.clone()).await;
        assert_eq!(code(&answer), "invalid argument", "{path}");
    }
    for path in ["/tiles/tile", "/tiles/tile-data"] {
        let answer = post(&app, path, Some(&bearer()), "{\"tile_id\"".to_owned()).await;
        assert_eq!(code(&answer), "invalid argument", "{path}");
    }
    let good = json!({"tile_id": "blocklist_summary", "period": "last_7_days"}).to_string();
    let forged = encode_token(&SecretKey::new("another secret").unwrap(), "k", None).unwrap();
    for path in ["/tiles", "/tiles/tile", "/tiles/tile-data"] {
        let answer = post(&app, path, None, good.clone()).await;
        assert_eq!(code(&answer), "authorization error", "{path}");
        let answer = post(&app, path, Some(&format!("Bearer {forged}")), good.clone()).await;
        assert_eq!(code(&answer), "authorization error", "{path}");
        assert!(answer.get("data").is_none());
    }
}

#[tokio::test]
async fn without_a_writable_list_no_action_is_offered() {
    let (app, lists) = relay(samples());
    let body = json!([{"type": "ip", "value": "198.51.100.99"}]);
    assert_eq!(
        post_json(&app, "/respond/observables", &body).await,
        json!({"data": []})
    );
    let trigger = json!({"action-id": "blocklist-add", "observable_type": "ip",
                         "observable_value": "198.51.100.99"});
    assert_eq!(
        post_json(&app, "/respond/trigger", &trigger).await,
        json!({"data": {"status": "failure"}})
    );
    assert_eq!(lists.loaded().entries, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analyst_adds_an_address_to_the_writable_list() {
    let folder = Lists::new();
    let mine = folder.write("mine.netset", "# added by analysts\n192.0.2.128/28\n");
    let mut files = samples();
    files.push(mine.clone());
    let (app, lists) = writable_relay(files, Some(mine.clone()));

    // Offered for the addresses the list does not hold yet, whatever other lists hold.
    let body = json!([
        {"type": "ip", "value": "198.51.100.99"},
        {"type": "ip", "value": "192.0.2.130"},
        {"type": "ipv6", "value": "2001:db8:1::1"},
        {"type": "domain", "value": "example.com"},
        {"type": "ip", "value": "not an address"},
    ]);
    let offered = post_json(&app, "/respond/observables", &body).await;
    assert_eq!(
        offered["data"][0],
        json!({
            "id": "blocklist-add",
            "title": "Add to mine",
            "description": "Add 198.51.100.99 to the local blocklist mine",
            "categories": ["Local blocklists", "Add to blocklist"],
            "query-params": {"observable_type": "ip", "observable_value": "198.51.100.99"}
        })
    );
    assert_eq!(offered["data"].as_array().unwrap().len(), 2, "{offered}");
    assert_eq!(
        offered["data"][1]["query-params"]["observable_value"],
        "2001:db8:1::1"
    );

    // Not listed before; added; the next lookup finds it.
    assert!(
        verdict_values(&ask(&app, "/deliberate/observables", &["198.51.100.99"]).await).is_empty()
    );
    let trigger = offered["data"][0]["query-params"]
        .as_object()
        .unwrap()
        .clone()
        .into_iter()
        .chain([("action-id".to_owned(), json!("blocklist-add"))])
        .collect::<serde_json::Map<_, _>>();
    let trigger = Value::Object(trigger);
    assert_eq!(
        post_json(&app, "/respond/trigger", &trigger).await,
        json!({"data": {"status": "success"}})
    );
    assert_eq!(
        verdict_values(&ask(&app, "/deliberate/observables", &["198.51.100.99"]).await),
        ["198.51.100.99"]
    );
    let observed = ask(&app, "/observe/observables", &["198.51.100.99"]).await;
    assert_eq!(observed["data"]["sightings"]["docs"][0]["source"], "mine");
    let text = std::fs::read_to_string(&mine).unwrap();
    assert!(
        text.starts_with(
            "# added by analysts\n192.0.2.128/28\n198.51.100.99 # added through Cisco XDR, "
        ),
        "{text}"
    );
    // No longer offered; a second trigger succeeds without writing it again.
    let again = post_json(
        &app,
        "/respond/observables",
        &json!([{"type": "ip", "value": "198.51.100.99"}]),
    )
    .await;
    assert_eq!(again, json!({"data": []}));
    assert_eq!(
        post_json(&app, "/respond/trigger", &trigger).await,
        json!({"data": {"status": "success"}})
    );
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), text);
    // A reload keeps it (it is in the file), and the other lists are as they were.
    assert_eq!(lists.reload().unwrap().entries, 9);

    // Concurrent additions are each written once.
    let adds = (1..=20).map(|n| {
        let app = app.clone();
        async move {
            let trigger = json!({"action-id": "blocklist-add", "observable_type": "ip",
                                 "observable_value": format!("198.51.100.{n}")});
            post_json(&app, "/respond/trigger", &trigger).await
        }
    });
    for answer in spawn_all(adds).await {
        assert_eq!(answer, json!({"data": {"status": "success"}}));
    }
    let text = std::fs::read_to_string(&mine).unwrap();
    for n in 1..=20 {
        assert_eq!(
            text.matches(&format!("198.51.100.{n} #")).count(),
            1,
            "{text}"
        );
    }
    assert_eq!(lists.loaded().entries, 29);
    let names: Vec<String> = std::fs::read_dir(&folder.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["mine.netset"], "no temporary file is left");

    // What it refuses: another action, another type, a value that is not an address.
    for (action, kind, value) in [
        ("blocklist-remove", "ip", "198.51.100.98"),
        ("blocklist-add", "domain", "example.com"),
        ("blocklist-add", "ip", "198.51.100.0/24"),
        ("blocklist-add", "ipv6", "198.51.100.98"),
        ("blocklist-add", "IP", "198.51.100.98"),
        ("blocklist-add", "ip", "../../etc/passwd"),
        ("blocklist-add", "ip", "198.51.100.98\n0.0.0.0/0"),
    ] {
        let trigger =
            json!({"action-id": action, "observable_type": kind, "observable_value": value});
        assert_eq!(
            post_json(&app, "/respond/trigger", &trigger).await,
            json!({"data": {"status": "failure"}}),
            "{action} {kind} {value:?}"
        );
    }
    // Bad bodies and missing tokens never reach the file.
    let answer = post(
        &app,
        "/respond/trigger",
        Some(&bearer()),
        r#"{"action-id": "blocklist-add"}"#.to_owned(),
    )
    .await;
    assert_eq!(answer["errors"][0]["code"], "invalid argument");
    let good = json!({"action-id": "blocklist-add", "observable_type": "ip", "observable_value": "198.51.100.98"});
    let answer = post(&app, "/respond/trigger", None, good.to_string()).await;
    assert_eq!(answer["errors"][0]["code"], "authorization error");
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), text);
}

#[tokio::test]
async fn a_list_that_cannot_be_written_is_an_error_and_stays_in_use() {
    let folder = Lists::new();
    let mine = folder.write("mine.netset", "192.0.2.1\n");
    let (app, lists) = writable_relay(vec![mine.clone()], Some(mine.clone()));
    // Someone breaks the file: the addition is refused, the file and the lists stay.
    std::fs::write(&mine, "192.0.2.1\nnot an address\n").unwrap();
    let trigger = json!({"action-id": "blocklist-add", "observable_type": "ip", "observable_value": "198.51.100.1"});
    let answer = post_json(&app, "/respond/trigger", &trigger).await;
    assert_eq!(
        answer,
        json!({"errors": [{"type": "fatal", "code": "unknown",
            "message": "The address could not be added to the blocklist; the relay's log says why."}]})
    );
    assert_eq!(
        std::fs::read_to_string(&mine).unwrap(),
        "192.0.2.1\nnot an address\n"
    );
    assert_eq!(lists.loaded().entries, 1);
    assert_eq!(
        verdict_values(&ask(&app, "/deliberate/observables", &["192.0.2.1"]).await),
        ["192.0.2.1"]
    );
}

#[test]
fn the_writable_list_is_a_setting_off_by_default() {
    let folder = Lists::new();
    let mine = folder
        .write("mine.netset", "192.0.2.1\n")
        .to_string_lossy()
        .into_owned();
    let other = folder.0.join("other.netset").to_string_lossy().into_owned();
    let build = |writable: Option<&str>| {
        let files = mine.clone();
        let writable = writable.map(str::to_owned);
        let settings = xdr_relay_core::Settings::new(move |name| match name {
            "BLOCKLIST_FILES" => Some(files.clone()),
            "BLOCKLIST_WRITABLE_LIST" => writable.clone(),
            _ => None,
        });
        xdr_relay_blocklist::app().build(&settings)
    };
    assert!(build(None).is_ok());
    assert!(build(Some(&mine)).is_ok());
    let error = build(Some(&other)).unwrap_err().to_string();
    assert!(
        error.contains("BLOCKLIST_WRITABLE_LIST") && error.contains("not one of the relay's lists"),
        "{error}"
    );
    let names: Vec<&str> = xdr_relay_blocklist::app()
        .provider_settings()
        .iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names, ["BLOCKLIST_FILES", "BLOCKLIST_WRITABLE_LIST"]);
}

/// Runs the futures as tasks of their own, at once; their answers in order.
async fn spawn_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut answers = Vec::with_capacity(handles.len());
    for handle in handles {
        answers.push(handle.await.unwrap());
    }
    answers
}
