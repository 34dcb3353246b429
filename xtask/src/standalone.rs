//! The repository stands on its own: no tracked file reaches outside the clone, and every test
//! data file says where it came from.
//!
//! Two rules, over the files `git ls-files` names:
//! - no file names a folder beside the repository (the team folder `shared` reached with `..`) or an
//!   absolute path of this machine (the clone's own path, its parent folder, `$HOME`);
//! - every file in a test data folder (`testdata/`, `<crate>/tests/data/`,
//!   `<crate>/tests/it/data/`, `<crate>/examples/data/`)
//!   is named in a `README.md` of that folder or of a folder above it inside the data root, which
//!   gives its origin and licence.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs both rules from the workspace root; says how many files it read.
pub(crate) fn check() -> Result<String, String> {
    let root = crate::workspace_root()?;
    let files = tracked_files(&root)?;
    let needles = needles(&root);
    let mut problems = Vec::new();
    for file in &files {
        // Non-UTF-8 files (DER keys, ...) hold no paths worth checking.
        let Ok(text) = std::fs::read_to_string(root.join(file)) else {
            continue;
        };
        problems.extend(outside_references(file, &text, &needles));
    }
    problems.extend(undocumented_data(&root, &files));
    let found = format!(
        "{} tracked files, none reaches outside; test data documented",
        files.len()
    );
    let problems = problems.join("\n  ");
    problems.is_empty().then_some(found).ok_or(format!(
        "the repository does not stand on its own:\n  {problems}"
    ))
}

fn tracked_files(root: &Path) -> Result<Vec<String>, String> {
    let listed = crate::procs::output(
        Command::new("git")
            .args(["ls-files", "-z"])
            .current_dir(root),
    )
    .map_err(|e| {
        format!(
            "git ls-files failed (is {} a git checkout?): {e}",
            root.display()
        )
    })?;
    Ok(listed
        .split('\0')
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect())
}

/// The absolute paths of this machine that no file may contain: the clone, the folder it sits
/// in, and the home folder (each only when it says something: not `/`).
/// Folders every machine has and data may name (a clone's parent is often one of them): not a
/// sign of this machine.
const SHARED_FOLDERS: [&str; 4] = ["/tmp", "/var/tmp", "/home", "/Users"];

fn needles(root: &Path) -> Vec<String> {
    let mut paths: Vec<PathBuf> = vec![root.to_path_buf()];
    paths.extend(root.parent().map(Path::to_path_buf));
    paths.extend(std::env::var_os("HOME").map(PathBuf::from));
    let mut needles: Vec<String> = paths
        .iter()
        .filter(|p| {
            p.components().count() > 1
                && !SHARED_FOLDERS.iter().any(|s| p.as_path() == Path::new(s))
        })
        .map(|p| format!("{}/", p.display()))
        .collect();
    needles.sort();
    needles.dedup();
    needles
}

/// The problems of one file: a path into the team folder beside the clone or a machine path, by line.
fn outside_references(file: &str, text: &str, needles: &[String]) -> Vec<String> {
    // Spelled in two parts so that this file does not match itself.
    let sibling = ["..", "/shared"].concat();
    let mut problems = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = format!("{file}:{}", n + 1);
        if line.contains(&sibling) {
            problems.push(format!("{at}: names a folder beside the repository"));
        }
        if let Some(needle) = needles.iter().find(|p| line.contains(p.as_str())) {
            problems.push(format!("{at}: names a path of this machine ({needle})"));
        }
    }
    problems
}

/// Where a test data folder starts in a tracked path, if the path is inside one.
fn data_root(file: &str) -> Option<&str> {
    if file.starts_with("testdata/") {
        return Some("testdata");
    }
    ["/tests/data/", "/tests/it/data/", "/examples/data/"]
        .iter()
        .find_map(|marker| file.find(marker).map(|at| &file[..at + marker.len() - 1]))
}

/// Data files that no README of their data folder names.
fn undocumented_data(root: &Path, files: &[String]) -> Vec<String> {
    let mut readmes: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for file in files {
        let Some(data_root) = data_root(file) else {
            continue;
        };
        let path = Path::new(file);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == "README.md" {
            continue;
        }
        let named = path
            .ancestors()
            .skip(1)
            .take_while(|dir| dir.starts_with(data_root))
            .any(|dir| {
                let readme = dir.join("README.md").to_string_lossy().into_owned();
                readmes
                    .entry(readme.clone())
                    .or_insert_with(|| std::fs::read_to_string(root.join(&readme)).ok())
                    .as_deref()
                    .is_some_and(|text| text.contains(&name))
            });
        if !named {
            problems.push(format!(
                "{file}: test data that no README.md of {data_root}/ names (say where it came from and its licence)"
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::{data_root, outside_references};

    #[test]
    fn a_clone_in_a_shared_folder_does_not_forbid_that_folder() {
        let found = super::needles(std::path::Path::new("/tmp/clone"));
        assert!(found.contains(&"/tmp/clone/".to_owned()), "{found:?}");
        assert!(!found.contains(&"/tmp/".to_owned()), "{found:?}");
    }

    #[test]
    fn finds_sibling_folders_and_machine_paths() {
        let needles = vec!["/build/box/repo/".to_owned()];
        let sibling = ["..", "/..", "/shared/reference/x.json"].concat();
        let text = format!("ok\nlet p = \"{sibling}\";\nsee /build/box/repo/target\n");
        let found = outside_references("a.rs", &text, &needles);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("a.rs:2:"), "{found:?}");
        assert!(found[1].starts_with("a.rs:3:"), "{found:?}");
        assert!(outside_references("b.rs", "../testdata/x.json", &needles).is_empty());
    }

    #[test]
    fn knows_the_data_folders() {
        assert_eq!(data_root("testdata/ctim/a.json"), Some("testdata"));
        assert_eq!(
            data_root("relay-lambda/tests/data/alb.json"),
            Some("relay-lambda/tests/data")
        );
        assert_eq!(
            data_root("socless-events/examples/data/x.json"),
            Some("socless-events/examples/data")
        );
        assert_eq!(data_root("relay-core/src/lib.rs"), None);
    }
}
