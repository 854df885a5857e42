//! `servers.json` for people: a table of every technique and server, the
//! ratios of `pushbench serve` against each server (as in `peers.md`), a
//! chart per technique with the servers as bars, and `servers.md`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use pushbench_protocol::ByteClass;
use pushbench_protocol::peer_results::{PEERS_VERSION, PeersResult};
use pushbench_protocol::server_results::{ServerMeasure, ServersResult, TechniqueResult};

use crate::charts::{PeersChart, ServersChart};
use crate::error::ReportError;
use crate::number_format::format_figure as figure;
use crate::number_format::{format_bytes, format_decimal};
use crate::peer_report::peers_table;
use crate::table::Table;

/// The stem of the ratios chart.
pub const RATIOS_STEM: &str = "servers-ratios";

/// The comparisons of `result` as a `peers.json`-shaped result, for the
/// peers table and chart.
pub fn as_peers(result: &ServersResult) -> PeersResult {
    PeersResult {
        version: PEERS_VERSION,
        pushbench_version: result.pushbench_version.clone(),
        started_at: result.started_at.clone(),
        finished_at: result.finished_at.clone(),
        machine: result.machine.clone(),
        comparisons: result.comparisons.clone(),
    }
}

/// The publisher's ceiling into `measure`'s server, as table text.
fn ceiling_text(result: &ServersResult, m: &ServerMeasure) -> String {
    match result
        .server(m.kind)
        .and_then(|s| s.publisher_ceiling.as_ref())
    {
        None => "—".to_owned(),
        Some(c) => {
            let reached = if c.events_per_second >= 0.99 * c.asked_rate {
                "≥ "
            } else {
                ""
            };
            format!("{reached}{} ev/s", figure(c.events_per_second))
        }
    }
}

/// A figure, or a dash when it was not measured.
fn or_dash(v: Option<f64>, show: impl Fn(f64) -> String) -> String {
    v.map_or("—".to_owned(), show)
}

/// One row per technique and server: the highest sustained rate (and
/// whether the publisher may have bound it), the publisher's ceiling, and
/// the common load's figures.
pub fn servers_table(result: &ServersResult) -> Table {
    let mut table = Table::new([
        "technique",
        "server",
        "highest sustained ev/s",
        "deliveries/s",
        "publisher ceiling",
        "common ev/s",
        "B/event",
        "p50 ms",
        "p99 ms",
        "missed",
        "CPU µs/delivery",
        "RSS/conn",
    ]);
    for t in &result.techniques {
        for m in &t.servers {
            let cap = m.capacity.as_ref();
            let common = m.common.as_ref();
            let sustained = match cap {
                None => "—".to_owned(),
                Some(c) => {
                    let rate = or_dash(c.max_rate, format_decimal);
                    let bound = if c.publisher_bound {
                        " (publisher-bound)"
                    } else {
                        ""
                    };
                    format!("{rate}{bound}")
                }
            };
            table.push([
                t.transport.to_string(),
                m.kind.title().to_owned(),
                sustained,
                or_dash(
                    cap.filter(|c| c.max_rate.is_some())
                        .map(|c| c.max_deliveries_per_second),
                    figure,
                ),
                ceiling_text(result, m),
                common.map_or("—".to_owned(), |c| {
                    let bound = if c.publisher_bound {
                        " (publisher-bound)"
                    } else {
                        ""
                    };
                    format!("{}{bound}", format_decimal(c.rate))
                }),
                or_dash(
                    common.map(|c| c.bytes_per_event.values().fold(0.0, |a, b| a + b)),
                    |v| format!("{v:.1}"),
                ),
                or_dash(common.map(|c| c.p50_ms), |v| format!("{v:.2}")),
                or_dash(common.map(|c| c.p99_ms), |v| format!("{v:.2}")),
                common.map_or("—".to_owned(), |c| {
                    let flag = if c.held { "" } else { " (not held)" };
                    format!("{}{flag}", c.missed)
                }),
                or_dash(common.map(|c| c.cpu_us_per_delivery), |v| format!("{v:.2}")),
                or_dash(common.map(|c| c.rss_per_connection_bytes), format_bytes),
            ]);
        }
    }
    table
}

/// Bytes per delivered event by class at `technique`'s common load, a
/// column per class any server used.
pub fn bytes_table(technique: &TechniqueResult) -> Table {
    let classes: Vec<ByteClass> = ByteClass::ALL
        .into_iter()
        .filter(|c| {
            technique.servers.iter().any(|s| {
                s.common
                    .as_ref()
                    .is_some_and(|m| m.bytes_per_event.contains_key(c.name()))
            })
        })
        .collect();
    let mut headers = vec!["server".to_owned(), "total".to_owned()];
    headers.extend(classes.iter().map(|c| c.name().to_owned()));
    headers.push("publisher's bytes (whole runs)".to_owned());
    let mut table = Table::new(headers);
    for s in &technique.servers {
        let Some(m) = &s.common else {
            continue;
        };
        let mut row = vec![
            s.kind.title().to_owned(),
            format!("{:.1}", m.bytes_per_event.values().fold(0.0, |a, b| a + b)),
        ];
        row.extend(classes.iter().map(|c| {
            format!(
                "{:.1}",
                m.bytes_per_event.get(c.name()).copied().unwrap_or(0.0)
            )
        }));
        row.push(crate::number_format::format_count(m.publish_bytes));
        table.push(row);
    }
    table
}

/// Writes the ratios chart, a chart per technique and `servers.md` into
/// `dir`.
pub fn write_servers_report(
    result: &ServersResult,
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    crate::error::create_dir(dir)?;
    crate::charts::register_fonts()?;
    let mut written = Vec::new();
    let mut md = String::new();
    let m = &result.machine;
    let _ = writeln!(
        md,
        "# pushbench serve beside the servers people run: {}\n\nEvery figure below was \
         measured in one run on one machine ({}, {} logical CPUs, {}), each server given \
         the same load: {} clients, {}-byte payloads, {} s per phase.\n",
        result.started_at,
        m.cpu_model,
        m.cores,
        m.os,
        result.settings.clients,
        result.settings.payload,
        result.settings.duration_s
    );
    if !result.complete {
        let _ = writeln!(
            md,
            "**The run stopped early** ({}): what was measured before is below.\n",
            result.error.as_deref().unwrap_or("no reason recorded")
        );
    }
    let _ = writeln!(
        md,
        "## pushbench serve against each server\n\nAbove 1, pushbench serve is better: \
         more deliveries per second sustained (pushbench ÷ other), or less p99 latency or CPU \
         per delivery at the common load (other ÷ pushbench). The goal is at least 1× on \
         deliveries and p99.\n"
    );
    if result.comparisons.is_empty() {
        let _ = writeln!(md, "No server could be compared.\n");
    } else {
        let _ = writeln!(md, "{}", peers_table(&as_peers(result)).to_markdown());
        let chart = PeersChart::of(&result.comparisons, RATIOS_STEM);
        written.extend(crate::charts::render(&chart, dir)?);
        let _ = writeln!(
            md,
            "![ratios]({RATIOS_STEM}.svg)\n\n{} ([PNG]({RATIOS_STEM}.png))\n",
            crate::charts::Chart::caption(&chart)
        );
    }
    let _ = writeln!(md, "## Every technique and server\n");
    let _ = writeln!(md, "{}", servers_table(result).to_markdown());
    for t in &result.techniques {
        technique_section(&mut md, result, t);
        let chart = ServersChart::new(result, t);
        written.extend(crate::charts::render(&chart, dir)?);
        let stem = ServersChart::stem_of(t.transport);
        let _ = writeln!(
            md,
            "![{}]({stem}.svg)\n\n{} ([PNG]({stem}.png))\n",
            t.transport,
            crate::charts::Chart::caption(&chart)
        );
    }
    let _ = writeln!(md, "## The servers\n");
    for s in &result.servers {
        let status = match &s.skipped {
            Some(why) => format!("**not measured**: {why}"),
            None => format!("started by `{}`", s.start),
        };
        let _ = writeln!(md, "- {}: {status}", s.title);
    }
    let _ = writeln!(md, "\n## How it was measured\n");
    for p in &result.method {
        let _ = writeln!(md, "{p}\n");
    }
    let _ = writeln!(
        md,
        "Each run's results.json and report are in its folder; in the order run: {}.",
        result
            .order
            .iter()
            .map(|r| format!("[{r}]({r}/report.md)"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    written.push(crate::error::write_file(&dir.join("servers.md"), md)?);
    Ok(written)
}

/// A technique's section of `servers.md`: its common load, its bytes by
/// class and what failed.
fn technique_section(md: &mut String, result: &ServersResult, t: &TechniqueResult) {
    let _ = writeln!(md, "### {}\n", t.transport);
    match t.common_rate {
        Some(rate) => {
            let _ = writeln!(
                md,
                "Common load: {} ev/s to {} clients ({}).\n",
                format_decimal(rate),
                result.settings.clients,
                t.common_rate_source
            );
        }
        None => {
            let _ = writeln!(md, "No common load: {}.\n", t.common_rate_source);
        }
    }
    if t.servers.iter().any(|s| s.common.is_some()) {
        let _ = writeln!(
            md,
            "Bytes per delivered event by class (both directions, the clients' connections; \
             the publisher's apart):\n\n{}",
            bytes_table(t).to_markdown()
        );
    }
    for s in &t.servers {
        if let Some(c) = &s.capacity
            && let Some(rate) = c.lowest_failed_rate
        {
            let _ = writeln!(
                md,
                "- {}: not sustained at {} ev/s: {}{}",
                s.kind.title(),
                format_decimal(rate),
                c.failed_because.join("; "),
                if c.publisher_bound {
                    " (publisher-bound: the publisher may be the limit)"
                } else {
                    ""
                }
            );
        }
        if let Some(c) = &s.common
            && !c.held
        {
            let _ = writeln!(
                md,
                "- {}: the common load did not hold: {}",
                s.kind.title(),
                c.failed.join("; ")
            );
        }
        for e in &s.errors {
            let _ = writeln!(md, "- {}: {e}", s.kind.title());
        }
    }
    let _ = writeln!(md);
}
