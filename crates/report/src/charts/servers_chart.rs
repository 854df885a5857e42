//! `servers-<technique>`: one technique across the servers that offer it,
//! a bar per server in three panels: the highest sustained deliveries per
//! second (with the publisher's ceiling marked), and p99 and server CPU
//! per delivery at the common load.

use plotters::coord::Shift;
use plotters::prelude::*;

use pushbench_protocol::server_results::{ServersResult, TechniqueResult};
use pushbench_protocol::{TargetKind, Transport};

use super::bar_axes::{BarFrame, bar_chart};
use super::frame::{LegendMark, frame};
use super::line_style::LineLook;
use super::render::{Chart, DrawResult};
use super::style::{label_font, small_font};
use crate::number_format::format_decimal;

/// `pushbench serve`'s bars.
const OURS: RGBColor = RGBColor(44, 160, 44);
/// Every other server's bars.
const THEIRS: RGBColor = RGBColor(31, 119, 180);

/// One server's bars: its label, whether it is `pushbench serve`, and
/// each panel's figure (`None`: not measured).
#[derive(Debug)]
struct ServerBars {
    label: String,
    ours: bool,
    figures: [Option<f64>; 3],
    /// The publisher's ceiling in deliveries per second (the ceiling's
    /// events per second times the clients), marked on the first panel.
    ceiling: Option<f64>,
}

/// One technique's chart.
#[derive(Debug)]
pub struct ServersChart {
    transport: Transport,
    clients: u32,
    common_rate: Option<f64>,
    servers: Vec<ServerBars>,
}

impl ServersChart {
    /// The chart of `technique` in `result`.
    pub fn new(result: &ServersResult, technique: &TechniqueResult) -> Self {
        let clients = result.settings.clients;
        let servers = technique
            .servers
            .iter()
            .map(|s| {
                let ceiling = result
                    .server(s.kind)
                    .and_then(|e| e.publisher_ceiling.as_ref())
                    .map(|c| c.events_per_second * f64::from(clients));
                let bound = s.capacity.as_ref().is_some_and(|c| c.publisher_bound);
                ServerBars {
                    label: format!(
                        "{}{}",
                        s.kind.title(),
                        if bound { " (publisher-bound)" } else { "" }
                    ),
                    ours: s.kind == TargetKind::Pushbench,
                    figures: [
                        s.capacity
                            .as_ref()
                            .filter(|c| c.max_rate.is_some())
                            .map(|c| c.max_deliveries_per_second),
                        s.common.as_ref().map(|c| c.p99_ms),
                        s.common.as_ref().map(|c| c.cpu_us_per_delivery),
                    ],
                    ceiling,
                }
            })
            .collect();
        ServersChart {
            transport: technique.transport,
            clients,
            common_rate: technique.common_rate,
            servers,
        }
    }

    /// The file stem of `transport`'s chart.
    pub fn stem_of(transport: Transport) -> &'static str {
        match transport {
            Transport::ShortPoll => "servers-short-poll",
            Transport::LongPoll => "servers-long-poll",
            Transport::Stream => "servers-stream",
            Transport::Sse => "servers-sse",
            Transport::Ws => "servers-ws",
        }
    }

    /// The three panels: title, and how a value reads.
    fn panels(&self) -> [(String, &'static str); 3] {
        let at = self
            .common_rate
            .map_or("the common load".to_owned(), |r| format!("{r} ev/s"));
        [
            (
                format!(
                    "highest sustained deliveries/s, {} clients (more is better)",
                    self.clients
                ),
                "deliveries/s",
            ),
            (format!("p99 latency at {at} (less is better)"), "ms"),
            (
                format!("server CPU per delivery at {at} (less is better)"),
                "µs",
            ),
        ]
    }
}

/// A bar's value: whole from 100 up (no separator, which a small font
/// blurs into a decimal point), two decimals below.
fn bar_value(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Pixels per panel: a caption, the axis and 40 per bar.
fn panel_height(bars: usize) -> u32 {
    110 + 40 * bars.max(1) as u32
}

impl Chart for ServersChart {
    fn stem(&self) -> &'static str {
        Self::stem_of(self.transport)
    }

    fn size(&self) -> (u32, u32) {
        (1200, 44 + 50 + 3 * panel_height(self.servers.len()))
    }

    fn caption(&self) -> String {
        format!(
            "{}: every server that offers it, measured in one run with the same load; \
             pushbench serve in green. Top: the highest sustained deliveries per second (the \
             black tick: the publisher's ceiling into that server, as deliveries); middle and \
             bottom: p99 latency and server CPU per delivery at the common load. A missing bar \
             was not measured.",
            self.transport
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let legend = [
            ("pushbench serve".to_owned(), OURS, LegendMark::Box),
            ("other servers".to_owned(), THEIRS, LegendMark::Box),
            (
                "publisher's ceiling".to_owned(),
                BLACK,
                LegendMark::Look(LineLook::solid(BLACK)),
            ),
        ];
        let body = frame(
            root,
            &format!("{}: the servers side by side", self.transport),
            &legend,
        )?;
        let labels: Vec<String> = self.servers.iter().map(|s| s.label.clone()).collect();
        let panels = body.split_evenly((3, 1));
        for (p, (area, (caption, unit))) in panels.iter().zip(self.panels()).enumerate() {
            let ceilings = |s: &ServerBars| if p == 0 { s.ceiling } else { None };
            // The bars set the axis; a ceiling far beyond them is written
            // at the right edge instead of squashing them.
            let longest = self
                .servers
                .iter()
                .filter_map(|s| s.figures[p])
                .fold(0.0, f64::max)
                .max(1e-3);
            let right = self
                .servers
                .iter()
                .filter_map(ceilings)
                .filter(|c| *c <= longest * 3.0)
                .fold(longest, f64::max)
                * 1.25;
            let mut chart = bar_chart(
                area,
                &BarFrame {
                    caption: Some(&caption),
                    margin_right: 40,
                    labels: &labels,
                    label_style: label_font(),
                    x_desc: unit,
                    x_format: &|x| format_decimal(*x),
                },
                0f64..right,
            )?;
            chart.draw_series(self.servers.iter().enumerate().filter_map(|(i, s)| {
                let v = s.figures[p]?;
                let y = i as f64;
                let color = if s.ours { OURS } else { THEIRS };
                Some(Rectangle::new(
                    [(0.0, y - 0.3), (v, y + 0.3)],
                    color.filled(),
                ))
            }))?;
            chart.draw_series(self.servers.iter().enumerate().map(|(i, s)| {
                let mut text = s.figures[p].map_or("not measured".to_owned(), bar_value);
                if let Some(c) = ceilings(s).filter(|c| *c >= right) {
                    text.push_str(&format!("; publisher's ceiling {} →", bar_value(c)));
                }
                let x = s.figures[p].unwrap_or(0.0) + right * 0.01;
                Text::new(text, (x, i as f64 - 0.12), small_font())
            }))?;
            chart.draw_series(self.servers.iter().enumerate().filter_map(|(i, s)| {
                let c = ceilings(s).filter(|c| *c < right)?;
                Some(PathElement::new(
                    vec![(c, i as f64 - 0.42), (c, i as f64 + 0.42)],
                    BLACK.stroke_width(4),
                ))
            }))?;
        }
        Ok(())
    }
}
