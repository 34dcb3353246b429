//! The event endpoint of the Socless tutorial, in Rust, with a local mode for trying it by hand.
//!
//! It reads an alert (`alert_name` → `event_type`, `response_plan` → `playbook`, `details`) and
//! answers as [`socless_events::lambda`] documents: 200 with the events and execution reports,
//! 400 with the reason, 403, or 500 for faults. Requests must carry `Authorization: Bearer
//! $SOCLESS_ENDPOINT_TOKEN` or a valid Slack signature for `$SLACK_SIGNING_SECRET`; with neither
//! configured, every request is refused on Lambda.
//!
//! Two ways to run it:
//! - On AWS Lambda (started without `--local`): `socless_events::lambda::run`, the backend from
//!   the environment (DynamoDB and Step Functions; the embedded store when `SOCLESS_LOCAL_DB` is
//!   set, as under `cargo lambda watch`).
//! - Locally, one alert through the same handler on the embedded store:
//!   `cargo run -p socless-events --example tutorial_endpoint -- --local events.sqlite
//!   --alert socless-events/examples/data/investigate_login_alert.json`
//!   prints the HTTP status and body it answers. With no token or secret configured the local
//!   run authenticates itself with a one-off token (it says so on stderr); `--authorization
//!   VALUE` sends that header instead.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use serde_json::{Value, json};
use socless_events::auth::{EndpointAuth, SharedToken};
use socless_events::lambda::{Endpoint, EndpointSettings};

/// Run the tutorial endpoint on Lambda, or answer one alert locally.
#[derive(Debug, Parser)]
struct Args {
    /// Answer one alert with the embedded store in this SQLite file (no Lambda).
    #[arg(long, value_name = "PATH", requires = "alert")]
    local: Option<PathBuf>,
    /// The alert JSON to send as the request body (with --local).
    #[arg(long, value_name = "FILE", requires = "local")]
    alert: Option<PathBuf>,
    /// The Authorization header to send (with --local).
    #[arg(long, value_name = "VALUE", requires = "local")]
    authorization: Option<String>,
}

/// The tutorial's mapping from an alert to `event_details`.
fn event_details(alert: Value) -> Value {
    json!({
        "event_type": alert["alert_name"],
        "playbook": alert["response_plan"],
        "details": alert["details"],
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let result = match (&args.local, &args.alert) {
        (Some(db), Some(alert)) => run_local(&args, db, alert).await,
        _ => socless_events::lambda::run(event_details)
            .await
            .map(|()| ExitCode::SUCCESS),
    };
    result.unwrap_or_else(|error| {
        eprintln!("error: {error}");
        ExitCode::FAILURE
    })
}

/// One alert through the endpoint's handler, on the embedded store in `db`.
async fn run_local(
    args: &Args,
    db: &std::path::Path,
    alert: &std::path::Path,
) -> Result<ExitCode, socless_events::lambda::Error> {
    let mut settings = EndpointSettings::from_env()?;
    settings.local_db = Some(db.to_owned());
    let mut auth = EndpointAuth::from_env()?;
    let mut authorization = args.authorization.clone();
    if !auth.is_configured() {
        eprintln!(
            "note: no SOCLESS_ENDPOINT_TOKEN or SLACK_SIGNING_SECRET: this local run authenticates with a one-off token"
        );
        let token = uuid::Uuid::new_v4().simple().to_string();
        auth = EndpointAuth::new(Some(SharedToken::new(&token)?), None);
        authorization.get_or_insert(format!("Bearer {token}"));
    }
    let endpoint = Endpoint::new(settings, auth).await?;
    let mut request = lambda_http::Request::new(std::fs::read(alert)?.into());
    if let Some(value) = authorization {
        let headers = request.headers_mut();
        headers.insert(lambda_http::http::header::AUTHORIZATION, value.parse()?);
    }
    let response = endpoint.handle(request, &event_details).await;
    let status = response.status();
    let body: Value = serde_json::from_slice(response.body().as_ref())?;
    println!("HTTP {status}");
    println!("{}", serde_json::to_string_pretty(&body)?);
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
