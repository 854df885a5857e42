//! `bytes_per_event`: where the bytes of a delivered event go, class by
//! class, in each direction.

use plotters::coord::Shift;
use plotters::prelude::*;

use pushbench_protocol::{ByteClass, RunResult};

use super::bar_axes::{BarFrame, bar_chart, bar_chart_height};
use super::frame::{LegendMark, frame};
use super::render::{Chart, DrawResult};
use super::style::{class_color, label_font, small_font};
use crate::figures::{ClassBytes, classes_in, per_event_by_class};
use crate::variant_labels::phase_label;

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
