//! The wire classifier: books every byte of one connection into exactly one
//! [`ByteClass`] and decodes the events it carries. Pure, no IO.
//!
//! A [`Classifier`] follows one client connection of one [`Transport`] in both
//! directions. Feed it the raw bytes exactly as they crossed the socket, in
//! order per direction:
//!
//! ```
//! use pushbench_protocol::wire::{Classifier, Direction, WireEvent};
//! use pushbench_protocol::{ByteClass, ByteLedger, Transport};
//!
//! let mut classifier = Classifier::new(Transport::Stream);
//! let mut received = ByteLedger::default();
//! let mut sink = |e: WireEvent<'_>| {
//!     if let WireEvent::Bytes { direction: Direction::Received, class, bytes } = e {
//!         received.add(class, bytes.len() as u64);
//!     }
//! };
//! classifier
//!     .feed(Direction::Received, b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", &mut sink)
//!     .unwrap();
//! classifier.finish(&mut sink);
//! assert_eq!(received.get(ByteClass::ResponseHeaders), 47);
//! ```
//!
//! The sink sees [`WireEvent::Bytes`] segments (every byte exactly once, in
//! order per direction, except that a poll exchange is held back until its
//! answer is known), decoded [`WireEvent::Message`]s, and HTTP response
//! boundaries. The load generator books the segments into a
//! [`crate::ByteLedger`]; `pushbench trace` prints them annotated. Both use
//! this one parser, so what the trace shows is what the numbers count.
//!
//! # Classification rules
//! - Request line and headers: `request_headers`; an upgrade request and its
//!   `101` answer: `handshake`. Status line and headers: `response_headers`.
//! - Chunked bodies: chunk-size lines and the CRLF after each chunk's data are
//!   `framing`; the last chunk and its trailer are `control`.
//! - Event JSON (poll bodies, NDJSON lines, SSE `data:` values, WebSocket
//!   frames): the payload bytes (inside the quotes) are `payload`, the rest of
//!   the JSON (the envelope) is `framing`. Binary WebSocket events: header
//!   fields are `framing`, the payload `payload`.
//! - SSE: field names, `": "`, `id:` lines and line ends around an event are
//!   `framing`; comments (keep-alives), `retry:` and gap blocks are `control`.
//! - WebSocket: frame headers and masking keys are `framing`; ping, pong and
//!   close frames are `control`; a client's data frame body is `payload`
//!   (it publishes an event).
//! - Gap markers deliver no event: `control`.
//! - A short- or long-poll exchange that delivered no event (empty answer,
//!   gap only, error status) is `control` as a whole, its request included:
//!   polling for nothing is the technique's overhead. The classifier holds an
//!   exchange's bytes back until the answer is complete to decide this.
//! - Bytes left unparsed when a connection ends, and every byte after a
//!   protocol error, are `control`.
//! - A content-coded body (`content-encoding: gzip` or `br`) of a response
//!   that carries events: its wire bytes are `compressed` (envelope and
//!   payload compressed together cannot be split byte by byte, and the
//!   envelope compresses far better than the payload, so booking them as
//!   either would misstate both); they are decoded in front of the body
//!   parser, whose classes for the decoded bytes are reported as
//!   [`WireEvent::Decoded`] (the load generator's `traffic.decoded`). An
//!   empty poll stays `control` as a whole, in both. Bytes that fail to
//!   decode are `control`, and so is everything after them; a coding the
//!   classifier does not decode (`deflate`, `zstd`) makes the body
//!   `control`.

use std::collections::VecDeque;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::coding::{CodingError, DecodeFailure, Decoder};
use crate::{ByteClass, ContentCoding, Gap, Received, Transport, decode_binary, decode_json};

/// Longest HTTP head (status or request line plus headers) accepted; real
/// heads are a few hundred bytes, so this only stops a runaway peer.
pub const MAX_HEAD: usize = 64 * 1024;
/// Longest chunk-size line accepted: a size is at most 16 hex digits, so
/// this leaves room for chunk extensions and stops a runaway peer.
pub const MAX_CHUNK_LINE: usize = 1024;
/// Longest body buffered to classify it (a poll answer, a line, a frame); it
/// bounds the classifier's memory whatever the peer sends.
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// Which way bytes travelled, seen from the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Client to server.
    Sent,
    /// Server to client.
    Received,
}

/// What the classifier reports to its sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireEvent<'a> {
    /// Wire bytes and their class; the segments of one direction, joined,
    /// are exactly the bytes fed (poll exchanges are emitted once complete).
    Bytes {
        /// Which way the bytes went.
        direction: Direction,
        /// What they are for.
        class: ByteClass,
        /// The bytes themselves, as on the wire.
        bytes: &'a [u8],
    },
    /// Bytes of a content-coded response body after decoding, with the
    /// class the body parser gave them (as it would the same body uncoded).
    /// Not wire bytes: the wire carried them as the `compressed` segments
    /// of the same body, so these go to [`crate::Traffic::decoded`], beside
    /// the socket count, never into it.
    Decoded {
        /// What the decoded bytes are for.
        class: ByteClass,
        /// The decoded bytes.
        bytes: &'a [u8],
    },
    /// An event or gap marker received from the server.
    Message(Received),
    /// An HTTP response head arrived.
    ResponseHead {
        /// Its status code.
        status: u16,
    },
    /// An HTTP response body ended (a poll answer, or a stream's last chunk).
    ResponseEnd {
        /// The response's status code.
        status: u16,
        /// The poll cursor (`next`) of a poll answer.
        next: Option<u64>,
    },
    /// Something that should have been an event was not; booked as control.
    Malformed {
        /// Which way it went.
        direction: Direction,
        /// What was wrong.
        reason: &'static str,
    },
}

/// A protocol violation that stops classification of a connection; every
/// later byte is booked as `control`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// An HTTP head over [`MAX_HEAD`].
    #[error("HTTP head longer than {MAX_HEAD} bytes")]
    HeadTooLong,
    /// A status line that is not `HTTP/1.x NNN ...`.
    #[error("malformed HTTP status line")]
    BadStatusLine,
    /// A `content-length` that is not a number.
    #[error("malformed content-length header")]
    BadContentLength,
    /// A chunk-size line that is not hex.
    #[error("malformed chunk-size line")]
    BadChunkSize,
    /// Chunk data not followed by CRLF.
    #[error("chunk data not followed by CRLF")]
    BadChunkEnd,
    /// A body, line or frame over [`MAX_MESSAGE`].
    #[error("message of {0} bytes is over the {MAX_MESSAGE}-byte classifier limit")]
    TooLarge(u64),
    /// HTTP/2: the client's first bytes are not the connection preface.
    #[error("not the HTTP/2 connection preface")]
    BadPreface,
    /// HTTP/2: a frame longer than the receiver's `SETTINGS_MAX_FRAME_SIZE`.
    #[error("HTTP/2 frame of {len} bytes is over the peer's maximum of {max}")]
    FrameTooLarge {
        /// The frame's payload length.
        len: u32,
        /// The largest frame the receiver advertised.
        max: u32,
    },
    /// HTTP/2: a frame that breaks the framing rules (RFC 9113 section 4, 6).
    #[error("malformed HTTP/2 frame: {0}")]
    BadFrame(&'static str),
    /// HTTP/2: a header block HPACK cannot decode (RFC 7541).
    #[error("HPACK decoding failed: {0}")]
    Hpack(String),
    /// HTTP/2: more open streams than the classifier tracks.
    #[error("more than {0} open HTTP/2 streams")]
    TooManyStreams(usize),
    /// A content-coded body that does not decode.
    #[error("content-coded body: {0}")]
    BadCoding(#[from] CodingError),
}

/// Classifies one connection's bytes in both directions. See the module docs.
#[derive(Debug)]
pub struct Classifier {
    transport: Transport,
    request: RequestParser,
    response: ResponseParser,
    exchange: Exchange,
    /// Poll transports hold each exchange until its answer is known.
    hold: bool,
    order: WireOrder,
}

/// Bytes of a poll exchange whose class depends on its answer.
#[derive(Debug, Default)]
pub(crate) struct Exchange {
    /// Held segments: direction, class, whether they are decoded bytes of a
    /// content-coded body ([`WireEvent::Decoded`]) rather than wire bytes.
    segments: Vec<(Direction, ByteClass, bool, Vec<u8>)>,
    delivered: bool,
}

impl Classifier {
    /// A classifier for one connection of `transport`.
    pub fn new(transport: Transport) -> Self {
        Classifier {
            transport,
            request: RequestParser::default(),
            response: ResponseParser::new(transport),
            exchange: Exchange::default(),
            hold: matches!(transport, Transport::ShortPoll | Transport::LongPoll),
            order: WireOrder::default(),
        }
    }

    /// A classifier for the load generator's own control connections
    /// (`/stats`, `/publish`): every byte is `control`.
    pub fn control() -> ControlClassifier {
        ControlClassifier
    }

    /// The transport this classifier follows.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Feeds bytes that crossed the socket in `direction`, reporting segments,
    /// messages and response boundaries to `sink`.
    ///
    /// After an error the bytes are still booked (as `control`), so the
    /// ledger keeps adding up to the socket count.
    pub fn feed<F: FnMut(WireEvent<'_>)>(
        &mut self,
        direction: Direction,
        bytes: &[u8],
        sink: &mut F,
    ) -> Result<(), WireError> {
        let Classifier {
            request,
            response,
            exchange,
            hold,
            order,
            ..
        } = self;
        let mut em = Emitter {
            sink,
            exchange,
            hold: *hold,
            order,
        };
        match direction {
            Direction::Sent => request.feed(bytes, &mut em),
            Direction::Received => response.feed(bytes, &mut em),
        }
    }

    /// The connection ended: books every byte still buffered (partial heads,
    /// lines or frames as `control`; a held poll exchange with the classes
    /// it had so far).
    pub fn finish<F: FnMut(WireEvent<'_>)>(&mut self, sink: &mut F) {
        let Classifier {
            request,
            response,
            exchange,
            hold,
            order,
            ..
        } = self;
        let mut em = Emitter {
            sink,
            exchange,
            hold: *hold,
            order,
        };
        request.flush_partial(&mut em);
        response.flush_partial(&mut em);
        em.release(true);
    }
}

/// The classifier of a control connection: everything is `control`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ControlClassifier;

impl ControlClassifier {
    /// Books `bytes` as control.
    pub fn feed<F: FnMut(WireEvent<'_>)>(
        &mut self,
        direction: Direction,
        bytes: &[u8],
        sink: &mut F,
    ) {
        if !bytes.is_empty() {
            sink(WireEvent::Bytes {
                direction,
                class: ByteClass::Control,
                bytes,
            });
        }
    }
}

/// Keeps the server's segments in wire order while a body parser holds
/// bytes back (a partial NDJSON line, an SSE event block, a poll answer):
/// chunk framing that arrives meanwhile waits until the body bytes before
/// it are booked, and a body segment it arrived inside is split around it.
/// Body offsets count the bytes handed to the body parser.
#[derive(Debug, Default)]
pub(crate) struct WireOrder {
    /// Body bytes handed to the body parser so far.
    fed: u64,
    /// Body bytes it has booked.
    booked: u64,
    /// Set while the body parser books, so its segments count as body.
    in_body: bool,
    /// Set while the body parser books the decoded bytes of a content-coded
    /// body: they are [`WireEvent::Decoded`], outside the wire order.
    decoded: bool,
    /// Segments that arrived while body bytes were held: the body offset
    /// they follow, their class and bytes.
    waiting: VecDeque<(u64, ByteClass, Vec<u8>)>,
}

/// Routes segments to the sink, or into the held poll exchange.
pub(crate) struct Emitter<'s, F> {
    sink: &'s mut F,
    exchange: &'s mut Exchange,
    hold: bool,
    order: &'s mut WireOrder,
}

impl<'s, F: FnMut(WireEvent<'_>)> Emitter<'s, F> {
    /// An emitter over one exchange's state (the HTTP/2 classifier keeps
    /// one per stream).
    pub(crate) fn new(
        sink: &'s mut F,
        exchange: &'s mut Exchange,
        hold: bool,
        order: &'s mut WireOrder,
    ) -> Self {
        Emitter {
            sink,
            exchange,
            hold,
            order,
        }
    }

    /// Books `bytes`, in wire order (see [`WireOrder`]).
    pub(crate) fn bytes(&mut self, direction: Direction, class: ByteClass, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.order.decoded {
            self.book_decoded(direction, class, bytes);
            return;
        }
        if direction == Direction::Received {
            if self.order.in_body {
                self.body_bytes(class, bytes);
                return;
            }
            if self.order.booked < self.order.fed {
                let at = self.order.fed;
                self.order.waiting.push_back((at, class, bytes.to_vec()));
                return;
            }
        }
        self.book(direction, class, bytes);
    }

    /// Books body bytes, with the segments that arrived among them.
    fn body_bytes(&mut self, class: ByteClass, mut bytes: &[u8]) {
        const DIR: Direction = Direction::Received;
        while let Some(&(at, ..)) = self.order.waiting.front() {
            let before =
                usize::try_from(at.saturating_sub(self.order.booked)).unwrap_or(usize::MAX);
            if before >= bytes.len() {
                break;
            }
            self.book(DIR, class, &bytes[..before]);
            self.order.booked += before as u64;
            bytes = &bytes[before..];
            self.release_waiting(self.order.booked);
        }
        self.book(DIR, class, bytes);
        self.order.booked += bytes.len() as u64;
        self.release_waiting(self.order.booked);
    }

    /// Books the waiting segments that follow body offset `through` or less.
    fn release_waiting(&mut self, through: u64) {
        while let Some((at, ..)) = self.order.waiting.front()
            && *at <= through
        {
            if let Some((_, class, bytes)) = self.order.waiting.pop_front() {
                self.book(Direction::Received, class, &bytes);
            }
        }
    }

    /// Runs a body parser's step: what it books is body.
    fn in_body<R>(&mut self, step: impl FnOnce(&mut Self) -> R) -> R {
        self.order.in_body = true;
        let result = step(self);
        self.order.in_body = false;
        result
    }

    /// Runs a body parser's step over decoded bytes of a content-coded
    /// body: what it books is [`WireEvent::Decoded`].
    fn in_decoded<R>(&mut self, step: impl FnOnce(&mut Self) -> R) -> R {
        self.order.decoded = true;
        let result = step(self);
        self.order.decoded = false;
        result
    }

    /// Books decoded bytes (held with a poll exchange, like wire bytes).
    fn book_decoded(&mut self, direction: Direction, class: ByteClass, bytes: &[u8]) {
        if self.hold {
            self.hold_segment(direction, class, true, bytes);
        } else {
            (self.sink)(WireEvent::Decoded { class, bytes });
        }
    }

    /// Adds a segment to the held exchange, merged with the previous one
    /// when it continues it, so a byte-at-a-time feed yields the same
    /// segments as one big feed.
    fn hold_segment(
        &mut self,
        direction: Direction,
        class: ByteClass,
        decoded: bool,
        bytes: &[u8],
    ) {
        if let Some((d, c, k, v)) = self.exchange.segments.last_mut()
            && *d == direction
            && *c == class
            && *k == decoded
        {
            v.extend_from_slice(bytes);
            return;
        }
        self.exchange
            .segments
            .push((direction, class, decoded, bytes.to_vec()));
    }

    /// The body ended: nothing is held any more.
    fn end_body(&mut self) {
        self.release_waiting(u64::MAX);
        self.order.booked = self.order.fed;
    }

    fn book(&mut self, direction: Direction, class: ByteClass, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.hold {
            self.hold_segment(direction, class, false, bytes);
        } else {
            (self.sink)(WireEvent::Bytes {
                direction,
                class,
                bytes,
            });
        }
    }

    /// Books `bytes` as an event message whose payload is `payload` (a range
    /// of `bytes`): framing around it, payload inside.
    fn split(&mut self, direction: Direction, bytes: &[u8], payload: Range<usize>) {
        self.bytes(direction, ByteClass::Framing, &bytes[..payload.start]);
        self.bytes(direction, ByteClass::Payload, &bytes[payload.clone()]);
        self.bytes(direction, ByteClass::Framing, &bytes[payload.end..]);
    }

    pub(crate) fn message(&mut self, received: Received) {
        if matches!(received, Received::Event { .. }) {
            self.exchange.delivered = true;
        }
        (self.sink)(WireEvent::Message(received));
    }

    pub(crate) fn event(&mut self, event: WireEvent<'_>) {
        (self.sink)(event);
    }

    /// Emits the held exchange. An answer that delivered no event turns the
    /// whole exchange into control; at connection end (`unanswered`) the
    /// provisional classes stay.
    pub(crate) fn release(&mut self, unanswered: bool) {
        let empty = !unanswered && !self.exchange.delivered;
        for (direction, class, decoded, bytes) in self.exchange.segments.drain(..) {
            let class = if empty { ByteClass::Control } else { class };
            (self.sink)(if decoded {
                WireEvent::Decoded {
                    class,
                    bytes: &bytes,
                }
            } else {
                WireEvent::Bytes {
                    direction,
                    class,
                    bytes: &bytes,
                }
            });
        }
        self.exchange.delivered = false;
    }
}

/// Accumulates an HTTP head until the blank line; returns how many bytes of
/// `bytes` it took and whether the head is complete.
/// On error the bytes taken so far are in `buf`.
fn take_head(buf: &mut Vec<u8>, bytes: &[u8]) -> Result<(usize, bool), (usize, WireError)> {
    for (i, &b) in bytes.iter().enumerate() {
        buf.push(b);
        if buf.ends_with(b"\r\n\r\n") {
            return Ok((i + 1, true));
        }
        if buf.len() > MAX_HEAD {
            return Err((i + 1, WireError::HeadTooLong));
        }
    }
    Ok((bytes.len(), false))
}

/// The value of header `name` (case-insensitive) in a complete head.
fn header<'h>(head: &'h [u8], name: &str) -> Option<&'h str> {
    let text = std::str::from_utf8(head).ok()?;
    text.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn content_length(head: &[u8]) -> Result<Option<u64>, WireError> {
    header(head, "content-length")
        .map(|v| v.parse::<u64>().map_err(|_| WireError::BadContentLength))
        .transpose()
}

// ---------------------------------------------------------------------------
// Client to server.

#[derive(Debug)]
enum RequestState {
    Head(Vec<u8>),
    Body { remaining: u64 },
    Frames(FrameParser),
    Broken,
}

#[derive(Debug)]
struct RequestParser {
    state: RequestState,
}

impl Default for RequestParser {
    fn default() -> Self {
        RequestParser {
            state: RequestState::Head(Vec::new()),
        }
    }
}

/// One parse step: consumes a prefix of the bytes and returns its length;
/// on error, the length consumed (booked or buffered) before the error.
type Step<P, F> = fn(&mut P, &[u8], &mut Emitter<'_, F>) -> Result<usize, (usize, WireError)>;

/// Feeds `bytes` to a parser one `step` at a time. On an error, everything
/// consumed so far is booked or buffered: the buffers are booked
/// (`flush_partial`), the parser turns `broken` (it books the rest as
/// control), and the first error is returned once all bytes are booked.
fn drive<P, F: FnMut(WireEvent<'_>)>(
    parser: &mut P,
    mut bytes: &[u8],
    em: &mut Emitter<'_, F>,
    step: Step<P, F>,
    flush_partial: fn(&mut P, &mut Emitter<'_, F>),
    broken: fn(&mut P),
) -> Result<(), WireError> {
    let mut error = None;
    while !bytes.is_empty() {
        match step(parser, bytes, em) {
            Ok(n) => bytes = &bytes[n..],
            Err((n, e)) => {
                flush_partial(parser, em);
                broken(parser);
                bytes = &bytes[n..];
                error.get_or_insert(e);
            }
        }
    }
    error.map_or(Ok(()), Err)
}

impl RequestParser {
    fn feed<F: FnMut(WireEvent<'_>)>(
        &mut self,
        bytes: &[u8],
        em: &mut Emitter<'_, F>,
    ) -> Result<(), WireError> {
        drive(self, bytes, em, Self::step, Self::flush_partial, |p| {
            p.state = RequestState::Broken
        })
    }

    fn step<F: FnMut(WireEvent<'_>)>(
        &mut self,
        bytes: &[u8],
        em: &mut Emitter<'_, F>,
    ) -> Result<usize, (usize, WireError)> {
        const DIR: Direction = Direction::Sent;
        match &mut self.state {
            RequestState::Head(buf) => {
                let (n, done) = take_head(buf, bytes)?;
                if !done {
                    return Ok(n);
                }
                let head = std::mem::take(buf);
                let upgrade =
                    header(&head, "upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
                if upgrade {
                    em.bytes(DIR, ByteClass::Handshake, &head);
                    self.state = RequestState::Frames(FrameParser::new(DIR));
                    return Ok(n);
                }
                em.bytes(DIR, ByteClass::RequestHeaders, &head);
                match content_length(&head) {
                    Ok(Some(len)) if len > 0 => self.state = RequestState::Body { remaining: len },
                    Ok(_) => {}
                    Err(e) => return Err((n, e)),
                }
                Ok(n)
            }
            RequestState::Body { remaining } => {
                let n = bytes
                    .len()
                    .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                // A request body is what `/publish` publishes: payload.
                em.bytes(DIR, ByteClass::Payload, &bytes[..n]);
                *remaining -= n as u64;
                if *remaining == 0 {
                    self.state = RequestState::Head(Vec::new());
                }
                Ok(n)
            }
            RequestState::Frames(frames) => {
                frames.feed(bytes, em);
                Ok(bytes.len())
            }
            RequestState::Broken => {
                em.bytes(DIR, ByteClass::Control, bytes);
                Ok(bytes.len())
            }
        }
    }

    fn flush_partial<F: FnMut(WireEvent<'_>)>(&mut self, em: &mut Emitter<'_, F>) {
        match &mut self.state {
            RequestState::Head(buf) => {
                em.bytes(Direction::Sent, ByteClass::Control, &std::mem::take(buf))
            }
            RequestState::Frames(frames) => frames.flush_partial(em),
            RequestState::Body { .. } | RequestState::Broken => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Server to client.

#[derive(Debug)]
enum ChunkState {
    /// Reading `hex[;ext]\r\n`.
    SizeLine(Vec<u8>),
    /// Inside a chunk's data.
    Data { remaining: u64 },
    /// Reading the CRLF after a chunk's data.
    DataEnd(Vec<u8>),
    /// After the last chunk's size line: trailer lines up to the blank line.
    Trailer(Vec<u8>),
}

#[derive(Debug)]
enum ResponseState {
    Head(Vec<u8>),
    Fixed { remaining: u64 },
    Chunked(ChunkState),
    UntilClose,
    Frames(FrameParser),
    Broken,
}

#[derive(Debug)]
struct ResponseParser {
    transport: Transport,
    state: ResponseState,
    status: u16,
    content: Content,
}

impl ResponseParser {
    fn new(transport: Transport) -> Self {
        ResponseParser {
            transport,
            state: ResponseState::Head(Vec::new()),
            status: 0,
            content: Content::Opaque,
        }
    }

    fn feed<F: FnMut(WireEvent<'_>)>(
        &mut self,
        bytes: &[u8],
        em: &mut Emitter<'_, F>,
    ) -> Result<(), WireError> {
        drive(self, bytes, em, Self::step, Self::flush_partial, |p| {
            p.state = ResponseState::Broken
        })
    }

    /// Consumes a prefix of `bytes` and returns its length; on error, the
    /// length consumed (booked or buffered) before the error.
    fn step<F: FnMut(WireEvent<'_>)>(
        &mut self,
        bytes: &[u8],
        em: &mut Emitter<'_, F>,
    ) -> Result<usize, (usize, WireError)> {
        const DIR: Direction = Direction::Received;
        match &mut self.state {
            ResponseState::Head(buf) => {
                let (n, done) = take_head(buf, bytes)?;
                if done {
                    let head = std::mem::take(buf);
                    self.start_response(head, em).map_err(|e| (n, e))?;
                }
                Ok(n)
            }
            ResponseState::Fixed { remaining } => {
                let n = bytes
                    .len()
                    .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                *remaining -= n as u64;
                let done = *remaining == 0;
                self.feed_content(&bytes[..n], em).map_err(|e| (n, e))?;
                if done {
                    self.end_response(em);
                }
                Ok(n)
            }
            ResponseState::Chunked(chunk) => match chunk {
                ChunkState::SizeLine(line) => {
                    let end = bytes.iter().position(|&b| b == b'\n');
                    let taken = end.map_or(bytes.len(), |pos| pos + 1);
                    line.extend_from_slice(&bytes[..taken]);
                    // Checked on the line so far, complete or not, so a
                    // long line is refused wherever the reads were cut.
                    if line.len() > MAX_CHUNK_LINE {
                        return Err((taken, WireError::BadChunkSize));
                    }
                    let Some(pos) = end else {
                        return Ok(taken);
                    };
                    let bad = (pos + 1, WireError::BadChunkSize);
                    let text = std::str::from_utf8(line).map_err(|_| bad.clone())?;
                    let hex = text
                        .trim_end_matches(['\r', '\n'])
                        .split(';')
                        .next()
                        .unwrap_or("")
                        .trim();
                    let size = u64::from_str_radix(hex, 16).map_err(|_| bad)?;
                    let line = std::mem::take(line);
                    if size == 0 {
                        // The last chunk ends the body: it delivers nothing.
                        em.bytes(DIR, ByteClass::Control, &line);
                        *chunk = ChunkState::Trailer(Vec::new());
                    } else {
                        em.bytes(DIR, ByteClass::Framing, &line);
                        *chunk = ChunkState::Data { remaining: size };
                    }
                    Ok(pos + 1)
                }
                ChunkState::Data { remaining } => {
                    let n = bytes
                        .len()
                        .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                    *remaining -= n as u64;
                    if *remaining == 0 {
                        *chunk = ChunkState::DataEnd(Vec::new());
                    }
                    self.feed_content(&bytes[..n], em).map_err(|e| (n, e))?;
                    Ok(n)
                }
                ChunkState::DataEnd(crlf) => {
                    let n = bytes.len().min(2 - crlf.len());
                    crlf.extend_from_slice(&bytes[..n]);
                    if crlf.len() == 2 {
                        if crlf != b"\r\n" {
                            return Err((n, WireError::BadChunkEnd));
                        }
                        em.bytes(DIR, ByteClass::Framing, crlf);
                        *chunk = ChunkState::SizeLine(Vec::new());
                    }
                    Ok(n)
                }
                ChunkState::Trailer(buf) => {
                    // An empty trailer is just "\r\n"; otherwise lines up to "\r\n\r\n".
                    for (i, &b) in bytes.iter().enumerate() {
                        buf.push(b);
                        if buf == b"\r\n" || buf.ends_with(b"\r\n\r\n") {
                            em.bytes(DIR, ByteClass::Control, buf);
                            self.end_response(em);
                            return Ok(i + 1);
                        }
                        if buf.len() > MAX_HEAD {
                            return Err((i + 1, WireError::HeadTooLong));
                        }
                    }
                    Ok(bytes.len())
                }
            },
            ResponseState::UntilClose => {
                self.feed_content(bytes, em).map_err(|e| (bytes.len(), e))?;
                Ok(bytes.len())
            }
            ResponseState::Frames(frames) => {
                frames.feed(bytes, em);
                Ok(bytes.len())
            }
            ResponseState::Broken => {
                em.bytes(DIR, ByteClass::Control, bytes);
                Ok(bytes.len())
            }
        }
    }

    fn start_response<F: FnMut(WireEvent<'_>)>(
        &mut self,
        head: Vec<u8>,
        em: &mut Emitter<'_, F>,
    ) -> Result<(), WireError> {
        const DIR: Direction = Direction::Received;
        let status = match parse_status(&head) {
            Ok(s) => s,
            Err(e) => {
                em.bytes(DIR, ByteClass::Control, &head);
                return Err(e);
            }
        };
        self.status = status;
        if status == 101 {
            em.bytes(DIR, ByteClass::Handshake, &head);
            em.event(WireEvent::ResponseHead { status });
            self.state = ResponseState::Frames(FrameParser::new(DIR));
            return Ok(());
        }
        let length = match content_length(&head) {
            Ok(l) => l,
            Err(e) => {
                em.bytes(DIR, ByteClass::Control, &head);
                return Err(e);
            }
        };
        let chunked = header(&head, "transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        em.bytes(DIR, ByteClass::ResponseHeaders, &head);
        em.event(WireEvent::ResponseHead { status });
        self.content =
            Content::for_response(self.transport, status, header(&head, "content-encoding"));
        if (100..200).contains(&status) || status == 204 || status == 304 {
            self.end_response(em);
        } else if chunked {
            self.state = ResponseState::Chunked(ChunkState::SizeLine(Vec::new()));
        } else if let Some(n) = length {
            if n == 0 {
                self.end_response(em);
            } else {
                self.state = ResponseState::Fixed { remaining: n };
            }
        } else {
            self.state = ResponseState::UntilClose;
        }
        Ok(())
    }

    /// Hands body bytes to the body parser.
    fn feed_content<F: FnMut(WireEvent<'_>)>(
        &mut self,
        bytes: &[u8],
        em: &mut Emitter<'_, F>,
    ) -> Result<(), WireError> {
        self.content.feed_body(bytes, em)
    }

    fn end_response<F: FnMut(WireEvent<'_>)>(&mut self, em: &mut Emitter<'_, F>) {
        let content = std::mem::replace(&mut self.content, Content::Opaque);
        let next = content.end_body(em);
        self.state = ResponseState::Head(Vec::new());
        em.release(false);
        em.event(WireEvent::ResponseEnd {
            status: self.status,
            next,
        });
    }

    fn flush_partial<F: FnMut(WireEvent<'_>)>(&mut self, em: &mut Emitter<'_, F>) {
        const DIR: Direction = Direction::Received;
        // The body's partial line or block came off the wire before the
        // framing bytes buffered after it (a chunk's CRLF or the next
        // chunk-size line), so it is booked first: segments stay in wire
        // order.
        let content = std::mem::replace(&mut self.content, Content::Opaque);
        content.flush_body(em);
        match &mut self.state {
            ResponseState::Head(buf) => em.bytes(DIR, ByteClass::Control, &std::mem::take(buf)),
            ResponseState::Chunked(
                ChunkState::SizeLine(b) | ChunkState::DataEnd(b) | ChunkState::Trailer(b),
            ) => {
                em.bytes(DIR, ByteClass::Control, &std::mem::take(b));
            }
            ResponseState::Frames(frames) => frames.flush_partial(em),
            _ => {}
        }
    }
}

fn parse_status(head: &[u8]) -> Result<u16, WireError> {
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with(b"HTTP/1.") {
        return Err(WireError::BadStatusLine);
    }
    std::str::from_utf8(parts.next().unwrap_or_default())
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(WireError::BadStatusLine)
}

/// What a response body carries, by transport and status.
#[derive(Debug)]
pub(crate) enum Content {
    /// A poll answer, buffered whole.
    Poll(Vec<u8>),
    /// NDJSON: the current line.
    Ndjson(Vec<u8>),
    /// `text/event-stream`.
    Sse(SseParser),
    /// An error body or anything else: control.
    Opaque,
    /// A content-coded body: decoded, then parsed by the body parser inside.
    Coded(Box<Coded>),
}

/// A content-coded body ([`Content::Coded`]): its wire bytes are
/// `compressed` (they carry envelope, framing and payload compressed
/// together, which cannot be told apart byte by byte); the decoded bytes go
/// to `inner`, the parser of the same body uncoded, whose classes are
/// booked as [`WireEvent::Decoded`]. Bytes that fail to decode are
/// `control`, and so is everything after them.
#[derive(Debug)]
pub(crate) struct Coded {
    decoder: Decoder,
    inner: Content,
}

/// The coding of a `content-encoding` value the classifier decodes: `None`
/// for identity, an error for anything else (`deflate`, `zstd`, stacked
/// codings), whose body is then opaque.
fn coding_of(value: &str) -> Result<ContentCoding, ()> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "identity" => Ok(ContentCoding::Identity),
        "gzip" | "x-gzip" => Ok(ContentCoding::Gzip),
        "br" => Ok(ContentCoding::Br),
        _ => Err(()),
    }
}

impl Content {
    /// The body parser of a response with `status` on a `transport`
    /// connection, over HTTP/1.1 or HTTP/2 alike: a 2xx answer carries the
    /// transport's events, anything else is opaque (control).
    /// `content_encoding` is the response's `content-encoding` value: a
    /// gzip or br body is decoded in front of the parser
    /// ([`Content::Coded`]); one the classifier cannot decode is opaque.
    pub(crate) fn for_response(
        transport: Transport,
        status: u16,
        content_encoding: Option<&str>,
    ) -> Content {
        let content = if (200..300).contains(&status) {
            match transport {
                Transport::ShortPoll | Transport::LongPoll => Content::Poll(Vec::new()),
                Transport::Stream => Content::Ndjson(Vec::new()),
                Transport::Sse => Content::Sse(SseParser::default()),
                Transport::Ws => Content::Opaque,
            }
        } else {
            Content::Opaque
        };
        if matches!(content, Content::Opaque) {
            // Control as a whole, coded or not: nothing to decode it for.
            return content;
        }
        match content_encoding.map(coding_of) {
            None | Some(Ok(ContentCoding::Identity)) => content,
            Some(Ok(coding)) => match Decoder::new(coding) {
                Some(decoder) => Content::Coded(Box::new(Coded {
                    decoder,
                    inner: content,
                })),
                None => content,
            },
            Some(Err(())) => Content::Opaque,
        }
    }

    /// Hands body bytes (as the response framing delivered them) to the
    /// body parser; the one entry point of the HTTP/1.1 and HTTP/2 paths.
    pub(crate) fn feed_body<F: FnMut(WireEvent<'_>)>(
        &mut self,
        bytes: &[u8],
        em: &mut Emitter<'_, F>,
    ) -> Result<(), WireError> {
        em.order.fed += bytes.len() as u64;
        let Content::Coded(coded) = self else {
            return em.in_body(|em| self.feed(bytes, em));
        };
        const DIR: Direction = Direction::Received;
        let Coded { decoder, inner } = &mut **coded;
        let decoded = decoder.feed(bytes, &mut |piece: &[u8]| {
            em.in_decoded(|em| inner.feed(piece, em))
        });
        match decoded {
            Ok(()) => {
                em.in_body(|em| em.bytes(DIR, ByteClass::Compressed, bytes));
                Ok(())
            }
            // The bytes decoded; what they decoded to broke the parser.
            Err(DecodeFailure::Sink(e)) => {
                em.in_body(|em| em.bytes(DIR, ByteClass::Compressed, bytes));
                Err(e)
            }
            Err(DecodeFailure::Coding(e)) => {
                em.in_body(|em| em.bytes(DIR, ByteClass::Control, bytes));
                em.event(WireEvent::Malformed {
                    direction: DIR,
                    reason: "content-coded body does not decode",
                });
                Err(WireError::BadCoding(e))
            }
        }
    }

    /// The body ended; returns the poll cursor of a poll answer.
    pub(crate) fn end_body<F: FnMut(WireEvent<'_>)>(self, em: &mut Emitter<'_, F>) -> Option<u64> {
        let next = match self {
            Content::Coded(coded) => {
                let Coded { decoder, inner } = *coded;
                if decoder.finish().is_err() {
                    em.event(WireEvent::Malformed {
                        direction: Direction::Received,
                        reason: "content-coded body ended before its coded stream",
                    });
                }
                em.in_decoded(|em| inner.end(em))
            }
            content => em.in_body(|em| content.end(em)),
        };
        em.end_body();
        next
    }

    /// The body was cut short: books what the parser holds as control.
    pub(crate) fn flush_body<F: FnMut(WireEvent<'_>)>(self, em: &mut Emitter<'_, F>) {
        match self {
            Content::Coded(coded) => em.in_decoded(|em| coded.inner.flush_partial(em)),
            content => em.in_body(|em| content.flush_partial(em)),
        }
        em.end_body();
    }

    fn feed<F: FnMut(WireEvent<'_>)>(
        &mut self,
        bytes: &[u8],
        em: &mut Emitter<'_, F>,
    ) -> Result<(), WireError> {
        match self {
            Content::Poll(buf) => {
                buf.extend_from_slice(bytes);
                if buf.len() > MAX_MESSAGE {
                    return Err(WireError::TooLarge(buf.len() as u64));
                }
            }
            Content::Ndjson(line) => {
                for piece in bytes.split_inclusive(|&b| b == b'\n') {
                    line.extend_from_slice(piece);
                    if piece.ends_with(b"\n") {
                        classify_ndjson_line(&std::mem::take(line), em);
                    }
                }
                // Only the last piece can be partial, so all of `bytes` is
                // booked or buffered when this fails.
                if line.len() > MAX_MESSAGE {
                    return Err(WireError::TooLarge(line.len() as u64));
                }
            }
            Content::Sse(sse) => sse.feed(bytes, em)?,
            Content::Opaque => em.bytes(Direction::Received, ByteClass::Control, bytes),
            // Coded bodies enter through `feed_body`; a coded body inside
            // one is not made by `for_response`.
            Content::Coded(coded) => coded.inner.feed(bytes, em)?,
        }
        Ok(())
    }

    /// The body ended; returns the poll cursor of a poll answer.
    fn end<F: FnMut(WireEvent<'_>)>(self, em: &mut Emitter<'_, F>) -> Option<u64> {
        match self {
            Content::Poll(buf) => classify_poll_body(&buf, em),
            other => {
                other.flush_partial(em);
                None
            }
        }
    }

    fn flush_partial<F: FnMut(WireEvent<'_>)>(self, em: &mut Emitter<'_, F>) {
        const DIR: Direction = Direction::Received;
        match self {
            Content::Poll(buf) | Content::Ndjson(buf) => em.bytes(DIR, ByteClass::Control, &buf),
            Content::Sse(sse) => {
                for line in sse.block {
                    em.bytes(DIR, ByteClass::Control, &line);
                }
                em.bytes(DIR, ByteClass::Control, &sse.line);
            }
            Content::Opaque => {}
            Content::Coded(coded) => coded.inner.flush_partial(em),
        }
    }
}

#[derive(Deserialize)]
struct PayloadField<'a> {
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
}

/// Where an event JSON's payload bytes are (inside the quotes of a string).
pub fn json_payload_range(json: &[u8]) -> Option<Range<usize>> {
    let field: PayloadField<'_> = serde_json::from_slice(json).ok()?;
    let raw = field.payload?.get();
    let start = (raw.as_ptr() as usize).checked_sub(json.as_ptr() as usize)?;
    let end = start + raw.len();
    if end > json.len() {
        return None;
    }
    // The quotes of a string payload are envelope, matching `decode_json`.
    Some(if raw.len() >= 2 && raw.starts_with('"') {
        start + 1..end - 1
    } else {
        start..end
    })
}

/// Decodes one JSON message and finds its payload bytes, if it is an event.
fn decode_json_located(json: &[u8]) -> Option<(Received, Option<Range<usize>>)> {
    let received = decode_json(json).ok()?;
    match received {
        Received::Event { .. } => Some((received, Some(json_payload_range(json)?))),
        Received::Gap(_) => Some((received, None)),
    }
}

fn classify_ndjson_line<F: FnMut(WireEvent<'_>)>(line: &[u8], em: &mut Emitter<'_, F>) {
    const DIR: Direction = Direction::Received;
    let json = line.strip_suffix(b"\n").unwrap_or(line);
    let json = json.strip_suffix(b"\r").unwrap_or(json);
    match decode_json_located(json) {
        Some((received, Some(payload))) => {
            em.split(DIR, line, payload);
            em.message(received);
        }
        Some((received, None)) => {
            em.bytes(DIR, ByteClass::Control, line);
            em.message(received);
        }
        None => {
            em.bytes(DIR, ByteClass::Control, line);
            if !json.is_empty() {
                em.event(WireEvent::Malformed {
                    direction: DIR,
                    reason: "stream line is neither an event nor a gap",
                });
            }
        }
    }
}

#[derive(Deserialize)]
struct PollBody<'a> {
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
    #[serde(default)]
    next: Option<u64>,
    #[serde(default)]
    gap: Option<Gap>,
}

fn classify_poll_body<F: FnMut(WireEvent<'_>)>(
    body: &[u8],
    em: &mut Emitter<'_, F>,
) -> Option<u64> {
    const DIR: Direction = Direction::Received;
    let Ok(parsed) = serde_json::from_slice::<PollBody<'_>>(body) else {
        em.bytes(DIR, ByteClass::Control, body);
        em.event(WireEvent::Malformed {
            direction: DIR,
            reason: "poll answer is not {events, next, gap}",
        });
        return None;
    };
    if let Some(gap) = parsed.gap {
        em.message(Received::Gap(gap));
    }
    let mut at = 0;
    for raw in parsed.events {
        let text = raw.get().as_bytes();
        let Some(offset) = (text.as_ptr() as usize).checked_sub(body.as_ptr() as usize) else {
            continue;
        };
        match decode_json_located(text) {
            Some((received, Some(payload))) => {
                let payload = offset + payload.start..offset + payload.end;
                em.bytes(DIR, ByteClass::Framing, &body[at..payload.start]);
                em.bytes(DIR, ByteClass::Payload, &body[payload.clone()]);
                at = payload.end;
                em.message(received);
            }
            Some((received, None)) => em.message(received),
            None => em.event(WireEvent::Malformed {
                direction: DIR,
                reason: "poll answer holds a non-event",
            }),
        }
    }
    em.bytes(DIR, ByteClass::Framing, &body[at..]);
    parsed.next
}

// ---------------------------------------------------------------------------
// Server-Sent Events.

#[derive(Debug, Default)]
pub(crate) struct SseParser {
    /// The line being read, terminator included once complete.
    line: Vec<u8>,
    /// The lines of the current event block (terminators included).
    block: Vec<Vec<u8>>,
}

/// One parsed SSE line: name range, value range, terminator start.
struct SseLine<'a> {
    raw: &'a [u8],
    name: &'a [u8],
    value: Range<usize>,
    content_end: usize,
}

fn parse_sse_line(raw: &[u8]) -> SseLine<'_> {
    let mut content_end = raw.len();
    if raw[..content_end].ends_with(b"\n") {
        content_end -= 1;
    }
    if raw[..content_end].ends_with(b"\r") {
        content_end -= 1;
    }
    let content = &raw[..content_end];
    match content.iter().position(|&b| b == b':') {
        Some(colon) => {
            let mut start = colon + 1;
            if content.get(start) == Some(&b' ') {
                start += 1;
            }
            SseLine {
                raw,
                name: &content[..colon],
                value: start..content_end,
                content_end,
            }
        }
        None => SseLine {
            raw,
            name: content,
            value: content_end..content_end,
            content_end,
        },
    }
}

impl SseParser {
    fn feed<F: FnMut(WireEvent<'_>)>(
        &mut self,
        bytes: &[u8],
        em: &mut Emitter<'_, F>,
    ) -> Result<(), WireError> {
        for piece in bytes.split_inclusive(|&b| b == b'\n') {
            self.line.extend_from_slice(piece);
            if !piece.ends_with(b"\n") {
                continue;
            }
            let line = std::mem::take(&mut self.line);
            let parsed = parse_sse_line(&line);
            if parsed.content_end == 0 {
                self.block.push(line);
                self.end_block(em);
            } else if parsed.name.is_empty() && self.block.is_empty() {
                // A comment outside an event (a keep-alive): control at once.
                em.bytes(Direction::Received, ByteClass::Control, &line);
            } else {
                self.block.push(line);
            }
        }
        // Checked after the loop so all of `bytes` is booked or buffered.
        let buffered = self.line.len() + self.block.iter().map(Vec::len).sum::<usize>();
        if buffered > MAX_MESSAGE {
            return Err(WireError::TooLarge(buffered as u64));
        }
        Ok(())
    }

    /// A blank line ended the block (which includes it as its last line).
    fn end_block<F: FnMut(WireEvent<'_>)>(&mut self, em: &mut Emitter<'_, F>) {
        const DIR: Direction = Direction::Received;
        let block = std::mem::take(&mut self.block);
        let lines: Vec<SseLine<'_>> = block.iter().map(|l| parse_sse_line(l)).collect();
        let data: Vec<&SseLine<'_>> = lines.iter().filter(|l| l.name == b"data").collect();
        let event_type = lines
            .iter()
            .find(|l| l.name == b"event")
            .map(|l| &l.raw[l.value.clone()]);
        let decoded = match data.as_slice() {
            [one] => decode_json_located(&one.raw[one.value.clone()]),
            _ => None,
        };
        let is_message = event_type.is_none_or(|t| t == b"message");
        match decoded {
            Some((received, Some(payload))) if is_message => {
                for line in &lines {
                    if line.name == b"data" {
                        let p = line.value.start + payload.start..line.value.start + payload.end;
                        em.split(DIR, line.raw, p);
                    } else if line.name.is_empty() && line.content_end > 0 || line.name == b"retry"
                    {
                        em.bytes(DIR, ByteClass::Control, line.raw);
                    } else {
                        em.bytes(DIR, ByteClass::Framing, line.raw);
                    }
                }
                em.message(received);
            }
            other => {
                for line in &lines {
                    em.bytes(DIR, ByteClass::Control, line.raw);
                }
                match other {
                    Some((received @ Received::Gap(_), _)) => em.message(received),
                    _ if !data.is_empty() => {
                        em.event(WireEvent::Malformed {
                            direction: DIR,
                            reason: "SSE data is neither an event nor a gap",
                        });
                    }
                    _ => {}
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// WebSocket frames (RFC 6455 section 5.2).

#[derive(Debug)]
pub(crate) struct FrameParser {
    direction: Direction,
    /// Header bytes so far (2 to 14).
    header: Vec<u8>,
    /// Set once the header is complete.
    body: Option<FrameBody>,
    body_bytes: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct FrameBody {
    len: u64,
    opcode: u8,
    /// Over [`MAX_MESSAGE`]: booked as control as it passes, never buffered,
    /// so the classifier's memory stays bounded.
    oversized: bool,
    seen: u64,
}

impl FrameParser {
    pub(crate) fn new(direction: Direction) -> Self {
        FrameParser {
            direction,
            header: Vec::with_capacity(14),
            body: None,
            body_bytes: Vec::new(),
        }
    }

    /// The header's full length once its second byte is known.
    fn header_len(&self) -> Option<usize> {
        let b1 = *self.header.get(1)?;
        let ext = match b1 & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        Some(2 + ext + if b1 & 0x80 != 0 { 4 } else { 0 })
    }

    pub(crate) fn feed<F: FnMut(WireEvent<'_>)>(
        &mut self,
        mut bytes: &[u8],
        em: &mut Emitter<'_, F>,
    ) {
        while !bytes.is_empty() {
            match &mut self.body {
                None => {
                    let want = self.header_len().unwrap_or(2);
                    let n = bytes.len().min(want - self.header.len());
                    self.header.extend_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    if self.header_len() != Some(self.header.len()) {
                        continue;
                    }
                    let len = match self.header[1] & 0x7f {
                        126 => u64::from(u16::from_be_bytes([self.header[2], self.header[3]])),
                        127 => {
                            let mut b = [0u8; 8];
                            b.copy_from_slice(&self.header[2..10]);
                            u64::from_be_bytes(b)
                        }
                        n => u64::from(n),
                    };
                    let oversized = len > MAX_MESSAGE as u64;
                    if oversized {
                        em.bytes(
                            self.direction,
                            ByteClass::Control,
                            &std::mem::take(&mut self.header),
                        );
                        em.event(WireEvent::Malformed {
                            direction: self.direction,
                            reason: "WebSocket frame over the classifier limit",
                        });
                    }
                    self.body = Some(FrameBody {
                        len,
                        opcode: self.header.first().map_or(0, |b| b & 0x0f),
                        oversized,
                        seen: 0,
                    });
                    if len == 0 {
                        self.end_frame(em);
                    }
                }
                Some(body) => {
                    let n = bytes
                        .len()
                        .min(usize::try_from(body.len - body.seen).unwrap_or(usize::MAX));
                    body.seen += n as u64;
                    let done = body.seen == body.len;
                    if body.oversized {
                        em.bytes(self.direction, ByteClass::Control, &bytes[..n]);
                    } else {
                        self.body_bytes.extend_from_slice(&bytes[..n]);
                    }
                    bytes = &bytes[n..];
                    if done {
                        self.end_frame(em);
                    }
                }
            }
        }
    }

    fn end_frame<F: FnMut(WireEvent<'_>)>(&mut self, em: &mut Emitter<'_, F>) {
        let dir = self.direction;
        let frame = self.body.take();
        let header = std::mem::take(&mut self.header);
        let body = std::mem::take(&mut self.body_bytes);
        let Some(FrameBody {
            opcode,
            oversized: false,
            ..
        }) = frame
        else {
            // An oversized frame was booked as it passed.
            return;
        };
        if opcode >= 0x8 {
            // Close, ping, pong: they deliver nothing.
            em.bytes(dir, ByteClass::Control, &header);
            em.bytes(dir, ByteClass::Control, &body);
            return;
        }
        if dir == Direction::Sent {
            // A client data frame publishes its body as an event payload.
            em.bytes(dir, ByteClass::Framing, &header);
            em.bytes(dir, ByteClass::Payload, &body);
            return;
        }
        let mut unmasked = body.clone();
        if header[1] & 0x80 != 0 {
            let key = &header[header.len() - 4..];
            for (i, b) in unmasked.iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
        let decoded = match opcode {
            0x1 => decode_json_located(&unmasked),
            0x2 => match decode_binary(&unmasked) {
                Ok(r @ Received::Event { envelope_len, .. }) => {
                    Some((r, Some(envelope_len..unmasked.len())))
                }
                Ok(r) => Some((r, None)),
                Err(_) => None,
            },
            _ => None,
        };
        match decoded {
            Some((received, Some(payload))) => {
                em.bytes(dir, ByteClass::Framing, &header);
                em.split(dir, &body, payload);
                em.message(received);
            }
            Some((received, None)) => {
                em.bytes(dir, ByteClass::Control, &header);
                em.bytes(dir, ByteClass::Control, &body);
                em.message(received);
            }
            None => {
                em.bytes(dir, ByteClass::Framing, &header);
                em.bytes(dir, ByteClass::Control, &body);
                em.event(WireEvent::Malformed {
                    direction: dir,
                    reason: "WebSocket message is neither an event nor a gap",
                });
            }
        }
    }

    pub(crate) fn flush_partial<F: FnMut(WireEvent<'_>)>(&mut self, em: &mut Emitter<'_, F>) {
        em.bytes(
            self.direction,
            ByteClass::Control,
            &std::mem::take(&mut self.header),
        );
        em.bytes(
            self.direction,
            ByteClass::Control,
            &std::mem::take(&mut self.body_bytes),
        );
        self.body = None;
    }
}

#[cfg(test)]
pub(crate) mod tests;
