//! The load generator's receive path, per event: one client connection's
//! bytes as they come off the socket (several events per read, as a burst
//! arrives) through the counting and the meter (classifier, decoding,
//! ledgers, notes), then each note to the client's seq tracker and latency
//! histogram ([`record_event`]), for WebSocket (text), SSE, HTTP streaming
//! and long polling. What a client does besides (its socket reads, a
//! WebSocket's frame reader) is not in it.
//!
//! The bytes are those `pushbench serve` writes, built with the protocol
//! crate's encoders (128-byte payloads); each burst's events are one
//! publish, which SSE and HTTP streaming carry in one chunk (as the server
//! frames a generator tick). One iteration is one connection:
//! a fresh meter and tracker, the response head (or the 101), then
//! [`EVENTS`] events in reads of [`BURST`] events each (long polling: one
//! request and one answer of [`BURST`] events per poll). Throughput is in
//! events, so criterion prints the time per event.
//!
//! `cargo bench -p pushbench-loadgen --bench receive`; see docs/benchmarks.md.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pushbench_loadgen::meter::{Meter, Note};
use pushbench_loadgen::recorder::PhaseRecorder;
use pushbench_loadgen::session::{Receipt, record_event};
use pushbench_loadgen::tracker::SeqTracker;
use pushbench_net::counting::Tally;
use pushbench_protocol::{Received, Transport};

#[path = "../../protocol/benches/common/server_writes.rs"]
mod server_writes;
use server_writes::{ndjson_stream, poll_answer_from, sse_stream, ws_text_stream};
#[path = "../../server/benches/common/bench_setup.rs"]
mod bench_setup;

/// Events per connection in one iteration.
const EVENTS: u64 = 1_000;
/// Events per socket read: a burst (at 5,000 events/s to 100 clients a
/// client's read holds a few events; long-poll answers as many).
const BURST: usize = 8;
/// A burst's events as published together (one generator tick).
const PUBLISH: u64 = BURST as u64;

/// One connection's traffic: what the client writes before each group of
/// reads (long polling's requests), and the reads.
struct Connection {
    transport: Transport,
    /// Each exchange: a request (maybe empty) and the reads answering it.
    exchanges: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
}

/// The server's writes (after the head, each `per_write` events) grouped
/// into reads of [`BURST`] events, the head read alone.
fn bursts(writes: Vec<Vec<u8>>, per_write: usize) -> Vec<Vec<u8>> {
    let mut writes = writes.into_iter();
    let head = writes.next().unwrap_or_default();
    let rest: Vec<Vec<u8>> = writes.collect();
    std::iter::once(head)
        .chain(rest.chunks(BURST / per_write).map(|c| c.concat()))
        .collect()
}

/// A streaming connection whose server writes `per_write` events a write.
fn streaming(transport: Transport, writes: Vec<Vec<u8>>, per_write: usize) -> Connection {
    Connection {
        transport,
        exchanges: vec![(Vec::new(), bursts(writes, per_write))],
    }
}

fn long_poll() -> Connection {
    let per = BURST as u64;
    let exchanges = (0..EVENTS / per)
        .map(|k| {
            let first = 1 + k * per;
            let request = format!(
                "GET /longpoll?since={} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n",
                first - 1
            );
            let answer = poll_answer_from(first, per).concat();
            (request.into_bytes(), vec![answer])
        })
        .collect();
    Connection {
        transport: Transport::LongPoll,
        exchanges,
    }
}

/// Receives one connection as a client does; returns the events delivered.
fn receive(connection: &Connection, recorder: &Arc<PhaseRecorder>) -> u64 {
    let meter = Meter::new(connection.transport, recorder.clone(), 0);
    let mut tracker = SeqTracker::new(0);
    let mut notes = Vec::new();
    for (request, reads) in &connection.exchanges {
        if !request.is_empty() {
            meter.on_written(request);
        }
        for read in reads {
            meter.on_read(read);
            meter.move_notes_for(0, &mut notes);
            let mut shard = recorder.shard(0);
            for (_, note) in notes.drain(..) {
                if let Note::Message(
                    Received::Event {
                        seq, created_us, ..
                    },
                    at,
                ) = note
                {
                    let receipt = Receipt {
                        seq,
                        created_us,
                        at,
                    };
                    record_event(receipt, &mut tracker, recorder, &mut shard);
                }
            }
        }
    }
    tracker.delivered
}

fn benches(c: &mut Criterion) {
    let connections = [
        // A WebSocket frame per event; a burst's events are one publish,
        // which the server writes as one chunk on SSE and streaming.
        (
            "ws-text",
            streaming(Transport::Ws, ws_text_stream(EVENTS), 1),
        ),
        (
            "sse",
            streaming(Transport::Sse, sse_stream(EVENTS, PUBLISH), BURST),
        ),
        (
            "stream",
            streaming(Transport::Stream, ndjson_stream(EVENTS, PUBLISH), BURST),
        ),
        ("long-poll", long_poll()),
    ];
    let recorder = Arc::new(PhaseRecorder::default());
    recorder.set_measuring(true);
    let mut group = c.benchmark_group("receive");
    group.throughput(Throughput::Elements(EVENTS));
    for (name, connection) in &connections {
        assert_eq!(
            receive(connection, &recorder),
            EVENTS,
            "{name}: every event delivered"
        );
        group.bench_function(*name, |b| b.iter(|| receive(connection, &recorder)));
    }
    group.finish();
}

criterion_group! {
    name = receive_path;
    // Pure, steady code: 30 samples of 3 s after a second's warm-up.
    config = bench_setup::criterion(30, Duration::from_secs(1), Duration::from_secs(3));
    targets = benches
}
criterion_main!(receive_path);
