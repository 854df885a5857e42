//! `bandwidth_vs_clients`: what a transport would cost at the classic
//! client counts, from the bytes per event this run measured.

use plotters::coord::Shift;
use plotters::prelude::*;

use pushbench_protocol::{RunResult, Transport};

use super::frame::{LegendMark, frame};
use super::line_axes::{LineFrame, line_chart, log_bounds};
use super::render::{Chart, DrawResult};
use super::style::{CLASSIC_GREY, label_font, transport_color};
use crate::figures::{
    measured_bandwidth_at_one_event_per_second, primary_phases, transport_bytes_per_event,
    transports_in,
};
use crate::model::{CLASSIC_CLIENTS, CLASSIC_HEADER_BYTES};
use crate::number_format::{format_bytes, format_count};

/// Bandwidth versus clients per transport: the model line (measured bytes
/// per event × clients × one event per second) with the classic client
/// counts marked, and the phases actually measured as points.
#[derive(Debug)]
pub struct BandwidthVsClients {
    lines: Vec<(Transport, f64)>,
    measured: Vec<(Transport, f64, f64)>,
}

impl BandwidthVsClients {
    /// The chart for `result`.
    pub fn new(result: &RunResult) -> Self {
        BandwidthVsClients {
            lines: transports_in(result)
                .into_iter()
                .filter_map(|t| transport_bytes_per_event(result, t).map(|b| (t, b)))
                .collect(),
            measured: primary_phases(result)
                .filter_map(|p| {
                    measured_bandwidth_at_one_event_per_second(p)
                        .map(|bw| (p.transport, f64::from(p.clients.max(1)), bw))
                })
                .collect(),
        }
    }
}

impl Chart for BandwidthVsClients {
    fn stem(&self) -> &'static str {
        "bandwidth_vs_clients"
    }

    fn caption(&self) -> String {
        "Bandwidth versus clients at one event per second per client: lines are the \
         measured bytes per event × clients (squares at the classic 1,000 / 10,000 / 100,000), \
         dots are the phases this run measured, normalised to one event per second; \
         dashed, the classic model (871 B of poll headers against a 2 B WebSocket frame); \
         when the run compared variants, the first variant's phases."
            .into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let mut legend: Vec<_> = self
            .lines
            .iter()
            .map(|(t, _)| (t.name().to_owned(), transport_color(*t), LegendMark::Line))
            .collect();
        legend.push((
            "classic model: 871 B/poll (top), 2 B/WebSocket frame (bottom)".to_owned(),
            CLASSIC_GREY,
            LegendMark::Dashed,
        ));
        let body = frame(
            root,
            "Bandwidth vs clients (1 event/s per client, both directions)",
            &legend,
        )?;
        let x_max = 200_000.0;
        let values = self
            .lines
            .iter()
            .flat_map(|(_, b)| [*b, b * x_max])
            .chain([2.0, CLASSIC_HEADER_BYTES as f64 * x_max])
            .chain(self.measured.iter().map(|m| m.2));
        let (y_min, y_max) = log_bounds(values);
        let mut chart = line_chart(
            &body,
            &LineFrame {
                caption: None,
                margin: 14,
                margin_right: 14,
                y_label_area: 84,
                x_label_style: label_font(),
                x_desc: "clients",
                y_desc: "bandwidth",
                x_format: &|x| format_count(x.round() as u64),
                y_format: &|b| format!("{}/s", format_bytes(*b)),
            },
            (1f64..x_max)
                .log_scale()
                .with_key_points(vec![1.0, 10.0, 100.0, 1e3, 1e4, 1e5]),
            (y_min..y_max).log_scale(),
        )?;
        for (transport, bytes_per_event) in &self.lines {
            let color = transport_color(*transport);
            chart.draw_series(LineSeries::new(
                [1.0, x_max].map(|n| (n, bytes_per_event * n)),
                color.stroke_width(2),
            ))?;
            chart.draw_series(CLASSIC_CLIENTS.map(|n| {
                let n = n as f64;
                Rectangle::new(
                    [
                        (n / 1.12, bytes_per_event * n / 1.25),
                        (n * 1.12, bytes_per_event * n * 1.25),
                    ],
                    color.filled(),
                )
            }))?;
        }
        chart.draw_series(
            self.measured
                .iter()
                .map(|(t, n, bw)| Circle::new((*n, *bw), 6, transport_color(*t).filled())),
        )?;
        // The classic claim as reference: 871 header bytes per poll against
        // a 2-byte WebSocket frame, one event per second.
        for bytes_per_event in [CLASSIC_HEADER_BYTES as f64, 2.0] {
            chart.draw_series(DashedLineSeries::new(
                [1.0, x_max].map(|n| (n, bytes_per_event * n)),
                8,
                6,
                CLASSIC_GREY.stroke_width(2),
            ))?;
        }
        Ok(())
    }
}
