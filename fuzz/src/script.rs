//! The input format of the wire and control targets: a sequence of reads.
//!
//! ```text
//! input := read*
//! read  := tag:u8 bytes[tag & 0x7f]
//! ```
//!
//! Bit 7 of the tag is the direction (set: server to client, clear: client
//! to server), bits 0-6 the read's length (0 to 127; a zero-length read is
//! a valid, empty feed). The last read takes what is left when the input
//! ends early. A length prefix per read lets the fuzzer move a read
//! boundary by mutating one byte, and a real exchange becomes a seed by
//! cutting it into reads (`fuzz/seeds.py`).

use pushbench_protocol::wire::WireEvent;
use pushbench_protocol::{ByteClass, Direction};

/// Longest read one tag can describe.
pub const MAX_READ: usize = 0x7f;

/// One read: the bytes one `read()` or `write()` on the socket carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Read<'a> {
    /// Which way the bytes went.
    pub direction: Direction,
    /// The bytes.
    pub bytes: &'a [u8],
}

/// Splits fuzzer input into reads (see the module docs).
pub fn reads(mut data: &[u8]) -> Vec<Read<'_>> {
    let mut out = Vec::new();
    while let Some((&tag, rest)) = data.split_first() {
        let direction = if tag & 0x80 != 0 {
            Direction::Received
        } else {
            Direction::Sent
        };
        let len = usize::from(tag & 0x7f).min(rest.len());
        let (bytes, rest) = rest.split_at(len);
        out.push(Read { direction, bytes });
        data = rest;
    }
    out
}

/// The same bytes with neighbouring reads of one direction joined: each
/// run of reads becomes one feed, as if the socket had delivered it whole.
pub fn joined(reads: &[Read<'_>]) -> Vec<(Direction, Vec<u8>)> {
    let mut out: Vec<(Direction, Vec<u8>)> = Vec::new();
    for read in reads {
        match out.last_mut() {
            Some((direction, bytes)) if *direction == read.direction => {
                bytes.extend_from_slice(read.bytes)
            }
            _ => out.push((read.direction, read.bytes.to_vec())),
        }
    }
    out
}

/// The feeds of [`joined`] as reads.
pub fn as_reads(joined: &[(Direction, Vec<u8>)]) -> impl Iterator<Item = Read<'_>> {
    joined.iter().map(|(direction, bytes)| Read {
        direction: *direction,
        bytes,
    })
}

/// Every byte of one direction, in order.
pub fn stream(reads: &[Read<'_>], direction: Direction) -> Vec<u8> {
    reads
        .iter()
        .filter(|r| r.direction == direction)
        .flat_map(|r| r.bytes.iter().copied())
        .collect()
}

/// The segment a classifier booked, if `event` is one; a segment is never
/// empty (the classifier drops empty ones).
pub fn segment<'a>(event: &WireEvent<'a>) -> Option<(Direction, ByteClass, &'a [u8])> {
    let WireEvent::Bytes {
        direction,
        class,
        bytes,
    } = *event
    else {
        return None;
    };
    assert!(!bytes.is_empty(), "empty {class:?} segment ({direction:?})");
    Some((direction, class, bytes))
}

/// Appends `bytes` of `class` to `runs`, joining them to the last run when
/// it has the same class: runs that do not depend on how reads were split.
pub fn push_run(runs: &mut Vec<(ByteClass, Vec<u8>)>, class: ByteClass, bytes: &[u8]) {
    match runs.last_mut() {
        Some((c, v)) if *c == class => v.extend_from_slice(bytes),
        _ => runs.push((class, bytes.to_vec())),
    }
}
