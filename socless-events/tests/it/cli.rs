//! The `socless-create-events` binary, against the local store and against moto.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use socless_events::{CreateEventsOutput, EventStore, LocalLauncher, LocalStore};

use crate::fixture::{AwsFixture, Fixture, remove_sqlite, temp_sqlite};

const BIN: &str = env!("CARGO_BIN_EXE_socless-create-events");

fn batch_input() -> Value {
    let capture: Value = serde_json::from_str(include_str!(
        "../data/create_events_capture_socless_python_1.5.0_moto_5.2.5.json"
    ))
    .unwrap();
    capture["batch_input"].clone()
}

/// Runs the CLI with a clean environment plus `env`, feeding `stdin`.
fn run(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_clear()
        // Under `cargo llvm-cov` the binary writes its coverage where the run collects it.
        .envs(std::env::vars_os().filter(|(name, _)| name == "LLVM_PROFILE_FILE"))
        .env("AWS_CONFIG_FILE", "/nonexistent/socless-tests/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/socless-tests/credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout_output(output: &Output) -> CreateEventsOutput {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write_temp_json(value: &Value) -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("socless-it-{}.json", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, value.to_string()).unwrap();
    path
}

#[tokio::test]
async fn local_store_from_a_file() {
    let db = temp_sqlite();
    let file = write_temp_json(&batch_input());
    let args = [
        "--local",
        db.to_str().unwrap(),
        "--account-id",
        "123456789012",
        file.to_str().unwrap(),
    ];
    let output = run(&args, "", &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let result = stdout_output(&output);
    let duplicates: Vec<bool> = result
        .events
        .iter()
        .map(|e| e.metadata.is_duplicate)
        .collect();
    assert_eq!(duplicates, [false, false, true]);
    assert!(result.execution_reports.iter().all(|r| r.error.is_empty()
        && r.statemachinearn
            == "arn:aws:states:us-east-1:123456789012:stateMachine:ParamsToStateMachineTester"));
    let store = LocalStore::open(&db).unwrap();
    for event in &result.events {
        let item = store.event(&event.metadata.id).await.unwrap().unwrap();
        assert_eq!(item.len(), 10);
        assert_eq!(
            item["investigation_id"],
            event.metadata.investigation_id.as_str()
        );
    }
    let executions = LocalLauncher::open(&db)
        .unwrap()
        .executions()
        .await
        .unwrap();
    // Events are recorded concurrently, so executions start in any order.
    let names: BTreeSet<&str> = executions.iter().map(|e| e.name.as_str()).collect();
    let expected: BTreeSet<&str> = result
        .events
        .iter()
        .map(|e| e.metadata.execution_id.as_str())
        .collect();
    assert_eq!((names.len(), names), (3, expected));
    remove_sqlite(&db);
    std::fs::remove_file(file).unwrap();
}

fn local_from_stdin(db: &Path, file_arg: Option<&str>) -> Output {
    let mut args = vec!["--local", db.to_str().unwrap()];
    args.extend(file_arg);
    let input =
        json!({"event_type": "T", "playbook": "Pb", "details": {"k": "v"}, "dedup_keys": ["k"]});
    run(&args, &input.to_string(), &[])
}

#[test]
fn local_store_from_stdin_with_default_region_and_account() {
    for file_arg in [None, Some("-")] {
        let db = temp_sqlite();
        let output = local_from_stdin(&db, file_arg);
        assert!(output.status.success(), "{}", stderr(&output));
        let result = stdout_output(&output);
        assert_eq!(
            result.execution_reports[0].statemachinearn,
            "arn:aws:states:us-east-1:000000000000:stateMachine:Pb"
        );
        remove_sqlite(&db);
    }
}

#[test]
fn invalid_input_fails_with_the_original_message() {
    let db = temp_sqlite();
    let output = run(
        &["--local", db.to_str().unwrap()],
        r#"{"playbook": "P", "details": {}}"#,
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr(&output), "error: 'event_type'\n");
    assert!(output.stdout.is_empty());
    let output = run(&["--local", db.to_str().unwrap()], "not json", &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with("error: the input is not JSON"),
        "{}",
        stderr(&output)
    );
    remove_sqlite(&db);
}

/// 10,000 levels of JSON text stop at serde_json's recursion limit (128) while parsing: a clear
/// error, no stack overflow, nothing written.
#[tokio::test]
async fn deeply_nested_json_text_is_refused() {
    let db = temp_sqlite();
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let input = format!(
        r#"{{"event_type": "T", "playbook": "Pb", "details": {{"username": "u", "deep": {deep}}}, "dedup_keys": ["username"]}}"#
    );
    let output = run(&["--local", db.to_str().unwrap()], &input, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.starts_with("error: the input is not JSON: recursion limit exceeded"),
        "{text}"
    );
    assert!(output.stdout.is_empty());
    let executions = LocalLauncher::open(&db)
        .unwrap()
        .executions()
        .await
        .unwrap();
    assert!(executions.is_empty());
    remove_sqlite(&db);
}

#[test]
fn account_flags_conflict() {
    let output = run(
        &[
            "--account-id",
            "1",
            "--function-arn",
            "arn:aws:lambda:r:1:function:f",
        ],
        "",
        &[],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

fn aws_env(fixture: &AwsFixture) -> Vec<(&str, &str)> {
    vec![
        ("AWS_ENDPOINT_URL", fixture.server.url()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("SOCLESS_EVENTS_TABLE", &fixture.tables.events),
        ("SOCLESS_DEDUP_TABLE", &fixture.tables.dedup),
        ("SOCLESS_RESULTS_TABLE", &fixture.tables.results),
    ]
}

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:_socless_playground";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_against_moto() {
    let fixture = AwsFixture::new().await;
    let output = run(
        &["--function-arn", FUNCTION_ARN],
        &batch_input().to_string(),
        &aws_env(&fixture),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let result = stdout_output(&output);
    assert_eq!(result.events.len(), 3);
    let store = fixture.store();
    for event in &result.events {
        let item = store.event(&event.metadata.id).await.unwrap().unwrap();
        assert_eq!(item["status_"], json!(event.metadata.status_));
        assert!(
            store
                .results(&event.metadata.execution_id)
                .await
                .unwrap()
                .is_some()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_missing_state_machine_prints_reports_and_fails() {
    let fixture = AwsFixture::new().await;
    let mut input = batch_input();
    input["playbook"] = json!("NotDeployed");
    let output = run(
        &["--account-id", "123456789012"],
        &input.to_string(),
        &aws_env(&fixture),
    );
    assert_eq!(output.status.code(), Some(1));
    // socless_python's text: the count, then the failed reports.
    let stderr = stderr(&output);
    assert!(
        stderr.starts_with(
            "error: 3 of 3 events failed to start playbooks.\n Failure Reports: \n [StartExecutionReport("
        ),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("StartExecutionReport(").count(),
        3,
        "{stderr}"
    );
    let result = stdout_output(&output);
    assert_eq!(result.execution_reports.len(), 3);
    assert!(result.execution_reports.iter().all(|r| r.error.starts_with(
        "An error occurred (StateMachineDoesNotExist) when calling the StartExecution operation"
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_needs_an_account_and_tables() {
    let fixture = AwsFixture::new().await;
    let output = run(&[], &batch_input().to_string(), &aws_env(&fixture));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("--account-id ID or --function-arn ARN"),
        "{}",
        stderr(&output)
    );
    let mut env = aws_env(&fixture);
    env.retain(|(name, _)| *name != "SOCLESS_DEDUP_TABLE");
    let output = run(
        &["--account-id", "123456789012"],
        &batch_input().to_string(),
        &env,
    );
    assert_eq!(
        stderr(&output),
        "error: configuration error: SOCLESS_DEDUP_TABLE is not set\n"
    );
}

/// Two CLIs write the same SQLite file at the same time, each with the same 40 details: per
/// dedup hash exactly one original across both runs, and every other event of that hash joins
/// its investigation.
#[test]
fn two_clis_on_one_file_keep_dedup_race_safe() {
    let db = temp_sqlite();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let details: Vec<Value> = (0..40)
        .map(|i| json!({"alert": format!("{tag}-{}", i % 20), "n": i}))
        .collect();
    let input = json!({
        "event_type": "Race", "playbook": "Pb", "details": details, "dedup_keys": ["alert"],
    });
    let file = write_temp_json(&input);
    let args = [
        "--local",
        db.to_str().unwrap(),
        "--account-id",
        "123456789012",
        file.to_str().unwrap(),
    ];
    // The file exists (in WAL mode) before both start, as it would for a deployed store.
    drop(LocalStore::open(&db).unwrap());
    let spawn = || {
        Command::new(BIN)
            .args(args)
            .env_clear()
            .envs(std::env::vars_os().filter(|(name, _)| name == "LLVM_PROFILE_FILE"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(), spawn());
    let mut by_alert: std::collections::BTreeMap<String, Vec<(bool, String, String)>> =
        Default::default();
    for child in [first, second] {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        for event in stdout_output(&output).events {
            let alert = event.event.details["alert"].as_str().unwrap().to_owned();
            let meta = event.metadata;
            by_alert.entry(alert).or_default().push((
                meta.is_duplicate,
                meta.id,
                meta.investigation_id,
            ));
        }
    }
    assert_eq!(by_alert.len(), 20);
    for (alert, events) in &by_alert {
        assert_eq!(events.len(), 4, "{alert}");
        let originals: Vec<_> = events.iter().filter(|(dup, ..)| !dup).collect();
        assert_eq!(originals.len(), 1, "{alert}: {events:?}");
        let investigation = &originals[0].1;
        assert!(
            events.iter().all(|(_, _, inv)| inv == investigation),
            "{alert}: {events:?}"
        );
    }
    remove_sqlite(&db);
    std::fs::remove_file(file).unwrap();
}
