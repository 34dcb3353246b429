//! Secrets off the command line: every secret setting also reads from a file
//! (`--secret-key-file PATH`, or the variable `SECRET_KEY_FILE`), and a secret given as a flag
//! value still works but is warned about, as database clients do: other local users can read
//! a process's command line (`ps`, `/proc`), and shells keep it in their history.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgMatches};

/// The flag of a secret setting's file form: `secret-key` → `secret-key-file`.
pub(crate) fn file_flag(flag: &str) -> String {
    format!("{flag}-file")
}

/// The variable of a secret setting's file form: `SECRET_KEY` → `SECRET_KEY_FILE`.
pub(crate) fn file_variable(name: &str) -> String {
    format!("{name}_FILE")
}

/// The secret in the file at `path`: its content without one trailing newline (what `echo`
/// and editors add). Errors name the file, never its content.
pub(crate) fn read_file(path: &Path, what: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {what} from {}: {e}", path.display()))?;
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if text.is_empty() {
        return Err(format!("{} holds no {what}", path.display()));
    }
    Ok(text.to_owned())
}

/// The warning printed when a secret was given as a flag's value.
pub(crate) fn warn_on_command_line(command: &str, flag: &str, variable: &str) {
    #[allow(clippy::print_stderr)] // a warning for the person at the terminal, before logging
    {
        eprintln!(
            "{command}: warning: --{flag} puts a secret on the command line, where other local \
             users can read it (ps, /proc) and the shell keeps it in its history; use the \
             {variable} environment variable or --{} instead",
            file_flag(flag)
        );
    }
}

/// `--secret-key` and `--secret-key-file` for a command that signs tokens (`jwt`).
pub(crate) fn secret_key_args(command: clap::Command, help: &str) -> clap::Command {
    command
        .arg(
            Arg::new("secret-key")
                .long("secret-key")
                .value_name("KEY")
                .num_args(0..=1)
                .default_missing_value("")
                .help(format!(
                    "{help}; without a value it is asked for, hidden, on the terminal (a value \
                     here is visible to other local users: prefer the prompt or \
                     --secret-key-file)."
                )),
        )
        .arg(
            Arg::new("secret-key-file")
                .long("secret-key-file")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .conflicts_with("secret-key")
                .help(format!("{help}, read from this file.")),
        )
}

/// The `SECRET_KEY` given to a command with [`secret_key_args`], if any: from its file, asked
/// for on the terminal (`--secret-key` without a value), or a flag's value (warned about).
pub(crate) fn secret_key(command: &str, args: &ArgMatches) -> Result<Option<String>, String> {
    if let Some(path) = args.get_one::<PathBuf>("secret-key-file") {
        return read_file(path, "a SECRET_KEY").map(Some);
    }
    match args.get_one::<String>("secret-key") {
        Some(key) if key.is_empty() => prompt_secret_key().map(Some),
        Some(key) => {
            warn_on_command_line(command, "secret-key", "SECRET_KEY");
            Ok(Some(key.clone()))
        }
        None => Ok(None),
    }
}

/// Asks for the `SECRET_KEY` without echo; only on a terminal.
fn prompt_secret_key() -> Result<String, String> {
    if !std::io::stdin().is_terminal() {
        return Err(
            "--secret-key without a value asks for it on a terminal, and stdin is not one: use \
             --secret-key-file FILE"
                .into(),
        );
    }
    loop {
        let key = rpassword::prompt_password("SECRET_KEY: ")
            .map_err(|e| format!("cannot read the SECRET_KEY: {e}"))?;
        if !key.is_empty() {
            return Ok(key);
        }
        #[allow(clippy::print_stderr)]
        {
            eprintln!("The SECRET_KEY must not be empty; try again.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_file_loses_one_trailing_newline_and_never_shows_its_content() {
        let dir = std::env::temp_dir().join(format!("relay-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("key");
        for (written, read) in [
            ("s3cr3t\n", "s3cr3t"),
            ("s3cr3t\r\n", "s3cr3t"),
            ("s3cr3t", "s3cr3t"),
            (" s3cr3t \n\n", " s3cr3t \n"),
        ] {
            std::fs::write(&file, written).unwrap();
            assert_eq!(read_file(&file, "a key").unwrap(), read);
        }
        std::fs::write(&file, "\n").unwrap();
        let error = read_file(&file, "a key").unwrap_err();
        assert!(error.ends_with("holds no a key"), "{error}");
        let missing = read_file(&dir.join("absent"), "a key").unwrap_err();
        assert!(missing.starts_with("cannot read a key from"), "{missing}");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(file_flag("secret-key"), "secret-key-file");
        assert_eq!(file_variable("SECRET_KEY"), "SECRET_KEY_FILE");
    }
}
