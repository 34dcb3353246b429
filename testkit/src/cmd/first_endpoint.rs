//! `testkit first-endpoint --dir D --name N --alert FILE --inspect-bin FILE`: the run half of
//! `cargo xtask first-endpoint` (CI), which made the README's first endpoint a crate of its own
//! in `D` (outside the workspace) and built it.
//!
//! Runs it as socless-events' README does: `cargo lambda watch` on a free port of 127.0.0.1, on
//! the embedded store with `SOCLESS_PLAYBOOKS=InvestigateLogin` and a token; sends the
//! tutorial's alert (200, recorded and started), the same without the token (403), an alert
//! without `response_plan` (400), a typo'd playbook (400, `StateMachineDoesNotExist`) and an
//! alert of 20,000 details (400, the cap named); then checks what the store holds with
//! `socless-create-events --local ... --inspect`. Every process it starts is stopped when it
//! ends, also on failure.

use std::net::TcpStream;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The endpoint's crate (made by xtask from the README).
    #[arg(long)]
    dir: PathBuf,
    /// Its package name: the function's name in the emulator's URLs.
    #[arg(long)]
    name: String,
    /// The tutorial's alert.
    #[arg(long)]
    alert: PathBuf,
    /// `socless-create-events`, whose `--inspect` shows what the store holds.
    #[arg(long)]
    inspect_bin: PathBuf,
    /// The cargo target folder the endpoint was built in (so `cargo lambda watch` rebuilds
    /// nothing).
    #[arg(long)]
    target_dir: PathBuf,
}

/// How long the emulator may take to listen and the function to answer its first request (it
/// is built by `cargo run` on the first invocation when anything changed).
const START_TIMEOUT: Duration = Duration::from_secs(300);

/// `cargo lambda watch` and the function it runs, in a process group of their own: stopped
/// together on drop.
struct Watch {
    child: Child,
    log: PathBuf,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let kill = |signal: &str| {
            let mut kill = Command::new("kill");
            // The group may be gone already: nothing to say then.
            kill.args([signal, "--", &group])
                .stderr(Stdio::null())
                .status()
        };
        let _ = kill("-TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = kill("-KILL");
        let _ = self.child.wait();
    }
}

impl Watch {
    fn last_lines(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    super::until_interrupted(check(args))
}

async fn check(args: &Args) -> Result<(), String> {
    let store = args.dir.join("events.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", store.display()));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))?
        .port();
    // A token for this run only (a test value, not a secret).
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let token = format!("first-endpoint-{}-{nanos}", std::process::id());
    let log = args.dir.join("cargo-lambda-watch.log");
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err_file = log_file
        .try_clone()
        .map_err(|e| format!("cannot share {}: {e}", log.display()))?;
    println!(
        "==> cargo lambda watch in {} on 127.0.0.1:{port}, store {}",
        args.dir.display(),
        store.display()
    );
    let child = Command::new("cargo")
        .args([
            "lambda",
            "watch",
            "--ignore-changes",
            "--invoke-address",
            "127.0.0.1",
        ])
        .args(["--invoke-port", &port.to_string()])
        .current_dir(&args.dir)
        .env("CARGO_TARGET_DIR", &args.target_dir)
        .env("SOCLESS_LOCAL_DB", &store)
        .env("SOCLESS_PLAYBOOKS", "InvestigateLogin")
        .env("SOCLESS_ENDPOINT_TOKEN", &token)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(err_file)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run `cargo lambda watch` (is cargo-lambda on PATH?): {e}"))?;
    let mut watch = Watch { child, log };
    wait_until_listening(&mut watch, port)?;
    let url = format!("http://127.0.0.1:{port}/lambda-url/{}/", args.name);
    let client = reqwest::Client::builder()
        .timeout(START_TIMEOUT)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let alert = std::fs::read_to_string(&args.alert)
        .map_err(|e| format!("cannot read {}: {e}", args.alert.display()))?;
    let bearer = format!("Bearer {token}");
    let send = |body: String, authorization: Option<&str>| {
        let mut request = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        async move {
            let response = request
                .send()
                .await
                .map_err(|e| format!("the endpoint did not answer: {e}"))?;
            let status = response.status().as_u16();
            let text = response
                .text()
                .await
                .map_err(|e| format!("the endpoint's answer could not be read: {e}"))?;
            let body: Value = serde_json::from_str(&text)
                .map_err(|e| format!("the answer is not JSON ({e}): {text}"))?;
            Ok::<_, String>((status, body))
        }
    };
    let expect = |what: &str, got: (u16, Value), status: u16, error: Option<&str>| {
        let (code, body) = got;
        let text = body["error"].as_str().unwrap_or_default();
        if code != status || error.is_some_and(|e| !text.contains(e)) {
            return Err(format!(
                "{what}: answered {code} {body}, not {status}{}",
                error
                    .map(|e| format!(" with an error containing {e:?}"))
                    .unwrap_or_default()
            ));
        }
        println!(
            "  {what}: {code} {}",
            if text.is_empty() { "ok" } else { text }
        );
        Ok(body)
    };

    let answer = send(alert.clone(), Some(&bearer)).await;
    let answer = answer.map_err(|e| format!("{e}\n{}", watch.last_lines()))?;
    let ok = expect("the tutorial's alert", answer, 200, None)?;
    let report = &ok["execution_reports"][0];
    if report["error"] != "" || ok["events"][0]["metadata"]["status_"] != "open" {
        return Err(format!("the tutorial's alert was not started: {ok}"));
    }
    println!("{}", serde_json::to_string_pretty(&ok).unwrap_or_default());
    expect(
        "no token",
        send(alert.clone(), None).await?,
        403,
        Some("forbidden"),
    )?;
    let mut parsed: Value =
        serde_json::from_str(&alert).map_err(|e| format!("the alert is not JSON: {e}"))?;
    let mut no_plan = parsed.clone();
    if let Some(object) = no_plan.as_object_mut() {
        object.remove("response_plan");
    }
    let no_plan = send(no_plan.to_string(), Some(&bearer)).await?;
    expect(
        "no response_plan",
        no_plan,
        400,
        Some("Supplied Playbook is not a string"),
    )?;
    parsed["response_plan"] = json!("InvestigateLogn");
    let typo = send(parsed.to_string(), Some(&bearer)).await?;
    expect(
        "a typo'd playbook",
        typo,
        400,
        Some("(StateMachineDoesNotExist)"),
    )?;
    let details: Vec<Value> = (0..20_000).map(|n| json!({"n": n})).collect();
    parsed["response_plan"] = json!("InvestigateLogin");
    parsed["details"] = json!(details);
    let many = send(parsed.to_string(), Some(&bearer)).await?;
    expect(
        "20,000 details",
        many,
        400,
        Some("limit of 500 (SOCLESS_MAX_DETAILS)"),
    )?;
    drop(watch);

    inspect(&args.inspect_bin, &store, report)
}

/// Waits for the emulator to accept connections on `port`, or fails with its log.
fn wait_until_listening(watch: &mut Watch, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = watch.child.try_wait() {
            return Err(format!(
                "`cargo lambda watch` exited ({status}) before listening:\n{}",
                watch.last_lines()
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "`cargo lambda watch` did not listen within {START_TIMEOUT:?}:\n{}",
                watch.last_lines()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `socless-create-events --inspect` on the store: two events (the alert, the typo's), one
/// execution (the alert's playbook, with the alert's details as its input), and nothing of the
/// refused requests.
fn inspect(bin: &Path, store: &Path, report: &Value) -> Result<(), String> {
    let output = Command::new(bin)
        .arg("--local")
        .arg(store)
        .arg("--inspect")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if !output.status.success() {
        return Err(format!(
            "--inspect failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let held: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("--inspect printed no JSON: {e}"))?;
    let count = |key: &str| held[key].as_array().map_or(0, Vec::len);
    let execution = &held["executions"][0];
    let summary = format!(
        "{} events, {} investigations, {} results, {} execution(s)",
        count("events"),
        count("investigations"),
        count("results"),
        count("executions")
    );
    if count("events") != 2
        || count("investigations") != 2
        || count("executions") != 1
        || execution["name"] != report["execution_id"]
        || execution["state_machine_arn"] != report["statemachinearn"]
        || execution["input"]["artifacts"]["event"]["playbook"] != "InvestigateLogin"
    {
        return Err(format!(
            "the store does not hold what was answered ({summary}): {held}"
        ));
    }
    println!("  --inspect: {summary}");
    println!(
        "first endpoint under cargo lambda watch: 200, 403, 400, 400, 400 as the README says; {summary}"
    );
    Ok(())
}
