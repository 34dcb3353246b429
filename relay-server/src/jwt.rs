//! `jwt`: makes the `SECRET_KEY` / JWT pair a Threat Response module needs, from exactly the
//! credential fields the relay's provider declares.

use std::borrow::Cow;
use std::io::{BufRead as _, IsTerminal as _};
use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches};
use serde_json::{Map, Value, json};
use xdr_relay_core::{
    App, CredentialField, CredentialKind, Provider, ProviderInfo, SecretKey, Suite,
};

use crate::secrets;

/// Length of a generated `SECRET_KEY`.
const SECRET_LENGTH: usize = 64;
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The claim every relay reads besides the provider's fields.
const ENTITIES_LIMIT: &str = "CTR_ENTITIES_LIMIT";

/// The subcommand, with a `--key` shorthand when the provider reads a `key`.
pub(crate) fn command<P: Provider>(app: &App<P>) -> clap::Command {
    let info = app.info();
    let key = info.credentials.iter().find(|f| f.name == "key");
    with_args(
        format!(
            "Make a SECRET_KEY and the JWT Threat Response sends, from your {} credentials.",
            info.name
        ),
        field_help(&info.credentials),
        file_help(&info.credentials),
        key.map(|key| capitalised(&key.description)),
        function_name(&info.name),
    )
}

/// The subcommand of a suite: `--relay NAME` chooses the relay whose credential fields the
/// token carries (exactly those it takes alone).
pub(crate) fn suite_command(suite: &Suite, function: &str) -> clap::Command {
    let names: Vec<String> = suite
        .members()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let fields: Vec<String> = suite
        .members()
        .iter()
        .map(|m| format!("[{}] {}", m.name(), field_help(&m.info().credentials)))
        .collect();
    let files: Vec<String> = suite
        .members()
        .iter()
        .map(|m| format!("[{}] {}", m.name(), file_help(&m.info().credentials)))
        .collect();
    let any_key = suite
        .members()
        .iter()
        .any(|m| m.info().credentials.iter().any(|f| f.name == "key"));
    with_args(
        "Make a SECRET_KEY and the JWT Threat Response sends for one relay of the suite \
         (--relay), from your credentials of its source."
            .to_owned(),
        fields.join(" "),
        files.join(" "),
        any_key.then(|| "The relay's API key".to_owned()),
        function.to_owned(),
    )
    .arg(
        Arg::new("relay")
            .long("relay")
            .value_name("NAME")
            .required(true)
            .value_parser(clap::builder::PossibleValuesParser::new(names))
            .help("The relay (its mount name) whose credentials the token carries."),
    )
}

/// The subcommand's arguments: `about`, the `--field` and `--file` helps, a `--key` shorthand
/// described by `key` when there is a `key` field, and the default Lambda function name.
fn with_args(
    about: String,
    fields: String,
    file: String,
    key: Option<String>,
    function: String,
) -> clap::Command {
    let mut command = clap::Command::new("jwt")
        .about(about)
        .arg(
            Arg::new("field")
                .long("field")
                .value_name("NAME=VALUE")
                .action(ArgAction::Append)
                .help(fields),
        )
        .arg(
            Arg::new("file")
                .long("file")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .conflicts_with("field")
                .help(file),
        );
    if let Some(key) = key {
        command = command.arg(
            Arg::new("key")
                .long("key")
                .value_name("KEY")
                .conflicts_with("file")
                .help(format!(
                    "{key} (the field `key`; asked for, hidden, when neither --key, --field nor \
                     --file is given)."
                )),
        );
    }
    command = secrets::secret_key_args(command, "Use this SECRET_KEY instead of generating one");
    command
        .arg(
            Arg::new("aws-region")
                .long("aws-region")
                .visible_alias("region")
                .value_name("REGION")
                .env("AWS_REGION")
                .default_value("us-east-1")
                .help("The AWS region of the Lambda function, for the console link."),
        )
        .arg(
            Arg::new("function-name")
                .long("function-name")
                .visible_alias("function")
                .value_name("NAME")
                .default_value(function)
                .help("The Lambda function's name, for the console link."),
        )
        .arg(
            Arg::new("quiet")
                .long("quiet")
                .action(ArgAction::SetTrue)
                .conflicts_with("json")
                .help("Print only the JWT (for scripts)."),
        )
        .arg(
            Arg::new("json")
                .long("json")
                .action(ArgAction::SetTrue)
                .help("Print everything as one JSON object."),
        )
}

/// `--file`'s help, its example made of the provider's own fields.
fn file_help(fields: &[CredentialField]) -> String {
    let example: Vec<String> = fields
        .iter()
        .map(|field| {
            let value = match field.kind {
                CredentialKind::ApiKey | CredentialKind::Text => "\"...\"",
                CredentialKind::PositiveInteger => "30",
                CredentialKind::Boolean => "true",
                // A kind added later: any JSON value reads as "a value here".
                _ => "...",
            };
            format!("\"{}\": {value}", field.name)
        })
        .collect();
    if example.is_empty() {
        return format!(
            "A JSON file with the token's fields: this relay reads no credential, only an \
             optional {ENTITIES_LIMIT}, e.g. {{\"{ENTITIES_LIMIT}\": 50}}."
        );
    }
    format!(
        "A JSON file with the credentials, e.g. {{{}}}.",
        example.join(", ")
    )
}

fn field_help(fields: &[CredentialField]) -> String {
    if fields.is_empty() {
        return format!(
            "A field of the token, repeatable: this relay reads no credential, only an optional \
             {ENTITIES_LIMIT} (the most sightings per observable)."
        );
    }
    let mut help = String::from("A credential, repeatable:");
    for field in fields {
        let required = if field.required { ", required" } else { "" };
        help.push_str(&format!(
            " {} ({}{required});",
            field.name, field.description
        ));
    }
    help.push_str(&format!(
        " {ENTITIES_LIMIT} (the most sightings per observable)."
    ));
    help
}

/// The Lambda function a relay called `name` is deployed as by default: `Auth0 Signals` →
/// `auth0-signals-relay`.
fn function_name(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    format!("{}-relay", slug.trim_end_matches('-'))
}

fn capitalised(phrase: &str) -> String {
    let mut chars = phrase.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Runs the subcommand for the relay `app`, whose command is `name`.
pub(crate) fn run<P: Provider>(name: &str, app: &App<P>, args: &ArgMatches) -> Result<(), String> {
    run_with(name, app.info(), app.catalog(), args)
}

/// Runs the subcommand of a suite for the relay `--relay` names.
pub(crate) fn suite_run(name: &str, suite: &Suite, args: &ArgMatches) -> Result<(), String> {
    let relay = args
        .get_one::<String>("relay")
        .ok_or("--relay NAME is needed: the relay whose credentials the token carries")?;
    let member = suite
        .member(relay)
        .ok_or_else(|| format!("the suite has no relay {relay:?}"))?;
    run_with(name, member.info(), member.catalog(), args)
}

/// Runs the subcommand for the relay described by `info` and `catalog`.
fn run_with(
    name: &str,
    info: &ProviderInfo,
    catalog: &[(Cow<'static, str>, Cow<'static, str>)],
    args: &ArgMatches,
) -> Result<(), String> {
    let claims = claims(&info.credentials, args)?;
    let secret = match secrets::secret_key(name, args)? {
        Some(secret) => secret,
        None => generate_secret()?,
    };
    let signing_key = SecretKey::new(&secret).ok_or("the SECRET_KEY is empty")?;
    let token = xdr_relay_core::encode_claims(&signing_key, &info.credentials, &claims)
        .map_err(|e| e.to_string())?;

    let region = args
        .get_one::<String>("aws-region")
        .map_or("us-east-1", String::as_str);
    let function = args
        .get_one::<String>("function-name")
        .map_or("relay", String::as_str);
    let console = format!(
        "https://console.aws.amazon.com/lambda/home?region={region}#/functions/{function}/edit/environment-variables?tab=configuration"
    );
    let modules: Map<String, Value> = catalog
        .iter()
        .map(|(region, id)| {
            let url = format!(
                "https://securex.{region}.security.cisco.com/settings/modules/available/{id}/new"
            );
            (region.to_string(), Value::String(url))
        })
        .collect();

    let out = if args.get_flag("quiet") {
        token
    } else if args.get_flag("json") {
        let mut out = json!({
            "jwt": token,
            "secret_key": secret,
            "lambda_environment_url": console,
        });
        if !modules.is_empty() {
            out["module_creation_urls"] = Value::Object(modules);
        }
        out.to_string()
    } else {
        let mut text = format!(
            "JWT (paste it into the Threat Response module):\n  {token}\n\n\
             SECRET_KEY (set it in the relay's environment):\n  {secret}\n\n\
             AWS Lambda environment variables of {function}:\n  {console}\n\n"
        );
        if modules.is_empty() {
            text.push_str(&format!(
                "Register the relay's module type in XDR:\n  {name} module-type --relay-url https://<your relay>\n"
            ));
        } else {
            text.push_str("Create the module in Threat Response (your region):\n");
            for (region, url) in &modules {
                let url = url.as_str().unwrap_or_default();
                text.push_str(&format!("  {region:<5} {url}\n"));
            }
        }
        text.trim_end().to_owned()
    };
    crate::print_out(&out)
}

/// The claims from `--key` and `--field`, or `--file`, or a prompt per field on a terminal.
fn claims(fields: &[CredentialField], args: &ArgMatches) -> Result<Map<String, Value>, String> {
    if let Some(path) = args.get_one::<PathBuf>("file") {
        return from_file(fields, path);
    }
    let mut claims = Map::new();
    if let Ok(Some(key)) = args.try_get_one::<String>("key") {
        if key.is_empty() {
            return Err("--key must not be empty".into());
        }
        claims.insert("key".into(), Value::String(key.clone()));
    }
    for given in args.get_many::<String>("field").into_iter().flatten() {
        let (name, value) = given
            .split_once('=')
            .ok_or("--field takes NAME=VALUE, got a value without `=`")?;
        let kind = kind_of(fields, name)?;
        claims.insert(name.to_owned(), typed(name, kind, value)?);
    }
    let given = !claims.is_empty() || args.get_many::<String>("field").is_some();
    if given || fields.iter().all(|f| !f.required) {
        return Ok(claims);
    }
    if !std::io::stdin().is_terminal() {
        let key = if fields.iter().any(|f| f.name == "key") {
            "--key VALUE or "
        } else {
            ""
        };
        return Err(format!(
            "no credentials: pass {key}--file creds.json, or --field NAME=VALUE for each field \
             (stdin is not a terminal, so there is no prompt)"
        ));
    }
    prompt(fields)
}

/// The credentials in the JSON object of `path`, each string field checked to be a string.
fn from_file(fields: &[CredentialField], path: &PathBuf) -> Result<Map<String, Value>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let claims: Map<String, Value> = serde_json::from_str(&text)
        .map_err(|e| format!("{shown} is not a JSON object of credentials: {e}"))?;
    for field in fields {
        let textual = matches!(field.kind, CredentialKind::ApiKey | CredentialKind::Text);
        let value = claims.get(field.name.as_ref());
        if textual && (field.required || value.is_some()) && !value.is_some_and(Value::is_string) {
            return Err(format!("{shown} has no string `{}`", field.name));
        }
    }
    Ok(claims)
}

/// The kind of the field `name` (`CTR_ENTITIES_LIMIT` included), or which fields there are.
fn kind_of(fields: &[CredentialField], name: &str) -> Result<CredentialKind, String> {
    if name == ENTITIES_LIMIT {
        return Ok(CredentialKind::PositiveInteger);
    }
    fields
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.kind)
        .ok_or_else(|| {
            let known: Vec<&str> = fields.iter().map(|f| f.name.as_ref()).collect();
            format!(
                "the relay reads no field {name:?} (its fields: {})",
                known
                    .into_iter()
                    .chain([ENTITIES_LIMIT])
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// A typed `value` of field `name`: the number or boolean it spells, or the text as is.
fn typed(name: &str, kind: CredentialKind, value: &str) -> Result<Value, String> {
    match kind {
        CredentialKind::PositiveInteger => value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|&n| n > 0)
            .map(Value::from)
            .ok_or_else(|| format!("{name} must be a positive integer")),
        CredentialKind::Boolean => match value.trim() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("{name} must be true or false")),
        },
        _ if value.is_empty() => Err(format!("{name} must not be empty")),
        _ => Ok(Value::String(value.to_owned())),
    }
}

/// Asks for each field on the terminal: API keys hidden, the rest echoed; optional fields may
/// be left empty.
fn prompt(fields: &[CredentialField]) -> Result<Map<String, Value>, String> {
    let mut claims = Map::new();
    for field in fields {
        let optional = if field.required { "" } else { " (optional)" };
        let label = format!("{}{optional}: ", field.form_label());
        loop {
            let value = if field.kind == CredentialKind::ApiKey {
                rpassword::prompt_password(&label)
                    .map_err(|e| format!("cannot read the {}: {e}", field.form_label()))?
            } else {
                #[allow(clippy::print_stderr)]
                {
                    eprint!("{label}");
                }
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .map_err(|e| format!("cannot read the {}: {e}", field.form_label()))?;
                line
            };
            let value = value.trim();
            if value.is_empty() && !field.required {
                break;
            }
            match typed(&field.name, field.kind, value) {
                Ok(typed) => {
                    claims.insert(field.name.to_string(), typed);
                    break;
                }
                #[allow(clippy::print_stderr)]
                Err(problem) => eprintln!("{problem}; try again."),
            }
        }
    }
    Ok(claims)
}

/// 64 letters and digits from the OS CSPRNG, each uniformly likely (rejection sampling).
fn generate_secret() -> Result<String, String> {
    // 248 is the largest multiple of 62 that fits a byte: bytes at or above it are redrawn.
    const LIMIT: u8 = 248;
    let mut secret = String::with_capacity(SECRET_LENGTH);
    let mut buf = [0u8; 96];
    while secret.len() < SECRET_LENGTH {
        getrandom::fill(&mut buf).map_err(|e| format!("the OS random source failed: {e}"))?;
        for &b in buf.iter().filter(|&&b| b < LIMIT) {
            if secret.len() == SECRET_LENGTH {
                break;
            }
            let index = usize::from(b) % SECRET_ALPHABET.len();
            if let Some(&c) = SECRET_ALPHABET.get(index) {
                secret.push(char::from(c));
            }
        }
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: [CredentialField; 3] = [
        CredentialField::required("key", CredentialKind::ApiKey, "the API key"),
        CredentialField::optional("max_age_days", CredentialKind::PositiveInteger, "an age"),
        CredentialField::optional("verbose", CredentialKind::Boolean, "a switch"),
    ];

    #[test]
    fn generated_secrets_are_64_letters_and_digits_and_differ() {
        let a = generate_secret().unwrap();
        let b = generate_secret().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[cfg(feature = "signals")]
    #[test]
    fn a_suites_token_is_for_the_relay_named_and_only_a_known_one() {
        let suite = xdr_relay_core::Suite::new("9.9.9")
            .relay("auth0-signals", xdr_relay_core::Auth0Signals::app());
        let command = suite_command(&suite, "relays");
        let help = command.clone().render_long_help().to_string();
        assert!(help.contains("[auth0-signals]"), "{help}");
        // The relay is required: clap refuses the command without it.
        assert!(
            command
                .clone()
                .try_get_matches_from(["jwt", "--field", "key=k"])
                .is_err()
        );
        // Only the suite's relays are offered.
        assert!(
            command
                .clone()
                .try_get_matches_from(["jwt", "--relay", "otx", "--field", "key=k"])
                .is_err()
        );
        let args = command
            .try_get_matches_from([
                "jwt",
                "--relay",
                "auth0-signals",
                "--field",
                "key=k",
                "--quiet",
            ])
            .unwrap();
        suite_run("xdr-relays", &suite, &args).unwrap();
        // A suite without that relay (the arguments of another suite) names it.
        let other = xdr_relay_core::Suite::new("9.9.9");
        let unknown = suite_run("xdr-relays", &other, &args).unwrap_err();
        assert_eq!(unknown, "the suite has no relay \"auth0-signals\"");
    }

    #[test]
    fn the_help_shows_the_providers_own_fields() {
        assert_eq!(
            file_help(&FIELDS),
            r#"A JSON file with the credentials, e.g. {"key": "...", "max_age_days": 30, "verbose": true}."#
        );
        let keyless = file_help(&[]);
        assert!(!keyless.contains("\"key\""), "{keyless}");
        assert!(keyless.contains("reads no credential"), "{keyless}");
        let fields = field_help(&[]);
        assert!(
            fields.contains("reads no credential") && !fields.contains("key"),
            "{fields}"
        );
        assert!(field_help(&FIELDS).contains("key (the API key, required)"));
    }

    #[test]
    fn default_function_names() {
        assert_eq!(function_name("Auth0 Signals"), "auth0-signals-relay");
        assert_eq!(function_name("AbuseIPDB"), "abuseipdb-relay");
        assert_eq!(
            function_name(" Local  blocklists! "),
            "local-blocklists-relay"
        );
    }

    #[test]
    fn fields_are_typed_by_their_kind() {
        let kind = |name| kind_of(&FIELDS, name);
        assert_eq!(typed("key", kind("key").unwrap(), "k 1"), Ok(json!("k 1")));
        let age = kind("max_age_days").unwrap();
        assert_eq!(typed("max_age_days", age, " 30 "), Ok(json!(30)));
        assert!(typed("max_age_days", age, "0").is_err());
        assert!(typed("max_age_days", age, "thirty").is_err());
        let limit = kind(ENTITIES_LIMIT).unwrap();
        assert_eq!(typed(ENTITIES_LIMIT, limit, "5"), Ok(json!(5)));
        let switch = kind("verbose").unwrap();
        assert_eq!(typed("verbose", switch, "true"), Ok(json!(true)));
        assert!(typed("verbose", switch, "yes").is_err());
        assert!(typed("key", CredentialKind::ApiKey, "").is_err());
        let unknown = kind("max_age_day").unwrap_err();
        assert!(
            unknown.contains("max_age_day") && unknown.contains("max_age_days"),
            "{unknown}"
        );
    }

    #[test]
    fn a_file_keeps_every_field_and_checks_strings() {
        let dir = std::env::temp_dir().join(format!("relay-jwt-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("creds.json");
        std::fs::write(&file, r#"{"key": "k", "max_age_days": 30}"#).unwrap();
        let claims = from_file(&FIELDS, &file).unwrap();
        assert_eq!(
            Value::Object(claims),
            json!({"key": "k", "max_age_days": 30})
        );
        std::fs::write(&file, r#"{"key": 5}"#).unwrap();
        let error = from_file(&FIELDS, &file).unwrap_err();
        assert!(error.ends_with("has no string `key`"), "{error}");
        std::fs::write(&file, r#"["key"]"#).unwrap();
        assert!(
            from_file(&FIELDS, &file)
                .unwrap_err()
                .contains("not a JSON object")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
