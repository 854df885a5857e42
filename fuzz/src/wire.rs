//! The wire classifier of one transport, fed a fuzzer-chosen exchange.
//!
//! The exchange is classified twice: read by read as the fuzzer cut it,
//! and with each run of same-direction reads joined into one feed. The
//! properties checked are the ones the byte counts depend on:
//! - per direction, the booked segments joined are exactly the bytes fed
//!   (no byte lost, doubled or reordered), and no segment is empty;
//! - the classes, decoded messages, response boundaries, malformed reports
//!   and first errors do not depend on where the reads were cut, except on
//!   a connection where a content-coded body failed to decode: how far a
//!   corrupt gzip or Brotli stream decodes before the decoder notices
//!   depends on the reads, so there only the first property is checked;
//! - the bytes booked as `payload` from the server (on the wire, or inside
//!   a content-coded body once decoded) are exactly the payload bytes of
//!   the events decoded from them.

use pushbench_protocol::wire::{Classifier, Direction, WireError, WireEvent};
use pushbench_protocol::{ByteClass, Received, TargetKind, Transport};

use crate::script::{self, Read};

/// What one classification produced.
#[derive(Debug, Default, PartialEq)]
struct Outcome {
    /// Per direction (sent, received): the segments, neighbours of one
    /// class merged, so the cut points of the feed do not show.
    segments: [Vec<(ByteClass, Vec<u8>)>; 2],
    messages: Vec<Received>,
    heads: Vec<u16>,
    ends: Vec<(u16, Option<u64>)>,
    malformed: Vec<(Direction, &'static str)>,
    /// Per direction, the first error `feed` returned.
    errors: [Option<WireError>; 2],
    /// Decoded bytes of content-coded bodies, by class, neighbours merged.
    decoded: Vec<(ByteClass, Vec<u8>)>,
    /// What the dialect told the client (`{:?}` of each signal).
    peer: Vec<String>,
}

/// Whether a content-coded body failed to decode on the connection: how
/// far a corrupt gzip or Brotli stream decodes before the decoder notices
/// depends on the reads, so the split-independence check does not apply.
pub fn undecodable(errors: &[Option<WireError>; 2]) -> bool {
    errors
        .iter()
        .any(|e| matches!(e, Some(WireError::BadCoding(_))))
}

/// A direction's slot in per-direction arrays: sent 0, received 1.
pub fn index(direction: Direction) -> usize {
    match direction {
        Direction::Sent => 0,
        Direction::Received => 1,
    }
}

fn classify<'a>(
    kind: TargetKind,
    transport: Transport,
    feeds: impl IntoIterator<Item = Read<'a>>,
) -> Outcome {
    let mut out = Outcome::default();
    let mut errors: [Option<WireError>; 2] = [None, None];
    let mut classifier = Classifier::for_target(kind, transport);
    let mut sink = |event: WireEvent<'_>| match event {
        WireEvent::Bytes { .. } => {
            let Some((direction, class, bytes)) = script::segment(&event) else {
                return;
            };
            script::push_run(&mut out.segments[index(direction)], class, bytes);
        }
        WireEvent::Decoded { class, bytes } => script::push_run(&mut out.decoded, class, bytes),
        WireEvent::Message(received) => out.messages.push(received),
        WireEvent::ResponseHead { status } => out.heads.push(status),
        WireEvent::ResponseEnd { status, next } => out.ends.push((status, next)),
        WireEvent::Malformed { direction, reason } => out.malformed.push((direction, reason)),
        WireEvent::Peer(signal) => out.peer.push(format!("{signal:?}")),
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

/// Classifies the exchange in `data` (see [`crate::script`]) as a
/// connection of `transport` to `pushbench serve` and checks the module's
/// properties.
pub fn check(transport: Transport, data: &[u8]) {
    check_kind(TargetKind::Pushbench, transport, data);
}

/// [`check`] for a connection to a `kind` server, read in its dialect;
/// the first byte of `data` picks the transport among those `kind` offers.
pub fn check_dialect(kind: TargetKind, data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let offered = kind.offers();
    check_kind(kind, offered[usize::from(pick) % offered.len()], rest);
}

/// [`check`] for a connection to a `kind` server over `transport`, read in
/// its dialect.
pub fn check_kind(kind: TargetKind, transport: Transport, data: &[u8]) {
    let reads = script::reads(data);
    let split = classify(kind, transport, reads.iter().copied());
    let joined = script::joined(&reads);
    let whole = classify(kind, transport, script::as_reads(&joined));

    for direction in [Direction::Sent, Direction::Received] {
        let fed = script::stream(&reads, direction);
        for (how, outcome) in [("read by read", &split), ("joined", &whole)] {
            let booked: Vec<u8> = outcome.segments[index(direction)]
                .iter()
                .flat_map(|(_, b)| b.iter().copied())
                .collect();
            assert!(
                booked == fed,
                "{transport:?} {direction:?} ({how}): booked {} bytes != fed {}:\n booked {:?}\n fed    {:?}",
                booked.len(),
                fed.len(),
                String::from_utf8_lossy(&booked),
                String::from_utf8_lossy(&fed),
            );
        }
    }
    if undecodable(&split.errors) || undecodable(&whole.errors) {
        return;
    }
    assert_eq!(
        split, whole,
        "{transport:?}: classification depends on where the reads were cut"
    );

    let payload_booked: usize = whole.segments[index(Direction::Received)]
        .iter()
        .chain(&whole.decoded)
        .filter(|(class, _)| *class == ByteClass::Payload)
        .map(|(_, b)| b.len())
        .sum();
    let payload_decoded = payload_len(&whole.messages);
    assert_eq!(
        payload_booked, payload_decoded,
        "{transport:?}: received payload bytes booked != payload of the decoded events"
    );
}

/// The payload bytes of the events among `messages`.
pub fn payload_len<'a>(messages: impl IntoIterator<Item = &'a Received>) -> usize {
    messages
        .into_iter()
        .map(|m| match m {
            Received::Event { payload_len, .. } => *payload_len,
            Received::Gap(_) => 0,
        })
        .sum()
}
