//! `latency_vs_rtt`: p50 and p99 against the link's round-trip time, one
//! line per transport (and variant), for runs over emulated links.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::frame::{LegendMark, frame};
use super::line_axes::{
    LineFrame, Series, draw_marked_line, format_ms, left_out_note, line_chart, line_legend,
    link_series, log_bounds,
};
use super::line_style::{Dash, LineLook, Marker, draw_line};
use super::render::{Chart, DrawResult};
use super::style::{CLASSIC_GREY, small_font};
use crate::link_points::{LinkPoint, link_lines, links_apply};
use crate::number_format::format_decimal;

/// (RTT, p50, p99), milliseconds.
type RttPoint = (f64, f64, f64);

/// The guides drawn behind the lines: latency as a multiple of the RTT
/// (half a round trip is one push down the link; RFC 6202's long poll
/// after a burst waits one and a half).
const GUIDES: [(f64, &str); 2] = [(0.5, "½ RTT"), (1.5, "1½ RTT")];

/// Latency (p50 and p99) versus the link's RTT, drawn only for runs over
/// links ([`links_apply`]).
#[derive(Debug)]
pub struct LatencyVsRtt {
    series: Vec<Series<RttPoint>>,
    max_rtt_ms: f64,
    /// Lines left out beyond [`super::MAX_LINES`].
    left_out: usize,
}

impl LatencyVsRtt {
    /// The chart of `points`, or `None` when they cross no link.
    pub fn new(points: &[LinkPoint]) -> Option<Self> {
        if !links_apply(points) {
            return None;
        }
        let delivered: Vec<LinkPoint> = points
            .iter()
            .filter(|p| p.p50_ms > 0.0 && p.p99_ms > 0.0)
            .cloned()
            .collect();
        let lines = link_lines(&delivered, |p| p.rtt_ms);
        let (series, left_out) = link_series(&lines, |line| {
            line.iter()
                .map(|p| (p.rtt_ms, p.p50_ms, p.p99_ms))
                .collect()
        });
        let max_rtt_ms = delivered.iter().map(|p| p.rtt_ms).fold(0.0, f64::max);
        Some(LatencyVsRtt {
            series,
            max_rtt_ms,
            left_out,
        })
    }

    /// The lines drawn, by name.
    pub fn lines(&self) -> Vec<&str> {
        self.series.iter().map(|s| s.0.as_str()).collect()
    }
}

/// The guide `y = factor * x` over `0..x_hi`, as points of a line on a
/// log y axis starting at `y_min`.
fn guide(factor: f64, y_min: f64, x_hi: f64) -> Vec<(f64, f64)> {
    (0..=64)
        .map(|i| x_hi * f64::from(i) / 64.0)
        .map(|x| (x, factor * x))
        .filter(|p| p.1 >= y_min)
        .collect()
}

impl Chart for LatencyVsRtt {
    fn stem(&self) -> &'static str {
        "latency_vs_rtt"
    }

    fn size(&self) -> (u32, u32) {
        super::line_axes::line_chart_size(&self.series)
    }

    fn caption(&self) -> String {
        let note = left_out_note(self.left_out);
        format!(
            "Latency versus the link's round-trip time: p50 (left) and p99 (right) per \
             transport, a marker on each link measured; the grey dashed guides are half a \
             round trip (one push down the link) and one and a half (a long poll re-issued \
             after a burst, RFC 6202).{note}"
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let mut legend = line_legend(&self.series);
        let guides = GUIDES.map(|(_, name)| name).join(" and ");
        legend.push((format!("{guides} guides"), CLASSIC_GREY, LegendMark::Dashed));
        let body = frame(root, "Latency vs round-trip time", &legend)?;
        let panels = body.split_evenly((1, 2));
        let (y_min, y_max) = log_bounds(
            self.series
                .iter()
                .flat_map(|s| s.2.iter().flat_map(|p| [p.1, p.2])),
        );
        let x_hi = (self.max_rtt_ms * 1.08).max(1.0);
        let pick_p50: fn(&RttPoint) -> f64 = |p| p.1;
        let pick_p99: fn(&RttPoint) -> f64 = |p| p.2;
        for (panel, (title, pick)) in panels.iter().zip([("p50", pick_p50), ("p99", pick_p99)]) {
            let mut chart = line_chart(
                panel,
                &LineFrame::panel(
                    title,
                    ("round-trip time (ms)", "latency"),
                    &|x| format_decimal(*x),
                    &|ms| format_ms(*ms),
                ),
                0f64..x_hi,
                (y_min..y_max).log_scale(),
            )?;
            for (factor, name) in GUIDES {
                let look = LineLook {
                    dash: Dash::Dashed,
                    marker: Marker::None,
                    ..LineLook::solid(CLASSIC_GREY)
                };
                draw_line(&mut chart, guide(factor, y_min, x_hi), look, 1)?;
                let at = x_hi * 0.9;
                chart.draw_series(std::iter::once(Text::new(
                    name,
                    (at, factor * at),
                    small_font().color(&CLASSIC_GREY),
                )))?;
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link_points::tests::point;

    #[test]
    fn a_line_per_label_through_its_links_in_rtt_order() {
        let mut lost = point("sse", "3g", 300.0, 0.0);
        lost.p50_ms = 0.0; // delivered nothing: no point
        let points = [
            point("ws", "4g", 60.0, 0.0),
            point("ws", "loopback", 0.0, 0.0),
            point("long-poll", "4g", 60.0, 0.0),
            point("ws tls", "4g", 60.0, 0.0),
            lost,
        ];
        let chart = LatencyVsRtt::new(&points).expect("links");
        assert_eq!(chart.lines(), ["long-poll", "ws", "ws tls"]);
        let ws = &chart.series[1];
        assert_eq!(ws.2, [(0.0, 1.0, 2.0), (60.0, 31.0, 92.0)]);
        assert_ne!(ws.1, chart.series[2].1, "ws and ws tls look apart");
        assert_eq!(chart.max_rtt_ms, 60.0);
        let loopback = [point("ws", "loopback", 0.0, 0.0)];
        assert!(LatencyVsRtt::new(&loopback).is_none());
    }

    #[test]
    fn guides_start_where_the_log_axis_does() {
        let g = guide(0.5, 1.0, 64.0);
        assert_eq!(g.first(), Some(&(2.0, 1.0)));
        assert_eq!(g.last(), Some(&(64.0, 32.0)));
    }
}
