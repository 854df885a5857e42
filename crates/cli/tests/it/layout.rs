//! The workspace's layout rules (docs/architecture.md), checked on the
//! source itself so they hold after every change:
//! - no import circle inside a crate: no module imports one that imports
//!   it back, directly or around a loop;
//! - no library source file over 700 lines of non-test code unless its top
//!   says why it is one piece;
//! - library file names that say their role: a path under `src/` is unique
//!   across the library crates.
//!
//! An import is a `use` of, or an inline path through, `crate::`, `super::`
//! or `self::`, outside comments and outside the file's `#[cfg(test)]`
//! tail. Two kinds of edge are not imports: the crate root's (it declares
//! the modules and holds the crate's error type, so every module may name
//! it) and a `pub use` (a re-export is a facade, not a dependency of the
//! code that makes it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lines of non-test code above which a file must say why it is one piece.
const MAX_LINES: usize = 700;

/// The comment that says so, in the file's first 40 lines.
const ONE_PIECE: &str = "// One piece:";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The crates under `crates/`, by folder name, each with its `src/` files.
fn crates() -> BTreeMap<String, Vec<PathBuf>> {
    let root = workspace().join("crates");
    let mut crates = BTreeMap::new();
    for entry in std::fs::read_dir(&root).expect("crates/").flatten() {
        let src = entry.path().join("src");
        if src.is_dir() {
            let name = entry.file_name().to_string_lossy().into_owned();
            crates.insert(name, rust_files(&src));
        }
    }
    crates
}

/// The module path of a file relative to `src/`: `lib.rs` is `""`,
/// `a.rs` and `a/mod.rs` are `a`, `a/b.rs` is `a::b`.
fn module_of(relative: &Path) -> String {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "lib" | "main" | "mod") {
        parts.push(stem.to_owned());
    }
    parts.join("::")
}

/// The code of a file without comments and without its test tail (from the
/// first top-level `#[cfg(test)]` on).
fn code_of(text: &str) -> String {
    let mut code = String::new();
    for line in text.lines() {
        if line.starts_with("#[cfg(test)]") {
            break;
        }
        let line = match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        };
        code.push_str(line);
        code.push('\n');
    }
    code
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Reads one path (segments joined by `::`, `{..}` groups expanded) at
/// `text`, appending each full path to `out`.
fn read_paths(text: &str, prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
    let mut segments = prefix.to_vec();
    let mut i = 0;
    let bytes = text.as_bytes();
    loop {
        let start = i;
        while i < text.len() && is_ident(bytes[i] as char) {
            i += 1;
        }
        if i > start {
            segments.push(text[start..i].to_owned());
        }
        if text[i..].starts_with("::") {
            i += 2;
            if text[i..].starts_with('{') {
                i += 1;
                loop {
                    while text[i..].starts_with(|c: char| c.is_whitespace() || c == ',') {
                        i += 1;
                    }
                    if i >= text.len() || text[i..].starts_with('}') {
                        return i + 1;
                    }
                    i += read_paths(&text[i..], &segments, out);
                }
            }
            continue;
        }
        out.push(segments);
        // Skip an `as name` and stop at the end of this item.
        return i.max(1);
    }
}

/// The modules `module` imports, resolved against the known `modules`.
fn imports_of(module: &str, code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let own: Vec<String> = if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").map(str::to_owned).collect()
    };
    let mut edges = BTreeSet::new();
    for statement in code.split_inclusive(';') {
        let reexport = statement.trim_start().starts_with("pub use")
            || statement.trim_start().starts_with("pub(crate) use");
        let mut at = 0;
        while let Some(found) = statement[at..].find(['c', 's']) {
            let i = at + found;
            at = i + 1;
            if i > 0 && is_ident(statement[..i].chars().next_back().unwrap_or(' ')) {
                continue;
            }
            let rest = &statement[i..];
            let base: Vec<String> = if rest.starts_with("crate::") {
                Vec::new()
            } else if rest.starts_with("super::") || rest.starts_with("self::") {
                own.clone()
            } else {
                continue;
            };
            let mut paths = Vec::new();
            let mut base = base;
            let mut text = rest;
            // `super::super::x`: climb once per `super`.
            loop {
                if let Some(after) = text.strip_prefix("super::") {
                    base.pop();
                    text = after;
                } else if let Some(after) = text.strip_prefix("self::") {
                    text = after;
                } else if let Some(after) = text.strip_prefix("crate::") {
                    text = after;
                } else {
                    break;
                }
            }
            if let Some(group) = text.strip_prefix('{') {
                // `use super::{a, b}` as a group of paths from the base.
                let mut i = 0;
                loop {
                    while group[i..].starts_with(|c: char| c.is_whitespace() || c == ',') {
                        i += 1;
                    }
                    if i >= group.len() || group[i..].starts_with('}') {
                        break;
                    }
                    i += read_paths(&group[i..], &base, &mut paths);
                }
            } else {
                read_paths(text, &base, &mut paths);
            }
            if reexport {
                continue;
            }
            for path in paths {
                // The longest prefix that is a module; `use super::*` names
                // the parent itself.
                let target = (0..=path.len())
                    .rev()
                    .map(|n| path[..n].join("::"))
                    .find(|candidate| modules.contains(candidate));
                if let Some(target) = target
                    && !target.is_empty()
                    && target != module
                {
                    edges.insert(target);
                }
            }
        }
    }
    edges
}

/// Every import loop in `graph`, each as the modules around it.
fn loops(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Tarjan would be shorter to run; a DFS per node is shorter to read and
    // the graphs have tens of nodes.
    let mut found: BTreeSet<Vec<String>> = BTreeSet::new();
    for start in graph.keys() {
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                if next == start {
                    let mut cycle = path.clone();
                    // One rotation per loop: start at the smallest name.
                    let min = (0..cycle.len())
                        .min_by_key(|&i| &cycle[i])
                        .unwrap_or_default();
                    cycle.rotate_left(min);
                    found.insert(cycle);
                } else if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    found.into_iter().collect()
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let mut circles = Vec::new();
    for (name, files) in crates() {
        let src = workspace().join("crates").join(&name).join("src");
        let sources: Vec<(String, String)> = files
            .iter()
            .map(|f| {
                let relative = f.strip_prefix(&src).expect("under src");
                let text = std::fs::read_to_string(f).expect("source");
                (module_of(relative), code_of(&text))
            })
            .collect();
        let modules: BTreeSet<String> = sources.iter().map(|(m, _)| m.clone()).collect();
        let graph: BTreeMap<String, BTreeSet<String>> = sources
            .iter()
            .filter(|(module, _)| !module.is_empty())
            .map(|(module, code)| (module.clone(), imports_of(module, code, &modules)))
            .collect();
        for cycle in loops(&graph) {
            circles.push(format!("{name}: {}", cycle.join(" -> ")));
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn long_library_files_say_why_they_are_one_piece() {
    let mut long = Vec::new();
    for (name, files) in crates() {
        for file in files {
            let text = std::fs::read_to_string(&file).expect("source");
            let lines = text
                .lines()
                .take_while(|l| !l.starts_with("#[cfg(test)]"))
                .count();
            let says_why = text.lines().take(40).any(|l| l.contains(ONE_PIECE));
            let is_tests = file.file_name().is_some_and(|f| f == "tests.rs");
            if lines > MAX_LINES && !says_why && !is_tests {
                let src = workspace().join("crates").join(&name);
                let relative = file.strip_prefix(&src).unwrap_or(&file);
                long.push(format!(
                    "crates/{name}/{} ({lines} lines)",
                    relative.display()
                ));
            }
        }
    }
    assert!(
        long.is_empty(),
        "over {MAX_LINES} lines without a `{ONE_PIECE}` comment at the top:\n{}",
        long.join("\n")
    );
}

#[test]
fn library_file_names_are_unique_across_crates() {
    let mut owners: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for (name, files) in crates() {
        // The CLI's modules are named after their subcommands.
        if name == "cli" {
            continue;
        }
        let src = workspace().join("crates").join(&name).join("src");
        for file in files {
            let relative = file.strip_prefix(&src).expect("under src").to_path_buf();
            let stem = relative.file_stem().unwrap_or_default();
            // `error.rs` holds its crate's error type in every crate: one role.
            if ["lib", "main", "mod", "tests", "error"]
                .iter()
                .any(|s| stem == *s)
            {
                continue;
            }
            owners.entry(relative).or_default().push(name.clone());
        }
    }
    let clashes: Vec<String> = owners
        .iter()
        .filter(|(_, crates)| crates.len() > 1)
        .map(|(path, crates)| format!("{}: {}", path.display(), crates.join(", ")))
        .collect();
    assert!(
        clashes.is_empty(),
        "the same file name in several crates:\n{}",
        clashes.join("\n")
    );
}

#[test]
fn the_import_reader_sees_groups_super_and_reexports() {
    let modules: BTreeSet<String> = ["", "a", "a::b", "c", "d", "e"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let code = "use crate::{c::X, d};\nuse super::Y;\npub use crate::e::Z;\nfn f() { crate::a::b::g(); }\n";
    let edges = imports_of("a::q", code, &modules);
    let expected: BTreeSet<String> = ["a", "a::b", "c", "d"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(edges, expected);
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_owned(), ["b".to_owned()].into()),
        ("b".to_owned(), ["c".to_owned()].into()),
        ("c".to_owned(), ["a".to_owned()].into()),
        ("d".to_owned(), ["a".to_owned()].into()),
    ]
    .into();
    assert_eq!(loops(&graph), vec![vec!["a", "b", "c"]]);
}
