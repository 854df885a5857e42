//! `bytes_vs_loss`: bytes per event, retransmissions included, against the
//! link's loss rate, one line per transport (and variant).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::frame::frame;
use super::line_axes::{
    LineFrame, Series, draw_marked_line, format_short, left_out_note, line_chart, line_chart_size,
    line_legend, link_series, log_bounds,
};
use super::render::{Chart, DrawResult};
use crate::link_points::{LinkPoint, link_lines, links_apply, median};
use crate::number_format::format_decimal;

/// (loss in percent, all bytes per event, retransmitted bytes per event).
type LossPoint = (f64, f64, f64);

/// Bytes per event (all of them, and the retransmitted ones) versus the
/// link's loss rate, drawn for runs over links of at least two loss rates.
#[derive(Debug)]
pub struct BytesVsLoss {
    series: Vec<Series<LossPoint>>,
    max_loss_percent: f64,
    left_out: usize,
}

/// A line's points: one per loss rate, the median over its links of that
/// rate (links differ in RTT and rate too, which move a poll's bytes
/// little and a stream's not at all).
fn loss_points(line: &[&LinkPoint]) -> Vec<LossPoint> {
    let mut out: Vec<LossPoint> = Vec::new();
    for (i, p) in line.iter().enumerate() {
        if i > 0 && line[i - 1].loss == p.loss {
            continue;
        }
        let same = || line.iter().filter(|q| q.loss == p.loss);
        let all = median(same().map(|q| q.bytes_per_event + q.retransmitted_per_event));
        let retransmitted = median(same().map(|q| q.retransmitted_per_event));
        if let (Some(all), Some(retransmitted)) = (all, retransmitted) {
            out.push((p.loss * 100.0, all, retransmitted));
        }
    }
    out
}

impl BytesVsLoss {
    /// The chart of `points`, or `None` when they cross no link or links
    /// of a single loss rate.
    pub fn new(points: &[LinkPoint]) -> Option<Self> {
        let mut losses: Vec<f64> = points.iter().map(|p| p.loss).collect();
        losses.sort_by(f64::total_cmp);
        losses.dedup();
        if !links_apply(points) || losses.len() < 2 {
            return None;
        }
        let delivered: Vec<LinkPoint> = points
            .iter()
            .filter(|p| p.bytes_per_event > 0.0)
            .cloned()
            .collect();
        let lines = link_lines(&delivered, |p| p.loss);
        let (series, left_out) = link_series(&lines, loss_points);
        Some(BytesVsLoss {
            series,
            max_loss_percent: losses.last().copied().unwrap_or(0.0) * 100.0,
            left_out,
        })
    }

    /// The lines drawn, by name, with their points.
    pub fn lines(&self) -> Vec<(&str, &[LossPoint])> {
        self.series
            .iter()
            .map(|s| (s.0.as_str(), s.2.as_slice()))
            .collect()
    }
}

impl Chart for BytesVsLoss {
    fn stem(&self) -> &'static str {
        "bytes_vs_loss"
    }

    fn size(&self) -> (u32, u32) {
        line_chart_size(&self.series)
    }

    fn caption(&self) -> String {
        format!(
            "Bytes on the wire per delivered event against the link's random loss: all of \
             them with the retransmissions (left) and the retransmitted bytes alone (right, \
             none at 0 % loss), per transport; where several links share a loss rate, the \
             median of them.{}",
            left_out_note(self.left_out)
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let legend = line_legend(&self.series);
        let body = frame(root, "Bytes per event vs packet loss", &legend)?;
        let panels = body.split_evenly((1, 2));
        let x_hi = (self.max_loss_percent * 1.1).max(0.1);
        let pick_all: fn(&LossPoint) -> f64 = |p| p.1;
        let pick_retransmitted: fn(&LossPoint) -> f64 = |p| p.2;
        for (panel, (title, pick)) in panels.iter().zip([
            ("all bytes, retransmissions included", pick_all),
            ("retransmitted bytes", pick_retransmitted),
        ]) {
            let (y_min, y_max) = log_bounds(self.series.iter().flat_map(|s| s.2.iter().map(pick)));
            let mut chart = line_chart(
                panel,
                &LineFrame::panel(
                    title,
                    ("packet loss (%)", "bytes per event"),
                    &|x| format_decimal(*x),
                    &|b| format_short(*b),
                ),
                0f64..x_hi,
                (y_min..y_max).log_scale(),
            )?;
            for (_, look, points) in &self.series {
                // A log axis has no 0: a line without retransmissions at
                // some loss starts at the first that had them.
                let kept: Vec<LossPoint> =
                    points.iter().copied().filter(|p| pick(p) > 0.0).collect();
                draw_marked_line(
                    &mut chart,
                    &kept,
                    |p| (p.0, pick(p)),
                    |_| true,
                    (*look, 2, 9),
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link_points::tests::point;

    #[test]
    fn a_point_per_loss_rate_the_median_of_its_links() {
        let mut cable = point("short-poll", "cable", 40.0, 0.0);
        cable.bytes_per_event = 400.0;
        let points = [
            point("short-poll", "lossy", 50.0, 0.02),
            point("short-poll", "lan", 1.0, 0.0),
            cable,
            point("short-poll", "4g", 60.0, 0.0),
            point("ws", "lossy", 50.0, 0.02),
        ];
        let chart = BytesVsLoss::new(&points).expect("two loss rates");
        let lines = chart.lines();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            ("short-poll", &[(0.0, 200.0, 0.0), (2.0, 220.0, 20.0)][..])
        );
        assert_eq!(lines[1], ("ws", &[(2.0, 220.0, 20.0)][..]));
        assert_eq!(chart.max_loss_percent, 2.0);
        let no_loss = [point("ws", "lan", 1.0, 0.0), point("ws", "4g", 60.0, 0.0)];
        assert!(BytesVsLoss::new(&no_loss).is_none(), "one loss rate");
    }
}
