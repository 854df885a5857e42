//! `overhead`: all bytes on the wire over the payload bytes, per phase.

use plotters::coord::Shift;
use plotters::prelude::*;

use pushbench_protocol::RunResult;

use super::bar_axes::{BarFrame, bar_chart};
use super::frame::frame;
use super::render::{Chart, DrawResult};
use super::style::{label_font, phase_color};
use crate::number_format::format_decimal;
use crate::variant_labels::phase_label;

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
                x_format: &|x| format_decimal(*x),
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
