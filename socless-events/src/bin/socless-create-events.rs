//! `socless-create-events`: fire a playbook's test case (an `event_details` JSON) by hand.
//!
//! Prints `{"events": [...], "execution_reports": [...]}` on stdout. On failure prints the
//! error on stderr, any events and reports on stdout, and exits with status 1.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use serde_json::Value;
use socless_events::{
    AwsLauncher, AwsStore, CreateEventsOutput, DEFAULT_CONCURRENCY, Error, EventCreator,
    EventStore, LOCAL_ACCOUNT_ID, LOCAL_REGION, LocalLauncher, LocalStore, PlaybookLauncher,
    REGION_ENV, StateMachineArns, TableNames,
};

/// Create Socless events and start their playbooks, on AWS or on a local SQLite store.
///
/// AWS mode uses the standard AWS configuration chain (AWS_REGION, AWS_PROFILE,
/// AWS_ENDPOINT_URL, ...) and the tables named by SOCLESS_EVENTS_TABLE, SOCLESS_DEDUP_TABLE and
/// SOCLESS_RESULTS_TABLE.
#[derive(Debug, Parser)]
#[command(name = "socless-create-events", version)]
struct Cli {
    /// Use the embedded store in this SQLite file instead of AWS.
    #[arg(long, value_name = "PATH")]
    local: Option<PathBuf>,
    /// The account that owns the state machines.
    #[arg(long, value_name = "ID", conflicts_with = "function_arn")]
    account_id: Option<String>,
    /// Take the account from this Lambda function ARN (as an event endpoint would).
    #[arg(long, value_name = "ARN")]
    function_arn: Option<String>,
    /// With --local: POST each execution input to this URL.
    #[arg(long, value_name = "URL", requires = "local")]
    webhook: Option<String>,
    /// With --local: the playbooks deployed (comma-separated); starting any other fails with
    /// StateMachineDoesNotExist, as on AWS. Default: every name is deployed.
    #[arg(
        long,
        value_name = "NAMES",
        requires = "local",
        value_delimiter = ',',
        env = "SOCLESS_PLAYBOOKS"
    )]
    playbooks: Option<Vec<String>>,
    /// With --local: print what the store holds (events, investigations, dedup mappings,
    /// results, executions with their input) as JSON, instead of creating events.
    #[arg(long, requires = "local", conflicts_with_all = ["file", "webhook"])]
    inspect: bool,
    /// Events recorded at once (1: one after another). Events of one dedup hash always run
    /// in order.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CONCURRENCY as u16,
          value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    /// The event_details JSON file; stdin when absent or "-".
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let (true, Some(path)) = (cli.inspect, &cli.local) {
        return match inspect(path).await {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let event_details = match read_input(cli.file.as_deref()) {
        Ok(value) => value,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    match run(&cli, &event_details).await {
        Ok(output) => {
            print_output(&output);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            if let Some(output) = error.output() {
                print_output(output);
            }
            ExitCode::FAILURE
        }
    }
}

/// What the local store at `path` holds, as pretty JSON: `events`, `investigations` (the
/// originals, with how many events joined each), `dedup`, `results` and `executions`.
async fn inspect(path: &std::path::Path) -> Result<String, Error> {
    if !path.exists() {
        return Err(Error::Config(format!(
            "no local store at {}",
            path.display()
        )));
    }
    let contents = LocalStore::open(path)?.contents().await?;
    let executions = LocalLauncher::open(path)?.executions().await?;
    let investigations: Vec<Value> = contents
        .events
        .iter()
        .filter(|item| item.get("id").is_some() && item.get("id") == item.get("investigation_id"))
        .map(|original| {
            let id = &original["id"];
            let joined = contents
                .events
                .iter()
                .filter(|item| item.get("investigation_id") == Some(id))
                .count();
            serde_json::json!({
                "investigation_id": id,
                "event_type": original.get("event_type"),
                "playbook": original.get("playbook"),
                "status_": original.get("status_"),
                "created_at": original.get("created_at"),
                "events": joined,
            })
        })
        .collect();
    let all = serde_json::json!({
        "events": contents.events,
        "investigations": investigations,
        "dedup": contents.dedup,
        "results": contents.results,
        "executions": executions,
    });
    serde_json::to_string_pretty(&all)
        .map_err(|e| Error::Config(format!("cannot print the store's contents: {e}")))
}

fn print_output(output: &CreateEventsOutput) {
    match serde_json::to_string_pretty(output) {
        Ok(text) => println!("{text}"),
        Err(error) => eprintln!("error: cannot print the result: {error}"),
    }
}

async fn run(cli: &Cli, event_details: &Value) -> Result<CreateEventsOutput, Error> {
    match &cli.local {
        Some(path) => {
            let region = std::env::var(REGION_ENV).unwrap_or_else(|_| LOCAL_REGION.to_owned());
            let arns = arns(cli, region, Some(LOCAL_ACCOUNT_ID))?;
            let mut launcher = LocalLauncher::open(path)?;
            if let Some(url) = &cli.webhook {
                launcher = launcher.with_webhook(url)?;
            }
            if let Some(playbooks) = &cli.playbooks {
                launcher = launcher.with_playbooks(playbooks.iter().map(|name| name.trim()));
            }
            let store = LocalStore::open(path)?;
            create(cli, store, launcher, arns, event_details).await
        }
        None => {
            let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let region = config
                .region()
                .ok_or_else(|| Error::Config(format!("no AWS region: set {REGION_ENV}")))?
                .to_string();
            let arns = arns(cli, region, None)?;
            let store = AwsStore::new(&config, TableNames::from_env()?);
            create(cli, store, AwsLauncher::new(&config), arns, event_details).await
        }
    }
}

async fn create<S: EventStore, L: PlaybookLauncher>(
    cli: &Cli,
    store: S,
    launcher: L,
    arns: StateMachineArns,
    event_details: &Value,
) -> Result<CreateEventsOutput, Error> {
    EventCreator::new(store, launcher, arns)
        .with_concurrency(usize::from(cli.concurrency))
        .create_events(event_details)
        .await
}

fn arns(
    cli: &Cli,
    region: String,
    default_account: Option<&str>,
) -> Result<StateMachineArns, Error> {
    match (&cli.account_id, &cli.function_arn, default_account) {
        (Some(account), _, _) => StateMachineArns::new(region, account.as_str()),
        (None, Some(arn), _) => StateMachineArns::from_function_arn(region, arn),
        (None, None, Some(account)) => StateMachineArns::new(region, account),
        (None, None, None) => Err(Error::Config(
            "the state machine account is unknown: pass --account-id ID or --function-arn ARN"
                .into(),
        )),
    }
}

/// The `event_details` JSON from FILE, or stdin when FILE is absent or `-`.
fn read_input(file: Option<&std::path::Path>) -> Result<Value, String> {
    let text = match file {
        Some(path) if path.as_os_str() != "-" => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        _ => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            text
        }
    };
    serde_json::from_str(&text).map_err(|e| format!("the input is not JSON: {e}"))
}
