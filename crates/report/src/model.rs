//! The analytic side: the bandwidth each technique needs for a number of
//! clients at an event rate, from what one exchange and one event cost it.
//!
//! Every technique is modelled by two byte counts, both directions
//! together ([`Cost`]):
//! - short polling pays `per_exchange` (request and response heads and the
//!   answer's wrapper: what an empty poll costs) once per poll, at the poll
//!   interval whether or not an event is waiting, and `per_event` (the
//!   event's envelope and payload) for each event a poll carries; a poll
//!   carries `rate × interval` events on average, so
//!   `bytes/s = polls/s × per_exchange + events/s × per_event`;
//! - long polling pays one exchange per event (an answer carries a batch
//!   only when events come faster than a round trip, so this is its upper
//!   bound), and one empty exchange per hold timeout when no event comes;
//! - HTTP streaming, SSE and WebSocket pay `per_event` only: their heads are
//!   paid once per connection.
//!
//! The costs come either from the classic comparison of Lubbers and Greco
//! ([`Costs::classic`]: 871 bytes of heads per poll, 2 bytes per WebSocket
//! frame), from header and payload sizes ([`Costs::analytic`]), or from a
//! run's measured byte classes ([`Costs::measured`]), which splits each
//! polling phase's bytes into the part paid per exchange and the part paid
//! per event, so that the model answers truthfully at a rate or a poll
//! interval the run did not use.

use pushbench_protocol::framing::{chunk_framing_len, sse_event_len, ws_header_len};
use pushbench_protocol::results::PhaseResult;
use pushbench_protocol::{ByteClass, RunResult, Transport};

use crate::figures::primary_phases;
use crate::number_format::{format_bytes, format_count, format_decimal};
use crate::table::Table;

/// The client counts of the classic comparison.
pub const CLASSIC_CLIENTS: [u64; 3] = [1_000, 10_000, 100_000];

/// Header bytes (request plus response) of one poll in the classic
/// comparison of polling with WebSocket.
pub const CLASSIC_HEADER_BYTES: u64 = 871;

/// Framing bytes of one WebSocket message in the classic comparison: the
/// two-byte frame header of a short unmasked frame.
pub const CLASSIC_FRAME_BYTES: u64 = 2;

/// The seq an SSE event is modelled with: six digits, what a stream reaches
/// after a while (`id: 100000`); the real id grows by a byte per decade.
pub const SSE_MODEL_SEQ: u64 = 100_000;

/// The hold timeout, in seconds, the model gives long polling when no run
/// says otherwise: `pushbench serve`'s default.
pub const DEFAULT_LONGPOLL_TIMEOUT_S: f64 = 30.0;

/// A poll answer without its events and `next` cursor digits:
/// `{"events":[],"next":N,"gap":null}` less `N` (see the server's
/// `poll.rs`). A poll that carries events pays it once, around them.
const POLL_ANSWER_WRAPPER: &str = r#"{"events":[],"next":,"gap":null}"#;

/// What one exchange and one event cost a technique, both directions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cost {
    /// Bytes of one request-response exchange apart from the events it
    /// carries (an empty poll costs exactly this); 0 for the persistent
    /// techniques, which pay their heads once per connection.
    pub per_exchange: f64,
    /// Bytes each delivered event adds: its framing and payload.
    pub per_event: f64,
}

/// The load the model is asked about.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Load {
    /// Concurrent clients.
    pub clients: u64,
    /// Events per second each client receives.
    pub events_per_second: f64,
    /// Seconds between two short polls of one client.
    pub poll_interval_s: f64,
    /// Seconds a long poll is held before an empty answer.
    pub longpoll_timeout_s: f64,
}

impl Load {
    /// The classic example: `clients` clients, one message per second each,
    /// polled once a second.
    pub fn classic(clients: u64) -> Self {
        Load {
            clients,
            events_per_second: 1.0,
            poll_interval_s: 1.0,
            longpoll_timeout_s: DEFAULT_LONGPOLL_TIMEOUT_S,
        }
    }

    /// One event per second per client, polled and held as `result` was.
    pub fn one_event_per_second_of(result: &RunResult, clients: u64) -> Self {
        Load {
            clients,
            events_per_second: 1.0,
            poll_interval_s: result.scenario.poll_interval_ms as f64 / 1_000.0,
            longpoll_timeout_s: result.scenario.longpoll_timeout_s as f64,
        }
    }

    /// Events a short poll carries on average: rate × interval.
    pub fn events_per_poll(&self) -> f64 {
        self.events_per_second * self.poll_interval_s
    }
}

/// Request-response exchanges per second one client makes: a poll per
/// interval; a long poll per event, or one per hold timeout when events
/// come slower than that; none for the persistent techniques.
pub fn exchanges_per_second(transport: Transport, load: &Load) -> f64 {
    let per = |seconds: f64| if seconds > 0.0 { 1.0 / seconds } else { 0.0 };
    match transport {
        Transport::ShortPoll => per(load.poll_interval_s),
        Transport::LongPoll => load.events_per_second.max(per(load.longpoll_timeout_s)),
        Transport::Stream | Transport::Sse | Transport::Ws => 0.0,
    }
}

/// Bytes per second, both directions, that one client costs.
pub fn bytes_per_second_per_client(transport: Transport, cost: &Cost, load: &Load) -> f64 {
    exchanges_per_second(transport, load) * cost.per_exchange
        + load.events_per_second * cost.per_event
}

/// Bytes per second, both directions, that all clients cost.
pub fn bytes_per_second(transport: Transport, cost: &Cost, load: &Load) -> f64 {
    bytes_per_second_per_client(transport, cost, load) * load.clients as f64
}

/// Bytes per delivered event, or `None` at a zero event rate.
pub fn bytes_per_event(transport: Transport, cost: &Cost, load: &Load) -> Option<f64> {
    (load.events_per_second > 0.0)
        .then(|| bytes_per_second_per_client(transport, cost, load) / load.events_per_second)
}

/// Megabits per second, SI (10^6 bits).
pub fn megabits(bytes_per_second: f64) -> f64 {
    bytes_per_second * 8.0 / 1_000_000.0
}

/// Megabits per second as the classic comparison computed them: bits
/// divided by 2^20.
pub fn classic_mbps(bytes_per_second: f64) -> f64 {
    bytes_per_second * 8.0 / 1_048_576.0
}

/// The framing bytes one event of `payload_bytes` costs on a persistent
/// technique, `None` for the polling ones, whose cost is headers.
pub fn framing_bytes_per_event(transport: Transport, payload_bytes: u64) -> Option<u64> {
    let payload = usize::try_from(payload_bytes).unwrap_or(usize::MAX);
    match transport {
        Transport::ShortPoll | Transport::LongPoll => None,
        Transport::Stream => Some(chunk_framing_len(payload) as u64),
        Transport::Sse => {
            Some((sse_event_len(SSE_MODEL_SEQ, payload) as u64).saturating_sub(payload_bytes))
        }
        // Server-to-client frames are not masked (RFC 6455 section 5.1).
        Transport::Ws => Some(ws_header_len(payload_bytes, false) as u64),
    }
}

/// The [`Cost`] of every technique the model knows, and where they came
/// from.
#[derive(Clone, Debug, PartialEq)]
pub struct Costs {
    /// Where the costs come from, one line.
    pub source: String,
    /// One entry per [`Transport::ALL`], in that order.
    costs: [Option<Cost>; 5],
}

impl Costs {
    /// The cost of `transport`, if known.
    pub fn get(&self, transport: Transport) -> Option<Cost> {
        let i = Transport::ALL.iter().position(|t| *t == transport)?;
        self.costs[i]
    }

    /// The classic comparison: 871 bytes of heads per poll (and per long
    /// poll) exchange, 2 bytes per WebSocket frame, no data.
    pub fn classic() -> Self {
        let poll = Cost {
            per_exchange: CLASSIC_HEADER_BYTES as f64,
            per_event: 0.0,
        };
        Costs {
            source: format!(
                "the classic comparison (Lubbers and Greco): {CLASSIC_HEADER_BYTES} B of heads \
                 per poll, {CLASSIC_FRAME_BYTES} B per WebSocket frame, no data"
            ),
            costs: Transport::ALL.map(|t| match t {
                Transport::ShortPoll | Transport::LongPoll => Some(poll),
                Transport::Ws => Some(Cost {
                    per_exchange: 0.0,
                    per_event: CLASSIC_FRAME_BYTES as f64,
                }),
                Transport::Stream | Transport::Sse => None,
            }),
        }
    }

    /// From sizes: `header_bytes` of request plus response heads per
    /// exchange, `payload_bytes` per event, the framing of each persistent
    /// technique computed byte for byte (no JSON envelope).
    pub fn analytic(header_bytes: u64, payload_bytes: u64) -> Self {
        let payload = payload_bytes as f64;
        Costs {
            source: format!(
                "{header_bytes} B of heads per exchange, {payload_bytes} B of payload per event, \
                 exact framing"
            ),
            costs: Transport::ALL.map(|t| {
                Some(match framing_bytes_per_event(t, payload_bytes) {
                    None => Cost {
                        per_exchange: header_bytes as f64,
                        per_event: payload,
                    },
                    Some(framing) => Cost {
                        per_exchange: 0.0,
                        per_event: framing as f64 + payload,
                    },
                })
            }),
        }
    }

    /// From a run: each technique's bytes split into what its exchanges and
    /// what its events cost (see [`measured_cost`]); `label` names the run.
    pub fn measured(result: &RunResult, label: &str) -> Self {
        Costs {
            source: format!("measured in {label}"),
            costs: Transport::ALL.map(|t| measured_cost(result, t)),
        }
    }

    /// Whether any technique has a cost.
    pub fn is_empty(&self) -> bool {
        self.costs.iter().all(Option::is_none)
    }
}

/// What `transport` cost per exchange and per event in `result` (the
/// first variant's phases), both directions, every class; `None` when it
/// delivered nothing there.
///
/// For polling, every byte but the events' framing and payload is paid
/// per exchange (heads, and empty answers, booked as control as a whole);
/// the answer's wrapper, booked as framing, is moved back to the exchange
/// for each answer that carried events. The exchanges are the answers
/// read (`connections.responses`); results older than that count lack it,
/// and then short polls are counted from the poll interval and long polls
/// as one per event. The split is exact at the run's own load: exchanges ×
/// `per_exchange` + events × `per_event` = every byte measured.
pub fn measured_cost(result: &RunResult, transport: Transport) -> Option<Cost> {
    let phases: Vec<&PhaseResult> = primary_phases(result)
        .filter(|p| p.transport == transport)
        .collect();
    let sum = |f: &dyn Fn(&PhaseResult) -> f64| phases.iter().map(|p| f(p)).sum::<f64>();
    let delivered = sum(&|p| p.events.delivered as f64);
    if delivered <= 0.0 {
        return None;
    }
    let total = sum(&|p| p.traffic.total() as f64);
    if !matches!(transport, Transport::ShortPoll | Transport::LongPoll) {
        return Some(Cost {
            per_exchange: 0.0,
            per_event: total / delivered,
        });
    }
    let both =
        |p: &PhaseResult, c: ByteClass| (p.traffic.sent.get(c) + p.traffic.received.get(c)) as f64;
    let interval_s = result.scenario.poll_interval_ms as f64 / 1_000.0;
    let exchanges_of = |p: &PhaseResult| {
        if p.connections.responses > 0 {
            p.connections.responses as f64
        } else if transport == Transport::ShortPoll && interval_s > 0.0 {
            f64::from(p.clients) * p.duration_s / interval_s
        } else {
            p.events.delivered as f64
        }
    };
    let exchanges = sum(&exchanges_of);
    if exchanges <= 0.0 {
        return None;
    }
    // Answers that carried events: the requests booked as request heads
    // rather than as control (an empty exchange is control as a whole).
    let answered = sum(&|p| {
        let heads = p.traffic.sent.get(ByteClass::RequestHeaders) as f64;
        let empty = p.traffic.sent.get(ByteClass::Control) as f64;
        let share = if heads + empty > 0.0 {
            heads / (heads + empty)
        } else {
            1.0
        };
        (exchanges_of(p) * share).min(p.events.delivered as f64)
    });
    let wrapper = sum(&|p| {
        let share = p.events.delivered as f64 / delivered;
        share * (POLL_ANSWER_WRAPPER.len() + digits(p.events.published)) as f64
    });
    let events_bytes = sum(&|p| both(p, ByteClass::Framing) + both(p, ByteClass::Payload));
    let moved = (answered * wrapper).min(events_bytes);
    Some(Cost {
        per_exchange: (total - events_bytes + moved) / exchanges,
        per_event: (events_bytes - moved) / delivered,
    })
}

/// Decimal digits of `n` (the `next` cursor's length in a poll answer).
fn digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// The classic table: polling against WebSocket at each of `clients`,
/// [`Costs::classic`] at [`Load::classic`], in bytes per second, Mbit/s of
/// 2^20 bits (the paper's unit) and SI Mbit/s.
pub fn classic_table(clients: &[u64]) -> Table {
    let costs = Costs::classic();
    let mut table = Table::new([
        "clients",
        "polling B/s",
        "polling Mbit/s (2^20)",
        "polling Mbit/s (SI)",
        "WebSocket B/s",
        "WebSocket Mbit/s (2^20)",
        "WebSocket Mbit/s (SI)",
    ]);
    for &n in clients {
        let mut row = vec![format_count(n)];
        for transport in [Transport::ShortPoll, Transport::Ws] {
            let bps = costs
                .get(transport)
                .map_or(0.0, |c| bytes_per_second(transport, &c, &Load::classic(n)));
            row.push(format_count(bps.round() as u64));
            row.push(format!("{:.3}", classic_mbps(bps)));
            row.push(format!("{:.3}", megabits(bps)));
        }
        table.push(row);
    }
    table
}

/// The model at `load` for every client count in `clients` and every
/// technique `costs` knows: exchanges and events per poll, bytes per event,
/// bandwidth in bytes per second, Mbit/s of 2^20 bits and SI Mbit/s.
pub fn model_table(clients: &[u64], load: &Load, costs: &Costs) -> Table {
    let mut table = Table::new([
        "transport",
        "clients",
        "B/exchange",
        "B/event",
        "exchanges/s per client",
        "all B/event",
        "bandwidth",
        "Mbit/s (2^20)",
        "Mbit/s (SI)",
    ]);
    for &n in clients {
        let at = Load {
            clients: n,
            ..*load
        };
        for transport in Transport::ALL {
            let Some(cost) = costs.get(transport) else {
                continue;
            };
            let bps = bytes_per_second(transport, &cost, &at);
            let exchanges = exchanges_per_second(transport, &at);
            table.push([
                transport.name().to_owned(),
                format_count(n),
                if exchanges > 0.0 {
                    format!("{:.1}", cost.per_exchange)
                } else {
                    "-".into()
                },
                format!("{:.1}", cost.per_event),
                format_decimal(exchanges),
                bytes_per_event(transport, &cost, &at)
                    .map_or_else(|| "-".into(), |b| format!("{b:.1}")),
                format!("{}/s", format_bytes(bps)),
                format!("{:.3}", classic_mbps(bps)),
                format!("{:.3}", megabits(bps)),
            ]);
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A committed run, read as `pushbench report` reads it.
    fn committed(run: &str) -> RunResult {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../bench-results")
            .join(run)
            .join("results.json");
        crate::load_results(&path).expect("a committed run")
    }

    #[test]
    fn the_classic_table_comes_out_to_the_papers_digits() {
        let costs = Costs::classic();
        let poll = costs.get(Transport::ShortPoll).expect("polling");
        let ws = costs.get(Transport::Ws).expect("websocket");
        // 871 B per poll once a second, 2 B per frame once a second.
        let expected_poll = [871_000.0, 8_710_000.0, 87_100_000.0];
        let expected_ws = [2_000.0, 20_000.0, 200_000.0];
        let round = |x: f64, places: i32| (x * 10f64.powi(places)).round() / 10f64.powi(places);
        let mut poll_mbps = Vec::new();
        let mut ws_mbps = Vec::new();
        for (i, n) in CLASSIC_CLIENTS.into_iter().enumerate() {
            let load = Load::classic(n);
            let p = bytes_per_second(Transport::ShortPoll, &poll, &load);
            let w = bytes_per_second(Transport::Ws, &ws, &load);
            assert_eq!((p, w), (expected_poll[i], expected_ws[i]));
            assert_eq!(bytes_per_second(Transport::LongPoll, &poll, &load), p);
            poll_mbps.push(classic_mbps(p));
            ws_mbps.push(classic_mbps(w));
        }
        // The paper prints 6.6 / 66 / 665 against 0.015 / 0.153 / 1.526.
        assert_eq!(
            [
                round(poll_mbps[0], 1),
                round(poll_mbps[1], 0),
                round(poll_mbps[2], 0)
            ],
            [6.6, 66.0, 665.0]
        );
        assert_eq!(
            ws_mbps.iter().map(|m| round(*m, 3)).collect::<Vec<_>>(),
            [0.015, 0.153, 1.526]
        );
        // SI megabits are 4.9 % more.
        assert_eq!(megabits(871_000.0), 6.968);
        let text = classic_table(&CLASSIC_CLIENTS).to_text();
        for figure in [
            "6.645", "66.452", "664.520", "0.015", "0.153", "1.526", "6.968",
        ] {
            assert!(text.contains(figure), "{figure} in\n{text}");
        }
    }

    #[test]
    fn polling_pays_every_poll_and_the_events_it_carries() {
        let cost = Cost {
            per_exchange: 196.0,
            per_event: 195.0,
        };
        let load = Load {
            clients: 10,
            events_per_second: 1.0,
            poll_interval_s: 0.25,
            longpoll_timeout_s: 30.0,
        };
        // Four polls a second, one of them with the event: 4 x 196 + 195.
        assert_eq!(load.events_per_poll(), 0.25);
        assert_eq!(
            bytes_per_event(Transport::ShortPoll, &cost, &load),
            Some(979.0)
        );
        assert_eq!(
            bytes_per_second(Transport::ShortPoll, &cost, &load),
            9_790.0
        );
        // One event per poll: 196 + 195.
        let one_per_poll = Load {
            poll_interval_s: 1.0,
            ..load
        };
        assert_eq!(
            bytes_per_event(Transport::ShortPoll, &cost, &one_per_poll),
            Some(391.0)
        );
        // Five per poll (20 events/s, 250 ms): 196 / 5 + 195.
        let five_per_poll = Load {
            events_per_second: 20.0,
            ..load
        };
        assert_eq!(
            bytes_per_event(Transport::ShortPoll, &cost, &five_per_poll),
            Some(234.2)
        );
        // Long polling: an exchange per event, and with no event one empty
        // answer per hold timeout.
        assert_eq!(
            bytes_per_event(Transport::LongPoll, &cost, &load),
            Some(391.0)
        );
        let idle = Load {
            events_per_second: 0.0,
            ..load
        };
        assert_eq!(bytes_per_event(Transport::LongPoll, &cost, &idle), None);
        assert_eq!(
            bytes_per_second_per_client(Transport::LongPoll, &cost, &idle),
            196.0 / 30.0
        );
        assert_eq!(
            bytes_per_second_per_client(Transport::ShortPoll, &cost, &idle),
            784.0
        );
        // The persistent techniques pay per event only.
        let ws = Cost {
            per_exchange: 0.0,
            per_event: 199.0,
        };
        assert_eq!(exchanges_per_second(Transport::Ws, &load), 0.0);
        assert_eq!(bytes_per_event(Transport::Ws, &ws, &load), Some(199.0));
    }

    #[test]
    fn framing_per_event_is_byte_exact() {
        // 128 bytes: WebSocket needs the 16-bit extended length.
        assert_eq!(framing_bytes_per_event(Transport::Ws, 125), Some(2));
        assert_eq!(framing_bytes_per_event(Transport::Ws, 128), Some(4));
        // "80\r\n" + "\r\n".
        assert_eq!(framing_bytes_per_event(Transport::Stream, 128), Some(6));
        // "id: 100000\n" + "data: " + "\n" + "\n".
        assert_eq!(framing_bytes_per_event(Transport::Sse, 128), Some(19));
        assert_eq!(framing_bytes_per_event(Transport::ShortPoll, 128), None);
        let costs = Costs::analytic(300, 128);
        assert_eq!(
            costs.get(Transport::ShortPoll),
            Some(Cost {
                per_exchange: 300.0,
                per_event: 128.0
            })
        );
        assert_eq!(
            costs.get(Transport::Ws),
            Some(Cost {
                per_exchange: 0.0,
                per_event: 132.0
            })
        );
        assert_eq!(POLL_ANSWER_WRAPPER.len() + digits(3), 33);
        assert_eq!(
            (digits(0), digits(9), digits(10), digits(180)),
            (1, 1, 2, 3)
        );
    }

    #[test]
    fn measured_costs_split_exchanges_from_events_exactly() {
        // The ramp run: 1,000 clients at one event per second, a poll every
        // 250 ms: 12,000 answers, 3,000 of them with the one event, the
        // rest empty (control as a whole: 54 B of request head, 109 of
        // response head, 33 of `{"events":[],"next":3,"gap":null}`).
        let ramp = committed("2026-12-01-ramp");
        let poll = measured_cost(&ramp, Transport::ShortPoll).expect("short polling");
        // 196 B per exchange, 195 per event (its 67 B of envelope and 128 of
        // payload), give back the run's own 979 B per event...
        assert_eq!(
            (
                (poll.per_exchange * 10.0).round() / 10.0,
                (poll.per_event * 10.0).round() / 10.0
            ),
            (196.0, 195.0)
        );
        let own = Load::one_event_per_second_of(&ramp, 1_000);
        let at_own = bytes_per_event(Transport::ShortPoll, &poll, &own).expect("rate");
        assert_eq!(at_own.round(), 979.0);
        // ...and 391 B when each poll brings one event.
        let one_per_poll = Load {
            poll_interval_s: 1.0,
            ..own
        };
        let one = bytes_per_event(Transport::ShortPoll, &poll, &one_per_poll).expect("rate");
        assert_eq!(one.round(), 391.0);
        // Long polling: one exchange per event, 163 B of heads plus 33 of
        // wrapper, and the same 195 per event.
        let long = measured_cost(&ramp, Transport::LongPoll).expect("long polling");
        assert_eq!(
            (long.per_exchange + long.per_event).round(),
            ramp.phases
                .iter()
                .find(|p| p.transport == Transport::LongPoll)
                .map(|p| p.derived.bytes_per_event.round())
                .expect("phase")
        );
        // The persistent techniques: every byte per event.
        let ws = measured_cost(&ramp, Transport::Ws).expect("websocket");
        assert_eq!(ws.per_exchange, 0.0);
    }

    #[test]
    fn older_runs_without_answer_counts_use_the_poll_interval() {
        // The reference run: 50 clients, 20 events/s, 250 ms polls, about
        // five events per poll; its 235.2 B per event become about 395 at
        // one event per poll and about 990 at one event per second.
        let reference = committed("2026-11-25-reference");
        let poll = measured_cost(&reference, Transport::ShortPoll).expect("short polling");
        let own = Load {
            events_per_second: 20.0,
            ..Load::one_event_per_second_of(&reference, 50)
        };
        let at_own = bytes_per_event(Transport::ShortPoll, &poll, &own).expect("rate");
        assert!((at_own - 235.2).abs() < 0.1, "{at_own}");
        let one_per_poll = Load {
            events_per_second: 1.0,
            poll_interval_s: 1.0,
            ..own
        };
        let one = bytes_per_event(Transport::ShortPoll, &poll, &one_per_poll).expect("rate");
        assert!((385.0..400.0).contains(&one), "{one}");
        let slow = Load::one_event_per_second_of(&reference, 50);
        let slow = bytes_per_event(Transport::ShortPoll, &poll, &slow).expect("rate");
        assert!((970.0..1_000.0).contains(&slow), "{slow}");
    }

    #[test]
    fn model_table_has_a_row_per_known_transport_and_client_count() {
        let load = Load::classic(0);
        let classic = model_table(&CLASSIC_CLIENTS, &load, &Costs::classic());
        // The classic comparison knows polling and WebSocket only.
        assert_eq!(classic.rows.len(), 9);
        let text = classic.to_text();
        assert!(text.contains("871.0 kB/s"), "{text}");
        assert!(text.contains("6.645"), "{text}");
        let analytic = model_table(&[10], &load, &Costs::analytic(871, 0));
        assert_eq!(analytic.rows.len(), 5);
    }
}
