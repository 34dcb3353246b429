//! Child processes for the tasks that run our binaries (`demo`, `bench`): cargo, one-shot
//! commands, and servers that announce `address=IP:PORT` on stderr, killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Runs cargo with `args` (output shown), failing when it fails.
pub(crate) fn cargo(args: &[&str]) -> Result<(), String> {
    cargo_with(args, None)
}

/// `cargo` with `PATH` replaced, so that cargo and what it runs find the tools' commands.
pub(crate) fn cargo_with(args: &[&str], path: Option<&std::ffi::OsStr>) -> Result<(), String> {
    let mut command = crate::cargo_command();
    command.args(args);
    if let Some(path) = path {
        command.env("PATH", path);
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}

/// Runs a command to completion and returns its stdout; its stderr becomes the error.
pub(crate) fn output(command: &mut Command) -> Result<String, String> {
    let name = command.get_program().to_string_lossy().into_owned();
    let out = command
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run {name}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{name} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A fresh SECRET_KEY and a JWT for the stand-in's API key, made by `relay-server jwt --json`
/// (the operator's own tool, so every task exercises it): `(secret, jwt)`.
pub(crate) fn make_jwt(relay_server: &Path) -> Result<(String, String), String> {
    let printed = output(
        Command::new(relay_server)
            .args(["jwt", "--key", crate::stub::DEMO_API_KEY, "--json"])
            .stdin(Stdio::null()),
    )?;
    let pair: serde_json::Value = serde_json::from_str(&printed)
        .map_err(|e| format!("relay-server jwt printed no JSON: {e}"))?;
    match (pair["secret_key"].as_str(), pair["jwt"].as_str()) {
        (Some(secret), Some(jwt)) => Ok((secret.to_owned(), jwt.to_owned())),
        _ => Err("relay-server jwt printed no secret_key/jwt".into()),
    }
}

/// A running server process, killed (and reaped) on drop.
#[derive(Debug)]
pub(crate) struct Server {
    child: Child,
    /// `IP:PORT` as the server logged it.
    pub(crate) address: String,
}

impl Server {
    /// Spawns `command` and waits for the first stderr line holding `address=IP:PORT` (as
    /// relay-server and `xtask bench stub` log when they listen). The rest of stderr is
    /// drained in a thread so the server never blocks on a full pipe.
    pub(crate) fn spawn(command: &mut Command) -> Result<Server, String> {
        let name = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let Some(stderr) = child.stderr.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{name} has no stderr"));
        };
        // Built before the search, so that dropping it stops the child on every path.
        let mut server = Server {
            child,
            address: String::new(),
        };
        let mut reader = BufReader::new(stderr);
        let mut line = String::new();
        let address = loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break None,
                Ok(_) => {}
            }
            let found = line
                .split("address=")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next());
            if let Some(address) = found {
                break Some(address.to_owned());
            }
        };
        // In blocks, not lines: under load a relay logs a line per request, and splitting
        // them here cost the bench's own process (the load driver) CPU the relay then lacked.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        server.address = address.ok_or_else(|| format!("{name} exited before it listened"))?;
        Ok(server)
    }

    /// `http://IP:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The process id (for /proc sampling).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
