//! What the line charts share: a series per line, at most [`MAX_LINES`]
//! of them, log axes around their values and the labels of those axes.

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::{CoordTranslate, Shift};
use plotters::prelude::*;

use pushbench_protocol::RunResult;
use pushbench_protocol::results::PhaseResult;

use super::frame::{LegendMark, height_for_legend};
use super::line_style::{LineLook, draw_line, draw_markers};
use super::render::DrawResult;
use super::style::{label_font, small_font, transport_look};
use crate::link_points::LinkPoint;
use crate::number_format::format_decimal;
use crate::variant_labels::{variant_label, variant_of};

/// One named line of a chart: name, look (colour, dash, marker), points.
pub(super) type Series<P> = (String, LineLook, Vec<P>);

/// A legend with one line entry per series.
pub(super) fn line_legend<P>(series: &[Series<P>]) -> Vec<(String, RGBColor, LegendMark)> {
    series
        .iter()
        .map(|(name, look, _)| (name.clone(), look.color, LegendMark::Look(*look)))
        .collect()
}

/// The size of a line chart whose legend has an entry per series.
pub(super) fn line_chart_size<P>(series: &[Series<P>]) -> (u32, u32) {
    (1100, height_for_legend(&line_legend(series)))
}

/// Most lines a line chart draws, one per phase (or per phase sweep):
/// beyond it the legend outgrows the plot and the lines cannot be told
/// apart. A run with more (a matrix) draws its first variant's phases
/// only, and the caption says so; the tables have every phase.
pub const MAX_LINES: usize = 15;

/// The phases a line chart with one line per `line_of` value draws, and the
/// variant it was cut to when there were more than [`MAX_LINES`] lines.
pub(super) fn line_phases<K: Ord>(
    result: &RunResult,
    line_of: impl Fn(&PhaseResult) -> K,
) -> (Vec<(usize, &PhaseResult)>, Option<String>) {
    let all: Vec<(usize, &PhaseResult)> = result.phases.iter().enumerate().collect();
    let mut lines: Vec<K> = all.iter().map(|(_, p)| line_of(p)).collect();
    lines.sort();
    lines.dedup();
    if lines.len() <= MAX_LINES {
        return (all, None);
    }
    let Some(first) = result.phases.first() else {
        return (all, None);
    };
    let primary = variant_of(first);
    let name = variant_label(result, first);
    let kept = all
        .into_iter()
        .filter(|(_, p)| variant_of(p) == primary)
        .collect();
    (kept, Some(name))
}

/// The series of a link chart, one per line of
/// [`crate::link_points::link_lines`] (at most [`MAX_LINES`]) with the
/// points `points` takes from it, and how many lines were left out. Lines
/// of one transport take its colour and marker, a dash pattern each.
pub(super) fn link_series<P>(
    lines: &[Vec<&LinkPoint>],
    points: impl Fn(&[&LinkPoint]) -> Vec<P>,
) -> (Vec<Series<P>>, usize) {
    let series = lines
        .iter()
        .take(MAX_LINES)
        .enumerate()
        .filter_map(|(i, line)| {
            let first = line.first()?;
            let rank = lines[..i]
                .iter()
                .filter(|l| l.first().map(|p| p.transport) == Some(first.transport))
                .count();
            let look = transport_look(first.transport, rank, true);
            Some((first.label.clone(), look, points(line)))
        })
        .collect();
    (series, lines.len().saturating_sub(MAX_LINES))
}

/// The caption's note when a link chart left lines out.
pub(super) fn left_out_note(left_out: usize) -> String {
    match left_out {
        0 => String::new(),
        n => format!(" {n} more lines (beyond {MAX_LINES}) are in the tables only."),
    }
}

/// The caption's note when a line chart drew one variant of many.
pub(super) fn only_note(only: &Option<String>) -> String {
    only.as_ref().map_or(String::new(), |variant| {
        format!(
            " This run has more than {MAX_LINES} lines to draw: only its first variant's \
             phases ({variant}) are drawn; the tables have every phase."
        )
    })
}

/// Bounds of a log axis around positive values, with some room.
pub(super) fn log_bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() || hi <= 0.0 {
        return (0.01, 1.0);
    }
    let lo = 10f64.powf(lo.log10().floor());
    let hi = 10f64.powf((hi * 1.5).log10().ceil());
    (lo, hi.max(lo * 10.0))
}

/// Ticks of a log axis from `lo` to `hi`: 1, 2 and 5 times each power of
/// ten in between, thinned to 1 per decade when that gives more than
/// `most`, so that their labels never overlap.
pub(super) fn log_ticks(lo: f64, hi: f64, most: usize) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return Vec::new();
    }
    let ticks = |steps: &[f64]| -> Vec<f64> {
        let mut out = Vec::new();
        let mut decade = 10f64.powf(lo.log10().floor());
        while decade <= hi {
            for step in steps {
                let t = decade * step;
                if t >= lo && t <= hi {
                    out.push(t);
                }
            }
            decade *= 10.0;
        }
        out
    };
    let fine = ticks(&[1.0, 2.0, 5.0]);
    if fine.len() <= most {
        fine
    } else {
        ticks(&[1.0])
    }
}

/// A count on an axis, short: `500`, `2k`, `1.5k`, `20k`, `1M`.
pub(super) fn format_short(value: f64) -> String {
    if value >= 1_000_000.0 {
        format!("{}M", format_decimal(value / 1_000_000.0))
    } else if value >= 1_000.0 {
        format!("{}k", format_decimal(value / 1_000.0))
    } else {
        format_decimal(value)
    }
}

pub(super) fn format_ms(ms: f64) -> String {
    if ms >= 1_000.0 {
        format!("{} s", format_decimal(ms / 1_000.0))
    } else if ms >= 1.0 {
        format!("{} ms", format_decimal(ms))
    } else {
        format!("{} µs", format_decimal(ms * 1_000.0))
    }
}

/// The frame of a chart with two value axes (the line charts' are
/// logarithmic): what differs between the charts that have one.
pub(super) struct LineFrame<'s> {
    /// A caption above the plot, if any.
    pub(super) caption: Option<&'s str>,
    /// Room around the plot, and right of it.
    pub(super) margin: u32,
    pub(super) margin_right: u32,
    /// Room left of the plot for the y axis' labels and description.
    pub(super) y_label_area: u32,
    /// The style of the x axis' tick labels (the y axis' are small).
    pub(super) x_label_style: TextStyle<'static>,
    /// The axes' descriptions and tick labels.
    pub(super) x_desc: &'s str,
    pub(super) y_desc: &'s str,
    pub(super) x_format: &'s dyn Fn(&f64) -> String,
    pub(super) y_format: &'s dyn Fn(&f64) -> String,
}

impl<'s> LineFrame<'s> {
    /// One captioned panel of a chart split in two (p50 and p99, all and
    /// retransmitted bytes): the common margins and label room.
    pub(super) fn panel(
        caption: &'s str,
        (x_desc, y_desc): (&'s str, &'s str),
        x_format: &'s dyn Fn(&f64) -> String,
        y_format: &'s dyn Fn(&f64) -> String,
    ) -> Self {
        LineFrame {
            caption: Some(caption),
            margin: 12,
            margin_right: 12,
            y_label_area: 70,
            x_label_style: label_font(),
            x_desc,
            y_desc,
            x_format,
            y_format,
        }
    }
}

/// A chart with value axes `X` and `Y`, as [`line_chart`] builds it.
type LineChart<'a, DB, X, Y> = ChartContext<
    'a,
    DB,
    Cartesian2d<<X as AsRangedCoord>::CoordDescType, <Y as AsRangedCoord>::CoordDescType>,
>;

/// Builds a chart on `area` with `x` and `y` as its axes, mesh and axes
/// drawn; the caller draws the lines and points.
pub(super) fn line_chart<'a, DB: DrawingBackend, X, Y>(
    area: &'a DrawingArea<DB, Shift>,
    spec: &LineFrame<'_>,
    x: X,
    y: Y,
) -> Result<LineChart<'a, DB, X, Y>, DrawingAreaErrorKind<DB::ErrorType>>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut builder = ChartBuilder::on(area);
    if let Some(caption) = spec.caption {
        builder.caption(caption, label_font());
    }
    let mut chart = builder
        .margin(spec.margin)
        .margin_right(spec.margin_right)
        .x_label_area_size(44)
        .y_label_area_size(spec.y_label_area)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_label_formatter(spec.x_format)
        .y_label_formatter(spec.y_format)
        .x_label_style(spec.x_label_style.clone())
        .y_label_style(small_font())
        .x_desc(spec.x_desc)
        .y_desc(spec.y_desc)
        .axis_desc_style(label_font())
        .draw()?;
    Ok(chart)
}

/// Draws one line of a line chart through `points` in `look`'s colour and
/// dash, `width` pixels wide, with its marker (`marker` pixels across) on
/// each point `marked` keeps.
pub(super) fn draw_marked_line<DB, CT, P>(
    chart: &mut ChartContext<'_, DB, CT>,
    points: &[P],
    at: impl Fn(&P) -> (f64, f64),
    marked: impl Fn(&P) -> bool,
    (look, width, marker): (LineLook, u32, i32),
) -> DrawResult<DB>
where
    DB: DrawingBackend,
    CT: CoordTranslate<From = (f64, f64)>,
{
    draw_line(chart, points.iter().map(&at).collect(), look, width)?;
    let kept: Vec<(f64, f64)> = points.iter().filter(|p| marked(p)).map(&at).collect();
    draw_markers(chart, &kept, look, marker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_bounds_cover_the_values_in_decades() {
        assert_eq!(log_bounds([0.2, 30.0].into_iter()), (0.1, 100.0));
        assert_eq!(log_bounds(std::iter::empty()), (0.01, 1.0));
    }

    #[test]
    fn log_ticks_are_one_two_five_per_decade_or_thinned() {
        assert_eq!(
            log_ticks(15.0, 700.0, 12),
            [20.0, 50.0, 100.0, 200.0, 500.0]
        );
        // 20 to 40,000 would be 11 ticks at 1-2-5: thinned to decades.
        assert_eq!(log_ticks(15.0, 40_000.0, 8), [100.0, 1_000.0, 10_000.0]);
        assert!(log_ticks(0.0, 10.0, 8).is_empty());
        assert_eq!(format_short(20.0), "20");
        assert_eq!(format_short(2_560.0), "2.56k");
        assert_eq!(format_short(20_000.0), "20k");
        assert_eq!(format_short(1_500_000.0), "1.5M");
    }

    #[test]
    fn ms_labels_pick_their_unit() {
        assert_eq!(format_ms(0.5), "500 µs");
        assert_eq!(format_ms(12.0), "12 ms");
        assert_eq!(format_ms(2_500.0), "2.5 s");
    }
}
