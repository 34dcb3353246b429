//! The repository's shared test data (`testdata/` at its root) and any other file a test reads:
//! one loader, one message naming the file and where its README is.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The repository's root (the folder of the top `Cargo.toml`).
pub fn root() -> &'static Path {
    // testkit sits one folder below the root, in every clone.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit's folder has a parent")
}

/// The path of `relative` in the repository's `testdata/` folder; fails when it is missing.
pub fn path(relative: &str) -> PathBuf {
    let path = root().join("testdata").join(relative);
    assert!(
        path.exists(),
        "test data testdata/{relative} is missing; see testdata/README.md"
    );
    path
}

/// The bytes of `testdata/{relative}`.
pub fn read(relative: &str) -> Vec<u8> {
    std::fs::read(root().join("testdata").join(relative)).unwrap_or_else(|e| {
        panic!("test data file testdata/{relative} is missing or unreadable ({e}); see testdata/README.md")
    })
}

/// The text of `testdata/{relative}`.
pub fn text(relative: &str) -> String {
    String::from_utf8(read(relative))
        .unwrap_or_else(|e| panic!("test data file testdata/{relative} is not UTF-8 ({e})"))
}

/// `testdata/{relative}` as JSON.
pub fn json(relative: &str) -> Value {
    serde_json::from_slice(&read(relative))
        .unwrap_or_else(|e| panic!("test data file testdata/{relative} is not JSON ({e})"))
}

/// The names of the files in the folder `testdata/{relative}`, sorted.
pub fn files(relative: &str) -> Vec<String> {
    let dir = path(relative);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list testdata/{relative} ({e})"))
        .map(|entry| {
            let entry = entry.unwrap_or_else(|e| panic!("cannot list testdata/{relative} ({e})"));
            entry.file_name().to_string_lossy().into_owned()
        })
        .collect();
    names.sort();
    names
}

/// The bytes of any file a test reads (a crate's own data, usually
/// `concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/…")`), failing with its path.
pub fn file(path: impl AsRef<Path>) -> Vec<u8> {
    let path = path.as_ref();
    std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "test file {} is missing or unreadable ({e})",
            path.display()
        )
    })
}

/// A file of the repository, by its path from the root (`deploy/relay/template.yaml`), as text.
pub fn repo_text(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} is missing or unreadable ({e})", path.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_shared_data_and_names_a_missing_file() {
        assert!(super::files("auth0-signals").len() > 3);
        assert!(super::json("auth0-signals/upstream_v2.0_ip_response_ok.json").is_object());
        let missing = std::panic::catch_unwind(|| super::read("no/such.json")).unwrap_err();
        let message = missing.downcast_ref::<String>().unwrap();
        assert!(message.contains("testdata/no/such.json"), "{message}");
        assert!(message.contains("testdata/README.md"), "{message}");
    }
}
