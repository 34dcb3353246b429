//! Socless' deployment file, `deploy/socless/serverless.yml`, kept wired to this crate: it
//! deploys the zip cargo-lambda builds of the `tutorial_endpoint` example and gives it the
//! tables and the secret the crate and the example read. A rename on either side fails here
//! rather than in an AWS account.
//!
//! The YAML is parsed with `serde_norway` (a dev-dependency), so these tests need no Python.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use serde_norway::Value as Yaml;
use socless_events::{DEDUP_TABLE_ENV, EVENTS_TABLE_ENV, RESULTS_TABLE_ENV};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml(relative: &str) -> Yaml {
    serde_norway::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// `value[a][b]...`, failing with the path when a key is missing.
fn at<'a>(value: &'a Yaml, keys: &[&str]) -> &'a Yaml {
    keys.iter().fold(value, |v, key| {
        v.get(key)
            .unwrap_or_else(|| panic!("missing `{}`", keys.join(".")))
    })
}

fn text<'a>(value: &'a Yaml, keys: &[&str]) -> &'a str {
    at(value, keys)
        .as_str()
        .unwrap_or_else(|| panic!("`{}` is not a string", keys.join(".")))
}

/// The file a deployment file's relative path names, from the folder the file is in.
fn resolve(file: &str, relative: &str) -> PathBuf {
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

/// Where cargo-lambda puts a binary's zip: `target/lambda/<bin>/bootstrap.zip`, under the
/// workspace's own target/ (`cargo xtask lambda` keeps it there).
fn zip_of(bin: &str) -> PathBuf {
    root().join("target/lambda").join(bin).join("bootstrap.zip")
}

const FILE: &str = "deploy/socless/serverless.yml";

fn endpoint() -> Yaml {
    at(&yaml(FILE), &["functions", "TutorialEndpoint"]).clone()
}

#[test]
fn the_endpoint_is_the_tutorials_with_the_rust_zip() {
    let config = yaml(FILE);
    let f = endpoint();
    assert_eq!(text(&f, &["name"]), "_socless_tutorial_endpoint");
    assert_eq!(text(&f, &["handler"]), "bootstrap");
    assert_eq!(text(&config, &["provider", "runtime"]), "provided.al2023");
    assert_eq!(
        resolve(FILE, text(&f, &["package", "artifact"])),
        zip_of("tutorial_endpoint")
    );
    let events = at(&f, &["events"]).as_sequence().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(text(&events[0], &["http", "path"]), "/tutorial");
    assert_eq!(text(&events[0], &["http", "method"]), "post");
}

#[test]
fn the_tables_come_from_the_socless_stack_under_the_names_socless_events_reads() {
    let config = yaml(FILE);
    assert_eq!(
        text(&config, &["custom", "socless"]),
        "socless-${self:provider.stage}"
    );
    // `TableNames::from_env` reads these three.
    let read_by_crate: BTreeSet<String> = [EVENTS_TABLE_ENV, DEDUP_TABLE_ENV, RESULTS_TABLE_ENV]
        .map(str::to_owned)
        .into();
    let environment = at(&config, &["provider", "environment"]);
    let given: BTreeSet<String> = environment
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .filter(|name| name.ends_with("_TABLE"))
        .collect();
    assert_eq!(given, read_by_crate);
    // Each from the Socless stack output that holds it.
    for (variable, output) in [
        ("SOCLESS_EVENTS_TABLE", "EventsTable"),
        ("SOCLESS_DEDUP_TABLE", "DedupTable"),
        ("SOCLESS_RESULTS_TABLE", "ExecutionResultsTable"),
    ] {
        assert_eq!(
            text(environment, &[variable]),
            format!("${{cf:${{self:custom.socless}}.{output}}}")
        );
    }
}

#[test]
fn the_endpoint_is_given_a_secret_the_example_checks() {
    let example = read("socless-events/examples/tutorial_endpoint.rs");
    let f = endpoint();
    let secrets: Vec<&str> = at(&f, &["environment"])
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(!secrets.is_empty());
    for name in secrets {
        assert!(example.contains(&format!("var(\"{name}\")")), "{name}");
    }
}
