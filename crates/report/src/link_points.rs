//! What the link charts draw: one [`LinkPoint`] per phase run over a link
//! (its set RTT and loss beside what the phase measured), and the figures
//! the charts take from those points. Pure functions of the points, so the
//! charts are tested with hand-built ones.

use pushbench_protocol::results::PhaseResult;
use pushbench_protocol::{HttpVersion, RunResult, Transport};

use crate::variant_labels::{variant_name, varying_in};

/// One phase's figures over one link.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkPoint {
    /// The technique.
    pub transport: Transport,
    /// The line this phase is a point of: the transport and its variant,
    /// without the link (`ws`, `sse h2 tls`). Phases of one label over
    /// different links make one line.
    pub label: String,
    /// Whether its clients spoke TLS: a TLS 1.3 handshake follows the
    /// TCP connect.
    pub tls: bool,
    /// The HTTP version its clients spoke: HTTP/2 adds its handshake.
    pub http: HttpVersion,
    /// The link's name (`loopback`, `lan`, `4g`, or a custom one).
    pub link: String,
    /// The link's round-trip time as set, milliseconds (0 on loopback).
    pub rtt_ms: f64,
    /// The link's random loss as set, a fraction (0.01 is 1 %).
    pub loss: f64,
    /// Event latency, 50th percentile, milliseconds (0: nothing delivered).
    pub p50_ms: f64,
    /// Event latency, 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// Median TCP connect time measured through the link, milliseconds;
    /// `None` when the phase did not measure it.
    pub connect_ms: Option<f64>,
    /// Median connection setup, milliseconds: the TCP connect and what the
    /// transport needs before its first request (TLS, the WebSocket
    /// upgrade, the HTTP/2 handshake), `connections.setup_us.p50`.
    pub setup_ms: f64,
    /// Bytes on the wire per delivered event, both directions,
    /// retransmissions left out.
    pub bytes_per_event: f64,
    /// Retransmitted bytes per delivered event, both directions.
    pub retransmitted_per_event: f64,
}

impl LinkPoint {
    /// The point of `phase` of `result` over the link named `link` (RTT
    /// `rtt_ms`, loss `loss`): everything the phase itself records, with
    /// no connect time and no retransmissions (the link's measurements
    /// fill those).
    pub fn of_phase(
        result: &RunResult,
        phase: &PhaseResult,
        link: &str,
        rtt_ms: f64,
        loss: f64,
    ) -> Self {
        let ms = |us: u64| us as f64 / 1_000.0;
        // The link is the chart's axis, not part of a line's name.
        let dimensions: Vec<_> = varying_in(result)
            .into_iter()
            .filter(|d| d.column != "link")
            .collect();
        let variant = variant_name(phase, &dimensions);
        let label = format!("{} {variant}", phase.transport.name())
            .trim_end()
            .to_owned();
        LinkPoint {
            transport: phase.transport,
            label,
            tls: phase.tls,
            http: phase.http,
            link: link.to_owned(),
            rtt_ms,
            loss,
            p50_ms: ms(phase.latency_us.p50),
            p99_ms: ms(phase.latency_us.p99),
            connect_ms: None,
            setup_ms: ms(phase.connections.setup_us.p50),
            bytes_per_event: phase.derived.bytes_per_event,
            retransmitted_per_event: 0.0,
        }
    }

    /// What its setup holds after the TCP connect (`TLS 1.3, WebSocket
    /// upgrade`); empty when the connect is all of it.
    pub fn after_connect(&self) -> String {
        let mut steps = Vec::new();
        if self.tls {
            steps.push("TLS 1.3");
        }
        match (self.http, self.transport) {
            (HttpVersion::Http2, _) => steps.push("HTTP/2 handshake"),
            (HttpVersion::Http1, Transport::Ws) => steps.push("WebSocket upgrade"),
            (HttpVersion::Http1, _) => {}
        }
        steps.join(", ")
    }
}

/// The link points of a run: one per phase, in phase order, with the
/// link it ran over (name, RTT, loss) and what it measured of it (TCP
/// connect time, retransmitted bytes both ways per delivered event).
/// Results from before links read as loopback throughout, so they draw
/// no link charts ([`links_apply`]).
pub fn link_points(result: &RunResult) -> Vec<LinkPoint> {
    result
        .phases
        .iter()
        .map(|phase| {
            let link = &phase.link;
            let mut point = LinkPoint::of_phase(
                result,
                phase,
                &link.label(),
                link.rtt_us as f64 / 1_000.0,
                link.loss,
            );
            if let Some(measured) = &phase.link_measured {
                if measured.connect_us.count > 0 {
                    point.connect_ms = Some(measured.connect_us.p50 as f64 / 1_000.0);
                }
                let r = &measured.retransmits;
                if phase.events.delivered > 0 {
                    point.retransmitted_per_event =
                        (r.sent_bytes + r.received_bytes) as f64 / phase.events.delivered as f64;
                }
            }
            point
        })
        .collect()
}

/// Whether the link charts are drawn for these points: the run crossed a
/// link other than loopback, or more than one link.
pub fn links_apply(points: &[LinkPoint]) -> bool {
    let first = points.first().map(|p| p.link.as_str());
    points
        .iter()
        .any(|p| p.link != "loopback" || Some(p.link.as_str()) != first)
}

/// The lines of a link chart: the points grouped by label, in the order of
/// [`Transport::ALL`] and then of first appearance, each line's points in
/// the order `key` sorts them.
pub fn link_lines(points: &[LinkPoint], key: impl Fn(&LinkPoint) -> f64) -> Vec<Vec<&LinkPoint>> {
    let mut lines: Vec<Vec<&LinkPoint>> = Vec::new();
    for transport in Transport::ALL {
        for point in points.iter().filter(|p| p.transport == transport) {
            match lines.iter_mut().find(|l| l[0].label == point.label) {
                Some(line) => line.push(point),
                None => lines.push(vec![point]),
            }
        }
    }
    for line in &mut lines {
        line.sort_by(|a, b| key(a).total_cmp(&key(b)));
    }
    lines
}

/// Shortest RTT a link must have for its setup to count in round trips:
/// below it the handshakes' own processing (a TLS key exchange takes a
/// millisecond or two) is a visible share of a round trip.
pub const MIN_SETUP_RTT_MS: f64 = 10.0;

/// One bar of the setup chart: a line's setup in round trips, the median
/// over its links of at least [`MIN_SETUP_RTT_MS`].
#[derive(Clone, Debug, PartialEq)]
pub struct SetupBar {
    /// The line's label.
    pub label: String,
    /// Its transport (the bar's colour).
    pub transport: Transport,
    /// The TCP connect, in round trips; `None` when not measured.
    pub connect_rtts: Option<f64>,
    /// The whole setup, in round trips (at least `connect_rtts`).
    pub setup_rtts: f64,
    /// What follows the connect ([`LinkPoint::after_connect`]).
    pub after_connect: String,
    /// Links the medians are taken over.
    pub links: usize,
}

/// The setup chart's bars: one per line with a point over a link of at
/// least [`MIN_SETUP_RTT_MS`].
pub fn setup_bars(points: &[LinkPoint]) -> Vec<SetupBar> {
    let slow: Vec<LinkPoint> = points
        .iter()
        .filter(|p| p.rtt_ms >= MIN_SETUP_RTT_MS && p.setup_ms > 0.0)
        .cloned()
        .collect();
    link_lines(&slow, |p| p.rtt_ms)
        .into_iter()
        .filter_map(|line| {
            let first = line.first()?;
            let connect_rtts = median(line.iter().filter_map(|p| Some(p.connect_ms? / p.rtt_ms)));
            let setup_rtts = median(line.iter().map(|p| p.setup_ms / p.rtt_ms))?;
            Some(SetupBar {
                label: first.label.clone(),
                transport: first.transport,
                connect_rtts,
                setup_rtts: setup_rtts.max(connect_rtts.unwrap_or(0.0)),
                after_connect: first.after_connect(),
                links: line.len(),
            })
        })
        .collect()
}

/// The median of `values` (the mean of the middle two for an even count);
/// `None` for none.
pub fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A point of `label` (its transport's name first) over `link`.
    pub(crate) fn point(label: &str, link: &str, rtt_ms: f64, loss: f64) -> LinkPoint {
        let transport = label
            .split(' ')
            .next()
            .and_then(|t| t.parse().ok())
            .unwrap_or(Transport::Ws);
        LinkPoint {
            transport,
            label: label.to_owned(),
            tls: label.contains("tls"),
            http: if label.contains("h2") {
                HttpVersion::Http2
            } else {
                HttpVersion::Http1
            },
            link: link.to_owned(),
            rtt_ms,
            loss,
            p50_ms: 0.5 * rtt_ms + 1.0,
            p99_ms: 1.5 * rtt_ms + 2.0,
            connect_ms: Some(rtt_ms),
            setup_ms: 2.0 * rtt_ms,
            bytes_per_event: 200.0,
            retransmitted_per_event: 1_000.0 * loss,
        }
    }

    #[test]
    fn loopback_alone_draws_no_link_chart() {
        assert!(!links_apply(&[]));
        let loopback = [
            point("ws", "loopback", 0.0, 0.0),
            point("sse", "loopback", 0.0, 0.0),
        ];
        assert!(!links_apply(&loopback));
        assert!(links_apply(&[point("ws", "4g", 60.0, 0.0)]));
        let two = [
            point("ws", "loopback", 0.0, 0.0),
            point("ws", "lan", 1.0, 0.0),
        ];
        assert!(links_apply(&two));
    }

    #[test]
    fn a_phase_gives_its_own_figures_and_the_link_the_rest() {
        let run: RunResult = serde_json::from_str(include_str!("../tests/fixtures/results.json"))
            .unwrap_or_else(|e| panic!("the fixture: {e}"));
        // Phases from before links read as loopback: points, but no charts.
        let points = link_points(&run);
        assert_eq!(points.len(), run.phases.len());
        assert!(
            points
                .iter()
                .all(|p| p.link == "loopback" && p.rtt_ms == 0.0)
        );
        assert!(!links_apply(&points), "no link charts");
        let ws = &run.phases[4];
        let point = LinkPoint::of_phase(&run, ws, "4g", 60.0, 0.0);
        assert_eq!(
            (point.transport, point.label.as_str()),
            (Transport::Ws, "ws")
        );
        assert_eq!(point.p99_ms, ws.latency_us.p99 as f64 / 1_000.0);
        assert_eq!(point.setup_ms, ws.connections.setup_us.p50 as f64 / 1_000.0);
        assert_eq!(point.bytes_per_event, ws.derived.bytes_per_event);
        assert_eq!(
            (point.connect_ms, point.retransmitted_per_event),
            (None, 0.0)
        );
        assert_eq!(point.after_connect(), "WebSocket upgrade");
    }

    #[test]
    fn lines_group_by_label_in_transport_order_sorted_by_the_key() {
        let points = [
            point("ws", "4g", 60.0, 0.0),
            point("long-poll", "lan", 1.0, 0.0),
            point("ws tls", "lan", 1.0, 0.0),
            point("ws", "lan", 1.0, 0.0),
            point("long-poll", "3g", 300.0, 0.0),
        ];
        let lines: Vec<Vec<(&str, &str)>> = link_lines(&points, |p| p.rtt_ms)
            .iter()
            .map(|l| {
                l.iter()
                    .map(|p| (p.label.as_str(), p.link.as_str()))
                    .collect()
            })
            .collect();
        assert_eq!(
            lines,
            [
                vec![("long-poll", "lan"), ("long-poll", "3g")],
                vec![("ws", "lan"), ("ws", "4g")],
                vec![("ws tls", "lan")],
            ]
        );
    }

    #[test]
    fn setup_counts_round_trips_over_slow_links_only() {
        let mut lan = point("ws tls", "lan", 1.0, 0.0);
        lan.setup_ms = 9.0; // the TLS key exchange dwarfs a 1 ms RTT
        let mut cable = point("ws tls", "cable", 40.0, 0.0);
        cable.setup_ms = 122.0;
        let mut g4 = point("ws tls", "4g", 60.0, 0.0);
        g4.setup_ms = 183.0;
        g4.connect_ms = None;
        let mut sse = point("sse", "4g", 60.0, 0.0);
        sse.setup_ms = 59.0; // a hair under the connect: never shorter
        let bars = setup_bars(&[lan, cable, g4, sse]);
        assert_eq!(bars.len(), 2, "{bars:?}");
        assert_eq!(bars[0].label, "sse");
        assert_eq!((bars[0].connect_rtts, bars[0].setup_rtts), (Some(1.0), 1.0));
        assert_eq!(bars[0].after_connect, "");
        let ws = &bars[1];
        assert_eq!(ws.links, 2, "lan is too short a round trip");
        assert_eq!(ws.connect_rtts, Some(1.0), "only cable measured it");
        assert!((ws.setup_rtts - 3.05).abs() < 1e-9, "{ws:?}");
        assert_eq!(ws.after_connect, "TLS 1.3, WebSocket upgrade");
        assert_eq!(
            point("sse h2 tls", "4g", 60.0, 0.0).after_connect(),
            "TLS 1.3, HTTP/2 handshake"
        );
    }

    #[test]
    fn median_of_odd_even_and_none() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), Some(2.0));
        assert_eq!(median([4.0, 1.0, 2.0, 3.0].into_iter()), Some(2.5));
        assert_eq!(median(std::iter::empty()), None);
    }
}
