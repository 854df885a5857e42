//! `pushbench docs`: the figures of `README.md` and `docs/*.md`, rewritten
//! from the committed runs they cite (`--write`) or checked against them
//! (`--check`), with every relative link and every cited run folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Parser;
use pushbench_report::doc_figures::{self, Rendered};

/// Options of `pushbench docs`.
#[derive(Debug, Parser)]
#[command(group = clap::ArgGroup::new("mode").required(true).args(["write", "check"]))]
pub struct Args {
    /// Rewrite every generated table and figure from its source.
    #[arg(long)]
    pub write: bool,
    /// Fail when a figure differs from its source, a relative link or image
    /// does not resolve, or a cited run folder has no results.json or
    /// peers.json.
    #[arg(long)]
    pub check: bool,
    /// The repository's root folder.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub root: PathBuf,
}

/// What a check found wrong in the repository's docs.
#[derive(Debug, Default)]
pub struct Findings {
    /// Docs whose generated blocks differ from their sources.
    pub stale: Vec<PathBuf>,
    /// `doc: target` for each relative link or image that does not resolve.
    pub broken_links: Vec<String>,
    /// `doc: folder` for each cited run folder without a results.json or
    /// peers.json.
    pub runs_without_results: Vec<String>,
    /// `doc: source` for each block source that does not exist (its blocks
    /// were left as they are).
    pub missing_sources: Vec<String>,
}

/// `README.md` and every `docs/*.md` and `docs/*/*.md` under `root`
/// (a topic's own pages, such as `docs/servers/nchan.md`), sorted.
pub fn docs_in(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut docs = vec![root.join("README.md")];
    let mut pages = Vec::new();
    let dir = root.join("docs");
    for path in entries_of(&dir)? {
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        } else if path.is_dir() && path.file_name().is_some_and(|n| n != "images") {
            pages.extend(
                entries_of(&path)?
                    .into_iter()
                    .filter(|p| p.extension().is_some_and(|e| e == "md")),
            );
        }
    }
    pages.sort();
    docs.extend(pages);
    Ok(docs)
}

/// The paths in `dir`.
fn entries_of(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    entries
        .map(|entry| {
            entry
                .map(|e| e.path())
                .with_context(|| format!("reading {}", dir.display()))
        })
        .collect()
}

/// A source's text: the file, or in a folder its results.json or peers.json.
fn read_source(root: &Path, source: &str) -> Option<String> {
    let path = root.join(source);
    let file = if path.is_dir() {
        ["results.json", "peers.json"]
            .iter()
            .map(|name| path.join(name))
            .find(|file| file.is_file())?
    } else {
        path
    };
    std::fs::read_to_string(file).ok()
}

/// Whether a run folder holds a results.json or peers.json (at its top or
/// in a sub-folder, as a run of several parts does).
fn has_results(folder: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        if path.is_dir() {
            has_results(&path)
        } else {
            path.file_name()
                .is_some_and(|n| n == "results.json" || n == "peers.json")
        }
    })
}

/// Renders one doc from the sources under `root`.
pub fn render_doc(root: &Path, doc: &Path) -> anyhow::Result<(String, Rendered)> {
    let text =
        std::fs::read_to_string(doc).with_context(|| format!("reading {}", doc.display()))?;
    let rendered = doc_figures::render(&text, &mut |source| read_source(root, source))
        .with_context(|| format!("in {}", doc.display()))?;
    Ok((text, rendered))
}

/// Checks (or, with `write`, rewrites) every doc under `root`.
pub fn check(root: &Path, write: bool) -> anyhow::Result<Findings> {
    let mut findings = Findings::default();
    for doc in docs_in(root)? {
        let (text, rendered) = render_doc(root, &doc)?;
        let name = doc.strip_prefix(root).unwrap_or(&doc).display().to_string();
        if rendered.text != text {
            if write {
                std::fs::write(&doc, &rendered.text)
                    .with_context(|| format!("writing {}", doc.display()))?;
                println!("docs: rewrote {name}");
            } else {
                findings.stale.push(doc.clone());
            }
        }
        let dir = doc.parent().unwrap_or(root);
        for link in doc_figures::relative_links(&rendered.text) {
            if !dir.join(&link).exists() {
                findings.broken_links.push(format!("{name}: {link}"));
            }
        }
        for run in doc_figures::cited_runs(&rendered.text) {
            if !has_results(&root.join("bench-results").join(&run)) {
                findings
                    .runs_without_results
                    .push(format!("{name}: bench-results/{run}"));
            }
        }
        for source in rendered.missing {
            findings.missing_sources.push(format!("{name}: {source}"));
        }
    }
    Ok(findings)
}

/// Writes or checks the docs; a check fails on any finding.
pub fn run(args: Args) -> anyhow::Result<()> {
    let findings = check(&args.root, args.write)?;
    for source in &findings.missing_sources {
        eprintln!("docs: no source yet, blocks left as they are: {source}");
    }
    let mut problems: Vec<String> = findings
        .stale
        .iter()
        .map(|doc| {
            format!(
                "{}: a figure differs from its source (run `pushbench docs --write`)",
                doc.display()
            )
        })
        .collect();
    problems.extend(
        findings
            .broken_links
            .iter()
            .map(|l| format!("broken link {l}")),
    );
    problems.extend(
        findings
            .runs_without_results
            .iter()
            .map(|r| format!("cited run without results.json or peers.json: {r}")),
    );
    if problems.is_empty() {
        println!("docs: every figure, link and cited run checks out");
        return Ok(());
    }
    for problem in &problems {
        eprintln!("docs: {problem}");
    }
    bail!("{} problem(s) in the docs", problems.len())
}
