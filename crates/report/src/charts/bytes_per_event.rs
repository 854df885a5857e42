//! `bytes_per_event`: where the bytes of a delivered event go, class by
//! class, in each direction.

use plotters::coord::Shift;
use plotters::prelude::*;

use pushbench_protocol::results::PhaseResult;
use pushbench_protocol::{ByteClass, ByteLedger, RunResult};

use super::bar_axes::{BarFrame, bar_chart, bar_chart_height};
use super::frame::{LegendMark, frame};
use super::render::{Chart, DrawResult};
use super::style::{class_color, label_font, small_font};
use crate::figures::{ClassBytes, classes_in, per_event_by_class};
use crate::variant_labels::{phase_label, variant_label};

/// Most bars a panel draws: 24 bars keep the chart under 1,200 pixels
/// tall. A run with more phases (a capacity search, a matrix) gets one
/// bar per transport and variant instead, its phases' bytes added
/// together, and the caption says so.
pub const MAX_BARS: usize = 24;

/// Stacked bars of bytes per delivered event by class, one bar per phase,
/// client-to-server and server-to-client side by side.
#[derive(Debug)]
pub struct BytesPerEvent {
    /// The classes in the legend: the TLS ones only when the run had TLS.
    classes: Vec<ByteClass>,
    labels: Vec<String>,
    sent: Vec<ClassBytes>,
    received: Vec<ClassBytes>,
    /// Phases per bar when the run had more than [`MAX_BARS`] phases.
    grouped: bool,
}

impl BytesPerEvent {
    /// The chart for `result`: a bar per phase, or per transport and
    /// variant when there are more than 24 phases (`MAX_BARS`).
    pub fn new(result: &RunResult) -> Self {
        let grouped = result.phases.len() > MAX_BARS;
        let key = |p: &PhaseResult| {
            if grouped {
                format!("{} {}", p.transport.name(), variant_label(result, p))
                    .trim_end()
                    .to_owned()
            } else {
                phase_label(result, p)
            }
        };
        // Bars in the order their first phase ran; a phase-per-bar chart
        // keeps every phase even when two share a label.
        let mut bars: Vec<(String, Vec<&PhaseResult>)> = Vec::new();
        for phase in &result.phases {
            let label = key(phase);
            match bars.iter_mut().find(|(l, _)| grouped && *l == label) {
                Some((_, members)) => members.push(phase),
                None => bars.push((label, vec![phase])),
            }
        }
        let per_event = |members: &[&PhaseResult], side: fn(&PhaseResult) -> &ByteLedger| {
            let mut ledger = ByteLedger::default();
            for p in members {
                ledger.merge(side(p));
            }
            per_event_by_class(&ledger, members.iter().map(|p| p.events.delivered).sum())
        };
        BytesPerEvent {
            classes: classes_in(result),
            labels: bars
                .iter()
                .map(|(label, members)| {
                    if grouped {
                        format!("{label} ({} phases)", members.len())
                    } else {
                        label.clone()
                    }
                })
                .collect(),
            sent: bars
                .iter()
                .map(|(_, m)| per_event(m, |p| &p.traffic.sent))
                .collect(),
            received: bars
                .iter()
                .map(|(_, m)| per_event(m, |p| &p.traffic.received))
                .collect(),
            grouped,
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
        let bars = if self.grouped {
            format!(
                "one bar per transport and variant, its phases added together (the run has \
                 more than {MAX_BARS} phases; the tables have each)"
            )
        } else {
            "one bar per phase".to_owned()
        };
        format!(
            "Bytes on the wire per delivered event, by class: what the client sends (left) and \
             what it receives (right), {bars}. Each panel has its own scale, written in its \
             title."
        )
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
    let title = format!("{title}: own scale, 0 to {} B", short_bytes(right));
    let mut chart = bar_chart(
        area,
        &BarFrame {
            caption: Some(&title),
            margin_right: 24,
            labels,
            label_style: label_font(),
            x_desc: "bytes per delivered event",
            x_format: &|b| short_bytes(*b),
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
            short_bytes(total),
            (total + right * 0.012, i as f64 - 0.12),
            small_font(),
        )
    }))?;
    Ok(())
}

/// Bytes per event as a bar label: a decimal below 10, where a run's few
/// request bytes per event would otherwise all read 0.
fn short_bytes(bytes: f64) -> String {
    if bytes < 10.0 {
        format!("{bytes:.1}")
    } else {
        format!("{bytes:.0}")
    }
}
