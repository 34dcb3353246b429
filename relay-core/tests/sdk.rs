//! Any provider through `router_for`: what relay-core gives it (checked credentials, parsed
//! observables of its types, the entity limit) and what it makes of its answers (partial data
//! beside errors, one error for a failed call, response actions, the OpenAPI document).

// Helpers outside #[test] functions fail their test by panicking, as tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use tower::ServiceExt as _;
use xdr_relay_core::ctim_model::{Disposition, ObservableType, ObserveBundle, ValidTime, Verdict};
use xdr_relay_core::{
    Context, CredentialField, CredentialKind, Credentials, Outcome, ParsedObservable, Provider,
    ProviderInfo, ReferLink, RelayConfig, RelayError, ResponseAction, SecretKey, Trigger,
    TriggerStatus, UpstreamFailure, async_trait,
};

const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn secret() -> SecretKey {
    SecretKey::new(SECRET).expect("non-empty secret")
}

/// A request body of `(type, value)` observables.
fn observables(pairs: &[(&str, &str)]) -> String {
    let items: Vec<Value> = pairs
        .iter()
        .map(|(t, v)| json!({"type": t, "value": v}))
        .collect();
    Value::Array(items).to_string()
}

/// What the fake provider was handed, per call: the route, the observables as
/// `type:value`, its credentials and the entity limit.
type Seen = Arc<Mutex<Vec<(String, Vec<String>, Value, usize)>>>;

/// A provider of `ip` and `domain` observables that reads `token` (required) and `region`
/// (optional), offers one response action, and fails on cue: `fail.example` fails its own
/// lookup, `boom.example` the whole call.
struct Fake {
    seen: Seen,
    responds: bool,
}

impl Fake {
    fn record(&self, route: &str, context: &Context, observables: &[ParsedObservable]) {
        let credentials = context.credentials();
        let values = observables
            .iter()
            .map(|o| format!("{}:{}", o.kind().as_str(), o.value()))
            .collect();
        let credentials = json!({
            "token": credentials.str("token"),
            "region": credentials.str("region"),
        });
        self.seen.lock().unwrap().push((
            route.to_owned(),
            values,
            credentials,
            context.entities_limit(),
        ));
    }
}

fn check_cues(observables: &[ParsedObservable]) -> Result<Vec<RelayError>, RelayError> {
    let mut errors = Vec::new();
    for o in observables {
        match o.value() {
            "boom.example" => {
                return Err(RelayError::upstream(
                    UpstreamFailure::Timeout,
                    "Fake timed out",
                ));
            }
            "fail.example" => errors.push(RelayError::upstream(
                UpstreamFailure::from_status(429),
                "Fake rate limit",
            )),
            _ => {}
        }
    }
    Ok(errors)
}

#[async_trait]
impl Provider for Fake {
    fn info(&self) -> ProviderInfo {
        let mut info = ProviderInfo::new(
            "Fake Intel",
            "1.0.0",
            [ObservableType::Ip, ObservableType::Domain],
        );
        info.credentials = vec![
            CredentialField::required("token", CredentialKind::ApiKey, "the Fake Intel token"),
            CredentialField::optional("region", CredentialKind::Text, "its region"),
        ];
        info.responds = self.responds;
        info.refers = true;
        info
    }

    async fn health(&self, context: &Context) -> Result<(), RelayError> {
        context.record_upstream_calls(1);
        match context.credentials().str("token") {
            Some("revoked") => Err(RelayError::upstream(
                UpstreamFailure::Unauthorized,
                "Fake Intel refused the token",
            )),
            _ => Ok(()),
        }
    }

    async fn deliberate(
        &self,
        context: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<Vec<Verdict>>, RelayError> {
        self.record("deliberate", context, observables);
        let errors = check_cues(observables)?;
        context.record_upstream_calls(u32::try_from(observables.len()).unwrap());
        let verdicts = observables
            .iter()
            .filter(|o| !o.value().ends_with(".example"))
            .map(|o| {
                Verdict::new(
                    Disposition::Malicious,
                    o.observable().clone(),
                    ValidTime::default(),
                )
            })
            .collect();
        Ok(Outcome::with_errors(verdicts, errors))
    }

    async fn observe(
        &self,
        context: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<ObserveBundle>, RelayError> {
        self.record("observe", context, observables);
        let verdicts = self.deliberate(context, observables).await?;
        let mut bundle = ObserveBundle::default();
        bundle.verdicts = verdicts.data.into();
        context.record_cache_hits(2);
        Ok(Outcome::with_errors(bundle, verdicts.errors))
    }

    async fn refer(
        &self,
        context: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<Vec<ReferLink>>, RelayError> {
        self.record("refer", context, observables);
        let links = observables
            .iter()
            .map(|o| {
                ReferLink::new(
                    format!("ref-fake-{}", o.value()),
                    "Search Fake Intel",
                    "Lookup on Fake Intel",
                    format!("https://fake.example/{}", o.value()),
                    ["Search", "Fake Intel"],
                )
            })
            .collect();
        Ok(Outcome::new(links))
    }

    async fn respond_observables(
        &self,
        context: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<Vec<ResponseAction>>, RelayError> {
        self.record("respond", context, observables);
        let actions = observables
            .iter()
            .map(|o| ResponseAction::new("block", "Block", "Block it on Fake Intel", o))
            .collect();
        Ok(Outcome::new(actions))
    }

    async fn respond_trigger(
        &self,
        context: &Context,
        trigger: &Trigger,
    ) -> Result<TriggerStatus, RelayError> {
        let observable = format!(
            "{}:{}",
            trigger.observable.kind.as_str(),
            trigger.observable.value
        );
        self.seen.lock().unwrap().push((
            format!("trigger {}", trigger.action_id),
            vec![observable],
            Value::Object(trigger.params.clone()),
            context.entities_limit(),
        ));
        match trigger.action_id.as_str() {
            "block" => Ok(TriggerStatus::Success),
            "explode" => Err(RelayError::upstream(
                UpstreamFailure::Unavailable,
                "Fake is down",
            )),
            _ => Ok(TriggerStatus::Failure),
        }
    }
}

struct Harness {
    app: Router,
    seen: Seen,
}

fn harness(responds: bool) -> Harness {
    let seen = Seen::default();
    let mut config = RelayConfig::default();
    config.secret_key = Some(secret());
    config.entities_limit = 7;
    config.openapi = true;
    let provider = Arc::new(Fake {
        seen: Arc::clone(&seen),
        responds,
    });
    let app = xdr_relay_core::router_for(config, provider).expect("router");
    Harness { app, seen }
}

/// An HS256 token with `claims`, signed with the relay's secret.
fn token(claims: &Value) -> String {
    testkit::token::hs256(SECRET, claims)
}

fn good_token() -> String {
    token(&json!({"token": "t0k3n", "region": "eu", "key": "not declared"}))
}

impl Harness {
    async fn post(&self, path: &str, token: Option<&str>, body: &str) -> Value {
        let mut request = Request::post(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Body::from(body.to_owned())).unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn seen(&self) -> Vec<(String, Vec<String>, Value, usize)> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

#[tokio::test]
async fn the_provider_gets_its_types_parsed_once_each_and_its_credentials() {
    let relay = harness(false);
    let body = observables(&[
        ("ip", "192.0.2.1"),
        ("domain", "evil.test"),
        ("ip", "not an ip"),
        ("url", "https://evil.test/"),
        ("ip", "192.0.2.1"),
        ("domain", "evil.test"),
        ("ip", "2001:db8::1"),
        ("IP", "192.0.2.9"),
    ]);
    let answer = relay
        .post("/deliberate/observables", Some(&good_token()), &body)
        .await;
    assert_eq!(answer["data"]["verdicts"]["count"], 3, "{answer}");
    assert_eq!(
        relay.seen(),
        [(
            "deliberate".to_owned(),
            vec![
                "ip:192.0.2.1".to_owned(),
                "domain:evil.test".to_owned(),
                "ip:2001:db8::1".to_owned()
            ],
            json!({"token": "t0k3n", "region": "eu"}),
            7
        )]
    );

    // The token's CTR_ENTITIES_LIMIT wins; an optional field of the wrong kind is left out.
    let limited = token(&json!({"token": "t", "region": 5, "CTR_ENTITIES_LIMIT": 2}));
    relay
        .post("/observe/observables", Some(&limited), &body)
        .await;
    let seen = relay.seen();
    assert_eq!(seen[0].2, json!({"token": "t", "region": null}));
    assert_eq!(seen[0].3, 2);
}

#[tokio::test]
async fn tokens_without_the_required_field_never_reach_the_provider() {
    let relay = harness(true);
    let body = observables(&[("ip", "192.0.2.1")]);
    for claims in [
        json!({"key": "a Signals key is not this provider's"}),
        json!({"token": ""}),
        json!({"token": "line\nbreak"}),
        json!({"token": 42}),
    ] {
        for path in [
            "/deliberate/observables",
            "/observe/observables",
            "/refer/observables",
            "/respond/observables",
        ] {
            let answer = relay.post(path, Some(&token(&claims)), &body).await;
            assert_eq!(
                answer,
                json!({"errors": [{"type": "fatal", "code": "authorization error",
                    "message": "Authorization failed: Wrong JWT payload structure"}]}),
                "{path} {claims}"
            );
        }
    }
    let forged = testkit::token::hs256("another secret", &json!({"token": "t"}));
    let answer = relay
        .post("/observe/observables", Some(&forged), &body)
        .await;
    assert_eq!(answer["errors"][0]["code"], "authorization error");
    assert!(relay.seen().is_empty());
}

#[tokio::test]
async fn partial_data_survives_and_a_failed_call_is_one_error() {
    let relay = harness(false);
    let token = good_token();
    let some = observables(&[("ip", "192.0.2.1"), ("domain", "fail.example")]);
    let answer = relay
        .post("/observe/observables", Some(&token), &some)
        .await;
    assert_eq!(answer["data"]["verdicts"]["count"], 1, "{answer}");
    assert_eq!(
        answer["errors"],
        json!([{"type": "fatal", "code": "too many requests", "message": "Fake rate limit"}])
    );

    // Errors and nothing gathered: the errors alone, each distinct one once.
    let none = observables(&[
        ("domain", "fail.example"),
        ("domain", "fail.example"),
        ("ip", "192.0.2.1/32"),
    ]);
    let answer = relay
        .post("/deliberate/observables", Some(&token), &none)
        .await;
    assert_eq!(
        answer,
        json!({"errors": [{"type": "fatal", "code": "too many requests", "message": "Fake rate limit"}]})
    );

    let boom = observables(&[("ip", "192.0.2.1"), ("domain", "boom.example")]);
    let answer = relay
        .post("/observe/observables", Some(&token), &boom)
        .await;
    assert_eq!(
        answer,
        json!({"errors": [{"type": "fatal", "code": "service unavailable", "message": "Fake timed out"}]})
    );

    // Nothing supported: empty data, not an error.
    let answer = relay
        .post(
            "/observe/observables",
            Some(&token),
            &observables(&[("sha256", "ab")]),
        )
        .await;
    assert_eq!(answer, json!({"data": {}}));
}

#[tokio::test]
async fn health_and_refer_are_the_providers() {
    let relay = harness(false);
    let answer = relay.post("/health", Some(&good_token()), "").await;
    assert_eq!(answer, json!({"data": {"status": "ok"}}));
    let revoked = token(&json!({"token": "revoked"}));
    let answer = relay.post("/health", Some(&revoked), "").await;
    assert_eq!(
        answer,
        json!({"errors": [{"type": "fatal", "code": "authorization error",
            "message": "Authorization failed: Fake Intel refused the token"}]})
    );
    let answer = relay
        .post(
            "/refer/observables",
            Some(&good_token()),
            &observables(&[("domain", "evil.test")]),
        )
        .await;
    assert_eq!(
        answer,
        json!({"data": [{
            "id": "ref-fake-evil.test",
            "title": "Search Fake Intel",
            "description": "Lookup on Fake Intel",
            "url": "https://fake.example/evil.test",
            "categories": ["Search", "Fake Intel"],
        }]})
    );
}

#[tokio::test]
async fn without_response_actions_the_defaults_answer() {
    let relay = harness(false);
    let token = good_token();
    let answer = relay
        .post(
            "/respond/observables",
            Some(&token),
            &observables(&[("ip", "192.0.2.1")]),
        )
        .await;
    assert_eq!(answer, json!({"data": []}));
    // The body is not even read.
    let answer = relay
        .post("/respond/trigger", Some(&token), "not json")
        .await;
    assert_eq!(answer, json!({"data": {"status": "failure"}}));
    assert!(relay.seen().is_empty());
}

#[tokio::test]
async fn response_actions_are_offered_and_triggered() {
    let relay = harness(true);
    let token = good_token();
    let answer = relay
        .post(
            "/respond/observables",
            Some(&token),
            &observables(&[("ip", "192.0.2.1")]),
        )
        .await;
    assert_eq!(
        answer,
        json!({"data": [{
            "id": "block",
            "title": "Block",
            "description": "Block it on Fake Intel",
            "categories": [],
            "query-params": {"observable_type": "ip", "observable_value": "192.0.2.1"},
        }]})
    );
    relay.seen();

    let trigger = json!({"action-id": "block", "observable_type": "ip",
        "observable_value": "192.0.2.1", "extra": 1})
    .to_string();
    let answer = relay.post("/respond/trigger", Some(&token), &trigger).await;
    assert_eq!(answer, json!({"data": {"status": "success"}}));
    assert_eq!(
        relay.seen(),
        [(
            "trigger block".to_owned(),
            vec!["ip:192.0.2.1".to_owned()],
            json!({"extra": 1}),
            7
        )]
    );
    let other = json!({"action-id": "other", "observable_type": "ip", "observable_value": "x"});
    let answer = relay
        .post("/respond/trigger", Some(&token), &other.to_string())
        .await;
    assert_eq!(answer, json!({"data": {"status": "failure"}}));
    let explode = json!({"action-id": "explode", "observable_type": "ip", "observable_value": "x"});
    let answer = relay
        .post("/respond/trigger", Some(&token), &explode.to_string())
        .await;
    assert_eq!(answer["errors"][0]["code"], "service unavailable");

    // Bad bodies are reported before the token is checked.
    let answer = relay
        .post(
            "/respond/trigger",
            None,
            r#"{"action-id": "", "observable_type": 1}"#,
        )
        .await;
    assert_eq!(
        answer["errors"][0]["message"],
        r#"Invalid JSON payload received. {"action-id":["Field may not be empty."],"observable_type":["Not a valid string."],"observable_value":["Missing data for required field."]}"#
    );
    let answer = relay.post("/respond/trigger", None, "[]").await;
    assert_eq!(answer["errors"][0]["code"], "invalid argument");
    let answer = relay.post("/respond/trigger", Some(&token), "{").await;
    assert_eq!(answer["errors"][0]["code"], "invalid argument");
    let answer = relay.post("/respond/trigger", None, &trigger).await;
    assert_eq!(answer["errors"][0]["code"], "authorization error");
}

#[tokio::test]
async fn the_openapi_document_describes_the_provider() {
    let relay = harness(true);
    let request = Request::get("/openapi.json").body(Body::empty()).unwrap();
    let response = relay.app.clone().oneshot(request).await.unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), 16 << 20)
        .await
        .unwrap();
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        doc["info"]["title"],
        "Fake Intel relay for Cisco Threat Response"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["jwt"]["description"],
        "HS256, signed with the relay's SECRET_KEY; the payload carries the Fake Intel token \
         as `token`, its region as `region` (optional)."
    );
    assert_eq!(
        doc["paths"]["/deliberate/observables"]["post"]["summary"],
        "Verdicts for the supported observables (IP addresses, `domain`)."
    );
    let observables = doc["components"]["schemas"]["Observables"]["description"]
        .as_str()
        .unwrap();
    assert!(
        observables
            .contains("only `ip` values that parse as an address, `domain` values are looked up"),
        "{observables}"
    );
    let respond = &doc["paths"]["/respond/observables"]["post"]["responses"]["200"]["content"]["application/json"]
        ["schema"]["properties"]["data"];
    assert_eq!(respond["items"]["required"][4], "query-params");
    let trigger = &doc["paths"]["/respond/trigger"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    assert_eq!(trigger["required"][0], "action-id");

    // A provider without types or credentials.
    let bare = xdr_relay_core::openapi_for(&ProviderInfo::new("Bare", "1.0.0", []));
    assert_eq!(
        bare["components"]["securitySchemes"]["jwt"]["description"],
        "HS256, signed with the relay's SECRET_KEY."
    );
    let description = bare["components"]["schemas"]["Observables"]["description"]
        .as_str()
        .unwrap();
    assert!(
        description.contains("accepted; nothing is looked up."),
        "{description}"
    );
    // Fields of types relay-core does not parse are named as they are.
    let ipv6 =
        xdr_relay_core::openapi_for(&ProviderInfo::new("V6", "1.0.0", [ObservableType::Ipv6]));
    assert_eq!(
        ipv6["paths"]["/deliberate/observables"]["post"]["summary"],
        "Verdicts for the supported observables (IPv6 addresses)."
    );
}

/// A provider with nothing but the required methods, and the credential fields it is given.
struct Minimal(Vec<CredentialField>);

#[async_trait]
impl Provider for Minimal {
    fn info(&self) -> ProviderInfo {
        let mut info = ProviderInfo::new("Minimal", "1.0.0", []);
        info.credentials = self.0.clone();
        info
    }

    async fn deliberate(
        &self,
        _: &Context,
        _: &[ParsedObservable],
    ) -> Result<Outcome<Vec<Verdict>>, RelayError> {
        Ok(Outcome::default())
    }

    async fn observe(
        &self,
        _: &Context,
        _: &[ParsedObservable],
    ) -> Result<Outcome<ObserveBundle>, RelayError> {
        Ok(Outcome::default())
    }
}

#[test]
fn unusable_credential_fields_are_configuration_errors() {
    let key = CredentialField::required("key", CredentialKind::ApiKey, "a key");
    let limit =
        CredentialField::optional("CTR_ENTITIES_LIMIT", CredentialKind::PositiveInteger, "x");
    for (fields, problem) in [
        (vec![key.clone(), key], "declared twice"),
        (vec![limit], "read by relay-core"),
    ] {
        let error = xdr_relay_core::router_for(RelayConfig::default(), Arc::new(Minimal(fields)))
            .unwrap_err();
        assert!(error.to_string().contains(problem), "{error}");
        assert!(error.to_string().contains("Minimal"), "{error}");
    }
}

#[tokio::test]
async fn defaults_answer_for_a_minimal_provider() {
    let mut config = RelayConfig::default();
    config.secret_key = Some(secret());
    let app = xdr_relay_core::router_for(config, Arc::new(Minimal(Vec::new()))).unwrap();
    let relay = Harness {
        app,
        seen: Seen::default(),
    };
    let token = token(&json!({}));
    let body = observables(&[("ip", "192.0.2.1")]);
    assert_eq!(
        relay.post("/health", Some(&token), "").await,
        json!({"data": {"status": "ok"}})
    );
    assert_eq!(
        relay.post("/refer/observables", Some(&token), &body).await,
        json!({"data": []})
    );
    assert_eq!(
        relay
            .post("/observe/observables", Some(&token), &body)
            .await,
        json!({"data": {}})
    );

    // The defaults the router skips unless `responds` is set, called as a provider's own
    // tests would.
    let minimal = Minimal(Vec::new());
    let context = Context::new(Credentials::default(), 3);
    let ip = ParsedObservable::new(ObservableType::Ip, "192.0.2.1").unwrap();
    let actions = minimal
        .respond_observables(&context, std::slice::from_ref(&ip))
        .await;
    assert_eq!(actions, Ok(Outcome::new(Vec::new())));
    let trigger = Trigger::new("block", ip.observable().clone());
    assert_eq!(
        minimal.respond_trigger(&context, &trigger).await,
        Ok(TriggerStatus::Failure)
    );
    assert_eq!((context.upstream_calls(), context.cache_hits()), (0, 0));
}

/// A minimal provider whose source's relay answers a bad body with its own code.
struct OwnInvalidCode;

#[async_trait]
impl Provider for OwnInvalidCode {
    fn info(&self) -> ProviderInfo {
        ProviderInfo::new("Own Code", "1.0.0", [ObservableType::Domain])
            .refers()
            .invalid_payload_code("invalid payload received")
    }

    async fn deliberate(
        &self,
        _: &Context,
        _: &[ParsedObservable],
    ) -> Result<Outcome<Vec<Verdict>>, RelayError> {
        Ok(Outcome::default())
    }

    async fn observe(
        &self,
        _: &Context,
        _: &[ParsedObservable],
    ) -> Result<Outcome<ObserveBundle>, RelayError> {
        Ok(Outcome::default())
    }
}

#[tokio::test]
async fn a_provider_names_the_code_of_a_bad_body() {
    let mut config = RelayConfig::default();
    config.secret_key = Some(secret());
    config.max_body_bytes = 4096;
    let app = xdr_relay_core::router_for(config, Arc::new(OwnInvalidCode)).unwrap();
    let relay = Harness {
        app,
        seen: Seen::default(),
    };
    let token = token(&json!({}));
    let huge = format!(
        "[{}]",
        r#"{"type":"domain","value":"a.example"},"#.repeat(200)
    );
    for body in [
        "{}",
        "not json",
        r#"[{"type": "domain"}]"#,
        r#"[{"type": "unknown", "value": ""}]"#,
        huge.as_str(),
    ] {
        for path in [
            "/observe/observables",
            "/deliberate/observables",
            "/refer/observables",
        ] {
            let answer = relay.post(path, Some(&token), body).await;
            assert_eq!(
                answer["errors"][0]["code"], "invalid payload received",
                "{path} {body}"
            );
            let message = answer["errors"][0]["message"].as_str().unwrap();
            assert!(
                message.starts_with("Invalid JSON payload received. "),
                "{message}"
            );
        }
    }
    // A good body is answered, and a bad body with no token is still the body's error.
    let body = observables(&[("domain", "a.example")]);
    assert_eq!(
        relay
            .post("/observe/observables", Some(&token), &body)
            .await,
        json!({"data": {}})
    );
    let answer = relay.post("/observe/observables", None, "{}").await;
    assert_eq!(answer["errors"][0]["code"], "invalid payload received");
}

/// The README walks a new relay from `cargo new` to shipping it: its provider (compiled with
/// the doctests) is served by `main_for` and `run_for`, each `main` a few lines.
#[test]
fn the_readme_ships_its_relay_through_the_adapters() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("relay-core/README.md");
    let provider = readme
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README's provider");
    assert!(provider.contains("impl Provider for") && provider.contains("App::new("));
    let mains: Vec<&str> = readme
        .split("```text\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .filter(|block| block.contains("fn main()"))
        .collect();
    assert_eq!(mains.len(), 2, "{mains:?}");
    assert!(mains[0].contains("xdr_relay_server::main_for(example_relay::app())"));
    assert!(mains[1].contains("xdr_relay_lambda::run_for(example_relay::app())"));
    for main in mains {
        assert!(main.lines().count() <= 5, "{main}");
    }
}

// Dashboard tiles.

use xdr_relay_core::ctim_model::Timestamp;
use xdr_relay_core::tiles::{
    Bar, BarKey, BarValue, ChartKey, KeyType, Metric, Period, Tile, TileContent, TileData, TileType,
};

/// When the `Dashboard`'s data ends.
const NOW: &str = "2024-05-01T12:00:00Z";

/// A provider with three tiles: `counts` (a metric group, two periods), `per_day` (a bar
/// chart) and `broken` (a markdown tile whose data is a metric group: a provider's bug).
/// `per_day` fails for `last_30_days`.
struct Dashboard {
    asked: Arc<Mutex<Vec<(String, Period, Value)>>>,
}

fn dashboard_tiles() -> Vec<Tile> {
    vec![
        Tile::new("counts", TileType::MetricGroup, "Counts")
            .description("What Dashboard counted.")
            .periods([Period::Last24Hours, Period::Last7Days]),
        Tile::new("per_day", TileType::VerticalBarChart, "Per day")
            .periods([Period::Last7Days, Period::Last30Days])
            .tags(["Dashboard", "Per day"]),
        Tile::new("broken", TileType::Markdown, "Broken"),
    ]
}

#[async_trait]
impl Provider for Dashboard {
    fn info(&self) -> ProviderInfo {
        ProviderInfo::new("Dashboard", "1.0.0", [ObservableType::Ip])
            .credential(CredentialField::required(
                "token",
                CredentialKind::ApiKey,
                "the token",
            ))
            .tiles(dashboard_tiles())
    }

    async fn deliberate(
        &self,
        _: &Context,
        _: &[ParsedObservable],
    ) -> Result<Outcome<Vec<Verdict>>, RelayError> {
        Ok(Outcome::default())
    }

    async fn observe(
        &self,
        _: &Context,
        _: &[ParsedObservable],
    ) -> Result<Outcome<ObserveBundle>, RelayError> {
        Ok(Outcome::default())
    }

    async fn tile_data(
        &self,
        context: &Context,
        tile: &Tile,
        period: Period,
    ) -> Result<TileData, RelayError> {
        let token = json!(context.credentials().str("token"));
        self.asked
            .lock()
            .unwrap()
            .push((tile.id.clone(), period, token));
        let now = Timestamp::parse(NOW).unwrap();
        let content = match (tile.id.as_str(), period) {
            ("per_day", Period::Last30Days) => {
                return Err(RelayError::upstream(
                    UpstreamFailure::Unavailable,
                    "Dashboard is down",
                ));
            }
            ("per_day", _) => TileContent::bar_chart(
                [ChartKey::new("hits", "Hits")],
                KeyType::Timestamp,
                [Bar::new(
                    BarKey::at(Timestamp::parse("2024-04-30T12:00:00Z").unwrap()),
                    [BarValue::new("hits", 3).tooltip("Hits: 3")],
                )
                .label("2024-04-30")],
            ),
            _ => TileContent::metric_group([Metric::new("Hits", 3).icon("warning")]),
        };
        Ok(TileData::for_period(period, now, content))
    }
}

type Asked = Arc<Mutex<Vec<(String, Period, Value)>>>;

fn dashboard() -> (Harness, Asked) {
    let asked = Asked::default();
    let mut config = RelayConfig::default();
    config.secret_key = Some(secret());
    config.openapi = true;
    config.max_body_bytes = 4096;
    let provider = Arc::new(Dashboard {
        asked: Arc::clone(&asked),
    });
    let app = xdr_relay_core::router_for(config, provider).unwrap();
    let harness = Harness {
        app,
        seen: Seen::default(),
    };
    (harness, asked)
}

fn tile_token() -> String {
    token(&json!({"token": "t0k3n"}))
}

#[tokio::test]
async fn tiles_are_listed_described_and_filled_in_ciscos_shapes() {
    let (relay, asked) = dashboard();
    let token = tile_token();
    let counts = json!({
        "id": "counts", "type": "metric_group", "title": "Counts", "tags": ["counts"],
        "description": "What Dashboard counted.", "short_description": "Counts",
        "periods": ["last_24_hours", "last_7_days"], "default_period": "last_7_days"
    });
    for path in ["/tiles", "/tiles/"] {
        for body in ["", "{}", "not json"] {
            let answer = relay.post(path, Some(&token), body).await;
            assert_eq!(answer["data"].as_array().unwrap().len(), 3, "{answer}");
            assert_eq!(answer["data"][0], counts);
            assert_eq!(answer["data"][1]["tags"], json!(["Dashboard", "Per day"]));
        }
    }
    let answer = relay
        .post("/tiles/tile", Some(&token), r#"{"tile_id": "counts"}"#)
        .await;
    assert_eq!(answer, json!({"data": counts}));

    let answer = relay
        .post(
            "/tiles/tile-data/",
            Some(&token),
            r#"{"tile_id": "counts", "period": "last_24_hours"}"#,
        )
        .await;
    assert_eq!(
        answer,
        json!({"data": {
            "valid_time": {"start_time": "2024-04-30T12:00:00.000Z", "end_time": "2024-05-01T12:00:00.000Z"},
            "observed_time": {"start_time": "2024-04-30T12:00:00.000Z", "end_time": "2024-05-01T12:00:00.000Z"},
            "cache_scope": "none",
            "data": [{"icon": "warning", "label": "Hits", "value": 3, "value_unit": "integer"}]
        }})
    );
    let answer = relay
        .post(
            "/tiles/tile-data",
            Some(&token),
            r#"{"tile_id": "per_day", "period": "last_7_days", "extra": true}"#,
        )
        .await;
    assert_eq!(
        answer["data"],
        json!({
            "valid_time": {"start_time": "2024-04-24T12:00:00.000Z", "end_time": "2024-05-01T12:00:00.000Z"},
            "observed_time": {"start_time": "2024-04-24T12:00:00.000Z", "end_time": "2024-05-01T12:00:00.000Z"},
            "cache_scope": "none",
            "keys": [{"key": "hits", "label": "Hits"}],
            "key_type": "timestamp",
            "data": [{"key": 1_714_478_400_000_i64, "label": "2024-04-30", "value": 3,
                      "values": [{"key": "hits", "value": 3, "tooltip": "Hits: 3"}]}]
        })
    );
    // The provider was asked with the caller's credentials, for tiles and periods it offers.
    assert_eq!(
        *asked.lock().unwrap(),
        [
            ("counts".to_owned(), Period::Last24Hours, json!("t0k3n")),
            ("per_day".to_owned(), Period::Last7Days, json!("t0k3n")),
        ]
    );

    // The answers are what the OpenAPI document says.
    let request = Request::get("/openapi.json").body(Body::empty()).unwrap();
    let response = relay.app.clone().oneshot(request).await.unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), 16 << 20)
        .await
        .unwrap();
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    let description = doc["paths"]["/tiles/tile-data"]["post"]["description"]
        .as_str()
        .unwrap();
    assert!(
        description.contains("`per_day` (vertical_bar_chart: last_7_days, last_30_days)"),
        "{description}"
    );
    let schema_of = |path: &str| {
        let mut schema =
            doc["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
                .clone();
        schema["components"] = doc["components"].clone();
        jsonschema::draft202012::new(&schema).unwrap()
    };
    let list = relay.post("/tiles", Some(&token), "").await;
    assert!(schema_of("/tiles").is_valid(&list), "{list}");
    assert!(schema_of("/tiles/tile").is_valid(&json!({"data": counts})));
    assert!(schema_of("/tiles/tile-data").is_valid(&answer), "{answer}");
    assert!(!schema_of("/tiles/tile-data").is_valid(&json!({"data": {"data": []}})));
}

#[tokio::test]
async fn hostile_tile_requests_get_the_relays_envelope() {
    let (relay, asked) = dashboard();
    let bearer = tile_token();
    let invalid = |message: &str| json!({"errors": [{"type": "fatal", "code": "invalid argument", "message": message}]});
    let missing =
        "Invalid JSON payload received. {\"tile_id\":[\"Missing data for required field.\"]}";
    let periods = "Invalid JSON payload received. {\"period\":[\"Must be one of: last_hour, \
                   last_24_hours, last_7_days, last_30_days, last_60_days, last_90_days.\"]}";
    for (path, body, expected) in [
        (
            "/tiles/tile",
            r#"{"tile_id": "nope"}"#,
            invalid("Invalid tile id"),
        ),
        ("/tiles/tile", r#"{"tile-id": "counts"}"#, invalid(missing)),
        (
            "/tiles/tile",
            r#"{"tile_id": ["counts"]}"#,
            invalid("Invalid JSON payload received. {\"tile_id\":[\"Not a valid string.\"]}"),
        ),
        (
            "/tiles/tile",
            r#"[{"tile_id": "counts"}]"#,
            invalid(
                "Invalid JSON payload received. {\"_schema\":[\"Invalid input type: expected an object.\"]}",
            ),
        ),
        (
            "/tiles/tile-data",
            r#"{"tile_id": "nope", "period": "last_7_days"}"#,
            invalid("Invalid tile id"),
        ),
        (
            "/tiles/tile-data",
            r#"{"tile_id": "counts", "period": "last_90_days"}"#,
            invalid(
                "Invalid JSON payload received. {\"period\":[\"Must be one of: last_24_hours, last_7_days.\"]}",
            ),
        ),
        (
            "/tiles/tile-data",
            r#"{"tile_id": "counts", "period": "last_year"}"#,
            invalid(periods),
        ),
        (
            "/tiles/tile-data",
            r#"{"tile_id": "counts", "period": null}"#,
            invalid("Invalid JSON payload received. {\"period\":[\"Not a valid string.\"]}"),
        ),
        (
            "/tiles/tile-data",
            r#"{"tile_id": "counts"}"#,
            invalid(
                "Invalid JSON payload received. {\"period\":[\"Missing data for required field.\"]}",
            ),
        ),
        // The provider's failure is its error; data that does not fit the tile is `unknown`.
        (
            "/tiles/tile-data",
            r#"{"tile_id": "per_day", "period": "last_30_days"}"#,
            json!({"errors": [{"type": "fatal", "code": "service unavailable", "message": "Dashboard is down"}]}),
        ),
        (
            "/tiles/tile-data",
            r#"{"tile_id": "broken", "period": "last_7_days"}"#,
            json!({"errors": [{"type": "fatal", "code": "unknown",
                "message": "The relay's data for the tile \"broken\" does not fit its type markdown."}]}),
        ),
    ] {
        assert_eq!(
            relay.post(path, Some(&bearer), body).await,
            expected,
            "{path} {body}"
        );
    }
    for path in ["/tiles/tile", "/tiles/tile-data"] {
        for body in ["", "{", "null", "\"counts\""] {
            let answer = relay.post(path, Some(&bearer), body).await;
            assert_eq!(
                answer["errors"][0]["code"], "invalid argument",
                "{path} {body:?}"
            );
            assert!(answer.get("data").is_none());
        }
    }

    // Bad bodies are reported before the token is checked; good ones need a token.
    let good = r#"{"tile_id": "counts", "period": "last_7_days"}"#;
    let answer = relay
        .post(
            "/tiles/tile-data",
            None,
            r#"{"tile_id": "counts", "period": "x"}"#,
        )
        .await;
    assert_eq!(answer, invalid(periods));
    let no_token = json!({"errors": [{"type": "fatal", "code": "authorization error",
        "message": "Authorization failed: Authorization header is missing"}]});
    for (path, body) in [
        ("/tiles", ""),
        ("/tiles/tile", r#"{"tile_id": "counts"}"#),
        ("/tiles/tile-data", good),
    ] {
        assert_eq!(relay.post(path, None, body).await, no_token, "{path}");
        let wrong_field = token(&json!({"key": "not the token field"}));
        let answer = relay.post(path, Some(&wrong_field), body).await;
        assert_eq!(answer["errors"][0]["code"], "authorization error", "{path}");
        // Over the body limit (4 KiB here): `invalid argument`, whatever the token.
        let huge = format!("{{\"tile_id\": \"{}\"}}", "x".repeat(8192));
        let answer = relay.post(path, Some(&bearer), &huge).await;
        assert_eq!(answer["errors"][0]["code"], "invalid argument", "{path}");
        assert!(
            answer["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("Request body too large or unreadable (at most 4096 bytes)"),
            "{answer}"
        );
    }
    // Only the two calls that reached the provider.
    let asked: Vec<String> = asked.lock().unwrap().iter().map(|a| a.0.clone()).collect();
    assert_eq!(asked, ["per_day", "broken"]);
}

#[tokio::test]
async fn without_tiles_the_routes_answer_as_ciscos_template() {
    let relay = harness(true);
    let token = good_token();
    assert_eq!(
        relay.post("/tiles", Some(&token), "").await,
        json!({"data": []})
    );
    assert_eq!(
        relay.post("/tiles/", Some(&token), "{}").await,
        json!({"data": []})
    );
    assert_eq!(
        relay
            .post("/tiles/tile", Some(&token), r#"{"tile_id": "anything"}"#)
            .await,
        json!({"data": {}})
    );
    assert_eq!(
        relay
            .post(
                "/tiles/tile-data",
                Some(&token),
                r#"{"tile_id": "anything", "period": "last_7_days"}"#,
            )
            .await,
        json!({"data": {}})
    );
    // The body is still checked, and the token.
    let answer = relay
        .post(
            "/tiles/tile-data",
            Some(&token),
            r#"{"tile_id": "anything", "period": "yesterday"}"#,
        )
        .await;
    assert_eq!(answer["errors"][0]["code"], "invalid argument");
    let answer = relay
        .post("/tiles/tile", Some(&token), r#"{"tile_id": ""}"#)
        .await;
    assert_eq!(answer["errors"][0]["code"], "invalid argument");
    let answer = relay.post("/tiles", None, "").await;
    assert_eq!(answer["errors"][0]["code"], "authorization error");
    assert!(relay.seen().is_empty());

    // The document says so.
    let doc = xdr_relay_core::openapi_for(
        &Fake {
            seen: Seen::default(),
            responds: false,
        }
        .info(),
    );
    assert_eq!(
        doc["paths"]["/tiles"]["post"]["summary"],
        "Dashboard tiles: this module has none."
    );

    // The default `tile_data`, for a provider that declares tiles without data.
    let minimal = Minimal(Vec::new());
    let context = Context::new(Credentials::default(), 3);
    let tile = Tile::new("t", TileType::Markdown, "T");
    let error = minimal
        .tile_data(&context, &tile, Period::Last7Days)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "unknown");
}

#[test]
fn unusable_tiles_are_configuration_errors() {
    struct Twice;
    #[async_trait]
    impl Provider for Twice {
        fn info(&self) -> ProviderInfo {
            let tile = Tile::new("t", TileType::Markdown, "T");
            ProviderInfo::new("Twice", "1.0.0", []).tiles([tile.clone(), tile])
        }
        async fn deliberate(
            &self,
            _: &Context,
            _: &[ParsedObservable],
        ) -> Result<Outcome<Vec<Verdict>>, RelayError> {
            Ok(Outcome::default())
        }
        async fn observe(
            &self,
            _: &Context,
            _: &[ParsedObservable],
        ) -> Result<Outcome<ObserveBundle>, RelayError> {
            Ok(Outcome::default())
        }
    }
    let error = xdr_relay_core::router_for(RelayConfig::default(), Arc::new(Twice)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid relay configuration: provider Twice: the tile \"t\" is declared twice"
    );
}

#[test]
fn the_module_type_lists_tiles_only_for_a_dashboard() {
    use xdr_relay_core::{ModuleAuth, module_type};
    let auth = ModuleAuth::SecretKey { key: None };
    let info = Dashboard {
        asked: Asked::default(),
    }
    .info();
    let module = serde_json::to_value(module_type(&info, "https://r", auth)).unwrap();
    let ids: Vec<&str> = testkit::json::field(&module["capabilities"], "id");
    assert_eq!(ids, ["health", "deliberate", "observe", "tiles"]);
    assert_eq!(
        module["properties"]["supported-apis"],
        json!([
            "health",
            "deliberate/observables",
            "observe/observables",
            "tiles",
            "tiles/tile",
            "tiles/tile-data"
        ])
    );
    let plain = Minimal(Vec::new()).info();
    let module = serde_json::to_value(module_type(&plain, "https://r", auth)).unwrap();
    assert!(!module.to_string().contains("tiles"), "{module}");
}

/// `JsonApi`: one call per request, against a stand-in upstream on 127.0.0.1.
mod json_api {
    use std::time::Duration;

    use serde_json::json;
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    use xdr_relay_core::reqwest::Url;
    use xdr_relay_core::{
        Context, Credentials, JsonApi, Upstream, UpstreamLimits, sensitive_header,
    };

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Host {
        ports: Vec<u16>,
    }

    fn api(limits: UpstreamLimits, timeout_ms: u64) -> JsonApi {
        let upstream =
            Upstream::with_limits("internetdb", limits).display_name("Shodan InternetDB");
        JsonApi::new(
            upstream,
            "test-relay/1.0",
            Duration::from_millis(timeout_ms),
        )
        .unwrap()
        .nothing_on(404)
        .max_body(1024)
    }

    fn url(server: &MockServer, path: &str) -> Url {
        format!("{}/{path}", server.uri()).parse().unwrap()
    }

    fn context() -> Context {
        Context::new(Credentials::default(), 100)
    }

    #[tokio::test]
    async fn a_call_reads_json_maps_statuses_and_treats_nothing_as_none() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/192.0.2.1"))
            .and(header("user-agent", "test-relay/1.0"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ports": [22, 443]})))
            .mount(&server)
            .await;
        Mock::given(path("/192.0.2.2"))
            .respond_with(
                ResponseTemplate::new(404)
                    .set_body_json(json!({"detail": "No information available"})),
            )
            .mount(&server)
            .await;
        Mock::given(path("/192.0.2.3"))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("retry-after", "60")
                    .set_body_json(json!({"detail": "Slow down, key s3cr3t"})),
            )
            .mount(&server)
            .await;
        Mock::given(path("/192.0.2.4"))
            .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(4096)))
            .mount(&server)
            .await;
        Mock::given(path("/192.0.2.5"))
            .respond_with(ResponseTemplate::new(200).set_body_string("{\"ports\": \"none\"}"))
            .mount(&server)
            .await;
        Mock::given(path("/192.0.2.6"))
            .respond_with(ResponseTemplate::new(520).set_body_string("<html>origin error</html>"))
            .mount(&server)
            .await;
        let api = api(UpstreamLimits::default(), 2_000);
        let context = context();

        let host: Option<Host> = api
            .json(&context, api.get(url(&server, "192.0.2.1")))
            .await
            .unwrap();
        assert_eq!(
            host,
            Some(Host {
                ports: vec![22, 443]
            })
        );
        let nothing: Option<Host> = api
            .json(&context, api.get(url(&server, "192.0.2.2")))
            .await
            .unwrap();
        assert_eq!(nothing, None);

        let request = api
            .get(url(&server, "192.0.2.3"))
            .header("x-key", sensitive_header("s3cr3t").unwrap());
        let limited = api.json::<Host>(&context, request).await.unwrap_err();
        assert_eq!(limited.code(), "too many requests");
        assert_eq!(
            limited.to_string(),
            "Slow down, key <redacted> Retry after 60 seconds."
        );

        let large = api
            .json::<Host>(&context, api.get(url(&server, "192.0.2.4")))
            .await
            .unwrap_err();
        assert!(
            large
                .to_string()
                .contains("Shodan InternetDB's answer is larger than 1 KiB"),
            "{large}"
        );
        let unreadable = api
            .json::<Host>(&context, api.get(url(&server, "192.0.2.5")))
            .await
            .unwrap_err();
        assert!(
            unreadable
                .to_string()
                .starts_with("Shodan InternetDB sent an answer that could not be read"),
            "{unreadable}"
        );
        let odd = api
            .json::<Host>(&context, api.get(url(&server, "192.0.2.6")))
            .await
            .unwrap_err();
        assert_eq!(odd.to_string(), "Shodan InternetDB answered HTTP 520.");
        assert_eq!(context.upstream_calls(), 6);
    }

    #[tokio::test]
    async fn a_call_never_outlives_the_requests_deadline() {
        let server = MockServer::start().await;
        Mock::given(path("/slow"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_delay(Duration::from_secs(5))
                    .set_body_json(json!({"ports": []})),
            )
            .mount(&server)
            .await;
        // The API's own timeout is long; the request has 200 ms left.
        let api = api(UpstreamLimits::default(), 30_000);
        let context =
            context().with_deadline(tokio::time::Instant::now() + Duration::from_millis(200));
        let error = api
            .json::<Host>(&context, api.get(url(&server, "slow")))
            .await
            .unwrap_err();
        // Without the bound the stand-in would answer, after 5 s, with a success.
        assert_eq!(error.code(), "service unavailable", "{error}");
        // The API's own timeout, shorter than the time left.
        let api = self::api(UpstreamLimits::default(), 100);
        let error = api
            .json::<Host>(&self::context(), api.get(url(&server, "slow")))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("Shodan InternetDB"), "{error}");
    }

    #[tokio::test]
    async fn a_probe_is_ok_for_an_answer_and_the_breaker_names_the_relay() {
        let server = MockServer::start().await;
        Mock::given(path("/8.8.8.8"))
            .respond_with(ResponseTemplate::new(404))
            .mount(&server)
            .await;
        Mock::given(path("/down"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&server)
            .await;
        let mut limits = UpstreamLimits::default();
        limits.breaker_failures = 2;
        limits.breaker_cool_down = Duration::from_secs(60);
        let api = api(limits, 2_000);
        let context = context();
        api.probe(&context, api.get(url(&server, "8.8.8.8")))
            .await
            .unwrap();
        for _ in 0..2 {
            let down = api
                .probe(&context, api.get(url(&server, "down")))
                .await
                .unwrap_err();
            assert_eq!(down.code(), "service unavailable");
        }
        let refused = api
            .probe(&context, api.get(url(&server, "8.8.8.8")))
            .await
            .unwrap_err();
        assert!(
            refused
                .to_string()
                .starts_with("Shodan InternetDB is failing: its calls are paused"),
            "{refused}"
        );
        assert_eq!(server.received_requests().await.unwrap().len(), 3);
    }
}

/// A provider that writes only `observe`: `deliberate` answers its verdicts and errors.
struct ObserveOnly;

#[async_trait]
impl Provider for ObserveOnly {
    fn info(&self) -> ProviderInfo {
        ProviderInfo::new("Observe Only", "1.0.0", [ObservableType::Ip])
    }

    async fn observe(
        &self,
        _: &Context,
        observables: &[ParsedObservable],
    ) -> Result<Outcome<ObserveBundle>, RelayError> {
        let mut bundle = ObserveBundle::default();
        let mut errors = Vec::new();
        for o in observables {
            if o.value() == "192.0.2.66" {
                errors.push(RelayError::Unknown("this one failed".into()));
            } else {
                let verdict = Verdict::new(
                    Disposition::Clean,
                    o.observable().clone(),
                    ValidTime::default(),
                );
                bundle.verdicts.push(verdict);
            }
        }
        Ok(Outcome::with_errors(bundle, errors))
    }
}

#[tokio::test]
async fn deliberate_defaults_to_the_verdicts_of_observe() {
    let mut config = RelayConfig::default();
    config.secret_key = Some(secret());
    let app = xdr_relay_core::router_for(config, Arc::new(ObserveOnly)).unwrap();
    let harness = Harness {
        app,
        seen: Seen::default(),
    };
    let body = observables(&[("ip", "192.0.2.1"), ("ip", "192.0.2.66")]);
    let answer = harness
        .post("/deliberate/observables", Some(&good_token()), &body)
        .await;
    assert_eq!(answer["data"]["verdicts"]["count"], 1, "{answer}");
    assert_eq!(
        answer["data"]["verdicts"]["docs"][0]["observable"]["value"],
        "192.0.2.1"
    );
    assert_eq!(
        answer["errors"][0]["message"], "this one failed",
        "{answer}"
    );
}
