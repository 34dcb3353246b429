//! `cargo xtask schema --out DIR [--check]`: writes the JSON Schemas of the CTIM entities
//! (`verdict.schema.json`, `judgement.schema.json`, ...) from `ctim_model::schema::all()`.
//! With `--check`, writes nothing and fails if a file in DIR is missing or stale, so CI can
//! prove the checked-in schemas are fresh.

use std::fs;
use std::path::{Path, PathBuf};

const USAGE: &str = "usage: cargo xtask schema --out DIR [--check]";

/// Runs the task with the arguments after `schema`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args)?;
    let schemas = ctim_model::schema::all();
    if !options.check {
        fs::create_dir_all(&options.out)
            .map_err(|e| format!("cannot create {}: {e}", options.out.display()))?;
    }
    let mut stale = Vec::new();
    for (stem, schema) in schemas {
        let path = options.out.join(format!("{stem}.schema.json"));
        let text = render(&schema)?;
        if options.check {
            if fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(path.display().to_string());
            }
        } else {
            fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            println!("wrote {}", path.display());
        }
    }
    if stale.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "schemas out of date (run `cargo xtask schema --out {}`): {}",
            options.out.display(),
            stale.join(", ")
        ))
    }
}

/// Pretty-printed JSON with a trailing newline.
fn render(schema: &serde_json::Value) -> Result<String, String> {
    let mut text =
        serde_json::to_string_pretty(schema).map_err(|e| format!("cannot render schema: {e}"))?;
    text.push('\n');
    Ok(text)
}

#[derive(Debug)]
struct Options {
    out: PathBuf,
    check: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut out = None;
        let mut check = false;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--out" => out = Some(args.next().ok_or(USAGE)?.clone()),
                "--check" => check = true,
                other => match other.strip_prefix("--out=") {
                    Some(dir) => out = Some(dir.to_owned()),
                    None => return Err(format!("unexpected argument `{other}`\n{USAGE}")),
                },
            }
        }
        let out = out.ok_or(USAGE)?;
        Ok(Options {
            out: Path::new(&out).to_path_buf(),
            check,
        })
    }
}
