//! The suite against each relay alone: the same requests, the same answers (request ids and
//! times aside); a hung upstream slows no other mount; each mount's own JWKS audience; the
//! module-type array; the command's start errors, tokens and metrics.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::LazyLock;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use testkit::abuseipdb::{self, Scenario};
use testkit::standin::StandIn;
use testkit::token::Platform;
use tower::ServiceExt as _;
use xdr_relay_core::{CredentialKind, JwksConfig, Member, ModuleAuth, RelayConfig, Settings};

const SECRET: &str = "a-suite-test-secret-of-some-length";
const IP: &str = "192.0.2.66";
const BIN: &str = env!("CARGO_BIN_EXE_xdr-relays");

/// A blocklist file listing `IP`, written once for the process.
static LIST: LazyLock<std::path::PathBuf> = LazyLock::new(|| {
    let path = std::env::temp_dir().join(format!("xdr-relays-test-{}.netset", std::process::id()));
    std::fs::write(&path, format!("# a test list\n{IP}\n198.51.100.0/24\n")).unwrap();
    path
});

/// The stand-ins every relay calls: AbuseIPDB's, OTX's, urlscan.io's, and one for Auth0
/// Signals that knows no address. A relay added to the suite adds its stand-in here: the tests reach nothing
/// beyond 127.0.0.1.
struct Upstreams {
    abuseipdb: abuseipdb::StandIn,
    otx: testkit::otx::StandIn,
    urlscan: testkit::urlscan::StandIn,
    signals: StandIn,
}

impl Upstreams {
    async fn start() -> Self {
        let abuseipdb = abuseipdb::StandIn::start().await;
        abuseipdb.data(IP, abuseipdb::data(75, Some("example.net"), vec![]));
        let signals =
            StandIn::start(Router::new().fallback(|| async { (StatusCode::NOT_FOUND, "{}") }))
                .await;
        let otx = testkit::otx::StandIn::start().await;
        otx.pulse(testkit::otx::Pulse::new("a-pulse").with("IPv4", IP, "2024-06-01T00:00:00"));
        let urlscan = testkit::urlscan::StandIn::start().await;
        Self {
            abuseipdb,
            otx,
            urlscan,
            signals,
        }
    }

    /// The settings of every relay, and `extra`.
    fn settings(&self, extra: &[(&str, String)]) -> BTreeMap<String, String> {
        let mut table: BTreeMap<String, String> = [
            ("SECRET_KEY", SECRET.to_owned()),
            ("RELAY_OPENAPI", "true".to_owned()),
            ("SIGNALS_API_URL", self.signals.url()),
            ("ABUSEIPDB_API_URL", self.abuseipdb.api_url()),
            ("ABUSEIPDB_WEB_URL", self.abuseipdb.web_url()),
            ("OTX_API_URL", self.otx.api_url()),
            ("OTX_WEB_URL", self.otx.web_url()),
            ("URLSCAN_API_URL", self.urlscan.api_url()),
            ("URLSCAN_WEB_URL", self.urlscan.web_url()),
            ("BLOCKLIST_FILES", LIST.display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (k, v) in extra {
            table.insert((*k).to_owned(), v.clone());
        }
        table
    }
}

fn settings(table: &BTreeMap<String, String>) -> Settings<'_> {
    Settings::new(move |name| table.get(name).cloned())
}

/// A token carrying every credential field `member` reads.
fn token_for(member: &Member) -> String {
    let mut claims = serde_json::Map::new();
    for field in &member.info().credentials {
        let value = match field.kind {
            CredentialKind::PositiveInteger => json!(5),
            _ => json!(format!("a-test-{}", field.name)),
        };
        claims.insert(field.name.to_string(), value);
    }
    testkit::token::hs256(SECRET, &Value::Object(claims))
}

/// What a request answered: status, content type, and the body with ids and times masked.
async fn call(
    router: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String, String) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let request = request
        .header("Health-Check", "alive")
        .header("Content-Type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let answer = router.clone().oneshot(request).await.unwrap();
    let status = answer.status().as_u16();
    let content_type = answer
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(answer.into_body(), 1 << 24)
        .await
        .unwrap();
    (status, content_type, mask(&String::from_utf8_lossy(&bytes)))
}

/// `text` with every UUID and every RFC 3339 time replaced: what differs between two calls.
fn mask(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let shaped = |at: usize, shape: &[u8]| {
        bytes.len() >= at + shape.len()
            && shape.iter().enumerate().all(|(k, want)| {
                let b = bytes[at + k];
                match want {
                    b'h' => b.is_ascii_hexdigit(),
                    b'd' => b.is_ascii_digit(),
                    other => b == *other,
                }
            })
    };
    while i < bytes.len() {
        if shaped(i, b"hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh") {
            out.push_str("<uuid>");
            i += 36;
        } else if shaped(i, b"dddd-dd-ddTdd:dd:dd") {
            out.push_str("<time>");
            i += 19;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || b".Z+:".contains(&bytes[i])) {
                i += 1;
            }
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Every route a relay has, with a body, each asked with a token (and the routes that take
/// none, and paths and methods it does not serve).
fn requests(member: &Member) -> Vec<(&'static str, String, bool, String)> {
    let ips = json!([{"type": "ip", "value": IP}, {"type": "domain", "value": "example.com"}])
        .to_string();
    let tile = member
        .info()
        .tiles
        .first()
        .map(|t| t.id.to_string())
        .unwrap_or_else(|| "none".to_owned());
    vec![
        ("POST", "/health".to_owned(), true, String::new()),
        ("POST", "/observe/observables".to_owned(), true, ips.clone()),
        (
            "POST",
            "/deliberate/observables".to_owned(),
            true,
            ips.clone(),
        ),
        ("POST", "/refer/observables".to_owned(), true, ips.clone()),
        ("POST", "/respond/observables".to_owned(), true, ips.clone()),
        (
            "POST",
            "/respond/trigger".to_owned(),
            true,
            json!({"action-id": "none", "observable_type": "ip", "observable_value": IP})
                .to_string(),
        ),
        ("POST", "/tiles".to_owned(), true, String::new()),
        (
            "POST",
            "/tiles/tile".to_owned(),
            true,
            json!({"tile_id": tile}).to_string(),
        ),
        (
            "POST",
            "/tiles/tile-data".to_owned(),
            true,
            json!({"tile_id": tile, "period": "last_7_days"}).to_string(),
        ),
        ("GET", "/version".to_owned(), false, String::new()),
        ("POST", "/version/".to_owned(), false, String::new()),
        ("GET", "/watchdog".to_owned(), false, String::new()),
        ("GET", "/openapi.json".to_owned(), false, String::new()),
        // Refused: no token, a bad body, a path and a method it does not serve.
        ("POST", "/observe/observables".to_owned(), false, ips),
        (
            "POST",
            "/observe/observables".to_owned(),
            true,
            "[{".to_owned(),
        ),
        ("POST", "/no/such/route".to_owned(), true, String::new()),
        (
            "GET",
            "/observe/observables".to_owned(),
            true,
            String::new(),
        ),
        ("POST", "/".to_owned(), true, String::new()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_relay_answers_alike_alone_and_mounted() {
    let upstreams = Upstreams::start().await;
    let table = upstreams.settings(&[]);
    let env = settings(&table);
    let config = RelayConfig::from_settings(&env).unwrap();
    let suite = xdr_relay_suite::suite();
    let served = suite.build(&config, &env).unwrap();
    let every: Vec<&str> = suite.members().iter().map(Member::name).collect();
    assert_eq!(served.relays(), every.as_slice(), "every relay is mounted");
    let mounted = served.into_router();
    let mut compared = 0;
    for member in suite.members() {
        let alone = member.router_alone(&config, &env).unwrap();
        let token = token_for(member);
        for (method, path, with_token, body) in requests(member) {
            let token = with_token.then_some(token.as_str());
            let want = call(&alone, method, &path, token, &body).await;
            let mount_path = format!("/{}{path}", member.name());
            let got = call(&mounted, method, &mount_path, token, &body).await;
            assert_eq!(got, want, "{method} {mount_path} differs from {path} alone");
            compared += 1;
        }
    }
    assert!(compared >= 3 * 17, "{compared}");
    // The answers carried data: AbuseIPDB's observe through its mount has the address.
    let member = suite.member("abuseipdb").unwrap();
    let body = json!([{"type": "ip", "value": IP}]).to_string();
    let (status, _, answer) = call(
        &mounted,
        "POST",
        "/abuseipdb/observe/observables",
        Some(&token_for(member)),
        &body,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        answer.contains("\"verdicts\"") && answer.contains(IP),
        "{answer}"
    );
}

#[tokio::test]
async fn the_root_answers_watchdog_version_and_not_found() {
    let upstreams = Upstreams::start().await;
    let table = upstreams.settings(&[]);
    let env = settings(&table);
    let config = RelayConfig::from_settings(&env).unwrap();
    let router = xdr_relay_suite::suite()
        .build(&config, &env)
        .unwrap()
        .into_router();
    let (status, _, body) = call(&router, "GET", "/watchdog", None, "").await;
    assert_eq!((status, body.as_str()), (200, r#"{"data":"alive"}"#));
    let (status, _, body) = call(&router, "GET", "/version", None, "").await;
    assert_eq!(status, 200);
    let version: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(version["version"], xdr_relay_suite::VERSION);
    let names: Vec<&str> = version["relays"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["auth0-signals", "abuseipdb", "otx", "urlscan", "blocklist"]
    );
    assert_eq!(version["relays"][1]["relay"], "AbuseIPDB", "{version}");
    for path in [
        "/",
        "/observe/observables",
        "/no-such-relay/health",
        "/abuseipdbx/health",
    ] {
        let (status, _, body) = call(&router, "POST", path, None, "").await;
        assert_eq!(status, 404, "{path}");
        assert!(
            body.contains("\"not_found\"") || body.contains("not found"),
            "{path}: {body}"
        );
    }
}

/// One relay's upstream hangs: its requests wait for their deadline while the other mounts
/// answer at once, and then it answers its timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_upstream_slows_no_other_mount() {
    let upstreams = Upstreams::start().await;
    upstreams.abuseipdb.set(IP, Scenario::Hang);
    let table = upstreams.settings(&[("RELAY_REQUEST_TIMEOUT", "3".to_owned())]);
    let env = settings(&table);
    let config = RelayConfig::from_settings(&env).unwrap();
    let suite = xdr_relay_suite::suite();
    let router = suite.build(&config, &env).unwrap().into_router();
    let body = json!([{"type": "ip", "value": IP}]).to_string();
    let abuseipdb = token_for(suite.member("abuseipdb").unwrap());
    let hung: Vec<_> = (0..8)
        .map(|_| {
            let (router, token, body) = (router.clone(), abuseipdb.clone(), body.clone());
            tokio::spawn(async move {
                call(
                    &router,
                    "POST",
                    "/abuseipdb/observe/observables",
                    Some(&token),
                    &body,
                )
                .await
            })
        })
        .collect();
    // Wait until AbuseIPDB holds them.
    for _ in 0..200 {
        if upstreams.abuseipdb.checks_of(IP) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        upstreams.abuseipdb.checks_of(IP) > 0,
        "AbuseIPDB was never asked"
    );
    let blocklist = token_for(suite.member("blocklist").unwrap());
    for _ in 0..50 {
        let (status, _, answer) = call(
            &router,
            "POST",
            "/blocklist/observe/observables",
            Some(&blocklist),
            &body,
        )
        .await;
        assert_eq!(status, 200);
        assert!(answer.contains(IP), "{answer}");
    }
    assert!(
        hung.iter().all(|call| !call.is_finished()),
        "the hung relay's requests ended before the other mount's 50 answers"
    );
    for call in hung {
        let (status, _, answer) = call.await.unwrap();
        assert_eq!(status, 200);
        assert!(answer.contains("\"errors\""), "{answer}");
    }
}

#[tokio::test]
async fn in_jwks_mode_each_mount_has_its_own_audience() {
    let upstreams = Upstreams::start().await;
    upstreams.abuseipdb.publish_keys(vec![Platform::jwk()]);
    let table = upstreams.settings(&[]);
    let env = settings(&table);
    let mut config = RelayConfig::from_settings(&env).unwrap();
    let mut jwks = JwksConfig::new("https://relays.example.com/");
    jwks.allowed_hosts = vec![upstreams.abuseipdb.host()];
    jwks.allow_http = true;
    config.jwks = Some(jwks);
    let router = xdr_relay_suite::suite()
        .build(&config, &env)
        .unwrap()
        .into_router();
    let now = xdr_relay_core::time::OffsetDateTime::now_utc().unix_timestamp();
    let token = |audience: &str| {
        Platform::token(&json!({
            "key": "a-test-key", "jwks_host": upstreams.abuseipdb.host(), "aud": audience,
            "iat": now, "exp": now + 300,
        }))
    };
    let body = json!([{"type": "ip", "value": IP}]).to_string();
    let own = token("https://relays.example.com/abuseipdb");
    let (status, _, answer) = call(
        &router,
        "POST",
        "/abuseipdb/observe/observables",
        Some(&own),
        &body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("\"verdicts\""), "{answer}");
    // The same token at another mount, and the suite's own URL, are refused.
    let refused = "Wrong configuration-token-audience";
    let (_, _, answer) = call(
        &router,
        "POST",
        "/blocklist/observe/observables",
        Some(&own),
        &body,
    )
    .await;
    assert!(
        answer.contains(refused) && !answer.contains("\"data\""),
        "{answer}"
    );
    let root = token("https://relays.example.com");
    let (_, _, answer) = call(
        &router,
        "POST",
        "/abuseipdb/observe/observables",
        Some(&root),
        &body,
    )
    .await;
    assert!(
        answer.contains(refused) && !answer.contains("\"data\""),
        "{answer}"
    );
    let blocklist = token("https://relays.example.com/blocklist");
    let (status, _, answer) = call(
        &router,
        "POST",
        "/blocklist/observe/observables",
        Some(&blocklist),
        &body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains(IP) && !answer.contains(refused), "{answer}");
}

fn run(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(BIN);
    command.args(args).env_clear();
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

#[test]
fn module_type_prints_one_module_type_per_relay_at_its_mount() {
    let output = run(
        &["module-type", "--relay-url", "https://relays.example.com"],
        &[],
    );
    let text = testkit::process::assert_success(&output);
    let array: Value = serde_json::from_str(&text).unwrap();
    let suite = xdr_relay_suite::suite();
    let want: Vec<Value> = suite
        .members()
        .iter()
        .map(|m| {
            let url = format!("https://relays.example.com/{}", m.name());
            let module =
                xdr_relay_core::module_type(m.info(), &url, ModuleAuth::SecretKey { key: None });
            serde_json::to_value(module).unwrap()
        })
        .collect();
    assert_eq!(array, Value::Array(want));
    assert_eq!(
        array[1]["properties"]["url"], "https://relays.example.com/abuseipdb",
        "{array}"
    );

    let output = run(
        &[
            "module-type",
            "--relay-url",
            "https://relays.example.com",
            "--auth-type",
            "jwks",
            "--relays",
            "blocklist",
        ],
        &[],
    );
    let array: Value = serde_json::from_str(&testkit::process::assert_success(&output)).unwrap();
    assert_eq!(array.as_array().unwrap().len(), 1, "{array}");
    let member = suite.member("blocklist").unwrap();
    let want = xdr_relay_core::module_type(
        member.info(),
        "https://relays.example.com/blocklist",
        ModuleAuth::Jwks {
            jwks_host: "visibility.amp.cisco.com",
        },
    );
    assert_eq!(array[0], serde_json::to_value(want).unwrap());
}

#[test]
fn a_named_relay_without_its_settings_stops_the_start_naming_both() {
    let output = run(
        &["--relays", "abuseipdb,blocklist", "--listen", "127.0.0.1:0"],
        &[("SECRET_KEY", SECRET)],
    );
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("relay blocklist") && log.contains("BLOCKLIST_FILES"),
        "{log}"
    );

    let output = run(
        &["--relays", "otx-not-here", "--listen", "127.0.0.1:0"],
        &[("SECRET_KEY", SECRET)],
    );
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("otx-not-here") && log.contains("abuseipdb"),
        "{log}"
    );
}

#[test]
fn jwt_signs_exactly_the_named_relays_fields() {
    let output = run(
        &[
            "jwt",
            "--relay",
            "abuseipdb",
            "--key",
            "the-key",
            "--secret-key",
            SECRET,
            "--quiet",
        ],
        &[],
    );
    let token = testkit::process::assert_success(&output);
    let payload = token.trim().split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["key"], "the-key", "{claims}");
    // A relay that reads no `key` refuses it as a field.
    let output = run(
        &[
            "jwt",
            "--relay",
            "blocklist",
            "--field",
            "key=x",
            "--secret-key",
            SECRET,
        ],
        &[],
    );
    assert!(!output.status.success());
    let output = run(&["jwt", "--field", "key=x"], &[]);
    assert!(!output.status.success(), "--relay is required");
}

/// The suite served as a process: every mount's metrics carry `relay`, exported at zero
/// from the start; the request log line's span names the relay.
#[test]
fn metrics_and_logs_tell_the_relays_apart() {
    let mut command = Command::new(BIN);
    command
        .args([
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ])
        .args(["--list", &LIST.display().to_string()])
        .env_clear()
        .env("SECRET_KEY", SECRET);
    let mut served = testkit::process::Served::spawn(command);
    let url = format!("http://{}", served.address_of("xdr-relays listening"));
    let metrics = format!(
        "http://{}/metrics",
        served.address_of("metrics at GET /metrics")
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let answer = client
            .get(format!("{url}/blocklist/watchdog"))
            .header("Health-Check", "m")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        let text = client.get(&metrics).send().await.unwrap().text().await.unwrap();
        for series in [
            r#"relay_requests_total{route="/watchdog",status="2xx",relay="blocklist"} 1"#,
            r#"relay_requests_total{route="/observe/observables",status="2xx",relay="abuseipdb"} 0"#,
            r#"abuseipdb_lookup_cache_hits_total{upstream="abuseipdb",relay="abuseipdb"} 0"#,
        ] {
            assert!(text.lines().any(|l| l == series), "{series} missing from:\n{text}");
        }
    });
    let line = served.wait_for("request");
    assert_eq!(line["span"]["relay"], "blocklist", "{line}");
    assert_eq!(line["path"], "/watchdog", "{line}");
}

/// The Lambda function's router: the same suite from the function's variables, a relay whose
/// settings are missing left out by default.
#[tokio::test]
async fn the_lambda_router_serves_the_relays_whose_settings_are_complete() {
    let upstreams = Upstreams::start().await;
    let mut table = upstreams.settings(&[]);
    table.remove("BLOCKLIST_FILES");
    let suite = xdr_relay_suite::suite();
    let router =
        xdr_relay_lambda::suite_router_from_env(&suite, |name| table.get(name).cloned()).unwrap();
    let (status, _, body) = call(&router, "GET", "/abuseipdb/version", None, "").await;
    let version = &suite.member("abuseipdb").unwrap().info().version;
    assert_eq!(
        (status, body),
        (200, format!(r#"{{"version":"{version}"}}"#))
    );
    let (status, _, body) = call(&router, "GET", "/version", None, "").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("abuseipdb") && !body.contains("blocklist"),
        "{body}"
    );
    let (status, ..) = call(&router, "GET", "/blocklist/version", None, "").await;
    assert_eq!(status, 404);
    table.insert("RELAYS".into(), "blocklist".into());
    let error = xdr_relay_lambda::suite_router_from_env(&suite, |name| table.get(name).cloned())
        .unwrap_err();
    assert!(error.to_string().contains("BLOCKLIST_FILES"), "{error}");
}
