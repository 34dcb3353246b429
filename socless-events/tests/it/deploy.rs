//! Socless' deployment file, `deploy/socless/serverless.yml`, kept wired to this crate: it
//! deploys the zip cargo-lambda builds of the `tutorial_endpoint` example and gives it the
//! tables and the secret the crate and the example read. A rename on either side fails here
//! rather than in an AWS account.
//!
//! The YAML is parsed with `serde_norway` (a dev-dependency), so these tests need no Python.

use std::collections::BTreeSet;

use socless_events::{DEDUP_TABLE_ENV, EVENTS_TABLE_ENV, RESULTS_TABLE_ENV};
use testkit::deploy::{Yaml, at, lambda_zip, resolve, text, yaml};

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
        lambda_zip("tutorial_endpoint")
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
fn the_endpoint_is_given_a_secret_the_endpoint_checks() {
    use socless_events::auth::{ENDPOINT_TOKEN_ENV, SLACK_SIGNING_SECRET_ENV};
    let f = endpoint();
    let secrets: Vec<&str> = at(&f, &["environment"])
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(!secrets.is_empty());
    for name in secrets {
        assert!(
            [ENDPOINT_TOKEN_ENV, SLACK_SIGNING_SECRET_ENV].contains(&name),
            "{name}"
        );
    }
}
