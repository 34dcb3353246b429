//! `cargo xtask schema --out DIR [--check]`: writes the JSON Schemas of the CTIM entities
//! (`verdict.schema.json`, `judgement.schema.json`, ...) from `ctim_model::schema::all()`.
//! With `--check`, writes nothing and fails if a file in DIR is missing or stale, so CI can
//! prove the checked-in schemas are fresh.

use std::fs;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The folder the schemas go to (`schemas` in this repository).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Write nothing; fail when a file in the folder is missing or stale.
    #[arg(long)]
    pub(crate) check: bool,
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    let out = &args.out;
    if !args.check {
        fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    }
    let mut stale = Vec::new();
    for (stem, schema) in ctim_model::schema::all() {
        let path = out.join(format!("{stem}.schema.json"));
        let text = serde_json::to_string_pretty(&schema)
            .map_err(|e| format!("cannot render schema: {e}"))?
            + "\n";
        if !args.check {
            fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            println!("wrote {}", path.display());
        } else if fs::read_to_string(&path).ok() != Some(text) {
            stale.push(path.display().to_string());
        }
    }
    if stale.is_empty() {
        Ok(())
    } else {
        let hint = format!("run `cargo xtask schema --out {}`", out.display());
        Err(format!(
            "schemas out of date ({hint}): {}",
            stale.join(", ")
        ))
    }
}
