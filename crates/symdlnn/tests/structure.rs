//! The crate's structure, read from its `use` lines: the layers import only
//! downwards (mechanics → data → nn → learn → eval → report), and no two
//! modules of `learn/` (or of `learn/symmetry/`) import each other in a
//! loop. Test code (`#[cfg(test)]` onwards) is not counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LAYERS: [&str; 6] = ["mechanics", "data", "nn", "learn", "eval", "report"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The non-test part of a file, without comments (doc links are not imports).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    let lines = text.lines().filter(|l| !l.trim_start().starts_with("//"));
    lines.collect::<Vec<_>>().join("\n")
}

/// `.rs` files under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

/// The names following each `prefix` in `text` (e.g. `crate::` → `learn`).
fn names_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices(prefix) {
        let rest = &text[i + prefix.len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

/// Modules of `dir` (files and folders) and what each imports among them,
/// by `super::NAME` from a file directly in `dir` (or `super::super::NAME`
/// from a folder's files) and `crate::<path>::NAME`.
fn graph(dir: &Path, crate_path: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let stem = p.file_stem().unwrap().to_string_lossy().to_string();
        if p.is_dir() {
            modules.insert(stem, files(&p));
        } else if stem != "mod" && p.extension().is_some_and(|x| x == "rs") {
            modules.insert(stem, vec![p]);
        }
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    let mut g = BTreeMap::new();
    for (m, paths) in &modules {
        let mut deps = BTreeSet::new();
        for p in paths {
            let text = code(p);
            let in_folder = p.parent() != Some(dir);
            let mut found = names_after(&text, &format!("crate::{crate_path}::"));
            if in_folder {
                found.extend(names_after(&text, "super::super::"));
            } else {
                found.extend(names_after(&text, "super::"));
                found.extend(braced_super(&text));
            }
            deps.extend(found.into_iter().filter(|d| d != m && names.contains(d)));
        }
        g.insert(m.clone(), deps);
    }
    g
}

/// Names in `use super::{a::X, b, …}` groups.
fn braced_super(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("use super::{") {
        let rest = &text[i + "use super::{".len()..];
        let group = &rest[..rest.find("};").unwrap_or(rest.len())];
        for item in group.split(',') {
            let name: String = item
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// A cycle of `g`, if any.
fn cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        g: &BTreeMap<String, BTreeSet<String>>,
        m: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut c = path[i..].to_vec();
            c.push(m.to_string());
            return Some(c);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for d in &g[m] {
            if let Some(c) = visit(g, d, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys().find_map(|m| visit(g, m, &mut vec![], &mut done))
}

#[test]
fn learn_has_no_import_cycle() {
    let learn = graph(&src().join("learn"), "learn");
    assert!(learn.len() >= 10, "read {} modules", learn.len());
    // The graph is read, not empty: assembly imports the objectives.
    assert!(learn["assemble"].contains("dlnn") && learn["dlnn"].contains("config"));
    assert_eq!(cycle(&learn), None, "{learn:#?}");
    let symmetry = graph(&src().join("learn/symmetry"), "learn::symmetry");
    assert!(symmetry.len() >= 5, "read {} modules", symmetry.len());
    assert_eq!(cycle(&symmetry), None, "{symmetry:#?}");
}

#[test]
fn cycle_detection_finds_a_planted_loop() {
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.into(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(cycle(&g).map(|c| c.len()), Some(4));
}

#[test]
fn layers_import_only_downwards() {
    for (i, layer) in LAYERS.iter().enumerate() {
        for f in files(&src().join(layer)) {
            let used = names_after(&code(&f), "crate::");
            for above in &LAYERS[i + 1..] {
                assert!(
                    !used.contains(*above),
                    "{} (layer {layer}) imports {above}",
                    f.display()
                );
            }
        }
    }
}
