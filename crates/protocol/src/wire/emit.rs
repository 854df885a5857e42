//! What every parser of the wire classifier books through: the direction,
//! the events its sink sees, the errors, the limits, and the [`Emitter`]
//! that keeps a direction's segments in wire order and holds a poll
//! exchange back until its answer is known.

use std::collections::VecDeque;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::content_coding::CodingError;
use crate::event::Received;
use crate::ledger::ByteClass;

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
    /// What a target's protocol asks the client to carry into its next
    /// request or to answer (a resume token, a session, a ping).
    Peer(PeerSignal<'a>),
    /// Something that should have been an event was not; booked as control.
    Malformed {
        /// Which way it went.
        direction: Direction,
        /// What was wrong.
        reason: &'static str,
    },
}

/// What a server's dialect tells its client beyond events, for the client
/// to carry into its next request or to answer
/// (`pushbench_protocol::TargetKind`). pushbench's own server needs none:
/// its cursor is the last seq.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerSignal<'a> {
    /// The id to resume after (SSE `id:`, Nchan's `<time>:<tag>`): sent
    /// back as `Last-Event-ID` (or the kind's equivalent) on reconnect.
    EventId(&'a str),
    /// HTTP validators of a poll answer (Nchan long polling): sent back as
    /// `If-Modified-Since` and `If-None-Match` on the next poll.
    Validators {
        /// The `Last-Modified` value.
        last_modified: &'a str,
        /// The `Etag` value.
        etag: &'a str,
    },
    /// A session the server opened (Engine.IO's `sid`), named in every
    /// later request of the client.
    Session(&'a str),
    /// The server pinged at the application level (Engine.IO `2`): answer.
    Ping,
    /// A WebSocket ping from the server, its payload: answer with a pong
    /// carrying it (RFC 6455 section 5.5.2).
    WsPing(&'a [u8]),
    /// A WebSocket close frame from the server, its body (status code and
    /// reason): reply with a close, then the connection ends.
    WsClose(&'a [u8]),
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

/// Bytes of a poll exchange whose class depends on its answer.
#[derive(Debug, Default)]
pub(crate) struct Exchange {
    /// Held segments: direction, class, whether they are decoded bytes of a
    /// content-coded body ([`WireEvent::Decoded`]) rather than wire bytes.
    segments: Vec<(Direction, ByteClass, bool, Vec<u8>)>,
    delivered: bool,
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

    /// Counts `len` bytes handed to the body parser (see [`WireOrder`]).
    pub(super) fn body_fed(&mut self, len: usize) {
        self.order.fed += len as u64;
    }

    /// Books body bytes, with the segments that arrived among them.
    fn body_bytes(&mut self, class: ByteClass, mut bytes: &[u8]) {
        const DIR: Direction = Direction::Received;
        if self.order.waiting.is_empty() {
            // Nothing arrived among them (the common case).
            self.book(DIR, class, bytes);
            self.order.booked += bytes.len() as u64;
            return;
        }
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
    pub(super) fn in_body<R>(&mut self, step: impl FnOnce(&mut Self) -> R) -> R {
        self.order.in_body = true;
        let result = step(self);
        self.order.in_body = false;
        result
    }

    /// Runs a body parser's step over decoded bytes of a content-coded
    /// body: what it books is [`WireEvent::Decoded`].
    pub(super) fn in_decoded<R>(&mut self, step: impl FnOnce(&mut Self) -> R) -> R {
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
    pub(super) fn end_body(&mut self) {
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
    pub(super) fn split(&mut self, direction: Direction, bytes: &[u8], payload: Range<usize>) {
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

/// How many of `bytes` belong to what has `remaining` bytes left (a body, a
/// chunk, a frame): all of them, or the first `remaining`.
pub(crate) fn up_to(bytes: &[u8], remaining: u64) -> usize {
    bytes
        .len()
        .min(usize::try_from(remaining).unwrap_or(usize::MAX))
}
