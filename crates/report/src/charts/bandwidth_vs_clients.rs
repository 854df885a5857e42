//! `bandwidth_vs_clients`: what each technique would cost from 1 to 200,000
//! clients at one event per second each, from what an exchange and an event
//! cost it in this run, beside the classic comparison.

use plotters::coord::Shift;
use plotters::prelude::*;

use pushbench_protocol::{RunResult, Transport};

use super::frame::{LegendMark, frame, height_for_legend};
use super::line_axes::{LineFrame, format_short, line_chart, log_bounds};
use super::line_style::{Dash, LineLook, Marker, draw_line, draw_markers};
use super::render::{Chart, DrawResult};
use super::style::{CLASSIC_GREY, label_font, small_font, transport_color, transport_marker};
use crate::figures::{primary_phases, transports_in};
use crate::model::{
    self, CLASSIC_CLIENTS, CLASSIC_FRAME_BYTES, CLASSIC_HEADER_BYTES, Cost, Costs, Load,
};
use crate::number_format::format_decimal;

/// The right end of the client axis.
const MAX_CLIENTS: f64 = 200_000.0;

/// Bandwidth versus clients, in Mbit/s of 2^20 bits (the classic table's
/// unit), on log axes: a line per technique from the model with this run's
/// costs per exchange and per event, at one event per second per client,
/// short polls at this run's interval; markers at the classic 1,000 /
/// 10,000 / 100,000; the classic model's polling and WebSocket lines
/// (871 B per poll, 2 B per frame) in grey; hollow rings, the phases this
/// run measured at one event per second, at their real bandwidth.
#[derive(Debug)]
pub struct BandwidthVsClients {
    lines: Vec<(Transport, Cost)>,
    /// The load per client the lines are drawn at (clients left at 1).
    load: Load,
    /// Phases at one event per second: transport, clients, bytes/s.
    measured: Vec<(Transport, f64, f64)>,
}

impl BandwidthVsClients {
    /// The chart for `result`.
    pub fn new(result: &RunResult) -> Self {
        let costs = Costs::measured(result, "this run");
        BandwidthVsClients {
            lines: transports_in(result)
                .into_iter()
                .filter_map(|t| costs.get(t).map(|c| (t, c)))
                .collect(),
            load: Load::one_event_per_second_of(result, 1),
            measured: primary_phases(result)
                .filter(|p| p.rate == 1.0 && p.duration_s > 0.0)
                .map(|p| {
                    (
                        p.transport,
                        f64::from(p.clients.max(1)),
                        p.traffic.total() as f64 / p.duration_s,
                    )
                })
                .collect(),
        }
    }

    /// The look of `transport`'s line: its colour and marker, and a dash
    /// pattern of its own, so that SSE, streaming and WebSocket, a few
    /// percent apart, stay apart.
    fn look(transport: Transport) -> LineLook {
        let dash = match transport {
            Transport::ShortPoll | Transport::Ws => Dash::Solid,
            Transport::LongPoll | Transport::Sse => Dash::Dashed,
            Transport::Stream => Dash::Dotted,
        };
        LineLook {
            color: transport_color(transport),
            dash,
            marker: transport_marker(transport),
        }
    }

    /// The legend: a line per technique with its costs, the classic lines,
    /// the measured rings.
    fn legend(&self) -> Vec<(String, RGBColor, LegendMark)> {
        let mut legend: Vec<_> = self
            .lines
            .iter()
            .map(|(t, c)| {
                let cost = if model::exchanges_per_second(*t, &self.load) > 0.0 {
                    format!(
                        "{:.0} B/exchange + {:.0} B/event",
                        c.per_exchange, c.per_event
                    )
                } else {
                    format!("{:.0} B/event", c.per_event)
                };
                (
                    format!("{} ({cost})", t.name()),
                    transport_color(*t),
                    LegendMark::Look(Self::look(*t)),
                )
            })
            .collect();
        legend.push((
            format!(
                "classic: {CLASSIC_HEADER_BYTES} B/poll, 1 poll/s (upper), \
                 {CLASSIC_FRAME_BYTES} B/WebSocket frame (lower)"
            ),
            CLASSIC_GREY,
            LegendMark::Dashed,
        ));
        if !self.measured.is_empty() {
            legend.push((
                "measured phases at 1 event/s".to_owned(),
                CLASSIC_GREY,
                LegendMark::Point(LineLook {
                    marker: Marker::Ring,
                    ..LineLook::solid(CLASSIC_GREY)
                }),
            ));
        }
        legend
    }

    /// Bytes per second of `transport` at `clients`.
    fn bandwidth(&self, transport: Transport, cost: &Cost, clients: f64) -> f64 {
        model::bytes_per_second_per_client(transport, cost, &self.load) * clients
    }
}

impl Chart for BandwidthVsClients {
    fn stem(&self) -> &'static str {
        "bandwidth_vs_clients"
    }

    fn size(&self) -> (u32, u32) {
        (1100, height_for_legend(&self.legend()) + 40)
    }

    fn caption(&self) -> String {
        format!(
            "Bandwidth versus clients at one event per second per client, both directions, in \
             Mbit/s of 2^20 bits as the classic table counts them (SI Mbit/s are 4.9 % more): \
             the model with what an exchange and an event cost each technique in this run; a \
             short poll every {} s ({} events per poll) pays its exchange whether it brings an \
             event or not, a long poll one exchange per event, the persistent techniques their \
             framing per event. Markers at the classic 1,000 / 10,000 / 100,000 clients; grey \
             dashed, the classic model (871 B of heads per poll once a second, 2 B per \
             WebSocket frame); rings, this run's phases at one event per second, at their \
             measured bandwidth.",
            format_decimal(self.load.poll_interval_s),
            format_decimal(self.load.events_per_poll())
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let body = frame(
            root,
            &format!(
                "Bandwidth vs clients at 1 event/s per client (short polls every {} s)",
                format_decimal(self.load.poll_interval_s)
            ),
            &self.legend(),
        )?;
        let mbps = model::classic_mbps;
        let classic = [CLASSIC_HEADER_BYTES as f64, CLASSIC_FRAME_BYTES as f64];
        let values = self
            .lines
            .iter()
            .flat_map(|(t, c)| [1.0, MAX_CLIENTS].map(|n| self.bandwidth(*t, c, n)))
            .chain(classic.iter().flat_map(|b| [*b, b * MAX_CLIENTS]))
            .chain(self.measured.iter().map(|m| m.2))
            .map(mbps);
        let (y_min, y_max) = log_bounds(values);
        let mut chart = line_chart(
            &body,
            &LineFrame {
                caption: None,
                margin: 14,
                margin_right: 20,
                y_label_area: 84,
                x_label_style: label_font(),
                x_desc: "clients (log scale)",
                y_desc: "Mbit/s, 2^20 bits (log scale)",
                x_format: &|x| format_short(*x),
                y_format: &|m| format_mbps(*m),
            },
            (1f64..MAX_CLIENTS)
                .log_scale()
                .with_key_points(vec![1.0, 10.0, 100.0, 1e3, 1e4, 1e5]),
            (y_min..y_max).log_scale(),
        )?;
        // The classic claim as reference: 871 header bytes per poll against
        // a 2-byte WebSocket frame, one message per second.
        for bytes_per_second in classic {
            chart.draw_series(DashedLineSeries::new(
                [1.0, MAX_CLIENTS].map(|n| (n, mbps(bytes_per_second * n))),
                8,
                6,
                CLASSIC_GREY.stroke_width(2),
            ))?;
        }
        for (transport, cost) in &self.lines {
            let look = Self::look(*transport);
            let at = |n: f64| (n, mbps(self.bandwidth(*transport, cost, n)));
            draw_line(&mut chart, vec![at(1.0), at(MAX_CLIENTS)], look, 3)?;
            let marks: Vec<(f64, f64)> = CLASSIC_CLIENTS.map(|n| at(n as f64)).to_vec();
            draw_markers(&mut chart, &marks, look, 11)?;
        }
        chart.draw_series(self.measured.iter().map(|(t, n, bw)| {
            Circle::new((*n, mbps(*bw)), 8, transport_color(*t).stroke_width(2))
        }))?;
        // The classic table's own figures, written above its lines.
        for (bytes, label) in [
            (classic[0], "6.6 / 66 / 665"),
            (classic[1], "0.015 / 0.153 / 1.526"),
        ] {
            chart.draw_series(std::iter::once(Text::new(
                format!("classic: {label} Mbit/s at 1k / 10k / 100k clients"),
                (1.3, mbps(bytes * 1.3) * 1.6),
                small_font().color(&CLASSIC_GREY),
            )))?;
        }
        Ok(())
    }
}

/// An axis label in Mbit/s: as many decimals as a power of ten below 1
/// needs (`0.001`), none it does not need above.
fn format_mbps(mbps: f64) -> String {
    if mbps > 0.0 && mbps < 1.0 {
        let places = (-mbps.log10()).ceil() as usize;
        format!("{mbps:.places$}")
    } else {
        format_decimal(mbps)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn small_rates_keep_their_digits() {
        assert_eq!(format_mbps(0.0001), "0.0001");
        assert_eq!(format_mbps(0.01), "0.01");
        assert_eq!(format_mbps(100.0), "100");
    }

    use super::*;

    #[test]
    fn persistent_techniques_a_few_percent_apart_still_differ_in_look() {
        let looks: Vec<LineLook> = Transport::ALL
            .into_iter()
            .map(BandwidthVsClients::look)
            .collect();
        for (i, a) in looks.iter().enumerate() {
            for b in &looks[i + 1..] {
                assert!(a.color != b.color && a.marker != b.marker, "{a:?} {b:?}");
            }
        }
        // SSE, streaming and WebSocket: three dash patterns.
        let dashes = [Transport::Sse, Transport::Stream, Transport::Ws]
            .map(|t| BandwidthVsClients::look(t).dash);
        assert!(dashes[0] != dashes[1] && dashes[1] != dashes[2] && dashes[0] != dashes[2]);
    }
}
