//! Settings: each declared once, as an [`EnvVar`] (variable, flag, help, secret or not), read
//! through one [`Settings`] lookup and parsed by one set of rules, with [`EnvError`] naming the
//! variable. The relay's own are [`RelayConfig::ENV_VARS`](crate::RelayConfig::ENV_VARS),
//! parsed by [`RelayConfig::from_settings`](crate::RelayConfig::from_settings); a provider's
//! are declared and parsed by its [`App`](crate::App).

use std::fmt;
use std::time::Duration;

/// One setting a relay reads from its environment (and, on a server, from a flag): its
/// variable, its flag, what it holds and whether it is a secret.
///
/// The relay's own settings are [`RelayConfig::ENV_VARS`](crate::RelayConfig::ENV_VARS); a provider declares its own with
/// its [`App`](crate::App). Every adapter lists them in its `--help` and reads them through
/// one [`Settings`] lookup, so a setting is declared once, here, and parsed once, by whoever
/// owns it.
///
/// ```
/// use xdr_relay_core::EnvVar;
///
/// const API_URL: EnvVar = EnvVar::new(
///     "EXAMPLE_API_URL",
///     "example-api-url",
///     "URL",
///     "Base URL of the Example Intel API. Default https://api.example.com/.",
/// );
/// const API_TOKEN: EnvVar =
///     EnvVar::new("EXAMPLE_TOKEN", "example-token", "TOKEN", "The service token.").secret();
/// assert!(API_TOKEN.secret && !API_URL.secret);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnvVar {
    /// The variable's name, e.g. `SECRET_KEY`.
    pub name: &'static str,
    /// Its long flag on a server's command line, without the dashes, e.g. `secret-key`.
    pub flag: &'static str,
    /// A placeholder for its value in usage text, e.g. `URL`.
    pub value_name: &'static str,
    /// What it sets, its accepted values and its default, in one or two sentences.
    pub help: &'static str,
    /// Its value is a secret: never print, log or echo it, and never trim it.
    pub secret: bool,
    /// The flag may be given several times; the variable holds the values comma-separated
    /// ([`Settings::list`]).
    pub multiple: bool,
}

impl EnvVar {
    /// A setting: its variable `name`, its `flag` (without dashes), a `value_name` for usage
    /// text and its `help`.
    #[must_use]
    pub const fn new(
        name: &'static str,
        flag: &'static str,
        value_name: &'static str,
        help: &'static str,
    ) -> Self {
        Self {
            name,
            flag,
            value_name,
            help,
            secret: false,
            multiple: false,
        }
    }

    /// The same setting, holding a secret: never printed, logged or trimmed.
    #[must_use]
    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// The same setting, whose flag may be repeated (the variable is comma-separated).
    #[must_use]
    pub const fn multiple(mut self) -> Self {
        self.multiple = true;
        self
    }

    /// `secret-key` or `jwks`: how tokens are verified.
    pub const AUTH_TYPE: EnvVar = EnvVar::new(
        "AUTH_TYPE",
        "auth-type",
        "MODE",
        "How tokens are verified: `secret-key` (HS256 with SECRET_KEY) or `jwks` (Cisco XDR \
         configuration tokens: RS256 with the keys of the region named in the token). \
         Case-insensitive. Default secret-key.",
    );
    /// The HS256 key Threat Response's JWTs are signed with.
    pub const SECRET_KEY: EnvVar = EnvVar::new(
        "SECRET_KEY",
        "secret-key",
        "KEY",
        "The HS256 key Threat Response's JWTs are signed with (needed with \
         AUTH_TYPE=secret-key), used exactly as given.",
    )
    .secret();
    /// The relay's public URL, the audience of configuration tokens.
    pub const RELAY_URL: EnvVar = EnvVar::new(
        "RELAY_URL",
        "relay-url",
        "URL",
        "The relay's public URL, which configuration tokens name as their audience \
         (required with AUTH_TYPE=jwks).",
    );
    /// The key servers a configuration token may name.
    pub const JWKS_ALLOWED_HOSTS: EnvVar = EnvVar::new(
        "JWKS_ALLOWED_HOSTS",
        "jwks-allowed-hosts",
        "HOSTS",
        "Key servers a configuration token may name, comma-separated. Default the XDR \
         regions' visibility hosts.",
    );
    /// Fetch keys over plain HTTP.
    pub const JWKS_ALLOW_HTTP: EnvVar = EnvVar::new(
        "JWKS_ALLOW_HTTP",
        "jwks-allow-http",
        "BOOL",
        "Fetch keys over plain HTTP instead of HTTPS (local testing only): true/false/1/0. \
         Default false.",
    );
    /// Most sightings per observable.
    pub const CTR_ENTITIES_LIMIT: EnvVar = EnvVar::new(
        "CTR_ENTITIES_LIMIT",
        "ctr-entities-limit",
        "N",
        "Most sightings per observable, a positive integer (a token's own \
         CTR_ENTITIES_LIMIT wins). Default 100.",
    );
    /// Seconds to answer a request in.
    pub const RELAY_REQUEST_TIMEOUT: EnvVar = EnvVar::new(
        "RELAY_REQUEST_TIMEOUT",
        "request-timeout",
        "SECONDS",
        "Seconds within which every request is answered, with the data that is ready and an \
         error for the rest; keep it below Threat Response's module timeout. Default 25.",
    );
    /// Serve the OpenAPI document.
    pub const RELAY_OPENAPI: EnvVar = EnvVar::new(
        "RELAY_OPENAPI",
        "openapi",
        "BOOL",
        "Serve the OpenAPI document at GET /openapi.json: true/false/1/0. Default false.",
    );
}

/// The values of a relay's settings, read through one lookup, and the one way they are
/// parsed: by [`RelayConfig::from_settings`](crate::RelayConfig::from_settings) for the relay's own and by a provider's
/// [`App`](crate::App) for its own, so every value is trimmed, checked and reported alike.
///
/// The adapter decides where values come from (the process environment, flags over it, a
/// test table). Rules, the same for every setting:
/// - values are trimmed, except a [secret](EnvVar::secret)'s, which is used exactly as given;
///   an empty value counts as unset;
/// - a boolean is `true`, `false`, `1` or `0`, in any case;
/// - a count is a positive integer; a duration is whole seconds, `0` included, at most ten
///   years;
/// - a URL starts with `http://` or `https://`;
/// - errors ([`EnvError`]) name the variable and quote the value, never a secret's.
///
/// ```
/// use xdr_relay_core::{EnvVar, Settings};
///
/// const TTL: EnvVar = EnvVar::new("EXAMPLE_CACHE_TTL", "example-cache-ttl", "SECONDS", "Cache TTL.");
/// let settings = Settings::new(|name| (name == "EXAMPLE_CACHE_TTL").then(|| " 90 ".to_owned()));
/// assert_eq!(settings.seconds(&TTL)?, Some(std::time::Duration::from_secs(90)));
///
/// let settings = Settings::new(|_| Some("soon".to_owned()));
/// let error = settings.seconds(&TTL).unwrap_err();
/// assert_eq!(error.to_string(), r#"EXAMPLE_CACHE_TTL must be a whole number of seconds, got "soon""#);
/// # Ok::<(), xdr_relay_core::EnvError>(())
/// ```
pub struct Settings<'a> {
    lookup: Box<Lookup<'a>>,
}

/// Where values come from: a variable's name to its value, if set.
type Lookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

impl fmt::Debug for Settings<'_> {
    /// Nothing: the values may be secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Settings(<lookup>)")
    }
}

impl<'a> Settings<'a> {
    /// Settings whose values `lookup` gives by variable name.
    pub fn new(lookup: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Self {
            lookup: Box::new(lookup),
        }
    }

    /// Settings whose values are `pairs` (name, value), the rest unset: a relay's tests and
    /// examples, where the adapters read the process's environment.
    ///
    /// ```
    /// use xdr_relay_core::{EnvVar, Settings};
    ///
    /// const TTL: EnvVar = EnvVar::new("EXAMPLE_CACHE_TTL", "example-cache-ttl", "SECONDS", "How long.");
    /// let settings = Settings::from_pairs(&[("EXAMPLE_CACHE_TTL", "60")]);
    /// assert_eq!(settings.seconds(&TTL)?, Some(std::time::Duration::from_secs(60)));
    /// assert_eq!(Settings::from_pairs(&[]).seconds(&TTL)?, None);
    /// # Ok::<(), xdr_relay_core::EnvError>(())
    /// ```
    #[must_use]
    pub fn from_pairs(pairs: &'a [(&'a str, &'a str)]) -> Self {
        Self::new(move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    /// The value of `var`: trimmed unless it is a secret; `None` when unset or empty.
    #[must_use]
    pub fn value(&self, var: &EnvVar) -> Option<String> {
        (self.lookup)(var.name)
            .map(|v| if var.secret { v } else { v.trim().to_owned() })
            .filter(|v| !v.is_empty())
    }

    /// The value of `var`, or the error that it is missing, saying `reason`.
    ///
    /// # Errors
    ///
    /// [`EnvError::Missing`] when `var` is unset or empty.
    pub fn required(&self, var: &EnvVar, reason: &'static str) -> Result<String, EnvError> {
        self.value(var).ok_or(EnvError::Missing {
            name: var.name,
            reason,
        })
    }

    /// An `http://` or `https://` URL, in any case. Only the scheme is checked here (the
    /// client that uses it checks the rest), so that a value like `relay.example.com` is
    /// refused with the variable's name.
    ///
    /// # Errors
    ///
    /// [`EnvError::Invalid`] for any other value.
    pub fn url(&self, var: &EnvVar) -> Result<Option<String>, EnvError> {
        let Some(value) = self.value(var) else {
            return Ok(None);
        };
        let scheme = value.split_once("://").map(|(scheme, _)| scheme);
        if scheme.is_some_and(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"))
        {
            Ok(Some(value))
        } else {
            Err(EnvError::invalid(var, "an http:// or https:// URL", &value))
        }
    }

    /// `true`, `false`, `1` or `0`, in any case.
    ///
    /// # Errors
    ///
    /// [`EnvError::Invalid`] for any other value.
    pub fn boolean(&self, var: &EnvVar) -> Result<Option<bool>, EnvError> {
        let Some(value) = self.value(var) else {
            return Ok(None);
        };
        match value.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(EnvError::invalid(var, "true, false, 1 or 0", &value)),
        }
    }

    /// A positive integer.
    ///
    /// # Errors
    ///
    /// [`EnvError::Invalid`] for zero, a negative number or anything else.
    pub fn count(&self, var: &EnvVar) -> Result<Option<usize>, EnvError> {
        let Some(value) = self.value(var) else {
            return Ok(None);
        };
        match value.parse::<usize>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(EnvError::invalid(var, "a positive integer", &value)),
        }
    }

    /// A whole number of seconds, `0` included (which a setting may read as "off"), at most
    /// [`MAX_SECONDS`](Self::MAX_SECONDS).
    ///
    /// # Errors
    ///
    /// [`EnvError::Invalid`] for anything else.
    pub fn seconds(&self, var: &EnvVar) -> Result<Option<Duration>, EnvError> {
        let Some(value) = self.value(var) else {
            return Ok(None);
        };
        match value.parse::<u64>() {
            Ok(seconds) if seconds <= Self::MAX_SECONDS => Ok(Some(Duration::from_secs(seconds))),
            Ok(_) => Err(EnvError::invalid(
                var,
                "a whole number of seconds up to 315360000 (ten years)",
                &value,
            )),
            Err(_) => Err(EnvError::invalid(var, "a whole number of seconds", &value)),
        }
    }

    /// The longest duration [`seconds`](Self::seconds) accepts: ten years. Longer ones are
    /// refused at start, naming the setting, since added to an instant they could overflow
    /// it (a panic on the first request or the first open circuit).
    pub const MAX_SECONDS: u64 = 10 * 365 * 24 * 3600;

    /// A whole number of seconds, at least one: a timeout, where 0 would fail everything.
    ///
    /// # Errors
    ///
    /// [`EnvError::Invalid`] for 0 or anything but whole seconds.
    pub fn positive_seconds(&self, var: &EnvVar) -> Result<Option<Duration>, EnvError> {
        match self.seconds(var)? {
            Some(d) if d.is_zero() => Err(EnvError::invalid(
                var,
                "a positive whole number of seconds",
                "0",
            )),
            other => Ok(other),
        }
    }

    /// The comma-separated values of `var`, each trimmed (unless a secret), empty ones
    /// dropped: what a [`multiple`](EnvVar::multiple) setting holds.
    #[must_use]
    pub fn list(&self, var: &EnvVar) -> Vec<String> {
        let Some(value) = self.value(var) else {
            return Vec::new();
        };
        value
            .split(',')
            .map(|v| if var.secret { v } else { v.trim() })
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// A variable [`RelayConfig::from_lookup`](crate::RelayConfig::from_lookup) cannot use, or one the relay needs and lacks.
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

    /// `var` is set to `value`, which is not `expected` (e.g. `a positive integer`): the
    /// error a provider's own parsing returns, quoting the value unless `var` is a secret.
    #[must_use]
    pub fn invalid(var: &EnvVar, expected: &'static str, value: &str) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;

    const URL: EnvVar = EnvVar::new("T_URL", "t-url", "URL", "A URL.");
    const FLAG: EnvVar = EnvVar::new("T_FLAG", "t-flag", "BOOL", "A switch.");
    const COUNT: EnvVar = EnvVar::new("T_COUNT", "t-count", "N", "A count.");
    const LIST: EnvVar = EnvVar::new("T_LIST", "t-list", "ITEMS", "A list.").multiple();
    const SECRET: EnvVar = EnvVar::new("T_SECRET", "t-secret", "KEY", "A secret.").secret();

    fn with(name: &'static str, value: &'static str) -> Settings<'static> {
        Settings::new(move |n| (n == name).then(|| value.to_owned()))
    }

    #[test]
    fn values_are_trimmed_and_empty_means_unset_but_secrets_are_kept_as_given() {
        assert_eq!(with("T_URL", "  x ").value(&URL).as_deref(), Some("x"));
        assert_eq!(with("T_URL", "   ").value(&URL), None);
        assert_eq!(
            with("T_SECRET", " s3 cr3t ").value(&SECRET).as_deref(),
            Some(" s3 cr3t ")
        );
        let missing = with("OTHER", "x").required(&URL, "the relay needs it");
        assert_eq!(
            missing.unwrap_err().to_string(),
            "T_URL is not set: the relay needs it"
        );
        assert_eq!(with("T_URL", "x").required(&URL, "r").unwrap(), "x");
        assert_eq!(
            format!("{:?}", with("T_SECRET", "s3")),
            "Settings(<lookup>)"
        );
    }

    #[test]
    fn typed_values_and_their_errors() {
        assert_eq!(
            with("T_URL", "HTTPS://a.example/")
                .url(&URL)
                .unwrap()
                .as_deref(),
            Some("HTTPS://a.example/")
        );
        assert_eq!(with("X", "").url(&URL).unwrap(), None);
        let error = with("T_URL", "a.example").url(&URL).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"T_URL must be an http:// or https:// URL, got "a.example""#
        );
        for (text, value) in [("TRUE", true), ("1", true), ("false", false), ("0", false)] {
            assert_eq!(
                with("T_FLAG", text).boolean(&FLAG).unwrap(),
                Some(value),
                "{text}"
            );
        }
        assert!(with("T_FLAG", "yes").boolean(&FLAG).is_err());
        assert_eq!(with("T_COUNT", "3").count(&COUNT).unwrap(), Some(3));
        for bad in ["0", "-2", "x"] {
            assert_eq!(
                with("T_COUNT", bad).count(&COUNT).unwrap_err().name(),
                "T_COUNT"
            );
        }
        assert_eq!(with("X", "").count(&COUNT).unwrap(), None);
        assert_eq!(
            with("T_COUNT", "0").seconds(&COUNT).unwrap(),
            Some(Duration::ZERO)
        );
        // Beyond ten years a duration is refused: added to an instant it could overflow.
        let huge = with("T_COUNT", "18446744073709551615").seconds(&COUNT);
        assert_eq!(
            huge.unwrap_err().to_string(),
            r#"T_COUNT must be a whole number of seconds up to 315360000 (ten years), got "18446744073709551615""#
        );
        assert_eq!(
            with("T_COUNT", "315360000").seconds(&COUNT).unwrap(),
            Some(Duration::from_secs(315_360_000))
        );
        let zero = with("T_COUNT", "0").positive_seconds(&COUNT).unwrap_err();
        assert_eq!(
            zero.to_string(),
            r#"T_COUNT must be a positive whole number of seconds, got "0""#
        );
        assert_eq!(
            with("T_COUNT", "7").positive_seconds(&COUNT).unwrap(),
            Some(Duration::from_secs(7))
        );
        assert_eq!(with("T_LIST", " a, ,b ,").list(&LIST), ["a", "b"]);
        assert!(with("X", "").list(&LIST).is_empty());
        // A secret's error never quotes it.
        let error = EnvError::invalid(&SECRET, "something", "hunter2");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(!format!("{error:?}").contains("hunter2"));
    }
}
