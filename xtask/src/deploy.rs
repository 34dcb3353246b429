//! Tests of the deployment files under `deploy/`: each must point at what `cargo xtask lambda`
//! builds and at what the crates really read, so a rename on either side fails here rather
//! than in an AWS account or in Threat Response.
//!
//! The YAML is parsed with `serde_norway` (a maintained serde_yaml fork, MIT OR Apache-2.0 like
//! this workspace, a dev-dependency only), so these tests need no Python; the CloudFormation
//! rules themselves are cfn-lint's job in CI.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use serde_json::Value as Json;
use serde_norway::Value as Yaml;

fn root() -> PathBuf {
    crate::workspace_root().unwrap()
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

/// `Tag value` of a CloudFormation short form such as `!Ref Architecture`.
fn tagged(value: &Yaml) -> String {
    match value {
        Yaml::Tagged(t) => format!("{} {}", t.tag, t.value.as_str().unwrap_or("?")),
        other => panic!("expected a !Tag, got {other:?}"),
    }
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

fn zip_of(function: &str) -> PathBuf {
    crate::lambda::lambda_dir(&root())
        .join(function)
        .join("bootstrap.zip")
}

/// The string constants a source file defines, e.g. `pub const X: &str = "SOCLESS_DEDUP_TABLE";`.
fn string_constants(source: &str) -> BTreeSet<String> {
    source
        .lines()
        .filter_map(|line| {
            line.trim()
                .strip_prefix("pub const ")?
                .split_once(": &str = \"")
        })
        .filter_map(|(_, rest)| rest.split_once("\";").map(|(value, _)| value.to_owned()))
        .collect()
}

/// The relay's routes as relay-core declares them: `("/health", post(health)),` → POST /health.
fn relay_routes() -> BTreeSet<(String, String)> {
    let source = read("relay-core/src/routes.rs");
    let mut routes = BTreeSet::new();
    for line in source.lines() {
        let Some(rest) = line.trim().strip_prefix("(\"/") else {
            continue;
        };
        let Some((path, handlers)) = rest.split_once("\", ") else {
            continue;
        };
        for method in ["get", "post"] {
            if handlers.starts_with(&format!("{method}("))
                || handlers.contains(&format!(".{method}("))
            {
                routes.insert((method.to_uppercase(), format!("/{path}")));
            }
        }
    }
    assert!(routes.len() >= 6, "routes.rs changed shape: {routes:?}");
    routes
}

mod sam_template {
    use super::*;

    const FILE: &str = "deploy/relay/template.yaml";

    fn function() -> Yaml {
        at(&yaml(FILE), &["Resources", "RelayFunction", "Properties"]).clone()
    }

    #[test]
    fn the_function_is_the_zip_xtask_lambda_builds() {
        let f = function();
        assert_eq!(
            resolve(FILE, text(&f, &["CodeUri"])),
            zip_of("relay-lambda")
        );
        assert_eq!(text(&f, &["Runtime"]), "provided.al2023");
        assert_eq!(text(&f, &["Handler"]), "bootstrap");
        let arch = &at(&f, &["Architectures"])[0];
        assert_eq!(tagged(arch), "!Ref Architecture");
        let template = yaml(FILE);
        let allowed = at(&template, &["Parameters", "Architecture", "AllowedValues"]);
        assert_eq!(
            allowed,
            &serde_norway::from_str::<Yaml>("[x86_64, arm64]").unwrap()
        );
    }

    #[test]
    fn every_relay_route_and_only_those_reach_the_function() {
        let f = function();
        let events = at(&f, &["Events"]).as_mapping().unwrap();
        let routed: BTreeSet<(String, String)> = events
            .values()
            .map(|event| {
                assert_eq!(text(event, &["Type"]), "HttpApi");
                assert_eq!(tagged(at(event, &["Properties", "ApiId"])), "!Ref RelayApi");
                (
                    text(event, &["Properties", "Method"]).to_owned(),
                    text(event, &["Properties", "Path"]).to_owned(),
                )
            })
            .collect();
        assert_eq!(routed, relay_routes());
    }

    #[test]
    fn the_environment_is_what_relay_lambda_reads() {
        let f = function();
        let vars = at(&f, &["Environment", "Variables"]).as_mapping().unwrap();
        let names: BTreeSet<&str> = vars.keys().filter_map(Yaml::as_str).collect();
        assert_eq!(
            names,
            BTreeSet::from(["SECRET_KEY", "CTR_ENTITIES_LIMIT", "RUST_LOG"])
        );
        // Both adapters read the variables listed in relay-core's `EnvVar` table.
        let variables = read("relay-core/src/config.rs");
        for name in ["SECRET_KEY", "CTR_ENTITIES_LIMIT"] {
            assert!(variables.contains(&format!("name: \"{name}\"")), "{name}");
        }
        assert_eq!(
            tagged(at(&f, &["Environment", "Variables", "SECRET_KEY"])),
            "!Ref SecretKey"
        );
    }

    #[test]
    fn the_secret_key_is_never_echoed_nor_defaulted() {
        let template = yaml(FILE);
        let parameter = at(&template, &["Parameters", "SecretKey"]);
        assert_eq!(at(parameter, &["NoEcho"]), &Yaml::Bool(true));
        assert!(parameter.get("Default").is_none());
    }

    #[test]
    fn the_role_may_only_write_its_own_logs() {
        let template = yaml(FILE);
        let statements = at(
            &template,
            &["Resources", "RelayRole", "Properties", "Policies"],
        )
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|p| {
            at(p, &["PolicyDocument", "Statement"])
                .as_sequence()
                .unwrap()
        });
        for statement in statements {
            let actions = at(statement, &["Action"]);
            assert_eq!(
                actions,
                &serde_norway::from_str::<Yaml>("[logs:CreateLogStream, logs:PutLogEvents]")
                    .unwrap()
            );
            assert_eq!(
                tagged(at(statement, &["Resource"])),
                "!GetAtt RelayLogGroup.Arn"
            );
        }
        let role = at(&template, &["Resources", "RelayRole", "Properties"]);
        assert!(role.get("ManagedPolicyArns").is_none());
    }
}

mod serverless {
    use super::*;

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
        let read_by_crate: BTreeSet<String> =
            string_constants(&read("socless-events/src/backend.rs"))
                .into_iter()
                .filter(|name| name.starts_with("SOCLESS_") && name.ends_with("_TABLE"))
                .collect();
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
}

mod module_type {
    use super::*;

    fn module_type() -> Json {
        serde_json::from_str(&read("deploy/relay/module_type.json")).unwrap()
    }

    fn strings(value: &Json) -> Vec<&str> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect()
    }

    #[test]
    fn capabilities_and_apis_are_the_relays() {
        let module = module_type();
        let capabilities: Vec<&str> = module["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(capabilities, ["health", "deliberate", "observe", "refer"]);
        let apis = strings(&module["properties"]["supported-apis"]);
        assert_eq!(
            apis,
            [
                "health",
                "deliberate/observables",
                "observe/observables",
                "refer/observables"
            ]
        );
        // Threat Response POSTs each of them to the deployed relay.
        let routes = relay_routes();
        for api in apis {
            assert!(
                routes.contains(&("POST".to_owned(), format!("/{api}"))),
                "{api}"
            );
        }
    }

    #[test]
    fn ip_is_the_observable_every_enrichment_names() {
        let module = module_type();
        for capability in module["capabilities"].as_array().unwrap() {
            let id = capability["id"].as_str().unwrap();
            let description = capability["description"].as_str().unwrap();
            if id != "health" {
                assert!(
                    description.contains("IP observables"),
                    "{id}: {description}"
                );
            }
        }
        let description = module["description"].as_str().unwrap();
        assert!(description.contains("**IP** observable"), "{description}");
        assert!(description.contains("Other observable types are ignored"));
    }

    #[test]
    fn the_jwt_carries_the_fields_of_the_module_settings() {
        let module = module_type();
        let settings: Json =
            serde_json::from_str(&read("relay-server/module_settings.json")).unwrap();
        assert_eq!(module["title"], settings["name"]);
        let properties = &module["properties"];
        assert_eq!(properties["auth-type"], "configuration-token");
        assert_eq!(properties["configuration-token-alg"], "HS256");
        assert!(properties["url"].as_str().unwrap().starts_with("https://"));
        // Threat Response signs each `custom_<field>` into the JWT as `<field>`, the payload
        // relay-core reads (`{"key": ...}`).
        let spec = module["configuration_spec"].as_array().unwrap();
        let fields = settings["jwt"].as_object().unwrap();
        assert_eq!(spec.len(), fields.len());
        for (field, label) in fields {
            let entry = spec
                .iter()
                .find(|e| e["key"] == format!("custom_{field}").as_str())
                .unwrap_or_else(|| panic!("no custom_{field}"));
            assert_eq!(&entry["label"], label);
            assert_eq!(entry["type"], "api_key");
            assert_eq!(entry["required"], true);
        }
    }
}
