//! `cargo xtask first-endpoint`: socless-events' README, "Your first endpoint in Rust", done as a
//! new user does it, in CI.
//!
//! 1. makes the README's endpoint a crate of its own, outside the workspace (`<target
//!    dir>/first-endpoint/`): its `src/main.rs` and `Cargo.toml` are the README's blocks, the
//!    `socless-events` dependency pointed at this checkout, the workspace's `Cargo.lock` copied
//!    so that the build reuses what the workspace built;
//! 2. builds it, `socless-create-events` and `testkit`;
//! 3. runs `testkit first-endpoint`, which serves it with `cargo lambda watch` on the embedded
//!    store and checks the README's requests and answers (`testkit/src/cmd/first_endpoint.rs`).

use std::path::Path;

use crate::tools::{Tool, ensure};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {}

/// The README the endpoint is copied from.
const README: &str = "socless-events/README.md";

pub(crate) fn run(_: &Args) -> Result<(), String> {
    let root = crate::workspace_root()?;
    let readme = std::fs::read_to_string(root.join(README))
        .map_err(|e| format!("cannot read {README}: {e}"))?;
    let (main, manifest) = blocks(&readme, &root.join("socless-events"))?;
    let target = crate::target_dir()?;
    let dir = target.join("first-endpoint");
    std::fs::create_dir_all(dir.join("src"))
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        // Unchanged files keep their times, so cargo has nothing to rebuild on a second run.
        if std::fs::read_to_string(&path).ok().as_deref() == Some(text) {
            return Ok(());
        }
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    write("src/main.rs", &main)?;
    write("Cargo.toml", &manifest)?;
    let lock = std::fs::read_to_string(root.join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    if !dir.join("Cargo.lock").exists() {
        write("Cargo.lock", &lock)?;
    }
    let lines = main.lines().count();
    println!(
        "==> the README's first endpoint ({lines} lines) as a crate in {}",
        dir.display()
    );
    let manifest_path = dir.join("Cargo.toml");
    let (manifest_path, target) = (path_text(&manifest_path)?, path_text(&target)?);
    crate::procs::cargo(
        &[
            "build",
            "--quiet",
            "--manifest-path",
            manifest_path,
            "--target-dir",
            target,
        ],
        None,
    )?;
    let bin = crate::procs::build(
        false,
        &["-p", "socless-events", "--bin", "socless-create-events"],
    )?;
    let testkit = crate::testkit::build(false)?;
    let tools = ensure(&[Tool::CARGO_LAMBDA])?;
    let alert = root.join("socless-events/examples/data/investigate_login_alert.json");
    let inspect = bin.join("socless-create-events");
    let words: Vec<&std::ffi::OsStr> = vec![
        "first-endpoint".as_ref(),
        "--dir".as_ref(),
        dir.as_os_str(),
        "--name".as_ref(),
        "first-endpoint".as_ref(),
        "--alert".as_ref(),
        alert.as_os_str(),
        "--inspect-bin".as_ref(),
        inspect.as_os_str(),
        "--target-dir".as_ref(),
        target.as_ref(),
    ];
    crate::testkit::run_with_path(&testkit, &words, &tools.path).map(drop)
}

fn path_text(path: &Path) -> Result<&str, String> {
    path.to_str()
        .ok_or_else(|| format!("{} is not UTF-8", path.display()))
}

/// The README's endpoint (the ```rust,no_run block that calls `lambda::run`) and its manifest
/// (the ```toml block with `[package]`), the dependency on socless-events pointed at `crate_dir`
/// and the crate made a workspace of its own.
fn blocks(readme: &str, crate_dir: &Path) -> Result<(String, String), String> {
    let block = |fence: &str, wanted: &str| {
        readme
            .split(fence)
            .skip(1)
            .filter_map(|rest| rest.split("```").next())
            .find(|block| block.contains(wanted))
            .map(str::to_owned)
            .ok_or_else(|| format!("{README} has no ```{fence} block with {wanted:?}"))
    };
    let main = block("```rust,no_run\n", "socless_events::lambda::run")?;
    let manifest = block("```toml\n", "[package]")?;
    let dependency = manifest
        .lines()
        .find(|line| line.starts_with("socless-events = "))
        .ok_or_else(|| format!("{README}'s Cargo.toml names no socless-events"))?;
    let features = dependency
        .rsplit_once(" features = ")
        .map(|(_, rest)| rest.trim_end_matches(" }").trim())
        .ok_or_else(|| format!("{README}'s socless-events line names no features"))?;
    let path = crate_dir
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", crate_dir.display()))?;
    let local = format!(
        "socless-events = {{ path = {path:?}, default-features = false, features = {features} }}"
    );
    let manifest = format!(
        "{}\n# Made by `cargo xtask first-endpoint` from {README}: a workspace of its own.\n[workspace]\n",
        manifest.replace(dependency, &local)
    );
    Ok((main, manifest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readmes_blocks_become_a_crate_on_this_checkout() {
        let root = crate::workspace_root().unwrap();
        let readme = std::fs::read_to_string(root.join(README)).unwrap();
        let (main, manifest) = blocks(&readme, Path::new("/src/socless-events")).unwrap();
        assert!(main.contains("socless_events::lambda::run"));
        assert!(main.lines().count() <= 20);
        assert!(manifest.contains(
            r#"socless-events = { path = "/src/socless-events", default-features = false, features = ["lambda"] }"#
        ));
        assert!(manifest.contains("name = \"first-endpoint\""));
        assert!(manifest.ends_with("[workspace]\n"));
    }
}
