//! The analytic side: the bandwidth each technique needs for a number of
//! clients, an event rate, a header size and a payload size, and the
//! measured figures beside it.
//!
//! The model counts only what the technique itself costs per event:
//! - short polling: request plus response headers on every poll, at the
//!   poll interval whether or not an event is waiting, plus the payload;
//! - long polling: one request plus response per event, plus the payload;
//! - HTTP streaming, SSE and WebSocket: the framing of one event (a chunk
//!   size line, the `id:`/`data:` fields, a frame header), plus the payload.
//!
//! It leaves out what a measurement includes: connection setup amortised
//! over the run, the JSON envelope around each payload, keep-alives, empty
//! polls at rates the model does not foresee. Where model and measurement
//! differ, that is why.

use pushbench_protocol::framing::{chunk_framing_len, sse_event_len, ws_header_len};
use pushbench_protocol::{RunResult, Transport};

use crate::figures::transport_bytes_per_event;
use crate::number_format::{format_bytes, format_count};
use crate::table::Table;

/// The client counts of the classic comparison.
pub const CLASSIC_CLIENTS: [u64; 3] = [1_000, 10_000, 100_000];

/// Header bytes (request plus response) of one poll in the classic
/// comparison of polling with WebSocket.
pub const CLASSIC_HEADER_BYTES: u64 = 871;

/// The seq an SSE event is modelled with: six digits, what a stream reaches
/// after a while (`id: 100000`); the real id grows by a byte per decade.
pub const SSE_MODEL_SEQ: u64 = 100_000;

/// What the model is asked about.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelInput {
    /// Concurrent clients.
    pub clients: u64,
    /// Events per second each client receives.
    pub events_per_second: f64,
    /// HTTP request plus response header bytes of one exchange.
    pub header_bytes: u64,
    /// Payload bytes per event.
    pub payload_bytes: u64,
    /// Seconds between two short polls of one client.
    pub poll_interval_s: f64,
}

impl ModelInput {
    /// The classic example: `clients` clients, one event per second each,
    /// 871 header bytes per poll, polled once a second, no payload.
    pub fn classic(clients: u64) -> Self {
        ModelInput {
            clients,
            events_per_second: 1.0,
            header_bytes: CLASSIC_HEADER_BYTES,
            payload_bytes: 0,
            poll_interval_s: 1.0,
        }
    }
}

/// The framing bytes one event costs on a persistent transport, `None` for
/// the polling techniques, whose cost is headers.
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

/// Bytes per second, both directions, that one client costs.
pub fn bytes_per_second_per_client(transport: Transport, input: &ModelInput) -> f64 {
    let rate = input.events_per_second;
    let payload = input.payload_bytes as f64;
    let headers = input.header_bytes as f64;
    match transport {
        Transport::ShortPoll => {
            let polls_per_second = if input.poll_interval_s > 0.0 {
                1.0 / input.poll_interval_s
            } else {
                0.0
            };
            polls_per_second * headers + rate * payload
        }
        Transport::LongPoll => rate * (headers + payload),
        persistent => {
            let framing =
                framing_bytes_per_event(persistent, input.payload_bytes).unwrap_or(0) as f64;
            rate * (framing + payload)
        }
    }
}

/// Bytes per second, both directions, that all clients cost.
pub fn bytes_per_second(transport: Transport, input: &ModelInput) -> f64 {
    bytes_per_second_per_client(transport, input) * input.clients as f64
}

/// Bytes per delivered event, or `None` at a zero event rate.
pub fn bytes_per_event(transport: Transport, input: &ModelInput) -> Option<f64> {
    (input.events_per_second > 0.0)
        .then(|| bytes_per_second_per_client(transport, input) / input.events_per_second)
}

/// Megabits per second, decimal (10^6 bits).
pub fn megabits(bytes_per_second: f64) -> f64 {
    bytes_per_second * 8.0 / 1_000_000.0
}

/// "Mbps" as the classic comparison computed them: bits divided by 2^20.
pub fn classic_mbps(bytes_per_second: f64) -> f64 {
    bytes_per_second * 8.0 / 1_048_576.0
}

/// The model table for every client count in `clients` and every transport,
/// with the measured bytes per event of `measured` beside it when given.
/// "classic Mbps" divides bits by 2^20, as the classic comparison did, so
/// its 6.6 / 66 / 665 figures can be checked digit for digit.
pub fn model_table(clients: &[u64], base: &ModelInput, measured: Option<&RunResult>) -> Table {
    let mut headers = vec![
        "transport",
        "clients",
        "model B/event",
        "model bandwidth",
        "model Mbit/s",
        "classic Mbps",
    ];
    if measured.is_some() {
        headers.extend([
            "measured B/event",
            "measured bandwidth",
            "measured Mbit/s",
            "measured/model",
        ]);
    }
    let mut table = Table::new(headers);
    for &n in clients {
        let input = ModelInput {
            clients: n,
            ..*base
        };
        for transport in Transport::ALL {
            let model_bps = bytes_per_second(transport, &input);
            let mut row = vec![
                transport.name().to_owned(),
                format_count(n),
                bytes_per_event(transport, &input)
                    .map(|b| format!("{b:.1}"))
                    .unwrap_or_else(|| "-".into()),
                format!("{}/s", format_bytes(model_bps)),
                format!("{:.3}", megabits(model_bps)),
                format!("{:.3}", classic_mbps(model_bps)),
            ];
            if let Some(result) = measured {
                match transport_bytes_per_event(result, transport) {
                    Some(bpe) => {
                        let measured_bps = bpe * n as f64 * input.events_per_second;
                        row.push(format!("{bpe:.1}"));
                        row.push(format!("{}/s", format_bytes(measured_bps)));
                        row.push(format!("{:.3}", megabits(measured_bps)));
                        row.push(if model_bps > 0.0 {
                            format!("{:.2}x", measured_bps / model_bps)
                        } else {
                            "-".into()
                        });
                    }
                    None => row.extend(["not measured".into(), "-".into(), "-".into(), "-".into()]),
                }
            }
            table.push(row);
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_classic_example_comes_out_exact() {
        // 871 header bytes per poll, once a second: 871,000 B/s for 1,000
        // clients, 6,968,000 bit/s; the classic table's "6.6 Mbps" is that
        // divided by 2^20.
        let expected_poll = [871_000.0, 8_710_000.0, 87_100_000.0];
        let expected_ws = [2_000.0, 20_000.0, 200_000.0];
        for (i, n) in CLASSIC_CLIENTS.into_iter().enumerate() {
            let input = ModelInput::classic(n);
            assert_eq!(
                bytes_per_second(Transport::ShortPoll, &input),
                expected_poll[i]
            );
            assert_eq!(
                bytes_per_second(Transport::LongPoll, &input),
                expected_poll[i]
            );
            assert_eq!(bytes_per_second(Transport::Ws, &input), expected_ws[i]);
        }
        let input = ModelInput::classic(1_000);
        assert_eq!(
            megabits(bytes_per_second(Transport::ShortPoll, &input)),
            6.968
        );
        assert_eq!(megabits(bytes_per_second(Transport::Ws, &input)), 0.016);
        // The classic table's figures: 6.6 / 66 / 665 Mbps against
        // 0.015 / 0.153 / 1.526 Mbps.
        let round = |x: f64, places: i32| (x * 10f64.powi(places)).round() / 10f64.powi(places);
        let poll: Vec<f64> = CLASSIC_CLIENTS
            .iter()
            .map(|&n| {
                classic_mbps(bytes_per_second(
                    Transport::ShortPoll,
                    &ModelInput::classic(n),
                ))
            })
            .collect();
        assert_eq!(
            [round(poll[0], 1), round(poll[1], 0), round(poll[2], 0)],
            [6.6, 66.0, 665.0]
        );
        let ws: Vec<f64> = CLASSIC_CLIENTS
            .iter()
            .map(|&n| classic_mbps(bytes_per_second(Transport::Ws, &ModelInput::classic(n))))
            .collect();
        assert_eq!(
            [round(ws[0], 3), round(ws[1], 3), round(ws[2], 3)],
            [0.015, 0.153, 1.526]
        );
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
    }

    #[test]
    fn polling_pays_headers_per_poll_and_long_polling_per_event() {
        let input = ModelInput {
            clients: 10,
            events_per_second: 2.0,
            header_bytes: 300,
            payload_bytes: 100,
            poll_interval_s: 0.25,
        };
        // 4 polls/s x 300 + 2 events/s x 100 = 1,400 B/s per client.
        assert_eq!(bytes_per_second(Transport::ShortPoll, &input), 14_000.0);
        assert_eq!(bytes_per_event(Transport::ShortPoll, &input), Some(700.0));
        // 2 x (300 + 100) = 800 B/s per client.
        assert_eq!(bytes_per_second(Transport::LongPoll, &input), 8_000.0);
        // 2 x (2 + 100) = 204 B/s per client: under 126 bytes a frame header is 2.
        assert_eq!(bytes_per_second(Transport::Ws, &input), 10.0 * 2.0 * 102.0);
        // "64\r\n" + "\r\n" = 6.
        assert_eq!(
            bytes_per_second(Transport::Stream, &input),
            10.0 * 2.0 * 106.0
        );
        let idle = ModelInput {
            events_per_second: 0.0,
            ..input
        };
        assert_eq!(bytes_per_event(Transport::Ws, &idle), None);
        assert_eq!(bytes_per_second(Transport::ShortPoll, &idle), 12_000.0);
    }

    #[test]
    fn table_has_a_row_per_transport_and_client_count() {
        let table = model_table(&CLASSIC_CLIENTS, &ModelInput::classic(0), None);
        assert_eq!(table.rows.len(), 15);
        let text = table.to_text();
        assert!(text.contains("871.0 kB/s"), "{text}");
        assert!(text.contains("100,000"), "{text}");
        // 871,000 B/s = 6.645 "Mbps" in the classic table's 2^20 units.
        assert!(text.contains("6.645"), "{text}");
    }
}
