//! `module-type`: prints the relay's Threat Response / XDR module type, derived from its
//! provider's info ([`xdr_relay_core::module_type`]), for the authentication mode it runs in.

use clap::{Arg, ArgAction, ArgMatches};
use xdr_relay_core::{App, EnvVar, ModuleAuth, Provider, Settings, Suite};

use crate::secrets;

/// The key server of the US region, the default of `--jwks-host`.
const US_JWKS_HOST: &str = "visibility.amp.cisco.com";

/// The subcommand's arguments.
pub(crate) fn command() -> clap::Command {
    clap::Command::new("module-type")
        .about("Print the module type to register in Cisco XDR for this relay (JSON).")
        .arg(
            Arg::new("relay-url")
                .long("relay-url")
                .value_name("URL")
                .help("The relay's public URL: the module's URL and the tokens' audience. [env: RELAY_URL]"),
        )
        .arg(
            Arg::new("auth-type")
                .long("auth-type")
                .value_name("MODE")
                .help(
                    "`secret-key` (XDR signs HS256 configuration tokens with the relay's \
                     SECRET_KEY) or `jwks` (RS256 configuration tokens, verified with the \
                     region's keys). Default secret-key. [env: AUTH_TYPE]",
                ),
        )
        .arg(
            Arg::new("jwks-host")
                .long("jwks-host")
                .value_name("HOST")
                .default_value(US_JWKS_HOST)
                .help(
                    "With jwks: your XDR region's key server (visibility.amp.cisco.com, \
                     visibility.eu.amp.cisco.com, visibility.apjc.amp.cisco.com).",
                ),
        )
        .arg(
            Arg::new("include-secret-key")
                .long("include-secret-key")
                .action(ArgAction::SetTrue)
                .help(
                    "With secret-key: write the SECRET_KEY (from SECRET_KEY, SECRET_KEY_FILE or \
                     --secret-key-file) into the module type instead of a placeholder.",
                ),
        )
        .arg(
            Arg::new("secret-key-file")
                .long("secret-key-file")
                .value_name("FILE")
                .value_parser(clap::value_parser!(std::path::PathBuf))
                .requires("include-secret-key")
                .help("Read the SECRET_KEY from this file."),
        )
}

/// Prints the module type of `app`.
pub(crate) fn run<P: Provider>(app: &App<P>, args: &ArgMatches) -> Result<(), String> {
    let target = Target::from_args(args)?;
    let module = xdr_relay_core::module_type(app.info(), &target.url, target.auth());
    print_json(&module)
}

/// The suite's subcommand: its arguments and `--relays`.
pub(crate) fn suite_command() -> clap::Command {
    command()
        .about(
            "Print the module types to register in Cisco XDR for the relays of this suite (a \
             JSON array, one per relay, each at RELAY_URL/{name}).",
        )
        .arg(
            Arg::new("relays")
                .long("relays")
                .value_name("NAME,...")
                .help("Only these relays (comma-separated). Default: every relay of the suite. [env: RELAYS]"),
        )
}

/// Prints the module type of every relay of `suite` (or of those `--relays` names), each at
/// its mount's URL.
pub(crate) fn suite_run(suite: &Suite, args: &ArgMatches) -> Result<(), String> {
    let target = Target::from_args(args)?;
    let given = args.get_one::<String>("relays").cloned();
    let settings = Settings::new(|name| match name {
        "RELAYS" => given.clone().or_else(|| std::env::var(name).ok()),
        _ => None,
    });
    let base = target.url.trim_end_matches('/');
    let modules: Vec<_> = suite
        .selected(&settings)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|member| {
            let url = format!("{base}/{}", member.name());
            xdr_relay_core::module_type(member.info(), &url, target.auth())
        })
        .collect();
    print_json(&modules)
}

fn print_json(value: &impl serde::Serialize) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| format!("cannot write the module type: {e}"))?;
    crate::print_out(&text)
}

/// Where the module type points and how its tokens are made, from the arguments and the
/// environment.
struct Target {
    url: String,
    jwks_host: Option<String>,
    secret: Option<String>,
}

impl Target {
    fn auth(&self) -> ModuleAuth<'_> {
        match &self.jwks_host {
            Some(host) => ModuleAuth::Jwks { jwks_host: host },
            None => ModuleAuth::SecretKey {
                key: self.secret.as_deref(),
            },
        }
    }

    fn from_args(args: &ArgMatches) -> Result<Self, String> {
        let env = |name: &str| std::env::var(name).ok();
        let flag = |id: &str| args.get_one::<String>(id).cloned();
        let settings = Settings::new(|name| match name {
            "RELAY_URL" => flag("relay-url").or_else(|| env(name)),
            "AUTH_TYPE" => flag("auth-type").or_else(|| env(name)),
            _ => env(name),
        });
        let url = settings
            .url(&EnvVar::RELAY_URL)
            .map_err(|e| e.to_string())?
            .ok_or(
                "the relay's public URL is needed: pass --relay-url https://... or set RELAY_URL",
            )?;
        let jwks = match settings.value(&EnvVar::AUTH_TYPE) {
            None => false,
            Some(mode) if mode.eq_ignore_ascii_case("secret-key") => false,
            Some(mode) if mode.eq_ignore_ascii_case("jwks") => true,
            Some(mode) => {
                return Err(format!(
                    "AUTH_TYPE must be secret-key or jwks, got {mode:?}"
                ));
            }
        };
        let secret = if args.get_flag("include-secret-key") {
            let from_file = args
                .get_one::<std::path::PathBuf>("secret-key-file")
                .cloned()
                .or_else(|| env("SECRET_KEY_FILE").map(Into::into));
            let secret = match from_file {
                Some(path) => Some(secrets::read_file(&path, "a SECRET_KEY")?),
                None => settings.value(&EnvVar::SECRET_KEY),
            };
            Some(secret.ok_or(
                "--include-secret-key needs SECRET_KEY, SECRET_KEY_FILE or --secret-key-file",
            )?)
        } else {
            None
        };
        let host = args
            .get_one::<String>("jwks-host")
            .map_or(US_JWKS_HOST, String::as_str);
        Ok(Self {
            url,
            jwks_host: jwks.then(|| host.to_owned()),
            secret,
        })
    }
}

#[cfg(all(test, feature = "signals"))]
mod tests {
    use super::*;

    fn suite() -> Suite {
        Suite::new("9.9.9").relay("auth0-signals", xdr_relay_core::Auth0Signals::app())
    }

    // A helper of the tests below: a bad argument list fails its test.
    #[allow(clippy::unwrap_used)]
    fn args(extra: &[&str]) -> ArgMatches {
        let mut argv = vec!["module-type", "--relay-url", "https://relays.example.com"];
        argv.extend_from_slice(extra);
        suite_command().try_get_matches_from(argv).unwrap()
    }

    #[test]
    fn a_suites_module_types_are_its_relays_or_an_error_naming_the_unknown_one() {
        assert!(suite_run(&suite(), &args(&[])).is_ok());
        assert!(suite_run(&suite(), &args(&["--relays", "auth0-signals"])).is_ok());
        let error = suite_run(&suite(), &args(&["--relays", "nope"])).unwrap_err();
        assert!(error.contains("nope"), "{error}");
    }
}
