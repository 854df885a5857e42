//! The horizontal bar chart several charts are built on: one category per
//! bar, the first at the top, labelled beside it, a value axis below.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, DefaultFormatting, KeyPointHint, ValueFormatter};
use plotters::prelude::*;

use super::style::{label_font, small_font};

/// The category axis of a horizontal bar chart: bar `i` is centred on `i`,
/// the first bar at the top, with a tick (and a label) beside each bar and
/// nowhere else.
#[derive(Clone, Copy, Debug)]
pub(super) struct BarAxis {
    bars: usize,
}

impl Ranged for BarAxis {
    type ValueType = f64;
    type FormatOption = DefaultFormatting;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.bars.max(1) as f64;
        // Plotters hands a y axis its pixel limits bottom first; counting
        // from the far end puts bar 0 at the top.
        let fraction = (span - 0.5 - value) / span;
        limit.0 + (fraction * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        (0..self.bars).map(|i| i as f64).collect()
    }

    fn range(&self) -> std::ops::Range<f64> {
        -0.5..(self.bars.max(1) as f64 - 0.5)
    }
}

fn bar_axis(n: usize) -> BarAxis {
    BarAxis { bars: n }
}

/// Pixels the category labels of a horizontal bar chart need.
fn label_area_width(labels: &[String]) -> u32 {
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(4) as u32;
    (longest * 9 + 16).clamp(60, 260)
}

/// The height of a horizontal bar chart with `bars` bars: at least the
/// usual chart height, 40 pixels a bar beyond that.
pub(super) fn bar_chart_height(bars: usize) -> u32 {
    (240 + 40 * bars as u32).max(620)
}

/// The frame of a horizontal bar chart: what differs between the charts
/// that have one.
pub(super) struct BarFrame<'s> {
    /// A caption above the plot, if any.
    pub(super) caption: Option<&'s str>,
    /// Room right of the plot for the value written after the longest bar.
    pub(super) margin_right: u32,
    /// The category labels, bar 0 at the top.
    pub(super) labels: &'s [String],
    /// Their style.
    pub(super) label_style: TextStyle<'static>,
    /// The value axis' description and tick labels.
    pub(super) x_desc: &'s str,
    pub(super) x_format: &'s dyn Fn(&f64) -> String,
}

/// A horizontal bar chart with value axis `X`, as [`bar_chart`] builds it.
type BarChart<'a, DB, X> = ChartContext<'a, DB, Cartesian2d<X, BarAxis>>;

/// Builds a horizontal bar chart on `area` with `x` as its value axis and
/// one category per label, mesh and axes drawn; the caller draws the bars.
pub(super) fn bar_chart<'a, DB: DrawingBackend, X>(
    area: &'a DrawingArea<DB, Shift>,
    spec: &BarFrame<'_>,
    x: X,
) -> Result<BarChart<'a, DB, X::CoordDescType>, DrawingAreaErrorKind<DB::ErrorType>>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut builder = ChartBuilder::on(area);
    if let Some(caption) = spec.caption {
        builder.caption(caption, label_font());
    }
    let mut chart = builder
        .margin(10)
        .margin_right(spec.margin_right)
        .x_label_area_size(44)
        .y_label_area_size(label_area_width(spec.labels))
        .build_cartesian_2d(x, bar_axis(spec.labels.len().max(1)))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_label_formatter(&|y| label_at(spec.labels, *y))
        .y_label_style(spec.label_style.clone())
        .x_label_style(small_font())
        .x_label_formatter(spec.x_format)
        .x_desc(spec.x_desc)
        .axis_desc_style(label_font())
        .draw()?;
    Ok(chart)
}

fn label_at(labels: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    labels.get(i as usize).cloned().unwrap_or_default()
}
