//! `latency_vs_rate`: p50 and p99 against the event rate, for runs that
//! swept rates.

use plotters::coord::Shift;
use plotters::prelude::*;

use pushbench_protocol::results::PhaseResult;
use pushbench_protocol::{RunResult, Transport};

use super::frame::frame;
use super::line_axes::{
    LineFrame, Series, draw_marked_line, format_ms, format_short, line_chart, line_chart_size,
    line_legend, line_phases, log_bounds, log_ticks, only_note,
};
use super::render::{Chart, DrawResult};
use super::style::transport_look;
use crate::figures::transports_in;
use crate::variant_labels::variant_label;

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
                series.push((name, transport_look(transport, rank, true), points));
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
        line_chart_size(&self.series)
    }

    fn caption(&self) -> String {
        format!(
            "Latency versus event rate: p50 (left) and p99 (right) per transport, a marker on \
             each rate measured (ticks at 1, 2 and 5 per decade, not at the rates).{}",
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
        // Ticks at round values, few enough for a half-width panel: the
        // measured rates are the markers, and they crowd (3,460, 3,840,
        // 4,160 in a capacity search) too much to label each.
        let ticks = log_ticks(x_lo, x_hi, 8);
        for (panel, (title, pick)) in panels.iter().zip([
            (
                "p50",
                (|p: &(f64, f64, f64)| p.1) as fn(&(f64, f64, f64)) -> f64,
            ),
            ("p99", |p: &(f64, f64, f64)| p.2),
        ]) {
            let mut chart = line_chart(
                panel,
                &LineFrame::panel(
                    title,
                    ("events per second", "latency"),
                    &|r| format_short(*r),
                    &|ms| format_ms(*ms),
                ),
                (x_lo..x_hi).log_scale().with_key_points(ticks.clone()),
                (y_min..y_max).log_scale(),
            )?;
            for (_, look, points) in &self.series {
                draw_marked_line(
                    &mut chart,
                    points,
                    |p| (p.0, pick(p)),
                    |_| true,
                    (*look, 2, 9),
                )?;
            }
        }
        Ok(())
    }
}
