//! The relay's deployment files, `deploy/relay/`, kept wired to this crate: the SAM template
//! deploys the zip cargo-lambda builds of this binary, routes the relay's routes to it and
//! sets the variables the relay reads; the Threat Response module type names those routes.
//! A rename on either side fails here rather than in an AWS account or in Threat Response.
//!
//! The YAML is parsed with `serde_norway` (a dev-dependency), so these tests need no Python;
//! the CloudFormation rules themselves are cfn-lint's job in CI.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use serde_json::Value as Json;
use serde_norway::Value as Yaml;
use xdr_relay_core::RelayConfig;

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

/// The relay's routes as its OpenAPI document lists them, e.g. `("POST", "/health")`.
/// `/openapi.json` is left out: the relay serves it only with `RELAY_OPENAPI` set, which the
/// template does not set (its variables are checked below).
fn relay_routes() -> BTreeSet<(String, String)> {
    let document = xdr_relay_core::openapi();
    let mut routes = BTreeSet::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            routes.insert((method.to_uppercase(), path.clone()));
        }
    }
    assert!(routes.remove(&("GET".to_owned(), "/openapi.json".to_owned())));
    assert!(
        routes.len() >= 6,
        "the OpenAPI document changed shape: {routes:?}"
    );
    routes
}

mod sam_template {
    use super::*;

    const FILE: &str = "deploy/relay/template.yaml";

    fn function() -> Yaml {
        at(&yaml(FILE), &["Resources", "RelayFunction", "Properties"]).clone()
    }

    #[test]
    fn the_function_is_the_zip_cargo_lambda_builds_of_this_binary() {
        let f = function();
        // cargo-lambda puts each binary's zip in `target/lambda/<bin>/bootstrap.zip`, and
        // `cargo xtask lambda` keeps it under the workspace's own target/.
        let bin = Path::new(env!("CARGO_BIN_EXE_relay-lambda"))
            .file_stem()
            .unwrap();
        let zip = root().join("target/lambda").join(bin).join("bootstrap.zip");
        assert_eq!(resolve(FILE, text(&f, &["CodeUri"])), zip);
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
        // Both adapters read the variables of relay-core's `RelayConfig::ENV_VARS`.
        for name in ["SECRET_KEY", "CTR_ENTITIES_LIMIT"] {
            assert!(
                RelayConfig::ENV_VARS.iter().any(|v| v.name == name),
                "{name}"
            );
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
