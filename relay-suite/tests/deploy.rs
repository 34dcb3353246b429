//! The suite's deployment files, kept wired to the suite: the SAM template's zip, routes and
//! variables, and the Kubernetes manifest's command, secret and probes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use testkit::deploy::{Yaml, at, text, yaml};

const TEMPLATE: &str = "deploy/suite/template.yaml";
const MANIFEST: &str = "deploy/suite/kubernetes.yaml";

#[test]
fn the_sam_template_deploys_the_suites_zip_under_every_mount() {
    let template = yaml(TEMPLATE);
    let function = at(&template, &["Resources", "RelayFunction", "Properties"]);
    assert_eq!(
        text(function, &["CodeUri"]),
        "../../target/lambda/xdr-relays-lambda/bootstrap.zip"
    );
    let variables = at(function, &["Environment", "Variables"]);
    for name in [
        "RELAYS",
        "AUTH_TYPE",
        "SECRET_KEY",
        "RELAY_URL",
        "SIGNALS_API_URL",
        "ABUSEIPDB_API_URL",
    ] {
        assert!(
            variables.get(name).is_some(),
            "{name} is not set by {TEMPLATE}"
        );
    }
    // Each variable the template sets is one the suite reads.
    let suite = xdr_relay_suite::suite();
    let read: Vec<&str> = suite.env_vars().iter().map(|v| v.name).collect();
    for (name, _) in variables.as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        assert!(
            read.contains(&name),
            "{TEMPLATE} sets {name}, which the suite does not read"
        );
    }
    let routes: Vec<&str> = at(&template, &["Resources"])
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r.get("Type").and_then(Yaml::as_str) == Some("AWS::ApiGatewayV2::Route"))
        .map(|r| text(r, &["Properties", "RouteKey"]))
        .collect();
    for route in [
        "POST /{relay}/{proxy+}",
        "GET /{relay}/{proxy+}",
        "GET /watchdog",
        "GET /version",
    ] {
        assert!(routes.contains(&route), "{route} missing from {routes:?}");
    }
}

#[test]
fn the_kubernetes_manifest_runs_the_suite_with_its_secret_as_a_file() {
    let manifest = yaml(MANIFEST);
    assert_eq!(text(&manifest, &["kind"]), "List");
    let items = at(&manifest, &["items"]).as_sequence().unwrap();
    let kinds: Vec<&str> = items.iter().map(|i| text(i, &["kind"])).collect();
    assert_eq!(kinds, ["Deployment", "Service"]);
    let pod = at(&items[0], &["spec", "template", "spec"]);
    let container = &at(pod, &["containers"]).as_sequence().unwrap()[0];
    let args: Vec<&str> = at(container, &["args"])
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let file = args
        .iter()
        .position(|a| *a == "--secret-key-file")
        .map(|i| args[i + 1])
        .expect("--secret-key-file");
    let mount = container["volumeMounts"][0]["mountPath"].as_str().unwrap();
    assert!(
        file.starts_with(mount),
        "{file} is not in the secret's volume {mount}"
    );
    assert_eq!(
        pod["volumes"][0]["secret"]["secretName"].as_str(),
        Some("xdr-relays")
    );
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(text(container, &[probe, "httpGet", "path"]), "/watchdog");
        assert_eq!(
            container[probe]["httpGet"]["httpHeaders"][0]["name"].as_str(),
            Some("Health-Check")
        );
    }
    assert!(container["resources"]["requests"]["memory"].is_string());
    let relays = container["env"][0]["value"].as_str().unwrap();
    let suite = xdr_relay_suite::suite();
    for name in relays.split(',') {
        assert!(
            suite.member(name).is_some(),
            "{MANIFEST} names no relay {name}"
        );
    }
}
