//! `peers`: pushbench beside its peers, one ratio per comparison against
//! its goal.

use plotters::coord::Shift;
use plotters::prelude::*;

use pushbench_protocol::peer_results::{PeerComparison, PeersResult};

use super::bar_axes::{BarFrame, bar_chart, bar_chart_height};
use super::frame::{LegendMark, frame};
use super::line_axes::log_bounds;
use super::line_style::LineLook;
use super::render::{Chart, DrawResult};
use super::style::{CLASSIC_GREY, label_font, small_font};
use crate::number_format::format_decimal;

/// `pushbench peers`: one bar per comparison, how many times better
/// pushbench did (pushbench ÷ peer for a rate, peer ÷ pushbench for a
/// latency or a cost, see `PeerComparison::ratio`) on a log axis, with its
/// goal marked.
#[derive(Debug)]
pub struct PeersChart {
    stem: &'static str,
    bars: Vec<(String, f64, Option<f64>)>,
}

/// A bar whose goal was met.
const MET: RGBColor = RGBColor(44, 160, 44);
/// A bar whose goal was missed.
const MISSED: RGBColor = RGBColor(214, 39, 40);
/// A bar without a goal, for information.
const NO_GOAL: RGBColor = RGBColor(31, 119, 180);

impl PeersChart {
    /// The chart for `result` (`peers.svg`).
    pub fn new(result: &PeersResult) -> Self {
        Self::of(&result.comparisons, "peers")
    }

    /// The chart of `comparisons`, written as `<stem>.svg` and `.png`
    /// (`pushbench servers` draws its ratios with it).
    pub fn of(comparisons: &[PeerComparison], stem: &'static str) -> Self {
        PeersChart {
            stem,
            bars: comparisons
                .iter()
                .map(|c| (c.label.clone(), c.ratio, c.goal))
                .collect(),
        }
    }
}

impl Chart for PeersChart {
    fn stem(&self) -> &'static str {
        self.stem
    }

    fn size(&self) -> (u32, u32) {
        (1200, bar_chart_height(self.bars.len()).clamp(320, 900))
    }

    fn caption(&self) -> String {
        "pushbench beside its peers, measured in one run: each bar is how many times better \
         pushbench did, pushbench ÷ peer for a rate (more is better) and peer ÷ pushbench for \
         a latency or a CPU cost (less is better), so above 1 pushbench is better either way; \
         the black tick is the goal (green bar: met, red: missed, blue: no goal), the dashed \
         line parity."
            .into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let legend = [
            ("goal met".to_owned(), MET, LegendMark::Box),
            ("goal missed".to_owned(), MISSED, LegendMark::Box),
            ("no goal".to_owned(), NO_GOAL, LegendMark::Box),
            (
                "goal".to_owned(),
                BLACK,
                LegendMark::Look(LineLook::solid(BLACK)),
            ),
            ("parity (1×)".to_owned(), CLASSIC_GREY, LegendMark::Dashed),
        ];
        let body = frame(
            root,
            "How many times better pushbench did than each peer (above 1: better)",
            &legend,
        )?;
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
                x_desc: "times better, log scale: pushbench ÷ peer for a rate, \
                         peer ÷ pushbench for a latency or CPU cost",
                x_format: &|x| format!("{}×", format_decimal(*x)),
            },
            (lo..hi).log_scale(),
        )?;
        chart.draw_series(self.bars.iter().enumerate().map(|(i, (_, ratio, goal))| {
            let y = i as f64;
            // Green: goal met; red: missed; blue: no goal, for information.
            let color = match goal {
                Some(g) if ratio >= g => MET,
                Some(_) => MISSED,
                None => NO_GOAL,
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
