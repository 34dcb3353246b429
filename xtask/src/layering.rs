//! The dependency direction of ARCHITECTURE.md, checked against `cargo metadata`.

use std::collections::BTreeSet;

/// The workspace members, exactly.
const MEMBERS: &[&str] = &[
    "ctim-model",
    "xdr-relay-abuseipdb",
    "xdr-relay-blocklist",
    "xdr-relay-core",
    "xdr-relay-lambda",
    "xdr-relay-otx",
    "xdr-relay-server",
    "xdr-relay-urlscan",
    "xdr-relay-suite",
    "signals-client",
    "socless-events",
    "testkit",
    "xtask",
];

/// Every allowed edge between members (normal, dev and build dependencies alike).
/// `xtask` may use any crate; no crate may use `xtask`. Any member's tests and benches may use
/// `testkit` (a dev-dependency only: nothing that ships links it), and `testkit` uses no member.
const ALLOWED: &[(&str, &str)] = &[
    ("xdr-relay-abuseipdb", "xdr-relay-core"),
    ("xdr-relay-abuseipdb", "xdr-relay-server"),
    ("xdr-relay-abuseipdb", "xdr-relay-lambda"),
    ("xdr-relay-urlscan", "xdr-relay-core"),
    ("xdr-relay-urlscan", "xdr-relay-server"),
    ("xdr-relay-urlscan", "xdr-relay-lambda"),
    ("xdr-relay-blocklist", "xdr-relay-core"),
    ("xdr-relay-blocklist", "xdr-relay-server"),
    ("xdr-relay-blocklist", "xdr-relay-lambda"),
    ("xdr-relay-otx", "xdr-relay-core"),
    ("xdr-relay-otx", "xdr-relay-server"),
    ("xdr-relay-otx", "xdr-relay-lambda"),
    // The suite: every relay, and the adapters that serve them together.
    ("xdr-relay-suite", "xdr-relay-core"),
    ("xdr-relay-suite", "xdr-relay-server"),
    ("xdr-relay-suite", "xdr-relay-lambda"),
    ("xdr-relay-suite", "xdr-relay-abuseipdb"),
    ("xdr-relay-suite", "xdr-relay-blocklist"),
    ("xdr-relay-suite", "xdr-relay-otx"),
    ("xdr-relay-suite", "xdr-relay-urlscan"),
    ("xdr-relay-lambda", "xdr-relay-core"),
    ("xdr-relay-server", "xdr-relay-core"),
    ("xdr-relay-core", "signals-client"),
    ("xdr-relay-core", "ctim-model"),
];

/// The test kit, which every member's tests may use.
const TESTKIT: &str = "testkit";

/// Runs `cargo metadata` and checks the members and every edge between them; the number of
/// members.
pub(crate) fn check() -> Result<usize, String> {
    let mut command = crate::cargo_command();
    let printed =
        crate::procs::output(command.args(["metadata", "--format-version", "1", "--no-deps"]))?;
    let metadata = serde_json::from_str(&printed)
        .map_err(|e| format!("cargo metadata printed invalid JSON: {e}"))?;
    check_metadata(&metadata).map(|()| MEMBERS.len())
}

fn check_metadata(metadata: &serde_json::Value) -> Result<(), String> {
    let packages = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata has no `packages`")?;
    let names: BTreeSet<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let expected: BTreeSet<&str> = MEMBERS.iter().copied().collect();
    if names != expected {
        return Err(format!(
            "workspace members are {names:?}, expected exactly {expected:?}"
        ));
    }
    let mut problems = Vec::new();
    for package in packages {
        let from = package["name"].as_str().unwrap_or_default();
        let deps = package["dependencies"].as_array().into_iter().flatten();
        for dep in deps {
            let to = dep["name"].as_str().unwrap_or_default();
            if !expected.contains(to) || from == "xtask" {
                continue;
            }
            if to == TESTKIT && dep["kind"] == "dev" && from != TESTKIT {
                continue;
            }
            if !ALLOWED.contains(&(from, to)) {
                problems.push(format!("{from} -> {to}"));
            }
        }
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(format!(
            "dependency edges not in ARCHITECTURE.md: {}",
            problems.join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    /// Every member, with the dependencies `edges` gives some of them.
    fn workspace(edges: &[(&str, &[&str])]) -> Value {
        let deps = |m: &str| {
            edges
                .iter()
                .find(|(from, _)| *from == m)
                .map_or(&[][..], |e| e.1)
        };
        let package = |m: &str| json!({"name": m, "dependencies": deps(m).iter().map(|d| json!({"name": d})).collect::<Vec<_>>()});
        json!({"packages": super::MEMBERS.iter().map(|m| package(m)).collect::<Vec<_>>()})
    }

    #[test]
    fn this_workspace_follows_the_architecture() {
        super::check().unwrap();
    }

    #[test]
    fn allowed_edges_and_foreign_crates_pass() {
        let m = workspace(&[
            ("xdr-relay-core", &["ctim-model", "signals-client", "axum"]),
            ("xdr-relay-server", &["xdr-relay-core", "tokio"]),
            ("xtask", &["ctim-model", "xdr-relay-core"]),
        ]);
        assert_eq!(super::check_metadata(&m), Ok(()));
    }

    #[test]
    fn forbidden_edges_are_named() {
        let m = workspace(&[
            ("ctim-model", &["signals-client"]),
            ("socless-events", &["xdr-relay-core"]),
            ("xdr-relay-core", &["xtask"]),
        ]);
        let err = super::check_metadata(&m).unwrap_err();
        for edge in [
            "ctim-model -> signals-client",
            "socless-events -> xdr-relay-core",
            "xdr-relay-core -> xtask",
        ] {
            assert!(err.contains(edge), "{err}");
        }
    }

    #[test]
    fn a_dev_dependency_is_an_edge_too() {
        let mut m = workspace(&[("xdr-relay-server", &["xdr-relay-core", "xdr-relay-lambda"])]);
        let server = m["packages"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|p| p["name"] == "xdr-relay-server")
            .unwrap();
        server["dependencies"][1]["kind"] = json!("dev");
        let err = super::check_metadata(&m).unwrap_err();
        assert!(
            err.contains("xdr-relay-server -> xdr-relay-lambda"),
            "{err}"
        );
    }

    #[test]
    fn the_test_kit_is_a_dev_dependency_only_and_uses_no_member() {
        let dev = |from: &str, kind: &str| {
            let mut m = workspace(&[(from, &["testkit"])]);
            let package = m["packages"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .find(|p| p["name"] == from)
                .unwrap();
            package["dependencies"][0]["kind"] = json!(kind);
            m
        };
        assert_eq!(super::check_metadata(&dev("xdr-relay-core", "dev")), Ok(()));
        let err = super::check_metadata(&dev("xdr-relay-core", "normal")).unwrap_err();
        assert!(err.contains("xdr-relay-core -> testkit"), "{err}");
        let m = workspace(&[("testkit", &["xdr-relay-core"])]);
        let err = super::check_metadata(&m).unwrap_err();
        assert!(err.contains("testkit -> xdr-relay-core"), "{err}");
    }

    #[test]
    fn a_missing_or_extra_member_fails() {
        let mut m = workspace(&[]);
        m["packages"].as_array_mut().unwrap().pop();
        assert!(super::check_metadata(&m).is_err());
        let mut m = workspace(&[]);
        m["packages"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "helpers", "dependencies": []}));
        assert!(super::check_metadata(&m).is_err());
    }
}
