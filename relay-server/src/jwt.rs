//! `relay-server jwt`: makes the `SECRET_KEY` / JWT pair a Threat Response module needs.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::json;
use xdr_relay_core::SecretKey;

/// The module settings this relay ships: the credential fields and the region module ids.
const MODULE_SETTINGS: &str = include_str!("../module_settings.json");

/// Length of a generated `SECRET_KEY`.
const SECRET_LENGTH: usize = 64;
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

#[derive(Debug, clap::Args)]
pub(crate) struct JwtArgs {
    /// The Auth0 Signals API key (asked for, hidden, when neither --key nor --file is given).
    #[arg(long, conflicts_with = "file")]
    key: Option<String>,
    /// A JSON file with the credentials, e.g. {"key": "..."}.
    #[arg(long)]
    file: Option<PathBuf>,
    /// Use this SECRET_KEY instead of generating one.
    #[arg(long)]
    secret_key: Option<String>,
    /// The AWS region of the Lambda function, for the console link.
    #[arg(
        long,
        visible_alias = "region",
        env = "AWS_REGION",
        default_value = "us-east-1"
    )]
    aws_region: String,
    /// The Lambda function's name, for the console link.
    #[arg(
        long,
        visible_alias = "function",
        default_value = "auth0-signals-relay"
    )]
    function_name: String,
    /// Print only the JWT (for scripts).
    #[arg(long, conflicts_with = "json")]
    quiet: bool,
    /// Print everything as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Deserialize)]
struct ModuleSettings {
    /// Credential field → its human label, e.g. `key` → `Auth0 Signals API Key`.
    jwt: BTreeMap<String, String>,
    /// Threat Response region → module type id.
    region: BTreeMap<String, String>,
}

pub(crate) fn run(args: &JwtArgs) -> Result<(), String> {
    let settings: ModuleSettings = serde_json::from_str(MODULE_SETTINGS)
        .map_err(|e| format!("the shipped module_settings.json is invalid: {e}"))?;
    let key = api_key(args, &settings)?;
    let secret = match &args.secret_key {
        Some(s) if !s.is_empty() => s.clone(),
        Some(_) => return Err("--secret-key must not be empty".into()),
        None => generate_secret()?,
    };
    let signing_key = SecretKey::new(&secret).ok_or("the SECRET_KEY is empty")?;
    let token = xdr_relay_core::encode_token(&signing_key, &key, None)
        .map_err(|e| format!("cannot sign the JWT: {e}"))?;

    let console = format!(
        "https://console.aws.amazon.com/lambda/home?region={}#/functions/{}/edit/environment-variables?tab=configuration",
        args.aws_region, args.function_name
    );
    let modules: BTreeMap<&str, String> = settings
        .region
        .iter()
        .map(|(region, id)| {
            let url = format!(
                "https://securex.{region}.security.cisco.com/settings/modules/available/{id}/new"
            );
            (region.as_str(), url)
        })
        .collect();

    let out = if args.quiet {
        token
    } else if args.json {
        json!({
            "jwt": token,
            "secret_key": secret,
            "lambda_environment_url": console,
            "module_creation_urls": modules,
        })
        .to_string()
    } else {
        let mut text = format!(
            "JWT (paste it into the Threat Response module):\n  {token}\n\n\
             SECRET_KEY (set it in the relay's environment):\n  {secret}\n\n\
             AWS Lambda environment variables of {function}:\n  {console}\n\n\
             Create the module in Threat Response (your region):\n",
            function = args.function_name
        );
        for (region, url) in &modules {
            text.push_str(&format!("  {region:<5} {url}\n"));
        }
        text.trim_end().to_owned()
    };
    #[allow(clippy::print_stdout)] // printing the pair is this command's job
    {
        println!("{out}");
    }
    Ok(())
}

/// The API key from `--key`, `--file`, or a hidden prompt per credential field.
fn api_key(args: &JwtArgs, settings: &ModuleSettings) -> Result<String, String> {
    if let Some(key) = &args.key {
        return non_empty(key.clone(), "--key");
    }
    if let Some(path) = &args.file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let creds: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(&text).map_err(|e| {
                format!(
                    "{} is not a JSON object of credentials: {e}",
                    path.display()
                )
            })?;
        return match creds.get("key") {
            Some(serde_json::Value::String(k)) => non_empty(k.clone(), "`key` in the file"),
            _ => Err(format!("{} has no string `key`", path.display())),
        };
    }
    if !std::io::stdin().is_terminal() {
        return Err("no credentials: pass --key VALUE or --file creds.json (stdin is not a terminal, so there is no prompt)".into());
    }
    let label = settings
        .jwt
        .get("key")
        .map_or("Auth0 Signals API Key", String::as_str);
    loop {
        let value = rpassword::prompt_password(format!("{label}: "))
            .map_err(|e| format!("cannot read the {label}: {e}"))?;
        let value = value.trim().to_owned();
        if !value.is_empty() {
            return Ok(value);
        }
        #[allow(clippy::print_stderr)]
        {
            eprintln!("{label} must not be empty; try again.");
        }
    }
}

fn non_empty(value: String, what: &str) -> Result<String, String> {
    if value.is_empty() {
        Err(format!("{what} must not be empty"))
    } else {
        Ok(value)
    }
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

    #[test]
    fn generated_secrets_are_64_letters_and_digits_and_differ() {
        let a = generate_secret().unwrap();
        let b = generate_secret().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn shipped_module_settings_name_the_key_and_three_regions() {
        let settings: ModuleSettings = serde_json::from_str(MODULE_SETTINGS).unwrap();
        assert_eq!(settings.jwt.get("key").unwrap(), "Auth0 Signals API Key");
        let regions: Vec<_> = settings.region.keys().map(String::as_str).collect();
        assert_eq!(regions, ["apjc", "eu", "us"]);
    }
}
