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
//! # Bounds
//! At most [`MAX_STREAMS`] streams are tracked at once (a stream is
//! forgotten once both sides ended it or it was reset); a header block is
//! at most [`MAX_HEAD`] bytes; frames over the receiver's
//! `SETTINGS_MAX_FRAME_SIZE` are refused; DATA is never buffered whole, and
//! all streams together hold at most [`MAX_MESSAGE`] bytes back.

use std::collections::HashMap;
use std::fmt;

use loona_hpack::Decoder;

use crate::wire::{
    Content, Direction, Emitter, Exchange, FrameParser, MAX_HEAD, MAX_MESSAGE, WireError,
    WireEvent, WireOrder,
};
use crate::{ByteClass, Transport};

/// The client connection preface (RFC 9113 section 3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Most streams tracked at once: far above what servers allow
/// (`SETTINGS_MAX_CONCURRENT_STREAMS` is 100 to 250 in common stacks), so it
/// only stops a runaway peer from growing the classifier without bound.
pub const MAX_STREAMS: usize = 4096;

/// Length of a frame header (RFC 9113 section 4.1).
pub const FRAME_HEADER_LEN: usize = 9;

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
                Direction::Received => Read::Header(Vec::with_capacity(FRAME_HEADER_LEN)),
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
    header: [u8; FRAME_HEADER_LEN],
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
    /// [`MAX_HEAD`]), split at the end.
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
                    self.sides[d].read = Read::Header(Vec::with_capacity(FRAME_HEADER_LEN));
                } else {
                    self.sides[d].read = Read::Preface(buf);
                }
                Ok(n)
            }
            Read::Header(mut buf) => {
                let n = bytes.len().min(FRAME_HEADER_LEN - buf.len());
                buf.extend_from_slice(&bytes[..n]);
                let Ok(header) = <[u8; FRAME_HEADER_LEN]>::try_from(buf.as_slice()) else {
                    self.sides[d].read = Read::Header(buf);
                    return Ok(n);
                };
                match self.start_frame(d, header, sink) {
                    Ok(frame) if frame.len == 0 => {
                        self.sides[d].read = Read::Header(Vec::with_capacity(FRAME_HEADER_LEN));
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
                let left = usize::try_from(frame.len - frame.seen).unwrap_or(usize::MAX);
                let n = bytes.len().min(left);
                if let Err(e) = self.payload(d, &mut frame, &bytes[..n], sink) {
                    self.sides[d].read = Read::Payload(frame);
                    return Err(e);
                }
                frame.seen += n as u32;
                if frame.seen == frame.len {
                    self.sides[d].read = Read::Header(Vec::with_capacity(FRAME_HEADER_LEN));
                    self.end_frame(d, frame, sink).map_err(|e| (n, e))?;
                } else {
                    self.sides[d].read = Read::Payload(frame);
                }
                Ok(n)
            }
        }
    }

    /// A frame header arrived: checks it and books what is known already.
    /// On error nothing is booked (the header stays buffered).
    fn start_frame<F: FnMut(u32, WireEvent<'_>)>(
        &mut self,
        d: usize,
        header: [u8; FRAME_HEADER_LEN],
        sink: &mut F,
    ) -> Result<Frame, WireError> {
        let len = u32::from_be_bytes([0, header[0], header[1], header[2]]);
        let kind = header[3];
        let flags = header[4];
        let stream = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff;
        let side = &mut self.sides[d];
        let dir = side.direction;
        if len > side.max_frame {
            return Err(WireError::FrameTooLarge {
                len,
                max: side.max_frame,
            });
        }
        match &side.block {
            Some(block) if kind != CONTINUATION || stream != block.stream => {
                return Err(WireError::BadFrame(
                    "a header block is interrupted by another frame",
                ));
            }
            None if kind == CONTINUATION => {
                return Err(WireError::BadFrame("CONTINUATION without a header block"));
            }
            _ => {}
        }
        let mut frame = Frame {
            header,
            len,
            kind,
            flags,
            stream,
            seen: 0,
            header_booked: false,
            body: FrameBody::Control,
        };
        match kind {
            DATA | HEADERS | CONTINUATION | PUSH_PROMISE if stream == 0 => {
                return Err(WireError::BadFrame("a stream frame on stream 0"));
            }
            DATA => {
                let padded = flags & FLAG_PADDED != 0;
                if padded && len == 0 {
                    return Err(WireError::BadFrame("padded DATA without a pad length"));
                }
                let only_end = len == 0 && flags & FLAG_END_STREAM != 0;
                frame.body = FrameBody::Data {
                    data_end: len,
                    only_end,
                };
                // A padded frame's class waits for its pad length.
                if !padded {
                    let class = if only_end {
                        ByteClass::Control
                    } else {
                        ByteClass::H2Frames
                    };
                    self.book_stream(d, stream, class, &header, sink);
                    frame.header_booked = true;
                }
            }
            HEADERS | CONTINUATION | PUSH_PROMISE => {
                let so_far = side.block.as_ref().map_or(0, |b| b.fragment.len());
                let most = so_far.saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
                if most > MAX_HEAD + MAX_HEADERS_OVERHEAD {
                    return Err(WireError::HeadTooLong);
                }
                frame.body = FrameBody::Block(Vec::with_capacity(len as usize));
            }
            SETTINGS => {
                if stream != 0 {
                    return Err(WireError::BadFrame("SETTINGS on a stream"));
                }
                let class = if flags & FLAG_ACK != 0 {
                    if len != 0 {
                        return Err(WireError::BadFrame("SETTINGS ACK with a body"));
                    }
                    ByteClass::Control
                } else {
                    if !len.is_multiple_of(6) {
                        return Err(WireError::BadFrame("SETTINGS length not a multiple of 6"));
                    }
                    if side.settings_seen {
                        ByteClass::Control
                    } else {
                        side.settings_seen = true;
                        ByteClass::Handshake
                    }
                };
                book(sink, 0, dir, class, &header);
                frame.header_booked = true;
                frame.body = FrameBody::Settings {
                    class,
                    entry: Vec::with_capacity(6),
                };
            }
            _ => {
                book(sink, stream, dir, ByteClass::Control, &header);
                frame.header_booked = true;
            }
        }
        Ok(frame)
    }

    /// Part of a frame's payload (`chunk`, at offset `frame.seen`). On
    /// error, the length booked or buffered before it.
    fn payload<F: FnMut(u32, WireEvent<'_>)>(
        &mut self,
        d: usize,
        frame: &mut Frame,
        chunk: &[u8],
        sink: &mut F,
    ) -> Result<(), (usize, WireError)> {
        let dir = self.sides[d].direction;
        match &mut frame.body {
            FrameBody::Data { data_end, only_end } => {
                let mut at = 0;
                let padded = frame.flags & FLAG_PADDED != 0;
                if padded && frame.seen == 0 {
                    let pad = u32::from(chunk[0]);
                    if pad + 1 > frame.len {
                        book(sink, frame.stream, dir, ByteClass::Control, &chunk[..1]);
                        return Err((1, WireError::BadFrame("padding longer than the frame")));
                    }
                    *data_end = frame.len - pad;
                    *only_end = *data_end == 1 && frame.flags & FLAG_END_STREAM != 0;
                    let class = if *only_end {
                        ByteClass::Control
                    } else {
                        ByteClass::H2Frames
                    };
                    let mut overhead = frame.header.to_vec();
                    overhead.push(chunk[0]);
                    self.book_stream(d, frame.stream, class, &overhead, sink);
                    frame.header_booked = true;
                    at = 1;
                }
                let pad_class = if *only_end {
                    ByteClass::Control
                } else {
                    ByteClass::H2Frames
                };
                let offset = frame.seen + at as u32;
                let data_left = usize::try_from(data_end.saturating_sub(offset)).unwrap_or(0);
                let n = (chunk.len() - at).min(data_left);
                if n > 0 {
                    self.deliver(d, frame.stream, &chunk[at..at + n], sink)
                        .map_err(|e| (at + n, e))?;
                }
                at += n;
                self.book_stream(d, frame.stream, pad_class, &chunk[at..], sink);
            }
            FrameBody::Block(buf) => buf.extend_from_slice(chunk),
            FrameBody::Settings { class, entry } => {
                book(sink, 0, dir, *class, chunk);
                for &b in chunk {
                    entry.push(b);
                    if entry.len() == 6 {
                        let id = u16::from_be_bytes([entry[0], entry[1]]);
                        let value = u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]);
                        entry.clear();
                        self.apply_setting(d, id, value);
                    }
                }
            }
            FrameBody::Control => book(sink, frame.stream, dir, ByteClass::Control, chunk),
        }
        Ok(())
    }

    /// A SETTINGS entry from side `d` limits the other side's frames and
    /// encoder.
    fn apply_setting(&mut self, d: usize, id: u16, value: u32) {
        let other = &mut self.sides[1 - d];
        match id {
            SETTINGS_HEADER_TABLE_SIZE => {
                let size = usize::try_from(value)
                    .unwrap_or(usize::MAX)
                    .min(MAX_TABLE_SIZE);
                if size > other.table_size {
                    other.table_size = size;
                    other.decoder.set_max_allowed_table_size(size);
                }
            }
            SETTINGS_MAX_FRAME_SIZE => {
                // RFC 9113 section 6.5.2: at most 2^24 - 1.
                other.max_frame = other.max_frame.max(value.min(0x00ff_ffff));
            }
            _ => {}
        }
    }

    /// A frame's payload is complete.
    fn end_frame<F: FnMut(u32, WireEvent<'_>)>(
        &mut self,
        d: usize,
        frame: Frame,
        sink: &mut F,
    ) -> Result<(), WireError> {
        match frame.body {
            FrameBody::Data { .. } => {
                if frame.flags & FLAG_END_STREAM != 0 {
                    self.end_half(d, frame.stream, sink);
                }
                Ok(())
            }
            FrameBody::Block(_) => self.end_block_frame(d, frame, sink),
            FrameBody::Settings { .. } => Ok(()),
            FrameBody::Control => {
                if frame.kind == RST_STREAM {
                    self.reset(frame.stream, sink);
                }
                Ok(())
            }
        }
    }

    /// A HEADERS, CONTINUATION or PUSH_PROMISE frame is complete: books its
    /// own fields, keeps its fragment, and decodes the block once it is
    /// whole.
    fn end_block_frame<F: FnMut(u32, WireEvent<'_>)>(
        &mut self,
        d: usize,
        frame: Frame,
        sink: &mut F,
    ) -> Result<(), WireError> {
        let Frame {
            header,
            kind,
            flags,
            stream,
            body: FrameBody::Block(buf),
            ..
        } = frame
        else {
            return Ok(());
        };
        let header = &header;
        let dir = self.sides[d].direction;
        let mut start = 0usize;
        let mut pad = 0usize;
        if kind != CONTINUATION && flags & FLAG_PADDED != 0 {
            pad = buf.first().map_or(usize::MAX, |&p| usize::from(p));
            start = 1;
        }
        if kind == HEADERS && flags & FLAG_PRIORITY != 0 {
            start += 5;
        }
        if kind == PUSH_PROMISE {
            start += 4;
        }
        if start.saturating_add(pad) > buf.len() {
            book(sink, stream, dir, ByteClass::Control, header);
            book(sink, stream, dir, ByteClass::Control, &buf);
            return Err(WireError::BadFrame(
                "header block frame fields longer than the frame",
            ));
        }
        let end = buf.len() - pad;
        let push = match &self.sides[d].block {
            Some(block) => block.push,
            None => kind == PUSH_PROMISE,
        };
        if push {
            book(sink, stream, dir, ByteClass::Control, header);
            book(sink, stream, dir, ByteClass::Control, &buf[..start]);
            book(sink, stream, dir, ByteClass::Control, &buf[end..]);
        } else {
            if kind == HEADERS
                && !self.streams.contains_key(&stream)
                && let Err(e) = self.open_stream(d, stream)
            {
                book(sink, stream, dir, ByteClass::Control, header);
                book(sink, stream, dir, ByteClass::Control, &buf);
                return Err(e);
            }
            let mut overhead = header.to_vec();
            overhead.extend_from_slice(&buf[..start]);
            self.book_stream(d, stream, ByteClass::H2Frames, &overhead, sink);
            self.book_stream(d, stream, ByteClass::H2Frames, &buf[end..], sink);
        }
        let fragment = &buf[start..end];
        let block = self.sides[d].block.get_or_insert_with(|| Block {
            stream,
            push,
            end_stream: kind == HEADERS && flags & FLAG_END_STREAM != 0,
            fragment: Vec::new(),
        });
        block.fragment.extend_from_slice(fragment);
        if block.fragment.len() > MAX_HEAD {
            if let Some(block) = self.sides[d].block.take() {
                book(sink, stream, dir, ByteClass::Control, &block.fragment);
            }
            return Err(WireError::HeadTooLong);
        }
        if flags & FLAG_END_HEADERS != 0
            && let Some(block) = self.sides[d].block.take()
        {
            self.end_block(d, block, sink)?;
        }
        Ok(())
    }

    /// Starts tracking stream `id`, first seen in direction `d`.
    fn open_stream(&mut self, d: usize, id: u32) -> Result<(), WireError> {
        if self.streams.len() >= MAX_STREAMS {
            return Err(WireError::TooManyStreams(MAX_STREAMS));
        }
        let stream = Stream {
            exchange: Exchange::default(),
            order: WireOrder::default(),
            hold: matches!(self.transport, Transport::ShortPoll | Transport::LongPoll),
            state: StreamState {
                ws: false,
                // A stream the server opens (a pushed one) has no request.
                request: if d == 0 { Half::Head } else { Half::Ended },
                response: Half::Head,
                status: 0,
            },
        };
        self.streams.insert(id, stream);
        Ok(())
    }

    /// A header block is whole: decodes it and books it.
    fn end_block<F: FnMut(u32, WireEvent<'_>)>(
        &mut self,
        d: usize,
        block: Block,
        sink: &mut F,
    ) -> Result<(), WireError> {
        let dir = self.sides[d].direction;
        let id = block.stream;
        let mut fields = Fields::default();
        let decoded = self.sides[d]
            .decoder
            .decode_with_cb(&block.fragment, |name, value| {
                fields.note(&name, &value);
            });
        if let Err(e) = decoded {
            book(sink, id, dir, ByteClass::Control, &block.fragment);
            return Err(WireError::Hpack(e.to_string()));
        }
        if block.push {
            book(sink, id, dir, ByteClass::Control, &block.fragment);
            return Ok(());
        }
        let transport = self.transport;
        let status = match dir {
            Direction::Received
                if self
                    .streams
                    .get(&id)
                    .is_some_and(|s| matches!(s.state.response, Half::Head)) =>
            {
                match fields.status() {
                    Some(status) => Some(status),
                    None => {
                        book(sink, id, dir, ByteClass::Control, &block.fragment);
                        return Err(WireError::BadStatusLine);
                    }
                }
            }
            _ => None,
        };
        let Some(stream) = self.streams.get_mut(&id) else {
            book(sink, id, dir, ByteClass::Control, &block.fragment);
            return Ok(());
        };
        let fragment = &block.fragment;
        on_stream(
            sink,
            id,
            stream,
            &mut self.held,
            fragment.len(),
            |st, em| match dir {
                Direction::Sent => match st.request {
                    Half::Head => {
                        st.ws = fields.is_websocket_connect();
                        if st.ws {
                            em.bytes(dir, ByteClass::Handshake, fragment);
                            st.request = Half::Body(Body::Frames(FrameParser::new(dir)));
                        } else {
                            em.bytes(dir, ByteClass::RequestHeaders, fragment);
                            st.request = Half::Body(Body::Payload);
                        }
                    }
                    // Trailers deliver nothing.
                    _ => em.bytes(dir, ByteClass::Control, fragment),
                },
                Direction::Received => match status {
                    Some(status) if (100..200).contains(&status) => {
                        // An interim answer; the final one follows.
                        em.bytes(dir, ByteClass::ResponseHeaders, fragment);
                        em.event(WireEvent::ResponseHead { status });
                    }
                    Some(status) => {
                        st.status = status;
                        if st.ws && (200..300).contains(&status) {
                            em.bytes(dir, ByteClass::Handshake, fragment);
                            st.response = Half::Body(Body::Frames(FrameParser::new(dir)));
                        } else {
                            em.bytes(dir, ByteClass::ResponseHeaders, fragment);
                            let content = Content::for_response(
                                transport,
                                status,
                                fields.content_encoding.as_deref(),
                            );
                            st.response = Half::Body(Body::Content(content));
                        }
                        em.event(WireEvent::ResponseHead { status });
                    }
                    // Trailers deliver nothing.
                    None => em.bytes(dir, ByteClass::Control, fragment),
                },
            },
        );
        if block.end_stream {
            self.end_half(d, id, sink);
        }
        Ok(())
    }

    /// Books frame bytes of stream `id` through its exchange (so a held poll
    /// stream keeps them), or directly if the stream is not tracked.
    fn book_stream<F: FnMut(u32, WireEvent<'_>)>(
        &mut self,
        d: usize,
        id: u32,
        class: ByteClass,
        bytes: &[u8],
        sink: &mut F,
    ) {
        let dir = self.sides[d].direction;
        if bytes.is_empty() {
            return;
        }
        match self.streams.get_mut(&id) {
            Some(stream) => on_stream(sink, id, stream, &mut self.held, bytes.len(), |_, em| {
                em.bytes(dir, class, bytes)
            }),
            None => book(sink, id, dir, class, bytes),
        }
    }

    /// DATA bytes of stream `id` in direction `d`: to its body parser.
    fn deliver<F: FnMut(u32, WireEvent<'_>)>(
        &mut self,
        d: usize,
        id: u32,
        data: &[u8],
        sink: &mut F,
    ) -> Result<(), WireError> {
        let dir = self.sides[d].direction;
        let Some(stream) = self.streams.get_mut(&id) else {
            book(sink, id, dir, ByteClass::Control, data);
            return Ok(());
        };
        on_stream(sink, id, stream, &mut self.held, data.len(), |st, em| {
            let half = match dir {
                Direction::Sent => &mut st.request,
                Direction::Received => &mut st.response,
            };
            match half {
                // A request body is what `/publish` publishes: payload.
                Half::Body(Body::Payload) => em.bytes(dir, ByteClass::Payload, data),
                Half::Body(Body::Content(content)) => return content.feed_body(data, em),
                Half::Body(Body::Frames(frames)) => frames.feed(data, em),
                // DATA before the header block or after END_STREAM.
                Half::Head | Half::Ended => em.bytes(dir, ByteClass::Control, data),
            }
            Ok(())
        })
    }

    /// END_STREAM in direction `d` on stream `id`.
    fn end_half<F: FnMut(u32, WireEvent<'_>)>(&mut self, d: usize, id: u32, sink: &mut F) {
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        let done = on_stream(sink, id, stream, &mut self.held, 0, |st, em| {
            if d == 0 {
                if let Half::Body(body) = std::mem::replace(&mut st.request, Half::Ended) {
                    flush_body(body, em);
                }
            } else {
                let next = match std::mem::replace(&mut st.response, Half::Ended) {
                    Half::Body(Body::Content(content)) => content.end_body(em),
                    Half::Body(body) => {
                        flush_body(body, em);
                        None
                    }
                    Half::Head | Half::Ended => None,
                };
                em.release(false);
                em.event(WireEvent::ResponseEnd {
                    status: st.status,
                    next,
                });
            }
            matches!((&st.request, &st.response), (Half::Ended, Half::Ended))
        });
        if d == 1 {
            // The poll exchange is decided; later bytes go straight out.
            stream.hold = false;
        }
        if done {
            self.forget(id, sink);
        }
    }

    /// RST_STREAM (either way): the stream ends where it is.
    fn reset<F: FnMut(u32, WireEvent<'_>)>(&mut self, id: u32, sink: &mut F) {
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        on_stream(sink, id, stream, &mut self.held, 0, |st, em| {
            if let Half::Body(body) = std::mem::replace(&mut st.request, Half::Ended) {
                flush_body(body, em);
            }
            let open = !matches!(st.response, Half::Ended);
            if let Half::Body(body) = std::mem::replace(&mut st.response, Half::Ended) {
                flush_body(body, em);
            }
            if open {
                // A poll reset before it delivered anything is overhead.
                em.release(false);
                em.event(WireEvent::ResponseEnd {
                    status: st.status,
                    next: None,
                });
            }
        });
        self.forget(id, sink);
    }

    /// Stops tracking a stream that ended both ways; anything it still
    /// held (nothing, normally) is booked first.
    fn forget<F: FnMut(u32, WireEvent<'_>)>(&mut self, id: u32, sink: &mut F) {
        if let Some(mut stream) = self.streams.remove(&id) {
            on_stream(sink, id, &mut stream, &mut self.held, 0, |_, em| {
                em.release(true)
            });
        }
    }

    /// Books what direction `d` holds as control: its partial frame or
    /// header block, and each stream's partial body in that direction.
    fn flush_side<F: FnMut(u32, WireEvent<'_>)>(&mut self, d: usize, sink: &mut F) {
        let side = &mut self.sides[d];
        let dir = side.direction;
        match std::mem::replace(&mut side.read, Read::Broken) {
            Read::Preface(buf) | Read::Header(buf) => book(sink, 0, dir, ByteClass::Control, &buf),
            Read::Payload(frame) => {
                if !frame.header_booked {
                    book(sink, frame.stream, dir, ByteClass::Control, &frame.header);
                }
                if let FrameBody::Block(buf) = &frame.body {
                    book(sink, frame.stream, dir, ByteClass::Control, buf);
                }
            }
            Read::Broken => {}
        }
        if let Some(block) = side.block.take() {
            book(sink, block.stream, dir, ByteClass::Control, &block.fragment);
        }
        let mut ids: Vec<u32> = self.streams.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let Some(stream) = self.streams.get_mut(&id) else {
                continue;
            };
            on_stream(sink, id, stream, &mut self.held, 0, |st, em| {
                let half = if d == 0 {
                    &mut st.request
                } else {
                    &mut st.response
                };
                if let Half::Body(body) = std::mem::replace(half, Half::Ended) {
                    flush_body(body, em);
                }
            });
        }
    }
}

/// Books what a body parser holds as control (a cut-off body).
fn flush_body<F: FnMut(WireEvent<'_>)>(body: Body, em: &mut Emitter<'_, F>) {
    match body {
        Body::Payload => {}
        Body::Content(content) => content.flush_body(em),
        Body::Frames(mut frames) => frames.flush_partial(em),
    }
}

/// The header fields the classifier needs from a decoded block.
#[derive(Debug, Default)]
struct Fields {
    status: Option<Vec<u8>>,
    method: Option<Vec<u8>>,
    protocol: Option<Vec<u8>>,
    content_encoding: Option<String>,
}

impl Fields {
    fn note(&mut self, name: &[u8], value: &[u8]) {
        let slot = match name {
            b":status" => &mut self.status,
            b":method" => &mut self.method,
            b":protocol" => &mut self.protocol,
            b"content-encoding" => {
                self.content_encoding = std::str::from_utf8(value).ok().map(str::to_owned);
                return;
            }
            _ => return,
        };
        *slot = Some(value.to_vec());
    }

    fn status(&self) -> Option<u16> {
        let text = std::str::from_utf8(self.status.as_deref()?).ok()?;
        text.parse().ok().filter(|s| (100..1000).contains(s))
    }

    /// RFC 8441: `CONNECT` with `:protocol: websocket`.
    fn is_websocket_connect(&self) -> bool {
        self.method.as_deref() == Some(b"CONNECT")
            && self
                .protocol
                .as_deref()
                .is_some_and(|p| p.eq_ignore_ascii_case(b"websocket"))
    }
}

#[cfg(test)]
mod tests;
