//! The relay's configuration: an explicit value, built by the adapters from env and CLI.
//!
//! [`RelayConfig::from_lookup`] is the one mapping from the relay's variables
//! ([`RelayConfig::ENV_VARS`]) to a config; the adapters only say where values come from.

use std::time::Duration;

use crate::auth::SecretKey;
use crate::jwks::JwksConfig;

/// Everything the relay needs to answer requests.
///
/// Start from [`RelayConfig::default`] (which points at the real Auth0 Signals API and has no
/// `SECRET_KEY`) and set what the deployment provides:
///
/// ```
/// let mut config = xdr_relay_core::RelayConfig::default();
/// config.secret_key = xdr_relay_core::SecretKey::new("from the environment");
/// config.signals.base_url = "http://127.0.0.1:9999/".into();
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
    /// How the relay reaches Auth0 Signals (base URL, timeouts, retries).
    pub signals: signals_client::ClientConfig,
    /// Most sightings (and so indicators and relationships) per observable, unless the token
    /// carries its own `CTR_ENTITIES_LIMIT`. Default 100.
    pub entities_limit: usize,
    /// Largest request body accepted, in bytes. Default 1 MiB.
    pub max_body_bytes: usize,
    /// Most observables in one request. Default 1000.
    pub max_observables: usize,
    /// Most upstream calls in flight for one request. Default 50: a typical Threat Response
    /// investigation (up to 50 IPs) then costs two upstream round trips (reports, then list
    /// metadata); the observable limit bounds the rest.
    pub upstream_concurrency: usize,
    /// Most blocklist metadata entries kept across requests. Default 10 000.
    pub metadata_cache_capacity: u64,
    /// How long a blocklist's metadata is reused. Default one hour.
    pub metadata_cache_ttl: Duration,
    /// Serve the OpenAPI document at `GET /openapi.json`. Default off: a production relay
    /// need not describe itself to the internet.
    pub openapi: bool,
}

/// One setting the relay reads from its environment (or, on `relay-server`, a flag).
///
/// The adapters and their `--help` list [`RelayConfig::ENV_VARS`] rather than naming
/// variables themselves, so a new setting is one entry here and one branch of
/// [`RelayConfig::from_lookup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnvVar {
    /// The variable's name, e.g. `SECRET_KEY`.
    pub name: &'static str,
    /// A placeholder for its value in usage text, e.g. `URL`.
    pub value_name: &'static str,
    /// What it sets, its accepted values and its default, in one or two sentences.
    pub help: &'static str,
    /// Its value is a secret: never print, log or echo it.
    pub secret: bool,
}

impl EnvVar {
    /// `secret-key` or `jwks`: how tokens are verified.
    pub const AUTH_TYPE: EnvVar = EnvVar {
        name: "AUTH_TYPE",
        value_name: "MODE",
        help: "How tokens are verified: `secret-key` (HS256 with SECRET_KEY) or `jwks` (Cisco XDR \
               configuration tokens: RS256 with the keys of the region named in the token). \
               Case-insensitive. Default secret-key.",
        secret: false,
    };
    /// The HS256 key Threat Response's JWTs are signed with.
    pub const SECRET_KEY: EnvVar = EnvVar {
        name: "SECRET_KEY",
        value_name: "KEY",
        help: "The HS256 key Threat Response's JWTs are signed with (needed with \
               AUTH_TYPE=secret-key), used exactly as given.",
        secret: true,
    };
    /// The relay's public URL, the audience of configuration tokens.
    pub const RELAY_URL: EnvVar = EnvVar {
        name: "RELAY_URL",
        value_name: "URL",
        help: "The relay's public URL, which configuration tokens name as their audience \
               (required with AUTH_TYPE=jwks).",
        secret: false,
    };
    /// The key servers a configuration token may name.
    pub const JWKS_ALLOWED_HOSTS: EnvVar = EnvVar {
        name: "JWKS_ALLOWED_HOSTS",
        value_name: "HOSTS",
        help: "Key servers a configuration token may name, comma-separated. Default the XDR \
               regions' visibility hosts.",
        secret: false,
    };
    /// Fetch keys over plain HTTP.
    pub const JWKS_ALLOW_HTTP: EnvVar = EnvVar {
        name: "JWKS_ALLOW_HTTP",
        value_name: "BOOL",
        help: "Fetch keys over plain HTTP instead of HTTPS (local testing only): true/false/1/0. \
               Default false.",
        secret: false,
    };
    /// The Auth0 Signals API's base URL.
    pub const SIGNALS_API_URL: EnvVar = EnvVar {
        name: "SIGNALS_API_URL",
        value_name: "URL",
        help: "Base URL of the Auth0 Signals API. Default https://signals.api.auth0.com/.",
        secret: false,
    };
    /// Most sightings per observable.
    pub const CTR_ENTITIES_LIMIT: EnvVar = EnvVar {
        name: "CTR_ENTITIES_LIMIT",
        value_name: "N",
        help: "Most sightings per observable, a positive integer (a token's own \
               CTR_ENTITIES_LIMIT wins). Default 100.",
        secret: false,
    };
    /// Serve the OpenAPI document.
    pub const RELAY_OPENAPI: EnvVar = EnvVar {
        name: "RELAY_OPENAPI",
        value_name: "BOOL",
        help: "Serve the OpenAPI document at GET /openapi.json: true/false/1/0. Default false.",
        secret: false,
    };
}

/// A variable [`RelayConfig::from_lookup`] cannot use, or one the relay needs and lacks.
///
/// The messages name the variable and say what is expected; they quote the value given,
/// except a secret's (`SECRET_KEY`), which never appears.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    /// A variable is set to a value it does not accept.
    #[error("{name} must be {expected}, got {value}")]
    Invalid {
        /// The variable, e.g. `CTR_ENTITIES_LIMIT`.
        name: &'static str,
        /// What it accepts, e.g. `a positive integer`.
        expected: &'static str,
        /// The value given, quoted; `(redacted)` for a secret.
        value: String,
    },
    /// A variable the configuration needs is unset or empty.
    #[error("{name} is not set: {reason}")]
    Missing {
        /// The variable, e.g. `RELAY_URL`.
        name: &'static str,
        /// Why it is needed.
        reason: &'static str,
    },
}

impl EnvError {
    /// The variable the error is about.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Invalid { name, .. } | Self::Missing { name, .. } => name,
        }
    }

    fn invalid(var: &EnvVar, expected: &'static str, value: &str) -> Self {
        let value = if var.secret {
            "(redacted)".to_owned()
        } else {
            format!("{value:?}")
        };
        Self::Invalid {
            name: var.name,
            expected,
            value,
        }
    }
}

impl RelayConfig {
    /// Every variable [`from_lookup`](Self::from_lookup) reads, in the order `--help` lists them.
    pub const ENV_VARS: &'static [EnvVar] = &[
        EnvVar::AUTH_TYPE,
        EnvVar::SECRET_KEY,
        EnvVar::RELAY_URL,
        EnvVar::JWKS_ALLOWED_HOSTS,
        EnvVar::JWKS_ALLOW_HTTP,
        EnvVar::SIGNALS_API_URL,
        EnvVar::CTR_ENTITIES_LIMIT,
        EnvVar::RELAY_OPENAPI,
    ];

    /// The configuration described by the variables of [`ENV_VARS`](Self::ENV_VARS), each
    /// read through `lookup` (the adapter decides where values come from: the process
    /// environment, flags, a test table); the rest are [defaults](Self::default).
    ///
    /// Parsing, the same for every variable:
    /// - values are trimmed, except `SECRET_KEY`, which is used exactly as given; an empty
    ///   value counts as unset;
    /// - a boolean is `true`, `false`, `1` or `0`, in any case;
    /// - a count is a positive integer;
    /// - a URL starts with `http://` or `https://` (the Signals client checks the rest when
    ///   the router is built);
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
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let get = |var: &EnvVar| {
            lookup(var.name)
                .map(|v| if var.secret { v } else { v.trim().to_owned() })
                .filter(|v| !v.is_empty())
        };
        let mut config = Self::default();

        let jwks_mode = match get(&EnvVar::AUTH_TYPE) {
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
        config.secret_key = get(&EnvVar::SECRET_KEY).as_deref().and_then(SecretKey::new);
        let relay_url = parse_url(&EnvVar::RELAY_URL, get(&EnvVar::RELAY_URL))?;
        let allowed_hosts = parse_hosts(
            &EnvVar::JWKS_ALLOWED_HOSTS,
            get(&EnvVar::JWKS_ALLOWED_HOSTS),
        )?;
        let allow_http = parse_bool(&EnvVar::JWKS_ALLOW_HTTP, get(&EnvVar::JWKS_ALLOW_HTTP))?;
        if let Some(url) = parse_url(&EnvVar::SIGNALS_API_URL, get(&EnvVar::SIGNALS_API_URL))? {
            config.signals.base_url = url;
        }
        if let Some(limit) = get(&EnvVar::CTR_ENTITIES_LIMIT) {
            config.entities_limit =
                limit
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| {
                        EnvError::invalid(&EnvVar::CTR_ENTITIES_LIMIT, "a positive integer", &limit)
                    })?;
        }
        config.openapi = parse_bool(&EnvVar::RELAY_OPENAPI, get(&EnvVar::RELAY_OPENAPI))?
            .unwrap_or(config.openapi);

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

/// An `http://` or `https://` URL, in any case; only the scheme is checked here, so that a
/// value like `relay.example.com` is refused with the variable's name.
fn parse_url(var: &EnvVar, value: Option<String>) -> Result<Option<String>, EnvError> {
    let Some(value) = value else { return Ok(None) };
    let scheme = value.split_once("://").map(|(scheme, _)| scheme);
    if scheme.is_some_and(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https")) {
        Ok(Some(value))
    } else {
        Err(EnvError::invalid(var, "an http:// or https:// URL", &value))
    }
}

/// Comma-separated `host[:port]` entries, trimmed, empty ones dropped. Only the shape is
/// checked here (a pasted URL is the usual mistake); the router checks each host fully.
fn parse_hosts(var: &EnvVar, value: Option<String>) -> Result<Vec<String>, EnvError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let hosts: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect();
    let bare = |h: &String| !h.contains(|c: char| "/@?#".contains(c) || c.is_whitespace());
    if hosts.iter().all(bare) {
        Ok(hosts)
    } else {
        Err(EnvError::invalid(
            var,
            "host names with an optional :port, comma-separated",
            &value,
        ))
    }
}

/// `true`, `false`, `1` or `0`, in any case (the value is already trimmed).
fn parse_bool(var: &EnvVar, value: Option<String>) -> Result<Option<bool>, EnvError> {
    let Some(value) = value else { return Ok(None) };
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(Some(true)),
        "false" | "0" => Ok(Some(false)),
        _ => Err(EnvError::invalid(var, "true, false, 1 or 0", &value)),
    }
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            secret_key: None,
            jwks: None,
            signals: signals_client::ClientConfig::default(),
            entities_limit: 100,
            max_body_bytes: 1024 * 1024,
            max_observables: 1000,
            upstream_concurrency: 50,
            metadata_cache_capacity: 10_000,
            metadata_cache_ttl: Duration::from_secs(3600),
            openapi: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::{EnvError, RelayConfig};

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
