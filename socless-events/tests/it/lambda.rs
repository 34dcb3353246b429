//! `socless_events::lambda`: the event endpoint's one call, answered through
//! `Endpoint::handle` on the embedded store as Lambda would call it (a request with the
//! invocation's context), and the README's first endpoint kept byte for byte the example.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt};
use serde_json::{Value, json};
use socless_events::auth::{
    EndpointAuth, SLACK_SIGNATURE_HEADER, SLACK_TIMESTAMP_HEADER, SharedToken, SlackV0Verifier,
};
use socless_events::lambda::{Endpoint, EndpointSettings};
use socless_events::{LocalLauncher, LocalStore};

const ALERT: &str = include_str!("../../examples/data/investigate_login_alert.json");
const TOKEN: &str = "tutorial-token";
const SLACK_SECRET: &str = "slack-signing-secret";
const FUNCTION_ARN: &str = "arn:aws:lambda:eu-west-3:123456789012:function:_socless_tutorial";

/// A SQLite file removed on drop.
struct Db(std::path::PathBuf);

impl Drop for Db {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

fn db() -> Db {
    Db(std::env::temp_dir().join(format!(
        "socless-lambda-{}.sqlite",
        uuid::Uuid::new_v4().simple()
    )))
}

/// The tutorial's mapping.
fn tutorial(alert: Value) -> Value {
    json!({
        "event_type": alert["alert_name"],
        "playbook": alert["response_plan"],
        "details": alert["details"],
    })
}

async fn endpoint(db: &Db, adjust: impl FnOnce(&mut EndpointSettings)) -> Endpoint {
    let mut settings = EndpointSettings::default();
    settings.local_db = Some(db.0.clone());
    settings.playbooks = Some(vec!["InvestigateLogin".into()]);
    adjust(&mut settings);
    let auth = EndpointAuth::new(
        Some(SharedToken::new(TOKEN).unwrap()),
        Some(SlackV0Verifier::new(SLACK_SECRET).unwrap()),
    );
    Endpoint::new(settings, auth).await.unwrap()
}

/// A request as Lambda hands it over: `headers`, `body`, and the invocation's `function_arn`.
fn request(headers: &[(&str, &str)], body: &str, function_arn: &str) -> Request {
    let mut request = Request::new(Body::from(body.to_owned()));
    for (name, value) in headers {
        request.headers_mut().insert(
            lambda_http::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let mut context = lambda_http::Context::default();
    context.invoked_function_arn = function_arn.to_owned();
    request.with_lambda_context(context)
}

async fn call(endpoint: &Endpoint, headers: &[(&str, &str)], body: &str) -> (StatusCode, Value) {
    let response = endpoint
        .handle(request(headers, body, FUNCTION_ARN), &tutorial)
        .await;
    assert_eq!(response.headers()["content-type"], "application/json");
    let status = response.status();
    (
        status,
        serde_json::from_slice(response.body().as_ref()).unwrap(),
    )
}

const BEARER: [(&str, &str); 1] = [("authorization", "Bearer tutorial-token")];

#[tokio::test]
async fn the_tutorial_alert_is_recorded_and_its_playbook_started_in_the_functions_account() {
    let db = db();
    let endpoint = endpoint(&db, |_| {}).await;
    let (status, reply) = call(&endpoint, &BEARER, ALERT).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        reply["events"][0]["event"]["event_type"],
        "Suspicious Login"
    );
    assert_eq!(reply["execution_reports"][0]["error"], "");
    // The account and region of the invoked function, not the local fallback.
    assert_eq!(
        reply["execution_reports"][0]["statemachinearn"],
        "arn:aws:states:eu-west-3:123456789012:stateMachine:InvestigateLogin"
    );
    let started = LocalLauncher::open(&db.0)
        .unwrap()
        .executions()
        .await
        .unwrap();
    assert_eq!(started.len(), 1);
    assert_eq!(
        started[0].input["artifacts"]["event"]["details"]["ip"],
        "113.63.125.3"
    );
    let stored = LocalStore::open(&db.0).unwrap().contents().await.unwrap();
    assert_eq!(stored.events.len(), 1);
    assert_eq!(stored.results.len(), 1);
}

#[tokio::test]
async fn off_lambda_the_account_and_region_come_from_the_settings() {
    let db = db();
    let endpoint = endpoint(&db, |s| {
        s.account_id = Some("111122223333".into());
        s.region = Some("cn-north-1".into());
    })
    .await;
    // `cargo lambda watch` hands the function no real ARN.
    let response = endpoint
        .handle(request(&BEARER, ALERT, "function-arn"), &tutorial)
        .await;
    let reply: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{reply}");
    assert_eq!(
        reply["execution_reports"][0]["statemachinearn"],
        "arn:aws-cn:states:cn-north-1:111122223333:stateMachine:InvestigateLogin"
    );
    // With nothing set, the embedded backend's defaults.
    let db = self::db();
    let endpoint = self::endpoint(&db, |_| {}).await;
    let response = endpoint
        .handle(request(&BEARER, ALERT, ""), &tutorial)
        .await;
    let reply: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(
        reply["execution_reports"][0]["statemachinearn"],
        "arn:aws:states:us-east-1:000000000000:stateMachine:InvestigateLogin"
    );
}

#[tokio::test]
async fn a_slack_signed_alert_is_accepted() {
    let db = db();
    let endpoint = endpoint(&db, |_| {}).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signature = SlackV0Verifier::new(SLACK_SECRET)
        .unwrap()
        .sign(now, ALERT.as_bytes());
    let timestamp = now.to_string();
    let sent = [
        (SLACK_TIMESTAMP_HEADER, timestamp.as_str()),
        (SLACK_SIGNATURE_HEADER, signature.as_str()),
    ];
    let (status, reply) = call(&endpoint, &sent, ALERT).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
}

#[tokio::test]
async fn forbidden_requests_write_nothing() {
    let db = db();
    let endpoint = endpoint(&db, |_| {}).await;
    let stale = SlackV0Verifier::new(SLACK_SECRET)
        .unwrap()
        .sign(1_000_000_000, ALERT.as_bytes());
    let refused: [&[(&str, &str)]; 3] = [
        &[],
        &[("authorization", "Bearer wrong")],
        &[
            (SLACK_TIMESTAMP_HEADER, "1000000000"),
            (SLACK_SIGNATURE_HEADER, stale.as_str()),
        ],
    ];
    for headers in refused {
        let (status, reply) = call(&endpoint, headers, ALERT).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(reply, json!({"error": "forbidden"}));
    }
    // No check configured: every request is refused, the right token included.
    let mut settings = EndpointSettings::default();
    settings.local_db = Some(db.0.clone());
    let open = Endpoint::new(settings, EndpointAuth::default())
        .await
        .unwrap();
    let (status, _) = call(&open, &BEARER, ALERT).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let stored = LocalStore::open(&db.0).unwrap().contents().await.unwrap();
    assert!(stored.events.is_empty());
}

#[tokio::test]
async fn bad_alerts_are_400_with_the_reason_and_write_nothing() {
    let db = db();
    let endpoint = endpoint(&db, |s| s.max_details = 3).await;
    for (body, error) in [
        (
            "{",
            "the body is not JSON: EOF while parsing an object at line 1 column 1",
        ),
        (
            r#"{"alert_name": "A", "response_plan": "P", "details": "x"}"#,
            "Error: Supplied 'details' is not a dictionary",
        ),
        (
            r#"{"response_plan": "P", "details": {}}"#,
            "Error: Supplied 'event_type' is not a string",
        ),
        (
            r#"{"alert_name": "A", "response_plan": "Investigate Login", "details": {}}"#,
            "Error: Supplied Playbook is not a valid state machine name: ' ' (a space) at \
             character 12 is not allowed",
        ),
        (
            r#"{"alert_name": "A", "response_plan": "P", "details": [{}, {}, {}, {}]}"#,
            "Error: Supplied 'details' has 4 entries, over this endpoint's limit of 3 \
             (SOCLESS_MAX_DETAILS)",
        ),
        (
            r#"{"alert_name": "A", "response_plan": "P", "details": []}"#,
            "Error: Supplied 'details' is an empty list",
        ),
    ] {
        let (status, reply) = call(&endpoint, &BEARER, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply, json!({ "error": error }), "{body}");
    }
    let stored = LocalStore::open(&db.0).unwrap().contents().await.unwrap();
    assert!(stored.events.is_empty());
}

#[tokio::test]
async fn a_mapping_may_refuse_an_alert() {
    let db = db();
    let endpoint = endpoint(&db, |_| {}).await;
    let strict = |alert: Value| match alert.get("alert_name") {
        Some(_) => Ok(tutorial(alert)),
        None => Err("the alert has no 'alert_name'"),
    };
    let response = endpoint
        .handle(request(&BEARER, "{}", FUNCTION_ARN), &strict)
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let reply: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(reply, json!({"error": "the alert has no 'alert_name'"}));
}

#[tokio::test]
async fn a_playbook_not_deployed_is_400_with_socless_pythons_text_and_the_reports() {
    let db = db();
    let endpoint = endpoint(&db, |_| {}).await;
    let alert = ALERT.replace("InvestigateLogin", "InvestigateLogn");
    let (status, reply) = call(&endpoint, &BEARER, &alert).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    let error = reply["error"].as_str().unwrap();
    assert!(
        error.starts_with(
            "1 of 1 events failed to start playbooks.\n Failure Reports: \n \
             [StartExecutionReport(investigation_id='"
        ),
        "{error}"
    );
    assert!(error.contains("(StateMachineDoesNotExist)"), "{error}");
    assert_eq!(reply["execution_reports"].as_array().unwrap().len(), 1);
    assert_eq!(reply["events"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_start_that_fails_for_the_services_sake_is_500() {
    let db = db();
    // Nothing listens on port 9 of 127.0.0.1: the webhook's POST fails.
    let endpoint = endpoint(&db, |s| s.webhook = Some("http://127.0.0.1:9/start".into())).await;
    let (status, reply) = call(&endpoint, &BEARER, ALERT).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{reply}");
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .starts_with("1 of 1 events failed to start playbooks.")
    );
}

#[tokio::test]
async fn an_answer_over_the_limit_keeps_ids_and_reports_and_says_so() {
    let db = db();
    let endpoint = endpoint(&db, |s| s.max_response_bytes = 3_000).await;
    let details: Vec<Value> = (0..3)
        .map(|i| json!({"n": i, "blob": "x".repeat(1_000)}))
        .collect();
    let alert =
        json!({"alert_name": "Big", "response_plan": "InvestigateLogin", "details": details});
    let (status, reply) = call(&endpoint, &BEARER, &alert.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    let note = reply["truncated"].as_str().unwrap();
    assert!(
        note.contains("over the 3000-byte limit (SOCLESS_MAX_RESPONSE_BYTES)"),
        "{note}"
    );
    let events = reply["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.get("event").is_none()));
    assert!(events.iter().all(|e| e["metadata"]["_id"].is_string()));
    assert_eq!(reply["execution_reports"].as_array().unwrap().len(), 3);
    // Tighter still: counts only.
    let endpoint = self::endpoint(&db, |s| s.max_response_bytes = 200).await;
    let (_, reply) = call(&endpoint, &BEARER, &alert.to_string()).await;
    assert_eq!(reply["events"], 3);
    assert_eq!(reply["playbooks_started"], 3);
    assert!(reply.to_string().len() <= 300, "{reply}");
}

/// The README's "Your first endpoint in Rust" is `examples/first_endpoint.rs` (built by
/// `cargo test`), so the snippet users copy always compiles.
#[test]
fn the_readmes_first_endpoint_is_the_example() {
    let readme = testkit::testdata::repo_text("socless-events/README.md");
    let example = testkit::testdata::repo_text("socless-events/examples/first_endpoint.rs");
    let snippet = readme
        .split("```rust,no_run\n")
        .map(|block| block.split("```").next().unwrap_or_default())
        .find(|block| block.contains("socless_events::lambda::run"))
        .expect("the README shows the first endpoint");
    assert_eq!(snippet, example);
    assert!(example.lines().count() <= 20);
}

#[tokio::test]
async fn no_event_begins_past_the_invocations_deadline() {
    let db = db();
    let endpoint = endpoint(&db, |_| {}).await;
    let mut context = lambda_http::Context::default();
    context.invoked_function_arn = FUNCTION_ARN.to_owned();
    // Lambda's deadline in ms since the epoch: 500 ms from now, inside the 1 s margin.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    context.deadline = u64::try_from(now.as_millis()).unwrap() + 500;
    let request = Request::new(Body::from(ALERT)).with_lambda_context(context);
    let mut request = request;
    request
        .headers_mut()
        .insert("authorization", "Bearer tutorial-token".parse().unwrap());
    let response = endpoint.handle(request, &tutorial).await;
    let reply: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(
        response.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "{reply}"
    );
    assert_eq!(reply["events"], json!([]), "{reply}");
    let stored = LocalStore::open(&db.0).unwrap().contents().await.unwrap();
    assert!(stored.events.is_empty());
}

#[tokio::test]
async fn an_emulators_deadline_that_is_a_duration_bounds_nothing() {
    let db = db();
    let endpoint = endpoint(&db, |_| {}).await;
    let mut context = lambda_http::Context::default();
    // What `cargo lambda watch` hands the function: its timeout, not a time.
    context.deadline = 600_000;
    context.invoked_function_arn = "function-arn".to_owned();
    let mut request = Request::new(Body::from(ALERT)).with_lambda_context(context);
    request
        .headers_mut()
        .insert("authorization", "Bearer tutorial-token".parse().unwrap());
    let response = endpoint.handle(request, &tutorial).await;
    let reply: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{reply}");
}
