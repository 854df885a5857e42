//! The HTTP/2 wire classifier (`pushbench_protocol::h2_classifier`), fed a
//! fuzzer-chosen exchange.
//!
//! The input's first byte picks the transport (its value modulo 5, in the
//! order short poll, long poll, stream, SSE, WebSocket); the rest is a
//! [`crate::script`] exchange. As for the HTTP/1.1 classifier
//! ([`crate::wire`]), the exchange is classified read by read and with each
//! run of same-direction reads joined, and the checks are the ones the byte
//! counts depend on:
//! - per direction, the booked segments hold exactly the bytes fed (the
//!   same count of every byte value; over HTTP/2 the segments of different
//!   streams, and a header block and its frame's fields, need not come out
//!   in wire order), and no segment is empty;
//! - per stream, the segments, messages, response boundaries, malformed
//!   reports and the first errors do not depend on where the reads were
//!   cut, except on a connection where a content-coded body failed to
//!   decode (as for [`crate::wire`]);
//! - the bytes booked as `payload` from the server (on the wire, or inside
//!   a content-coded body once decoded) are exactly the payload bytes of
//!   the events decoded from them.

use std::collections::BTreeMap;

use pushbench_protocol::h2_classifier::H2Classifier;
use pushbench_protocol::wire::{Direction, WireError, WireEvent};
use pushbench_protocol::{ByteClass, Received, Transport};

use crate::script::{self, Read};
use crate::wire::{index, payload_len, undecodable};

/// What one classification produced.
#[derive(Debug, Default, PartialEq)]
struct Outcome {
    /// Per stream and direction (sent, received): the segments, neighbours
    /// of one class merged, so the cut points of the feed do not show.
    segments: BTreeMap<(u32, usize), Vec<(ByteClass, Vec<u8>)>>,
    messages: BTreeMap<u32, Vec<Received>>,
    heads: BTreeMap<u32, Vec<u16>>,
    ends: BTreeMap<u32, Vec<(u16, Option<u64>)>>,
    malformed: Vec<(u32, Direction, &'static str)>,
    /// Per direction, the first error `feed` returned.
    errors: [Option<WireError>; 2],
    /// Per stream, the decoded bytes of content-coded bodies by class,
    /// neighbours merged.
    decoded: BTreeMap<u32, Vec<(ByteClass, Vec<u8>)>>,
}

const TRANSPORTS: [Transport; 5] = [
    Transport::ShortPoll,
    Transport::LongPoll,
    Transport::Stream,
    Transport::Sse,
    Transport::Ws,
];

fn classify<'a>(transport: Transport, feeds: impl IntoIterator<Item = Read<'a>>) -> Outcome {
    let mut out = Outcome::default();
    let mut errors: [Option<WireError>; 2] = [None, None];
    let mut classifier = H2Classifier::new(transport);
    let mut sink = |stream: u32, event: WireEvent<'_>| match event {
        WireEvent::Bytes { .. } => {
            let Some((direction, class, bytes)) = script::segment(&event) else {
                return;
            };
            let segments = out.segments.entry((stream, index(direction))).or_default();
            script::push_run(segments, class, bytes);
        }
        WireEvent::Message(received) => out.messages.entry(stream).or_default().push(received),
        WireEvent::ResponseHead { status } => out.heads.entry(stream).or_default().push(status),
        WireEvent::ResponseEnd { status, next } => {
            out.ends.entry(stream).or_default().push((status, next))
        }
        WireEvent::Malformed { direction, reason } => {
            out.malformed.push((stream, direction, reason))
        }
        WireEvent::Decoded { class, bytes } => {
            script::push_run(out.decoded.entry(stream).or_default(), class, bytes)
        }
        // HTTP/2 speaks only pushbench's dialect, which signals nothing.
        WireEvent::Peer(_) => {}
    };
    for read in feeds {
        if let Err(e) = classifier.feed(read.direction, read.bytes, &mut sink) {
            errors[index(read.direction)].get_or_insert(e);
        }
    }
    classifier.finish(&mut sink);
    out.errors = errors;
    out
}

/// How often each byte value occurs.
fn histogram<'a>(bytes: impl IntoIterator<Item = &'a u8>) -> [u64; 256] {
    let mut counts = [0u64; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    counts
}

/// Classifies the exchange in `data` (see the module docs) and checks the
/// module's properties.
pub fn check(data: &[u8]) {
    let Some((&pick, data)) = data.split_first() else {
        return;
    };
    let transport = TRANSPORTS[usize::from(pick) % TRANSPORTS.len()];
    let reads = script::reads(data);
    let split = classify(transport, reads.iter().copied());
    let joined = script::joined(&reads);
    let whole = classify(transport, script::as_reads(&joined));

    for direction in [Direction::Sent, Direction::Received] {
        let fed = script::stream(&reads, direction);
        let booked: Vec<u8> = whole
            .segments
            .iter()
            .filter(|((_, d), _)| *d == index(direction))
            .flat_map(|(_, segs)| segs.iter().flat_map(|(_, b)| b.iter().copied()))
            .collect();
        assert_eq!(
            booked.len(),
            fed.len(),
            "{transport:?} {direction:?}: booked {} bytes != fed {}",
            booked.len(),
            fed.len()
        );
        assert!(
            histogram(&booked) == histogram(&fed),
            "{transport:?} {direction:?}: the bytes booked are not the bytes fed"
        );
    }
    if undecodable(&split.errors) || undecodable(&whole.errors) {
        return;
    }
    assert_eq!(
        split, whole,
        "{transport:?}: classification depends on where the reads were cut"
    );

    let payload_booked: usize = whole
        .segments
        .iter()
        .filter(|((_, d), _)| *d == index(Direction::Received))
        .flat_map(|(_, segs)| segs.iter())
        .chain(whole.decoded.values().flatten())
        .filter(|(class, _)| *class == ByteClass::Payload)
        .map(|(_, b)| b.len())
        .sum();
    let payload_decoded = payload_len(whole.messages.values().flatten());
    assert_eq!(
        payload_booked, payload_decoded,
        "{transport:?}: received payload bytes booked != payload of the decoded events"
    );
}
