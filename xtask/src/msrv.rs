//! The workspace's `rust-version` is proven, not hoped for: when the toolchain running CI is
//! that version, the whole CI run is the proof; otherwise the pinned toolchain is installed with
//! rustup and `cargo check` runs on it.

use std::process::Command;

/// Checks that the workspace builds with its declared `rust-version`.
pub(crate) fn check() -> Result<String, String> {
    let root = crate::workspace_root()?;
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))
        .map_err(|e| format!("cannot read Cargo.toml: {e}"))?;
    let msrv = rust_version(&manifest).ok_or("the workspace Cargo.toml sets no rust-version")?;
    let running = crate::procs::output(Command::new("rustc").arg("--version"))?;
    if same_release(&msrv, &running) {
        return Ok(format!(
            "rust-version {msrv} is the toolchain of this run ({})",
            running.trim()
        ));
    }
    println!("msrv: installing toolchain {msrv} (minimal profile) with rustup");
    let mut rustup = Command::new("rustup");
    crate::procs::status(rustup.args(["toolchain", "install", &msrv, "--profile", "minimal"]))?;
    // Its own target dir: artefacts of two compilers cannot be shared.
    let target = crate::target_dir()?.join(format!("msrv-{msrv}"));
    let mut cargo = Command::new("cargo");
    cargo
        .arg(format!("+{msrv}"))
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(&root);
    cargo.args([
        "check",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--locked",
    ]);
    crate::procs::status(&mut cargo)
        .map(|()| format!("cargo +{msrv} check --workspace passes"))
        .map_err(|e| format!("the workspace does not build with its rust-version {msrv}: {e}"))
}

/// `rust-version = "1.95"` of the `[workspace.package]` table.
fn rust_version(manifest: &str) -> Option<String> {
    let table = manifest.split("[workspace.package]").nth(1)?;
    let table = table.split("\n[").next()?;
    table.lines().find_map(|line| {
        let value = line
            .trim()
            .strip_prefix("rust-version")?
            .trim()
            .strip_prefix('=')?;
        Some(value.trim().trim_matches('"').to_owned())
    })
}

/// Whether `rustc --version` output (`rustc 1.95.0 (...)`) is the release `msrv` names
/// (`1.95` or `1.95.0`).
fn same_release(msrv: &str, rustc_version: &str) -> bool {
    let Some(running) = rustc_version.split_whitespace().nth(1) else {
        return false;
    };
    let wanted: Vec<&str> = msrv.split('.').collect();
    let have: Vec<&str> = running.split(['.', '-']).collect();
    wanted.len() >= 2 && have.len() >= wanted.len() && wanted[..] == have[..wanted.len()]
}

#[cfg(test)]
mod tests {
    use super::{rust_version, same_release};

    #[test]
    fn reads_the_workspace_rust_version() {
        let manifest = "[workspace]\nmembers = []\n\n[workspace.package]\nversion = \"0.1.0\"\nrust-version = \"1.95\"\n\n[workspace.dependencies]\nrust-version = \"9\"\n";
        assert_eq!(rust_version(manifest).as_deref(), Some("1.95"));
        assert_eq!(rust_version("[workspace]\n"), None);
    }

    #[test]
    fn compares_releases() {
        let rustc = "rustc 1.95.0 (59807616e 2026-04-14)";
        assert!(same_release("1.95", rustc));
        assert!(same_release("1.95.0", rustc));
        assert!(!same_release("1.94", rustc));
        assert!(!same_release("1.95.1", rustc));
        assert!(!same_release("1", rustc));
        assert!(!same_release("1.95", "garbage"));
    }
}
