//! The body of a response: which parser reads it (a poll answer, NDJSON
//! lines, SSE blocks, or opaque control), by transport, status and
//! `content-encoding`, with gzip and Brotli decoded in front of the parser.
//! The one entry point of the HTTP/1.1 and HTTP/2 paths.

use super::emit::{Direction, Emitter, MAX_MESSAGE, WireError, WireEvent};
use super::engine_io::PollPayload;
use super::event_json::{classify_ndjson_line, own_ndjson_line};
use super::nchan_bodies::NchanBody;
use super::poll::classify_poll_body;
use super::sse::SseParser;
use crate::content_coding::{DecodeFailure, Decoder};
use crate::ledger::ByteClass;
use crate::target_kind::TargetKind;
use crate::transport::Transport;
use crate::variant::ContentCoding;

/// What a response body carries, by transport and status.
#[derive(Debug)]
pub(crate) enum Content {
    /// A poll answer, buffered whole.
    Poll(Vec<u8>),
    /// NDJSON: the current line.
    Ndjson(Vec<u8>),
    /// `text/event-stream`.
    Sse(SseParser),
    /// An Engine.IO polling payload (`socketio`), buffered whole.
    EngineIo(PollPayload),
    /// An Nchan answer's body (`nchan_bodies`).
    Nchan(NchanBody),
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
    /// The body parser of pushbench's own answers on a `transport`
    /// connection (the dialect every kind without its own shares).
    fn of_transport(transport: Transport) -> Content {
        match transport {
            Transport::ShortPoll | Transport::LongPoll => Content::Poll(Vec::new()),
            Transport::Stream => Content::Ndjson(Vec::new()),
            Transport::Sse => Content::Sse(SseParser::default()),
            Transport::Ws => Content::Opaque,
        }
    }

    /// The body parser of a response with `status` on a `transport`
    /// connection, over HTTP/1.1 or HTTP/2 alike: a 2xx answer carries the
    /// transport's events, anything else is opaque (control).
    /// `content_encoding` is the response's `content-encoding` value: a
    /// gzip or br body is decoded in front of the parser
    /// ([`Content::Coded`]); one the classifier cannot decode is opaque.
    pub(crate) fn for_response(
        kind: TargetKind,
        transport: Transport,
        status: u16,
        content_encoding: Option<&str>,
    ) -> Content {
        let content = if (200..300).contains(&status) {
            match kind {
                // Engine.IO's polling payloads (its WebSocket frames are
                // read by `ws`).
                TargetKind::Socketio => Content::EngineIo(PollPayload::default()),
                // One message per poll answer or chunk.
                TargetKind::Nchan => {
                    NchanBody::for_transport(transport).map_or(Content::Opaque, Content::Nchan)
                }
                // pushbench's own dialect (their events are its JSON).
                TargetKind::Pushbench
                | TargetKind::Pushpin
                | TargetKind::Bun
                | TargetKind::NodeWs => Content::of_transport(transport),
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
        em.body_fed(bytes.len());
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

    /// A chunk of a chunked body ended (after its data, before its CRLF):
    /// a dialect that frames one message per chunk reads it now. A coded
    /// body's chunks do not bound its decoded messages: nothing to do.
    pub(crate) fn end_chunk<F: FnMut(WireEvent<'_>)>(&mut self, em: &mut Emitter<'_, F>) {
        if let Content::Nchan(body) = self {
            em.in_body(|em| body.end_chunk(em));
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
                // A line cut by the previous read is completed first; the
                // lines wholly inside `bytes` are read in place.
                let mut rest = bytes;
                if !line.is_empty() {
                    let take = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
                    line.extend_from_slice(&rest[..take]);
                    rest = &rest[take..];
                    if line.ends_with(b"\n") {
                        classify_ndjson_line(line, em);
                        line.clear();
                    }
                }
                while !rest.is_empty() {
                    if let Some(len) = own_ndjson_line(rest, em) {
                        rest = &rest[len..];
                        continue;
                    }
                    let Some(end) = memchr::memchr(b'\n', rest) else {
                        break;
                    };
                    classify_ndjson_line(&rest[..=end], em);
                    rest = &rest[end + 1..];
                }
                line.extend_from_slice(rest);
                // Only the last piece can be partial, so all of `bytes` is
                // booked or buffered when this fails.
                if line.len() > MAX_MESSAGE {
                    return Err(WireError::TooLarge(line.len() as u64));
                }
            }
            Content::Sse(sse) => sse.feed(bytes, em)?,
            Content::EngineIo(payload) => payload.feed(bytes)?,
            Content::Nchan(body) => body.feed(bytes, em)?,
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
            Content::EngineIo(payload) => {
                payload.end(em);
                None
            }
            Content::Nchan(body) => {
                body.end(em);
                None
            }
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
            Content::Sse(sse) => sse.flush_partial(em),
            Content::EngineIo(payload) => payload.flush_partial(em),
            Content::Nchan(body) => body.flush_partial(em),
            Content::Opaque => {}
            Content::Coded(coded) => coded.inner.flush_partial(em),
        }
    }
}
