//! The bytes a server writes for each transport, as `pushbench serve`
//! writes them (one entry per write), built with the protocol crate's own
//! encoders: shared by the classifier bench (`wire.rs`) and the load
//! generator's receive bench (`crates/loadgen/benches/receive.rs`), which
//! include this file by path.

#![allow(dead_code, reason = "each bench uses the transports it measures")]

use pushbench_protocol::{Event, payload_for};

/// Payload bytes per event, as in the default scenarios.
pub const PAYLOAD: usize = 128;
/// Events per streaming connection in one iteration.
pub const STREAM_EVENTS: u64 = 1_000;
/// The load generator's read buffer (`client.rs`).
pub const READ_BUF: usize = 8 * 1024;

pub fn event(seq: u64) -> Event {
    Event {
        seq,
        topic: format!("t{}", seq % 4),
        created_us: 1_732_500_000_000_000 + seq * 1_000,
        payload: payload_for(seq, PAYLOAD),
    }
}

pub const DATE: &str = "date: Mon, 25 Nov 2024 02:00:00 GMT\r\n";

/// One HTTP/1.1 chunk as hyper writes it.
pub fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// An unmasked server frame (FIN set) carrying `body`.
pub fn server_frame(opcode: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    match body.len() {
        n @ 0..=125 => out.push(n as u8),
        n @ 126..=65_535 => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(body);
    out
}

/// A poll answer of `n` events (`/poll` and `/longpoll` send the same body).
pub fn poll_answer(n: u64) -> Vec<Vec<u8>> {
    poll_answer_from(1, n)
}

/// A poll answer of the `n` events from seq `first` on.
pub fn poll_answer_from(first: u64, n: u64) -> Vec<Vec<u8>> {
    let events: Vec<String> = (first..first + n).map(|s| event(s).to_json()).collect();
    let body = format!(
        "{{\"events\":[{}],\"next\":{},\"gap\":null}}",
        events.join(","),
        first + n
    );
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{DATE}\r\n",
        body.len()
    );
    vec![head.into_bytes(), body.into_bytes()]
}

/// The response head, then `n` events published `per_publish` at a time:
/// one write per publish, its events' `record`s in one chunk (as the
/// server frames a publish).
fn chunked_stream(
    content_type: &str,
    n: u64,
    per_publish: u64,
    record: impl Fn(&Event) -> String,
) -> Vec<Vec<u8>> {
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncache-control: no-cache\r\n\
         transfer-encoding: chunked\r\n{DATE}\r\n"
    );
    let seqs: Vec<u64> = (1..=n).collect();
    let mut writes = vec![head.into_bytes()];
    writes.extend(seqs.chunks(per_publish.max(1) as usize).map(|publish| {
        let body: String = publish.iter().map(|&s| record(&event(s))).collect();
        chunk(body.as_bytes())
    }));
    writes
}

pub fn ndjson_stream(n: u64, per_publish: u64) -> Vec<Vec<u8>> {
    chunked_stream("application/x-ndjson", n, per_publish, |e| {
        format!("{}\n", e.to_json())
    })
}

pub fn sse_stream(n: u64, per_publish: u64) -> Vec<Vec<u8>> {
    chunked_stream("text/event-stream", n, per_publish, |e| {
        format!("id: {}\ndata: {}\n\n", e.seq, e.to_json())
    })
}

pub const WS_101: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\
sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\ndate: Mon, 25 Nov 2024 02:00:00 GMT\r\n\r\n";

pub fn ws_text_stream(n: u64) -> Vec<Vec<u8>> {
    let mut writes = vec![WS_101.to_vec()];
    writes.extend((1..=n).map(|s| server_frame(0x1, event(s).to_json().as_bytes())));
    writes
}

pub fn ws_binary_stream(n: u64) -> Vec<Vec<u8>> {
    let mut writes = vec![WS_101.to_vec()];
    writes.extend((1..=n).map(|s| server_frame(0x2, &event(s).to_binary())));
    writes
}
