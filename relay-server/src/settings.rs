//! The server's settings: flags layered over the environment, mapped by relay-core.
//!
//! clap only collects raw strings here: every flag stands for a variable of
//! [`RelayConfig::ENV_VARS`] (plus the server's own `RELAY_LISTEN`), a flag wins over its
//! variable, and [`RelayConfig::from_lookup`] parses and checks the values exactly as it does
//! on Lambda. The one deliberate difference: the server refuses to start without credentials.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;

use clap::{Arg, ArgMatches};
use xdr_relay_core::{EnvError, EnvVar, RelayConfig};

/// A setting only the server has (relay settings are [`RelayConfig::ENV_VARS`]).
struct ServerVar {
    flag: &'static str,
    name: &'static str,
    value_name: &'static str,
    help: &'static str,
}

const LISTEN: ServerVar = ServerVar {
    flag: "listen",
    name: "RELAY_LISTEN",
    value_name: "ADDRESS",
    help: "Address to listen on. Default 127.0.0.1:8080.",
};
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

const LOG_FORMAT: ServerVar = ServerVar {
    flag: "log-format",
    name: "RELAY_LOG_FORMAT",
    value_name: "text|json",
    help: "Log format on stderr: `text`, or `json` (one object per line). Default text on a \
           terminal, else json.",
};

const METRICS_LISTEN: ServerVar = ServerVar {
    flag: "metrics-listen",
    name: "RELAY_METRICS_LISTEN",
    value_name: "ADDRESS",
    help: "Serve Prometheus metrics at GET /metrics on this address, a listener of its own. \
           Default off.",
};

const SERVER_VARS: &[&ServerVar] = &[&LISTEN, &LOG_FORMAT, &METRICS_LISTEN];

/// The long flag of each relay variable. A test checks it names every entry of
/// [`RelayConfig::ENV_VARS`], so a new variable cannot miss its flag.
const FLAGS: &[(&str, EnvVar)] = &[
    ("auth-type", EnvVar::AUTH_TYPE),
    ("secret-key", EnvVar::SECRET_KEY),
    ("relay-url", EnvVar::RELAY_URL),
    ("jwks-allowed-hosts", EnvVar::JWKS_ALLOWED_HOSTS),
    ("jwks-allow-http", EnvVar::JWKS_ALLOW_HTTP),
    ("signals-api-url", EnvVar::SIGNALS_API_URL),
    ("ctr-entities-limit", EnvVar::CTR_ENTITIES_LIMIT),
    ("openapi", EnvVar::RELAY_OPENAPI),
];

/// The flags given to `relay-server [serve]`, as typed, keyed by the variable each stands for.
///
/// clap neither reads the environment nor validates values for these flags: its `env`
/// support would read variables behind the lookup's back and print their values in `--help`.
#[derive(Clone, Default)]
pub(crate) struct ServeArgs {
    values: BTreeMap<&'static str, String>,
}

impl ServeArgs {
    fn flag(&self, name: &str) -> Option<String> {
        self.values.get(name).cloned()
    }

    fn names() -> impl Iterator<Item = &'static str> {
        SERVER_VARS
            .iter()
            .map(|var| var.name)
            .chain(FLAGS.iter().map(|(_, var)| var.name))
    }
}

/// Values are redacted: `SECRET_KEY` may be among them.
impl fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl clap::FromArgMatches for ServeArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut args = Self::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for name in Self::names() {
            if let Some(value) = matches.get_one::<String>(name) {
                self.values.insert(name, value.clone());
            }
        }
        Ok(())
    }
}

impl clap::Args for ServeArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let cmd = SERVER_VARS.iter().fold(cmd, |cmd, var| {
            cmd.arg(
                Arg::new(var.name)
                    .long(var.flag)
                    .value_name(var.value_name)
                    .help(format!("{} [env: {}]", var.help, var.name)),
            )
        });
        FLAGS.iter().fold(cmd, |cmd, (flag, var)| {
            cmd.arg(
                Arg::new(var.name)
                    .long(*flag)
                    .value_name(var.value_name)
                    .help(format!("{} [env: {}]", var.help, var.name)),
            )
        })
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

/// The relay's configuration: each variable from its flag when given (even empty), else from
/// `env`. The mapping is [`RelayConfig::from_lookup`]'s; on top of it the server refuses to
/// start without a way to verify tokens ([`RelayConfig::require_credentials`]), where the
/// Lambda starts and answers "not configured".
pub(crate) fn relay_config(
    args: &ServeArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<RelayConfig, EnvError> {
    let config = RelayConfig::from_lookup(|name| args.flag(name).or_else(|| env(name)))?;
    config.require_credentials()?;
    Ok(config)
}

/// A server setting: its flag when given, else its variable; trimmed, and unset when empty.
fn server_value(
    args: &ServeArgs,
    env: impl Fn(&str) -> Option<String>,
    var: &ServerVar,
) -> Option<String> {
    let value = args.flag(var.name).or_else(|| env(var.name))?;
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

fn address(var: &ServerVar, value: &str) -> Result<SocketAddr, String> {
    value.parse().map_err(|_| {
        format!(
            "{} must be an address and port such as {DEFAULT_LISTEN}, got {value:?}",
            var.name
        )
    })
}

/// The address to listen on: `--listen`, else `RELAY_LISTEN`, else 127.0.0.1:8080.
pub(crate) fn listen(
    args: &ServeArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<SocketAddr, String> {
    let value = server_value(args, env, &LISTEN);
    address(&LISTEN, value.as_deref().unwrap_or(DEFAULT_LISTEN))
}

/// Where to serve metrics, if anywhere: `--metrics-listen`, else `RELAY_METRICS_LISTEN`. The
/// relay's own address is refused: metrics never share the public port.
pub(crate) fn metrics_listen(
    args: &ServeArgs,
    env: impl Fn(&str) -> Option<String>,
    relay: SocketAddr,
) -> Result<Option<SocketAddr>, String> {
    let Some(value) = server_value(args, env, &METRICS_LISTEN) else {
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
pub(crate) fn log_format(
    args: &ServeArgs,
    env: impl Fn(&str) -> Option<String>,
    terminal: bool,
) -> Result<LogFormat, String> {
    match server_value(args, env, &LOG_FORMAT) {
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
/// one.
pub(crate) fn explain(error: &EnvError) -> String {
    if error.name() == EnvVar::SECRET_KEY.name {
        format!("{error} (make one with `relay-server jwt`)")
    } else {
        error.to_string()
    }
}

#[cfg(test)]
mod tests {
    //! One table of settings, run through both adapters' real configuration functions:
    //! [`relay_config`] (from the environment, and from flags) and
    //! `xdr_relay_lambda::config_from_env`.

    use clap::Parser as _;
    use xdr_relay_core::{DEFAULT_JWKS_HOSTS, EnvError, RelayConfig};

    use std::net::SocketAddr;

    use super::{FLAGS, SERVER_VARS, ServeArgs, relay_config};
    use crate::Cli;

    const SECRET: &str = "a-settings-table-secret-that-must-never-be-printed-0123456789";
    const S: (&str, &str) = ("SECRET_KEY", SECRET);
    const JWKS: (&str, &str) = ("AUTH_TYPE", "jwks");
    const URL: (&str, &str) = ("RELAY_URL", "https://relay.example.com");
    const AUDIENCE: &str = "https://relay.example.com";

    /// A field of the resulting config that differs from [`RelayConfig::default`].
    #[derive(Debug, Clone, Copy)]
    enum Field {
        /// `secret_key` is set.
        Secret,
        /// `jwks` mode with this audience (default hosts, HTTPS) unless later fields say more.
        Jwks(&'static str),
        Hosts(&'static [&'static str]),
        AllowHttp,
        Signals(&'static str),
        Limit(usize),
        OpenApi,
    }

    #[derive(Debug, Clone, Copy)]
    enum Want {
        /// Accepted: these fields differ from the defaults.
        Accepts(&'static [Field]),
        /// Refused, naming this variable.
        Refuses(&'static str),
    }

    #[derive(Debug)]
    struct Row {
        env: &'static [(&'static str, &'static str)],
        want: Want,
        /// The deliberate difference: the Lambda starts without credentials (and answers "not
        /// configured"); the server refuses to, naming SECRET_KEY.
        server_refuses: bool,
    }

    const fn ok(env: &'static [(&'static str, &'static str)], fields: &'static [Field]) -> Row {
        Row {
            env,
            want: Want::Accepts(fields),
            server_refuses: false,
        }
    }

    const fn lambda_only(
        env: &'static [(&'static str, &'static str)],
        fields: &'static [Field],
    ) -> Row {
        Row {
            env,
            want: Want::Accepts(fields),
            server_refuses: true,
        }
    }

    const fn err(env: &'static [(&'static str, &'static str)], name: &'static str) -> Row {
        Row {
            env,
            want: Want::Refuses(name),
            server_refuses: false,
        }
    }

    use Field::{AllowHttp, Hosts, Jwks, Limit, OpenApi, Secret, Signals};

    const ROWS: &[Row] = &[
        // SECRET_KEY: unset or empty starts only the Lambda; any other value is used as is.
        lambda_only(&[], &[]),
        lambda_only(&[("SECRET_KEY", "")], &[]),
        ok(&[S], &[Secret]),
        ok(&[("SECRET_KEY", " spaces are part of the key ")], &[Secret]),
        // AUTH_TYPE: secret-key or jwks, in any case, trimmed; empty is the default.
        ok(&[S, ("AUTH_TYPE", "secret-key")], &[Secret]),
        ok(&[S, ("AUTH_TYPE", " Secret-Key ")], &[Secret]),
        ok(&[S, ("AUTH_TYPE", "")], &[Secret]),
        lambda_only(&[("AUTH_TYPE", "secret-key")], &[]),
        ok(&[JWKS, URL], &[Jwks(AUDIENCE)]),
        ok(&[("AUTH_TYPE", " JWKS "), URL], &[Jwks(AUDIENCE)]),
        ok(&[S, JWKS, URL], &[Secret, Jwks(AUDIENCE)]),
        err(&[S, ("AUTH_TYPE", "rs256")], "AUTH_TYPE"),
        err(&[S, ("AUTH_TYPE", "secret_key")], "AUTH_TYPE"),
        // RELAY_URL: required (trimmed, non-empty) in jwks mode, ignored otherwise.
        ok(
            &[JWKS, ("RELAY_URL", "  https://relay.example.com ")],
            &[Jwks(AUDIENCE)],
        ),
        err(&[JWKS], "RELAY_URL"),
        err(&[JWKS, ("RELAY_URL", "  ")], "RELAY_URL"),
        err(&[S, JWKS], "RELAY_URL"),
        ok(&[S, URL], &[Secret]),
        err(&[JWKS, ("RELAY_URL", "relay.example.com")], "RELAY_URL"),
        err(&[S, ("RELAY_URL", "ftp://relay.example.com")], "RELAY_URL"),
        // JWKS_ALLOWED_HOSTS: comma-separated, trimmed, empties dropped; none leaves the default.
        ok(
            &[
                JWKS,
                URL,
                ("JWKS_ALLOWED_HOSTS", " a.example, ,b.example:8443 "),
            ],
            &[Jwks(AUDIENCE), Hosts(&["a.example", "b.example:8443"])],
        ),
        ok(
            &[JWKS, URL, ("JWKS_ALLOWED_HOSTS", " , ")],
            &[Jwks(AUDIENCE)],
        ),
        ok(&[S, ("JWKS_ALLOWED_HOSTS", "ignored.example")], &[Secret]),
        err(
            &[
                JWKS,
                URL,
                ("JWKS_ALLOWED_HOSTS", "https://visibility.amp.cisco.com"),
            ],
            "JWKS_ALLOWED_HOSTS",
        ),
        err(
            &[S, ("JWKS_ALLOWED_HOSTS", "a.example b.example")],
            "JWKS_ALLOWED_HOSTS",
        ),
        // JWKS_ALLOW_HTTP: a boolean, checked even when secret-key mode ignores it.
        ok(
            &[JWKS, URL, ("JWKS_ALLOW_HTTP", "true")],
            &[Jwks(AUDIENCE), AllowHttp],
        ),
        ok(
            &[JWKS, URL, ("JWKS_ALLOW_HTTP", " 1 ")],
            &[Jwks(AUDIENCE), AllowHttp],
        ),
        ok(
            &[JWKS, URL, ("JWKS_ALLOW_HTTP", "TRUE")],
            &[Jwks(AUDIENCE), AllowHttp],
        ),
        ok(
            &[JWKS, URL, ("JWKS_ALLOW_HTTP", "false")],
            &[Jwks(AUDIENCE)],
        ),
        ok(&[JWKS, URL, ("JWKS_ALLOW_HTTP", "0")], &[Jwks(AUDIENCE)]),
        ok(&[JWKS, URL, ("JWKS_ALLOW_HTTP", "")], &[Jwks(AUDIENCE)]),
        err(&[JWKS, URL, ("JWKS_ALLOW_HTTP", "yes")], "JWKS_ALLOW_HTTP"),
        err(&[S, ("JWKS_ALLOW_HTTP", "maybe")], "JWKS_ALLOW_HTTP"),
        // SIGNALS_API_URL: trimmed; empty keeps the default.
        ok(
            &[S, ("SIGNALS_API_URL", " http://127.0.0.1:1/ ")],
            &[Secret, Signals("http://127.0.0.1:1/")],
        ),
        ok(&[S, ("SIGNALS_API_URL", "")], &[Secret]),
        ok(
            &[S, ("SIGNALS_API_URL", "HTTPS://signals.example/")],
            &[Secret, Signals("HTTPS://signals.example/")],
        ),
        err(
            &[S, ("SIGNALS_API_URL", "signals.api.auth0.com")],
            "SIGNALS_API_URL",
        ),
        // CTR_ENTITIES_LIMIT: a positive integer, trimmed.
        ok(&[S, ("CTR_ENTITIES_LIMIT", " 7 ")], &[Secret, Limit(7)]),
        ok(&[S, ("CTR_ENTITIES_LIMIT", "1")], &[Secret, Limit(1)]),
        ok(&[S, ("CTR_ENTITIES_LIMIT", "")], &[Secret]),
        err(&[S, ("CTR_ENTITIES_LIMIT", "0")], "CTR_ENTITIES_LIMIT"),
        err(&[S, ("CTR_ENTITIES_LIMIT", "-1")], "CTR_ENTITIES_LIMIT"),
        err(&[S, ("CTR_ENTITIES_LIMIT", "many")], "CTR_ENTITIES_LIMIT"),
        err(&[S, ("CTR_ENTITIES_LIMIT", "1.5")], "CTR_ENTITIES_LIMIT"),
        // RELAY_OPENAPI: a boolean.
        ok(&[S, ("RELAY_OPENAPI", "true")], &[Secret, OpenApi]),
        ok(&[S, ("RELAY_OPENAPI", " TRUE ")], &[Secret, OpenApi]),
        ok(&[S, ("RELAY_OPENAPI", "1")], &[Secret, OpenApi]),
        ok(&[S, ("RELAY_OPENAPI", "False")], &[Secret]),
        ok(&[S, ("RELAY_OPENAPI", "0")], &[Secret]),
        ok(&[S, ("RELAY_OPENAPI", "")], &[Secret]),
        err(&[S, ("RELAY_OPENAPI", "yes please")], "RELAY_OPENAPI"),
        // An invalid value is reported before missing credentials, on both adapters.
        err(&[("CTR_ENTITIES_LIMIT", "0")], "CTR_ENTITIES_LIMIT"),
    ];

    /// What the table compares of a config.
    #[derive(Debug, PartialEq)]
    struct Seen {
        secret_key: bool,
        jwks: Option<(String, Vec<String>, bool)>,
        signals: String,
        limit: usize,
        openapi: bool,
    }

    fn seen(config: &RelayConfig) -> Seen {
        Seen {
            secret_key: config.secret_key.is_some(),
            jwks: config
                .jwks
                .as_ref()
                .map(|j| (j.audience.clone(), j.allowed_hosts.clone(), j.allow_http)),
            signals: config.signals.base_url.clone(),
            limit: config.entities_limit,
            openapi: config.openapi,
        }
    }

    fn expected(fields: &[Field]) -> Seen {
        let mut want = seen(&RelayConfig::default());
        for field in fields {
            match *field {
                Secret => want.secret_key = true,
                Jwks(audience) => {
                    let hosts = DEFAULT_JWKS_HOSTS.iter().map(|&h| h.to_owned()).collect();
                    want.jwks = Some((audience.to_owned(), hosts, false));
                }
                Hosts(hosts) => {
                    want.jwks.as_mut().unwrap().1 = hosts.iter().map(|&h| h.to_owned()).collect();
                }
                AllowHttp => want.jwks.as_mut().unwrap().2 = true,
                Signals(url) => url.clone_into(&mut want.signals),
                Limit(n) => want.limit = n,
                OpenApi => want.openapi = true,
            }
        }
        want
    }

    fn lookup(env: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            env.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    /// `relay-server` with each pair as its flag (`--flag=value`, so `-1` stays a value).
    fn flags(env: &[(&str, &str)]) -> ServeArgs {
        let mut argv = vec!["relay-server".to_owned()];
        for (name, value) in env {
            let (flag, _) = FLAGS.iter().find(|(_, var)| var.name == *name).unwrap();
            argv.push(format!("--{flag}={value}"));
        }
        Cli::try_parse_from(argv).unwrap().serve
    }

    #[test]
    fn one_table_through_both_adapters() {
        for row in ROWS {
            let lambda = xdr_relay_lambda::config_from_env(lookup(row.env));
            let from_env = relay_config(&ServeArgs::default(), lookup(row.env));
            let from_flags = relay_config(&flags(row.env), |_| None);
            for result in [&lambda, &from_env, &from_flags] {
                if let Err(error) = result {
                    assert!(!error.to_string().contains(SECRET), "{row:?}: {error}");
                    assert!(!format!("{error:?}").contains(SECRET), "{row:?}");
                }
            }
            match row.want {
                Want::Accepts(fields) => {
                    let want = expected(fields);
                    let lambda = lambda.unwrap_or_else(|e| panic!("{row:?}: lambda: {e}"));
                    assert_eq!(seen(&lambda), want, "{row:?}: lambda");
                    for (server, how) in [(from_env, "env"), (from_flags, "flags")] {
                        if row.server_refuses {
                            let error = server.expect_err(&format!("{row:?}: server {how}"));
                            assert_eq!(error.name(), "SECRET_KEY", "{row:?}: {error}");
                        } else {
                            let server =
                                server.unwrap_or_else(|e| panic!("{row:?}: server {how}: {e}"));
                            assert_eq!(seen(&server), want, "{row:?}: server {how}");
                        }
                    }
                }
                Want::Refuses(name) => {
                    assert!(
                        !row.server_refuses,
                        "{row:?}: the column is for accepted rows"
                    );
                    let lambda: EnvError = lambda.expect_err(&format!("{row:?}: lambda"));
                    assert_eq!(lambda.name(), name, "{row:?}: {lambda}");
                    // The same error, word for word, on both adapters.
                    assert_eq!(from_env.expect_err("server env"), lambda, "{row:?}");
                    assert_eq!(from_flags.expect_err("server flags"), lambda, "{row:?}");
                }
            }
        }
    }

    #[test]
    fn the_table_covers_every_variable_with_valid_and_invalid_values() {
        for var in RelayConfig::ENV_VARS {
            let rows = || {
                ROWS.iter()
                    .filter(|r| r.env.iter().any(|(n, _)| *n == var.name))
            };
            assert!(
                rows().any(|r| matches!(r.want, Want::Accepts(_))),
                "{}",
                var.name
            );
            // Any SECRET_KEY is a key: only its absence is refused, and only by the server.
            let refused = rows().any(|r| match r.want {
                Want::Refuses(name) => name == var.name,
                Want::Accepts(_) => r.server_refuses && var.name == "SECRET_KEY",
            });
            assert!(refused, "{}", var.name);
        }
    }

    #[test]
    fn every_variable_has_a_flag() {
        let flags: Vec<_> = FLAGS.iter().map(|(_, var)| *var).collect();
        assert_eq!(flags, RelayConfig::ENV_VARS);
    }

    #[test]
    fn a_flag_wins_over_its_variable() {
        let env = lookup(&[S, ("CTR_ENTITIES_LIMIT", "5"), ("RELAY_OPENAPI", "true")]);
        let args = flags(&[("CTR_ENTITIES_LIMIT", "9"), ("RELAY_OPENAPI", "")]);
        let config = relay_config(&args, env).unwrap();
        assert_eq!(config.entities_limit, 9);
        // An empty flag is given, and means unset: the variable does not show through.
        assert!(!config.openapi);
    }

    #[test]
    fn listen_flag_variable_and_default() {
        let env = lookup(&[("RELAY_LISTEN", " 0.0.0.0:9000 ")]);
        let none = ServeArgs::default();
        assert_eq!(
            super::listen(&none, |_| None).unwrap().to_string(),
            "127.0.0.1:8080"
        );
        assert_eq!(
            super::listen(&none, &env).unwrap().to_string(),
            "0.0.0.0:9000"
        );
        let args = Cli::try_parse_from(["relay-server", "--listen", "[::1]:1"])
            .unwrap()
            .serve;
        assert_eq!(super::listen(&args, &env).unwrap().to_string(), "[::1]:1");
        let error = super::listen(&none, lookup(&[("RELAY_LISTEN", "localhost")])).unwrap_err();
        assert_eq!(
            error,
            r#"RELAY_LISTEN must be an address and port such as 127.0.0.1:8080, got "localhost""#
        );
    }

    #[test]
    fn metrics_listen_is_off_by_default_and_never_the_relay_port() {
        let relay: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let none = ServeArgs::default();
        assert_eq!(super::metrics_listen(&none, |_| None, relay), Ok(None));
        let env = lookup(&[("RELAY_METRICS_LISTEN", " ")]);
        assert_eq!(super::metrics_listen(&none, env, relay), Ok(None));
        let env = lookup(&[("RELAY_METRICS_LISTEN", "0.0.0.0:9090")]);
        let found = super::metrics_listen(&none, env, relay).unwrap();
        assert_eq!(found.unwrap().to_string(), "0.0.0.0:9090");
        let args = Cli::try_parse_from(["relay-server", "--metrics-listen", "127.0.0.1:9191"])
            .unwrap()
            .serve;
        let found = super::metrics_listen(&args, lookup(&[]), relay).unwrap();
        assert_eq!(found.unwrap().to_string(), "127.0.0.1:9191");
        let env = lookup(&[("RELAY_METRICS_LISTEN", "0.0.0.0:8080")]);
        let error = super::metrics_listen(&none, env, relay).unwrap_err();
        assert!(
            error.starts_with("RELAY_METRICS_LISTEN must differ"),
            "{error}"
        );
        let env = lookup(&[("RELAY_METRICS_LISTEN", "9090")]);
        let error = super::metrics_listen(&none, env, relay).unwrap_err();
        assert!(
            error.starts_with("RELAY_METRICS_LISTEN must be an address"),
            "{error}"
        );
    }

    #[test]
    fn log_format_follows_flag_variable_then_terminal() {
        use super::LogFormat::{Json, Text};
        let none = ServeArgs::default();
        assert_eq!(super::log_format(&none, |_| None, true), Ok(Text));
        assert_eq!(super::log_format(&none, |_| None, false), Ok(Json));
        let env = lookup(&[("RELAY_LOG_FORMAT", " JSON ")]);
        assert_eq!(super::log_format(&none, &env, true), Ok(Json));
        let args = Cli::try_parse_from(["relay-server", "--log-format", "text"])
            .unwrap()
            .serve;
        assert_eq!(super::log_format(&args, &env, false), Ok(Text));
        let env = lookup(&[("RELAY_LOG_FORMAT", "yaml")]);
        assert_eq!(
            super::log_format(&none, env, true),
            Err(r#"RELAY_LOG_FORMAT must be `text` or `json`, got "yaml""#.to_owned())
        );
    }

    #[test]
    fn help_names_every_flag_and_variable_and_no_value() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
        let help = Cli::command().render_long_help().to_string();
        for (flag, var) in FLAGS {
            assert!(
                help.contains(&format!("--{flag} <{}>", var.value_name)),
                "{flag}"
            );
            assert!(
                help.contains(&format!("[env: {}]", var.name)),
                "{}",
                var.name
            );
        }
        for var in SERVER_VARS {
            assert!(help.contains(&format!("--{} <{}>", var.flag, var.value_name)));
            assert!(help.contains(&format!("[env: {}]", var.name)));
        }
        let args = flags(&[S]);
        assert!(!format!("{args:?}").contains(SECRET));
    }

    #[test]
    fn a_missing_secret_says_how_to_make_one() {
        let error = relay_config(&ServeArgs::default(), |_| None).unwrap_err();
        let message = super::explain(&error);
        assert!(message.starts_with("SECRET_KEY is not set"), "{message}");
        assert!(message.contains("relay-server jwt"), "{message}");
    }
}
