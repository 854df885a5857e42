//! The [`Chart`] trait and [`render`], which draws a chart once per backend
//! (SVG and PNG) so both files show the same picture.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::ReportError;

/// What a chart's drawing returns: plotters' error of backend `DB`.
pub(super) type DrawResult<DB> =
    Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A chart: a file stem, a size, and how to draw it on any backend.
pub trait Chart {
    /// File name without extension (`bytes_per_event`).
    fn stem(&self) -> &'static str;
    /// A one-line caption for the reports.
    fn caption(&self) -> String;
    /// Pixel size.
    fn size(&self) -> (u32, u32) {
        (1100, 620)
    }
    /// Draws the chart on `root`, already filled white.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// Draws `chart` into `dir` as `<stem>.svg` and `<stem>.png`.
pub fn render<C: Chart>(chart: &C, dir: &Path) -> Result<[PathBuf; 2], ReportError> {
    let stem = chart.stem();
    let chart_error = |message: String| ReportError::Chart {
        chart: stem,
        message,
    };
    let svg = dir.join(format!("{stem}.svg"));
    {
        let root = SVGBackend::new(&svg, chart.size()).into_drawing_area();
        root.fill(&WHITE).map_err(|e| chart_error(e.to_string()))?;
        chart.draw(&root).map_err(|e| chart_error(e.to_string()))?;
        root.present().map_err(|e| chart_error(e.to_string()))?;
    }
    let png = dir.join(format!("{stem}.png"));
    {
        let root = BitMapBackend::new(&png, chart.size()).into_drawing_area();
        root.fill(&WHITE).map_err(|e| chart_error(e.to_string()))?;
        chart.draw(&root).map_err(|e| chart_error(e.to_string()))?;
        root.present().map_err(|e| chart_error(e.to_string()))?;
    }
    Ok([svg, png])
}
