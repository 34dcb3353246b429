//! The server's settings: flags layered over the environment, one [`Settings`] lookup for the
//! relay's variables, the provider's and the server's own.
//!
//! clap only collects raw strings here: every flag stands for a variable ([`EnvVar`]: the
//! relay's [`RelayConfig::ENV_VARS`], the provider's from its [`App`], and the server's
//! [`SERVER_VARS`]), a flag wins over its variable, and the values are parsed by their owner
//! exactly as on Lambda. The one deliberate difference: the server refuses to start without a
//! way to verify tokens.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches};
use xdr_relay_core::{EnvError, EnvVar, RelayConfig, Settings};

use crate::http::Limits;
use crate::secrets;

/// The address to listen on.
pub const LISTEN: EnvVar = EnvVar::new(
    "RELAY_LISTEN",
    "listen",
    "ADDRESS",
    "Address to listen on. Default 127.0.0.1:8080.",
);
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The log format on stderr.
pub const LOG_FORMAT: EnvVar = EnvVar::new(
    "RELAY_LOG_FORMAT",
    "log-format",
    "text|json",
    "Log format on stderr: `text`, or `json` (one object per line). Default text on a \
     terminal, else json.",
);

/// Where Prometheus metrics are served.
pub const METRICS_LISTEN: EnvVar = EnvVar::new(
    "RELAY_METRICS_LISTEN",
    "metrics-listen",
    "ADDRESS",
    "Serve Prometheus metrics at GET /metrics on this address, a listener of its own. \
     Default off.",
);

/// Seconds to receive a request's headers.
pub const HEADER_READ_TIMEOUT: EnvVar = EnvVar::new(
    "RELAY_HEADER_READ_TIMEOUT",
    "header-read-timeout",
    "SECONDS",
    "Seconds a client has to send a request's complete headers, from its connection (or from \
     the first byte of a later request); more bytes do not extend it. Default 60.",
);

/// Seconds between two reads of a request body.
pub const BODY_READ_TIMEOUT: EnvVar = EnvVar::new(
    "RELAY_BODY_READ_TIMEOUT",
    "body-read-timeout",
    "SECONDS",
    "Longest wait, in seconds, for the next piece of a request body; the request is then \
     answered as unreadable. Default 60.",
);

/// Seconds to receive a whole request body.
pub const BODY_TIMEOUT: EnvVar = EnvVar::new(
    "RELAY_BODY_TIMEOUT",
    "body-timeout",
    "SECONDS",
    "Seconds a client has to send a request's whole body, from its headers, however steadily \
     it sends; the request is then answered as unreadable. Default 30.",
);

/// Most bytes of a request head.
pub const MAX_HEADER_BYTES: EnvVar = EnvVar::new(
    "RELAY_MAX_HEADER_BYTES",
    "max-header-bytes",
    "BYTES",
    "Most bytes of a request's line and headers (at least 8192); a larger head is answered \
     431. Also the size of each of a connection's two buffers at most. Default 32768.",
);

/// Seconds an idle keep-alive connection stays open.
pub const IDLE_TIMEOUT: EnvVar = EnvVar::new(
    "RELAY_IDLE_TIMEOUT",
    "idle-timeout",
    "SECONDS",
    "Seconds a connection with no request in flight and no byte moving stays open (keep-alive); \
     a request in flight is never cut. Default 75.",
);

/// Most client connections open at once.
pub const MAX_CONNECTIONS: EnvVar = EnvVar::new(
    "RELAY_MAX_CONNECTIONS",
    "max-connections",
    "N",
    "Most client connections open at once; at the cap the connection idle the longest is \
     closed for a new client, and with none idle the next wait in the listen backlog \
     (lowered at start to fit the open-file limit). Default 10000.",
);

/// Seconds requests in flight get after SIGTERM.
pub const SHUTDOWN_GRACE: EnvVar = EnvVar::new(
    "RELAY_SHUTDOWN_GRACE",
    "shutdown-grace",
    "SECONDS",
    "Seconds requests in flight may take after SIGINT or SIGTERM before their connections are \
     dropped. Default 30.",
);

/// The settings only the server has (the relay's are [`RelayConfig::ENV_VARS`], a
/// provider's its [`App`](xdr_relay_core::App)'s).
pub const SERVER_VARS: &[EnvVar] = &[
    LISTEN,
    LOG_FORMAT,
    METRICS_LISTEN,
    HEADER_READ_TIMEOUT,
    BODY_READ_TIMEOUT,
    BODY_TIMEOUT,
    MAX_HEADER_BYTES,
    IDLE_TIMEOUT,
    MAX_CONNECTIONS,
    SHUTDOWN_GRACE,
];

/// The connection limits: each setting when given, else [`Limits::default`]'s. A timeout is
/// at least a second: 0 would close every connection at once.
pub(crate) fn limits(settings: &Settings<'_>) -> Result<Limits, EnvError> {
    let mut limits = Limits::default();
    if let Some(timeout) = settings.positive_seconds(&HEADER_READ_TIMEOUT)? {
        limits.header_read_timeout = timeout;
    }
    if let Some(timeout) = settings.positive_seconds(&BODY_READ_TIMEOUT)? {
        limits.body_read_timeout = timeout;
    }
    if let Some(timeout) = settings.positive_seconds(&BODY_TIMEOUT)? {
        limits.body_timeout = timeout;
    }
    if let Some(most) = settings.count(&MAX_HEADER_BYTES)? {
        if most < 8192 {
            return Err(EnvError::invalid(
                &MAX_HEADER_BYTES,
                "at least 8192 bytes",
                &most.to_string(),
            ));
        }
        limits.max_header_bytes = most;
    }
    if let Some(timeout) = settings.positive_seconds(&IDLE_TIMEOUT)? {
        limits.idle_timeout = timeout;
    }
    if let Some(grace) = settings.seconds(&SHUTDOWN_GRACE)? {
        limits.shutdown_grace = grace;
    }
    if let Some(most) = settings.count(&MAX_CONNECTIONS)? {
        limits.max_connections = most;
    }
    Ok(limits)
}

/// Adds a flag for each of `vars` to `command`: `--FLAG VALUE`, its help naming the variable
/// (`[env: NAME]`), repeatable when the setting takes several values, and for a secret also
/// `--FLAG-file PATH` (`[env: NAME_FILE]`).
///
/// clap neither reads the environment nor validates values for these flags: its `env`
/// support would read variables behind the lookup's back and print their values in `--help`.
pub(crate) fn flags<'a>(
    command: clap::Command,
    vars: impl IntoIterator<Item = &'a EnvVar>,
) -> clap::Command {
    vars.into_iter().fold(command, |command, var| {
        let action = if var.multiple {
            ArgAction::Append
        } else {
            ArgAction::Set
        };
        let command = command.arg(
            Arg::new(var.name)
                .long(var.flag)
                .value_name(var.value_name)
                .action(action)
                .help(format!("{} [env: {}]", var.help, var.name)),
        );
        if !var.secret {
            return command;
        }
        let file = secrets::file_variable(var.name);
        command.arg(
            Arg::new(file.clone())
                .long(secrets::file_flag(var.flag))
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .conflicts_with(var.name)
                .help(format!(
                    "Read {} from this file (its content, less one trailing newline). \
                     [env: {file}]",
                    var.name
                )),
        )
    })
}

/// The flags given to `serve`, as typed, keyed by the variable each stands for.
#[derive(Clone, Default)]
pub(crate) struct ServeArgs {
    values: BTreeMap<&'static str, String>,
}

/// Values are redacted: `SECRET_KEY` may be among them.
impl fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl ServeArgs {
    /// The values `matches` holds for `vars` (a repeated flag's values joined by commas, as
    /// its variable would hold them), with each secret read from its file when one is named
    /// (`--FLAG-file`, else the variable `NAME_FILE` of `env` when `NAME` is unset). A secret
    /// given as a flag's value is warned about on stderr, naming the command.
    pub(crate) fn from_matches<'a>(
        command: &str,
        matches: &ArgMatches,
        vars: impl IntoIterator<Item = &'a EnvVar>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let mut values = BTreeMap::new();
        for var in vars {
            if let Ok(Some(given)) = matches.try_get_many::<String>(var.name) {
                let given: Vec<&str> = given.map(String::as_str).collect();
                if var.secret {
                    secrets::warn_on_command_line(command, var.flag, var.name);
                }
                values.insert(var.name, given.join(","));
                continue;
            }
            if !var.secret {
                continue;
            }
            let file_variable = secrets::file_variable(var.name);
            let path = match matches.try_get_one::<PathBuf>(&file_variable) {
                Ok(Some(path)) => Some(path.clone()),
                _ if env(var.name).is_none() => env(&file_variable).map(PathBuf::from),
                _ => None,
            };
            if let Some(path) = path {
                values.insert(var.name, secrets::read_file(&path, var.name)?);
            }
        }
        Ok(Self { values })
    }

    /// The settings: each variable from its flag when given (even empty), else from `env`.
    pub(crate) fn settings<'a>(
        &'a self,
        env: impl Fn(&str) -> Option<String> + 'a,
    ) -> Settings<'a> {
        Settings::new(move |name| self.values.get(name).cloned().or_else(|| env(name)))
    }
}

/// The relay's configuration. The mapping is [`RelayConfig::from_settings`]'s; on top of it
/// the server refuses to start without a way to verify tokens
/// ([`RelayConfig::require_credentials`]), where the Lambda starts and answers "not
/// configured".
pub(crate) fn relay_config(settings: &Settings<'_>) -> Result<RelayConfig, EnvError> {
    let config = RelayConfig::from_settings(settings)?;
    config.require_credentials()?;
    Ok(config)
}

fn address(var: &EnvVar, value: &str) -> Result<SocketAddr, String> {
    value.parse().map_err(|_| {
        format!(
            "{} must be an address and port such as {DEFAULT_LISTEN}, got {value:?}",
            var.name
        )
    })
}

/// The address to listen on: `--listen`, else `RELAY_LISTEN`, else 127.0.0.1:8080.
pub(crate) fn listen(settings: &Settings<'_>) -> Result<SocketAddr, String> {
    let value = settings.value(&LISTEN);
    address(&LISTEN, value.as_deref().unwrap_or(DEFAULT_LISTEN))
}

/// Where to serve metrics, if anywhere: `--metrics-listen`, else `RELAY_METRICS_LISTEN`. The
/// relay's own address is refused: metrics never share the public port.
pub(crate) fn metrics_listen(
    settings: &Settings<'_>,
    relay: SocketAddr,
) -> Result<Option<SocketAddr>, String> {
    let Some(value) = settings.value(&METRICS_LISTEN) else {
        return Ok(None);
    };
    let metrics = address(&METRICS_LISTEN, &value)?;
    if metrics == relay && relay.port() != 0 {
        return Err(format!(
            "{} must differ from the relay's address {relay}: metrics are never served on the \
             relay's port",
            METRICS_LISTEN.name
        ));
    }
    Ok(Some(metrics))
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// For people: one line per event, colours on a terminal.
    Text,
    /// For log shippers: one JSON object per line.
    Json,
}

/// The log format: `--log-format`, else `RELAY_LOG_FORMAT` (`text` or `json`, any case), else
/// text when stderr is a terminal and JSON when it is not.
pub(crate) fn log_format(settings: &Settings<'_>, terminal: bool) -> Result<LogFormat, String> {
    match settings.value(&LOG_FORMAT) {
        None if terminal => Ok(LogFormat::Text),
        None => Ok(LogFormat::Json),
        Some(value) if value.eq_ignore_ascii_case("text") => Ok(LogFormat::Text),
        Some(value) if value.eq_ignore_ascii_case("json") => Ok(LogFormat::Json),
        Some(value) => Err(format!(
            "{} must be `text` or `json`, got {value:?}",
            LOG_FORMAT.name
        )),
    }
}

/// The message the server stops with: the error, and for a missing `SECRET_KEY` how to make
/// one with the command `name`.
pub(crate) fn explain(name: &str, error: &EnvError) -> String {
    if error.name() == EnvVar::SECRET_KEY.name {
        format!("{error} (make one with `{name} jwt`)")
    } else {
        error.to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use super::*;

    const SECRET: &str = "a-settings-secret-that-must-never-be-printed-0123456789";

    fn lookup(env: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            env.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    const MULTI: EnvVar = EnvVar::new("EXAMPLE_LISTS", "list", "FILE", "Lists.").multiple();

    fn vars() -> Vec<EnvVar> {
        let mut vars: Vec<EnvVar> = SERVER_VARS.to_vec();
        vars.extend_from_slice(RelayConfig::ENV_VARS);
        vars.push(MULTI);
        vars
    }

    /// `argv` parsed by a command with a flag for each of [`vars`], with `env`.
    fn args_with(argv: &[&str], env: impl Fn(&str) -> Option<String>) -> Result<ServeArgs, String> {
        let vars = vars();
        let command = flags(clap::Command::new("relay"), &vars);
        let matches = command
            .try_get_matches_from(std::iter::once("relay").chain(argv.iter().copied()))
            .unwrap();
        ServeArgs::from_matches("relay", &matches, &vars, env)
    }

    fn args(argv: &[&str]) -> ServeArgs {
        args_with(argv, |_| None).unwrap()
    }

    #[test]
    fn a_secret_comes_from_its_file_flag_or_file_variable() {
        let dir = std::env::temp_dir().join(format!("relay-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secret");
        std::fs::write(&file, format!("{SECRET}\n")).unwrap();
        let path = file.to_str().unwrap().to_owned();

        let given = args(&["--secret-key-file", &path]);
        let settings = given.settings(|_| Some("from-the-env".to_owned()));
        assert_eq!(settings.value(&EnvVar::SECRET_KEY).as_deref(), Some(SECRET));

        let by_variable = path;
        let env = move |name: &str| (name == "SECRET_KEY_FILE").then(|| by_variable.clone());
        let given = args_with(&[], &env).unwrap();
        let settings = given.settings(env);
        assert_eq!(settings.value(&EnvVar::SECRET_KEY).as_deref(), Some(SECRET));

        // SECRET_KEY itself wins over SECRET_KEY_FILE.
        let env = |name: &str| match name {
            "SECRET_KEY" => Some("direct".to_owned()),
            "SECRET_KEY_FILE" => Some("/nonexistent".to_owned()),
            _ => None,
        };
        let given = args_with(&[], env).unwrap();
        assert_eq!(
            given.settings(env).value(&EnvVar::SECRET_KEY).as_deref(),
            Some("direct")
        );

        let error = args_with(&["--secret-key-file", "/nonexistent/key"], |_| None).unwrap_err();
        assert!(
            error.starts_with("cannot read SECRET_KEY from /nonexistent/key"),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn every_relay_variable_is_a_flag_and_a_flag_wins_over_its_variable() {
        for var in RelayConfig::ENV_VARS {
            let given = args(&[&format!("--{}=from-the-flag", var.flag)]);
            let settings = given.settings(|_| Some("from-the-env".to_owned()));
            assert_eq!(
                settings.value(var).as_deref(),
                Some("from-the-flag"),
                "{}",
                var.name
            );
        }
        let env = lookup(&[
            ("SECRET_KEY", SECRET),
            ("CTR_ENTITIES_LIMIT", "5"),
            ("RELAY_OPENAPI", "true"),
        ]);
        let given = args(&["--ctr-entities-limit=9", "--openapi="]);
        let config = relay_config(&given.settings(env)).unwrap();
        assert_eq!(config.entities_limit, 9);
        // An empty flag is given, and means unset: the variable does not show through.
        assert!(!config.openapi);
    }

    #[test]
    fn connection_limits_from_flags_and_variables() {
        let none = ServeArgs::default();
        assert_eq!(limits(&none.settings(|_| None)).unwrap(), Limits::default());
        let env = lookup(&[
            ("RELAY_HEADER_READ_TIMEOUT", "5"),
            ("RELAY_BODY_READ_TIMEOUT", " 6 "),
            ("RELAY_IDLE_TIMEOUT", "7"),
            ("RELAY_MAX_CONNECTIONS", "8"),
            ("RELAY_SHUTDOWN_GRACE", "0"),
            ("RELAY_BODY_TIMEOUT", "10"),
            ("RELAY_MAX_HEADER_BYTES", "16384"),
        ]);
        let given = args(&["--idle-timeout", "9"]);
        let set = limits(&given.settings(env)).unwrap();
        assert_eq!(set.header_read_timeout, Duration::from_secs(5));
        assert_eq!(set.body_read_timeout, Duration::from_secs(6));
        assert_eq!(set.idle_timeout, Duration::from_secs(9));
        assert_eq!(set.max_connections, 8);
        assert_eq!(set.shutdown_grace, Duration::ZERO);
        assert_eq!(set.body_timeout, Duration::from_secs(10));
        assert_eq!(set.max_header_bytes, 16384);
        for (name, value) in [
            ("RELAY_IDLE_TIMEOUT", "0"),
            ("RELAY_HEADER_READ_TIMEOUT", "soon"),
            ("RELAY_MAX_CONNECTIONS", "0"),
            ("RELAY_MAX_HEADER_BYTES", "8191"),
            ("RELAY_BODY_TIMEOUT", "0"),
            // More than an instant can take: refused, not an overflow.
            ("RELAY_BODY_READ_TIMEOUT", "18446744073709551615"),
        ] {
            let error = limits(&none.settings(move |n| (n == name).then(|| value.to_owned())));
            assert_eq!(error.unwrap_err().name(), name);
        }
    }

    #[test]
    fn a_repeated_flag_holds_every_value() {
        let given = args(&["--list", "a.netset", "--list", "b.txt"]);
        let settings = given.settings(|_| Some("ignored".to_owned()));
        assert_eq!(settings.list(&MULTI), ["a.netset", "b.txt"]);
        let none = ServeArgs::default();
        let settings = none.settings(lookup(&[("EXAMPLE_LISTS", "c, d")]));
        assert_eq!(settings.list(&MULTI), ["c", "d"]);
    }

    #[test]
    fn the_server_refuses_to_start_without_credentials() {
        let none = ServeArgs::default();
        let error = relay_config(&none.settings(|_| None)).unwrap_err();
        let message = explain("relay-server", &error);
        assert!(message.starts_with("SECRET_KEY is not set"), "{message}");
        assert!(message.contains("`relay-server jwt`"), "{message}");
        let jwks = lookup(&[("AUTH_TYPE", "jwks"), ("RELAY_URL", "https://r.example")]);
        assert!(relay_config(&none.settings(jwks)).is_ok());
        let bad = relay_config(&none.settings(lookup(&[("CTR_ENTITIES_LIMIT", "0")])));
        assert_eq!(bad.unwrap_err().name(), "CTR_ENTITIES_LIMIT");
    }

    #[test]
    fn listen_flag_variable_and_default() {
        let none = ServeArgs::default();
        let at = |args: &ServeArgs, env| listen(&args.settings(env)).map(|a| a.to_string());
        assert_eq!(at(&none, lookup(&[])).unwrap(), "127.0.0.1:8080");
        let env = &[("RELAY_LISTEN", " 0.0.0.0:9000 ")];
        assert_eq!(at(&none, lookup(env)).unwrap(), "0.0.0.0:9000");
        assert_eq!(
            at(&args(&["--listen", "[::1]:1"]), lookup(env)).unwrap(),
            "[::1]:1"
        );
        let error = at(&none, lookup(&[("RELAY_LISTEN", "localhost")])).unwrap_err();
        assert_eq!(
            error,
            r#"RELAY_LISTEN must be an address and port such as 127.0.0.1:8080, got "localhost""#
        );
    }

    #[test]
    fn metrics_listen_is_off_by_default_and_never_the_relay_port() {
        let relay: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let none = ServeArgs::default();
        let at = |args: &ServeArgs, env| metrics_listen(&args.settings(env), relay);
        assert_eq!(at(&none, lookup(&[])), Ok(None));
        assert_eq!(
            at(&none, lookup(&[("RELAY_METRICS_LISTEN", " ")])),
            Ok(None)
        );
        let found = at(&none, lookup(&[("RELAY_METRICS_LISTEN", "0.0.0.0:9090")]));
        assert_eq!(found.unwrap().unwrap().to_string(), "0.0.0.0:9090");
        let found = at(&args(&["--metrics-listen", "127.0.0.1:9191"]), lookup(&[]));
        assert_eq!(found.unwrap().unwrap().to_string(), "127.0.0.1:9191");
        let error = at(&none, lookup(&[("RELAY_METRICS_LISTEN", "0.0.0.0:8080")])).unwrap_err();
        assert!(
            error.starts_with("RELAY_METRICS_LISTEN must differ"),
            "{error}"
        );
        let error = at(&none, lookup(&[("RELAY_METRICS_LISTEN", "9090")])).unwrap_err();
        assert!(
            error.starts_with("RELAY_METRICS_LISTEN must be an address"),
            "{error}"
        );
    }

    #[test]
    fn log_format_follows_flag_variable_then_terminal() {
        use super::LogFormat::{Json, Text};
        let none = ServeArgs::default();
        let at = |args: &ServeArgs, env, terminal| log_format(&args.settings(env), terminal);
        assert_eq!(at(&none, lookup(&[]), true), Ok(Text));
        assert_eq!(at(&none, lookup(&[]), false), Ok(Json));
        let env = &[("RELAY_LOG_FORMAT", " JSON ")];
        assert_eq!(at(&none, lookup(env), true), Ok(Json));
        assert_eq!(
            at(&args(&["--log-format", "text"]), lookup(env), false),
            Ok(Text)
        );
        assert_eq!(
            at(&none, lookup(&[("RELAY_LOG_FORMAT", "yaml")]), true),
            Err(r#"RELAY_LOG_FORMAT must be `text` or `json`, got "yaml""#.to_owned())
        );
    }

    #[test]
    fn help_names_every_flag_and_variable_and_no_value() {
        let vars = vars();
        let mut command = flags(clap::Command::new("relay"), &vars);
        command.clone().debug_assert();
        let help = command.render_long_help().to_string();
        for var in &vars {
            assert!(
                help.contains(&format!("--{} <{}>", var.flag, var.value_name)),
                "{}",
                var.flag
            );
            assert!(
                help.contains(&format!("[env: {}]", var.name)),
                "{}",
                var.name
            );
        }
        let given = args(&[&format!("--secret-key={SECRET}")]);
        assert!(!format!("{given:?}").contains(SECRET));
    }
}
