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
//! - [`figures`]: per-phase figures and number formatting every output shares.
//! - [`variant`]: the matrix's dimensions (HTTP version, TLS, content
//!   coding, header profile) and the one function that names a phase's
//!   variant, behind every label, variant column and comparison key.
//! - [`table`]: [`Table`], rendered as aligned text, Markdown or HTML.
//! - [`summary`]: the summary table, the warnings, [`terminal_summary`].
//! - [`capacity`]: the capacity search's table, and the connection ramp
//!   and request rates of every run.
//! - [`charts`]: one [`charts::Chart`] per picture, drawn on the SVG and PNG
//!   backends by [`charts::render`]; fixed colors per byte class and transport.
//! - [`document`]: `report.md` and `report.html` from the same sections.
//! - [`mod@compare`]: two runs side by side, [`Comparison::regressions`];
//!   [`compare()`] builds one.
//! - [`model`]: the analytic bandwidth per technique, and the classic
//!   1,000 / 10,000 / 100,000 clients table.
//! - [`peers`]: `peers.json` (pushbench beside wrk, h2load, a Node `ws`
//!   server) as a table, a ratio chart and `peers.md`.
//! - [`trace_render`]: the annotated bytes of one exchange (`pushbench trace`).
//!
//! [`write_report`] ties charts and documents together; `pushbench report`
//! and the end of `pushbench run` call it.
#![deny(missing_docs)]

use std::fs;
use std::path::{Path, PathBuf};

use pushbench_protocol::{RESULTS_VERSION, RunResult};

pub mod capacity;
pub mod charts;
pub mod compare;
pub mod document;
pub mod figures;
pub mod model;
pub mod peers;
pub mod summary;
pub mod table;
pub mod trace_render;
pub mod variant;

pub use compare::{Comparison, compare};
pub use summary::{summary_table, terminal_summary, warnings};
pub use table::Table;

/// Why a report could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file or folder could not be read or written.
    #[error("{action} {path}")]
    Io {
        /// What was being done (`reading`, `writing`, `creating folder`).
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A results file is not valid `RunResult` JSON.
    #[error("{path} is not a pushbench results file")]
    Json {
        /// The file.
        path: PathBuf,
        /// Where and why parsing failed.
        #[source]
        source: serde_json::Error,
    },
    /// A results file written by a newer pushbench.
    #[error("{path} has results version {found}; this build reads up to {RESULTS_VERSION}")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version it declares.
        found: u32,
    },
    /// The embedded font could not be registered with plotters.
    #[error("the embedded DejaVu Sans font could not be loaded")]
    Font,
    /// Plotters failed to draw a chart.
    #[error("drawing the {chart} chart: {message}")]
    Chart {
        /// The chart's file stem.
        chart: &'static str,
        /// Plotters' message.
        message: String,
    },
}

/// Reads a `results.json`; `path` may also be the run folder holding it.
pub fn load_results(path: &Path) -> Result<RunResult, ReportError> {
    let file = results_file(path);
    let text = fs::read_to_string(&file).map_err(|source| ReportError::Io {
        action: "reading",
        path: file.clone(),
        source,
    })?;
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
    let skipped = match charts::LatencyVsRate::new(result) {
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
}

/// Writes `text` to `path`, naming the file in the error.
pub(crate) fn write_file(path: &Path, text: impl AsRef<[u8]>) -> Result<PathBuf, ReportError> {
    fs::write(path, text).map_err(|source| ReportError::Io {
        action: "writing",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(path.to_path_buf())
}

/// Creates `dir` and its parents, naming it in the error.
pub(crate) fn create_dir(dir: &Path) -> Result<(), ReportError> {
    fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        action: "creating folder",
        path: dir.to_path_buf(),
        source,
    })
}
