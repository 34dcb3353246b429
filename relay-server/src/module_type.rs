//! `module-type`: prints the relay's Threat Response / XDR module type, derived from its
//! provider's info ([`xdr_relay_core::module_type`]), for the authentication mode it runs in.

use clap::{Arg, ArgAction, ArgMatches};
use xdr_relay_core::{App, EnvVar, ModuleAuth, Provider, Settings};

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
        .ok_or("the relay's public URL is needed: pass --relay-url https://... or set RELAY_URL")?;
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
    let secret =
        if args.get_flag("include-secret-key") {
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
    let auth = if jwks {
        ModuleAuth::Jwks { jwks_host: host }
    } else {
        ModuleAuth::SecretKey {
            key: secret.as_deref(),
        }
    };
    let module = xdr_relay_core::module_type(app.info(), &url, auth);
    let text = serde_json::to_string_pretty(&module)
        .map_err(|e| format!("cannot write the module type: {e}"))?;
    crate::print_out(&text)
}
