//! The charts, drawn once per backend: every chart is a [`Chart`] whose
//! `draw` is generic over plotters' `DrawingBackend`, and [`render`] runs it
//! on the SVG and the PNG backend so both files show the same picture.
//!
//! Colors are fixed per byte class and per transport, so a class or a
//! transport has the same color in every chart.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use pushbench_protocol::results::PhaseResult;
use pushbench_protocol::{ByteClass, RunResult, Transport};

use crate::ReportError;
use crate::figures::{
    ClassBytes, ClassicBar, ClassicGroup, classes_in, classic_groups, format_bytes, format_count,
    format_rate, measured_bandwidth_at_one_event_per_second, per_event_by_class, primary_phases,
    transport_bytes_per_event, transports_in,
};
use crate::model::{CLASSIC_CLIENTS, CLASSIC_HEADER_BYTES};
use crate::variant::{phase_label, variant_label};

/// The font family every chart asks for; [`register_fonts`] backs it with
/// DejaVu Sans, embedded, so charts render the same on a bare machine.
pub const FONT: &str = "sans-serif";

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Registers the embedded DejaVu Sans (regular and bold) under [`FONT`];
/// once per process, later calls return the first outcome.
pub fn register_fonts() -> Result<(), ReportError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if ok { Ok(()) } else { Err(ReportError::Font) }
}

/// The color of a byte class, the same in every chart.
pub fn class_color(class: ByteClass) -> RGBColor {
    match class {
        ByteClass::Handshake => RGBColor(148, 103, 189),
        ByteClass::RequestHeaders => RGBColor(214, 39, 40),
        ByteClass::ResponseHeaders => RGBColor(255, 127, 14),
        ByteClass::Framing => RGBColor(31, 119, 180),
        ByteClass::Payload => RGBColor(44, 160, 44),
        ByteClass::Control => RGBColor(127, 127, 127),
        ByteClass::H2Frames => RGBColor(140, 86, 75),
        // Teal between framing's blue and payload's green: it is both.
        ByteClass::Compressed => RGBColor(23, 160, 140),
        ByteClass::TlsHandshake => RGBColor(23, 190, 207),
        ByteClass::TlsRecords => RGBColor(188, 189, 34),
    }
}

/// The color of a transport, the same in every chart.
pub fn transport_color(transport: Transport) -> RGBColor {
    match transport {
        Transport::ShortPoll => RGBColor(214, 39, 40),
        Transport::LongPoll => RGBColor(255, 127, 14),
        Transport::Stream => RGBColor(31, 119, 180),
        Transport::Sse => RGBColor(44, 160, 44),
        Transport::Ws => RGBColor(148, 103, 189),
    }
}

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

fn title_font() -> TextStyle<'static> {
    (FONT, 24).into_font().style(FontStyle::Bold).into()
}

fn label_font() -> TextStyle<'static> {
    (FONT, 15).into_font().into()
}

fn small_font() -> TextStyle<'static> {
    (FONT, 13).into_font().into()
}

/// Width in pixels a legend entry takes: mark, gap, text, spacing.
fn legend_entry_width(name: &str) -> i32 {
    24 + 9 * name.chars().count() as i32 + 28
}

/// Rows the legend needs at `width` pixels.
fn legend_rows(legend: &[(String, RGBColor, LegendMark)], width: i32) -> Vec<Vec<usize>> {
    let mut rows: Vec<Vec<usize>> = Vec::new();
    let mut x = 0;
    for (i, (name, _, _)) in legend.iter().enumerate() {
        let w = legend_entry_width(name);
        match rows.last_mut() {
            Some(row) if x + w <= width => row.push(i),
            _ => {
                rows.push(vec![i]);
                x = 0;
            }
        }
        x += w;
    }
    rows
}

/// Splits off a title strip at the top and a legend strip (as many rows as
/// it needs) at the bottom, returning the middle.
fn frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    legend: &[(String, RGBColor, LegendMark)],
) -> Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    let (top, rest) = root.split_vertically(44);
    top.draw_text(title, &title_font(), (16, 12))?;
    let (width, height) = rest.dim_in_pixel();
    let rows = legend_rows(legend, width as i32 - 100);
    let legend_height = 12 + 26 * rows.len() as u32;
    let (middle, bottom) = rest.split_vertically(height.saturating_sub(legend_height));
    for (r, row) in rows.iter().enumerate() {
        let y = 6 + 26 * r as i32;
        let mut x = 70i32;
        for &i in row {
            let (name, color, mark) = &legend[i];
            match mark {
                LegendMark::Box => {
                    bottom.draw(&Rectangle::new([(x, y), (x + 16, y + 16)], color.filled()))?
                }
                LegendMark::Line => bottom.draw(&PathElement::new(
                    vec![(x, y + 8), (x + 20, y + 8)],
                    color.stroke_width(3),
                ))?,
                LegendMark::Dashed => {
                    for dash in [x, x + 8, x + 16] {
                        bottom.draw(&PathElement::new(
                            vec![(dash, y + 8), (dash + 5, y + 8)],
                            color.stroke_width(2),
                        ))?;
                    }
                }
            }
            bottom.draw_text(name, &label_font(), (x + 24, y))?;
            x += legend_entry_width(name);
        }
    }
    Ok(middle)
}

/// The color of phase `phase` of `result`: its transport's color, lighter
/// or darker for a second or third phase of the same transport so that
/// sweeps stay apart.
fn phase_color(result: &RunResult, phase: usize) -> RGBColor {
    let Some(this) = result.phases.get(phase) else {
        return BLACK;
    };
    let rank = result.phases[..phase]
        .iter()
        .filter(|p| p.transport == this.transport)
        .count();
    shade(transport_color(this.transport), rank)
}

/// `base` for rank 0, then lighter, darker, lighter still.
fn shade(base: RGBColor, rank: usize) -> RGBColor {
    let RGBColor(r, g, b) = base;
    let lerp =
        |c: u8, to: u8, t: f64| (f64::from(c) + (f64::from(to) - f64::from(c)) * t).round() as u8;
    let toward = |to: u8, t: f64| RGBColor(lerp(r, to, t), lerp(g, to, t), lerp(b, to, t));
    match rank % 4 {
        0 => base,
        1 => toward(255, 0.45),
        2 => toward(0, 0.45),
        _ => toward(255, 0.7),
    }
}

/// How a legend entry is marked.
#[derive(Clone, Copy, Debug)]
enum LegendMark {
    Box,
    Line,
    Dashed,
}

/// The color of the classic model's reference lines.
const CLASSIC_GREY: RGBColor = RGBColor(60, 60, 60);

/// Stacked bars of bytes per delivered event by class, one bar per phase,
/// client-to-server and server-to-client side by side.
#[derive(Debug)]
pub struct BytesPerEvent {
    /// The classes in the legend: the TLS ones only when the run had TLS.
    classes: Vec<ByteClass>,
    labels: Vec<String>,
    sent: Vec<ClassBytes>,
    received: Vec<ClassBytes>,
}

impl BytesPerEvent {
    /// The chart for `result`.
    pub fn new(result: &RunResult) -> Self {
        BytesPerEvent {
            classes: classes_in(result),
            labels: result
                .phases
                .iter()
                .map(|p| phase_label(result, p))
                .collect(),
            sent: result
                .phases
                .iter()
                .map(|p| per_event_by_class(&p.traffic.sent, p.events.delivered))
                .collect(),
            received: result
                .phases
                .iter()
                .map(|p| per_event_by_class(&p.traffic.received, p.events.delivered))
                .collect(),
        }
    }
}

impl Chart for BytesPerEvent {
    fn stem(&self) -> &'static str {
        "bytes_per_event"
    }

    fn size(&self) -> (u32, u32) {
        (1100, bar_chart_height(self.labels.len()))
    }

    fn caption(&self) -> String {
        "Bytes on the wire per delivered event, by class: what the client sends \
         (left) and what it receives (right)."
            .into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let legend: Vec<_> = self
            .classes
            .iter()
            .map(|&c| (c.name().to_owned(), class_color(c), LegendMark::Box))
            .collect();
        let body = frame(root, "Bytes per delivered event, by class", &legend)?;
        let panels = body.split_evenly((1, 2));
        stacked_panel(
            &panels[0],
            "client → server (sent)",
            &self.labels,
            &self.sent,
        )?;
        stacked_panel(
            &panels[1],
            "server → client (received)",
            &self.labels,
            &self.received,
        )?;
        Ok(())
    }
}

/// The category axis of a horizontal bar chart: bar `i` is centred on `i`,
/// the first bar at the top, with a tick (and a label) beside each bar and
/// nowhere else.
#[derive(Clone, Copy, Debug)]
struct BarAxis {
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
fn bar_chart_height(bars: usize) -> u32 {
    (240 + 40 * bars as u32).max(620)
}

/// The frame of a horizontal bar chart: what differs between the charts
/// that have one.
struct BarFrame<'s> {
    /// A caption above the plot, if any.
    caption: Option<&'s str>,
    /// Room right of the plot for the value written after the longest bar.
    margin_right: u32,
    /// The category labels, bar 0 at the top.
    labels: &'s [String],
    /// Their style.
    label_style: TextStyle<'static>,
    /// The value axis' description and tick labels.
    x_desc: &'s str,
    x_format: &'s dyn Fn(&f64) -> String,
}

/// A horizontal bar chart with value axis `X`, as [`bar_chart`] builds it.
type BarChart<'a, DB, X> = ChartContext<'a, DB, Cartesian2d<X, BarAxis>>;

/// Builds a horizontal bar chart on `area` with `x` as its value axis and
/// one category per label, mesh and axes drawn; the caller draws the bars.
fn bar_chart<'a, DB: DrawingBackend, X>(
    area: &'a DrawingArea<DB, Shift>,
    spec: &BarFrame<'_>,
    x: X,
) -> Result<BarChart<'a, DB, X::CoordDescType>, DrawingAreaErrorKind<DB::ErrorType>>
where
    X: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
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

fn stacked_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    labels: &[String],
    rows: &[ClassBytes],
) -> DrawResult<DB> {
    let right = rows
        .iter()
        .map(|r| r.iter().sum::<f64>())
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.18;
    let mut chart = bar_chart(
        area,
        &BarFrame {
            caption: Some(title),
            margin_right: 24,
            labels,
            label_style: label_font(),
            x_desc: "bytes per delivered event",
            x_format: &|b| format!("{b:.0}"),
        },
        0f64..right,
    )?;
    for (k, class) in ByteClass::ALL.into_iter().enumerate() {
        let color = class_color(class);
        chart.draw_series(
            rows.iter()
                .enumerate()
                .filter(|(_, r)| r[k] > 0.0)
                .map(|(i, r)| {
                    let base: f64 = r[..k].iter().sum();
                    let y = i as f64;
                    Rectangle::new([(base, y - 0.32), (base + r[k], y + 0.32)], color.filled())
                }),
        )?;
    }
    chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
        let total: f64 = r.iter().sum();
        Text::new(
            format!("{total:.0}"),
            (total + right * 0.012, i as f64 - 0.12),
            small_font(),
        )
    }))?;
    Ok(())
}

fn label_at(labels: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    labels.get(i as usize).cloned().unwrap_or_default()
}

/// Overhead ratio (all bytes divided by payload bytes) per phase.
#[derive(Debug)]
pub struct Overhead {
    bars: Vec<(String, RGBColor, f64)>,
}

impl Overhead {
    /// The chart for `result`.
    pub fn new(result: &RunResult) -> Self {
        Overhead {
            bars: result
                .phases
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    (
                        phase_label(result, p),
                        phase_color(result, i),
                        p.derived.overhead_ratio,
                    )
                })
                .collect(),
        }
    }
}

impl Chart for Overhead {
    fn stem(&self) -> &'static str {
        "overhead"
    }

    fn size(&self) -> (u32, u32) {
        // Narrower bars than the stacked chart's: one number each.
        (1100, (200 + 24 * self.bars.len() as u32).max(620))
    }

    fn caption(&self) -> String {
        "Overhead ratio: all bytes on the wire (both directions) divided by the payload \
         bytes delivered; 1 would be payload alone."
            .into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let body = frame(root, "Overhead ratio: wire bytes / payload bytes", &[])?;
        let labels: Vec<String> = self.bars.iter().map(|b| b.0.clone()).collect();
        let n = self.bars.len().max(1);
        let right = self.bars.iter().map(|b| b.2).fold(1.0, f64::max) * 1.15;
        let mut chart = bar_chart(
            &body,
            &BarFrame {
                caption: None,
                margin_right: 30,
                labels: &labels,
                label_style: label_font(),
                x_desc: "wire bytes / payload bytes (1 = payload alone)",
                x_format: &|x| trim(*x),
            },
            0f64..right,
        )?;
        chart.draw_series(self.bars.iter().enumerate().map(|(i, (_, color, ratio))| {
            let y = i as f64;
            Rectangle::new([(0.0, y - 0.32), (*ratio, y + 0.32)], color.filled())
        }))?;
        chart.draw_series(self.bars.iter().enumerate().map(|(i, (_, _, ratio))| {
            Text::new(
                format!("{ratio:.2}×"),
                (ratio + right * 0.01, i as f64 - 0.12),
                label_font(),
            )
        }))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(1.0, -0.5), (1.0, n as f64 - 0.5)],
            BLACK.stroke_width(2),
        )))?;
        Ok(())
    }
}

/// One named line of a chart: name, color, points.
type Series<P> = (String, RGBColor, Vec<P>);

/// A legend with one line entry per series.
fn line_legend<P>(series: &[Series<P>]) -> Vec<(String, RGBColor, LegendMark)> {
    series
        .iter()
        .map(|(name, color, _)| (name.clone(), *color, LegendMark::Line))
        .collect()
}

/// Percentile ticks of the latency chart, as `1/(1-p)`.
const PERCENTILE_TICKS: [(f64, &str); 7] = [
    (1.0, "0%"),
    (10.0, "90%"),
    (100.0, "99%"),
    (1_000.0, "99.9%"),
    (10_000.0, "99.99%"),
    (100_000.0, "99.999%"),
    (1_000_000.0, "99.9999%"),
];

/// A percentile as a fraction (0..1): `LatencySummary.distribution` holds
/// percents (0..100); a distribution whose largest entry is at most 1 is
/// taken to hold fractions already.
fn as_fraction(percentile: f64, in_percent: bool) -> f64 {
    if in_percent {
        percentile / 100.0
    } else {
        percentile
    }
}

/// Latency percentile distribution per phase, HdrHistogram style: the x
/// axis is `1/(1-p)` on a log scale, so the tail gets the room.
#[derive(Debug)]
pub struct LatencyDistribution {
    series: Vec<Series<(f64, f64)>>,
    x_max: f64,
    /// The variant drawn alone when the run had too many phases to draw.
    only: Option<String>,
}

/// Most lines a line chart draws, one per phase (or per phase sweep):
/// beyond it the legend outgrows the plot and the lines cannot be told
/// apart. A run with more (a matrix) draws its first variant's phases
/// only, and the caption says so; the tables have every phase.
pub const MAX_LINES: usize = 15;

/// The phases a line chart with one line per `line_of` value draws, and the
/// variant it was cut to when there were more than [`MAX_LINES`] lines.
fn line_phases<K: Ord>(
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
    let primary = crate::variant::variant_of(first);
    let name = variant_label(result, first);
    let kept = all
        .into_iter()
        .filter(|(_, p)| crate::variant::variant_of(p) == primary)
        .collect();
    (kept, Some(name))
}

/// The caption's note when a line chart drew one variant of many.
fn only_note(only: &Option<String>) -> String {
    only.as_ref().map_or(String::new(), |variant| {
        format!(
            " This run has more than {MAX_LINES} lines to draw: only its first variant's \
             phases ({variant}) are drawn; the tables have every phase."
        )
    })
}

/// The height of a chart of the usual size whose legend (at the usual
/// width) needs `legend`'s rows: 26 pixels more for each beyond two.
fn height_for_legend(legend: &[(String, RGBColor, LegendMark)]) -> u32 {
    let rows = legend_rows(legend, 1100 - 100).len() as u32;
    620 + 26 * rows.saturating_sub(2)
}

impl LatencyDistribution {
    /// The chart for `result`; phases without a distribution are left out.
    pub fn new(result: &RunResult) -> Self {
        let mut largest_finite: f64 = 1.0;
        let (phases, only) = line_phases(result, |p| {
            (!p.latency_us.distribution.is_empty()).then(|| phase_label(result, p))
        });
        let mut series: Vec<Series<(f64, f64)>> = phases
            .into_iter()
            .filter(|(_, p)| !p.latency_us.distribution.is_empty())
            .map(|(i, p)| {
                let dist = &p.latency_us.distribution;
                let in_percent = dist.iter().any(|(q, _)| *q > 1.0);
                let points: Vec<(f64, f64)> = dist
                    .iter()
                    .map(|&(q, us)| {
                        let fraction = as_fraction(q, in_percent).clamp(0.0, 1.0);
                        // 100% (the max) has no finite 1/(1-p): it goes to
                        // the right edge, as HdrHistogram plots draw it.
                        let x = if fraction >= 0.999_999_9 {
                            f64::INFINITY
                        } else {
                            1.0 / (1.0 - fraction)
                        };
                        if x.is_finite() {
                            largest_finite = largest_finite.max(x);
                        }
                        // Log axis: a 0 µs reading is drawn at 1 µs.
                        (x, us.max(1) as f64 / 1_000.0)
                    })
                    .collect();
                (phase_label(result, p), phase_color(result, i), points)
            })
            .collect();
        let x_max = 10f64
            .powf(largest_finite.log10().ceil())
            .clamp(100_000.0, 1_000_000.0);
        for (_, _, points) in &mut series {
            for point in points.iter_mut() {
                point.0 = point.0.min(x_max);
            }
        }
        LatencyDistribution {
            series,
            x_max,
            only,
        }
    }
}

impl Chart for LatencyDistribution {
    fn stem(&self) -> &'static str {
        "latency_percentiles"
    }

    fn size(&self) -> (u32, u32) {
        (1100, height_for_legend(&line_legend(&self.series)))
    }

    fn caption(&self) -> String {
        format!(
            "Latency (event creation to client receipt) by percentile, HdrHistogram style: \
             the percentile axis is logarithmic toward 99.999%.{}",
            only_note(&self.only)
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let legend = line_legend(&self.series);
        let body = frame(root, "Latency by percentile", &legend)?;
        let (y_min, y_max) = log_bounds(self.series.iter().flat_map(|s| s.2.iter().map(|p| p.1)));
        let ticks: Vec<f64> = PERCENTILE_TICKS
            .iter()
            .map(|t| t.0)
            .filter(|&x| x <= self.x_max)
            .collect();
        let mut chart = ChartBuilder::on(&body)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .margin_right(50)
            .build_cartesian_2d(
                (1f64..self.x_max).log_scale().with_key_points(ticks),
                (y_min..y_max).log_scale(),
            )?;
        chart
            .configure_mesh()
            .x_label_formatter(&|x| {
                PERCENTILE_TICKS
                    .iter()
                    .find(|t| (t.0 / x - 1.0).abs() < 1e-6)
                    .map(|t| t.1.to_owned())
                    .unwrap_or_default()
            })
            .y_label_formatter(&|ms| format_ms(*ms))
            .x_label_style(label_font())
            .y_label_style(small_font())
            .x_desc("percentile")
            .y_desc("latency")
            .axis_desc_style(label_font())
            .draw()?;
        for (_, color, points) in &self.series {
            chart.draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(3),
            ))?;
        }
        Ok(())
    }
}

/// Bounds of a log axis around positive values, with some room.
fn log_bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
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

fn format_ms(ms: f64) -> String {
    if ms >= 1_000.0 {
        format!("{} s", trim(ms / 1_000.0))
    } else if ms >= 1.0 {
        format!("{} ms", trim(ms))
    } else {
        format!("{} µs", trim(ms * 1_000.0))
    }
}

fn trim(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Bandwidth versus clients per transport: the model line (measured bytes
/// per event × clients × one event per second) with the classic client
/// counts marked, and the phases actually measured as points.
#[derive(Debug)]
pub struct BandwidthVsClients {
    lines: Vec<(Transport, f64)>,
    measured: Vec<(Transport, f64, f64)>,
}

impl BandwidthVsClients {
    /// The chart for `result`.
    pub fn new(result: &RunResult) -> Self {
        BandwidthVsClients {
            lines: transports_in(result)
                .into_iter()
                .filter_map(|t| transport_bytes_per_event(result, t).map(|b| (t, b)))
                .collect(),
            measured: primary_phases(result)
                .filter_map(|p| {
                    measured_bandwidth_at_one_event_per_second(p)
                        .map(|bw| (p.transport, f64::from(p.clients.max(1)), bw))
                })
                .collect(),
        }
    }
}

impl Chart for BandwidthVsClients {
    fn stem(&self) -> &'static str {
        "bandwidth_vs_clients"
    }

    fn caption(&self) -> String {
        "Bandwidth versus clients at one event per second per client: lines are the \
         measured bytes per event × clients (squares at the classic 1,000 / 10,000 / 100,000), \
         dots are the phases this run measured, normalised to one event per second; \
         dashed, the classic model (871 B of poll headers against a 2 B WebSocket frame); \
         when the run compared variants, the first variant's phases."
            .into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let mut legend: Vec<_> = self
            .lines
            .iter()
            .map(|(t, _)| (t.name().to_owned(), transport_color(*t), LegendMark::Line))
            .collect();
        legend.push((
            "classic model: 871 B/poll (top), 2 B/WebSocket frame (bottom)".to_owned(),
            CLASSIC_GREY,
            LegendMark::Dashed,
        ));
        let body = frame(
            root,
            "Bandwidth vs clients (1 event/s per client, both directions)",
            &legend,
        )?;
        let x_max = 200_000.0;
        let values = self
            .lines
            .iter()
            .flat_map(|(_, b)| [*b, b * x_max])
            .chain([2.0, CLASSIC_HEADER_BYTES as f64 * x_max])
            .chain(self.measured.iter().map(|m| m.2));
        let (y_min, y_max) = log_bounds(values);
        let mut chart = ChartBuilder::on(&body)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(84)
            .build_cartesian_2d(
                (1f64..x_max)
                    .log_scale()
                    .with_key_points(vec![1.0, 10.0, 100.0, 1e3, 1e4, 1e5]),
                (y_min..y_max).log_scale(),
            )?;
        chart
            .configure_mesh()
            .x_label_formatter(&|x| format_count(x.round() as u64))
            .y_label_formatter(&|b| format!("{}/s", format_bytes(*b)))
            .x_label_style(label_font())
            .y_label_style(small_font())
            .x_desc("clients")
            .y_desc("bandwidth")
            .axis_desc_style(label_font())
            .draw()?;
        for (transport, bytes_per_event) in &self.lines {
            let color = transport_color(*transport);
            chart.draw_series(LineSeries::new(
                [1.0, x_max].map(|n| (n, bytes_per_event * n)),
                color.stroke_width(2),
            ))?;
            chart.draw_series(CLASSIC_CLIENTS.map(|n| {
                let n = n as f64;
                Rectangle::new(
                    [
                        (n / 1.12, bytes_per_event * n / 1.25),
                        (n * 1.12, bytes_per_event * n * 1.25),
                    ],
                    color.filled(),
                )
            }))?;
        }
        chart.draw_series(
            self.measured
                .iter()
                .map(|(t, n, bw)| Circle::new((*n, *bw), 6, transport_color(*t).filled())),
        )?;
        // The classic claim as reference: 871 header bytes per poll against
        // a 2-byte WebSocket frame, one event per second.
        for bytes_per_event in [CLASSIC_HEADER_BYTES as f64, 2.0] {
            chart.draw_series(DashedLineSeries::new(
                [1.0, x_max].map(|n| (n, bytes_per_event * n)),
                8,
                6,
                CLASSIC_GREY.stroke_width(2),
            ))?;
        }
        Ok(())
    }
}

/// Latency (p50 and p99) versus event rate, drawn only when the run swept
/// several rates.
#[derive(Debug)]
pub struct LatencyVsRate {
    series: Vec<Series<(f64, f64, f64)>>,
    rates: Vec<f64>,
    /// The variant drawn alone when the run had too many lines to draw.
    only: Option<String>,
}

impl LatencyVsRate {
    /// The chart for `result`, or `None` when it measured fewer than two rates.
    pub fn new(result: &RunResult) -> Option<Self> {
        let mut rates: Vec<f64> = result.phases.iter().map(|p| p.rate).collect();
        rates.sort_by(f64::total_cmp);
        rates.dedup();
        if rates.len() < 2 {
            return None;
        }
        let mut clients: Vec<u32> = result.phases.iter().map(|p| p.clients).collect();
        clients.sort_unstable();
        clients.dedup();
        // One line per transport, client count and variant: the rates are
        // its points, and nothing else may differ along a line.
        let line_of = |p: &PhaseResult| (p.transport, p.clients, variant_label(result, p));
        let (phases, only) = line_phases(result, line_of);
        let mut lines: Vec<(Transport, u32, String)> =
            phases.iter().map(|(_, p)| line_of(p)).collect();
        lines.sort();
        lines.dedup();
        let mut series = Vec::new();
        for transport in transports_in(result) {
            let of_transport = lines.iter().filter(|l| l.0 == transport);
            for (rank, (_, n, variant)) in of_transport.enumerate() {
                let mut points: Vec<(f64, f64, f64)> = phases
                    .iter()
                    .map(|(_, p)| *p)
                    .filter(|p| {
                        p.transport == transport
                            && p.clients == *n
                            && variant_label(result, p) == *variant
                            && p.latency_us.count > 0
                    })
                    .map(|p| {
                        (
                            p.rate,
                            p.latency_us.p50.max(1) as f64 / 1_000.0,
                            p.latency_us.p99.max(1) as f64 / 1_000.0,
                        )
                    })
                    .collect();
                if points.is_empty() {
                    continue;
                }
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                let mut name = transport.name().to_owned();
                if clients.len() > 1 {
                    name.push_str(&format!(" {n}c"));
                }
                if !variant.is_empty() {
                    name.push(' ');
                    name.push_str(variant);
                }
                series.push((name, shade(transport_color(transport), rank), points));
            }
        }
        Some(LatencyVsRate {
            series,
            rates,
            only,
        })
    }
}

impl Chart for LatencyVsRate {
    fn stem(&self) -> &'static str {
        "latency_vs_rate"
    }

    fn size(&self) -> (u32, u32) {
        (1100, height_for_legend(&line_legend(&self.series)))
    }

    fn caption(&self) -> String {
        format!(
            "Latency versus event rate: p50 (left) and p99 (right) per transport.{}",
            only_note(&self.only)
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let legend = line_legend(&self.series);
        let body = frame(root, "Latency vs event rate", &legend)?;
        let panels = body.split_evenly((1, 2));
        let (y_min, y_max) = log_bounds(
            self.series
                .iter()
                .flat_map(|s| s.2.iter().flat_map(|p| [p.1, p.2])),
        );
        let lo = self.rates.first().copied().unwrap_or(1.0).max(1e-3);
        let hi = self.rates.last().copied().unwrap_or(10.0).max(lo * 1.01);
        let (x_lo, x_hi) = (lo / 1.3, hi * 1.3);
        for (panel, (title, pick)) in panels.iter().zip([
            (
                "p50",
                (|p: &(f64, f64, f64)| p.1) as fn(&(f64, f64, f64)) -> f64,
            ),
            ("p99", |p: &(f64, f64, f64)| p.2),
        ]) {
            let mut chart = ChartBuilder::on(panel)
                .caption(title, label_font())
                .margin(12)
                .x_label_area_size(44)
                .y_label_area_size(70)
                .build_cartesian_2d(
                    (x_lo..x_hi).log_scale().with_key_points(self.rates.clone()),
                    (y_min..y_max).log_scale(),
                )?;
            chart
                .configure_mesh()
                .x_label_formatter(&|r| format_rate(*r))
                .y_label_formatter(&|ms| format_ms(*ms))
                .x_label_style(label_font())
                .y_label_style(small_font())
                .x_desc("events per second")
                .y_desc("latency")
                .axis_desc_style(label_font())
                .draw()?;
            for (_, color, points) in &self.series {
                chart.draw_series(LineSeries::new(
                    points.iter().map(|p| (p.0, pick(p))),
                    color.stroke_width(3),
                ))?;
                chart.draw_series(
                    points
                        .iter()
                        .map(|p| Circle::new((p.0, pick(p)), 4, color.filled())),
                )?;
            }
        }
        Ok(())
    }
}

/// A capacity search (`pushbench capacity`): deliveries per second achieved
/// against those offered (clients × rate), and p99 latency against the
/// offered load, one line per transport; filled dots held every criterion,
/// crosses did not.
#[derive(Debug)]
pub struct CapacityChart {
    /// Per transport: (offered deliveries/s, achieved deliveries/s, p99 ms, held).
    series: Vec<Series<(f64, f64, f64, bool)>>,
}

impl CapacityChart {
    /// The chart for `result`, or `None` when it is not a capacity search.
    pub fn new(result: &RunResult) -> Option<Self> {
        let capacity = result.capacity.as_ref()?;
        let series = capacity
            .transports
            .iter()
            .map(|t| {
                let mut points: Vec<(f64, f64, f64, bool)> = t
                    .steps
                    .iter()
                    .filter_map(|s| {
                        let p = result.phases.get(s.phase)?;
                        Some((
                            (s.rate * f64::from(p.clients)).max(1e-3),
                            p.derived.events_per_second.max(1e-3),
                            (p.latency_us.p99.max(1) as f64) / 1_000.0,
                            s.sustained,
                        ))
                    })
                    .collect();
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                (
                    t.transport.name().to_owned(),
                    transport_color(t.transport),
                    points,
                )
            })
            .collect();
        Some(CapacityChart { series })
    }
}

impl Chart for CapacityChart {
    fn stem(&self) -> &'static str {
        "capacity"
    }

    fn caption(&self) -> String {
        "Capacity search: deliveries per second achieved against offered (events per second × \
         clients; dashed, achieved = offered) and p99 latency against the offered load; dots \
         held every criterion of a sustained phase, crosses broke one."
            .into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let legend = line_legend(&self.series);
        let body = frame(root, "Capacity: deliveries per second and p99", &legend)?;
        let panels = body.split_evenly((1, 2));
        let points = || self.series.iter().flat_map(|s| s.2.iter());
        let (x_min, x_max) = log_bounds(points().flat_map(|p| [p.0, p.1]));
        let (l_min, l_max) = log_bounds(points().map(|p| p.2));
        type Pick = fn(&(f64, f64, f64, bool)) -> f64;
        let panels_spec: [(&str, &str, (f64, f64), Pick); 2] = [
            ("achieved", "deliveries/s", (x_min, x_max), |p| p.1),
            ("p99", "p99 latency", (l_min, l_max), |p| p.2),
        ];
        for (panel, (title, y_desc, (y_min, y_max), pick)) in panels.iter().zip(panels_spec) {
            let mut chart = ChartBuilder::on(panel)
                .caption(title, label_font())
                .margin(12)
                .x_label_area_size(44)
                .y_label_area_size(74)
                .build_cartesian_2d((x_min..x_max).log_scale(), (y_min..y_max).log_scale())?;
            let is_latency = title == "p99";
            chart
                .configure_mesh()
                .x_label_formatter(&|x| format_count(x.round() as u64))
                .y_label_formatter(&|y| {
                    if is_latency {
                        format_ms(*y)
                    } else {
                        format_count(y.round() as u64)
                    }
                })
                .x_label_style(small_font())
                .y_label_style(small_font())
                .x_desc("offered deliveries/s")
                .y_desc(y_desc)
                .axis_desc_style(label_font())
                .draw()?;
            if !is_latency {
                chart.draw_series(DashedLineSeries::new(
                    [(x_min, x_min), (x_max, x_max)],
                    8,
                    6,
                    CLASSIC_GREY.stroke_width(2),
                ))?;
            }
            for (_, color, points) in &self.series {
                chart.draw_series(LineSeries::new(
                    points.iter().map(|p| (p.0, pick(p))),
                    color.stroke_width(2),
                ))?;
                chart.draw_series(
                    points
                        .iter()
                        .filter(|p| p.3)
                        .map(|p| Circle::new((p.0, pick(p)), 5, color.filled())),
                )?;
                chart.draw_series(
                    points
                        .iter()
                        .filter(|p| !p.3)
                        .map(|p| Cross::new((p.0, pick(p)), 6, color.stroke_width(2))),
                )?;
            }
        }
        Ok(())
    }
}

/// The classic argument, measured: per variant (HTTP/1.1 or HTTP/2,
/// plaintext or TLS, identity or a content coding, minimal or browser
/// headers), the header bytes (left) and all bytes (right) per delivered
/// event of short and long polling against SSE and WebSocket, one row of
/// bars per variant; a panel whose values span more than [`LOG_SPAN`] is
/// drawn on a log axis.
#[derive(Debug)]
pub struct ClassicArgument {
    groups: Vec<ClassicGroup>,
    transports: Vec<Transport>,
}

/// The largest ratio of a panel's largest to its smallest positive value
/// that a linear axis shows well: beyond it the small bars (an HPACK-coded
/// head, a WebSocket frame) would be invisible slivers beside an
/// HTTP/1.1 browser head.
pub const LOG_SPAN: f64 = 30.0;

/// Which figure of a bar a panel of [`ClassicArgument`] draws.
type BarPick = fn(&ClassicBar) -> f64;

impl ClassicArgument {
    /// The chart for `result`, or `None` when the run measured none of the
    /// transports the argument compares (or they delivered nothing).
    pub fn new(result: &RunResult) -> Option<Self> {
        let groups: Vec<ClassicGroup> = classic_groups(result)
            .into_iter()
            .filter(|g| !g.bars.is_empty())
            .collect();
        let transports: Vec<Transport> = crate::figures::CLASSIC_TRANSPORTS
            .into_iter()
            .filter(|t| groups.iter().any(|g| g.bar(*t).is_some()))
            .collect();
        (!groups.is_empty()).then_some(ClassicArgument { groups, transports })
    }

    /// The group labels, top to bottom.
    pub fn labels(&self) -> Vec<String> {
        self.groups.iter().map(|g| g.label.clone()).collect()
    }

    /// Whether the panel of `pick` is drawn on a log axis.
    fn is_log(&self, pick: BarPick) -> bool {
        let values = self.groups.iter().flat_map(|g| g.bars.iter().map(pick));
        let (lo, hi) = values
            .filter(|v| *v > 0.0)
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        lo.is_finite() && hi / lo > LOG_SPAN
    }
}

impl Chart for ClassicArgument {
    fn stem(&self) -> &'static str {
        "classic_argument"
    }

    fn size(&self) -> (u32, u32) {
        let rows = self.groups.len() * self.transports.len().max(1);
        (
            1200,
            (260 + 22 * rows as u32 + 18 * self.groups.len() as u32).max(620),
        )
    }

    fn caption(&self) -> String {
        let scale = |log: bool| if log { "log scale" } else { "linear" };
        format!(
            "How much of the classic argument (a poll costs hundreds of header bytes, a \
             WebSocket frame two) survives HTTP/2 and header compression: per variant, the \
             request + response header bytes per delivered event (left, {}; over HTTP/2 the \
             HPACK blocks) and all bytes per delivered event (right, {}) of short and long \
             polling against SSE and WebSocket, both directions; the dashed line is the \
             classic 871 header bytes per poll. SSE and WebSocket pay their heads once per \
             connection, outside the measured window (the setup column of the tables). \
             WebSocket frames are not content-coded: a gzip or br row shows the same \
             variant's WebSocket at identity.",
            scale(self.is_log(|b| b.header_bytes)),
            scale(self.is_log(|b| b.bytes))
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let legend: Vec<_> = self
            .transports
            .iter()
            .map(|&t| (t.name().to_owned(), transport_color(t), LegendMark::Box))
            .chain([(
                "classic: 871 B of headers per poll".to_owned(),
                CLASSIC_GREY,
                LegendMark::Dashed,
            )])
            .collect();
        let body = frame(
            root,
            "The classic argument under HTTP/2 and header compression",
            &legend,
        )?;
        let panels = body.split_evenly((1, 2));
        let specs: [(&str, BarPick, Option<f64>); 2] = [
            (
                "request + response header bytes per event",
                |b| b.header_bytes,
                Some(CLASSIC_HEADER_BYTES as f64),
            ),
            ("all bytes per event", |b| b.bytes, None),
        ];
        for (panel, (title, pick, reference)) in panels.iter().zip(specs) {
            let values = self
                .groups
                .iter()
                .flat_map(|g| g.bars.iter().map(pick))
                .chain(reference);
            if self.is_log(pick) {
                let (lo, hi) = log_bounds(values);
                let x = (lo..hi).log_scale();
                self.panel(panel, title, x, lo, pick, reference)?;
            } else {
                let hi = values.fold(1.0, f64::max) * 1.18;
                self.panel(panel, title, 0f64..hi, 0.0, pick, reference)?;
            }
        }
        Ok(())
    }
}

impl ClassicArgument {
    /// One panel: a row per group, in it a bar per transport, the value at
    /// each bar's end, the classic reference as a dashed line.
    fn panel<DB: DrawingBackend, X>(
        &self,
        area: &DrawingArea<DB, Shift>,
        title: &str,
        x: X,
        base: f64,
        pick: BarPick,
        reference: Option<f64>,
    ) -> DrawResult<DB>
    where
        X: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
        X::CoordDescType: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
    {
        let labels = self.labels();
        let n = self.groups.len().max(1);
        let mut chart = bar_chart(
            area,
            &BarFrame {
                caption: Some(title),
                margin_right: 40,
                labels: &labels,
                label_style: label_font(),
                x_desc: "bytes per delivered event, both directions",
                x_format: &|b| trim(*b),
            },
            x,
        )?;
        let slots = self.transports.len().max(1) as f64;
        let height = 0.8 / slots;
        for (i, group) in self.groups.iter().enumerate() {
            for (k, transport) in self.transports.iter().enumerate() {
                let Some(bar) = group.bar(*transport) else {
                    continue;
                };
                let value = pick(bar);
                let top = i as f64 - 0.4 + height * k as f64;
                let (y0, y1) = (top + height * 0.1, top + height * 0.9);
                if value > base {
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(base, y0), (value, y1)],
                        transport_color(*transport).filled(),
                    )))?;
                }
                chart.draw_series(std::iter::once(Text::new(
                    format!("{value:.0}"),
                    (value.max(base) * 1.01 + 1e-9, y0),
                    small_font(),
                )))?;
            }
        }
        if let Some(r) = reference {
            chart.draw_series(DashedLineSeries::new(
                [(r, -0.5), (r, n as f64 - 0.5)],
                8,
                6,
                CLASSIC_GREY.stroke_width(2),
            ))?;
        }
        Ok(())
    }
}

/// `pushbench peers`: one bar per comparison, the ratio (above 1:
/// pushbench better) on a log axis, with its goal marked.
#[derive(Debug)]
pub struct PeersChart {
    bars: Vec<(String, f64, Option<f64>)>,
}

impl PeersChart {
    /// The chart for `result`.
    pub fn new(result: &pushbench_protocol::peer_results::PeersResult) -> Self {
        PeersChart {
            bars: result
                .comparisons
                .iter()
                .map(|c| (c.label.clone(), c.ratio, c.goal))
                .collect(),
        }
    }
}

impl Chart for PeersChart {
    fn stem(&self) -> &'static str {
        "peers"
    }

    fn size(&self) -> (u32, u32) {
        (1200, bar_chart_height(self.bars.len()).clamp(320, 900))
    }

    fn caption(&self) -> String {
        "pushbench beside its peers, measured in one run: each bar is a ratio (above 1, \
         pushbench is better: more per second, or less latency or CPU); the black tick is \
         the goal (green: met, red: missed, blue: no goal), the dashed line parity."
            .into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let body = frame(root, "pushbench ÷ peer (above 1: pushbench better)", &[])?;
        let labels: Vec<String> = self.bars.iter().map(|b| b.0.clone()).collect();
        let n = self.bars.len().max(1);
        let (lo, hi) = log_bounds(
            self.bars
                .iter()
                .flat_map(|b| [b.1.max(1e-2), b.2.unwrap_or(1.0)])
                .chain([1.0]),
        );
        let mut chart = bar_chart(
            &body,
            &BarFrame {
                caption: None,
                margin_right: 40,
                labels: &labels,
                label_style: small_font(),
                x_desc: "ratio (log scale)",
                x_format: &|x| format!("{}×", trim(*x)),
            },
            (lo..hi).log_scale(),
        )?;
        chart.draw_series(self.bars.iter().enumerate().map(|(i, (_, ratio, goal))| {
            let y = i as f64;
            // Green: goal met; red: missed; blue: no goal, for information.
            let color = match goal {
                Some(g) if ratio >= g => RGBColor(44, 160, 44),
                Some(_) => RGBColor(214, 39, 40),
                None => RGBColor(31, 119, 180),
            };
            Rectangle::new([(lo, y - 0.3), (ratio.max(lo), y + 0.3)], color.filled())
        }))?;
        chart.draw_series(self.bars.iter().enumerate().map(|(i, (_, ratio, _))| {
            Text::new(
                format!("{ratio:.2}×"),
                (ratio.max(lo) * 1.03, i as f64 - 0.12),
                label_font(),
            )
        }))?;
        chart.draw_series(
            self.bars
                .iter()
                .enumerate()
                .filter_map(|(i, (_, _, goal))| {
                    goal.map(|g| {
                        PathElement::new(
                            vec![(g, i as f64 - 0.42), (g, i as f64 + 0.42)],
                            BLACK.stroke_width(4),
                        )
                    })
                }),
        )?;
        chart.draw_series(DashedLineSeries::new(
            [(1.0, -0.5), (1.0, n as f64 - 0.5)],
            6,
            5,
            CLASSIC_GREY.stroke_width(2),
        ))?;
        Ok(())
    }
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
    fn ms_labels_pick_their_unit() {
        assert_eq!(format_ms(0.5), "500 µs");
        assert_eq!(format_ms(12.0), "12 ms");
        assert_eq!(format_ms(2_500.0), "2.5 s");
    }
}
