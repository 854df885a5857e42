//! The HTTP/2 wire classifier: books every byte of one HTTP/2 connection
//! (RFC 9113, cleartext with prior knowledge or above TLS) into exactly one
//! [`ByteClass`] and decodes the events its streams carry. Pure, no IO.
//!
//! An [`H2Classifier`] follows one client connection of one [`Transport`] in
//! both directions, like [`crate::Classifier`] does for HTTP/1.1, and hands
//! every DATA payload to the same body parsers (poll JSON, NDJSON, SSE,
//! WebSocket frames), so a body costs the same classes over both versions.
//! Its sink also gets the stream each event belongs to (0 for the
//! connection's own frames):
//!
//! ```
//! use pushbench_protocol::h2_classifier::{H2Classifier, PREFACE};
//! use pushbench_protocol::wire::{Direction, WireEvent};
//! use pushbench_protocol::{ByteClass, ByteLedger, Transport};
//!
//! let mut classifier = H2Classifier::new(Transport::Sse);
//! let mut sent = ByteLedger::default();
//! let mut sink = |_stream: u32, e: WireEvent<'_>| {
//!     if let WireEvent::Bytes { direction: Direction::Sent, class, bytes } = e {
//!         sent.add(class, bytes.len() as u64);
//!     }
//! };
//! // The preface, then an empty SETTINGS frame: the handshake.
//! let mut bytes = PREFACE.to_vec();
//! bytes.extend_from_slice(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
//! classifier.feed(Direction::Sent, &bytes, &mut sink).unwrap();
//! classifier.finish(&mut sink);
//! assert_eq!(sent.get(ByteClass::Handshake), 33);
//! ```
//!
//! # Classification rules
//! - The client's 24-byte connection preface and the first SETTINGS frame
//!   each side sends (header and body): `handshake`.
//! - HEADERS and CONTINUATION frames: the 9-byte frame header, the
//!   pad-length byte, the priority fields and the padding are `h2_frames`;
//!   the header block (HPACK output, decoded with a real decoder so the
//!   dynamic table follows the connection) is `request_headers` (sent) or
//!   `response_headers` (received). An extended CONNECT for a WebSocket
//!   (RFC 8441, `:protocol: websocket`) and its 2xx answer: `handshake`.
//!   A second header block on a stream (trailers) delivers nothing:
//!   `control`, like HTTP/1.1's trailer.
//! - DATA frames: the 9-byte header, the pad-length byte and the padding
//!   are `h2_frames`; the payload goes to the body parser an HTTP/1.1 body of
//!   the transport goes to (see [`crate::wire`]), which books `framing`,
//!   `payload` and `control` as over HTTP/1.1: the response's status and
//!   `content-encoding` choose it. Sent DATA on a WebSocket stream is the
//!   client's masked frames; other sent DATA is a request body (`payload`,
//!   what `/publish` publishes). A DATA frame without data that only
//!   carries END_STREAM is the analog of HTTP/1.1's last chunk: `control`,
//!   whole.
//! - Every other frame (later SETTINGS, SETTINGS ACK, WINDOW_UPDATE, PING,
//!   RST_STREAM, GOAWAY, PRIORITY, PUSH_PROMISE and its CONTINUATIONs,
//!   unknown types), header and body: `control`.
//! - A short- or long-poll stream that delivered no event (empty answer,
//!   gap only, error status, reset) is `control` as a whole, its request
//!   HEADERS included: each poll stream's bytes are held until its
//!   END_STREAM (or RST_STREAM) to decide, as over HTTP/1.1.
//! - Bytes left unparsed when the connection ends, and every byte of a
//!   direction after a protocol error in it, are `control`.
//!
//! Segments are reported in the order they are classified: within a stream
//! they follow the wire, across streams they need not (a held poll stream
//! comes out whole at its end). Per class and direction the totals are exact
//! and do not depend on how the reads were split.
//!
//! # Layout
//! This file holds the connection's state and its frame reader (preface,
//! frame headers read by [`H2FrameHead`], payloads); `frames` checks and
//! books each frame by type (DATA, header blocks, SETTINGS); `streams`
//! follows each stream (its header blocks decoded with HPACK, its DATA
//! handed to the [`crate::wire`] body parsers, END_STREAM and resets).
//! Both extend [`H2Classifier`] and depend on this file only.
//!
//! # Bounds
//! At most [`MAX_STREAMS`] streams are tracked at once (a stream is
//! forgotten once both sides ended it or it was reset); a header block is
//! at most [`MAX_HEAD`](crate::wire::MAX_HEAD) bytes; frames over the receiver's
//! `SETTINGS_MAX_FRAME_SIZE` are refused; DATA is never buffered whole, and
//! all streams together hold at most [`MAX_MESSAGE`] bytes back.

use std::collections::HashMap;
use std::fmt;

use loona_hpack::Decoder;

use crate::frame_head::{H2_FRAME_HEAD_LEN, H2FrameHead};
use crate::ledger::ByteClass;
use crate::transport::Transport;
use crate::wire::{
    Content, Direction, Emitter, Exchange, FrameParser, MAX_MESSAGE, WireError, WireEvent,
    WireOrder, up_to,
};

mod frames;
mod streams;

/// The client connection preface (RFC 9113 section 3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Most streams tracked at once: far above what servers allow
/// (`SETTINGS_MAX_CONCURRENT_STREAMS` is 100 to 250 in common stacks), so it
/// only stops a runaway peer from growing the classifier without bound.
pub const MAX_STREAMS: usize = 4096;

/// `SETTINGS_MAX_FRAME_SIZE` until a peer says otherwise.
const DEFAULT_MAX_FRAME: u32 = 16_384;
/// `SETTINGS_HEADER_TABLE_SIZE` until a peer says otherwise.
const DEFAULT_TABLE_SIZE: usize = 4096;
/// Largest HPACK dynamic table accepted, whatever a peer advertises: it is
/// the decoder's memory; browsers ask for 64 KiB.
const MAX_TABLE_SIZE: usize = 1 << 20;
/// A HEADERS frame's own fields around its fragment: pad length (1),
/// priority (5), padding (at most 255).
const MAX_HEADERS_OVERHEAD: usize = 1 + 5 + 255;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const CONTINUATION: u8 = 0x9;

const FLAG_END_STREAM: u8 = 0x1;
const FLAG_ACK: u8 = 0x1;
const FLAG_END_HEADERS: u8 = 0x4;
const FLAG_PADDED: u8 = 0x8;
const FLAG_PRIORITY: u8 = 0x20;

const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;
const SETTINGS_MAX_FRAME_SIZE: u16 = 0x5;

/// Classifies one HTTP/2 connection's bytes in both directions. See the
/// module docs.
pub struct H2Classifier {
    transport: Transport,
    /// Client to server, server to client.
    sides: [Side; 2],
    streams: HashMap<u32, Stream>,
    /// Bytes the streams hold back (fed to a stream, not yet booked).
    held: u64,
}

impl fmt::Debug for H2Classifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("H2Classifier")
            .field("transport", &self.transport)
            .field("streams", &self.streams.len())
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}

/// The frame reader and HPACK decoder of one direction.
struct Side {
    direction: Direction,
    read: Read,
    decoder: Decoder<'static>,
    /// The largest dynamic table the receiver allowed this side's encoder.
    table_size: usize,
    /// The largest frame the receiver allowed (the largest it ever
    /// advertised, so frames read before its SETTINGS arrived are not
    /// refused when the reads of the two directions interleave).
    max_frame: u32,
    /// Whether this side's first SETTINGS frame has passed.
    settings_seen: bool,
    /// A header block waiting for its CONTINUATION frames.
    block: Option<Block>,
}

impl Side {
    fn new(direction: Direction) -> Self {
        let mut decoder = Decoder::new();
        decoder.set_max_allowed_table_size(DEFAULT_TABLE_SIZE);
        Side {
            direction,
            read: match direction {
                Direction::Sent => Read::Preface(Vec::with_capacity(PREFACE.len())),
                Direction::Received => Read::Header(Vec::with_capacity(H2_FRAME_HEAD_LEN)),
            },
            decoder,
            table_size: DEFAULT_TABLE_SIZE,
            max_frame: DEFAULT_MAX_FRAME,
            settings_seen: false,
            block: None,
        }
    }
}

#[derive(Debug)]
enum Read {
    /// The client's preface, bytes so far.
    Preface(Vec<u8>),
    /// A frame header, bytes so far.
    Header(Vec<u8>),
    /// Inside a frame's payload.
    Payload(Frame),
    /// After a protocol error: everything is control.
    Broken,
}

#[derive(Debug)]
struct Frame {
    header: [u8; H2_FRAME_HEAD_LEN],
    len: u32,
    kind: u8,
    flags: u8,
    stream: u32,
    /// Payload bytes read so far.
    seen: u32,
    /// Whether the header has been booked.
    header_booked: bool,
    body: FrameBody,
}

#[derive(Debug)]
enum FrameBody {
    /// DATA: the payload offset where the padding starts (known once the
    /// pad length is read), and whether the frame is an empty END_STREAM
    /// (control, whole).
    Data { data_end: u32, only_end: bool },
    /// HEADERS, CONTINUATION, PUSH_PROMISE: buffered whole (bounded by
    /// [`MAX_HEAD`](crate::wire::MAX_HEAD)), split at the end.
    Block(Vec<u8>),
    /// SETTINGS: its class and the entry being read.
    Settings { class: ByteClass, entry: Vec<u8> },
    /// Anything else: control as it passes.
    Control,
}

#[derive(Debug)]
struct Block {
    stream: u32,
    /// A PUSH_PROMISE's block: decoded to keep HPACK in step, booked control.
    push: bool,
    /// The HEADERS frame carried END_STREAM.
    end_stream: bool,
    fragment: Vec<u8>,
}

/// One stream's state.
#[derive(Debug)]
struct Stream {
    exchange: Exchange,
    order: WireOrder,
    /// A poll stream is held until its end.
    hold: bool,
    state: StreamState,
}

#[derive(Debug)]
struct StreamState {
    /// An extended CONNECT for a WebSocket.
    ws: bool,
    request: Half,
    response: Half,
    /// The final response status, 0 before it.
    status: u16,
}

/// One direction of a stream.
#[derive(Debug)]
enum Half {
    /// Waiting for its header block.
    Head,
    /// After the header block: DATA goes to `Body`.
    Body(Body),
    /// END_STREAM passed.
    Ended,
}

#[derive(Debug)]
enum Body {
    /// A request body: payload.
    Payload,
    /// A response body: the HTTP/1.1 body parsers.
    Content(Content),
    /// WebSocket frames.
    Frames(FrameParser),
}

/// The sink the shared body parsers see for one stream.
type StreamSink<'a> = &'a mut dyn FnMut(WireEvent<'_>);

fn index(direction: Direction) -> usize {
    match direction {
        Direction::Sent => 0,
        Direction::Received => 1,
    }
}

fn book<S: FnMut(u32, WireEvent<'_>)>(
    sink: &mut S,
    stream: u32,
    direction: Direction,
    class: ByteClass,
    bytes: &[u8],
) {
    if !bytes.is_empty() {
        sink(
            stream,
            WireEvent::Bytes {
                direction,
                class,
                bytes,
            },
        );
    }
}

/// Runs `op` with an emitter over stream `id`'s exchange, and keeps the
/// count of bytes the streams hold back (`held`): `routed` bytes went in,
/// what the sink saw came out.
fn on_stream<S: FnMut(u32, WireEvent<'_>), R>(
    sink: &mut S,
    id: u32,
    stream: &mut Stream,
    held: &mut u64,
    routed: usize,
    op: impl FnOnce(&mut StreamState, &mut Emitter<'_, StreamSink<'_>>) -> R,
) -> R {
    let mut emitted = 0u64;
    let mut count = |e: WireEvent<'_>| {
        if let WireEvent::Bytes { bytes, .. } = e {
            emitted += bytes.len() as u64;
        }
        sink(id, e);
    };
    let mut dyn_sink: StreamSink<'_> = &mut count;
    let Stream {
        exchange,
        order,
        hold,
        state,
        ..
    } = stream;
    let mut em = Emitter::new(&mut dyn_sink, exchange, *hold, order);
    let result = op(state, &mut em);
    *held = (*held + routed as u64).saturating_sub(emitted);
    result
}

impl H2Classifier {
    /// A classifier for one HTTP/2 connection of `transport`.
    pub fn new(transport: Transport) -> Self {
        H2Classifier {
            transport,
            sides: [Side::new(Direction::Sent), Side::new(Direction::Received)],
            streams: HashMap::new(),
            held: 0,
        }
    }

    /// The transport this classifier follows.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Feeds bytes that crossed the socket in `direction` (above TLS when
    /// TLS), in order per direction. `sink(stream_id, event)` gets segments,
    /// messages and response boundaries; stream 0 carries the connection's
    /// own bytes (preface, SETTINGS, PING, GOAWAY, connection
    /// WINDOW_UPDATE).
    ///
    /// After a protocol error the direction's bytes are still booked (as
    /// `control`), so the ledger keeps adding up to the socket count; the
    /// error is returned once.
    pub fn feed<F: FnMut(u32, WireEvent<'_>)>(
        &mut self,
        direction: Direction,
        mut bytes: &[u8],
        sink: &mut F,
    ) -> Result<(), WireError> {
        let d = index(direction);
        let mut error = None;
        while !bytes.is_empty() {
            let mut step = self.step(d, bytes, sink);
            // What the streams hold back is bounded like one message,
            // whatever the frames (empty DATA frames included); past it the
            // held streams go out with the classes they have so far.
            if let Ok(n) = step
                && self.held > MAX_MESSAGE as u64
            {
                let held = self.held;
                self.release_held(sink);
                step = Err((n, WireError::TooLarge(held)));
            }
            match step {
                Ok(n) => bytes = &bytes[n..],
                Err((n, e)) => {
                    self.flush_side(d, sink);
                    self.sides[d].read = Read::Broken;
                    // A body parser's own limit may have struck first; the
                    // flushed bytes must not trip the bound again.
                    if self.held > MAX_MESSAGE as u64 {
                        self.release_held(sink);
                    }
                    bytes = &bytes[n..];
                    error.get_or_insert(e);
                }
            }
        }
        error.map_or(Ok(()), Err)
    }

    /// The connection ended: books everything still buffered (partial
    /// frames as `control`, held poll streams with the classes they had so
    /// far, as [`crate::Classifier::finish`] does).
    pub fn finish<F: FnMut(u32, WireEvent<'_>)>(&mut self, sink: &mut F) {
        for d in 0..2 {
            self.flush_side(d, sink);
            self.sides[d].read = Read::Broken;
        }
        let mut ids: Vec<u32> = self.streams.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(mut stream) = self.streams.remove(&id) {
                on_stream(sink, id, &mut stream, &mut self.held, 0, |_, em| {
                    em.release(true)
                });
            }
        }
    }

    /// Books every held poll stream with its provisional classes and stops
    /// holding them.
    fn release_held<F: FnMut(u32, WireEvent<'_>)>(&mut self, sink: &mut F) {
        let mut ids: Vec<u32> = self.streams.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(stream) = self.streams.get_mut(&id) {
                on_stream(sink, id, stream, &mut self.held, 0, |_, em| {
                    em.release(true)
                });
                stream.hold = false;
            }
        }
    }

    /// Consumes a prefix of `bytes` and returns its length; on error, the
    /// length consumed (booked or buffered) before the error.
    fn step<F: FnMut(u32, WireEvent<'_>)>(
        &mut self,
        d: usize,
        bytes: &[u8],
        sink: &mut F,
    ) -> Result<usize, (usize, WireError)> {
        let dir = self.sides[d].direction;
        match std::mem::replace(&mut self.sides[d].read, Read::Broken) {
            Read::Broken => {
                book(sink, 0, dir, ByteClass::Control, bytes);
                Ok(bytes.len())
            }
            Read::Preface(mut buf) => {
                let n = bytes.len().min(PREFACE.len() - buf.len());
                let expected = &PREFACE[buf.len()..buf.len() + n];
                if let Some(bad) = bytes[..n].iter().zip(expected).position(|(a, b)| a != b) {
                    buf.extend_from_slice(&bytes[..=bad]);
                    self.sides[d].read = Read::Preface(buf);
                    return Err((bad + 1, WireError::BadPreface));
                }
                buf.extend_from_slice(&bytes[..n]);
                if buf.len() == PREFACE.len() {
                    book(sink, 0, dir, ByteClass::Handshake, &buf);
                    self.sides[d].read = Read::Header(Vec::with_capacity(H2_FRAME_HEAD_LEN));
                } else {
                    self.sides[d].read = Read::Preface(buf);
                }
                Ok(n)
            }
            Read::Header(mut buf) => {
                let n = bytes.len().min(H2_FRAME_HEAD_LEN - buf.len());
                buf.extend_from_slice(&bytes[..n]);
                let (Ok(header), Ok(head)) = (
                    <[u8; H2_FRAME_HEAD_LEN]>::try_from(buf.as_slice()),
                    H2FrameHead::parse(&buf),
                ) else {
                    self.sides[d].read = Read::Header(buf);
                    return Ok(n);
                };
                match self.start_frame(d, header, head, sink) {
                    Ok(frame) if frame.len == 0 => {
                        self.sides[d].read = Read::Header(Vec::with_capacity(H2_FRAME_HEAD_LEN));
                        self.end_frame(d, frame, sink).map_err(|e| (n, e))?;
                    }
                    Ok(frame) => self.sides[d].read = Read::Payload(frame),
                    Err(e) => {
                        // Left in the buffer for `flush_side` to book.
                        self.sides[d].read = Read::Header(buf);
                        return Err((n, e));
                    }
                }
                Ok(n)
            }
            Read::Payload(mut frame) => {
                let n = up_to(bytes, u64::from(frame.len - frame.seen));
                if let Err(e) = self.payload(d, &mut frame, &bytes[..n], sink) {
                    self.sides[d].read = Read::Payload(frame);
                    return Err(e);
                }
                frame.seen += n as u32;
                if frame.seen == frame.len {
                    self.sides[d].read = Read::Header(Vec::with_capacity(H2_FRAME_HEAD_LEN));
                    self.end_frame(d, frame, sink).map_err(|e| (n, e))?;
                } else {
                    self.sides[d].read = Read::Payload(frame);
                }
                Ok(n)
            }
        }
    }
}

#[cfg(test)]
mod tests;
