//! The relay's configuration: an explicit value, built by the adapters from env and CLI.
//!
//! [`RelayConfig::from_settings`] is the one mapping from the relay's variables
//! ([`RelayConfig::ENV_VARS`]) to a config; the adapters only say where values come from.

use std::time::Duration;

use crate::auth::SecretKey;
use crate::jwks::JwksConfig;
use crate::settings::{EnvError, EnvVar, Settings};

/// Everything the relay needs to answer requests, whatever its provider.
///
/// Start from [`RelayConfig::default`] (no `SECRET_KEY`) and set what the deployment
/// provides, or read it from the relay's variables with [`from_lookup`](Self::from_lookup). A
/// provider's own settings (an upstream URL, a cache) are the provider's, declared with its
/// [`App`](crate::App), never fields here.
///
/// ```
/// let mut config = xdr_relay_core::RelayConfig::default();
/// config.secret_key = xdr_relay_core::SecretKey::new("from the environment");
/// assert_eq!(config.entities_limit, 100);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RelayConfig {
    /// The HS256 key tokens are verified with. Without one every authenticated route answers
    /// an authorization error saying the relay is not configured. Unused when
    /// [`jwks`](Self::jwks) is set.
    pub secret_key: Option<SecretKey>,
    /// Verify Cisco XDR configuration tokens (RS256, keys from the region's JWKS) instead of
    /// HS256 tokens signed with `secret_key` (`AUTH_TYPE=jwks`). Default `None`.
    pub jwks: Option<JwksConfig>,
    /// Most sightings (and so indicators and relationships) per observable, unless the token
    /// carries its own `CTR_ENTITIES_LIMIT`. Default 100.
    pub entities_limit: usize,
    /// Largest request body accepted, in bytes. Default 1 MiB.
    pub max_body_bytes: usize,
    /// Most observables in one request. Default 1000.
    pub max_observables: usize,
    /// Serve the OpenAPI document at `GET /openapi.json`. Default off: a production relay
    /// need not describe itself to the internet.
    pub openapi: bool,
    /// Every request is answered within this long of its arrival: upstream calls not done by
    /// then give up ([`Context::deadline`](crate::Context::deadline)), and the answer carries
    /// the data that is ready and an error for the rest. Default 25 s, below the 30 s a
    /// caller such as Threat Response waits for a module.
    pub request_timeout: Duration,
}

impl RelayConfig {
    /// Every variable [`from_lookup`](Self::from_lookup) reads, in the order `--help` lists them.
    pub const ENV_VARS: &'static [EnvVar] = &[
        EnvVar::AUTH_TYPE,
        EnvVar::SECRET_KEY,
        EnvVar::RELAY_URL,
        EnvVar::JWKS_ALLOWED_HOSTS,
        EnvVar::JWKS_ALLOW_HTTP,
        EnvVar::CTR_ENTITIES_LIMIT,
        EnvVar::RELAY_REQUEST_TIMEOUT,
        EnvVar::RELAY_OPENAPI,
    ];

    /// The configuration described by the variables of [`ENV_VARS`](Self::ENV_VARS), each
    /// read through `lookup` (the adapter decides where values come from: the process
    /// environment, flags, a test table); the rest are [defaults](Self::default). The same as
    /// [`from_settings`](Self::from_settings) with `Settings::new(lookup)`.
    ///
    /// Parsing follows [`Settings`]' rules, and:
    /// - `AUTH_TYPE` is `secret-key` (the default) or `jwks`, in any case;
    /// - `JWKS_ALLOWED_HOSTS` is comma-separated host names, each with an optional `:port`
    ///   and without a scheme or path; entries are trimmed and empty ones ignored;
    /// - every variable that is set must be valid, even one the chosen `AUTH_TYPE` ignores.
    ///
    /// A missing `SECRET_KEY` is not an error here (`secret_key` stays `None`, and
    /// authenticated routes answer that the relay is not configured): an adapter that must
    /// not start without credentials checks [`require_credentials`](Self::require_credentials).
    /// `jwks` mode without `RELAY_URL` is an error: there is no audience to check tokens
    /// against.
    ///
    /// ```
    /// use xdr_relay_core::{EnvError, RelayConfig};
    ///
    /// let env = |pairs: &'static [(&'static str, &'static str)]| {
    ///     move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
    /// };
    /// let config = RelayConfig::from_lookup(env(&[("SECRET_KEY", "s3cr3t"), ("CTR_ENTITIES_LIMIT", " 7 ")]))?;
    /// assert_eq!(config.entities_limit, 7);
    /// assert!(config.secret_key.is_some());
    ///
    /// let error = RelayConfig::from_lookup(env(&[("RELAY_OPENAPI", "yes")])).unwrap_err();
    /// assert_eq!(error.to_string(), r#"RELAY_OPENAPI must be true, false, 1 or 0, got "yes""#);
    /// # Ok::<(), EnvError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`EnvError`] naming the first variable that is invalid, or `RELAY_URL` when `jwks`
    /// mode lacks it.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        Self::from_settings(&Settings::new(lookup))
    }

    /// The configuration described by the relay's variables in `settings`: see
    /// [`from_lookup`](Self::from_lookup).
    ///
    /// # Errors
    ///
    /// [`EnvError`] naming the first variable that is invalid, or `RELAY_URL` when `jwks`
    /// mode lacks it.
    pub fn from_settings(settings: &Settings<'_>) -> Result<Self, EnvError> {
        let mut config = Self::default();

        let jwks_mode = match settings.value(&EnvVar::AUTH_TYPE) {
            None => false,
            Some(mode) if mode.eq_ignore_ascii_case("secret-key") => false,
            Some(mode) if mode.eq_ignore_ascii_case("jwks") => true,
            Some(mode) => {
                return Err(EnvError::invalid(
                    &EnvVar::AUTH_TYPE,
                    "secret-key or jwks",
                    &mode,
                ));
            }
        };
        config.secret_key = settings
            .value(&EnvVar::SECRET_KEY)
            .as_deref()
            .and_then(SecretKey::new);
        let relay_url = settings.url(&EnvVar::RELAY_URL)?;
        let allowed_hosts = parse_hosts(settings, &EnvVar::JWKS_ALLOWED_HOSTS)?;
        let allow_http = settings.boolean(&EnvVar::JWKS_ALLOW_HTTP)?;
        if let Some(limit) = settings.count(&EnvVar::CTR_ENTITIES_LIMIT)? {
            config.entities_limit = limit;
        }
        config.openapi = settings
            .boolean(&EnvVar::RELAY_OPENAPI)?
            .unwrap_or(config.openapi);
        if let Some(timeout) = settings.positive_seconds(&EnvVar::RELAY_REQUEST_TIMEOUT)? {
            config.request_timeout = timeout;
        }

        if jwks_mode {
            let audience = relay_url.ok_or(EnvError::Missing {
                name: EnvVar::RELAY_URL.name,
                reason: "with AUTH_TYPE=jwks the relay accepts only tokens whose audience is \
                         its own public URL",
            })?;
            let mut jwks = JwksConfig::new(audience);
            if !allowed_hosts.is_empty() {
                jwks.allowed_hosts = allowed_hosts;
            }
            jwks.allow_http = allow_http.unwrap_or(jwks.allow_http);
            config.jwks = Some(jwks);
        }
        Ok(config)
    }

    /// Whether the relay can verify any token: `Ok` in `jwks` mode or with a `SECRET_KEY`.
    ///
    /// [`from_lookup`](Self::from_lookup) accepts a missing `SECRET_KEY` so that a relay that
    /// must start anyway (a Lambda function, right after deployment) answers "not
    /// configured"; an adapter that would rather refuse to start calls this.
    ///
    /// ```
    /// let config = xdr_relay_core::RelayConfig::from_lookup(|_| None).unwrap();
    /// let error = config.require_credentials().unwrap_err();
    /// assert_eq!(error.name(), "SECRET_KEY");
    /// ```
    pub fn require_credentials(&self) -> Result<(), EnvError> {
        if self.jwks.is_some() || self.secret_key.is_some() {
            return Ok(());
        }
        Err(EnvError::Missing {
            name: EnvVar::SECRET_KEY.name,
            reason: "the relay cannot verify Threat Response's JWTs without it",
        })
    }
}

/// Comma-separated `host[:port]` entries, trimmed, empty ones dropped. Only the shape is
/// checked here (a pasted URL is the usual mistake); the router checks each host fully.
fn parse_hosts(settings: &Settings<'_>, var: &EnvVar) -> Result<Vec<String>, EnvError> {
    let hosts = settings.list(var);
    let bare = |h: &String| !h.contains(|c: char| "/@?#".contains(c) || c.is_whitespace());
    if hosts.iter().all(bare) {
        Ok(hosts)
    } else {
        let value = settings.value(var).unwrap_or_default();
        Err(EnvError::invalid(
            var,
            "host names with an optional :port, comma-separated",
            &value,
        ))
    }
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            secret_key: None,
            jwks: None,
            entities_limit: 100,
            max_body_bytes: 1024 * 1024,
            max_observables: 1000,
            openapi: false,
            request_timeout: Duration::from_secs(25),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::{EnvError, RelayConfig};

    // One table of settings through [`RelayConfig::from_lookup`], the mapping both adapters
    // call, with what each does with its result.

    use crate::jwks::DEFAULT_JWKS_HOSTS;

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
        Limit(usize),
        Timeout(u64),
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

    use Field::{AllowHttp, Hosts, Jwks, Limit, OpenApi, Secret, Timeout};

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
        // CTR_ENTITIES_LIMIT: a positive integer, trimmed.
        ok(&[S, ("CTR_ENTITIES_LIMIT", " 7 ")], &[Secret, Limit(7)]),
        ok(&[S, ("CTR_ENTITIES_LIMIT", "1")], &[Secret, Limit(1)]),
        ok(&[S, ("CTR_ENTITIES_LIMIT", "")], &[Secret]),
        err(&[S, ("CTR_ENTITIES_LIMIT", "0")], "CTR_ENTITIES_LIMIT"),
        err(&[S, ("CTR_ENTITIES_LIMIT", "-1")], "CTR_ENTITIES_LIMIT"),
        err(&[S, ("CTR_ENTITIES_LIMIT", "many")], "CTR_ENTITIES_LIMIT"),
        err(&[S, ("CTR_ENTITIES_LIMIT", "1.5")], "CTR_ENTITIES_LIMIT"),
        // RELAY_REQUEST_TIMEOUT: whole seconds, at least one.
        ok(
            &[S, ("RELAY_REQUEST_TIMEOUT", " 9 ")],
            &[Secret, Timeout(9)],
        ),
        err(
            &[S, ("RELAY_REQUEST_TIMEOUT", "0")],
            "RELAY_REQUEST_TIMEOUT",
        ),
        err(
            &[S, ("RELAY_REQUEST_TIMEOUT", "1.5")],
            "RELAY_REQUEST_TIMEOUT",
        ),
        // More than an instant can take: refused at start, naming the setting.
        err(
            &[S, ("RELAY_REQUEST_TIMEOUT", "18446744073709551615")],
            "RELAY_REQUEST_TIMEOUT",
        ),
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
        limit: usize,
        timeout: std::time::Duration,
        openapi: bool,
    }

    fn seen(config: &RelayConfig) -> Seen {
        Seen {
            secret_key: config.secret_key.is_some(),
            jwks: config
                .jwks
                .as_ref()
                .map(|j| (j.audience.clone(), j.allowed_hosts.clone(), j.allow_http)),
            limit: config.entities_limit,
            timeout: config.request_timeout,
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
                Limit(n) => want.limit = n,
                Timeout(s) => want.timeout = std::time::Duration::from_secs(s),
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

    /// One table through the one mapping both adapters call: `relay-lambda` takes the
    /// result as it is; `relay-server` also requires credentials.
    #[test]
    fn one_table_for_both_adapters() {
        for row in ROWS {
            let result = RelayConfig::from_lookup(lookup(row.env));
            if let Err(error) = &result {
                assert!(!error.to_string().contains(SECRET), "{row:?}: {error}");
                assert!(!format!("{error:?}").contains(SECRET), "{row:?}");
            }
            match row.want {
                Want::Accepts(fields) => {
                    let config = result.unwrap_or_else(|e| panic!("{row:?}: {e}"));
                    assert_eq!(seen(&config), expected(fields), "{row:?}");
                    match config.require_credentials() {
                        Err(error) => {
                            assert!(row.server_refuses, "{row:?}: {error}");
                            assert_eq!(error.name(), "SECRET_KEY", "{row:?}: {error}");
                        }
                        Ok(()) => assert!(!row.server_refuses, "{row:?}"),
                    }
                }
                Want::Refuses(name) => {
                    assert!(
                        !row.server_refuses,
                        "{row:?}: the column is for accepted rows"
                    );
                    let error: EnvError = result.expect_err(&format!("{row:?}"));
                    assert_eq!(error.name(), name, "{row:?}: {error}");
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
    fn from_lookup_reads_exactly_the_listed_variables() {
        let asked = RefCell::new(Vec::new());
        let config = RelayConfig::from_lookup(|name| {
            asked.borrow_mut().push(name.to_owned());
            match name {
                "AUTH_TYPE" => Some("jwks".to_owned()),
                "RELAY_URL" => Some("https://relay.example.com".to_owned()),
                _ => None,
            }
        });
        assert!(config.is_ok());
        let mut asked = asked.into_inner();
        asked.sort();
        let mut listed: Vec<_> = RelayConfig::ENV_VARS.iter().map(|v| v.name).collect();
        listed.sort_unstable();
        assert_eq!(asked, listed);
    }

    #[test]
    fn a_secret_is_never_quoted() {
        let error = EnvError::invalid(&super::EnvVar::SECRET_KEY, "anything", "hunter2");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(!format!("{error:?}").contains("hunter2"));
    }

    #[test]
    fn only_secret_key_is_secret() {
        for var in RelayConfig::ENV_VARS {
            assert_eq!(var.secret, var.name == "SECRET_KEY", "{}", var.name);
        }
    }
}
