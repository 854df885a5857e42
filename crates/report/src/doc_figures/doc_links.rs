//! What a doc points at: its relative links and images, and the run
//! folders under `bench-results/` it cites, for `pushbench docs --check`
//! to resolve.

/// The relative link and image targets of a Markdown doc (`[text](t)`,
/// `![alt](t)`, `<img src="t">`), without their `#fragment`; web addresses,
/// `mailto:` and links within the page are left out, and so is everything
/// inside code spans and fenced code.
pub fn relative_links(markdown: &str) -> Vec<String> {
    let mut links = Vec::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let targets = prose
            .match_indices("](")
            .filter_map(|(at, _)| prose[at + 2..].split(')').next())
            .chain(
                prose
                    .match_indices("src=\"")
                    .filter_map(|(at, _)| prose[at + 5..].split('"').next()),
            );
        for target in targets {
            let target = target.split_whitespace().next().unwrap_or_default();
            let path = target.split('#').next().unwrap_or_default();
            let external = ["http://", "https://", "mailto:"]
                .iter()
                .any(|scheme| target.starts_with(scheme));
            if !path.is_empty() && !external {
                links.push(path.to_owned());
            }
        }
    }
    links
}

/// The run folders a doc names, `bench-results/<folder>`, each once, in
/// order: in links, in prose, in code and in markers alike.
pub fn cited_runs(markdown: &str) -> Vec<String> {
    let mut runs: Vec<String> = Vec::new();
    for (at, _) in markdown.match_indices("bench-results/") {
        let name: String = markdown[at + "bench-results/".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || *c == '.')
            .collect();
        // A dated folder; `bench-results/<date>-<label>/` in prose is a pattern.
        let dated = name.len() > 10 && name.as_bytes()[..4].iter().all(u8::is_ascii_digit);
        if dated && !runs.contains(&name) {
            runs.push(name);
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_cited_runs_are_found() {
        let doc = "See [a](../a.md#x), ![c](images/c.svg \"t\"), [w](https://x.org/a), [p](#here),\n\
                   `[not](code.md)` <img src=\"b.png\"> and bench-results/2026-12-01-peers/peers.json,\n\
                   bench-results/<date>-<label>/ and [bench-results/2026-11-25-reference](../bench-results/2026-11-25-reference/README.md).\n\
                   ```\n[fenced](no.md)\n```\n";
        assert_eq!(
            relative_links(doc),
            [
                "../a.md",
                "images/c.svg",
                "b.png",
                "../bench-results/2026-11-25-reference/README.md"
            ]
        );
        assert_eq!(
            cited_runs(doc),
            ["2026-12-01-peers", "2026-11-25-reference"]
        );
    }
}
