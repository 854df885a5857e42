//! Micro-benchmarks of the pure protocol code: the wire classifier on each
//! transport's server-to-client bytes, event encoding and decoding, and the
//! framing arithmetic.
//!
//! `cargo bench -p pushbench-protocol --bench wire`; see docs/benchmarks.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pushbench_protocol::framing::{chunk_framing_len, ws_header_len};
use pushbench_protocol::wire::{Classifier, Direction, WireEvent};
use pushbench_protocol::{
    ByteLedger, Event, Received, Transport, decode_binary, decode_json, payload_for,
};

/// Payload bytes per event, as in the default scenarios.
const PAYLOAD: usize = 128;
/// Events per streaming connection in one iteration.
const STREAM_EVENTS: u64 = 1_000;
/// The load generator's read buffer (`client.rs`).
const READ_BUF: usize = 8 * 1024;

fn event(seq: u64) -> Event {
    Event {
        seq,
        topic: format!("t{}", seq % 4),
        created_us: 1_732_500_000_000_000 + seq * 1_000,
        payload: payload_for(seq, PAYLOAD),
    }
}

const DATE: &str = "date: Mon, 25 Nov 2024 02:00:00 GMT\r\n";

/// One HTTP/1.1 chunk as hyper writes it.
fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// An unmasked server frame (FIN set) carrying `body`.
fn server_frame(opcode: u8, body: &[u8]) -> Vec<u8> {
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
fn poll_answer(n: u64) -> Vec<Vec<u8>> {
    let events: Vec<String> = (1..=n).map(|s| event(s).to_json()).collect();
    let body = format!(
        "{{\"events\":[{}],\"next\":{},\"gap\":null}}",
        events.join(","),
        n + 1
    );
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{DATE}\r\n",
        body.len()
    );
    vec![head.into_bytes(), body.into_bytes()]
}

fn ndjson_stream(n: u64) -> Vec<Vec<u8>> {
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ncache-control: no-cache\r\n\
         transfer-encoding: chunked\r\n{DATE}\r\n"
    );
    let mut writes = vec![head.into_bytes()];
    writes.extend((1..=n).map(|s| chunk(format!("{}\n", event(s).to_json()).as_bytes())));
    writes
}

fn sse_stream(n: u64) -> Vec<Vec<u8>> {
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\
         transfer-encoding: chunked\r\n{DATE}\r\n"
    );
    let mut writes = vec![head.into_bytes()];
    writes.extend((1..=n).map(|s| {
        let e = event(s);
        chunk(format!("id: {}\ndata: {}\n\n", e.seq, e.to_json()).as_bytes())
    }));
    writes
}

const WS_101: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\
sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\ndate: Mon, 25 Nov 2024 02:00:00 GMT\r\n\r\n";

fn ws_text_stream(n: u64) -> Vec<Vec<u8>> {
    let mut writes = vec![WS_101.to_vec()];
    writes.extend((1..=n).map(|s| server_frame(0x1, event(s).to_json().as_bytes())));
    writes
}

fn ws_binary_stream(n: u64) -> Vec<Vec<u8>> {
    let mut writes = vec![WS_101.to_vec()];
    writes.extend((1..=n).map(|s| server_frame(0x2, &event(s).to_binary())));
    writes
}

/// What the load generator's meter does with each classifier event, minus
/// the clock: book bytes by class, count messages.
#[derive(Default)]
struct Sink {
    ledger: ByteLedger,
    events: u64,
}

impl Sink {
    fn on(&mut self, e: WireEvent<'_>) {
        match e {
            WireEvent::Bytes { class, bytes, .. } => self.ledger.add(class, bytes.len() as u64),
            WireEvent::Message(Received::Event { .. }) => self.events += 1,
            _ => {}
        }
    }
}

/// Classifies one connection's received bytes, fed as `reads`.
fn classify<'a>(transport: Transport, reads: impl Iterator<Item = &'a [u8]>) -> Sink {
    let mut classifier = Classifier::new(transport);
    let mut sink = Sink::default();
    let mut f = |e: WireEvent<'_>| sink.on(e);
    for read in reads {
        classifier
            .feed(Direction::Received, read, &mut f)
            .expect("benchmark streams are well-formed");
    }
    classifier.finish(&mut f);
    sink
}

fn bench_classifier(c: &mut Criterion) {
    let cases: [(&str, Transport, Vec<Vec<u8>>, u64); 6] = [
        ("short-poll-5ev", Transport::ShortPoll, poll_answer(5), 5),
        ("long-poll-1ev", Transport::LongPoll, poll_answer(1), 1),
        (
            "stream",
            Transport::Stream,
            ndjson_stream(STREAM_EVENTS),
            STREAM_EVENTS,
        ),
        (
            "sse",
            Transport::Sse,
            sse_stream(STREAM_EVENTS),
            STREAM_EVENTS,
        ),
        (
            "ws-text",
            Transport::Ws,
            ws_text_stream(STREAM_EVENTS),
            STREAM_EVENTS,
        ),
        (
            "ws-binary",
            Transport::Ws,
            ws_binary_stream(STREAM_EVENTS),
            STREAM_EVENTS,
        ),
    ];
    let mut group = c.benchmark_group("classifier");
    for (name, transport, writes, events) in &cases {
        let wire: Vec<u8> = writes.concat();
        // The streams must classify cleanly, or the bench measures the
        // error path: every byte booked, every event decoded.
        let check = classify(*transport, wire.chunks(READ_BUF));
        assert_eq!(check.ledger.total(), wire.len() as u64, "{name}: bytes");
        assert_eq!(check.events, *events, "{name}: events");

        group.throughput(Throughput::Bytes(wire.len() as u64));
        // One read per server write: a client keeping up with a live stream.
        group.bench_with_input(BenchmarkId::new("per-write", name), writes, |b, w| {
            b.iter(|| classify(*transport, w.iter().map(Vec::as_slice)).events)
        });
        // 8 KiB reads: a client that fell behind, or a burst.
        group.bench_with_input(BenchmarkId::new("8KiB-reads", name), &wire, |b, w| {
            b.iter(|| classify(*transport, w.chunks(READ_BUF)).events)
        });
    }
    group.finish();
}

fn bench_event_codec(c: &mut Criterion) {
    let e = event(4_242);
    let json = e.to_json();
    let binary = e.to_binary();
    let mut group = c.benchmark_group("event");
    group.throughput(Throughput::Bytes(json.len() as u64));
    group.bench_function("to_json", |b| b.iter(|| black_box(&e).to_json()));
    group.bench_function("decode_json", |b| {
        b.iter(|| decode_json(black_box(json.as_bytes())).expect("event"))
    });
    group.throughput(Throughput::Bytes(binary.len() as u64));
    group.bench_function("to_binary", |b| b.iter(|| black_box(&e).to_binary()));
    group.bench_function("decode_binary", |b| {
        b.iter(|| decode_binary(black_box(&binary)).expect("event"))
    });
    group.finish();
}

fn bench_framing(c: &mut Criterion) {
    // Lengths around every boundary the functions branch on.
    let lens: Vec<u64> = (0..256)
        .map(|i| [5, 125, 126, 200, 4_095, 4_096, 65_535, 65_536][i % 8] + i as u64)
        .collect();
    let mut group = c.benchmark_group("framing");
    group.throughput(Throughput::Elements(lens.len() as u64));
    group.bench_function("ws_header_len/256", |b| {
        b.iter(|| {
            black_box(&lens)
                .iter()
                .map(|&n| ws_header_len(n, n % 2 == 0))
                .sum::<usize>()
        })
    });
    group.bench_function("chunk_framing_len/256", |b| {
        b.iter(|| {
            black_box(&lens)
                .iter()
                .map(|&n| chunk_framing_len(n as usize))
                .sum::<usize>()
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_classifier, bench_event_codec, bench_framing
}
criterion_main!(benches);
