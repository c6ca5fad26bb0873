//! The architecture, checked: the top-level modules of `pool-runtime` import
//! each other without circles, and the generic pool core imports none of
//! the MySQL, config or boot layers.
//!
//! A module "imports" another when its source names `crate::other` (in a
//! `use` or a path). Doc comments are skipped: they may mention anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/pool-runtime/src");

/// The top-level module a source file belongs to.
fn module_of(file: &Path) -> Option<String> {
    let rel = file.strip_prefix(SRC).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.trim_end_matches(".rs");
    (name != "lib").then(|| name.to_owned())
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `crate::x` names in code (not in comments), as module names.
fn imports(source: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // `$crate::` in macros, `__private` re-exports for the derive.
            let preceded_by_dollar = rest[..at].ends_with('$');
            if !name.is_empty() && !preceded_by_dollar {
                found.insert(name);
            }
            rest = after;
        }
    }
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(Path::new(SRC), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&file) else {
            continue;
        };
        let source = std::fs::read_to_string(&file).unwrap();
        let entry = graph.entry(module.clone()).or_default();
        for target in imports(&source) {
            if target != module {
                entry.insert(target);
            }
        }
    }
    graph
}

/// A path from `from` back to itself, if there is one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![vec![from.to_owned()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().unwrap();
        for next in graph.get(last).into_iter().flatten() {
            if next == from {
                let mut found = path.clone();
                found.push(next.clone());
                return Some(found);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push(longer);
            }
        }
    }
    None
}

#[test]
fn top_level_modules_import_each_other_without_circles() {
    let graph = graph();
    assert!(graph.len() > 8, "found too few modules: {graph:?}");
    for module in graph.keys() {
        if let Some(found) = circle(&graph, module) {
            panic!(
                "import circle: {}\nthe graph: {graph:#?}",
                found.join(" -> ")
            );
        }
    }
}

#[test]
fn the_generic_core_knows_nothing_of_mysql_config_or_boot() {
    let graph = graph();
    let core = &graph["pool"];
    for layer in [
        "mysql", "config", "boot", "options", "exec", "policy", "source",
    ] {
        assert!(
            !core.contains(layer),
            "pool/ imports crate::{layer}: {core:?}"
        );
    }
}

#[test]
fn the_checker_sees_imports_and_skips_comments() {
    let found = imports("use crate::boot::X; // crate::config\nlet y = crate::url::parse();");
    assert_eq!(found, BTreeSet::from(["boot".to_owned(), "url".to_owned()]));
}
