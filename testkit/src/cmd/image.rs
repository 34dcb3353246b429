//! `testkit check-image --tag T --relay-bin FILE --user U:G --version V --upstream U`: the run
//! half of `cargo xtask image --check` (CI), which builds the image first.
//!
//! Runs the image's entrypoint, as its user and with its environment, in a buildah working
//! container (chroot isolation shares the host's network) against a stand-in of its upstream,
//! on a free port of 127.0.0.1; asks `/version`, `/watchdog` (directly and through the image's
//! `HEALTHCHECK` command) and `/health` (one upstream call with the token's key), and checks
//! that the relay logs JSON. Its last line of standard output is the summary xtask shows.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use testkit::relay::{self, Server};
use testkit::signals;

use super::message;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The image's tag (in buildah's `vfs` store).
    #[arg(long)]
    tag: String,
    /// The relay's binary as built for the image, whose `jwt` command makes the token.
    #[arg(long)]
    relay_bin: PathBuf,
    /// The `USER` the image must run as.
    #[arg(long)]
    user: String,
    /// The version `/version` must answer.
    #[arg(long)]
    version: String,
    /// What the relay is run against.
    #[arg(long, value_enum)]
    upstream: Upstream,
    /// The stand-in's binary (relay-abuseipdb's, relay-otx's or relay-urlscan's `standin`
    /// example), for `--upstream abuseipdb`, `otx` and `urlscan`.
    #[arg(
        long,
        required_if_eq("upstream", "abuseipdb"),
        required_if_eq("upstream", "otx"),
        required_if_eq("upstream", "urlscan")
    )]
    standin: Option<PathBuf>,
    /// The image is a relay suite (`xdr-relays`): `/health` and the token are this mount's
    /// relay's (`/version` and `/watchdog` are the suite's root).
    #[arg(long)]
    mount: Option<String>,
}

/// What the image's relay is run against in CI: a local stand-in of its upstream.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Upstream {
    /// The Auth0 Signals stand-in, in process.
    Signals,
    /// The AbuseIPDB relay's stand-in (its `standin` example), a process.
    Abuseipdb,
    /// The AlienVault OTX relay's stand-in (its `standin` example), a process.
    Otx,
    /// The urlscan.io relay's stand-in (its `standin` example), a process.
    Urlscan,
}

/// A running stand-in: the variables that point the relay at it, its API key, and what keeps
/// it running.
struct StandIn {
    env: Vec<String>,
    key: &'static str,
    _process: Option<Server>,
}

impl Args {
    async fn start_stand_in(&self) -> Result<StandIn, String> {
        match (self.upstream, &self.standin) {
            (Upstream::Signals, _) => {
                let config = signals::Config::default();
                let address =
                    signals::start(std::net::SocketAddr::from(([127, 0, 0, 1], 0)), config)
                        .await
                        .map_err(message)?;
                Ok(StandIn {
                    env: vec![format!("SIGNALS_API_URL=http://{address}/")],
                    key: signals::DEMO_API_KEY,
                    _process: None,
                })
            }
            (Upstream::Abuseipdb | Upstream::Otx | Upstream::Urlscan, standin) => {
                let (prefix, api, key) = match self.upstream {
                    Upstream::Otx => ("OTX", "api/v1/", "a-ci-otx-key"),
                    Upstream::Urlscan => ("URLSCAN", "api/v1/", "a-ci-urlscan-key"),
                    _ => ("ABUSEIPDB", "api/v2/", "a-ci-abuseipdb-key"),
                };
                let standin = standin
                    .as_ref()
                    .ok_or("--upstream abuseipdb, otx and urlscan need --standin")?;
                let mut command = Command::new(standin);
                command.args(["--port", "0"]);
                let server = Server::spawn(&mut command, false).map_err(message)?;
                let address = server.address.clone();
                Ok(StandIn {
                    env: vec![
                        format!("{prefix}_API_URL=http://{address}/{api}"),
                        format!("{prefix}_WEB_URL=http://{address}/"),
                    ],
                    key,
                    _process: Some(server),
                })
            }
        }
    }
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    let checked = super::until_interrupted(run_image(args))?;
    println!("{checked}");
    Ok(())
}

/// Runs and asks the image; the summary on success.
async fn run_image(args: &Args) -> Result<String, String> {
    let (tag, version) = (args.tag.as_str(), args.version.as_str());
    let stand_in = args.start_stand_in().await?;
    let mount = args.mount.as_deref();
    let (secret, jwt) =
        relay::jwt_for(&args.relay_bin, mount, Some(stand_in.key), None).map_err(message)?;
    let container = WorkingContainer::from(tag)?;
    let config = container.config()?;
    let user = config["User"].as_str().unwrap_or_default();
    if user != args.user {
        return Err(format!("the image runs as {user:?}, not {}", args.user));
    }
    let entrypoint = strings(&config["Entrypoint"]);
    let healthcheck = strings(&config["Healthcheck"]["Test"]);
    let healthcheck = match healthcheck.split_first() {
        Some((kind, command)) if kind == "CMD" => command.to_vec(),
        _ => {
            return Err(format!(
                "the image's HEALTHCHECK is {healthcheck:?}, not a CMD"
            ));
        }
    };
    println!("\n== image: buildah run {tag}: {} ==", entrypoint.join(" "));
    let mut env = vec![
        format!("SECRET_KEY={secret}"),
        "RELAY_LISTEN=127.0.0.1:0".to_owned(),
        "RUST_LOG=info".to_owned(),
    ];
    env.extend(stand_in.env.iter().cloned());
    let mut relay =
        Stopped(Server::spawn(&mut container.run(&env, &entrypoint), true).map_err(message)?);
    let relay = &mut relay.0;
    let address = relay.address.clone();
    let url = relay.url();
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{url}{path}"));
    let answered = answer(get("/version")).await?;
    if answered["version"] != version {
        return Err(format!("/version answered {answered}, not {version}"));
    }
    let echo = answer(get("/watchdog").header("Health-Check", "ci")).await?;
    if echo["data"] != "ci" {
        return Err(format!("/watchdog answered {echo}, not the header's echo"));
    }
    let listen = [format!("RELAY_LISTEN={address}")];
    let mut check = container.run(&listen, &healthcheck);
    relay::output(&mut check).map_err(|e| format!("the image's HEALTHCHECK failed: {e:#}"))?;
    let prefix = mount.map(|m| format!("/{m}")).unwrap_or_default();
    let health = client
        .post(format!("{url}{prefix}/health"))
        .bearer_auth(&jwt);
    let health = answer(health).await?;
    if health != serde_json::json!({"data": {"status": "ok"}}) {
        return Err(format!("{prefix}/health answered {health}"));
    }
    if !relay.healthy() {
        return Err(format!(
            "the relay stopped or panicked:\n{}",
            relay.last_lines().join("\n")
        ));
    }
    // Before SIGTERM, after which buildah adds a line of its own.
    json_logs(&relay.last_lines())?;
    relay.terminate(STOP_GRACE).map_err(message)?;
    container.remove()?;
    Ok(format!(
        "ran {} as {user}: /version {version}, /watchdog and HEALTHCHECK, {prefix}/health ok, JSON logs",
        entrypoint.join(" ")
    ))
}

/// In the image the relay's stderr is not a terminal, so it logs JSON: every line must be an
/// object with a timestamp, a level, a target and a message, and each request line must carry
/// its request id.
fn json_logs(lines: &[String]) -> Result<(), String> {
    let mut requests = 0;
    for line in lines {
        let entry: Value = serde_json::from_str(line).map_err(|e| {
            format!("the image's relay logged a line that is not JSON ({e}): {line}")
        })?;
        if let Some(field) = ["timestamp", "level", "target", "message"]
            .into_iter()
            .find(|field| entry.get(field).is_none())
        {
            return Err(format!(
                "a log line of the image's relay has no {field}: {line}"
            ));
        }
        if entry["target"] == "relay::request" {
            if !entry["span"]["request_id"].is_string() {
                return Err(format!("a request line without its request id: {line}"));
            }
            requests += 1;
        }
    }
    match requests {
        0 => Err(format!(
            "the image's relay logged no request line:\n{}",
            lines.join("\n")
        )),
        _ => Ok(()),
    }
}

/// How long the relay has to stop after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A server stopped with SIGTERM, also when a check failed: `buildah run` forwards it, where
/// the SIGKILL of [`Server`]'s drop would leave the relay running.
struct Stopped(Server);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.terminate(STOP_GRACE);
    }
}

/// A request's JSON answer, which must come with 200.
async fn answer(request: reqwest::RequestBuilder) -> Result<Value, String> {
    let response = request
        .send()
        .await
        .map_err(|e| format!("the relay did not answer: {e}"))?;
    let (url, status) = (response.url().path().to_owned(), response.status());
    let text = response.text().await.map_err(|e| format!("{url}: {e}"))?;
    if status != reqwest::StatusCode::OK {
        return Err(format!("{url} answered {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("{url} answered no JSON ({e}): {text}"))
}

/// A JSON array of strings (an image's `Entrypoint`, a health check's `Test`).
fn strings(value: &Value) -> Vec<String> {
    let items = value.as_array().into_iter().flatten();
    items.filter_map(Value::as_str).map(str::to_owned).collect()
}

/// buildah with its images on `vfs`, as `cargo xtask image` builds them.
fn buildah() -> Command {
    let mut command = Command::new("buildah");
    command.args(["--storage-driver", "vfs"]);
    command
}

/// A buildah working container of an image, removed on drop (also when a check failed).
#[derive(Debug)]
struct WorkingContainer {
    name: String,
    removed: bool,
}

impl WorkingContainer {
    fn from(tag: &str) -> Result<Self, String> {
        let name = relay::output(buildah().args(["from", "--pull-never", tag])).map_err(message)?;
        Ok(Self {
            name,
            removed: false,
        })
    }

    /// The image's Docker-format `config` (`Entrypoint`, `User`, `Env`, `Healthcheck`).
    fn config(&self) -> Result<Value, String> {
        let mut inspect = buildah();
        inspect.args(["inspect", "--type", "container", &self.name]);
        let printed = relay::output(&mut inspect).map_err(message)?;
        let parsed: Value = serde_json::from_str(&printed)
            .map_err(|e| format!("buildah inspect printed no JSON: {e}"))?;
        match &parsed["Docker"]["config"] {
            Value::Null => Err(format!("buildah inspect shows no Docker config: {printed}")),
            config => Ok(config.clone()),
        }
    }

    /// `buildah run` of `command` with the image's user and environment plus `env`, on the
    /// host's network.
    fn run(&self, env: &[String], command: &[String]) -> Command {
        let mut run = buildah();
        run.args(["run", "--isolation", "chroot", "--network", "host"]);
        for pair in env {
            run.args(["--env", pair]);
        }
        run.arg(&self.name).arg("--").args(command);
        run
    }

    fn remove(mut self) -> Result<(), String> {
        self.removed = true;
        relay::output(buildah().args(["rm", &self.name]))
            .map(drop)
            .map_err(message)
    }
}

impl Drop for WorkingContainer {
    fn drop(&mut self) {
        if !self.removed {
            let _ = relay::output(buildah().args(["rm", &self.name]));
        }
    }
}
