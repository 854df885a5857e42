//! `peers.json` for people: the comparisons as a table, a chart of the
//! ratios against their goals, and `peers.md`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use pushbench_protocol::peer_results::PeersResult;

use crate::error::ReportError;
use crate::number_format::format_figure as figure;
use crate::table::Table;

/// One row per comparison: both figures, the ratio (above 1: pushbench
/// better), the goal and whether it was met.
pub fn peers_table(result: &PeersResult) -> Table {
    let mut table = Table::new([
        "comparison",
        "metric",
        "pushbench",
        "peer",
        "peer value",
        "ratio (>1: pushbench better)",
        "goal",
        "met",
    ]);
    for c in &result.comparisons {
        table.push([
            c.name.clone(),
            c.metric.clone(),
            figure(c.pushbench),
            c.peer.clone(),
            figure(c.peer_value),
            format!("{:.2}×", c.ratio),
            c.goal.map_or("—".to_owned(), |g| format!("≥ {g}×")),
            match c.meets_goal() {
                Some(true) => "yes".to_owned(),
                Some(false) => "NO".to_owned(),
                None => "—".to_owned(),
            },
        ]);
    }
    table
}

/// Writes `peers.svg`, `peers.png` and `peers.md` (table, how each figure
/// was measured, what could not be compared) into `dir`.
pub fn write_peers_report(
    result: &PeersResult,
    skipped: &[String],
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    crate::error::create_dir(dir)?;
    crate::charts::register_fonts()?;
    let chart = crate::charts::PeersChart::new(result);
    let mut written = crate::charts::render(&chart, dir)?.to_vec();
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# pushbench beside its peers: {}\n\nEach ratio compares two figures measured in \
         the same run on the same machine ({}, {} logical CPUs, {}); above 1 means pushbench \
         is better (more requests or deliveries per second, less latency or CPU).\n",
        result.started_at, result.machine.cpu_model, result.machine.cores, result.machine.os
    );
    let _ = writeln!(md, "{}", peers_table(result).to_markdown());
    let _ = writeln!(
        md,
        "![ratios](peers.svg)\n\n{} ([PNG](peers.png))\n",
        crate::charts::Chart::caption(&chart)
    );
    let _ = writeln!(md, "## How each figure was measured\n");
    for c in &result.comparisons {
        let rounds: Vec<String> = c
            .rounds
            .iter()
            .map(|(a, b)| format!("{} / {}", figure(*a), figure(*b)))
            .collect();
        let _ = writeln!(
            md,
            "- **{}** ({}): {}. pushbench side: {}. Rounds (pushbench / peer): {}.",
            c.name,
            c.metric,
            c.method,
            c.pushbench_side,
            rounds.join(", ")
        );
    }
    if !skipped.is_empty() {
        let _ = writeln!(md, "\n## Not compared\n");
        for s in skipped {
            let _ = writeln!(md, "- {s}");
        }
    }
    written.push(crate::error::write_file(&dir.join("peers.md"), md)?);
    Ok(written)
}
