//! `latency_percentiles`: each phase's latency distribution, HdrHistogram
//! style.

use plotters::coord::Shift;
use plotters::prelude::*;

use pushbench_protocol::RunResult;

use super::frame::frame;
use super::line_axes::{
    LineFrame, Series, format_ms, line_chart, line_chart_size, line_legend, line_phases,
    log_bounds, only_note,
};
use super::line_style::draw_line;
use super::render::{Chart, DrawResult};
use super::style::{label_font, phase_look};
use crate::variant_labels::phase_label;

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
                (phase_label(result, p), phase_look(result, i), points)
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
        line_chart_size(&self.series)
    }

    fn caption(&self) -> String {
        format!(
            "Latency (event creation to client receipt) by percentile, HdrHistogram style: \
             the percentile axis is logarithmic toward 99.999%. A transport keeps its colour; \
             its second, third and fourth phase (another client count or rate) are dashed, \
             dotted and sparsely dashed.{}",
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
        let mut chart = line_chart(
            &body,
            &LineFrame {
                caption: None,
                margin: 14,
                margin_right: 50,
                y_label_area: 70,
                x_label_style: label_font(),
                x_desc: "percentile",
                y_desc: "latency",
                x_format: &|x| {
                    PERCENTILE_TICKS
                        .iter()
                        .find(|t| (t.0 / x - 1.0).abs() < 1e-6)
                        .map(|t| t.1.to_owned())
                        .unwrap_or_default()
                },
                y_format: &|ms| format_ms(*ms),
            },
            (1f64..self.x_max).log_scale().with_key_points(ticks),
            (y_min..y_max).log_scale(),
        )?;
        for (_, look, points) in &self.series {
            draw_line(&mut chart, points.clone(), *look, 3)?;
        }
        Ok(())
    }
}
