//! Turns a [`RunResult`] into things a person would rather look at than
//! read: charts (SVG and PNG, drawn with an embedded font so a bare machine
//! renders them), a Markdown and a self-contained HTML report, a terminal
//! summary table, a comparison of two runs, and the analytic bandwidth model
//! beside the measured figures.
//!
//! The report never re-measures: everything here is a function of a
//! `results.json`.
//!
//! # Layout
//! - [`number_format`]: how every output writes a number (rates, ratios,
//!   latencies, bytes, counts); it imports nothing from the crate.
//! - [`figures`]: per-phase figures every output shares.
//! - [`link_points`]: a [`link_points::LinkPoint`] per phase run over an
//!   emulated link, and the figures the link charts take from them.
//! - [`variant_labels`]: the matrix's dimensions (HTTP version, TLS, content
//!   coding, header profile) and the one function that names a phase's
//!   variant, behind every label, variant column and comparison key.
//! - [`table`]: [`Table`], rendered as aligned text, Markdown or HTML.
//! - [`summary`]: the summary table, the warnings, [`terminal_summary`].
//! - [`capacity_tables`]: the capacity search's table, and the connection ramp
//!   and request rates of every run.
//! - [`node_tables`]: each server node's figures of a run against several
//!   (`--target URL1,URL2,...`), and the warning naming a node that was
//!   unreachable.
//! - [`charts`]: one [`charts::Chart`] per picture, one file each under
//!   `charts/`, drawn on the SVG and PNG backends by [`charts::render`];
//!   the frame, the bar and line axes and the fixed colors per byte class
//!   and transport they share sit beside them.
//! - [`document`]: `report.md` and `report.html` from the same sections.
//! - [`mod@compare`]: two runs side by side, [`Comparison::regressions`];
//!   [`compare()`] builds one.
//! - [`mod@equivalence`]: whether a merged N-shard run measured what a
//!   1-process run of the same scenario did, each figure normalised and
//!   held to a stated allowance ([`equivalence()`]).
//! - [`model`]: the analytic bandwidth per technique, and the classic
//!   1,000 / 10,000 / 100,000 clients table.
//! - [`peer_report`]: `peers.json` (pushbench beside wrk, h2load, a Node `ws`
//!   server) as a table, a ratio chart and `peers.md`.
//! - [`server_report`]: `servers.json` (`pushbench serve` beside nginx +
//!   Nchan, Pushpin, Socket.IO, Bun, Node `ws`) as tables, the ratios and
//!   a chart per technique, and `servers.md`.
//! - [`trace_render`]: the annotated bytes of one exchange (`pushbench trace`).
//! - [`doc_figures`]: the tables and figures of the README and `docs/`,
//!   rewritten from the committed runs between marker comments
//!   (`pushbench docs`).
//! - `error`: [`ReportError`], and reading or writing a file or creating a
//!   folder with the path named in the error.
//!
//! [`write_report`] ties charts and documents together; `pushbench report`
//! and the end of `pushbench run` call it.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use pushbench_protocol::{RESULTS_VERSION, RunResult};

use error::{create_dir, read_file, write_file};

pub mod capacity_tables;
pub mod charts;
pub mod compare;
pub mod doc_figures;
pub mod document;
pub mod equivalence;
mod error;
pub mod figures;
pub mod link_points;
pub mod model;
pub mod node_tables;
pub mod number_format;
pub mod peer_report;
pub mod server_report;
pub mod summary;
pub mod table;
pub mod trace_render;
pub mod variant_labels;

pub use compare::{Comparison, compare};
pub use equivalence::{Equivalence, equivalence};
pub use error::ReportError;
pub use summary::{summary_table, terminal_summary, warnings};
pub use table::Table;

/// Reads a `results.json`; `path` may also be the run folder holding it.
pub fn load_results(path: &Path) -> Result<RunResult, ReportError> {
    let file = results_file(path);
    let text = read_file(&file)?;
    let result: RunResult = serde_json::from_str(&text).map_err(|source| ReportError::Json {
        path: file.clone(),
        source,
    })?;
    if result.version > RESULTS_VERSION {
        return Err(ReportError::UnsupportedVersion {
            path: file,
            found: result.version,
        });
    }
    Ok(result)
}

/// The results file `path` names: itself, or `results.json` inside it when
/// it is a folder.
pub fn results_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("results.json")
    } else {
        path.to_path_buf()
    }
}

/// Writes every chart (SVG and PNG), `report.md` and `report.html` into
/// `dir`, creating it if needed, and returns the paths written.
pub fn write_report(result: &RunResult, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    create_dir(dir)?;
    charts::register_fonts()?;
    let mut drawn = Drawn::default();
    drawn.add(&charts::BytesPerEvent::new(result), dir)?;
    drawn.add(&charts::Overhead::new(result), dir)?;
    if let Some(chart) = charts::ClassicArgument::new(result) {
        drawn.add(&chart, dir)?;
    }
    drawn.add(&charts::LatencyDistribution::new(result), dir)?;
    drawn.add(&charts::BandwidthVsClients::new(result), dir)?;
    let mut skipped = match charts::LatencyVsRate::new(result) {
        Some(chart) => {
            drawn.add(&chart, dir)?;
            Vec::new()
        }
        None => vec![
            "Latency versus event rate: not drawn, this run measured a single event rate \
             (sweep with several `--rate` values to get it)."
                .to_owned(),
        ],
    };
    if let Some(chart) = charts::CapacityChart::new(result) {
        drawn.add(&chart, dir)?;
    }
    skipped.extend(drawn.add_link_charts(&link_points::link_points(result), dir)?);
    let Drawn {
        mut written,
        figures,
    } = drawn;
    let report = document::Report {
        result,
        figures: &figures,
        skipped: &skipped,
    };
    for (name, text) in [
        ("report.md", report.markdown()),
        ("report.html", report.html(dir)?),
    ] {
        written.push(write_file(&dir.join(name), text)?);
    }
    Ok(written)
}

/// The charts drawn so far: their files and their figures for the documents.
#[derive(Default)]
struct Drawn {
    written: Vec<PathBuf>,
    figures: Vec<document::Figure>,
}

impl Drawn {
    /// Draws `chart` into `dir` (SVG and PNG) and keeps it for the documents.
    fn add<C: charts::Chart>(&mut self, chart: &C, dir: &Path) -> Result<(), ReportError> {
        let [svg, png] = charts::render(chart, dir)?;
        self.figures.push(document::Figure {
            svg: svg.clone(),
            png: png.clone(),
            caption: chart.caption(),
        });
        self.written.extend([svg, png]);
        Ok(())
    }

    /// Draws the link charts of `points` when the run crossed a link
    /// ([`link_points::links_apply`]); returns a sentence for each that
    /// could not be drawn, saying why.
    fn add_link_charts(
        &mut self,
        points: &[link_points::LinkPoint],
        dir: &Path,
    ) -> Result<Vec<String>, ReportError> {
        if !link_points::links_apply(points) {
            return Ok(Vec::new());
        }
        let mut skipped = Vec::new();
        if let Some(chart) = charts::LatencyVsRtt::new(points) {
            self.add(&chart, dir)?;
        }
        match charts::SetupRoundTrips::new(points) {
            Some(chart) => self.add(&chart, dir)?,
            None => skipped.push(format!(
                "Setup in round trips: not drawn, no link of this run had an RTT of {} ms or \
                 more.",
                number_format::format_decimal(link_points::MIN_SETUP_RTT_MS)
            )),
        }
        match charts::BytesVsLoss::new(points) {
            Some(chart) => self.add(&chart, dir)?,
            None => skipped.push(
                "Bytes per event versus loss: not drawn, every link of this run had the same \
                 loss rate."
                    .to_owned(),
            ),
        }
        Ok(skipped)
    }
}
