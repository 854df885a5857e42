//! [`ReportError`], and the two file operations every writer shares, which
//! name their path in it.

use std::fs;
use std::path::{Path, PathBuf};

use pushbench_protocol::RESULTS_VERSION;

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

/// Reads `path` as text, naming the file in the error.
pub(crate) fn read_file(path: &Path) -> Result<String, ReportError> {
    fs::read_to_string(path).map_err(|source| ReportError::Io {
        action: "reading",
        path: path.to_path_buf(),
        source,
    })
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
