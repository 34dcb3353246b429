//! The relay's deployment files, `deploy/relay/`, kept wired to this crate: the SAM template
//! deploys the zip cargo-lambda builds of this binary, routes the relay's routes to it and
//! sets the variables the relay reads; the Threat Response module type names those routes.
//! A rename on either side fails here rather than in an AWS account or in Threat Response.
//!
//! The YAML is parsed with `serde_norway` (a dev-dependency), so these tests need no Python;
//! the CloudFormation rules themselves are cfn-lint's job in CI.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value as Json;
use testkit::deploy::{Yaml, at, lambda_zip, resolve, text, yaml};
use xdr_relay_core::RelayConfig;

/// `Tag value` of a CloudFormation short form such as `!Ref Architecture`.
fn tagged(value: &Yaml) -> String {
    match value {
        Yaml::Tagged(t) => format!("{} {}", t.tag, t.value.as_str().unwrap_or("?")),
        other => panic!("expected a !Tag, got {other:?}"),
    }
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
    use std::collections::BTreeMap;

    use super::*;

    const FILE: &str = "deploy/relay/template.yaml";

    /// What `!GetAtt RelayApi.ApiEndpoint` is on AWS: `https://<api id>.execute-api.<region>.
    /// <URL suffix>`, without a trailing slash.
    const API_ENDPOINT: &str = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com";

    /// A key of at least 32 letters and digits, as `SecretKey` requires.
    const KEY: &str = "0123456789abcdefABCDEF0123456789abcdefABCDEF0123456789abcdefABCD";

    fn function() -> Yaml {
        at(&yaml(FILE), &["Resources", "RelayFunction", "Properties"]).clone()
    }

    /// `!Tag value` split into the tag (without `!`) and its value.
    fn intrinsic(value: &Yaml) -> Option<(String, &Yaml)> {
        match value {
            Yaml::Tagged(t) => Some((
                t.tag.to_string().trim_start_matches('!').to_owned(),
                &t.value,
            )),
            _ => None,
        }
    }

    fn seq(value: &Yaml) -> &[Yaml] {
        value
            .as_sequence()
            .unwrap_or_else(|| panic!("expected a list, got {value:?}"))
    }

    /// The template as CloudFormation would resolve it for one deployment: its parameter
    /// values (the defaults, then `sam deploy --parameter-overrides`) and its conditions.
    struct Stack {
        template: Yaml,
        parameters: BTreeMap<String, String>,
    }

    impl Stack {
        /// A stack deployed with these overrides; an override CloudFormation would refuse
        /// (unknown parameter, not in `AllowedValues`) or a parameter left without a value
        /// fails the test.
        fn deploy(overrides: &[(&str, &str)]) -> Self {
            let template = yaml(FILE);
            let declared = at(&template, &["Parameters"]).as_mapping().unwrap();
            let mut parameters = BTreeMap::new();
            for (name, parameter) in declared {
                let name = name.as_str().unwrap();
                let value = match overrides.iter().find(|(n, _)| *n == name) {
                    Some((_, v)) => (*v).to_owned(),
                    None => match parameter.get("Default") {
                        Some(Yaml::String(s)) => s.clone(),
                        Some(Yaml::Number(n)) => n.to_string(),
                        other => panic!("{name} has no value (default {other:?})"),
                    },
                };
                if let Some(allowed) = parameter.get("AllowedValues") {
                    let allowed: Vec<String> = seq(allowed)
                        .iter()
                        .map(|v| match v {
                            Yaml::String(s) => s.clone(),
                            other => serde_norway::to_string(other).unwrap().trim().to_owned(),
                        })
                        .collect();
                    assert!(
                        allowed.contains(&value),
                        "{name}={value} not in {allowed:?}"
                    );
                }
                parameters.insert(name.to_owned(), value);
            }
            for (name, _) in overrides {
                assert!(parameters.contains_key(*name), "no parameter {name}");
            }
            Self {
                template,
                parameters,
            }
        }

        /// A value with its intrinsic functions resolved; `None` is `AWS::NoValue`.
        fn eval(&self, value: &Yaml) -> Option<Yaml> {
            let Some((tag, arg)) = intrinsic(value) else {
                return Some(value.clone());
            };
            match tag.as_str() {
                "Ref" => {
                    let name = arg.as_str().unwrap();
                    if name == "AWS::NoValue" {
                        return None;
                    }
                    let value = self
                        .parameters
                        .get(name)
                        .unwrap_or_else(|| panic!("!Ref {name}: not a parameter"));
                    Some(Yaml::String(value.clone()))
                }
                "GetAtt" => {
                    assert_eq!(
                        arg.as_str(),
                        Some("RelayApi.ApiEndpoint"),
                        "unexpected !GetAtt"
                    );
                    Some(Yaml::String(API_ENDPOINT.to_owned()))
                }
                "If" => {
                    let [condition, then, otherwise] = seq(arg) else {
                        panic!("!If takes three arguments: {arg:?}")
                    };
                    if self.condition(condition.as_str().unwrap()) {
                        self.eval(then)
                    } else {
                        self.eval(otherwise)
                    }
                }
                _ => Some(Yaml::Bool(self.truth(value))),
            }
        }

        /// A condition function (`!Equals`, `!Not`, `!And`, `!Or`, `!Condition`).
        fn truth(&self, value: &Yaml) -> bool {
            let (tag, arg) =
                intrinsic(value).unwrap_or_else(|| panic!("not a condition: {value:?}"));
            match tag.as_str() {
                "Equals" => {
                    let [a, b] = seq(arg) else {
                        panic!("!Equals takes two: {arg:?}")
                    };
                    self.eval(a) == self.eval(b)
                }
                "Not" => !self.truth(&seq(arg)[0]),
                "And" => seq(arg).iter().all(|c| self.truth(c)),
                "Or" => seq(arg).iter().any(|c| self.truth(c)),
                "Condition" => self.condition(arg.as_str().unwrap()),
                other => panic!("unexpected !{other}"),
            }
        }

        fn condition(&self, name: &str) -> bool {
            self.truth(at(&self.template, &["Conditions", name]))
        }

        /// The descriptions of the template's `Rules` assertions this deployment breaks:
        /// CloudFormation refuses the deployment unless this is empty.
        fn broken_rules(&self) -> Vec<String> {
            let mut broken = Vec::new();
            let rules = at(&self.template, &["Rules"]).as_mapping().unwrap();
            for rule in rules.values() {
                if let Some(condition) = rule.get("RuleCondition")
                    && !self.truth(condition)
                {
                    continue;
                }
                for assertion in seq(at(rule, &["Assertions"])) {
                    if !self.truth(at(assertion, &["Assert"])) {
                        broken.push(text(assertion, &["AssertDescription"]).to_owned());
                    }
                }
            }
            broken
        }

        /// The function's environment variables.
        fn environment(&self) -> BTreeMap<String, String> {
            let variables = at(
                &self.template,
                &[
                    "Resources",
                    "RelayFunction",
                    "Properties",
                    "Environment",
                    "Variables",
                ],
            );
            let mut env = BTreeMap::new();
            for (name, value) in variables.as_mapping().unwrap() {
                let name = name.as_str().unwrap().to_owned();
                match self.eval(value) {
                    None => {}
                    Some(Yaml::String(s)) => {
                        env.insert(name, s);
                    }
                    Some(other) => panic!("{name} is not a string: {other:?}"),
                }
            }
            env
        }

        fn output(&self, name: &str) -> String {
            let value = at(&self.template, &["Outputs", name, "Value"]);
            match self.eval(value) {
                Some(Yaml::String(s)) => s,
                other => panic!("output {name}: {other:?}"),
            }
        }

        /// The relay's configuration from that environment, as relay-lambda reads it.
        fn relay_config(&self) -> RelayConfig {
            let env = self.environment();
            RelayConfig::from_lookup(|name| env.get(name).cloned())
                .unwrap_or_else(|e| panic!("relay-lambda refuses the environment {env:?}: {e}"))
        }
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_function_is_the_zip_cargo_lambda_builds_of_this_binary() {
        let f = function();
        // cargo-lambda puts each binary's zip in `target/lambda/<bin>/bootstrap.zip`, and
        // `cargo xtask lambda` keeps it under the workspace's own target/.
        let bin = Path::new(env!("CARGO_BIN_EXE_relay-lambda"))
            .file_stem()
            .unwrap();
        let zip = lambda_zip(bin);
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
        let template = yaml(FILE);
        let resources = at(&template, &["Resources"]).as_mapping().unwrap();
        // SAM events would put the routes into the API's own definition (see the one-pass
        // test below); the routes are API Gateway resources instead.
        assert!(function().get("Events").is_none());
        let integration = at(&template, &["Resources", "RelayIntegration"]);
        assert_eq!(
            text(integration, &["Type"]),
            "AWS::ApiGatewayV2::Integration"
        );
        let properties = at(integration, &["Properties"]);
        assert_eq!(tagged(at(properties, &["ApiId"])), "!Ref RelayApi");
        assert_eq!(text(properties, &["IntegrationType"]), "AWS_PROXY");
        assert_eq!(
            tagged(at(properties, &["IntegrationUri"])),
            "!GetAtt RelayFunction.Arn"
        );
        let routed: BTreeSet<(String, String)> = resources
            .values()
            .filter(|r| text(r, &["Type"]) == "AWS::ApiGatewayV2::Route")
            .map(|route| {
                let properties = at(route, &["Properties"]);
                assert_eq!(tagged(at(properties, &["ApiId"])), "!Ref RelayApi");
                assert_eq!(
                    tagged(at(properties, &["Target"])),
                    "!Sub integrations/${RelayIntegration}"
                );
                let key = text(properties, &["RouteKey"]);
                let (method, path) = key.split_once(' ').unwrap_or_else(|| panic!("{key}"));
                (method.to_owned(), path.to_owned())
            })
            .collect();
        assert_eq!(routed, relay_routes());
        // API Gateway may invoke the function, from this API only.
        let permission = at(
            &template,
            &["Resources", "RelayApiPermission", "Properties"],
        );
        assert_eq!(
            tagged(at(permission, &["FunctionName"])),
            "!Ref RelayFunction"
        );
        let source = tagged(at(permission, &["SourceArn"]));
        assert!(source.contains(":${RelayApi}/"), "{source}");
    }

    #[test]
    fn the_parameters_offer_both_modes_and_default_to_secret_key() {
        let template = yaml(FILE);
        let parameters = at(&template, &["Parameters"]);
        let auth_type = at(parameters, &["AuthType"]);
        assert_eq!(
            at(auth_type, &["AllowedValues"]),
            &serde_norway::from_str::<Yaml>("[secret-key, jwks]").unwrap()
        );
        assert_eq!(text(auth_type, &["Default"]), "secret-key");
        // Each allowed value is a mode relay-core knows, and they are not the same mode.
        let modes: Vec<bool> = seq(at(auth_type, &["AllowedValues"]))
            .iter()
            .map(|mode| {
                let mode = mode.as_str().unwrap();
                let config = RelayConfig::from_lookup(|name| match name {
                    "AUTH_TYPE" => Some(mode.to_owned()),
                    "RELAY_URL" => Some(API_ENDPOINT.to_owned()),
                    _ => None,
                })
                .unwrap_or_else(|e| panic!("AUTH_TYPE={mode}: {e}"));
                config.jwks.is_some()
            })
            .collect();
        assert_eq!(modes, [false, true]);
        // The optional ones are empty unless given: empty means "derive" or "default".
        for optional in ["SecretKey", "RelayUrl", "JwksAllowedHosts"] {
            assert_eq!(text(parameters, &[optional, "Default"]), "", "{optional}");
            assert_eq!(
                text(parameters, &[optional, "Type"]),
                "String",
                "{optional}"
            );
        }
        assert!(text(parameters, &["RelayUrl", "AllowedPattern"]).starts_with("(https://"));
    }

    #[test]
    fn the_secret_key_is_required_only_for_secret_key() {
        let broken = |overrides: &[(&str, &str)]| Stack::deploy(overrides).broken_rules();
        // The default mode without a key is refused before anything is deployed...
        assert_eq!(broken(&[]).len(), 1);
        assert_eq!(broken(&[("AuthType", "secret-key")]).len(), 1);
        assert!(broken(&[("SecretKey", KEY)]).is_empty());
        // ... while jwks needs none, and ignores one.
        assert!(broken(&[("AuthType", "jwks")]).is_empty());
        assert!(broken(&[("AuthType", "jwks"), ("SecretKey", KEY)]).is_empty());
    }

    #[test]
    fn secret_key_mode_sets_the_secret_and_no_url() {
        let stack = Stack::deploy(&[
            ("SecretKey", KEY),
            ("RelayUrl", "https://relay.example.com"),
        ]);
        assert_eq!(
            stack.environment(),
            env(&[
                ("AUTH_TYPE", "secret-key"),
                ("SECRET_KEY", KEY),
                ("CTR_ENTITIES_LIMIT", "100"),
            ])
        );
        let config = stack.relay_config();
        assert!(config.jwks.is_none());
        assert!(config.secret_key.is_some());
        assert!(config.require_credentials().is_ok());
        assert_eq!(stack.output("RelayUrl"), "https://relay.example.com");
    }

    #[test]
    fn jwks_mode_in_one_pass_has_the_apis_own_url_as_relay_url() {
        let stack = Stack::deploy(&[("AuthType", "jwks"), ("SecretKey", KEY)]);
        assert_eq!(
            stack.environment(),
            env(&[
                ("AUTH_TYPE", "jwks"),
                ("RELAY_URL", API_ENDPOINT),
                ("CTR_ENTITIES_LIMIT", "100"),
            ])
        );
        // The URL Threat Response is given is exactly the audience the relay checks.
        assert_eq!(stack.output("RelayUrl"), API_ENDPOINT);
        assert_eq!(stack.output("ApiUrl"), API_ENDPOINT);
        let jwks = stack.relay_config().jwks.expect("jwks mode");
        assert_eq!(jwks.audience, stack.output("RelayUrl"));
        assert_eq!(jwks.allowed_hosts, xdr_relay_core::DEFAULT_JWKS_HOSTS);
        assert!(!jwks.allow_http);
    }

    #[test]
    fn jwks_mode_takes_a_given_url_and_hosts() {
        let hosts = "visibility.eu.amp.cisco.com,visibility.amp.cisco.com";
        let url = "https://relay.example.com/threat-response";
        let stack = Stack::deploy(&[
            ("AuthType", "jwks"),
            ("RelayUrl", url),
            ("JwksAllowedHosts", hosts),
            ("CtrEntitiesLimit", "25"),
        ]);
        assert_eq!(
            stack.environment(),
            env(&[
                ("AUTH_TYPE", "jwks"),
                ("RELAY_URL", url),
                ("JWKS_ALLOWED_HOSTS", hosts),
                ("CTR_ENTITIES_LIMIT", "25"),
            ])
        );
        assert_eq!(stack.output("RelayUrl"), url);
        assert_eq!(stack.output("ApiUrl"), API_ENDPOINT);
        let config = stack.relay_config();
        assert_eq!(config.entities_limit, 25);
        let jwks = config.jwks.expect("jwks mode");
        assert_eq!(jwks.audience, url);
        assert_eq!(
            jwks.allowed_hosts,
            ["visibility.eu.amp.cisco.com", "visibility.amp.cisco.com"]
        );
        // Hosts are a jwks setting: a secret-key stack does not get them.
        let secret_key = Stack::deploy(&[("SecretKey", KEY), ("JwksAllowedHosts", hosts)]);
        assert!(!secret_key.environment().contains_key("JWKS_ALLOWED_HOSTS"));
    }

    #[test]
    fn every_variable_the_template_sets_is_one_the_relay_reads() {
        let f = function();
        let vars = at(&f, &["Environment", "Variables"]).as_mapping().unwrap();
        let names: BTreeSet<&str> = vars.keys().filter_map(Yaml::as_str).collect();
        assert_eq!(
            names,
            BTreeSet::from([
                "AUTH_TYPE",
                "SECRET_KEY",
                "RELAY_URL",
                "JWKS_ALLOWED_HOSTS",
                "CTR_ENTITIES_LIMIT"
            ])
        );
        // Both adapters read the variables of relay-core's `RelayConfig::ENV_VARS`, and
        // relay-lambda its own `LAMBDA_VARS` (the metrics'); the log settings come from
        // Lambda (AWS_LAMBDA_LOG_FORMAT, AWS_LAMBDA_LOG_LEVEL), set from the LoggingConfig,
        // not from the template's variables.
        for name in names {
            assert!(
                RelayConfig::ENV_VARS
                    .iter()
                    .chain(xdr_relay_lambda::LAMBDA_VARS)
                    .any(|v| v.name == name),
                "{name} is not one of RelayConfig::ENV_VARS or LAMBDA_VARS"
            );
        }
    }

    #[test]
    fn logs_are_lambdas_json_format_at_the_chosen_level() {
        let f = function();
        let logging = at(&f, &["LoggingConfig"]);
        assert_eq!(text(logging, &["LogFormat"]), "JSON");
        assert_eq!(tagged(at(logging, &["LogGroup"])), "!Ref RelayLogGroup");
        assert_eq!(
            tagged(at(logging, &["ApplicationLogLevel"])),
            "!Ref ApplicationLogLevel"
        );
        // REPORT lines ("Max Memory Used") are INFO-level system logs.
        assert_eq!(text(logging, &["SystemLogLevel"]), "INFO");
        let template = yaml(FILE);
        let level = at(&template, &["Parameters", "ApplicationLogLevel"]);
        assert_eq!(
            at(level, &["AllowedValues"]),
            &serde_norway::from_str::<Yaml>("[TRACE, DEBUG, INFO, WARN, ERROR, FATAL]").unwrap()
        );
        assert_eq!(text(level, &["Default"]), "INFO");
    }

    /// The resources a value names: `!Ref X`, `!GetAtt X.Y`, `${X}` and `${X.Y}` in `!Sub`.
    fn named(value: &Yaml, into: &mut BTreeSet<String>) {
        match value {
            Yaml::Tagged(t) => {
                let tag = t.tag.to_string();
                let tag = tag.trim_start_matches('!');
                match (tag, &t.value) {
                    ("Ref" | "GetAtt", Yaml::String(s)) => {
                        into.insert(s.split('.').next().unwrap().to_owned());
                    }
                    ("Sub", Yaml::String(s)) => {
                        for part in s.split("${").skip(1) {
                            let name = part.split('}').next().unwrap();
                            into.insert(name.split('.').next().unwrap().to_owned());
                        }
                    }
                    (_, inner) => named(inner, into),
                }
            }
            Yaml::Sequence(items) => items.iter().for_each(|v| named(v, into)),
            Yaml::Mapping(map) => map.values().for_each(|v| named(v, into)),
            _ => {}
        }
    }

    #[test]
    fn one_pass_the_function_names_the_api_and_nothing_names_it_back() {
        let template = yaml(FILE);
        let resources = at(&template, &["Resources"]).as_mapping().unwrap();
        let names: BTreeSet<&str> = resources.keys().filter_map(Yaml::as_str).collect();
        let mut graph: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for (name, resource) in resources {
            let mut deps = BTreeSet::new();
            named(resource, &mut deps);
            deps.retain(|d| names.contains(d.as_str()));
            graph.insert(name.as_str().unwrap(), deps);
        }
        // The function's RELAY_URL names the API; the API names no other resource (SAM
        // `HttpApi` events would write the function's ARN into it, a cycle).
        assert!(graph["RelayFunction"].contains("RelayApi"));
        assert!(graph["RelayApi"].is_empty(), "{:?}", graph["RelayApi"]);
        // And no resource depends on itself through others (cfn-lint's E3004 in CI, here
        // without Python).
        fn visit<'a>(
            node: &'a str,
            graph: &'a BTreeMap<&'a str, BTreeSet<String>>,
            path: &mut Vec<&'a str>,
        ) {
            assert!(
                !path.contains(&node),
                "circular dependency: {path:?} -> {node}"
            );
            path.push(node);
            for dep in &graph[node] {
                visit(dep, graph, path);
            }
            path.pop();
        }
        for node in graph.keys() {
            visit(node, &graph, &mut Vec::new());
        }
    }

    #[test]
    fn the_secret_key_is_never_echoed_nor_defaulted() {
        let template = yaml(FILE);
        let parameter = at(&template, &["Parameters", "SecretKey"]);
        assert_eq!(at(parameter, &["NoEcho"]), &Yaml::Bool(true));
        // Its default is empty, which the relay does not take for a key (secret-key stacks
        // are refused without one, above).
        assert_eq!(text(parameter, &["Default"]), "");
        let config = RelayConfig::from_lookup(|name| (name == "SECRET_KEY").then(String::new));
        assert!(config.unwrap().secret_key.is_none());
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
        serde_json::from_str(&testkit::testdata::repo_text(
            "deploy/relay/module_type.json",
        ))
        .unwrap()
    }

    use testkit::json::strings;

    #[test]
    fn capabilities_and_apis_are_the_relays() {
        let module = module_type();
        let capabilities: Vec<&str> = testkit::json::field(&module["capabilities"], "id");
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
    fn the_jwt_carries_the_fields_the_provider_declares() {
        let module = module_type();
        let info = xdr_relay_core::signals_info();
        assert_eq!(module["title"], info.name.as_ref());
        let properties = &module["properties"];
        assert_eq!(properties["auth-type"], "configuration-token");
        assert_eq!(properties["configuration-token-alg"], "HS256");
        assert!(properties["url"].as_str().unwrap().starts_with("https://"));
        // Threat Response signs each `custom_<field>` into the JWT as `<field>`, the payload
        // relay-core reads (`{"key": ...}`).
        // The generated module type (`relay-server module-type`) agrees with this one.
        let spec = module["configuration_spec"].as_array().unwrap();
        assert_eq!(spec.len(), info.credentials.len());
        for field in &info.credentials {
            let key = xdr_relay_core::configuration_key(&field.name);
            let entry = spec
                .iter()
                .find(|e| e["key"] == key.as_str())
                .unwrap_or_else(|| panic!("no {key}"));
            assert_eq!(entry["label"], field.form_label());
            assert_eq!(entry["type"], field.kind.spec_type());
            assert_eq!(entry["required"], field.required);
        }
    }
}
