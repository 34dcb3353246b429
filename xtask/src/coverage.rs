//! `cargo xtask coverage`: the workspace's tests under `cargo llvm-cov`, line coverage per crate,
//! and a floor for each library crate.
//!
//! Lines are counted in each crate's `src/` only: a crate's own tests, benches and examples are
//! not what the figure is about. Unit tests inside `src/` (`#[cfg(test)]` modules) do count,
//! as they do in every llvm-cov report. `cargo-llvm-cov` comes from the project's tool
//! environment (`tools.rs`); the LLVM tools it drives come with rustup's `llvm-tools-preview`
//! component, added here when missing.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::Path;

use serde_json::Value;

/// The least line coverage each library crate may have, in percent. Set a little below the
/// measured figure, so a change that adds untested code fails CI while a refactor's noise does
/// not. Binaries and `xtask` are reported but have no floor.
pub(crate) const FLOORS: [(&str, f64); 9] = [
    ("ctim-model", 93.0),
    ("signals-client", 94.0),
    ("relay-core", 95.0),
    ("relay-lambda", 90.0),
    ("relay-server", 85.0),
    ("relay-abuseipdb", 93.0),
    ("relay-otx", 88.0),
    ("relay-urlscan", 90.0),
    ("socless-events", 89.0),
];

/// Line counts of one crate's `src/`.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Lines {
    pub(crate) covered: u64,
    pub(crate) count: u64,
}

impl Lines {
    pub(crate) fn percent(self) -> f64 {
        if self.count == 0 {
            100.0
        } else {
            self.covered as f64 * 100.0 / self.count as f64
        }
    }
}

/// `cargo xtask coverage`: installs cargo-llvm-cov when missing, then [`run`].
pub(crate) fn task() -> Result<(), String> {
    let tools =
        crate::tools::ensure(&[crate::tools::Tool::CARGO_LLVM_COV, crate::tools::Tool::MOTO])?;
    run(&tools.path, &mut |_| {}).map(|figures| println!("coverage: {figures}"))
}

/// Runs every unit and integration test of the workspace instrumented (doc tests need a
/// nightly compiler to be measured, so they are not run here), prints the table, and fails
/// below a floor. `path` is the PATH with the tool environment first (for `cargo-llvm-cov` and
/// moto); `on_line` is given each line the tests print (CI counts their results from it).
pub(crate) fn run(path: &OsStr, on_line: &mut dyn FnMut(&str)) -> Result<String, String> {
    add_llvm_tools();
    let root = crate::workspace_root()?;
    let report = crate::target_dir()?.join("llvm-cov").join("summary.json");
    if let Some(dir) = report.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let report_arg = report.to_string_lossy().into_owned();
    println!("\n== coverage: cargo llvm-cov --workspace (instrumented build, every test) ==");
    crate::procs::cargo_lines(
        &[
            "llvm-cov",
            "--workspace",
            "--no-fail-fast",
            "--json",
            "--summary-only",
            "--output-path",
            &report_arg,
        ],
        Some(path),
        on_line,
    )?;
    let text = std::fs::read_to_string(&report)
        .map_err(|e| format!("cannot read {}: {e}", report.display()))?;
    let summary: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not JSON: {e}", report.display()))?;
    let crates = per_crate(&summary, &root)?;
    print!("{}", table(&crates));
    check_floors(&crates)
}

/// `cargo llvm-cov` needs `llvm-profdata` and `llvm-cov` from rustup's `llvm-tools-preview`.
/// Adding it is quick when present and one download when not; without rustup (a distribution's
/// Rust), cargo-llvm-cov's own error names what is missing.
fn add_llvm_tools() {
    let added = std::process::Command::new("rustup")
        .args(["component", "add", "llvm-tools-preview"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    if !matches!(added, Ok(status) if status.success()) {
        println!(
            "coverage: could not add rustup's llvm-tools-preview; cargo llvm-cov will say what is missing"
        );
    }
}

/// Sums llvm-cov's per-file line summaries by crate folder, keeping only files under
/// `<root>/<crate>/src/`.
pub(crate) fn per_crate(summary: &Value, root: &Path) -> Result<BTreeMap<String, Lines>, String> {
    let files = summary
        .pointer("/data/0/files")
        .and_then(Value::as_array)
        .ok_or("the llvm-cov summary has no data[0].files")?;
    let mut crates: BTreeMap<String, Lines> = BTreeMap::new();
    for file in files {
        let Some(name) = file.get("filename").and_then(Value::as_str) else {
            continue;
        };
        let Ok(relative) = Path::new(name).strip_prefix(root) else {
            continue;
        };
        let mut parts = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy());
        let (Some(krate), Some(folder)) = (parts.next(), parts.next()) else {
            continue;
        };
        if folder != "src" {
            continue;
        }
        let lines = file.pointer("/summary/lines");
        let field = |key: &str| lines.and_then(|l| l.get(key)).and_then(Value::as_u64);
        let (Some(count), Some(covered)) = (field("count"), field("covered")) else {
            return Err(format!("no line summary for {name}"));
        };
        let entry = crates.entry(krate.into_owned()).or_default();
        entry.count += count;
        entry.covered += covered;
    }
    if crates.is_empty() {
        return Err("the llvm-cov summary names no file of the workspace".into());
    }
    Ok(crates)
}

/// The per-crate table, with each library crate's floor.
pub(crate) fn table(crates: &BTreeMap<String, Lines>) -> String {
    let mut out = format!(
        "\n{:<16} {:>8} {:>8} {:>8} {:>7}\n",
        "crate", "lines", "covered", "percent", "floor"
    );
    for (name, lines) in crates {
        let floor = floor_of(name).map_or_else(|| "-".to_owned(), |f| format!("{f:.0}%"));
        out += &format!(
            "{name:<16} {:>8} {:>8} {:>7.1}% {floor:>7}\n",
            lines.count,
            lines.covered,
            lines.percent()
        );
    }
    out
}

fn floor_of(name: &str) -> Option<f64> {
    FLOORS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// The summary line for CI, or the crates under their floor (or missing from the report).
pub(crate) fn check_floors(crates: &BTreeMap<String, Lines>) -> Result<String, String> {
    let mut failures = Vec::new();
    for (name, floor) in FLOORS {
        match crates.get(name) {
            Some(lines) if lines.percent() + f64::EPSILON >= floor => {}
            Some(lines) => failures.push(format!("{name} {:.1}% < {floor:.0}%", lines.percent())),
            None => failures.push(format!("{name} is missing from the coverage report")),
        }
    }
    if !failures.is_empty() {
        return Err(format!(
            "line coverage under the floor: {}",
            failures.join(", ")
        ));
    }
    let figures: Vec<String> = FLOORS
        .iter()
        .filter_map(|(name, _)| {
            crates
                .get(*name)
                .map(|l| format!("{name} {:.1}%", l.percent()))
        })
        .collect();
    Ok(figures.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file(name: &str, count: u64, covered: u64) -> Value {
        json!({"filename": name, "summary": {"lines": {"count": count, "covered": covered, "percent": 0.0}}})
    }

    fn summary(files: Vec<Value>) -> Value {
        json!({"data": [{"files": files, "totals": {}}], "type": "llvm.coverage.json.export"})
    }

    #[test]
    fn sums_src_files_by_crate_and_skips_tests_and_other_paths() {
        let report = summary(vec![
            file("/w/relay-core/src/auth.rs", 100, 90),
            file("/w/relay-core/src/routes.rs", 50, 45),
            file("/w/relay-core/tests/it/main.rs", 400, 0),
            file("/home/u/.cargo/registry/src/axum/lib.rs", 999, 1),
            file("/w/ctim-model/src/lib.rs", 10, 5),
        ]);
        let crates = per_crate(&report, Path::new("/w")).unwrap();
        assert_eq!(crates.len(), 2);
        assert_eq!(
            crates["relay-core"],
            Lines {
                covered: 135,
                count: 150
            }
        );
        assert_eq!(crates["ctim-model"].percent(), 50.0);
    }

    #[test]
    fn fails_under_a_floor_and_when_a_crate_is_missing() {
        let mut crates: BTreeMap<String, Lines> = FLOORS
            .iter()
            .map(|(n, _)| {
                (
                    (*n).to_owned(),
                    Lines {
                        covered: 95,
                        count: 100,
                    },
                )
            })
            .collect();
        let ok = check_floors(&crates).unwrap();
        assert!(ok.contains("relay-core 95.0%"), "{ok}");

        crates.insert(
            "relay-core".into(),
            Lines {
                covered: 10,
                count: 100,
            },
        );
        let err = check_floors(&crates).unwrap_err();
        assert!(err.contains("relay-core 10.0%"), "{err}");

        crates.remove("ctim-model");
        let err = check_floors(&crates).unwrap_err();
        assert!(err.contains("ctim-model is missing"), "{err}");
    }

    #[test]
    fn rejects_a_report_without_files() {
        assert!(per_crate(&json!({"data": []}), Path::new("/w")).is_err());
        assert!(per_crate(&summary(vec![]), Path::new("/w")).is_err());
    }
}
