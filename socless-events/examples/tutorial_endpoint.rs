//! The event endpoint of the Socless tutorial, in Rust.
//!
//! It reads an alert (`alert_name` → `event_type`, `response_plan` → `playbook`, `details`),
//! calls `create_events`, and answers 200 with the events and execution reports, 400 with the
//! reason, or 403. Authentication, which the original tutorial leaves for later, is a
//! constant-time shared-token check on `Authorization` (`SOCLESS_ENDPOINT_TOKEN`) and/or Slack
//! `v0` signed requests (`SLACK_SIGNING_SECRET`); a request passes if any configured check
//! accepts it, and with none configured every request is refused.
//!
//! Two ways to run it:
//! - On AWS Lambda (behind API Gateway or a function URL), when started without `--local`:
//!   tables from `SOCLESS_*_TABLE`, region from `AWS_REGION`, account and partition from the
//!   invoked function's ARN, and the invocation's deadline as the batch's
//!   (`EventCreator::with_deadline`).
//! - Locally, one alert, with the embedded store:
//!   `cargo run -p socless-events --example tutorial_endpoint -- --local events.sqlite
//!   --alert socless-events/examples/data/investigate_login_alert.json`
//!   prints the HTTP status and body it would answer. With no token or secret configured the
//!   local run skips authentication; `--authorization VALUE` sends that header.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use socless_events::auth::{
    SLACK_SIGNATURE_HEADER, SLACK_TIMESTAMP_HEADER, SharedToken, SlackV0Verifier,
};
use socless_events::{
    AwsLauncher, AwsStore, Error, EventCreator, EventStore, LocalLauncher, LocalStore,
    PlaybookLauncher, StateMachineArns, TableNames,
};

/// Run the tutorial endpoint on Lambda, or process one alert locally.
#[derive(Debug, Parser)]
struct Args {
    /// Process one alert with the embedded store in this SQLite file (no Lambda).
    #[arg(long, value_name = "PATH", requires = "alert")]
    local: Option<PathBuf>,
    /// The alert JSON to send as the request body (with --local).
    #[arg(long, value_name = "FILE", requires = "local")]
    alert: Option<PathBuf>,
    /// The Authorization header to send (with --local).
    #[arg(long, value_name = "VALUE", requires = "local")]
    authorization: Option<String>,
    /// The account of the state machines (with --local).
    #[arg(long, value_name = "ID", default_value = "000000000000")]
    account_id: String,
}

/// Which requests are accepted.
#[derive(Debug, Default)]
struct Auth {
    token: Option<SharedToken>,
    slack: Option<SlackV0Verifier>,
    /// Accept everything: only for local runs with no secret configured.
    open: bool,
}

impl Auth {
    /// From `SOCLESS_ENDPOINT_TOKEN` and `SLACK_SIGNING_SECRET`.
    fn from_env() -> Result<Self, Error> {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        Ok(Self {
            token: var("SOCLESS_ENDPOINT_TOKEN")
                .map(|t| SharedToken::new(&t))
                .transpose()?,
            slack: var("SLACK_SIGNING_SECRET")
                .map(|s| SlackV0Verifier::new(&s))
                .transpose()?,
            open: false,
        })
    }

    fn is_configured(&self) -> bool {
        self.token.is_some() || self.slack.is_some()
    }

    fn accepts(&self, headers: &HeaderMap, body: &[u8]) -> bool {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let token_ok = self
            .token
            .as_ref()
            .is_some_and(|token| token.verify(header("authorization")).is_ok());
        let slack_ok = self.slack.as_ref().is_some_and(|slack| {
            slack
                .verify(
                    header(SLACK_TIMESTAMP_HEADER),
                    header(SLACK_SIGNATURE_HEADER),
                    body,
                )
                .is_ok()
        });
        self.open || token_ok || slack_ok
    }
}

/// The tutorial's mapping from an alert to `event_details`.
fn event_details(alert: &Value) -> Result<Value, String> {
    let field = |name: &str| {
        alert
            .get(name)
            .cloned()
            .ok_or_else(|| format!("the alert has no '{name}'"))
    };
    Ok(json!({
        "event_type": field("alert_name")?,
        "playbook": field("response_plan")?,
        "details": field("details")?,
    }))
}

/// Answers one request.
async fn handle<S: EventStore, L: PlaybookLauncher>(
    creator: &EventCreator<S, L>,
    auth: &Auth,
    headers: &HeaderMap,
    body: &[u8],
) -> (StatusCode, Value) {
    if !auth.accepts(headers, body) {
        return (StatusCode::FORBIDDEN, json!({"error": "forbidden"}));
    }
    let alert: Value = match serde_json::from_slice(body) {
        Ok(alert) => alert,
        Err(e) => return bad_request(format!("the body is not JSON: {e}")),
    };
    let details = match event_details(&alert) {
        Ok(details) => details,
        Err(reason) => return bad_request(reason),
    };
    match creator.create_events(&details).await {
        Ok(output) => (StatusCode::OK, json!(output)),
        Err(Error::InvalidEvent(reason)) => bad_request(reason.to_string()),
        Err(error) => {
            tracing::error!(%error, "create_events failed");
            let mut body = json!({"error": error.to_string()});
            if let Some(output) = error.output() {
                body["execution_reports"] = json!(output.execution_reports);
            }
            (StatusCode::INTERNAL_SERVER_ERROR, body)
        }
    }
}

fn bad_request(reason: String) -> (StatusCode, Value) {
    (StatusCode::BAD_REQUEST, json!({"error": reason}))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let result = match (&args.local, &args.alert) {
        (Some(db), Some(alert)) => run_local(&args, db, alert).await,
        _ => run_lambda().await,
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run_local(
    args: &Args,
    db: &std::path::Path,
    alert: &std::path::Path,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let mut auth = Auth::from_env()?;
    if !auth.is_configured() {
        eprintln!(
            "note: no SOCLESS_ENDPOINT_TOKEN or SLACK_SIGNING_SECRET: authentication is off for this local run"
        );
        auth.open = true;
    }
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
    let creator = EventCreator::new(
        LocalStore::open(db)?,
        LocalLauncher::open(db)?,
        StateMachineArns::new(region, args.account_id.as_str())?,
    );
    let body = std::fs::read(alert)?;
    let mut headers = HeaderMap::new();
    if let Some(value) = &args.authorization {
        headers.insert(http::header::AUTHORIZATION, value.parse()?);
    }
    let (status, reply) = handle(&creator, &auth, &headers, &body).await;
    println!("HTTP {status}");
    println!("{}", serde_json::to_string_pretty(&reply)?);
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn run_lambda() -> Result<ExitCode, Box<dyn std::error::Error>> {
    use lambda_http::{Body, Request, RequestExt, Response, service_fn};

    lambda_http::tracing::init_default_subscriber();
    let auth = Auth::from_env()?;
    if !auth.is_configured() {
        tracing::error!(
            "no SOCLESS_ENDPOINT_TOKEN or SLACK_SIGNING_SECRET: refusing every request"
        );
    }
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = AwsStore::new(&config, TableNames::from_env()?);
    let launcher = AwsLauncher::new(&config);
    let (auth, store, launcher) = (&auth, &store, &launcher);
    lambda_http::run(service_fn(move |request: Request| async move {
        let context = request.lambda_context_ref();
        let function_arn = context
            .map(|context| context.invoked_function_arn.clone())
            .unwrap_or_default();
        // The invocation's deadline: no event begins once it is near, and the answer says
        // what was done (rather than the function being killed part-way through an event).
        let deadline = context.and_then(|context| {
            let left = context
                .deadline()
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default();
            std::time::Instant::now().checked_add(left)
        });
        let (status, reply) = match StateMachineArns::from_env(&function_arn) {
            Ok(arns) => {
                let mut creator = EventCreator::new(store.clone(), launcher.clone(), arns);
                if let Some(deadline) = deadline {
                    creator = creator.with_deadline(deadline);
                }
                handle(&creator, auth, request.headers(), request.body().as_ref()).await
            }
            Err(error) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": error.to_string()}),
            ),
        };
        let response = Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Body::from(reply.to_string()))?;
        Ok::<_, lambda_http::Error>(response)
    }))
    .await
    .map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALERT: &str = include_str!("data/investigate_login_alert.json");
    const TOKEN: &str = "tutorial-token";
    const SLACK_SECRET: &str = "slack-signing-secret";

    struct Db(PathBuf);

    impl Drop for Db {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn setup() -> (Db, EventCreator<LocalStore, LocalLauncher>, Auth) {
        let path = std::env::temp_dir().join(format!(
            "socless-tutorial-{}.sqlite",
            uuid::Uuid::new_v4().simple()
        ));
        let creator = EventCreator::new(
            LocalStore::open(&path).unwrap(),
            LocalLauncher::open(&path)
                .unwrap()
                .with_playbooks(["InvestigateLogin"]),
            StateMachineArns::new("us-east-1", "123456789012").unwrap(),
        );
        let auth = Auth {
            token: Some(SharedToken::new(TOKEN).unwrap()),
            slack: Some(SlackV0Verifier::new(SLACK_SECRET).unwrap()),
            open: false,
        };
        (Db(path), creator, auth)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (http::HeaderName::from_static(name), value.parse().unwrap()))
            .collect()
    }

    async fn check(
        auth_headers: &[(&'static str, &str)],
        body: &str,
        status: StatusCode,
        expected: Value,
    ) {
        let (_db, creator, auth) = setup();
        let (got, reply) = handle(&creator, &auth, &headers(auth_headers), body.as_bytes()).await;
        assert_eq!(got, status, "{reply}");
        if status == StatusCode::OK {
            assert_eq!(
                reply["events"][0]["event"]["event_type"],
                "Suspicious Login"
            );
            assert_eq!(reply["events"][0]["event"]["playbook"], "InvestigateLogin");
            assert_eq!(reply["execution_reports"][0]["error"], "");
            let started = creator.launcher().executions().await.unwrap();
            assert_eq!(started.len(), 1);
            assert_eq!(
                started[0].input["artifacts"]["event"]["details"]["ip"],
                "113.63.125.3"
            );
        } else {
            assert_eq!(reply, expected);
        }
    }

    #[tokio::test]
    async fn the_sample_alert_with_the_token_is_accepted() {
        check(
            &[("authorization", "Bearer tutorial-token")],
            ALERT,
            StatusCode::OK,
            Value::Null,
        )
        .await;
    }

    #[tokio::test]
    async fn a_slack_signed_alert_is_accepted() {
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
        check(&sent, ALERT, StatusCode::OK, Value::Null).await;
    }

    #[tokio::test]
    async fn forbidden() {
        let forbidden = json!({"error": "forbidden"});
        check(&[], ALERT, StatusCode::FORBIDDEN, forbidden.clone()).await;
        check(
            &[("authorization", "Bearer wrong")],
            ALERT,
            StatusCode::FORBIDDEN,
            forbidden.clone(),
        )
        .await;
        let stale = SlackV0Verifier::new(SLACK_SECRET)
            .unwrap()
            .sign(1_000_000_000, ALERT.as_bytes());
        let sent = [
            (SLACK_TIMESTAMP_HEADER, "1000000000"),
            (SLACK_SIGNATURE_HEADER, stale.as_str()),
        ];
        check(&sent, ALERT, StatusCode::FORBIDDEN, forbidden).await;
    }

    #[tokio::test]
    async fn bad_requests_say_why() {
        let auth = [("authorization", TOKEN)];
        check(&auth, "{", StatusCode::BAD_REQUEST, json!({"error": "the body is not JSON: EOF while parsing an object at line 1 column 1"})).await;
        check(
            &auth,
            r#"{"response_plan": "P", "details": []}"#,
            StatusCode::BAD_REQUEST,
            json!({"error": "the alert has no 'alert_name'"}),
        )
        .await;
        check(
            &auth,
            r#"{"alert_name": "A", "response_plan": "P", "details": "x"}"#,
            StatusCode::BAD_REQUEST,
            json!({"error": "Error: Supplied 'details' is not a dictionary"}),
        )
        .await;
        check(
            &auth,
            r#"{"alert_name": ["A"], "response_plan": "P", "details": {}}"#,
            StatusCode::BAD_REQUEST,
            json!({"error": "Error: Supplied 'event_type' is not a string"}),
        )
        .await;
    }

    #[tokio::test]
    async fn a_playbook_that_does_not_exist_is_a_server_error_with_reports() {
        let (_db, creator, auth) = setup();
        let body = r#"{"alert_name": "A", "response_plan": "Missing", "details": {"u": "x"}}"#;
        let (status, reply) = handle(
            &creator,
            &auth,
            &headers(&[("authorization", TOKEN)]),
            body.as_bytes(),
        )
        .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(reply["error"], "1 of 1 events failed to start playbooks.");
        assert_eq!(reply["execution_reports"].as_array().unwrap().len(), 1);
    }
}
