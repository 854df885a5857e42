//! `peers`: pushbench beside its peers, one ratio per comparison against
//! its goal.

use plotters::coord::Shift;
use plotters::prelude::*;

use pushbench_protocol::peer_results::PeersResult;

use super::bar_axes::{BarFrame, bar_chart, bar_chart_height};
use super::frame::frame;
use super::line_axes::log_bounds;
use super::render::{Chart, DrawResult};
use super::style::{CLASSIC_GREY, label_font, small_font};
use crate::number_format::format_decimal;

/// `pushbench peers`: one bar per comparison, the ratio (above 1:
/// pushbench better) on a log axis, with its goal marked.
#[derive(Debug)]
pub struct PeersChart {
    bars: Vec<(String, f64, Option<f64>)>,
}

impl PeersChart {
    /// The chart for `result`.
    pub fn new(result: &PeersResult) -> Self {
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
                x_format: &|x| format!("{}×", format_decimal(*x)),
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
