//! CI's `package` step: every crate meant for crates.io packs, and each one compiles from its
//! package alone, as it will once published.
//!
//! `cargo package --no-verify` makes the `.crate` files (manifest normalised, file list checked).
//! They are then unpacked side by side into one scratch workspace whose `[patch.crates-io]`
//! points our crates at each other's packages, and `cargo check -p <crate>` runs for each of
//! them in turn: a file a package lacks, a dependency or feature it does not declare, fails
//! there. `-p` per crate keeps each package's dependency features its own (resolver 3 unifies
//! only what one command builds), as cargo's own verification does; but cargo verifies with a
//! full build of each package, and since each package's feature set differs, tokio, hyper and
//! reqwest were compiled five times, which made that step about 8 minutes of a cold CI run.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Every crate meant for crates.io packs and builds from its package alone (`xtask`, `testkit`,
/// the blocklist relay and the relay suite, which links it, are `publish = false`).
/// `--allow-dirty`: what is checked is the content, not the git state.
const PACKAGE: [&str; 13] = [
    "package",
    "--workspace",
    "--exclude",
    "xtask",
    "--exclude",
    "testkit",
    "--exclude",
    "xdr-relay-blocklist",
    "--exclude",
    "xdr-relay-suite",
    "--allow-dirty",
    "--no-verify",
    "--quiet",
];

/// The step: packs, unpacks, checks each package; the packages checked.
pub(crate) fn check() -> Result<String, String> {
    let target = crate::target_dir()?;
    let packaged = target.join("package");
    // Packages of an earlier run would stand in for the crates' new sources.
    if packaged.exists() {
        std::fs::remove_dir_all(&packaged)
            .map_err(|e| format!("cannot clear {}: {e}", packaged.display()))?;
    }
    let target_env = target.to_string_lossy();
    // The target folder named explicitly, so every cargo below shares its dependencies.
    let env = [("CARGO_TARGET_DIR", &*target_env)];
    println!("package: cargo {}", PACKAGE.join(" "));
    crate::procs::cargo_with(&PACKAGE, None, &env)?;
    let crates = crate_files(&packaged)?;
    let scratch = packaged.join("check");
    std::fs::create_dir_all(&scratch)
        .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
    let mut members = Vec::new();
    for file in &crates {
        // `-m`: the files dated now, not as packed. A package keeps its sources' old times,
        // and the shared target holds an earlier run's build of the same path and version:
        // cargo would take that build as fresh and check the new package against it.
        let mut tar = Command::new("tar");
        tar.arg("-xzmf").arg(file).arg("-C").arg(&scratch);
        crate::procs::status(&mut tar)?;
        members.push(unpacked_name(file)?);
    }
    let names: Vec<(String, String)> = members
        .iter()
        .map(|dir| (package_name(dir), dir.clone()))
        .collect();
    std::fs::write(scratch.join("Cargo.toml"), scratch_manifest(&names))
        .map_err(|e| format!("cannot write the scratch workspace: {e}"))?;
    // The workspace's lock, so the packages are checked against the versions CI tested.
    let lock = crate::workspace_root()?.join("Cargo.lock");
    std::fs::copy(&lock, scratch.join("Cargo.lock"))
        .map_err(|e| format!("cannot copy {}: {e}", lock.display()))?;
    let manifest = scratch.join("Cargo.toml");
    let manifest = manifest.to_string_lossy();
    for (name, _) in &names {
        println!("\n== package: cargo check -p {name} (from its package) ==");
        let args = ["check", "--manifest-path", &manifest, "-p", name];
        crate::procs::cargo_with(&args, None, &env)
            .map_err(|e| format!("{name} does not build from its package: {e}"))?;
    }
    let names: Vec<&str> = names.iter().map(|(name, _)| name.as_str()).collect();
    Ok(format!("{} packed and checked alone", names.join(", ")))
}

/// The `.crate` files cargo wrote, sorted.
fn crate_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "crate"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "cargo package wrote no .crate file in {}",
            dir.display()
        ));
    }
    Ok(files)
}

/// `xdr-relay-core-0.1.0` for `.../xdr-relay-core-0.1.0.crate`: the folder the package unpacks to.
fn unpacked_name(file: &Path) -> Result<String, String> {
    file.file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .ok_or_else(|| format!("{} has no name", file.display()))
}

/// `xdr-relay-core` for `xdr-relay-core-0.1.0`: the name before the first `-` and a digit.
fn package_name(unpacked: &str) -> String {
    let version = unpacked
        .match_indices('-')
        .map(|(at, _)| at)
        .find(|&at| unpacked[at + 1..].starts_with(|c: char| c.is_ascii_digit()));
    version.map_or(unpacked, |at| &unpacked[..at]).to_owned()
}

/// The scratch workspace: the packages as members, each of ours patched to its package.
/// `names` holds `(package name, folder)`.
fn scratch_manifest(names: &[(String, String)]) -> String {
    let members: Vec<String> = names.iter().map(|(_, dir)| format!("{dir:?}")).collect();
    let mut manifest = format!(
        "# Made by `cargo xtask ci` (package step): our packages, each built alone.\n\
         [workspace]\nresolver = \"3\"\nmembers = [{}]\n\n[patch.crates-io]\n",
        members.join(", ")
    );
    for (name, dir) in names {
        manifest += &format!("{name} = {{ path = {dir:?} }}\n");
    }
    manifest
}

#[cfg(test)]
mod tests {
    use super::{package_name, scratch_manifest};

    #[test]
    fn names_a_package_by_what_precedes_its_version() {
        assert_eq!(package_name("xdr-relay-core-0.1.0"), "xdr-relay-core");
        assert_eq!(package_name("ctim-model-12.0.3-rc.1"), "ctim-model");
        assert_eq!(package_name("plain"), "plain");
    }

    #[test]
    fn the_scratch_workspace_patches_each_package_to_its_folder() {
        let names = [
            ("ctim-model".to_owned(), "ctim-model-0.1.0".to_owned()),
            (
                "xdr-relay-core".to_owned(),
                "xdr-relay-core-0.1.0".to_owned(),
            ),
        ];
        let manifest = scratch_manifest(&names);
        assert!(manifest.contains("members = [\"ctim-model-0.1.0\", \"xdr-relay-core-0.1.0\"]"));
        assert!(manifest.contains("xdr-relay-core = { path = \"xdr-relay-core-0.1.0\" }"));
        assert!(manifest.contains("resolver = \"3\""));
    }
}
