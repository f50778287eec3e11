//! The dependency rules of ARCHITECTURE.md, checked over `cargo metadata`:
//! every crate has its layer and depends only downwards; the pure crates
//! use no I/O crate; each outside capability is known by the crates the
//! codemap names and no others; every dependency a crate lists is used.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// Each workspace crate's layer: a crate depends only on crates of lower
/// layers. A new crate must be placed here (the test says so).
const LAYERS: &[(&str, u8)] = &[
    // Contracts.
    ("atelier-jobs", 0),
    // Pure crates and the compute crates that touch no server.
    ("atelier-config", 1),
    ("atelier-vision", 1),
    ("atelier-search", 1),
    ("atelier-media", 1),
    ("atelier-body", 1),
    ("atelier-render", 1),
    ("atelier-video", 1),
    // One outside part each.
    ("atelier-redis", 2),
    ("atelier-db", 2),
    ("atelier-storage", 2),
    ("atelier-telemetry", 2),
    ("atelier-inference", 2),
    // Built on Redis.
    ("atelier-queue", 3),
    ("atelier-events", 3),
    // The job runtime.
    ("atelier-runtime", 4),
    // Binaries' libraries.
    ("atelier-intake", 5),
    ("atelier-worker", 5),
    ("atelier-ctl", 5),
    // Benchmarks and the end-to-end tests.
    ("atelier-benches", 6),
    ("atelier-vision-bench", 6),
    ("atelier-render-bench", 6),
    ("atelier-tests", 6),
];

/// Pure: no I/O at all (ARCHITECTURE.md marks them **pure**).
const PURE: &[&str] = &[
    "atelier-jobs",
    "atelier-config",
    "atelier-vision",
    "atelier-search",
    "atelier-media",
];

/// Outside capabilities and the only crates (besides the benchmarks and the
/// end-to-end tests, which drive the real parts) that may know them.
const KNOWN_BY: &[(&str, &[&str])] = &[
    ("sqlx", &["atelier-db"]),
    ("apalis", &["atelier-queue"]),
    ("apalis-core", &["atelier-queue"]),
    (
        "redis",
        &[
            "atelier-redis",
            "atelier-queue",
            "atelier-events",
            "atelier-intake",
        ],
    ),
    ("object_store", &["atelier-storage"]),
    ("ort", &["atelier-inference"]),
    ("wgpu", &["atelier-render"]),
    ("lettre", &["atelier-worker"]),
    // HTTP: the intake, and the workers' own `/metrics` endpoint.
    ("axum", &["atelier-intake", "atelier-telemetry"]),
    ("hyper", &["atelier-intake"]),
    ("hyper-util", &["atelier-intake"]),
    ("reqwest", &["atelier-ctl"]),
];

/// Crates that do I/O (a network, a process, a server's protocol): no pure
/// crate may list one.
const IO: &[&str] = &[
    "sqlx",
    "apalis",
    "apalis-core",
    "redis",
    "object_store",
    "axum",
    "hyper",
    "hyper-util",
    "reqwest",
    "lettre",
    "tokio",
    "tokio-tungstenite",
    "ort",
    "wgpu",
];

struct Package {
    name: String,
    dir: PathBuf,
    /// (name as listed, name in code, kind: normal, dev or build).
    deps: Vec<(String, String, String)>,
}

/// `cargo metadata` for this machine's platform (the crates it builds are
/// all there, offline), read once.
fn metadata() -> &'static Value {
    static METADATA: OnceLock<Value> = OnceLock::new();
    METADATA.get_or_init(|| {
        let rustc = Command::new("rustc")
            .arg("-vV")
            .output()
            .expect("rustc runs");
        let version = String::from_utf8_lossy(&rustc.stdout);
        let host = version
            .lines()
            .find_map(|l| l.strip_prefix("host: "))
            .expect("rustc names its host")
            .to_owned();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let out = Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--offline"])
            .args(["--filter-platform", &host])
            .current_dir(&root)
            .output()
            .expect("cargo metadata runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    })
}

fn workspace() -> Vec<Package> {
    let meta = metadata();
    // What each package's library is called in code (`kamadak-exif` is
    // `exif`).
    let lib_names: BTreeMap<&str, String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| {
            let lib = p["targets"].as_array()?.iter().find(|t| {
                t["kind"].as_array().is_some_and(|k| {
                    k.iter().any(|k| {
                        k != "bin"
                            && k != "test"
                            && k != "bench"
                            && k != "example"
                            && k != "custom-build"
                    })
                })
            })?;
            Some((p["name"].as_str()?, lib["name"].as_str()?.replace('-', "_")))
        })
        .collect();
    let members: Vec<&str> = meta["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| members.contains(&p["id"].as_str().unwrap_or_default()))
        .map(|p| Package {
            name: p["name"].as_str().unwrap().to_owned(),
            dir: Path::new(p["manifest_path"].as_str().unwrap())
                .parent()
                .unwrap()
                .to_owned(),
            deps: p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    let name = d["name"].as_str().unwrap().to_owned();
                    let in_code = match d["rename"].as_str() {
                        Some(rename) => rename.replace('-', "_"),
                        None => lib_names
                            .get(name.as_str())
                            .cloned()
                            .unwrap_or_else(|| name.replace('-', "_")),
                    };
                    let kind = d["kind"].as_str().unwrap_or("normal").to_owned();
                    (name, in_code, kind)
                })
                .collect(),
        })
        .collect()
}

fn layer(name: &str) -> Option<u8> {
    LAYERS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
}

#[test]
fn every_crate_depends_only_downwards() {
    let packages = workspace();
    let mut wrong = Vec::new();
    for p in &packages {
        let Some(mine) = layer(&p.name) else {
            wrong.push(format!("{} has no layer in tests/architecture.rs", p.name));
            continue;
        };
        for (dep, _, kind) in &p.deps {
            if kind != "normal" {
                continue;
            }
            if let Some(theirs) = layer(dep)
                && theirs >= mine
            {
                wrong.push(format!(
                    "{} (layer {mine}) depends on {dep} (layer {theirs})",
                    p.name
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn pure_crates_use_no_io_and_capabilities_stay_where_the_codemap_says() {
    let packages = workspace();
    let mut wrong = Vec::new();
    for p in &packages {
        let normal: Vec<&str> = p
            .deps
            .iter()
            .filter(|(_, _, kind)| kind == "normal")
            .map(|(name, _, _)| name.as_str())
            .collect();
        if PURE.contains(&p.name.as_str()) {
            for dep in &normal {
                if IO.contains(dep) || (dep.starts_with("atelier-") && !PURE.contains(dep)) {
                    wrong.push(format!("pure {} depends on {dep}", p.name));
                }
            }
        }
        if layer(&p.name) == Some(6) {
            continue;
        }
        for (capability, allowed) in KNOWN_BY {
            if normal.contains(capability) && !allowed.contains(&p.name.as_str()) {
                wrong.push(format!(
                    "{} depends on {capability}, which only {allowed:?} may know",
                    p.name
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The Rust sources of a package: under its folder, but not under another
/// package's folder nested in it.
fn sources(p: &Package, all: &[Package]) -> String {
    let nested: Vec<&Path> = all
        .iter()
        .filter(|o| o.dir != p.dir && o.dir.starts_with(&p.dir))
        .map(|o| o.dir.as_path())
        .collect();
    let mut text = String::new();
    let mut stack = vec![p.dir.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                let skip = nested.contains(&path.as_path())
                    || ["target", "node_modules", "data"].contains(&name.to_str().unwrap_or(""));
                if !skip {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                text.push_str(&std::fs::read_to_string(&path).unwrap());
                text.push('\n');
            }
        }
    }
    text
}

/// Whether `code` names the crate `name`: a path through it, an import or
/// a macro.
fn names(code: &str, name: &str) -> bool {
    code.match_indices(name).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = &code[at + name.len()..];
        let word = !before.is_some_and(|c| c.is_alphanumeric() || c == '_');
        word && ["::", "!", ";", " as "]
            .iter()
            .any(|s| after.starts_with(s))
    })
}

#[test]
fn every_listed_dependency_is_used() {
    let packages = workspace();
    let mut unused = Vec::new();
    for p in &packages {
        let code = sources(p, &packages);
        for (name, in_code, kind) in &p.deps {
            if !names(&code, in_code) {
                unused.push(format!(
                    "{} lists {name} ({kind}) and never uses it",
                    p.name
                ));
            }
        }
    }
    assert!(unused.is_empty(), "{unused:#?}");
}

/// A crate's modules, as its top-level modules (a folder module and its
/// children are one), each with the top-level modules it names through
/// `crate::`.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap();
            let first = relative.components().next().unwrap();
            let module = first
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned();
            if relative.components().count() == 1 && ["lib", "main"].contains(&module.as_str()) {
                continue;
            }
            let code = std::fs::read_to_string(&path).unwrap();
            let named = graph.entry(module.clone()).or_default();
            for (at, _) in code.match_indices("crate::") {
                if code[..at].ends_with("atelier_")
                    || code[..at]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
                {
                    continue;
                }
                let rest = &code[at + "crate::".len()..];
                let heads: Vec<&str> = match rest.strip_prefix('{') {
                    Some(group) => group[..group.find('}').unwrap_or(0)]
                        .split(',')
                        .map(|item| item.trim())
                        .collect(),
                    None => vec![rest],
                };
                for head in heads {
                    let name: String = head
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() && name != module {
                        named.insert(name);
                    }
                }
            }
        }
    }
    // Names that are not modules (re-exported items at the root) lead
    // nowhere.
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for named in graph.values_mut() {
        named.retain(|n| modules.contains(n));
    }
    graph
}

/// A circle in `graph`, if there is one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in &graph[node] {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let mut circles = Vec::new();
    for p in workspace() {
        for src in ["src", "support"] {
            let dir = p.dir.join(src);
            if !dir.is_dir() {
                continue;
            }
            if let Some(found) = circle(&module_graph(&dir)) {
                circles.push(format!("{}: {}", p.name, found.join(" → ")));
            }
        }
    }
    assert!(circles.is_empty(), "{circles:#?}");
}

#[test]
fn the_checks_see_what_they_look_for() {
    assert!(names("use serde_json::json;", "serde_json"));
    assert!(names("use gltf_json as json;", "gltf_json"));
    assert!(names("#[tokio::test]", "tokio"));
    assert!(!names("let my_serde_json = 1; // serde_json", "serde_json"));
    let graph = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            g.entry((*a).into()).or_default().insert((*b).into());
            g.entry((*b).into()).or_default();
        }
        g
    };
    let found = circle(&graph(&[
        ("api", "jobs"),
        ("jobs", "state"),
        ("state", "jobs"),
    ]));
    assert_eq!(
        found,
        Some(vec!["jobs".into(), "state".into(), "jobs".into()])
    );
    assert_eq!(circle(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])), None);
}
