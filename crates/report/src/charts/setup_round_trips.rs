//! `setup_round_trips`: how many round trips each transport's connection
//! setup takes (TCP connect, then TLS 1.3, the WebSocket upgrade or the
//! HTTP/2 handshake), measured over links slow enough to count them.

use plotters::coord::Shift;
use plotters::prelude::*;
use pushbench_protocol::Transport;

use super::bar_axes::{BarFrame, bar_chart, bar_chart_height};
use super::frame::{LegendMark, frame};
use super::render::{Chart, DrawResult};
use super::style::{CLASSIC_GREY, label_font, transport_color};
use crate::link_points::{LinkPoint, MIN_SETUP_RTT_MS, SetupBar, links_apply, setup_bars};
use crate::number_format::format_decimal;

/// Connection setup in round trips per transport (and variant): the TCP
/// connect in grey, what follows it in the transport's colour.
#[derive(Debug)]
pub struct SetupRoundTrips {
    bars: Vec<SetupBar>,
}

impl SetupRoundTrips {
    /// The chart of `points`, or `None` when they cross no link of at
    /// least [`MIN_SETUP_RTT_MS`].
    pub fn new(points: &[LinkPoint]) -> Option<Self> {
        let bars = setup_bars(points);
        (links_apply(points) && !bars.is_empty()).then_some(SetupRoundTrips { bars })
    }

    /// The bars, top first.
    pub fn bars(&self) -> &[SetupBar] {
        &self.bars
    }
}

/// The text after a bar: its round trips and what they are made of.
fn bar_text(bar: &SetupBar) -> String {
    // A tenth of a round trip: finer is the links' jitter, not the protocol.
    let rtts = format!("{:.1} RTT", bar.setup_rtts);
    match bar.after_connect.as_str() {
        "" => format!("{rtts} (TCP)"),
        steps => format!("{rtts} (TCP, {steps})"),
    }
}

impl Chart for SetupRoundTrips {
    fn stem(&self) -> &'static str {
        "setup_round_trips"
    }

    fn size(&self) -> (u32, u32) {
        (1100, bar_chart_height(self.bars.len()))
    }

    fn caption(&self) -> String {
        format!(
            "Connection setup in round trips: the median TCP connect time (grey) and the \
             whole setup until the first request can go (TLS 1.3, the WebSocket upgrade, the \
             HTTP/2 handshake, in the transport's colour), each divided by the link's RTT; \
             medians over the links of at least {} ms RTT, where processing is a small \
             share of a round trip.",
            format_decimal(MIN_SETUP_RTT_MS)
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let mut legend = vec![("TCP connect".to_owned(), CLASSIC_GREY, LegendMark::Box)];
        for transport in Transport::ALL {
            let has_steps = |b: &SetupBar| b.transport == transport && !b.after_connect.is_empty();
            if self.bars.iter().any(has_steps) {
                let name = format!("{}: after the connect", transport.name());
                legend.push((name, transport_color(transport), LegendMark::Box));
            }
        }
        let body = frame(root, "Connection setup in round trips", &legend)?;
        let labels: Vec<String> = self.bars.iter().map(|b| b.label.clone()).collect();
        let longest = self.bars.iter().map(|b| b.setup_rtts).fold(1.0, f64::max);
        let right = (longest * 1.45).ceil();
        let mut chart = bar_chart(
            &body,
            &BarFrame {
                caption: None,
                margin_right: 30,
                labels: &labels,
                label_style: label_font(),
                x_desc: "round trips (setup time / RTT)",
                x_format: &|x| format_decimal(*x),
            },
            0f64..right,
        )?;
        for (i, bar) in self.bars.iter().enumerate() {
            let y = i as f64;
            let connect = bar.connect_rtts.unwrap_or(0.0);
            chart.draw_series([
                Rectangle::new(
                    [(0.0, y - 0.32), (connect, y + 0.32)],
                    CLASSIC_GREY.filled(),
                ),
                Rectangle::new(
                    [(connect, y - 0.32), (bar.setup_rtts, y + 0.32)],
                    transport_color(bar.transport).filled(),
                ),
            ])?;
            chart.draw_series(std::iter::once(Text::new(
                bar_text(bar),
                (bar.setup_rtts + right * 0.01, y - 0.12),
                label_font(),
            )))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link_points::tests::point;

    #[test]
    fn bars_say_their_round_trips_and_steps() {
        let points = [
            point("sse", "4g", 60.0, 0.0),
            point("ws tls", "4g", 60.0, 0.0),
        ];
        let chart = SetupRoundTrips::new(&points).expect("a slow link");
        let texts: Vec<String> = chart.bars().iter().map(bar_text).collect();
        assert_eq!(
            texts,
            ["2.0 RTT (TCP)", "2.0 RTT (TCP, TLS 1.3, WebSocket upgrade)"]
        );
        let fast = [point("ws", "lan", 1.0, 0.0)];
        assert!(SetupRoundTrips::new(&fast).is_none(), "no link slow enough");
    }
}
