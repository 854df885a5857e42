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
use pushbench_protocol::{ByteLedger, Received, Transport, decode_binary, decode_json};

#[path = "common/server_writes.rs"]
mod server_writes;
use server_writes::*;

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
            ndjson_stream(STREAM_EVENTS, 1),
            STREAM_EVENTS,
        ),
        (
            "sse",
            Transport::Sse,
            sse_stream(STREAM_EVENTS, 1),
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
