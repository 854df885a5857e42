//! `capacity`: a capacity search's achieved deliveries and p99 against the
//! offered load.

use plotters::coord::Shift;
use plotters::prelude::*;

use pushbench_protocol::RunResult;

use super::frame::{LegendMark, frame};
use super::line_axes::{
    LineFrame, Series, draw_marked_line, format_ms, format_short, line_chart, line_legend,
    log_bounds,
};
use super::line_style::{Dash, LineLook, Marker, draw_markers};
use super::render::{Chart, DrawResult};
use super::style::{CLASSIC_GREY, small_font, transport_color};

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
                let look = LineLook {
                    marker: Marker::Circle,
                    ..LineLook::solid(transport_color(t.transport))
                };
                (t.transport.name().to_owned(), look, points)
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
        let mut legend = line_legend(&self.series);
        let grey = |marker| LineLook {
            color: CLASSIC_GREY,
            dash: Dash::Solid,
            marker,
        };
        legend.extend([
            (
                "held every criterion".to_owned(),
                CLASSIC_GREY,
                LegendMark::Point(grey(Marker::Circle)),
            ),
            (
                "broke one".to_owned(),
                CLASSIC_GREY,
                LegendMark::Point(grey(Marker::Cross)),
            ),
            (
                "achieved = offered".to_owned(),
                CLASSIC_GREY,
                LegendMark::Dashed,
            ),
        ]);
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
            let is_latency = title == "p99";
            let mut chart = line_chart(
                panel,
                &LineFrame {
                    caption: Some(title),
                    margin: 12,
                    margin_right: 12,
                    y_label_area: 74,
                    x_label_style: small_font(),
                    x_desc: "offered deliveries/s",
                    y_desc,
                    x_format: &|x| format_short(*x),
                    y_format: &|y| {
                        if is_latency {
                            format_ms(*y)
                        } else {
                            format_short(*y)
                        }
                    },
                },
                (x_min..x_max).log_scale(),
                (y_min..y_max).log_scale(),
            )?;
            if !is_latency {
                chart.draw_series(DashedLineSeries::new(
                    [(x_min, x_min), (x_max, x_max)],
                    8,
                    6,
                    CLASSIC_GREY.stroke_width(2),
                ))?;
            }
            for (_, look, points) in &self.series {
                // Held every criterion: a dot; broke one: a cross.
                draw_marked_line(
                    &mut chart,
                    points,
                    |p| (p.0, pick(p)),
                    |p| p.3,
                    (*look, 2, 10),
                )?;
                let broke: Vec<(f64, f64)> = points
                    .iter()
                    .filter(|p| !p.3)
                    .map(|p| (p.0, pick(p)))
                    .collect();
                let cross = LineLook {
                    marker: Marker::Cross,
                    ..*look
                };
                draw_markers(&mut chart, &broke, cross, 12)?;
            }
        }
        Ok(())
    }
}
