//! The repository's deployment files (`deploy/`), read as the tests that keep them wired to the
//! crates read them: YAML (a SAM template, a serverless.yml), values by their key path, and the
//! files their relative paths name.

use std::path::{Component, Path, PathBuf};

pub use serde_norway::Value as Yaml;

use crate::testdata::{repo_text, root};

/// The YAML file at `relative` (from the repository's root).
pub fn yaml(relative: &str) -> Yaml {
    serde_norway::from_str(&repo_text(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// `value[a][b]...`, failing with the path when a key is missing.
pub fn at<'a>(value: &'a Yaml, keys: &[&str]) -> &'a Yaml {
    keys.iter().fold(value, |v, key| {
        v.get(key)
            .unwrap_or_else(|| panic!("missing `{}`", keys.join(".")))
    })
}

/// The string at `value[a][b]...`.
pub fn text<'a>(value: &'a Yaml, keys: &[&str]) -> &'a str {
    at(value, keys)
        .as_str()
        .unwrap_or_else(|| panic!("`{}` is not a string", keys.join(".")))
}

/// The file that the path `relative`, written in the deployment file `file`, names: relative
/// to the folder `file` is in.
pub fn resolve(file: &str, relative: &str) -> PathBuf {
    let mut path = root().join(file);
    path.pop();
    for part in Path::new(relative).components() {
        match part {
            Component::ParentDir => {
                path.pop();
            }
            other => path.push(other),
        }
    }
    path
}

/// Where `cargo xtask lambda` leaves a binary's zip: `target/lambda/<bin>/bootstrap.zip`, under
/// the workspace's own `target/`, which the deployment files name.
pub fn lambda_zip(bin: impl AsRef<Path>) -> PathBuf {
    root().join("target/lambda").join(bin).join("bootstrap.zip")
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_values_by_path_and_resolves_from_the_files_folder() {
        let template = super::yaml("deploy/relay/template.yaml");
        assert!(super::at(&template, &["Resources"]).is_mapping());
        let missing =
            std::panic::catch_unwind(|| super::at(&template, &["Resources", "Nothing"]).is_null())
                .unwrap_err();
        let message = missing.downcast_ref::<String>().unwrap();
        assert_eq!(message, "missing `Resources.Nothing`");
        assert_eq!(
            super::resolve("deploy/relay/template.yaml", "../../target/x.zip"),
            super::root().join("target/x.zip")
        );
    }
}
