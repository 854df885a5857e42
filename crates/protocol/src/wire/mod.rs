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
//!
//! # Layout
//! - `emit`: what every parser books through: [`Direction`], [`WireEvent`],
//!   [`WireError`], the limits, and the emitter that keeps a direction's
//!   segments in wire order and holds a poll exchange until its answer.
//! - `http`: HTTP/1.1 requests and responses: heads, `content-length` and
//!   chunked bodies, the upgrade to WebSocket frames.
//! - `content`: which body parser a response gets (by transport, status
//!   and `content-encoding`), with gzip and Brotli decoded in front of it.
//! - `dialect`: what a target kind's answers say beyond its events (a
//!   resume token in a response head, [`PeerSignal`]s); the body and frame
//!   parsers take the kind and read its dialect.
//! - `engine_io`: the `socketio` kind's Engine.IO v4 / Socket.IO packets,
//!   in polling payloads and WebSocket frames, and their classes.
//! - `nchan_bodies`: Nchan's dialect: one message per poll answer or
//!   chunk, its validators and SSE ids ([`PeerSignal`]).
//! - `event_json`: where an event's payload is in its JSON, and the NDJSON
//!   line; `poll`: poll answers; `sse`: `text/event-stream` blocks; `ws`:
//!   WebSocket frames (their headers read by [`crate::frame_head`]).
//! - `grip` (tests only): real exchanges of Pushpin in front of our GRIP
//!   origin, whose answers are pushbench's own dialect.
//! - The HTTP/2 classifier (`h2_classifier`, above this module) feeds its DATA to the
//!   same `content` and `ws` parsers through the same emitter.
//!
//! The modules depend one way: `emit` below everything, the body parsers
//! above it, `content` above them, `http` above `content` and `ws`, and this
//! file (the [`Classifier`]) on top.

mod content;
mod dialect;
mod emit;
mod engine_io;
mod event_json;
mod http;
mod nchan_bodies;
mod poll;
mod sse;
mod ws;

pub(crate) use content::Content;
pub use emit::{
    Direction, MAX_CHUNK_LINE, MAX_HEAD, MAX_MESSAGE, PeerSignal, WireError, WireEvent,
};
pub(crate) use emit::{Emitter, Exchange, WireOrder, up_to};
pub use event_json::json_payload_range;
pub(crate) use ws::FrameParser;

use crate::ledger::ByteClass;
use crate::target_kind::TargetKind;
use crate::transport::Transport;
use http::{RequestParser, ResponseParser, Stepwise};

/// Classifies one connection's bytes in both directions. See the module docs.
#[derive(Debug)]
pub struct Classifier {
    transport: Transport,
    kind: TargetKind,
    request: RequestParser,
    response: ResponseParser,
    exchange: Exchange,
    /// Poll transports hold each exchange until its answer is known.
    hold: bool,
    order: WireOrder,
}

impl Classifier {
    /// A classifier for one connection of `transport` to `pushbench serve`.
    pub fn new(transport: Transport) -> Self {
        Self::for_target(TargetKind::Pushbench, transport)
    }

    /// A classifier for one connection of `transport` to a `kind` server,
    /// read in that kind's wire dialect.
    pub fn for_target(kind: TargetKind, transport: Transport) -> Self {
        Classifier {
            transport,
            kind,
            request: RequestParser::new(kind),
            response: ResponseParser::new(kind, transport),
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

    /// The kind of server whose dialect it reads.
    pub fn kind(&self) -> TargetKind {
        self.kind
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
        self.with_emitter(sink, |request, response, em| match direction {
            Direction::Sent => request.feed(bytes, em),
            Direction::Received => response.feed(bytes, em),
        })
    }

    /// The connection ended: books every byte still buffered (partial heads,
    /// lines or frames as `control`; a held poll exchange with the classes
    /// it had so far).
    pub fn finish<F: FnMut(WireEvent<'_>)>(&mut self, sink: &mut F) {
        self.with_emitter(sink, |request, response, em| {
            request.flush_partial(em);
            response.flush_partial(em);
            em.release(true);
        });
    }

    /// Runs `op` on both parsers with an emitter over the exchange.
    fn with_emitter<F: FnMut(WireEvent<'_>), R>(
        &mut self,
        sink: &mut F,
        op: impl FnOnce(&mut RequestParser, &mut ResponseParser, &mut Emitter<'_, F>) -> R,
    ) -> R {
        let Classifier {
            request,
            response,
            exchange,
            hold,
            order,
            ..
        } = self;
        let mut em = Emitter::new(sink, exchange, *hold, order);
        op(request, response, &mut em)
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

#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
mod grip;
